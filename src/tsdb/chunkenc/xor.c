/*
 * xor.c - the XOR (Gorilla) float chunk of Prometheus: encoder and the
 * sample iterator every reader of blocks uses (block reader, store gateway,
 * compactor, downsampler). Bit layout: spec tsdb-block.md section 4; see
 * FORMAT.md next to this file.
 *
 * The encoder writes bits most-significant first into a growing byte array
 * and never emits Prometheus 2.x's trailing empty byte, so its output is
 * byte-identical to Prometheus 3.x. The decoder decodes a batch of
 * samples at a time into arrays, with the bit buffer in a register and no
 * bounds checks on the chunk itself (a zero-padded copy takes over near
 * its end), branching only on the predictable cases; the iterator hands
 * the batch out sample by sample.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
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

/*
 * Bit reader kept in registers for a whole batch: buf holds the next bits
 * left-aligned, the top cnt of them counted (more may be real), and p is
 * the byte after the counted ones. A refill is one unconditional
 * unaligned load whose address was known a sample earlier, so it stays
 * off the critical path (the "lookahead" reader of the LZ/entropy
 * decoders); after it cnt >= 56. Bits below cnt are the stream's own, so
 * or-ing them in again is harmless.
 *
 * Loads are unchecked: the caller keeps p at least BR_SLACK bytes before
 * the end of the readable bytes at the start of each sample, which covers
 * the longest sample (about 20 bytes) plus the 8 a load reads ahead.
 * Near the end of a chunk the decoder continues from a zero-padded copy
 * of the last bytes instead (see src_start()).
 */
struct br {
  uint64_t buf;
  unsigned cnt;
  const uint8_t *p;
};

#define BR_SLACK 48
/* The copy (< BR_SLACK + 8 bytes), zero-padded so that samples may start
 * anywhere up to BR_TAIL - BR_SLACK. */
#define BR_TAIL 128

TC_INLINE void br_start(struct br *r, const uint8_t *b, uint64_t bit) {
  r->buf = load_be64(b + (bit >> 3)) << (bit & 7);
  r->cnt = 56 - (unsigned)(bit & 7);
  r->p = b + (bit >> 3) + 7;
}

TC_INLINE void br_refill(struct br *r) {
  r->buf |= load_be64(r->p) >> r->cnt;
  r->p += (63 - r->cnt) >> 3;
  r->cnt |= 56;
}

/* The next n (0..56 after a refill) bits; consume() drops them. */
TC_INLINE uint64_t br_peek(const struct br *r, unsigned n) {
  return (r->buf >> 1) >> (63 - n);
}

TC_INLINE void br_skip(struct br *r, unsigned n) {
  r->buf <<= n;
  r->cnt -= n;
}

/* n (0..64) bits, refilling as needed. */
TC_INLINE uint64_t br_get(struct br *r, unsigned n) {
  uint64_t v = 0;
  if (n > 32) {
    br_refill(r);
    v = br_peek(r, 32) << (n - 32);
    br_skip(r, 32);
    n -= 32;
  }
  br_refill(r);
  v |= br_peek(r, n);
  br_skip(r, n);
  return v;
}

/* Decoder state of a batch, in registers. The value window is packed as
 * trailing | sig << 8: a variable shift uses only the count's low 6 bits,
 * so the pair costs one register. Value fields whose bits compare >=
 * slow take dec_value_slow(): new windows (11...), and while the window
 * is wider than FAST_SIG also xors within it (10...). */
struct dstate {
  int64_t t, tdelta;
  uint64_t v, slow;
  unsigned win;
};

/* The widest window whose value field always fits in the bit buffer
 * after a refill and one dod bit (56 - 1 - 2). */
#define FAST_SIG 53

static inline void ds_window(struct dstate *s, unsigned lead, unsigned sig) {
  s->win = (64 - lead - sig) | sig << 8;
  s->slow = sig <= FAST_SIG ? 0xc000000000000000ull : 0x8000000000000000ull;
}

/*
 * The value field (spec 4.3) at bit o (0 or 1) of the refilled reader:
 * 0 -> unchanged, 10 -> xor within the current window, 11 -> new window
 * (5 bits leading, 6 bits sig, 0 = 64) then the xor. On real data a new
 * window is the rare case (a few to 20% of samples) and gets a branch;
 * unchanged vs. xor is a coin toss on gauges, so those two are merged
 * without one (unchanged is an xor of 0 bits), and with a window of at
 * most FAST_SIG bits need no check that the bits are in the buffer.
 */
TC_INLINE bool dec_value_slow(struct br *r, struct dstate *s, unsigned o) {
  uint64_t b = r->buf << o;
  unsigned hdr = 2;
  if (b >> 62 == 3) {
    unsigned f = (unsigned)(b >> 51) & 0x7ff;
    unsigned lead = f >> 6, sig = ((f - 1) & 63) + 1;
    if (tc_unlikely(lead + sig > 64))
      return false;
    ds_window(s, lead, sig);
    hdr = 13;
  }
  br_skip(r, o + hdr);
  s->v ^= br_get(r, s->win >> 8) << (s->win & 63);
  return true;
}

/* The fast case of dec_value(): b (the field's bits) < s->slow. */
TC_INLINE void dec_value_fast(struct br *r, struct dstate *s, unsigned o,
                              uint64_t b) {
  unsigned m = (unsigned)((int64_t)b >> 63); /* all ones for 10 */
  unsigned n = (s->win >> 8) & m, len = o + 1 + n - m;
  uint64_t x = (r->buf >> (64 - len)) & ((1ull << n) - 1);
  br_skip(r, len);
  s->v ^= x << (s->win & 63);
}

TC_INLINE bool dec_value(struct br *r, struct dstate *s, unsigned o) {
  uint64_t b = r->buf << o;
  if (tc_unlikely(b >= s->slow))
    return dec_value_slow(r, s, o);
  dec_value_fast(r, s, o, b);
  return true;
}

/* A sample after the first two, at a refilled reader. A timestamp
 * delta-of-delta of 0 (one 0 bit) is the common case on real scrapes
 * and predictable, so it gets a branch and leaves the value decode
 * alone on the critical path. */
TC_INLINE bool dec_sample(struct br *r, struct dstate *s) {
  uint64_t b = r->buf;
  if (tc_likely(!(b >> 63))) {
    s->t = (int64_t)((uint64_t)s->t + (uint64_t)s->tdelta);
    return dec_value(r, s, 1);
  }
  /* dod prefix 10, 110, 1110, 1111 (ones = leading 1 bits, capped at 4)
   * -> field 14, 17, 20, 64 bits. Fields above 2^(fw-1) are negative. */
  unsigned ones = (unsigned)__builtin_clzll(~b | (1ull << 59));
  uint64_t dod;
  if (tc_likely(b >> 62 == 2)) { /* 14 bits: jitter of up to 8 s */
    dod = (b >> 48) & 0x3fff;
    dod -= (uint64_t)(dod > 8192) << 14;
    br_skip(r, 16);
  } else if (tc_likely(ones < 4)) {
    unsigned fw = (unsigned)(0x14110e00u >> (ones * 8)) & 0xff;
    dod = br_peek(r, ones + 1 + fw) & ((1ull << fw) - 1);
    dod -= (uint64_t)(dod > (1ull << (fw - 1))) << fw;
    br_skip(r, ones + 1 + fw);
  } else {
    br_skip(r, 4);
    dod = br_get(r, 64);
  }
  s->tdelta = (int64_t)((uint64_t)s->tdelta + dod);
  s->t = (int64_t)((uint64_t)s->t + (uint64_t)s->tdelta);
  br_refill(r);
  return dec_value(r, s, 0);
}

/* Sample 0 (varint t, 64-bit v) and the uvarint time delta of sample 1
 * are whole bytes at the start of the chunk, read as bytes (Go's
 * binary.ReadVarint/ReadUvarint). */
TC_INLINE bool dec_head(struct xor_dec *d, struct dstate *s, bool first) {
  size_t k = (size_t)(d->pos >> 3);
  struct decbuf b = decbuf_make(d->base + k, d->len - k);
  if (first) {
    s->t = decbuf_varint(&b);
    s->v = decbuf_be64(&b);
  } else {
    s->tdelta = (int64_t)decbuf_uvarint(&b);
    s->t = (int64_t)((uint64_t)s->t + (uint64_t)s->tdelta);
  }
  d->pos = (uint64_t)(b.p - d->base) * 8;
  return !b.err;
}

/* Where the reader reads from: the chunk itself, or near its end a
 * zero-padded copy of the rest. Bit k of b0 is bit bitoff + k of the
 * chunk; a sample may start with unchecked loads while p <= plim. */
struct src {
  const uint8_t *b0, *plim;
  uint64_t bitoff;
  bool tail;
};

TC_INLINE uint64_t src_pos(const struct src *c, const struct br *r) {
  return c->bitoff + (uint64_t)(r->p - c->b0) * 8 - r->cnt;
}

/* Starts r at bit pos of d: on the chunk when BR_SLACK bytes follow the
 * first load and may_main, else on a zero-padded copy of the rest in
 * tail. */
TC_INLINE void src_start(struct src *c, struct br *r, const struct xor_dec *d,
                      uint64_t pos, uint8_t *tail, bool may_main) {
  size_t k = (size_t)(pos >> 3);
  if (may_main && k + 7 + BR_SLACK <= d->len) {
    *c = (struct src){d->base, d->base + (d->len - BR_SLACK), 0, false};
    br_start(r, d->base, pos);
    return;
  }
  memset(tail, 0, BR_TAIL);
  memcpy(tail, d->base + k, d->len - k);
  *c = (struct src){tail, tail + (BR_TAIL - BR_SLACK), (uint64_t)k * 8, true};
  br_start(r, tail, pos & 7);
}

/* The batch state to and from d, at bit pos. */
static inline void dec_save(struct xor_dec *d, const struct dstate *s,
                            uint64_t pos) {
  d->pos = pos;
  d->t = s->t;
  d->tdelta = s->tdelta;
  d->v = s->v;
  d->trailing = (uint8_t)(s->win & 0xff);
  d->leading = (uint8_t)(64 - (s->win >> 8) - (s->win & 0xff));
}

static inline struct dstate dec_load(const struct xor_dec *d) {
  struct dstate s = {.t = d->t, .tdelta = d->tdelta, .v = d->v};
  ds_window(&s, d->leading, 64u - d->leading - d->trailing);
  return s;
}

/* Built twice: BMI2's flag-free variable shifts (shlx/shrx) and lzcnt
 * help the serial bit extraction; the loader picks the variant at run
 * time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TC_DECODE_CLONES __attribute__((target_clones("default", "arch=x86-64-v3")))
#else
#define TC_DECODE_CLONES
#endif

/*
 * The hot loop: decodes samples into te/ve[k], k counting up to 0, while
 * r->p <= plim; returns where it stopped, with *ok false on a malformed
 * sample. Its own function so that the register allocator sees only the
 * loop's state.
 */
TC_DECODE_CLONES __attribute__((noinline))
static ptrdiff_t dec_loop(struct br *rp, struct dstate *sp, int64_t *te,
                          double *ve, ptrdiff_t k, const uint8_t *plim,
                          bool *ok) {
  struct br r = *rp;
  struct dstate s = *sp;
  *ok = true;
  for (; k < 0 && r.p <= plim; k++) {
    br_refill(&r);
    /* dod 0 and a fast value field, spelled out so that this path has no
     * success flag to merge with the others. */
    if (tc_likely(!(r.buf >> 63) && r.buf << 1 < s.slow)) {
      s.t = (int64_t)((uint64_t)s.t + (uint64_t)s.tdelta);
      dec_value_fast(&r, &s, 1, r.buf << 1);
    } else if (tc_unlikely(!dec_sample(&r, &s))) {
      *ok = false;
      break;
    }
    te[k] = s.t;
    memcpy(&ve[k], &s.v, 8);
  }
  *rp = r;
  *sp = s;
  return k;
}

/*
 * Decodes up to max samples of d into ts/vs; returns how many, and sets
 * d->bad when sample d->n is truncated or malformed. The loop has no
 * bounds checks: on the chunk itself it stops BR_SLACK bytes before the
 * end, on the tail copy bits past the end read as 0, and one check
 * against the chunk's length at the end of the batch tells whether the
 * tail was whole; only when it was not is the tail decoded a second time
 * with a check per sample, to find the one that is cut. So ts/vs may be
 * written past the count returned (never past max).
 */
TC_INLINE size_t dec_run(struct xor_dec *d, int64_t *ts, double *vs,
                         size_t max) {
  size_t left = (size_t)(d->total - d->n), n = 0;
  if (left > max)
    left = max;
  if (!left)
    return 0;
  uint8_t tail[BR_TAIL];
  uint64_t nbits = (uint64_t)d->len * 8;
  struct dstate s = dec_load(d);
  if (d->n == 0) {
    if (!dec_head(d, &s, true))
      goto bad;
    ts[n] = s.t;
    memcpy(&vs[n], &s.v, 8);
    if (++n == left)
      goto done;
  }
  bool v1 = d->n + n == 1;
  if (v1 && !dec_head(d, &s, false))
    goto bad;
  struct src c;
  struct br r;
  src_start(&c, &r, d, d->pos, tail, true);
  if (v1) { /* the value of sample 1 */
    br_refill(&r);
    if (!dec_value(&r, &s, 0) || src_pos(&c, &r) > nbits)
      goto bad;
    ts[n] = s.t;
    memcpy(&vs[n], &s.v, 8);
    n++;
  }
  /* Indexes counting up to 0 save a register in the hot loop. */
  int64_t *te = ts + left;
  double *ve = vs + left;
  ptrdiff_t k = (ptrdiff_t)n - (ptrdiff_t)left, k0 = k;
  /* d keeps the state where the tail copy starts (for a second pass);
   * in memory rather than registers, which the hot loop needs. */
  dec_save(d, &s, src_pos(&c, &r));
  for (;;) {
    bool ok;
    k = dec_loop(&r, &s, te, ve, k, c.plim, &ok);
    if (!ok)
      goto failed;
    if (!c.tail) {
      if (k == 0)
        break;
      k0 = k;
      dec_save(d, &s, src_pos(&c, &r));
      src_start(&c, &r, d, d->pos, tail, false);
      continue;
    }
    /* On the tail copy the same loop runs into the zero padding when the
     * chunk is cut short; then decode the tail again, checking every
     * sample, to find the one that is. */
    if (k == 0 && src_pos(&c, &r) <= nbits)
      break;
  failed:
    if (!c.tail) {
      n = (size_t)((ptrdiff_t)left + k);
      goto bad;
    }
    k = k0;
    s = dec_load(d);
    src_start(&c, &r, d, d->pos, tail, false);
    for (; k < 0; k++) {
      br_refill(&r);
      if (!dec_sample(&r, &s) || src_pos(&c, &r) > nbits) {
        n = (size_t)((ptrdiff_t)left + k);
        goto bad;
      }
      te[k] = s.t;
      memcpy(&ve[k], &s.v, 8);
    }
    break;
  }
  n = left;
  dec_save(d, &s, src_pos(&c, &r));
  d->n = (uint16_t)(d->n + n);
  return n;
done: /* after sample 0 */
  dec_save(d, &s, d->pos);
  d->n = (uint16_t)(d->n + n);
  return n;
bad:
  d->n = (uint16_t)(d->n + n);
  d->bad = true;
  return n;
}

TC_DECODE_CLONES
static size_t dec_batch(struct xor_dec *d, int64_t *ts, double *vs,
                        size_t max) {
  return dec_run(d, ts, vs, max);
}

int chunk_iter_init(struct chunk_iter *it, uint8_t enc, const uint8_t *data,
                    size_t n) {
  /* bt/bv[0] is the "current" sample before the first next(): 0, 0. */
  it->bi = it->bn = 1;
  it->bt[0] = 0;
  it->bv[0] = 0;
  it->err = 0;
  memset(&it->d, 0, sizeof(it->d));
  if (enc != CHUNK_ENC_XOR) {
    it->err = tc_error(TC_ENOTSUP, "chunk encoding %u (%s) is not supported",
                       (unsigned)enc, chunk_encoding_name(enc));
    return it->err;
  }
  if (n < 2) {
    it->err = tc_error(TC_ECORRUPT, "XOR chunk: %zu bytes, too short", n);
    return it->err;
  }
  it->d.total = (uint16_t)((data[0] << 8) | data[1]);
  it->d.base = data + 2;
  it->d.len = n - 2;
  return 0;
}

/* Makes a decoding failure the iterator's error once the samples before
 * it have been returned. */
static void it_check(struct chunk_iter *it) {
  if (it->d.bad && !it->err)
    it->err = tc_error(TC_ECORRUPT, "XOR chunk: truncated at sample %u of %u",
                       (unsigned)it->d.n + 1, (unsigned)it->d.total);
}

bool chunk_iter_fill(struct chunk_iter *it) {
  size_t got = 0;
  int64_t t = chunk_iter_t(it);
  double v = chunk_iter_v(it);
  if (it->d.n < it->d.total && !it->err && !it->d.bad)
    got = dec_batch(&it->d, it->bt, it->bv, CHUNK_ITER_BUF);
  if (!got) { /* the current sample stays, even if the decoder wrote */
    it->bt[0] = t;
    it->bv[0] = v;
    it->bi = it->bn = 1;
    it_check(it);
    return false;
  }
  it->bn = got;
  it->bi = 1;
  return true;
}

size_t chunk_iter_next_batch(struct chunk_iter *it, int64_t *ts, double *vs,
                             size_t max) {
  size_t n = 0;
  /* What next() has buffered comes first. */
  for (; n < max && it->bi < it->bn; n++, it->bi++) {
    ts[n] = it->bt[it->bi];
    vs[n] = it->bv[it->bi];
  }
  if (n < max && it->d.n < it->d.total && !it->err && !it->d.bad) {
    size_t k = dec_batch(&it->d, ts + n, vs + n, max - n);
    n += k;
    if (k) { /* the last one becomes the current sample */
      it->bt[0] = ts[n - 1];
      it->bv[0] = vs[n - 1];
      it->bi = it->bn = 1;
    }
  }
  if (n < max)
    it_check(it);
  return n;
}

bool chunk_iter_seek(struct chunk_iter *it, int64_t t) {
  if (it->err)
    return false;
  if (chunk_iter_started(it) && chunk_iter_t(it) >= t)
    return true;
  while (chunk_iter_next(it))
    if (chunk_iter_t(it) >= t)
      return true;
  return false;
}

uint16_t chunk_num_samples(uint8_t enc, const uint8_t *data, size_t n) {
  if (enc != CHUNK_ENC_XOR || n < 2)
    return 0;
  return (uint16_t)((data[0] << 8) | data[1]);
}
