/*
 * buf.c - growable byte buffers with a hard cap, the x-allocators and
 * whole-file reads (see buf.h and common.h).
 */
#include "thanosc/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"

static void oom(size_t n) {
  fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p)
    oom(n);
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    oom(n * size);
  return p;
}

void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q)
    oom(n);
  return q;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void tc_grow(void **p, size_t *cap, size_t need, size_t sz) {
  if (need <= *cap)
    return;
  size_t n = *cap ? *cap * 2 : 8;
  while (n < need)
    n *= 2;
  *p = xrealloc(*p, n * sz);
  *cap = n;
}

char *xasprintf(const char *fmt, ...) {
  struct tc_buf b = TC_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  tc_buf_vaddf(&b, fmt, ap);
  va_end(ap);
  if (!b.data)
    return xstrdup("");
  return tc_buf_detach(&b, NULL);
}

void tc_buf_init(struct tc_buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void tc_buf_release(struct tc_buf *b) {
  free(b->data);
  tc_buf_init(b, b->max);
}

void tc_buf_reset(struct tc_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

char *tc_buf_detach(struct tc_buf *b, size_t *len) {
  char *p = b->data;
  if (!p)
    p = xcalloc(1, 1);
  if (len)
    *len = b->len;
  tc_buf_init(b, b->max);
  return p;
}

int tc_buf_reserve(struct tc_buf *b, size_t n) {
  size_t need = b->len + n + 1;
  if (need < b->len)
    return TC_ELIMIT;
  if (b->max && b->len + n > b->max)
    return TC_ELIMIT;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = cap * 2 < cap ? need : cap * 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
  return 0;
}

int tc_buf_add(struct tc_buf *b, const void *p, size_t n) {
  int rc = tc_buf_reserve(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int tc_buf_addc(struct tc_buf *b, char c) { return tc_buf_add(b, &c, 1); }

int tc_buf_adds(struct tc_buf *b, const char *s) {
  return tc_buf_add(b, s, strlen(s));
}

int tc_buf_vaddf(struct tc_buf *b, const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0)
    return TC_EINVAL;
  int rc = tc_buf_reserve(b, (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int tc_buf_addf(struct tc_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = tc_buf_vaddf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void tc_buf_truncate(struct tc_buf *b, size_t len) {
  if (len < b->len) {
    b->len = len;
    b->data[len] = '\0';
  }
}

int tc_buf_put_be16(struct tc_buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return tc_buf_add(b, x, 2);
}

int tc_buf_put_be32(struct tc_buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                  (uint8_t)v};
  return tc_buf_add(b, x, 4);
}

int tc_buf_put_be64(struct tc_buf *b, uint64_t v) {
  int rc = tc_buf_put_be32(b, (uint32_t)(v >> 32));
  return rc ? rc : tc_buf_put_be32(b, (uint32_t)v);
}

int tc_buf_put_uvarint(struct tc_buf *b, uint64_t v) {
  uint8_t x[10];
  int n = 0;
  while (v >= 0x80) {
    x[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  x[n++] = (uint8_t)v;
  return tc_buf_add(b, x, (size_t)n);
}

int tc_buf_put_varint(struct tc_buf *b, int64_t v) {
  uint64_t u = (uint64_t)v << 1;
  if (v < 0)
    u = ~u;
  return tc_buf_put_uvarint(b, u);
}

int tc_buf_put_uvarint_str(struct tc_buf *b, const char *s, size_t n) {
  int rc = tc_buf_put_uvarint(b, n);
  return rc ? rc : tc_buf_add(b, s, n);
}

int tc_read_file(const char *path, size_t max, char **out, size_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return tc_error(e == ENOENT ? TC_ENOTFOUND : -e, "open '%s': %s", path,
                    strerror(e));
  }
  struct tc_buf b;
  tc_buf_init(&b, max);
  int rc = 0;
  char tmp[65536];
  for (;;) {
    ssize_t k = read(fd, tmp, sizeof(tmp));
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0) {
      int e = errno;
      rc = tc_error(-e, "read '%s': %s", path, strerror(e));
      break;
    }
    if (k == 0)
      break;
    if (tc_buf_add(&b, tmp, (size_t)k)) {
      rc = tc_error(TC_ELIMIT, "read '%s': larger than %zu bytes", path, max);
      break;
    }
  }
  close(fd);
  if (rc) {
    tc_buf_release(&b);
    return rc;
  }
  tc_buf_add(&b, "", 0);
  *out = tc_buf_detach(&b, n);
  return 0;
}
