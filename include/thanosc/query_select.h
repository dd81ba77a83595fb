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
 * Which part of a (downsampled) chunk is read follows the hint's function
 * (qselect_aggrs_from_func): one aggregate, falling back to the raw part;
 * sum/count averages unless a raw part exists; and for counter functions
 * the counter aggregate (or raw) through Thanos's counter-reset iterator,
 * which also runs on raw data, hiding resets (Thanos issue 3644: resets()
 * through a Thanos querier counts none) and dropping NaN samples.
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
  /* Nonzero: raw chunks under counter functions are read as they are, not
   * through the counter-reset iterator (resets() then counts resets as
   * Prometheus does, unlike Thanos). Downsampled counter parts always go
   * through it. */
  int raw_counters;
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

/*
 * The storepb.Aggr values (COUNT=1, SUM=2, MIN=3, MAX=4, COUNTER=5) Thanos
 * reads for a selection under the hint's function (aggrsFromFunc): min*,
 * max*, count*, sum_* one aggregate; rate, increase, irate, resets the
 * counter; otherwise count and sum (an average). Fills aggrs, returns 1
 * or 2. Use them for the Series request's aggregates field; the select set
 * reads the chunks' parts the same way.
 */
size_t qselect_aggrs_from_func(const char *func, int aggrs[2]);

/* m is owned by the result; o is copied. */
struct promql_series_set *qselect_set_new(struct qmerge *m,
                                          const struct qselect_opts *o);

#endif
