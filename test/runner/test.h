/*
 * test.h - the unit-test vocabulary (libuv's test/task.h).
 *
 * A test is `TEST(name) { ... }` in test/unit/<module>/test-<file>.c and a
 * `TEST_ENTRY(name)` line in test/unit/<module>/list.h. run-tests forks each
 * test with a timeout; a failed ASSERT prints both sides and exits the child.
 */
#ifndef THANOSC_TEST_H
#define THANOSC_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/error.h"

#define TEST(name) void test_##name(void)

/* Directory with ../shared and the source tree, for tests that read files. */
const char *test_srcdir(void);
/* A fresh private temporary directory for this test (removed afterwards). */
const char *test_tmpdir(void);

#define TEST_FAIL_(...)                                                      \
  do {                                                                       \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                        \
    fprintf(stderr, __VA_ARGS__);                                            \
    fputc('\n', stderr);                                                     \
    exit(1);                                                                 \
  } while (0)

#define ASSERT(c)                                                            \
  do {                                                                       \
    if (!(c))                                                                \
      TEST_FAIL_("assertion failed: %s", #c);                                \
  } while (0)
#define ASSERT_TRUE(c) ASSERT(c)
#define ASSERT_FALSE(c) ASSERT(!(c))

#define ASSERT_INT_(a, op, b)                                                \
  do {                                                                       \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                            \
    if (!(a_ op b_))                                                         \
      TEST_FAIL_("%s %s %s: %" PRId64 " vs %" PRId64, #a, #op, #b, a_, b_);  \
  } while (0)
#define ASSERT_EQ(a, b) ASSERT_INT_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_(a, >=, b)

#define ASSERT_UEQ(a, b)                                                     \
  do {                                                                       \
    uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                         \
    if (a_ != b_)                                                            \
      TEST_FAIL_("%s == %s: %" PRIu64 " vs %" PRIu64, #a, #b, a_, b_);       \
  } while (0)

/* rc must be 0; prints the error message otherwise. */
#define ASSERT_OK(rc)                                                        \
  do {                                                                       \
    int rc_ = (rc);                                                          \
    if (rc_ != 0)                                                            \
      TEST_FAIL_("%s: %s (%s)", #rc, tc_errmsg(rc_), tc_err_name(rc_));      \
  } while (0)

#define ASSERT_STREQ(a, b)                                                   \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                   \
      TEST_FAIL_("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_ ? a_ : "(null)",   \
                 b_ ? b_ : "(null)");                                        \
  } while (0)

#define ASSERT_MEMEQ(a, b, n)                                                \
  do {                                                                       \
    if (memcmp((a), (b), (n)) != 0)                                          \
      TEST_FAIL_("%s and %s differ in their first %zu bytes", #a, #b,        \
                 (size_t)(n));                                               \
  } while (0)

/* Equal doubles, NaN equal to NaN. */
#define ASSERT_DBL_EQ(a, b)                                                  \
  do {                                                                       \
    double a_ = (a), b_ = (b);                                               \
    if (!(a_ == b_ || (isnan(a_) && isnan(b_))))                             \
      TEST_FAIL_("%s == %s: %.17g vs %.17g", #a, #b, a_, b_);                \
  } while (0)

#define ASSERT_NULL(p) ASSERT((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT((p) != NULL)

#endif
