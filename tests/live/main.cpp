#include <gtest/gtest.h>

#include "apr_general.h"

int main(int argc, char** argv) {
    apr_initialize();
    ::testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    apr_terminate();
    return rc;
}
