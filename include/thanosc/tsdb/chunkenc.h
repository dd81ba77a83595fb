/*
 * tsdb/chunkenc.h - chunk encodings: the XOR (Gorilla) float chunk,
 * bit-exact with Prometheus 3.x (no trailing empty byte), and an iterator
 * over any chunk that recognises the other encodings and refuses them with
 * TC_ENOTSUP instead of misreading them.
 *
 * Sample values travel as doubles but are copied bit for bit, so the stale
 * marker (TSDB_STALE_NAN_BITS) survives encode and decode unchanged; test
 * it with tsdb_is_stale_nan(), not isnan().
 */
#ifndef THANOSC_TSDB_CHUNKENC_H
#define THANOSC_TSDB_CHUNKENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Encoding byte of a chunk record (spec tsdb-block.md 3.4). */
enum chunk_encoding {
  CHUNK_ENC_NONE = 0,
  CHUNK_ENC_XOR = 1,
  CHUNK_ENC_HISTOGRAM = 2,
  CHUNK_ENC_FLOAT_HISTOGRAM = 3,
  CHUNK_ENC_AGGR = 0xff, /* Thanos downsampled aggregate chunk */
};

#define TSDB_STALE_NAN_BITS 0x7ff0000000000002ull
/* Prometheus starts a new chunk after this many samples. */
#define XOR_SAMPLES_PER_CHUNK 120
#define XOR_MAX_SAMPLES 65535

static inline double tsdb_stale_nan(void) {
  uint64_t b = TSDB_STALE_NAN_BITS;
  double d;
  memcpy(&d, &b, 8);
  return d;
}

static inline bool tsdb_is_stale_nan(double v) {
  uint64_t b;
  memcpy(&b, &v, 8);
  return b == TSDB_STALE_NAN_BITS;
}

/* "XOR", "histogram", ... or "unknown". */
const char *chunk_encoding_name(uint8_t enc);

/*
 * XOR encoder. Owns its bytes; xor_enc_bytes() borrows them until the next
 * append or xor_enc_release(). The bytes are the chunk data as stored in a
 * segment record (2-byte sample count first).
 */
struct xor_enc {
  uint8_t *b;
  size_t len, cap;
  uint8_t free_bits; /* unused low bits of b[len-1] */
  uint16_t n;
  int64_t t, tdelta;
  uint64_t v;
  uint8_t leading, trailing;
};

void xor_enc_init(struct xor_enc *e);
void xor_enc_release(struct xor_enc *e);
void xor_enc_reset(struct xor_enc *e);
/* TC_ELIMIT when the chunk already holds XOR_MAX_SAMPLES. */
int xor_enc_append(struct xor_enc *e, int64_t t, double v);
const uint8_t *xor_enc_bytes(const struct xor_enc *e, size_t *n /* OUT */);
static inline uint16_t xor_enc_count(const struct xor_enc *e) { return e->n; }

/*
 * Iterator over one chunk's samples (next/seek/at/err, STYLE lesson 12).
 * The chunk bytes are borrowed for the iterator's life. No allocation: the
 * struct may live on the stack and be re-initialised for the next chunk.
 *
 * Samples are decoded CHUNK_ITER_BUF at a time into the iterator (so it
 * is about 2 KiB) by the batch decoder, and next() (inline) hands them
 * out one by one: the one-sample readers (block reader, PromQL select,
 * tools) run at the batch decoder's speed, a 120-sample chunk in one
 * decoder call.
 */
#define CHUNK_ITER_BUF 128

/* Decoder state between batches: at sample n of total, bit pos. */
struct xor_dec {
  const uint8_t *base; /* the bit stream (after the sample count) */
  size_t len;          /* its bytes */
  uint64_t pos;        /* the next bit to read */
  uint16_t total, n;   /* samples in the chunk, and decoded so far */
  bool bad;            /* sample n is truncated or malformed */
  uint8_t leading, trailing;
  int64_t t, tdelta;
  uint64_t v;
};

/* The current sample is number bi - 1 of the buffer: next() only moves
 * bi. size_t indexes fold the - 1 into the address. The buffer holds the
 * timestamps, then the bits of the values: the decoder addresses both
 * from one register. */
struct chunk_iter {
  size_t bi, bn; /* next buffered sample, and how many are buffered */
  int err;
  struct xor_dec d;
  uint64_t buf[2 * CHUNK_ITER_BUF];
};

/*
 * Starts iterating a chunk of encoding enc whose data is [data, data+n).
 * Returns TC_ENOTSUP (with the encoding's name) for histogram and
 * aggregate chunks, TC_ECORRUPT for a chunk shorter than its header; the
 * iterator is then exhausted with that error.
 */
int chunk_iter_init(struct chunk_iter *it, uint8_t enc, const uint8_t *data,
                    size_t n);
/* next()'s slow path: refills the buffer; not for callers. */
bool chunk_iter_fill(struct chunk_iter *it);
/* Advances; false at the end or on error (then check chunk_iter_err()). */
static inline bool chunk_iter_next(struct chunk_iter *it) {
  if (__builtin_expect(it->bi < it->bn, 1)) {
    it->bi++;
    return true;
  }
  return chunk_iter_fill(it);
}
/* Copies up to max next samples into ts/vs (caller-owned arrays of max
 * entries) and returns how many;
 * fewer than max only at the end or on error (then check
 * chunk_iter_err()). For whole-chunk readers; mixes with next() in any
 * order. at() afterwards is the last sample returned. */
size_t chunk_iter_next_batch(struct chunk_iter *it, int64_t *ts, double *vs,
                             size_t max);
/* Advances to the first sample with timestamp >= t (staying put if the
 * current one qualifies); false when there is none. */
bool chunk_iter_seek(struct chunk_iter *it, int64_t t);
/* True once next() or next_batch() has returned a sample. */
static inline bool chunk_iter_started(const struct chunk_iter *it) {
  return it->d.n > (size_t)(it->bn - it->bi);
}
static inline int64_t chunk_iter_t(const struct chunk_iter *it) {
  return (int64_t)it->buf[it->bi - 1];
}
static inline double chunk_iter_v(const struct chunk_iter *it) {
  double v;
  memcpy(&v, &it->buf[CHUNK_ITER_BUF + it->bi - 1], sizeof(v));
  return v;
}
static inline void chunk_iter_at(const struct chunk_iter *it,
                                 int64_t *t /* OUT */, double *v /* OUT */) {
  *t = chunk_iter_t(it);
  *v = chunk_iter_v(it);
}
static inline int chunk_iter_err(const struct chunk_iter *it) {
  return it->err;
}
/*
 * Thanos downsampled aggregate chunk (encoding CHUNK_ENC_AGGR): five
 * optional sub-chunks in the order count, sum, min, max, counter, each
 * `uvarint len | enc | data` or a single 0 byte when absent
 * (thanos-formats.md 4.2).
 */
enum aggr_type { AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER,
                 AGGR_NUM };

struct aggr_chunk {
  struct {
    bool present;
    uint8_t enc;
    const uint8_t *data; /* borrowed from the parsed bytes */
    size_t len;
  } sub[AGGR_NUM];
};

/* Splits an aggregate chunk's data into its sub-chunks. TC_ECORRUPT when
 * a length runs past the end or bytes are left over. */
int aggr_chunk_parse(struct aggr_chunk *a, const uint8_t *data, size_t n);
/* Appends an aggregate chunk's data (sub-chunks absent when data is NULL)
 * to out. */
struct tc_buf;
int aggr_chunk_encode(struct tc_buf *out, const struct aggr_chunk *a);

/* Sample count from a chunk's header (0 for short or non-XOR data). */
uint16_t chunk_num_samples(uint8_t enc, const uint8_t *data, size_t n);

#endif
