/* A tiny check framework for the liblivefoley C tests: every failed check prints what was
 * expected and what was found, and the program exits 1 if any failed. */
#ifndef LF_TEST_CHECK_H
#define LF_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "livefoley/livefoley.h"

/* ---- a tiny check framework ---- */
static int tp_failures;
#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            ++tp_failures;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                              \
            fprintf(stderr, "\n");                                                     \
        }                                                                              \
    } while (0)
#define CHECK_RC(expr, want)                                                           \
    do {                                                                               \
        int rc_ = (int)(expr);                                                         \
        CHECK(rc_ == (want), "expected %d (%s), found %d (%s); last error: %s", (want),  \
              lf_error_string(want), rc_, lf_error_string(rc_), lf_last_error());      \
    } while (0)
#define CHECK_MSG(needle)                                                              \
    CHECK(strstr(lf_last_error(), (needle)) != NULL, "last error \"%s\" lacks \"%s\"", \
          lf_last_error(), (needle))
#define TP_DONE()                                                                      \
    do {                                                                               \
        if (tp_failures) {                                                             \
            fprintf(stderr, "%d check(s) failed\n", tp_failures);                      \
            return 1;                                                                  \
        }                                                                              \
        printf("ok\n");                                                                \
        return 0;                                                                      \
    } while (0)

#endif
