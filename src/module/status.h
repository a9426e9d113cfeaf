/*
 * status.h - mod_memcache's section of mod_status' page.
 */
#ifndef MMC_MODULE_STATUS_H
#define MMC_MODULE_STATUS_H

/** Registers the section with mod_status, if mod_status is loaded (optional hook). */
void mmc_register_status_hook(void);

#endif
