/*
 * xor.c - the XOR (Gorilla) float chunk of Prometheus: encoder and the
 * sample iterator every reader of blocks uses (block reader, store gateway,
 * compactor, downsampler). Bit layout: spec tsdb-block.md section 4; see
 * FORMAT.md next to this file.
 *
 * The encoder writes bits most-significant first into a growing byte array
 * and never emits Prometheus 2.x's trailing empty byte, so its output is
 * byte-identical to Prometheus 3.x. The decoder tracks a bit position and
 * reads each field from an unaligned big-endian 64-bit window at it, so a
 * sample costs two or three loads and a handful of shifts.
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

/* Writes the low n bits of v (n <= 64), highest first: one unaligned
 * big-endian 64-bit store per field. Bytes past e->len are kept zero, so
 * the partial last byte can simply be or-ed into. */
static void enc_bits(struct xor_enc *e, uint64_t v, unsigned n) {
  if (n > 56) {
    enc_bits(e, v >> 32, n - 32);
    enc_bits(e, v, 32);
    return;
  }
  if (n == 0)
    return;
  TC_GROW(e->b, e->cap, e->len + 9);
  uint64_t bitpos = (uint64_t)e->len * 8 - e->free_bits;
  size_t byte = (size_t)(bitpos >> 3);
  unsigned off = (unsigned)(bitpos & 7);
  uint64_t w = off ? (uint64_t)e->b[byte] << 56 : 0;
  w |= (v & ((1ull << n) - 1)) << (64 - n - off);
  w = __builtin_bswap64(w);
  memcpy(e->b + byte, &w, 8);
  bitpos += n;
  e->len = (size_t)((bitpos + 7) >> 3);
  e->free_bits = (uint8_t)(e->len * 8 - bitpos);
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

#define TC_INLINE static inline __attribute__((always_inline))

static inline uint64_t load_be64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

/* The 64 bits starting at bit pos, left-aligned; bits past the end of the
 * chunk read as 0. At least 57 of them are real unless the end is near;
 * callers check pos + width <= nbits before trusting a field. */
TC_INLINE uint64_t it_window(const struct chunk_iter *it, uint64_t pos) {
  size_t byte = (size_t)(pos >> 3);
  uint64_t w;
  if (tc_likely(byte + 8 <= it->len)) {
    w = load_be64(it->base + byte);
  } else {
    uint8_t tmp[8] = {0};
    if (byte < it->len)
      memcpy(tmp, it->base + byte, it->len - byte);
    w = load_be64(tmp);
  }
  return w << (pos & 7);
}

/* Reads n (1..64) bits at it->pos; 0 when the chunk ends first. */
TC_INLINE int it_bits(struct chunk_iter *it, unsigned n, uint64_t *v) {
  if (tc_unlikely(it->pos + n > it->nbits))
    return 0;
  if (n <= 57) {
    *v = it_window(it, it->pos) >> (64 - n);
  } else {
    uint64_t hi = it_window(it, it->pos) >> 32;
    uint64_t lo = it_window(it, it->pos + 32) >> (64 - (n - 32));
    *v = (hi << (n - 32)) | lo;
  }
  it->pos += n;
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
  it->base = data + 2;
  it->len = n - 2;
  it->nbits = (uint64_t)it->len * 8;
  return 0;
}

/* The value field (spec 4.3) at it->pos; 0 on a short or bad chunk.
 * Field widths come from packed constants indexed by the control bits:
 * 0x -> 1 header bit, 10 -> 2, 11 -> 2 + 5 + 6. */
TC_INLINE int it_value(struct chunk_iter *it) {
  uint64_t w = it_window(it, it->pos);
  unsigned c2 = (unsigned)(w >> 62);
  unsigned h = (0x0d020101u >> (c2 * 8)) & 0xff;
  if (tc_unlikely(it->pos + h > it->nbits))
    return 0;
  if (c2 == 3) {
    unsigned lb = (unsigned)(w >> 51) & 0x7ff;
    unsigned lead = lb >> 6, sig = lb & 63;
    sig += (unsigned)(sig == 0) << 6;
    if (tc_unlikely(lead + sig > 64))
      return 0;
    it->leading = (uint8_t)lead;
    it->trailing = (uint8_t)(64 - lead - sig);
  }
  it->pos += h;
  if (c2 < 2)
    return 1;
  unsigned sig = 64u - it->leading - it->trailing;
  uint64_t x;
  if (tc_likely(sig + h <= 57 && it->pos + sig <= it->nbits)) {
    /* Still inside the first window. */
    x = ((w << h) >> 1) >> (63 - sig);
    it->pos += sig;
  } else if (!it_bits(it, sig, &x)) {
    return 0;
  }
  it->v ^= x << it->trailing;
  return 1;
}

/* One sample: varints for samples 0 and 1, dod + value after. */
TC_INLINE int it_decode(struct chunk_iter *it) {
  if (tc_likely(it->read >= 2)) {
    /* dod prefix 0, 10, 110, 1110, 1111 (ones = leading 1 bits, capped
     * at 4) -> prefix 1, 2, 3, 4, 4 bits and field 0, 14, 17, 20, 64. */
    uint64_t w = it_window(it, it->pos);
    unsigned ones = (unsigned)__builtin_clzll(~w | (1ull << 59));
    unsigned pl = ones + (ones < 4);
    unsigned fw = (unsigned)(0x4014110e00ull >> (ones * 8)) & 0xff;
    uint64_t b;
    if (tc_likely(fw != 64)) {
      if (tc_unlikely(it->pos + pl + fw > it->nbits))
        return 0;
      b = ((w << pl) >> 1) >> (63 - fw);
      /* Values above 2^(fw-1) are negative; fw = 0 has nothing to fix. */
      b -= (uint64_t)(fw && b > (1ull << ((fw - 1) & 63))) << fw;
      it->pos += pl + fw;
    } else {
      it->pos += 4;
      if (!it_bits(it, 64, &b))
        return 0;
    }
    it->tdelta = (int64_t)((uint64_t)it->tdelta + b);
    it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->tdelta);
    return it_value(it);
  }
  if (it->read == 0) {
    uint64_t zz, vb;
    if (!it_uvarint(it, &zz) || !it_bits(it, 64, &vb))
      return 0;
    it->t = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    it->v = vb;
    return 1;
  }
  uint64_t d;
  if (!it_uvarint(it, &d) || !it_value(it))
    return 0;
  it->tdelta = (int64_t)d;
  it->t = (int64_t)((uint64_t)it->t + d);
  return 1;
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
  if (it->err)
    return 0;
  /* A local copy keeps the state in registers across the loop. */
  struct chunk_iter l = *it;
  size_t left = (size_t)(l.total - l.read), n = 0;
  if (left > max)
    left = max;
  for (; n < left; n++) {
    if (tc_unlikely(!it_decode(&l))) {
      *it = l;
      it_fail(it);
      return n;
    }
    l.read++;
    ts[n] = l.t;
    memcpy(&vs[n], &l.v, 8);
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
