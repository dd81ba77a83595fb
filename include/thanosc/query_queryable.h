/*
 * query_queryable.h - the querier's PromQL queryable: for every selector
 * the engine evaluates, fetch the matching series from the StoreAPI
 * endpoints (a callback: the fan-out lives in the gRPC layer), merge the
 * sorted streams (query_merge.h) and hand the engine deduplicated series
 * (query_select.h).
 *
 *   engine --select(hints, matchers)--> query_queryable
 *       --fetch()--> N struct qseries_set (one per endpoint)
 *       --qmerge + qselect--> struct promql_series_set
 *
 * Ownership: fetch() fills a struct query_fetch whose sets must stay valid
 * until its release() is called, which happens when the engine frees the
 * returned series set. The queryable itself is caller-owned and must
 * outlive every series set it returned; its strings are borrowed.
 */
#ifndef THANOSC_QUERY_QUERYABLE_H
#define THANOSC_QUERY_QUERYABLE_H

#include "thanosc/promql.h"
#include "thanosc/query_params.h"
#include "thanosc/query_select.h"

struct query_fetch {
  struct qseries_set **sets; /* filled by fetch() */
  size_t nsets;
  /* Optional, nsets entries: nonzero when that endpoint honoured
   * without_replica_labels (its series come stripped and sorted). */
  const unsigned char *stripped;
  /* Called once when the series set built from these sets is freed (or
   * right away if building it fails). May be NULL. */
  void (*release)(struct query_fetch *f);
  void *data; /* for release() */
};

/*
 * Starts the Series calls for one selector and returns their streams.
 * replica_labels is what the StoreAPI request's without_replica_labels
 * should say (empty without dedup). Returns 0 or a negative code with a
 * tc_error() message; on error out->release is not called.
 */
typedef int query_fetch_fn(void *ctx, const struct promql_select_hints *h,
                           const struct matcher *ms, size_t nms,
                           const struct qstrs *replica_labels,
                           struct query_fetch *out /* OUT */);

struct query_queryable {
  struct promql_queryable base;
  query_fetch_fn *fetch;
  void *fetch_ctx;
  int dedup;                   /* from the request's "dedup"; in effect
                                  only with replica labels (as Thanos) */
  enum qdedup_algo algo;       /* --deduplication.func */
  struct qstrs replica_labels; /* from the request or the flag */
  qchunk_iter_fn *chunk_iter;  /* NULL: qselect_xor_iter */
  qchunk_iter_free_fn *chunk_iter_free;
  void *chunk_ctx;
  int raw_counters;            /* see struct qselect_opts */
};

/* Sets base.ops; fill the other fields before use. */
void query_queryable_init(struct query_queryable *q);

#endif
