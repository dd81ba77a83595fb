/*
 * xor.c - the XOR (Gorilla) float chunk of Prometheus: encoder and the
 * sample iterator every reader of blocks uses (block reader, store gateway,
 * compactor, downsampler). Bit layout: spec tsdb-block.md section 4; see
 * FORMAT.md next to this file.
 *
 * The encoder writes bits most-significant first into a growing byte array
 * and never emits Prometheus 2.x's trailing empty byte, so its output is
 * byte-identical to Prometheus 3.x. The decoder keeps the next up-to-64
 * bits left-aligned in a word and refills 8 bytes at a time, which keeps
 * the per-sample cost to a handful of shifts.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/chunkenc.h"

const char *chunk_encoding_name(uint8_t enc) {
  switch (enc) {
  case CHUNK_ENC_NONE: return "none";
  case CHUNK_ENC_XOR: return "XOR";
  case CHUNK_ENC_HISTOGRAM: return "histogram";
  case CHUNK_ENC_FLOAT_HISTOGRAM: return "floathistogram";
  case CHUNK_ENC_AGGR: return "aggregate";
  default: return "unknown";
  }
}

/* ---- encoder ---- */

void xor_enc_init(struct xor_enc *e) {
  memset(e, 0, sizeof(*e));
  xor_enc_reset(e);
}

void xor_enc_release(struct xor_enc *e) {
  free(e->b);
  memset(e, 0, sizeof(*e));
}

void xor_enc_reset(struct xor_enc *e) {
  TC_GROW(e->b, e->cap, 2);
  e->b[0] = e->b[1] = 0;
  e->len = 2;
  e->free_bits = 0;
  e->n = 0;
  e->t = e->tdelta = 0;
  e->v = 0;
  e->leading = 0xff;
  e->trailing = 0;
}

/* Writes the low n bits of v (n <= 64), highest first. */
static void enc_bits(struct xor_enc *e, uint64_t v, unsigned n) {
  while (n > 0) {
    if (e->free_bits == 0) {
      TC_GROW(e->b, e->cap, e->len + 1);
      e->b[e->len++] = 0;
      e->free_bits = 8;
    }
    unsigned k = n < e->free_bits ? n : e->free_bits;
    uint8_t chunk = (uint8_t)((v >> (n - k)) & ((1u << k) - 1));
    e->b[e->len - 1] |= (uint8_t)(chunk << (e->free_bits - k));
    e->free_bits = (uint8_t)(e->free_bits - k);
    n -= k;
  }
}

static void enc_uvarint(struct xor_enc *e, uint64_t v) {
  while (v >= 0x80) {
    enc_bits(e, (v & 0x7f) | 0x80, 8);
    v >>= 7;
  }
  enc_bits(e, v, 8);
}

static void enc_value(struct xor_enc *e, uint64_t vb) {
  uint64_t delta = vb ^ e->v;
  if (delta == 0) {
    enc_bits(e, 0, 1);
    return;
  }
  enc_bits(e, 1, 1);
  uint8_t lead = (uint8_t)__builtin_clzll(delta);
  uint8_t trail = (uint8_t)__builtin_ctzll(delta);
  if (lead >= 32)
    lead = 31;
  if (e->leading != 0xff && lead >= e->leading && trail >= e->trailing) {
    enc_bits(e, 0, 1);
    enc_bits(e, delta >> e->trailing, 64u - e->leading - e->trailing);
    return;
  }
  e->leading = lead;
  e->trailing = trail;
  unsigned sig = 64u - lead - trail;
  enc_bits(e, 1, 1);
  enc_bits(e, lead, 5);
  enc_bits(e, sig & 63, 6);
  enc_bits(e, delta >> trail, sig);
}

int xor_enc_append(struct xor_enc *e, int64_t t, double v) {
  uint64_t vb;
  memcpy(&vb, &v, 8);
  if (e->n == XOR_MAX_SAMPLES)
    return tc_error(TC_ELIMIT, "XOR chunk is full at %d samples",
                    XOR_MAX_SAMPLES);
  if (e->n == 0) {
    uint64_t zz = ((uint64_t)t << 1) ^ (uint64_t)(t >> 63);
    enc_uvarint(e, zz);
    enc_bits(e, vb, 64);
  } else if (e->n == 1) {
    e->tdelta = (int64_t)((uint64_t)t - (uint64_t)e->t);
    enc_uvarint(e, (uint64_t)e->tdelta);
    enc_value(e, vb);
  } else {
    int64_t delta = (int64_t)((uint64_t)t - (uint64_t)e->t);
    int64_t dod = (int64_t)((uint64_t)delta - (uint64_t)e->tdelta);
    if (dod == 0) {
      enc_bits(e, 0, 1);
    } else if (dod >= -8191 && dod <= 8192) {
      enc_bits(e, 2, 2);
      enc_bits(e, (uint64_t)dod, 14);
    } else if (dod >= -65535 && dod <= 65536) {
      enc_bits(e, 6, 3);
      enc_bits(e, (uint64_t)dod, 17);
    } else if (dod >= -524287 && dod <= 524288) {
      enc_bits(e, 14, 4);
      enc_bits(e, (uint64_t)dod, 20);
    } else {
      enc_bits(e, 15, 4);
      enc_bits(e, (uint64_t)dod, 64);
    }
    e->tdelta = delta;
    enc_value(e, vb);
  }
  e->t = t;
  e->v = vb;
  e->n++;
  e->b[0] = (uint8_t)(e->n >> 8);
  e->b[1] = (uint8_t)e->n;
  return 0;
}

const uint8_t *xor_enc_bytes(const struct xor_enc *e, size_t *n) {
  *n = e->len;
  return e->b;
}

/* ---- decoder ---- */

static inline uint64_t load_be64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

/* Makes sure at least `need` (<= 57) bits are buffered; 0 if the chunk has
 * fewer left. */
#define TC_INLINE static inline __attribute__((always_inline))

TC_INLINE int it_fill(struct chunk_iter *it, unsigned need) {
  if (tc_likely(it->valid >= need))
    return 1;
  if (tc_likely(it->end - it->p >= 8)) {
    unsigned take = (64 - it->valid) >> 3;
    it->buf |= load_be64(it->p) >> it->valid;
    it->p += take;
    it->valid += take * 8;
    return 1;
  }
  while (it->valid <= 56 && it->p < it->end) {
    it->buf |= (uint64_t)*it->p++ << (56 - it->valid);
    it->valid += 8;
  }
  return it->valid >= need;
}

/* Takes n (1..57) bits; the caller made sure they are buffered. */
TC_INLINE uint64_t it_take(struct chunk_iter *it, unsigned n) {
  uint64_t v = it->buf >> (64 - n);
  it->buf <<= n;
  it->valid -= n;
  return v;
}

TC_INLINE int it_bits(struct chunk_iter *it, unsigned n, uint64_t *v) {
  if (n <= 56) {
    if (!it_fill(it, n))
      return 0;
    *v = n ? it_take(it, n) : 0;
    return 1;
  }
  uint64_t hi, lo;
  if (!it_fill(it, 32))
    return 0;
  hi = it_take(it, 32);
  if (!it_fill(it, n - 32))
    return 0;
  lo = it_take(it, n - 32);
  *v = (hi << (n - 32)) | lo;
  return 1;
}

TC_INLINE int it_uvarint(struct chunk_iter *it, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    uint64_t c;
    if (!it_bits(it, 8, &c))
      return 0;
    if (shift == 63 && c > 1)
      return 0;
    v |= (c & 0x7f) << shift;
    if (c < 0x80) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

static void it_fail(struct chunk_iter *it) {
  it->err = tc_error(TC_ECORRUPT, "XOR chunk: truncated at sample %u of %u",
                     (unsigned)it->read + 1, (unsigned)it->total);
  it->read = it->total;
}

int chunk_iter_init(struct chunk_iter *it, uint8_t enc, const uint8_t *data,
                    size_t n) {
  memset(it, 0, sizeof(*it));
  if (enc != CHUNK_ENC_XOR) {
    it->err = tc_error(TC_ENOTSUP, "chunk encoding %u (%s) is not supported",
                       (unsigned)enc, chunk_encoding_name(enc));
    return it->err;
  }
  if (n < 2) {
    it->err = tc_error(TC_ECORRUPT, "XOR chunk: %zu bytes, too short", n);
    return it->err;
  }
  it->total = (uint16_t)((data[0] << 8) | data[1]);
  it->p = data + 2;
  it->end = data + n;
  it->leading = 0;
  it->trailing = 0;
  return 0;
}

TC_INLINE int it_value(struct chunk_iter *it) {
  if (!it_fill(it, 1))
    return 0;
  if (!(it->buf >> 63)) {
    it_take(it, 1);
    return 1;
  }
  if (!it_fill(it, 2))
    return 0;
  if (it_take(it, 2) == 3) {
    if (!it_fill(it, 11))
      return 0;
    unsigned lb = (unsigned)it_take(it, 11);
    unsigned sig = lb & 63;
    it->leading = (uint8_t)(lb >> 6);
    if (sig == 0)
      sig = 64;
    if (it->leading + sig > 64)
      return 0;
    it->trailing = (uint8_t)(64 - it->leading - sig);
  }
  unsigned sig = 64u - it->leading - it->trailing;
  uint64_t bits;
  if (!it_bits(it, sig, &bits))
    return 0;
  it->v ^= bits << it->trailing;
  return 1;
}

/* The general decoder, used for samples 0 and 1 (varints); false on
 * corrupt input. */
TC_INLINE bool it_decode(struct chunk_iter *it) {
  if (it->read == 0) {
    uint64_t zz, vb;
    if (!it_uvarint(it, &zz) || !it_bits(it, 64, &vb)) {
      return false;
    }
    it->t = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    it->v = vb;
  } else if (it->read == 1) {
    uint64_t d;
    if (!it_uvarint(it, &d) || !it_value(it)) {
      return false;
    }
    it->tdelta = (int64_t)d;
    it->t = (int64_t)((uint64_t)it->t + d);
  } else {
    int64_t dod = 0;
    if (!it_fill(it, 4) && !it_fill(it, 1)) {
      return false;
    }
    /* Leading 1 bits among the buffered ones (at most 4 are meaningful). */
    uint64_t masked = it->valid >= 64 ? it->buf : it->buf & ~(~0ull >> it->valid);
    unsigned ones = masked == ~0ull ? 64 : (unsigned)__builtin_clzll(~masked);
    if (ones > 4)
      ones = 4;
    if (ones == 0) {
      it_take(it, 1);
    } else {
      static const unsigned widths[5] = {0, 14, 17, 20, 64};
      unsigned w = widths[ones];
      if (!it_fill(it, ones < 4 ? ones + 1 : 4)) {
        return false;
      }
      it_take(it, ones < 4 ? ones + 1 : 4);
      uint64_t b;
      if (!it_bits(it, w, &b)) {
        return false;
      }
      if (w == 64) {
        dod = (int64_t)b;
      } else {
        if (b > (1ull << (w - 1)))
          b -= 1ull << w;
        dod = (int64_t)b;
      }
    }
    it->tdelta = (int64_t)((uint64_t)it->tdelta + (uint64_t)dod);
    it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->tdelta);
    if (!it_value(it)) {
      return false;
    }
  }
  return true;
}

/* Tops up buf from p: afterwards 56..63 bits are valid, or everything
 * that was left near the end of the chunk. */
#define FAST_FILL()                                                          \
  do {                                                                       \
    if (tc_likely(end - p >= 8)) {                                           \
      buf |= load_be64(p) >> valid;                                          \
      unsigned take_ = (63 - valid) >> 3;                                    \
      p += take_;                                                            \
      valid += take_ << 3;                                                   \
    } else {                                                                 \
      while (valid <= 56 && p < end) {                                       \
        buf |= (uint64_t)*p++ << (56 - valid);                               \
        valid += 8;                                                          \
      }                                                                      \
    }                                                                        \
  } while (0)
#define FAST_TAKE(n) (buf <<= (n), valid -= (n))

/* Takes 32 + rest bits (rest <= 32) as one value: the rare wide fields
 * (64-bit dod, significant bits beyond what one refill guarantees). */
#define FAST_WIDE(out, rest)                                                 \
  do {                                                                       \
    FAST_FILL();                                                             \
    if (tc_unlikely(valid < 32))                                             \
      return false;                                                          \
    uint64_t hi_ = buf >> 32;                                                \
    FAST_TAKE(32);                                                           \
    FAST_FILL();                                                             \
    if (tc_unlikely(valid < (rest)))                                         \
      return false;                                                          \
    (out) = (hi_ << (rest)) | ((buf >> 1) >> (63 - (rest)));                 \
    FAST_TAKE(rest);                                                         \
  } while (0)

/* Samples 2.. with all state in locals and few data-dependent branches:
 * field widths come from small tables indexed by the control bits, and
 * shifts of 0..63 use (x >> 1) >> (63 - n) so that n = 0 yields 0. Same
 * bits as it_decode(). Every consumption is checked against `valid`, so
 * peeking past the end of the chunk is harmless. */
TC_INLINE bool it_fast(struct chunk_iter *it) {
  const uint8_t *p = it->p, *end = it->end;
  uint64_t buf = it->buf;
  unsigned valid = it->valid;
  uint64_t b;
  FAST_FILL();
  /* dod prefix 0, 10, 110, 1110, 1111 (ones = 0..4 leading 1 bits) ->
   * prefix length 1, 2, 3, 4, 4 and field width 0, 14, 17, 20, 64, taken
   * from packed constants by shifting (cheaper than a table load on the
   * serial path). */
  unsigned ones = (unsigned)__builtin_clzll(~buf | (1ull << 59));
  unsigned pl = ones + (ones < 4);
  unsigned w = (unsigned)(0x4014110e00ull >> (ones * 8)) & 0xff;
  if (tc_likely(w != 64)) {
    if (tc_unlikely(valid < pl + w))
      return false;
    b = ((buf << pl) >> 1) >> (63 - w);
    /* Values above 2^(w-1) are negative; w = 0 has nothing to fix. */
    b -= (uint64_t)(w && b > (1ull << ((w - 1) & 63))) << w;
    FAST_TAKE(pl + w);
  } else {
    if (tc_unlikely(valid < 4))
      return false;
    FAST_TAKE(4);
    FAST_WIDE(b, 32);
  }
  it->tdelta = (int64_t)((uint64_t)it->tdelta + b);
  it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->tdelta);
  FAST_FILL();
  /* value control 0x, 10, 11 -> header bits 1, 2, 2 + 5 + 6. */
  unsigned c2 = (unsigned)(buf >> 62);
  unsigned h = (0x0d020101u >> (c2 * 8)) & 0xff;
  unsigned lb = (unsigned)(buf >> 51) & 0x7ff;
  unsigned nlead = lb >> 6, nsig = lb & 63;
  nsig += (unsigned)(nsig == 0) << 6;
  if (c2 == 3) {
    if (tc_unlikely(nlead + nsig > 64))
      return false;
    it->leading = (uint8_t)nlead;
    it->trailing = (uint8_t)(64 - nlead - nsig);
  }
  unsigned sig = c2 >= 2 ? 64u - it->leading - it->trailing : 0;
  if (tc_unlikely(valid < h))
    return false;
  FAST_TAKE(h);
  uint64_t x;
  if (tc_likely(sig <= valid && sig < 64)) {
    x = (buf >> 1) >> (63 - sig);
    FAST_TAKE(sig);
  } else {
    FAST_FILL();
    if (sig <= valid && sig < 64) {
      x = (buf >> 1) >> (63 - sig);
      FAST_TAKE(sig);
    } else {
      FAST_WIDE(x, sig - 32);
    }
  }
  it->v ^= x << it->trailing;
  it->p = p;
  it->buf = buf;
  it->valid = valid;
  return true;
}

/* Built twice: BMI2's flag-free variable shifts (shlx/shrx) help the
 * serial bit-extraction path; the loader picks the variant at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TC_DECODE_CLONES __attribute__((target_clones("default", "arch=haswell")))
#else
#define TC_DECODE_CLONES
#endif

TC_DECODE_CLONES
bool chunk_iter_next(struct chunk_iter *it) {
  if (it->read >= it->total || it->err)
    return false;
  if (tc_likely(it->read >= 2)) {
    if (tc_unlikely(!it_fast(it))) {
      it_fail(it);
      return false;
    }
    it->read++;
    return true;
  }
  if (tc_unlikely(!it_decode(it))) {
    it_fail(it);
    return false;
  }
  it->read++;
  return true;
}

TC_DECODE_CLONES
size_t chunk_iter_next_batch(struct chunk_iter *it, int64_t *ts, double *vs,
                             size_t max) {
  size_t n = 0;
  while (n < max && it->read < 2 && chunk_iter_next(it)) {
    ts[n] = it->t;
    memcpy(&vs[n], &it->v, 8);
    n++;
  }
  if (it->err || it->read < 2)
    return n;
  /* The local copy lives in registers across the whole loop. */
  struct chunk_iter l = *it;
  size_t left = (size_t)(l.total - l.read);
  if (left > max - n)
    left = max - n;
  for (size_t k = 0; k < left; k++) {
    if (tc_unlikely(!it_fast(&l))) {
      *it = l;
      it_fail(it);
      return n;
    }
    l.read++;
    ts[n] = l.t;
    memcpy(&vs[n], &l.v, 8);
    n++;
  }
  *it = l;
  return n;
}

bool chunk_iter_seek(struct chunk_iter *it, int64_t t) {
  if (it->err)
    return false;
  if (it->read > 0 && it->t >= t)
    return true;
  while (chunk_iter_next(it))
    if (it->t >= t)
      return true;
  return false;
}

uint16_t chunk_num_samples(uint8_t enc, const uint8_t *data, size_t n) {
  if (enc != CHUNK_ENC_XOR || n < 2)
    return 0;
  return (uint16_t)((data[0] << 8) | data[1]);
}
