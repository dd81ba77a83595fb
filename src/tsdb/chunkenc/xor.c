/*
 * xor.c - the XOR (Gorilla) float chunk of Prometheus: encoder and the
 * sample iterator every reader of blocks uses (block reader, store gateway,
 * compactor, downsampler). Bit layout: spec tsdb-block.md section 4; see
 * FORMAT.md next to this file.
 *
 * The encoder writes bits most-significant first into a growing byte array
 * and never emits Prometheus 2.x's trailing empty byte, so its output is
 * byte-identical to Prometheus 3.x. The decoder decodes a batch of
 * samples at a time into the iterator's buffer, with the bit buffer in a
 * register, reading a zero-padded copy of the chunk without bounds
 * checks, and branching only on the predictable cases; the iterator hands
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
 * Loads are unchecked: the reader reads a copy of the chunk in a window
 * big enough for every load (see win_start()).
 */
struct br {
  uint64_t buf;
  unsigned cnt;
  const uint8_t *p;
};

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

/* Decoder state of a batch, in registers. The value window is kept as
 * its lead, its width + 1 and a mask of its bits, so that a field is
 * placed with one shift and one and. */
struct dstate {
  int64_t t, tdelta;
  uint64_t v, wmask;
  unsigned lead, sig1;
};

/* The widest window dec_value() reads without a refill: 10 and the field
 * at bit 1 of a refilled buffer (56 bits). */
#define FAST_SIG 53

static inline void ds_window(struct dstate *s, unsigned lead, unsigned sig) {
  s->lead = lead;
  s->sig1 = sig + 1;
  s->wmask = (~0ull >> (64 - sig)) << (64 - lead - sig);
}

TC_INLINE unsigned ds_sig(const struct dstate *s) { return s->sig1 - 1; }

/* The next timestamp: the delta moves by dod (0 for none). */
TC_INLINE void ds_tick(struct dstate *s, uint64_t dod) {
  s->tdelta = (int64_t)((uint64_t)s->tdelta + dod);
  s->t = (int64_t)((uint64_t)s->t + (uint64_t)s->tdelta);
}

/* The window header (5 bits lead, 6 bits sig, 0 = 64) after the 11 at the
 * top of b; false when lead + sig exceeds 64. */
TC_INLINE bool window_header(uint64_t b, unsigned *lead, unsigned *sig) {
  unsigned f = (unsigned)(b >> 51) & 0x7ff;
  *lead = f >> 6;
  *sig = ((f - 1) & 63) + 1;
  return *lead + *sig <= 64;
}

/* A 14-bit dod field, the top 2 bits of b being its 10 prefix. Prometheus
 * reads fields above 8192 as negative: ((f + 8191) mod 2^14) - 8191. */
TC_INLINE uint64_t dod14(uint64_t b) {
  return (((b >> 48) + 8191) & 0x3fff) - 8191;
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
    unsigned lead, sig;
    if (tc_unlikely(!window_header(b, &lead, &sig)))
      return false;
    ds_window(s, lead, sig);
    hdr = 13;
  }
  br_skip(r, o + hdr);
  unsigned sig = ds_sig(s);
  s->v ^= br_get(r, sig) << (64 - s->lead - sig);
  return true;
}

/* The fast case of dec_value() on the value field's bits b (0 or 10
 * within a window of at most FAST_SIG bits), at bit o of the buffer.
 * Unchanged is an xor within an empty mask, so there is no branch. */
TC_INLINE void dec_value_fast(struct br *r, struct dstate *s, unsigned o,
                              uint64_t b) {
  uint64_t m = (uint64_t)((int64_t)b >> 63); /* all ones for 10 */
  unsigned len = o + 1 + (s->sig1 & (unsigned)m);
  s->v ^= ((r->buf << (o + 2)) >> s->lead) & s->wmask & m;
  br_skip(r, len);
}

TC_INLINE bool dec_value(struct br *r, struct dstate *s, unsigned o) {
  uint64_t b = r->buf << o;
  if (tc_unlikely(b >> 62 == 3 || (b >> 63 && ds_sig(s) > FAST_SIG)))
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
    ds_tick(s, 0);
    return dec_value(r, s, 1);
  }
  /* dod prefix 10, 110, 1110, 1111 (ones = leading 1 bits, capped at 4)
   * -> field 14, 17, 20, 64 bits. Fields above 2^(fw-1) are negative. */
  unsigned ones = (unsigned)__builtin_clzll(~b | (1ull << 59));
  uint64_t dod;
  if (tc_likely(b >> 62 == 2)) { /* 14 bits: jitter of up to 8 s */
    dod = dod14(b);
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
  ds_tick(s, dod);
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

/*
 * The reader reads a copy of the chunk from the byte of the first bit it
 * needs: the rest of the chunk and WIN_PAD zero bytes when the rest fits
 * in WIN_BYTES (a 120-sample chunk takes 150 to 1200 bytes), else
 * WIN_BYTES of it. In the first case zeros past the end decode as
 * samples of 2 bits, so a batch of CHUNK_ITER_BUF samples needs no check
 * on the way: past the end it reads at most one sample of the longest
 * kind (a 64-bit dod and a new window with a 64-bit field, 145 bits),
 * then 2 bits a sample, and a refill reads at most 16 bytes ahead. A
 * truncated chunk is told by the position at the end of the batch. In
 * the second case the window holds the value of sample 1 (77 bits) and
 * WIN_SAMPLES samples of the longest kind. The copy costs a few cycles
 * a chunk; reading the chunk in place would cost a check every sample.
 */
#define SAMPLE_MAX_BITS 145
#define WIN_BYTES 2048
#define WIN_PAD ((SAMPLE_MAX_BITS + 2 * CHUNK_ITER_BUF) / 8 + 16 + 8)
#define WIN_SAMPLES ((WIN_BYTES - 16 - 16) * 8 / SAMPLE_MAX_BITS)

struct win {
  uint64_t bit0; /* the chunk's bit at b[0] */
  bool padded;   /* the whole rest, and zeros */
  uint8_t b[WIN_BYTES + WIN_PAD];
};

/* memcpy() of up to a few KiB in 32-byte moves, the last one overlapping:
 * GCC inlines a memcpy() of a size it can bound as a rep movs, which
 * takes longer to start than a chunk takes to copy. */
TC_INLINE void copy_bytes(uint8_t *dst, const uint8_t *src, size_t n) {
  if (n < 32) {
    for (size_t i = 0; i < n; i++)
      dst[i] = src[i];
    return;
  }
  for (size_t i = 0; i < n - 32; i += 32)
    memcpy(dst + i, src + i, 32);
  memcpy(dst + n - 32, src + n - 32, 32);
}

/* Starts r at bit pos of d, on a copy in w. */
TC_INLINE void win_start(struct win *w, struct br *r, const struct xor_dec *d,
                         uint64_t pos) {
  size_t k = (size_t)(pos >> 3), rest = d->len - k;
  w->padded = rest <= WIN_BYTES;
  if (!w->padded)
    rest = WIN_BYTES;
  copy_bytes(w->b, d->base + k, rest);
  if (w->padded)
    memset(w->b + rest, 0, WIN_PAD);
  w->bit0 = (uint64_t)k * 8;
  br_start(r, w->b, pos & 7);
}

TC_INLINE uint64_t win_pos(const struct win *w, const struct br *r) {
  return w->bit0 + (uint64_t)(r->p - w->b) * 8 - r->cnt;
}

/* The value of a sample with a new window whose header 11 is at the top
 * of vb, at bit od of the refilled reader r, when it fits in r (with 4
 * bits to spare) and is well-formed; else false, with r and s as they
 * were. */
TC_INLINE bool dec_new_window(struct br *r, struct dstate *s, uint64_t vb,
                              unsigned od) {
  if (vb >> 62 != 3)
    return false;
  unsigned lead, sig;
  if (!window_header(vb, &lead, &sig) || od + 13 + sig > 52)
    return false;
  unsigned len = od + 13 + sig;
  ds_window(s, lead, sig);
  s->v ^= ((r->buf << (od + 13)) >> lead) & s->wmask;
  br_skip(r, len);
  return true;
}

/* The batch state to and from d, at bit pos. */
static inline void dec_save(struct xor_dec *d, const struct dstate *s,
                            uint64_t pos) {
  d->pos = pos;
  d->t = s->t;
  d->tdelta = s->tdelta;
  d->v = s->v;
  d->leading = (uint8_t)s->lead;
  d->trailing = (uint8_t)(64 - s->lead - ds_sig(s));
}

static inline struct dstate dec_load(const struct xor_dec *d) {
  struct dstate s = {.t = d->t, .tdelta = d->tdelta, .v = d->v};
  ds_window(&s, d->leading, 64u - d->leading - d->trailing);
  return s;
}

/* The hot loop is built twice: BMI2's flag-free variable shifts
 * (shlx/shrx) help the serial bit extraction; the loader picks the
 * variant at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TC_DECODE_CLONES __attribute__((target_clones("default", "arch=x86-64-v3")))
#else
#define TC_DECODE_CLONES
#endif

/* Sample k of an iterator's buffer at o: its timestamp at o[k], the
 * bits of its value CHUNK_ITER_BUF further. */
TC_INLINE void put(uint64_t *o, ptrdiff_t k, int64_t t, uint64_t v) {
  o[k] = (uint64_t)t;
  o[k + CHUNK_ITER_BUF] = v;
}

/*
 * The hot loop: decodes samples into o[k], k counting up to 0; returns
 * where it stopped, 0 unless sample k is malformed. Its own function so
 * that the register allocator sees only the loop.
 */
TC_DECODE_CLONES __attribute__((noinline))
static ptrdiff_t dec_loop(struct br *rp, struct dstate *sp, uint64_t *o,
                          ptrdiff_t k) {
  struct br r = *rp;
  struct dstate s = *sp;
  br_refill(&r); /* the first h may follow a slow value of sample 1 */
  for (; k < 0; k++) {
    uint64_t h = r.buf;
    br_refill(&r);
    if (h < 1ull << 60) { /* a run of two or more "00" samples */
      unsigned z = (unsigned)__builtin_clzll(r.buf | 1) >> 1;
      if (z > 8)
        z = 8;
      if ((ptrdiff_t)z > -k)
        z = (unsigned)-k;
      if (k <= -8) { /* 8 stores of which z count: no loop to mispredict */
        uint64_t t = (uint64_t)s.t, d = (uint64_t)s.tdelta;
        put(o, k, (int64_t)(t + d), s.v);
        put(o, k + 1, (int64_t)(t + 2 * d), s.v);
        put(o, k + 2, (int64_t)(t + 3 * d), s.v);
        put(o, k + 3, (int64_t)(t + 4 * d), s.v);
        put(o, k + 4, (int64_t)(t + 5 * d), s.v);
        put(o, k + 5, (int64_t)(t + 6 * d), s.v);
        put(o, k + 6, (int64_t)(t + 7 * d), s.v);
        put(o, k + 7, (int64_t)(t + 8 * d), s.v);
        s.t = (int64_t)(t + z * d);
      } else {
        for (unsigned j = 0; j < z; j++) {
          ds_tick(&s, 0);
          put(o, k + j, s.t, s.v);
        }
      }
      br_skip(&r, 2 * z);
      k += z - 1;
      continue;
    }
    /* A dod of 0 (0) or of 14 bits (10...) and a value unchanged (0) or
     * within the window (10...) without a branch between them: the
     * jitter of scrape timestamps and the gauges' coin toss between
     * unchanged and not are unpredictable. The header is read off h,
     * the rest off the refilled buffer. Not here: 11 at the top of h (a
     * longer dod) or of vb (a new window), and samples longer than 52
     * bits, which would leave the next h fewer than 4 of the 56. */
    uint64_t b = r.buf, m1 = (uint64_t)((int64_t)h >> 63);
    unsigned od = 1 + (15 & (unsigned)m1);
    uint64_t vb = b << od, m = (uint64_t)((int64_t)vb >> 63);
    unsigned len = od + 1 + (s.sig1 & (unsigned)m);
    uint64_t dod = dod14(b) & m1;
    if (tc_likely((int64_t)((h & h << 1) | (vb & vb << 1)) >= 0 && len <= 52)) {
      ds_tick(&s, dod);
      s.v ^= ((b << (od + 2)) >> s.lead) & s.wmask & m;
      br_skip(&r, len);
    } else if ((int64_t)(h & h << 1) >= 0 && dec_new_window(&r, &s, vb, od)) {
      /* A new window (11, 5 bits lead, 6 bits sig) after a dod of 0 or
       * 14 bits: the most common of the rest, on counters. */
      ds_tick(&s, dod);
    } else if (tc_unlikely(!dec_sample(&r, &s))) {
      break;
    } else {
      br_refill(&r);
    }
    put(o, k, s.t, s.v);
  }
  *rp = r;
  *sp = s;
  return k;
}

/*
 * Decodes up to CHUNK_ITER_BUF samples of d into the iterator buffer out
 * (see put()); returns how many, and sets d->bad when sample d->n is
 * truncated or malformed. When the last window ran into its zeros,
 * decodes it again with a check per sample, to find the one that is cut.
 * So out may be written past the count returned.
 */
TC_INLINE size_t dec_run(struct xor_dec *d, uint64_t *out) {
  size_t left = (size_t)(d->total - d->n), n = 0;
  if (left > CHUNK_ITER_BUF)
    left = CHUNK_ITER_BUF;
  if (!left)
    return 0;
  uint64_t nbits = (uint64_t)d->len * 8;
  struct dstate s = dec_load(d);
  if (d->n == 0) {
    if (!dec_head(d, &s, true))
      goto bad;
    put(out, (ptrdiff_t)n, s.t, s.v);
    if (++n == left)
      goto done;
  }
  bool v1 = d->n + n == 1;
  if (v1 && !dec_head(d, &s, false))
    goto bad;
  struct win w;
  struct br r;
  win_start(&w, &r, d, d->pos);
  if (v1) { /* the value of sample 1 */
    br_refill(&r);
    if (!dec_value(&r, &s, 0) || win_pos(&w, &r) > nbits)
      goto bad;
    put(out, (ptrdiff_t)n, s.t, s.v);
    n++;
  }
  /* The hot loop counts k up to 0 (o[k] is the sample), which saves it a
   * register; each window's stretch ends at 0. d keeps the state where
   * the window starts, for a second pass. */
  ptrdiff_t k = (ptrdiff_t)n - (ptrdiff_t)left, k0;
  dec_save(d, &s, win_pos(&w, &r));
  for (;;) {
    k0 = k;
    ptrdiff_t end = w.padded || -k <= WIN_SAMPLES ? 0 : k + WIN_SAMPLES;
    ptrdiff_t at = dec_loop(&r, &s, out + left + end, k - end);
    k = end + at;
    if (at == 0 && end == 0 && (!w.padded || win_pos(&w, &r) <= nbits))
      break;
    if (at == 0 && end != 0) { /* the next window */
      dec_save(d, &s, win_pos(&w, &r));
      win_start(&w, &r, d, d->pos);
      continue;
    }
    if (!w.padded) { /* malformed before the end */
      n = (size_t)((ptrdiff_t)left + k);
      goto bad;
    }
    /* Find the sample that runs past the end (or is malformed). */
    k = k0;
    s = dec_load(d);
    win_start(&w, &r, d, d->pos);
    for (; k < 0; k++) {
      br_refill(&r);
      if (!dec_sample(&r, &s) || win_pos(&w, &r) > nbits) {
        n = (size_t)((ptrdiff_t)left + k);
        goto bad;
      }
      put(out + left, k, s.t, s.v);
    }
    break;
  }
  n = left;
  dec_save(d, &s, win_pos(&w, &r));
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

static size_t dec_batch(struct xor_dec *d, uint64_t *out) {
  return dec_run(d, out);
}

int chunk_iter_init(struct chunk_iter *it, uint8_t enc, const uint8_t *data,
                    size_t n) {
  /* Sample 0 of the buffer is the "current" one before the first
   * next(): 0, 0. */
  it->bi = it->bn = 1;
  put(it->buf, 0, 0, 0);
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
  uint64_t t = it->buf[it->bi - 1], v = it->buf[CHUNK_ITER_BUF + it->bi - 1];
  if (it->d.n < it->d.total && !it->err && !it->d.bad)
    got = dec_batch(&it->d, it->buf);
  if (!got) { /* the current sample stays, even if the decoder wrote */
    put(it->buf, 0, (int64_t)t, v);
    it->bi = it->bn = 1;
    it_check(it);
    return false;
  }
  it->bn = got;
  it->bi = 1;
  return true;
}

/* Copies out of the buffer, which the decoder fills at its own speed. */
size_t chunk_iter_next_batch(struct chunk_iter *it, int64_t *ts, double *vs,
                             size_t max) {
  size_t n = 0;
  for (;;) {
    size_t k = it->bn - it->bi;
    if (k > max - n)
      k = max - n;
    memcpy(ts + n, &it->buf[it->bi], k * sizeof(*ts));
    memcpy(vs + n, &it->buf[CHUNK_ITER_BUF + it->bi], k * sizeof(*vs));
    it->bi += k;
    n += k;
    if (n == max || !chunk_iter_fill(it))
      return n;
    it->bi = 0; /* fill() made its first sample the current one */
  }
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
