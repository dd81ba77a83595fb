/*
 * query_dedup.h - deduplication of HA replicas, as Thanos's pkg/dedup does
 * it, built on the PromQL engine's sample iterator (struct promql_iter in
 * promql.h) so a deduplicated series plugs straight into the engine.
 *
 * Two algorithms (Thanos --deduplication.func):
 *
 *  - "penalty" (default): replicas are combined pairwise,
 *    ((r0 + r1) + r2) + ..., and each pair follows one replica and switches
 *    to the other only across a gap: after taking a sample at t from one
 *    side, the other side may not be used before t + 2 * (t - previous t)
 *    (5000 ms when there is no previous sample). With is_counter (the
 *    query's function is rate, increase, irate or resets), a replica whose
 *    value is lower than the last value returned when switching to it is
 *    shifted up by the difference, for the rest of the series, so a switch
 *    never looks like a counter reset.
 *  - "chain": all replicas merged by timestamp, one sample per timestamp
 *    (the first replica in argument order wins a tie).
 *
 * Ownership: the returned iterator borrows the replica iterators (which
 * must outlive it and must not be used by anyone else meanwhile) and is
 * freed with qdedup_iter_free(), which does not free the replicas.
 * Histogram samples pass through; only float values are counter-adjusted.
 */
#ifndef THANOSC_QUERY_DEDUP_H
#define THANOSC_QUERY_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "thanosc/promql.h"
#include "thanosc/query.h"

enum qdedup_algo {
  QDEDUP_PENALTY,
  QDEDUP_CHAIN,
};

/* "penalty" or "chain" (Thanos's names); TC_EINVAL otherwise. */
int qdedup_algo_parse(const char *s, enum qdedup_algo *out /* OUT */);

/* Whether Thanos treats the hinted function as a counter function. */
int qdedup_is_counter_func(const char *func);

/*
 * A deduplicating iterator over n >= 1 replicas (see the header comment).
 * With n == 1 the single replica is still wrapped (same results).
 */
struct promql_iter *qdedup_iter_new(enum qdedup_algo algo,
                                    struct promql_iter *const *replicas,
                                    size_t n, int is_counter);
void qdedup_iter_free(struct promql_iter *it);

/* An iterator over a borrowed array of samples sorted by time (tests,
 * decoded chunks). Needs no freeing. */
struct qslice_iter {
  struct promql_iter base;
  const struct qsample *s; /* borrowed */
  size_t n;
  size_t i;    /* current index once started */
  int started;
};
void qslice_iter_init(struct qslice_iter *it, const struct qsample *s,
                      size_t n);

#endif
