/*
 * decbuf.h - bounds-checked decoding with a sticky error (Prometheus's
 * encoding.Decbuf).
 *
 * All input from disk, bucket and network is read through a decbuf. Once an
 * error is set every getter returns 0 and consumes nothing, so a caller
 * decodes a run of fields and checks d->err once:
 *
 *     struct decbuf d = decbuf_make(p, n);
 *     uint32_t len = decbuf_be32(&d);
 *     uint64_t ref = decbuf_uvarint(&d);
 *     if (d.err) return tc_error(d.err, "series %llu: truncated", ...);
 *
 * The decbuf never owns its bytes.
 */
#ifndef THANOSC_DECBUF_H
#define THANOSC_DECBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "thanosc/error.h"

struct decbuf {
  const uint8_t *p;
  const uint8_t *end;
  int err; /* 0 or a TC_E* code; sticky */
};

static inline struct decbuf decbuf_make(const void *p, size_t n) {
  struct decbuf d;
  d.p = (const uint8_t *)p;
  d.end = d.p + n;
  d.err = 0;
  return d;
}

static inline size_t decbuf_len(const struct decbuf *d) {
  return (size_t)(d->end - d->p);
}

static inline int decbuf_need(struct decbuf *d, size_t n) {
  if (d->err)
    return 0;
  if (decbuf_len(d) < n) {
    d->err = TC_ECORRUPT;
    return 0;
  }
  return 1;
}

static inline void decbuf_skip(struct decbuf *d, size_t n) {
  if (decbuf_need(d, n))
    d->p += n;
}

static inline uint8_t decbuf_byte(struct decbuf *d) {
  if (!decbuf_need(d, 1))
    return 0;
  return *d->p++;
}

static inline uint16_t decbuf_be16(struct decbuf *d) {
  if (!decbuf_need(d, 2))
    return 0;
  uint16_t v = (uint16_t)((d->p[0] << 8) | d->p[1]);
  d->p += 2;
  return v;
}

static inline uint32_t decbuf_be32(struct decbuf *d) {
  if (!decbuf_need(d, 4))
    return 0;
  uint32_t v = ((uint32_t)d->p[0] << 24) | ((uint32_t)d->p[1] << 16) |
               ((uint32_t)d->p[2] << 8) | (uint32_t)d->p[3];
  d->p += 4;
  return v;
}

static inline uint64_t decbuf_be64(struct decbuf *d) {
  uint64_t hi = decbuf_be32(d);
  uint64_t lo = decbuf_be32(d);
  return (hi << 32) | lo;
}

static inline uint64_t decbuf_uvarint(struct decbuf *d) {
  uint64_t v = 0;
  unsigned shift = 0;
  if (d->err)
    return 0;
  while (d->p < d->end) {
    uint8_t c = *d->p++;
    if (shift == 63 && c > 1)
      break; /* overflow */
    v |= (uint64_t)(c & 0x7f) << shift;
    if (c < 0x80)
      return v;
    shift += 7;
    if (shift > 63)
      break;
  }
  d->err = TC_ECORRUPT;
  return 0;
}

static inline int64_t decbuf_varint(struct decbuf *d) {
  uint64_t u = decbuf_uvarint(d);
  int64_t v = (int64_t)(u >> 1);
  if (u & 1)
    v = ~v;
  return v;
}

/* Borrows n bytes; returns NULL (and sets err) when fewer remain. */
static inline const uint8_t *decbuf_bytes(struct decbuf *d, size_t n) {
  if (!decbuf_need(d, n))
    return NULL;
  const uint8_t *p = d->p;
  d->p += n;
  return p;
}

/* uvarint length + bytes; *n gets the length. */
static inline const char *decbuf_uvarint_str(struct decbuf *d, size_t *n) {
  uint64_t l = decbuf_uvarint(d);
  if (d->err || l > decbuf_len(d)) {
    d->err = d->err ? d->err : TC_ECORRUPT;
    *n = 0;
    return NULL;
  }
  *n = (size_t)l;
  return (const char *)decbuf_bytes(d, (size_t)l);
}

#endif
