/*
 * queryable.c - the PromQL queryable of the querier (see
 * include/thanosc/query_queryable.h): select() asks the fan-out callback
 * for one series stream per endpoint, merges them and wraps the result so
 * that the streams are released together with the engine's series set.
 */
#include "thanosc/query_queryable.h"

#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"

struct fetched_set {
  struct promql_series_set base;
  struct promql_series_set *inner; /* owned */
  struct query_fetch f;
};

static int fetched_next(struct promql_series_set *ss,
                        const struct labels **labels,
                        struct promql_iter **it) {
  struct fetched_set *s = (struct fetched_set *)ss;
  return s->inner->ops->next(s->inner, labels, it);
}

static void fetched_free(struct promql_series_set *ss) {
  struct fetched_set *s = (struct fetched_set *)ss;
  if (!s)
    return;
  s->inner->ops->free(s->inner);
  if (s->f.release)
    s->f.release(&s->f);
  free(s);
}

static const struct promql_series_set_ops fetched_ops = {
    .next = fetched_next, .free = fetched_free};

static int qq_select(struct promql_queryable *pq,
                     const struct promql_select_hints *h,
                     const struct matcher *ms, size_t nms,
                     struct promql_series_set **out) {
  struct query_queryable *q = (struct query_queryable *)pq;
  struct qstrs none = {NULL, 0};
  /* Thanos deduplicates only when replica labels are configured. */
  int dedup = q->dedup && q->replica_labels.n > 0;
  const struct qstrs *rep = dedup ? &q->replica_labels : &none;
  struct query_fetch f;
  memset(&f, 0, sizeof(f));
  int rc = q->fetch(q->fetch_ctx, h, ms, nms, rep, &f);
  if (rc)
    return rc;
  struct qmerge *m = qmerge_new(f.sets, f.nsets, rep->v, rep->n);
  for (size_t i = 0; f.stripped && i < f.nsets; i++)
    if (f.stripped[i])
      qmerge_input_stripped(m, i);
  struct qselect_opts o = {
      .dedup = dedup,
      .algo = q->algo,
      .func = h->func,
      .mint = h->start_ms,
      .maxt = h->end_ms,
      .chunk_iter = q->chunk_iter ? q->chunk_iter : qselect_xor_iter,
      .chunk_iter_free =
          q->chunk_iter ? q->chunk_iter_free : qselect_xor_iter_free,
      .chunk_ctx = q->chunk_ctx,
      .raw_counters = q->raw_counters,
  };
  struct fetched_set *s = xcalloc(1, sizeof(*s));
  s->base.ops = &fetched_ops;
  s->inner = qselect_set_new(m, &o);
  s->f = f;
  *out = &s->base;
  return 0;
}

static const struct promql_queryable_ops qq_ops = {.select = qq_select};

void query_queryable_init(struct query_queryable *q) {
  memset(q, 0, sizeof(*q));
  q->base.ops = &qq_ops;
}
