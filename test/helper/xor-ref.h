/*
 * xor-ref.h - a plain reference decoder of XOR chunks for the tests: one
 * bit at a time, every read checked, the way Prometheus's xorIterator
 * reads them. The unit tests and the chunk fuzz target hold the real
 * decoder to it.
 */
#ifndef TC_TEST_XOR_REF_H
#define TC_TEST_XOR_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct refbits {
  const uint8_t *b;
  size_t nbits, pos;
};

static bool ref_bits(struct refbits *r, unsigned n, uint64_t *v) {
  *v = 0;
  for (unsigned i = 0; i < n; i++) {
    if (r->pos >= r->nbits)
      return false;
    *v = *v << 1 | ((r->b[r->pos >> 3] >> (7 - (r->pos & 7))) & 1);
    r->pos++;
  }
  return true;
}

static bool ref_uvarint(struct refbits *r, uint64_t *out) {
  uint64_t v = 0, c;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (!ref_bits(r, 8, &c) || (shift == 63 && c > 1))
      return false;
    v |= (c & 0x7f) << shift;
    if (c < 0x80) {
      *out = v;
      return true;
    }
  }
  return false;
}

/* Decodes chunk data like Prometheus's xorIterator; returns the samples
 * decoded and sets *bad when the chunk ends early or is malformed. */
static size_t ref_decode(const uint8_t *d, size_t n, int64_t *ts,
                         uint64_t *vs, bool *bad) {
  *bad = n < 2;
  if (n < 2)
    return 0;
  size_t total = (size_t)d[0] << 8 | d[1];
  struct refbits r = {d + 2, (n - 2) * 8, 0};
  int64_t t = 0, td = 0;
  uint64_t v = 0, x, lead = 0, trail = 0;
  for (size_t i = 0; i < total; i++) {
    if (i == 0) {
      if (!ref_uvarint(&r, &x))
        goto bad;
      t = (int64_t)(x >> 1) ^ -(int64_t)(x & 1);
      if (!ref_bits(&r, 64, &v))
        goto bad;
    } else {
      if (i == 1) {
        if (!ref_uvarint(&r, &x))
          goto bad;
        td = (int64_t)x;
      } else {
        unsigned ones = 0;
        uint64_t bit;
        while (ones < 4) {
          if (!ref_bits(&r, 1, &bit))
            goto bad;
          if (!bit)
            break;
          ones++;
        }
        static const unsigned fw[] = {0, 14, 17, 20, 64};
        uint64_t dod = 0;
        if (fw[ones] && !ref_bits(&r, fw[ones], &dod))
          goto bad;
        if (ones && fw[ones] < 64 && dod > (1ull << (fw[ones] - 1)))
          dod -= 1ull << fw[ones];
        td = (int64_t)((uint64_t)td + dod);
      }
      t = (int64_t)((uint64_t)t + (uint64_t)td);
      uint64_t c;
      if (!ref_bits(&r, 1, &c))
        goto bad;
      if (c) {
        if (!ref_bits(&r, 1, &c))
          goto bad;
        if (c) {
          uint64_t sig;
          if (!ref_bits(&r, 5, &lead) || !ref_bits(&r, 6, &sig))
            goto bad;
          if (sig == 0)
            sig = 64;
          if (lead + sig > 64)
            goto bad;
          trail = 64 - lead - sig;
        }
        if (!ref_bits(&r, (unsigned)(64 - lead - trail), &x))
          goto bad;
        v ^= x << trail;
      }
    }
    ts[i] = t;
    vs[i] = v;
    continue;
  bad:
    *bad = true;
    return i;
  }
  return total;
}

#endif
