/*
 * server_spec.c - parsing and validation of one MemcacheServer line.
 *
 * Strict on purpose: every argument is checked in full (no atoi, no trailing junk), so
 * a typo fails `apachectl configtest` instead of silently becoming a default.
 */
#include "server_spec.h"

#include "mod_memcache.h"

#include "httpd.h"
#include "http_config.h"

#include "apr_file_io.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define USAGE "host:port, [IPv6]:port or /path/to/socket"

typedef enum { NUM_OK, NUM_BAD, NUM_TOO_LARGE } num_result;

/* Plain decimal digits only: a sign, blank or suffix is an error, not ignored. */
static num_result parse_digits(const char *s, apr_int64_t limit, apr_int64_t *out)
{
    apr_int64_t v = 0;

    if (*s == '\0') {
        return NUM_BAD;
    }
    for (; *s; ++s) {
        if (!apr_isdigit(*s)) {
            return NUM_BAD;
        }
        v = v * 10 + (*s - '0');
        if (v > limit) {
            return NUM_TOO_LARGE;
        }
    }
    *out = v;
    return NUM_OK;
}

static const char *parse_port(apr_pool_t *p, const char *directive, const char *arg,
                              const char *digits, apr_port_t *port)
{
    apr_int64_t v;

    if (parse_digits(digits, 65535, &v) != NUM_OK || v == 0) {
        return apr_psprintf(p, "%s: bad port in '%s': expected a number from 1 to 65535",
                            directive, arg);
    }
    *port = (apr_port_t)v;
    return NULL;
}

/* Checks the shape only (the name is resolved when connecting): enough to catch a
 * typo such as a stray bracket, without rejecting zone ids like fe80::1%eth0. */
static int looks_like_ipv6(const char *addr)
{
    size_t n = strspn(addr, "0123456789abcdefABCDEF:.");

    return n > 0 && strchr(addr, ':') != NULL && (addr[n] == '\0' || addr[n] == '%');
}

static const char *parse_address(apr_pool_t *p, const char *directive, const char *arg,
                                 mmc_server_spec *spec)
{
    const char *colon;

    if (*arg == '\0') {
        return apr_psprintf(p, "%s: empty server address '': expected " USAGE, directive);
    }
    spec->name = apr_pstrdup(p, arg);

    if (*arg == '/') {
        if (strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            return apr_psprintf(p, "%s: unix socket path '%s' is longer than %d bytes",
                                directive, arg,
                                (int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        }
        spec->host = spec->name;
        spec->port = 0;
        return NULL;
    }

    if (*arg == '[') {
        const char *close = strchr(arg, ']');
        const char *addr;

        if (close == NULL) {
            return apr_psprintf(p, "%s: missing ']' after the IPv6 address in '%s'",
                                directive, arg);
        }
        addr = apr_pstrmemdup(p, arg + 1, (apr_size_t)(close - arg - 1));
        if (!looks_like_ipv6(addr)) {
            return apr_psprintf(p, "%s: '%s' does not hold an IPv6 address between "
                                "the brackets", directive, arg);
        }
        if (close[1] != ':') {
            return apr_psprintf(p, "%s: expected ':port' after ']' in '%s'", directive, arg);
        }
        spec->host = addr;
        return parse_port(p, directive, arg, close + 2, &spec->port);
    }

    /* The last colon, so that a mistyped unbracketed IPv6 address is caught below
     * rather than split somewhere in the middle. */
    colon = strrchr(arg, ':');
    if (colon == NULL) {
        return apr_psprintf(p, "%s: '%s' has no port: expected " USAGE, directive, arg);
    }
    if (colon == arg) {
        return apr_psprintf(p, "%s: empty host in '%s'", directive, arg);
    }
    spec->host = apr_pstrmemdup(p, arg, (apr_size_t)(colon - arg));
    if (strchr(spec->host, ':') != NULL) {
        return apr_psprintf(p, "%s: '%s': write an IPv6 address in brackets, as "
                            "[::1]:11211", directive, arg);
    }
    if (strpbrk(spec->host, "[]/") != NULL) {
        return apr_psprintf(p, "%s: bad host name in '%s'", directive, arg);
    }
    return parse_port(p, directive, arg, colon + 1, &spec->port);
}

static const struct {
    const char *suffix;
    apr_int64_t us;
} ttl_units[] = {
    { "",    1000000 },  /* a plain number is seconds */
    { "s",   1000000 },
    { "ms",  1000 },
    { "min", 60 * (apr_int64_t)1000000 },
    { "h",   3600 * (apr_int64_t)1000000 },
};

const char *mmc_parse_duration(apr_pool_t *p, const char *directive, const char *what,
                               const char *value, apr_int64_t max_us, int allow_zero,
                               apr_int64_t *us)
{
    const char *unit = value;
    apr_int64_t n;
    size_t i;

    while (apr_isdigit(*unit)) {
        ++unit;
    }
    for (i = 0; i < sizeof ttl_units / sizeof ttl_units[0]; ++i) {
        if (strcasecmp(unit, ttl_units[i].suffix) == 0) {
            break;
        }
    }
    if (unit == value || i == sizeof ttl_units / sizeof ttl_units[0]) {
        return apr_psprintf(p, "%s: bad time '%s': expected a number with an optional "
                            "unit ms, s, min or h (60, 500ms, 2min)", directive, what);
    }
    /* Any count above the limit in microseconds is too long in every unit. */
    if (parse_digits(apr_pstrmemdup(p, value, (apr_size_t)(unit - value)), max_us,
                     &n) != NUM_OK
        || n > max_us / ttl_units[i].us) {
        return apr_psprintf(p, "%s: '%s' is too long: at most %" APR_INT64_T_FMT "s",
                            directive, what, max_us / 1000000);
    }
    if (n == 0 && !allow_zero) {
        return apr_psprintf(p, "%s: '%s': the time must be at least 1ms", directive, what);
    }
    *us = n * ttl_units[i].us;
    return NULL;
}

static const struct {
    const char *suffix;
    apr_int64_t bytes;
} size_units[] = {
    { "",  1 },  /* a plain number is bytes */
    { "k", 1024 },
    { "m", 1024 * 1024 },
    { "g", 1024 * 1024 * 1024 },
};

const char *mmc_parse_size(apr_pool_t *p, const char *directive, const char *value,
                           apr_int64_t max_bytes, apr_int64_t *bytes)
{
    const char *unit = value;
    apr_int64_t n;
    size_t i;

    while (apr_isdigit(*unit)) {
        ++unit;
    }
    for (i = 0; i < sizeof size_units / sizeof size_units[0]; ++i) {
        if (strcasecmp(unit, size_units[i].suffix) == 0) {
            break;
        }
    }
    if (unit == value || i == sizeof size_units / sizeof size_units[0]) {
        return apr_psprintf(p, "%s: bad size '%s': expected a number of bytes with an "
                            "optional unit k, m or g (1048576, 512k, 1m)", directive, value);
    }
    /* Any count above the limit in bytes is too large in every unit. */
    if (parse_digits(apr_pstrmemdup(p, value, (apr_size_t)(unit - value)), max_bytes, &n)
            != NUM_OK
        || n > max_bytes / size_units[i].bytes) {
        return apr_psprintf(p, "%s: '%s' is too large: at most %" APR_INT64_T_FMT " bytes",
                            directive, value, max_bytes);
    }
    if (n == 0) {
        return apr_psprintf(p, "%s: '%s': the size must be at least 1 byte", directive,
                            value);
    }
    *bytes = n * size_units[i].bytes;
    return NULL;
}

int mmc_parse_protocol(const char *value)
{
    if (strcasecmp(value, "text") == 0) {
        return AP_MEMCACHE_PROTOCOL_TEXT;
    }
    if (strcasecmp(value, "binary") == 0) {
        return AP_MEMCACHE_PROTOCOL_BINARY;
    }
    if (strcasecmp(value, "meta") == 0) {
        return AP_MEMCACHE_PROTOCOL_META;
    }
    return -1;
}

const char *mmc_protocol_name(int protocol)
{
    switch (protocol) {
    case AP_MEMCACHE_PROTOCOL_BINARY:
        return "binary";
    case AP_MEMCACHE_PROTOCOL_META:
        return "meta";
    default:
        return "text";
    }
}

static const char *parse_count(apr_pool_t *p, const char *directive, const char *opt,
                               const char *value, int *count)
{
    apr_int64_t v;

    switch (parse_digits(value, MMC_CONNS_LIMIT, &v)) {
    case NUM_OK:
        *count = (int)v;
        return NULL;
    case NUM_TOO_LARGE:
        return apr_psprintf(p, "%s: '%s' is too large: at most %d connections", directive,
                            opt, MMC_CONNS_LIMIT);
    default:
        return apr_psprintf(p, "%s: '%s': expected a whole number of connections",
                            directive, opt);
    }
}

static const char *parse_weight(apr_pool_t *p, const char *directive, const char *opt,
                                const char *value, int *weight)
{
    apr_int64_t v;

    if (parse_digits(value, MMC_WEIGHT_LIMIT, &v) != NUM_OK || v == 0) {
        return apr_psprintf(p, "%s: '%s': expected a weight from 1 to %d", directive, opt,
                            MMC_WEIGHT_LIMIT);
    }
    *weight = (int)v;
    return NULL;
}

static const char *parse_protocol_option(apr_pool_t *p, const char *directive,
                                         const char *opt, const char *value, int *protocol)
{
    *protocol = mmc_parse_protocol(value);
    if (*protocol < 0) {
        return apr_psprintf(p, "%s: '%s': expected protocol=text, protocol=binary or protocol=meta",
                            directive, opt);
    }
    return NULL;
}

static const char *parse_tls_option(apr_pool_t *p, const char *directive, const char *opt,
                                    const char *value, int *tls)
{
    if (strcasecmp(value, "on") == 0) {
        *tls = 1;
    }
    else if (strcasecmp(value, "off") == 0) {
        *tls = 0;
    }
    else {
        return apr_psprintf(p, "%s: '%s': expected tls=on or tls=off", directive, opt);
    }
    return NULL;
}

int mmc_tls_name_valid(const char *name)
{
    const char *c;

    for (c = name; *c; ++c) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '.' && *c != ':') {
            return 0;
        }
    }
    return *name != '\0' && c - name <= 253;
}

static const char *parse_tls_name(apr_pool_t *p, const char *directive, const char *opt,
                                  const char *value, const char **name)
{
    if (!mmc_tls_name_valid(value)) {
        return apr_psprintf(p, "%s: '%s': expected a host name (letters, digits, '-' and "
                            "'.') or an address", directive, opt);
    }
    *name = apr_pstrdup(p, value);
    return NULL;
}

/* A user name or password must be printable without blanks: -Y carries them as
 * "user password" and SASL PLAIN between NUL bytes. */
static int credential_ok(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; ++s) {
        if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

#define MMC_PASSWORD_MAX 1024

/* A pool cleanup: the password's copy in the configuration pool is wiped when that
 * pool goes (a restart, the end of the server). explicit_bzero, as a memset of memory
 * about to be released may be dropped by the compiler. */
static apr_status_t wipe_password(void *data)
{
    char *password = data;

    explicit_bzero(password, strlen(password));
    return APR_SUCCESS;
}

/* Reads the password: the file's first line, its end of line removed. */
static const char *read_password_line(apr_pool_t *p, const char *directive, const char *opt,
                                      const char *path, char *buf, apr_size_t size)
{
    apr_file_t *f = NULL;
    apr_size_t n = size - 1;
    apr_status_t rv;
    char *eol;
    apr_size_t line;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        char err[128];
        return apr_psprintf(p, "%s: '%s': cannot read the password file: %s", directive, opt,
                            apr_strerror(rv, err, sizeof err));
    }
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        char err[128];
        return apr_psprintf(p, "%s: '%s': cannot read the password file: %s", directive, opt,
                            apr_strerror(rv, err, sizeof err));
    }
    buf[n] = '\0';
    eol = memchr(buf, '\n', n);
    line = eol ? (apr_size_t)(eol - buf) : n;
    if (line > 0 && buf[line - 1] == '\r') {
        --line;
    }
    if (line > MMC_PASSWORD_MAX) {
        return apr_psprintf(p, "%s: '%s': the password is longer than %d bytes", directive,
                            opt, MMC_PASSWORD_MAX);
    }
    buf[line] = '\0';
    /* strlen stops early at a NUL byte inside the line. */
    if (strlen(buf) != line || !credential_ok(buf)) {
        return apr_psprintf(p, "%s: '%s': the file's first line must hold the password, "
                            "without blanks or control characters", directive, opt);
    }
    return NULL;
}

/* The password is the file's first line (its end of line removed); it never appears
 * in the configuration itself. A relative path is taken from ServerRoot, as for the
 * other files the module reads. The read buffer is wiped on every path, and the copy
 * kept in the pool when that pool is cleared. */
static const char *read_password(apr_pool_t *p, const char *directive, const char *opt,
                                 const char *path, const char **password)
{
    char buf[MMC_PASSWORD_MAX + 2];
    const char *full = ap_server_root_relative(p, path);
    const char *err;

    if (full == NULL) {
        return apr_psprintf(p, "%s: '%s': bad path", directive, opt);
    }
    err = read_password_line(p, directive, opt, full, buf, sizeof buf);
    if (err == NULL) {
        char *copy = apr_pstrdup(p, buf);
        apr_pool_cleanup_register(p, copy, wipe_password, apr_pool_cleanup_null);
        *password = copy;
    }
    explicit_bzero(buf, sizeof buf);
    return err;
}

/* The order of the pool options when the directive reports a conflict. */
enum { OPT_MIN, OPT_SMAX, OPT_MAX, OPT_TTL, OPT_WEIGHT, OPT_PROTOCOL, OPT_TLS, OPT_TLS_NAME,
       OPT_USER, OPT_PASSWORD_FILE, OPT_COUNT };
static const char *const option_names[OPT_COUNT] = { "min", "smax", "max", "ttl", "weight",
                                                     "protocol", "tls", "tls-name", "user",
                                                     "password-file" };

static const char *check_order(apr_pool_t *p, const char *directive,
                               const mmc_server_spec *spec, const char *const given[])
{
    const int values[3] = { spec->min, spec->smax, spec->max };
    int lo, hi;

    if (spec->max == 0) {
        return apr_psprintf(p, "%s: '%s': max must be at least 1", directive, given[OPT_MAX]);
    }
    /* Only values given on the line: the defaults are fitted later (post_config). */
    for (lo = OPT_MIN; lo < OPT_MAX; ++lo) {
        for (hi = lo + 1; hi <= OPT_MAX; ++hi) {
            if (given[lo] && given[hi] && values[lo] > values[hi]) {
                return apr_psprintf(p, "%s %s: '%s' is greater than '%s' (need "
                                    "min <= smax <= max)", directive, spec->name, given[lo],
                                    given[hi]);
            }
        }
    }
    return NULL;
}

const char *mmc_server_spec_parse(apr_pool_t *p, const char *directive, int argc,
                                  char *const argv[], mmc_server_spec *spec)
{
    const char *given[OPT_COUNT] = { NULL };
    const char *err;
    int i;

    memset(spec, 0, sizeof *spec);
    spec->min = spec->smax = spec->max = MMC_UNSET;
    spec->ttl_us = MMC_UNSET;
    spec->weight = MMC_UNSET;
    spec->protocol = MMC_UNSET;

    if (argc < 1) {
        return apr_psprintf(p, "%s: needs " USAGE ", then optionally min=N smax=N max=N "
                            "ttl=TIME weight=N protocol=text|binary|meta tls=on|off tls-name=NAME "
                            "user=NAME "
                            "password-file=PATH", directive);
    }
    if ((err = parse_address(p, directive, argv[0], spec)) != NULL) {
        return err;
    }

    for (i = 1; i < argc; ++i) {
        const char *opt = argv[i];
        const char *eq = strchr(opt, '=');
        const char *name = eq ? apr_pstrmemdup(p, opt, (apr_size_t)(eq - opt)) : opt;
        int which;

        for (which = 0; which < OPT_COUNT; ++which) {
            if (strcasecmp(name, option_names[which]) == 0) {
                break;
            }
        }
        if (which == OPT_COUNT && strcasecmp(name, "password") == 0) {
            return apr_psprintf(p, "%s: '%s': a password is never written in the "
                                "configuration; put it in a file readable by root only and "
                                "give password-file=PATH", directive, eq ? "password=..." : opt);
        }
        if (which == OPT_COUNT) {
            return apr_psprintf(p, "%s: unknown option '%s' (expected min=, smax=, max=, "
                                "ttl=, weight=, protocol=, tls=, tls-name=, user= or "
                                "password-file=)",
                                directive, opt);
        }
        if (eq == NULL) {
            return apr_psprintf(p, "%s: '%s' needs a value, as in %s=N", directive, opt,
                                option_names[which]);
        }
        if (given[which]) {
            return apr_psprintf(p, "%s: '%s' repeats '%s'", directive, opt, given[which]);
        }
        given[which] = apr_pstrdup(p, opt);

        switch (which) {
        case OPT_MIN:  err = parse_count(p, directive, opt, eq + 1, &spec->min); break;
        case OPT_SMAX: err = parse_count(p, directive, opt, eq + 1, &spec->smax); break;
        case OPT_MAX:  err = parse_count(p, directive, opt, eq + 1, &spec->max); break;
        case OPT_TTL:
            err = mmc_parse_duration(p, directive, opt, eq + 1, MMC_TTL_MAX_US, 1,
                                     &spec->ttl_us);
            break;
        case OPT_WEIGHT: err = parse_weight(p, directive, opt, eq + 1, &spec->weight); break;
        case OPT_TLS: err = parse_tls_option(p, directive, opt, eq + 1, &spec->tls); break;
        case OPT_TLS_NAME:
            err = parse_tls_name(p, directive, opt, eq + 1, &spec->tls_name);
            break;
        case OPT_USER:
            spec->user = apr_pstrdup(p, eq + 1);
            err = credential_ok(spec->user)
                      ? NULL
                      : apr_psprintf(p, "%s: '%s': expected a user name without blanks or "
                                     "control characters", directive, opt);
            break;
        case OPT_PASSWORD_FILE:
            spec->password_file = apr_pstrdup(p, eq + 1);
            err = read_password(p, directive, opt, spec->password_file, &spec->password);
            break;
        default:
            err = parse_protocol_option(p, directive, opt, eq + 1, &spec->protocol);
            break;
        }
        if (err) {
            return err;
        }
    }
    if (given[OPT_TLS_NAME] && !spec->tls) {
        return apr_psprintf(p, "%s %s: '%s' needs tls=on", directive, spec->name,
                            given[OPT_TLS_NAME]);
    }
    if (given[OPT_USER] && !given[OPT_PASSWORD_FILE]) {
        return apr_psprintf(p, "%s %s: '%s' needs password-file=PATH (a password is never "
                            "written in the configuration)", directive, spec->name,
                            given[OPT_USER]);
    }
    if (given[OPT_PASSWORD_FILE] && !given[OPT_USER]) {
        return apr_psprintf(p, "%s %s: '%s' needs user=NAME", directive, spec->name,
                            given[OPT_PASSWORD_FILE]);
    }
    return check_order(p, directive, spec, given);
}

mmc_pool_limits mmc_server_spec_resolve(const mmc_server_spec *spec, int mpm_threads)
{
    mmc_pool_limits r;
    int max = spec->max;

    r.max_raised = 0;
    if (max == MMC_UNSET) {
        /* One connection per thread: a thread never waits for a connection unless
         * the operator asked for fewer. */
        max = mpm_threads < 1 ? 1 : mpm_threads;
        if (max > MMC_CONNS_LIMIT) {
            max = MMC_CONNS_LIMIT;
        }
        if (spec->smax > max || spec->min > max) {
            max = spec->smax > spec->min ? spec->smax : spec->min;
            r.max_raised = 1;
        }
    }
    r.max = (apr_uint32_t)max;
    r.smax = spec->smax == MMC_UNSET ? r.max : (apr_uint32_t)spec->smax;
    r.min = spec->min == MMC_UNSET ? 0 : (apr_uint32_t)spec->min;
    r.ttl_us = (apr_uint32_t)(spec->ttl_us == MMC_UNSET ? MMC_TTL_DEFAULT_US : spec->ttl_us);
    return r;
}

int mmc_server_spec_same_server(const mmc_server_spec *a, const mmc_server_spec *b)
{
    return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}
