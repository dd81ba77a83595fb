/*
 * query_select.h - the querier's side of the PromQL queryable: turns the
 * merged StoreAPI series (query_merge.h) into the engine's series set
 * (struct promql_series_set in promql.h), deduplicated as Thanos's
 * querier does (pkg/query/querier.go selectFn + pkg/dedup):
 *
 *   dedup on:  chunks of each merged series are split into groups of
 *              non-overlapping chunks (qmerge_overlap_split); each group is
 *              one replica iterator (its chunks chained, samples limited to
 *              [mint, maxt]); replicas go through the penalty or chain
 *              iterator, counter-adjusted when hints->func is rate,
 *              increase, irate or resets.
 *   dedup off: all chunks of the series chained into one iterator; when
 *              chunks overlap, samples not after the last returned one are
 *              skipped (Thanos chunkSeriesIterator), limited to [mint, maxt].
 *
 * Chunk decoding belongs to the TSDB code, so it comes in as a callback
 * (qchunk_iter_fn): given a received chunk, return an iterator over its
 * samples. The returned iterators are released with qchunk_iter_free_fn.
 *
 * Ownership: qselect_set_new() takes ownership of the merge (freed with the
 * set). The labels and iterator returned by the set's next() are borrowed
 * until the next call of next() or free(); the set is freed with its ops'
 * free().
 */
#ifndef THANOSC_QUERY_SELECT_H
#define THANOSC_QUERY_SELECT_H

#include "thanosc/promql.h"
#include "thanosc/query_dedup.h"
#include "thanosc/query_merge.h"

/* An iterator over the samples of one chunk, or NULL with a tc_error()
 * message (e.g. unknown encoding). */
typedef struct promql_iter *qchunk_iter_fn(void *ctx, const struct qchunk *c);
typedef void qchunk_iter_free_fn(void *ctx, struct promql_iter *it);

struct qselect_opts {
  int dedup;
  enum qdedup_algo algo;
  const char *func;     /* hints->func, borrowed; NULL if none */
  int64_t mint, maxt;   /* samples outside are not returned (ms) */
  qchunk_iter_fn *chunk_iter;
  qchunk_iter_free_fn *chunk_iter_free;
  void *chunk_ctx;
};

/*
 * The default decoder: storepb Chunk.Encoding XOR (0) through the TSDB's
 * XOR iterator (tsdb/chunkenc.h); histogram encodings fail with
 * TC_ENOTSUP. ctx is unused. Pair with qselect_xor_iter_free.
 */
#define QCHUNK_STOREPB_XOR 0
#define QCHUNK_STOREPB_HISTOGRAM 1
#define QCHUNK_STOREPB_FLOAT_HISTOGRAM 2
struct promql_iter *qselect_xor_iter(void *ctx, const struct qchunk *c);
void qselect_xor_iter_free(void *ctx, struct promql_iter *it);

/* m is owned by the result; o is copied. */
struct promql_series_set *qselect_set_new(struct qmerge *m,
                                          const struct qselect_opts *o);

#endif
