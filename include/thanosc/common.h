/*
 * common.h - small things every file may use: allocation that dies on
 * out-of-memory (busybox's x-prefix), container_of, array sizes, and the
 * TC_STATIC unit-test hook (curl's UNITTEST).
 */
#ifndef THANOSC_COMMON_H
#define THANOSC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define TC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define tc_container_of(ptr, type, member)                                   \
  ((type *)((char *)(ptr)-offsetof(type, member)))
#define tc_likely(x) __builtin_expect(!!(x), 1)
#define tc_unlikely(x) __builtin_expect(!!(x), 0)

/* Visible to unit tests, static otherwise. */
#ifdef TC_UNIT_TESTS
#define TC_STATIC
#else
#define TC_STATIC static
#endif

/* Allocation: these never return NULL; they abort on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grow *p (holding *cap elements of size sz) to fit at least need elements. */
void tc_grow(void **p, size_t *cap, size_t need, size_t sz);
#define TC_GROW(p, cap, need)                                                \
  tc_grow((void **)&(p), &(cap), (need), sizeof(*(p)))
/* Value of a hex digit, or -1 (percent-decoding in HTTP and gRPC). */
static inline int tc_hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* printf into a new heap string, caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
