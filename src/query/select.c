/*
 * select.c - from merged StoreAPI series to the PromQL engine's series set
 * (see include/thanosc/query_select.h).
 *
 * For every merged series the set builds, and frees on the next call, a
 * small tree of iterators: one decoded iterator per chunk (from the
 * caller's decoder), a chain per group of chunks that skips samples not
 * after the last one returned (Thanos chunkSeriesIterator), a bound to
 * [mint, maxt] on each chain (Thanos boundedSeriesIterator), and with
 * deduplication the penalty or chain iterator over the groups.
 */
#include "thanosc/query_select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/chunkenc.h"

/* ---- the default chunk decoder ---- */

struct xor_iter {
  struct promql_iter base;
  struct chunk_iter ci;
};

static enum promql_sample_type xor_next(struct promql_iter *it) {
  struct xor_iter *x = (struct xor_iter *)it;
  return chunk_iter_next(&x->ci) ? PROMQL_SAMPLE_FLOAT : PROMQL_SAMPLE_NONE;
}

static enum promql_sample_type xor_seek(struct promql_iter *it, int64_t t) {
  struct xor_iter *x = (struct xor_iter *)it;
  return chunk_iter_seek(&x->ci, t) ? PROMQL_SAMPLE_FLOAT
                                    : PROMQL_SAMPLE_NONE;
}

static void xor_at(struct promql_iter *it, int64_t *t, double *v) {
  chunk_iter_at(&((struct xor_iter *)it)->ci, t, v);
}

static int xor_err(struct promql_iter *it) {
  return chunk_iter_err(&((struct xor_iter *)it)->ci);
}

static const struct promql_iter_ops xor_ops = {
    .next = xor_next, .seek = xor_seek, .at = xor_at, .err = xor_err};

struct promql_iter *qselect_xor_iter(void *ctx, const struct qchunk *c) {
  (void)ctx;
  if (c->encoding != QCHUNK_STOREPB_XOR) {
    tc_error(TC_ENOTSUP, "chunk encoding %d (%s) is not supported",
             c->encoding,
             c->encoding == QCHUNK_STOREPB_HISTOGRAM ? "HISTOGRAM"
             : c->encoding == QCHUNK_STOREPB_FLOAT_HISTOGRAM
                 ? "FLOAT_HISTOGRAM"
                 : "unknown");
    return NULL;
  }
  struct xor_iter *x = xcalloc(1, sizeof(*x));
  x->base.ops = &xor_ops;
  if (chunk_iter_init(&x->ci, CHUNK_ENC_XOR, c->data, c->len)) {
    free(x);
    return NULL;
  }
  return &x->base;
}

void qselect_xor_iter_free(void *ctx, struct promql_iter *it) {
  (void)ctx;
  free(it);
}

/* ---- chunk chain ---- */

struct chain_iter {
  struct promql_iter base;
  struct promql_iter **chunks; /* borrowed from the set */
  size_t n, i;
  enum promql_sample_type cur;
  int have;
  int64_t t;
  double v;
  int err;
};

static enum promql_sample_type chain_next(struct promql_iter *it) {
  struct chain_iter *c = (struct chain_iter *)it;
  while (c->i < c->n) {
    struct promql_iter *ci = c->chunks[c->i];
    enum promql_sample_type r = ci->ops->next(ci);
    if (r != PROMQL_SAMPLE_NONE) {
      int64_t t;
      double v;
      ci->ops->at(ci, &t, &v);
      /* overlapping chunks: skip what was already returned */
      if (c->have && t <= c->t)
        continue;
      c->have = 1;
      c->t = t;
      c->v = v;
      return c->cur = r;
    }
    int rc = ci->ops->err(ci);
    if (rc) {
      c->err = rc;
      c->i = c->n;
      break;
    }
    c->i++;
  }
  return c->cur = PROMQL_SAMPLE_NONE;
}

static enum promql_sample_type chain_seek(struct promql_iter *it, int64_t t) {
  struct chain_iter *c = (struct chain_iter *)it;
  if (c->cur != PROMQL_SAMPLE_NONE && c->t >= t)
    return c->cur;
  while (chain_next(it) != PROMQL_SAMPLE_NONE)
    if (c->t >= t)
      return c->cur;
  return PROMQL_SAMPLE_NONE;
}

static void chain_at(struct promql_iter *it, int64_t *t, double *v) {
  struct chain_iter *c = (struct chain_iter *)it;
  *t = c->have ? c->t : INT64_MIN;
  *v = c->v;
}

static int chain_err(struct promql_iter *it) {
  return ((struct chain_iter *)it)->err;
}

static const struct promql_iter_ops chain_ops = {
    .next = chain_next, .seek = chain_seek, .at = chain_at, .err = chain_err};

/* ---- bounds ---- */

struct bounded_iter {
  struct promql_iter base;
  struct promql_iter *it; /* borrowed */
  int64_t mint, maxt;
};

static int64_t at_t(struct promql_iter *it) {
  int64_t t;
  double v;
  it->ops->at(it, &t, &v);
  return t;
}

static enum promql_sample_type bounded_seek(struct promql_iter *it,
                                            int64_t t) {
  struct bounded_iter *b = (struct bounded_iter *)it;
  if (t > b->maxt)
    return PROMQL_SAMPLE_NONE;
  if (t < b->mint)
    t = b->mint;
  return b->it->ops->seek(b->it, t);
}

static enum promql_sample_type bounded_next(struct promql_iter *it) {
  struct bounded_iter *b = (struct bounded_iter *)it;
  enum promql_sample_type r = b->it->ops->next(b->it);
  if (r == PROMQL_SAMPLE_NONE)
    return r;
  int64_t t = at_t(b->it);
  if (t < b->mint) {
    if (bounded_seek(it, b->mint) == PROMQL_SAMPLE_NONE)
      return PROMQL_SAMPLE_NONE;
    t = at_t(b->it);
  }
  /* once past the interval there is no way back */
  return t <= b->maxt ? r : PROMQL_SAMPLE_NONE;
}

static void bounded_at(struct promql_iter *it, int64_t *t, double *v) {
  struct bounded_iter *b = (struct bounded_iter *)it;
  b->it->ops->at(b->it, t, v);
}

static int bounded_err(struct promql_iter *it) {
  struct bounded_iter *b = (struct bounded_iter *)it;
  return b->it->ops->err(b->it);
}

static const struct promql_iter_ops bounded_ops = {.next = bounded_next,
                                                   .seek = bounded_seek,
                                                   .at = bounded_at,
                                                   .err = bounded_err};

/* ---- downsampled data: counter resets and averages ---- */

/*
 * Thanos's ApplyCounterResetsSeriesIterator: over a group's chunks, a
 * running counter total that hides resets (a drop adds the new value), NaN
 * samples (staleness markers) skipped, and a sample repeating the previous
 * timestamp taken as the true last raw value of a downsampled chunk.
 * Used for rate, increase, irate and resets, on raw data too (which is why
 * resets() finds none through a Thanos querier).
 */
struct counter_iter {
  struct promql_iter base;
  struct promql_iter **chunks; /* borrowed from the set */
  size_t n, i;
  size_t total;
  int64_t last_t; /* 0 before the first sample, as in Thanos */
  double last_v, total_v;
  enum promql_sample_type last_type;
  int err;
};

static enum promql_sample_type counter_seek(struct promql_iter *it,
                                            int64_t x);

static enum promql_sample_type counter_next(struct promql_iter *it) {
  struct counter_iter *c = (struct counter_iter *)it;
  for (;;) {
    if (c->i >= c->n)
      return PROMQL_SAMPLE_NONE;
    struct promql_iter *ci = c->chunks[c->i];
    c->last_type = ci->ops->next(ci);
    if (c->last_type == PROMQL_SAMPLE_NONE) {
      int rc = ci->ops->err(ci);
      if (rc) {
        c->err = rc;
        c->i = c->n;
        return PROMQL_SAMPLE_NONE;
      }
      c->i++;
      /* chunks may overlap: never go back in time */
      return counter_seek(it, c->last_t + 1);
    }
    int64_t t;
    double v;
    ci->ops->at(ci, &t, &v);
    if (c->last_type != PROMQL_SAMPLE_FLOAT) {
      c->last_t = t;
      return c->last_type;
    }
    if (isnan(v))
      continue;
    if (c->total == 0) {
      c->total++;
      c->last_t = t;
      c->last_v = v;
      c->total_v = v;
      return PROMQL_SAMPLE_FLOAT;
    }
    if (t > c->last_t) {
      c->total_v += v >= c->last_v ? v - c->last_v : v;
      c->last_t = t;
      c->last_v = v;
      c->total++;
      return PROMQL_SAMPLE_FLOAT;
    }
    /* the true last value of the previous chunk */
    if (t == c->last_t)
      c->last_v = v;
  }
}

static enum promql_sample_type counter_seek(struct promql_iter *it,
                                            int64_t x) {
  struct counter_iter *c = (struct counter_iter *)it;
  /* next, not the chunks' seek, so no reset is missed */
  for (;;) {
    if (c->last_t >= x)
      return c->last_type;
    if (counter_next(it) == PROMQL_SAMPLE_NONE)
      return PROMQL_SAMPLE_NONE;
  }
}

static void counter_at(struct promql_iter *it, int64_t *t, double *v) {
  struct counter_iter *c = (struct counter_iter *)it;
  *t = c->last_t;
  *v = c->total_v;
}

static int counter_err(struct promql_iter *it) {
  return ((struct counter_iter *)it)->err;
}

static const struct promql_iter_ops counter_ops = {.next = counter_next,
                                                   .seek = counter_seek,
                                                   .at = counter_at,
                                                   .err = counter_err};

/* Thanos's AverageChunkIterator: sum / count of a downsampled chunk. */
struct avg_iter {
  struct promql_iter base;
  struct promql_iter *cnt, *sum; /* borrowed from the set */
  int64_t t;
  double v;
  int err;
};

static enum promql_sample_type avg_next(struct promql_iter *it) {
  struct avg_iter *a = (struct avg_iter *)it;
  enum promql_sample_type c = a->cnt->ops->next(a->cnt);
  enum promql_sample_type s = a->sum->ops->next(a->sum);
  if (c != s) {
    a->err = tc_error(TC_ECORRUPT, "sum and count iterator not aligned");
    return PROMQL_SAMPLE_NONE;
  }
  if (c == PROMQL_SAMPLE_NONE)
    return c;
  int64_t ct, st;
  double cv, sv;
  a->cnt->ops->at(a->cnt, &ct, &cv);
  a->sum->ops->at(a->sum, &st, &sv);
  if (ct != st) {
    a->err = tc_error(TC_ECORRUPT, "sum and count timestamps not aligned");
    return PROMQL_SAMPLE_NONE;
  }
  a->t = ct;
  a->v = sv / cv;
  return PROMQL_SAMPLE_FLOAT;
}

static enum promql_sample_type avg_seek(struct promql_iter *it, int64_t t) {
  struct avg_iter *a = (struct avg_iter *)it;
  (void)t;
  a->err = tc_error(TC_ENOTSUP, "seek used, but not implemented");
  return PROMQL_SAMPLE_NONE;
}

static void avg_at(struct promql_iter *it, int64_t *t, double *v) {
  struct avg_iter *a = (struct avg_iter *)it;
  *t = a->t;
  *v = a->v;
}

static int avg_err(struct promql_iter *it) {
  struct avg_iter *a = (struct avg_iter *)it;
  int rc = a->cnt->ops->err(a->cnt);
  if (!rc)
    rc = a->sum->ops->err(a->sum);
  return rc ? rc : a->err;
}

static const struct promql_iter_ops avg_ops = {
    .next = avg_next, .seek = avg_seek, .at = avg_at, .err = avg_err};

/* Which parts of the chunks a query reads (Thanos aggrsFromFunc). */
enum read_mode {
  READ_AVG,     /* count and sum: raw if present, else sum / count */
  READ_ONE,     /* one aggregate (or raw) */
  READ_COUNTER, /* the counter aggregate (or raw), resets applied */
};

static int has_prefix(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

size_t qselect_aggrs_from_func(const char *f, int aggrs[2]) {
  if (!f)
    f = "";
  if (!strcmp(f, "min") || has_prefix(f, "min_"))
    aggrs[0] = QAGGR_MIN + 1;
  else if (!strcmp(f, "max") || has_prefix(f, "max_"))
    aggrs[0] = QAGGR_MAX + 1;
  else if (!strcmp(f, "count") || has_prefix(f, "count_"))
    aggrs[0] = QAGGR_COUNT + 1;
  else if (has_prefix(f, "sum_")) /* "sum" wants the samples themselves */
    aggrs[0] = QAGGR_SUM + 1;
  else if (qdedup_is_counter_func(f))
    aggrs[0] = QAGGR_COUNTER + 1;
  else {
    aggrs[0] = QAGGR_COUNT + 1;
    aggrs[1] = QAGGR_SUM + 1;
    return 2;
  }
  return 1;
}

/* ---- the series set ---- */

struct qselect_set {
  struct promql_series_set base;
  struct qmerge *m; /* owned */
  struct qselect_opts o;
  int counter;
  enum read_mode mode;
  enum qaggr aggr; /* READ_ONE, READ_COUNTER */
  /* the current series, rebuilt by every next() */
  struct labels labels; /* strings borrowed from the merge */
  struct promql_iter **chunk_its; /* one per chunk, in group order */
  size_t nchunk_its, cap_chunk_its;
  struct promql_iter **decoded; /* from chunk_iter(), to chunk_iter_free() */
  size_t ndecoded, cap_decoded;
  struct avg_iter **avgs; /* owned */
  size_t navgs, cap_avgs;
  size_t *group;
  size_t cap_group;
  struct chain_iter *chains;
  struct counter_iter *counters;
  struct bounded_iter *bounds;
  struct promql_iter **reps;
  struct promql_iter *dedup;
};

static void set_clear(struct qselect_set *s) {
  labels_release(&s->labels);
  qdedup_iter_free(s->dedup);
  s->dedup = NULL;
  for (size_t i = 0; i < s->navgs; i++)
    free(s->avgs[i]);
  s->navgs = 0;
  for (size_t i = 0; i < s->ndecoded; i++)
    if (s->o.chunk_iter_free)
      s->o.chunk_iter_free(s->o.chunk_ctx, s->decoded[i]);
  s->ndecoded = 0;
  s->nchunk_its = 0;
  free(s->chains);
  free(s->counters);
  free(s->bounds);
  free(s->reps);
  s->chains = NULL;
  s->counters = NULL;
  s->bounds = NULL;
  s->reps = NULL;
}

/* Decodes one part of chunk c (NULL with a message when it fails). */
static struct promql_iter *decode(struct qselect_set *s,
                                  const struct qchunk *c,
                                  const struct qchunk_part *p) {
  struct qchunk view = {c->min_time, c->max_time, p->encoding, p->data,
                        p->len, NULL};
  struct promql_iter *it = s->o.chunk_iter(s->o.chunk_ctx, &view);
  if (it) {
    TC_GROW(s->decoded, s->cap_decoded, s->ndecoded + 1);
    s->decoded[s->ndecoded++] = it;
  }
  return it;
}

/* The iterator for chunk c as the query reads it (getFirstIterator). */
static struct promql_iter *chunk_iterator(struct qselect_set *s,
                                          const struct qchunk *c) {
  struct qchunk_part raw = {c->encoding, c->data, c->len};
  if (s->mode != READ_AVG) {
    const struct qchunk_part *p = &raw;
    if (c->aggr && c->aggr[s->aggr].data)
      p = &c->aggr[s->aggr];
    if (!p->data) {
      tc_error(TC_ECORRUPT, "no valid chunk found");
      return NULL;
    }
    return decode(s, c, p);
  }
  if (raw.data || !c->aggr)
    return raw.data ? decode(s, c, &raw)
                    : (tc_error(TC_ECORRUPT, "no valid chunk found"), NULL);
  const struct qchunk_part *cp = &c->aggr[QAGGR_COUNT];
  const struct qchunk_part *sp = &c->aggr[QAGGR_SUM];
  if (!cp->data || !sp->data) {
    tc_error(TC_ECORRUPT, "no valid chunk found");
    return NULL;
  }
  struct promql_iter *sum = decode(s, c, sp);
  struct promql_iter *cnt = sum ? decode(s, c, cp) : NULL;
  if (!cnt)
    return NULL;
  struct avg_iter *a = xcalloc(1, sizeof(*a));
  a->base.ops = &avg_ops;
  a->cnt = cnt;
  a->sum = sum;
  TC_GROW(s->avgs, s->cap_avgs, s->navgs + 1);
  s->avgs[s->navgs++] = a;
  return &a->base;
}

static int set_next(struct promql_series_set *ss,
                    const struct labels **labels,
                    struct promql_iter **it) {
  struct qselect_set *s = (struct qselect_set *)ss;
  const struct qmerged *ms;
  set_clear(s);
  int rc = qmerge_next(s->m, &ms);
  if (rc <= 0)
    return rc;

  /* borrowed from the merge, which keeps them until its next call */
  labels_init(&s->labels);
  s->labels.flags = LABELS_BORROWED;
  for (size_t i = 0; i < ms->nlabels; i++)
    labels_add_borrowed(&s->labels, ms->labels[i].name, ms->labels[i].value);

  size_t n = ms->nchunks, ng = n ? 1 : 0;
  TC_GROW(s->group, s->cap_group, n + 1);
  if (s->o.dedup)
    ng = qmerge_overlap_split(ms->chunks, n, s->group);
  else
    memset(s->group, 0, (n + 1) * sizeof(*s->group));
  if (ng == 0)
    ng = 1; /* one empty replica: an iterator without samples */

  /* Decode the chunks, ordered by group. */
  TC_GROW(s->chunk_its, s->cap_chunk_its, n + 1);
  size_t *start = xcalloc(ng + 1, sizeof(*start));
  for (size_t g = 0; g < ng; g++) {
    start[g] = s->nchunk_its;
    for (size_t i = 0; i < n; i++) {
      if (s->group[i] != g)
        continue;
      struct promql_iter *ci = chunk_iterator(s, &ms->chunks[i]);
      if (!ci) {
        free(start);
        return tc_error_wrap(TC_ECORRUPT, "decode chunk [%lld, %lld]",
                             (long long)ms->chunks[i].min_time,
                             (long long)ms->chunks[i].max_time);
      }
      s->chunk_its[s->nchunk_its++] = ci;
    }
  }
  start[ng] = s->nchunk_its;

  int counter_groups = s->mode == READ_COUNTER;
  if (counter_groups && s->o.raw_counters) {
    /* only downsampled data needs the counter-reset reading then */
    counter_groups = 0;
    for (size_t i = 0; i < n; i++)
      if (ms->chunks[i].aggr)
        counter_groups = 1;
  }
  if (counter_groups)
    s->counters = xcalloc(ng, sizeof(*s->counters));
  else
    s->chains = xcalloc(ng, sizeof(*s->chains));
  s->bounds = xcalloc(ng, sizeof(*s->bounds));
  s->reps = xcalloc(ng, sizeof(*s->reps));
  for (size_t g = 0; g < ng; g++) {
    struct promql_iter *group_it;
    if (counter_groups) {
      struct counter_iter *c = &s->counters[g];
      c->base.ops = &counter_ops;
      c->chunks = s->chunk_its + start[g];
      c->n = start[g + 1] - start[g];
      group_it = &c->base;
    } else {
      struct chain_iter *c = &s->chains[g];
      c->base.ops = &chain_ops;
      c->chunks = s->chunk_its + start[g];
      c->n = start[g + 1] - start[g];
      group_it = &c->base;
    }
    struct bounded_iter *b = &s->bounds[g];
    b->base.ops = &bounded_ops;
    b->it = group_it;
    b->mint = s->o.mint;
    b->maxt = s->o.maxt;
    s->reps[g] = &b->base;
  }
  free(start);

  if (ng > 1) {
    s->dedup = qdedup_iter_new(s->o.algo, s->reps, ng, s->counter);
    *it = s->dedup;
  } else {
    *it = s->reps[0];
  }
  *labels = &s->labels;
  return 1;
}

static void set_free(struct promql_series_set *ss) {
  struct qselect_set *s = (struct qselect_set *)ss;
  if (!s)
    return;
  set_clear(s);
  qmerge_free(s->m);
  free(s->chunk_its);
  free(s->decoded);
  free(s->avgs);
  free(s->group);
  free(s);
}

static const struct promql_series_set_ops set_ops = {.next = set_next,
                                                     .free = set_free};

struct promql_series_set *qselect_set_new(struct qmerge *m,
                                          const struct qselect_opts *o) {
  struct qselect_set *s = xcalloc(1, sizeof(*s));
  s->base.ops = &set_ops;
  s->m = m;
  s->o = *o;
  s->counter = qdedup_is_counter_func(o->func);
  int aggrs[2];
  if (qselect_aggrs_from_func(o->func, aggrs) == 2) {
    s->mode = READ_AVG;
  } else {
    s->aggr = (enum qaggr)(aggrs[0] - 1);
    s->mode = s->aggr == QAGGR_COUNTER ? READ_COUNTER : READ_ONE;
  }
  return &s->base;
}
