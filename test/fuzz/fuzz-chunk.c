/*
 * fuzz-chunk.c - libFuzzer target for chunk decoding: the input is read
 * both as one chunk (first byte = encoding, rest = data) through the
 * sample iterator and the batch decoder (which must agree with each other
 * and, for XOR chunks, with the bit-at-a-time reference decoder), and as
 * a chunk segment file whose records are walked from offset 8 through the
 * segment reader.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/xor-ref.h"
#include "thanosc/tsdb/chunkenc.h"
#include "thanosc/tsdb/chunks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  struct chunk_iter it;
  if (chunk_iter_init(&it, data[0], data + 1, size - 1) == 0) {
    /* next() one by one, and next() mixed with batches of a size taken
     * from the input, must agree sample for sample and on the error. */
    static int64_t ts[65536], bt[65536];
    static double vs[65536], bv[65536];
    size_t n = 0, m = 0, step = 1 + (size > 2 ? data[2] % 150 : 0);
    while (chunk_iter_next(&it)) {
      ts[n] = chunk_iter_t(&it);
      vs[n++] = chunk_iter_v(&it);
    }
    int err = chunk_iter_err(&it);
    chunk_iter_init(&it, data[0], data + 1, size - 1);
    while (chunk_iter_next(&it)) {
      bt[m] = chunk_iter_t(&it);
      bv[m++] = chunk_iter_v(&it);
      size_t k = chunk_iter_next_batch(&it, bt + m, bv + m, step);
      m += k;
      if (k && chunk_iter_t(&it) != bt[m - 1])
        abort();
      if (k < step)
        break;
    }
    if (m != n || chunk_iter_err(&it) != err ||
        memcmp(ts, bt, n * sizeof(*ts)) || memcmp(vs, bv, n * sizeof(*vs)))
      abort();
    if (data[0] == CHUNK_ENC_XOR) {
      static int64_t rt[65536];
      static uint64_t rv[65536];
      bool bad;
      if (ref_decode(data + 1, size - 1, rt, rv, &bad) != n ||
          bad != (err != 0) || memcmp(rt, ts, n * sizeof(*ts)) ||
          memcmp(rv, vs, n * sizeof(*vs)))
        abort();
    }
    chunk_iter_init(&it, data[0], data + 1, size - 1);
    chunk_iter_seek(&it, 1000);
  }
  struct aggr_chunk ag;
  if (data[0] == CHUNK_ENC_AGGR && aggr_chunk_parse(&ag, data + 1, size - 1) == 0)
    for (int i = 0; i < AGGR_NUM; i++)
      if (ag.sub[i].present &&
          chunk_iter_init(&it, ag.sub[i].enc, ag.sub[i].data, ag.sub[i].len) == 0)
        while (chunk_iter_next(&it)) {
        }
  /* As a segment file. */
  struct tsdb_bytes *segs = malloc(sizeof(*segs));
  tsdb_bytes_open_mem(&segs[0], data, size, "000001");
  struct chunks_reader r;
  if (chunks_reader_open(&r, segs, 1) != 0)
    return 0;
  uint64_t off = 8;
  for (int i = 0; i < 1000 && off < size; i++) {
    uint8_t enc;
    const uint8_t *d;
    size_t n;
    if (chunks_reader_chunk(&r, off, &enc, &d, &n) != 0)
      break;
    if (chunk_iter_init(&it, enc, d, n) == 0)
      while (chunk_iter_next(&it)) {
      }
    off += 1 + n + 4 + (n >= 128) + (n >= 16384) + (n >= 2097152);
  }
  chunks_reader_close(&r);
  /* The same bytes as records fetched by a ranged read. */
  size_t at = 8;
  while (at < size) {
    uint8_t enc;
    const uint8_t *d;
    size_t n, rec;
    if (chunks_parse_record(data + at, size - at, "fuzz", &enc, &d, &n, &rec))
      break;
    at += rec;
  }
  return 0;
}
