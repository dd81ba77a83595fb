/*
 * dedup.c - HA replica deduplication for the querier (see
 * include/thanosc/query_dedup.h), reproducing Thanos's pkg/dedup sample
 * iterators on top of the PromQL engine's struct promql_iter.
 *
 * The penalty algorithm is a tree of two-input nodes: every replica is
 * wrapped in an "adjust" node (which can shift counter values up), and
 * each pair node picks, at every step, the input with the smaller next
 * timestamp after both were sought past the last returned timestamp plus
 * a per-input penalty. Pair nodes are themselves adjustable, so a tree of
 * any width behaves as Thanos's left-deep chain of dedupSeriesIterators.
 * The chain algorithm is a plain timestamp merge that keeps the first
 * sample of each timestamp.
 */
#include "thanosc/query_dedup.h"

#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"

/* Thanos's initialPenalty: 5s, when no previous sample gives a delta. */
#define INITIAL_PENALTY_MS 5000

int qdedup_algo_parse(const char *s, enum qdedup_algo *out) {
  if (!strcmp(s, "penalty")) {
    *out = QDEDUP_PENALTY;
    return 0;
  }
  if (!strcmp(s, "chain")) {
    *out = QDEDUP_CHAIN;
    return 0;
  }
  return tc_error(TC_EINVAL, "unknown deduplication algorithm '%s'", s);
}

int qdedup_is_counter_func(const char *f) {
  return f && (!strcmp(f, "increase") || !strcmp(f, "rate") ||
               !strcmp(f, "irate") || !strcmp(f, "resets"));
}

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

static int64_t iter_t(struct promql_iter *it) {
  int64_t t;
  double v;
  it->ops->at(it, &t, &v);
  return t;
}

/* ---- slice iterator ---- */

static enum promql_sample_type slice_next(struct promql_iter *it) {
  struct qslice_iter *s = (struct qslice_iter *)it;
  if (!s->started)
    s->started = 1;
  else if (s->i < s->n)
    s->i++;
  return s->i < s->n ? PROMQL_SAMPLE_FLOAT : PROMQL_SAMPLE_NONE;
}

static enum promql_sample_type slice_seek(struct promql_iter *it,
                                          int64_t ts) {
  struct qslice_iter *s = (struct qslice_iter *)it;
  s->started = 1;
  while (s->i < s->n && s->s[s->i].t < ts)
    s->i++;
  return s->i < s->n ? PROMQL_SAMPLE_FLOAT : PROMQL_SAMPLE_NONE;
}

static void slice_at(struct promql_iter *it, int64_t *t, double *v) {
  struct qslice_iter *s = (struct qslice_iter *)it;
  size_t i = s->i < s->n ? s->i : s->n - 1;
  if (s->n == 0) {
    *t = INT64_MIN;
    *v = 0;
    return;
  }
  *t = s->s[i].t;
  *v = s->s[i].v;
}

static int slice_err(struct promql_iter *it) {
  (void)it;
  return 0;
}

static const struct promql_iter_ops slice_ops = {
    .next = slice_next, .seek = slice_seek, .at = slice_at, .err = slice_err};

void qslice_iter_init(struct qslice_iter *it, const struct qsample *s,
                      size_t n) {
  memset(it, 0, sizeof(*it));
  it->base.ops = &slice_ops;
  it->s = s;
  it->n = n;
}

/* ---- adjustable nodes ---- */

struct qnode {
  struct promql_iter base;
  /* Thanos adjustAtValue: called with the last returned float value when
   * the parent switched to this side. */
  void (*adjust)(struct qnode *n, double last);
  void (*destroy)(struct qnode *n);
};

/* A replica: counterErrAdjustSeriesIterator or noopAdjustableSeriesIterator */
struct adj_node {
  struct qnode q;
  struct promql_iter *inner; /* borrowed */
  double err_adjust;
  int counter;
};

static enum promql_sample_type adj_next(struct promql_iter *it) {
  struct adj_node *a = (struct adj_node *)it;
  return a->inner->ops->next(a->inner);
}

static enum promql_sample_type adj_seek(struct promql_iter *it, int64_t ts) {
  struct adj_node *a = (struct adj_node *)it;
  return a->inner->ops->seek(a->inner, ts);
}

static void adj_at(struct promql_iter *it, int64_t *t, double *v) {
  struct adj_node *a = (struct adj_node *)it;
  a->inner->ops->at(a->inner, t, v);
  *v += a->err_adjust;
}

static int adj_err(struct promql_iter *it) {
  struct adj_node *a = (struct adj_node *)it;
  return a->inner->ops->err(a->inner);
}

static void adj_adjust(struct qnode *n, double last) {
  struct adj_node *a = (struct adj_node *)n;
  if (!a->counter)
    return;
  int64_t t;
  double v;
  adj_at(&n->base, &t, &v);
  if (last > v)
    a->err_adjust += last - v;
}

static void adj_destroy(struct qnode *n) { free(n); }

static const struct promql_iter_ops adj_ops = {
    .next = adj_next, .seek = adj_seek, .at = adj_at, .err = adj_err};

static struct qnode *adj_new(struct promql_iter *inner, int counter) {
  struct adj_node *a = xcalloc(1, sizeof(*a));
  a->q.base.ops = &adj_ops;
  a->q.adjust = adj_adjust;
  a->q.destroy = adj_destroy;
  a->inner = inner;
  a->counter = counter;
  return &a->q;
}

/* A pair: Thanos's dedupSeriesIterator. */
struct pen_node {
  struct qnode q;
  struct qnode *a, *b; /* owned */
  enum promql_sample_type aval, bval;
  int64_t last_t;
  struct qnode *last; /* a or b */
  int64_t pen_a, pen_b;
  int use_a;
};

/* The body of Next() without the counter adjustment. */
static enum promql_sample_type pen_step(struct pen_node *d) {
  struct promql_iter *a = &d->a->base, *b = &d->b->base;
  if (d->aval != PROMQL_SAMPLE_NONE)
    d->aval = a->ops->seek(a, sat_add(sat_add(d->last_t, 1), d->pen_a));
  if (d->bval != PROMQL_SAMPLE_NONE)
    d->bval = b->ops->seek(b, sat_add(sat_add(d->last_t, 1), d->pen_b));

  if (d->aval == PROMQL_SAMPLE_NONE) {
    d->use_a = 0;
    if (d->bval != PROMQL_SAMPLE_NONE) {
      d->last_t = iter_t(b);
      d->last = d->b;
      d->pen_b = 0;
    }
    return d->bval;
  }
  if (d->bval == PROMQL_SAMPLE_NONE) {
    d->use_a = 1;
    d->last_t = iter_t(a);
    d->last = d->a;
    d->pen_a = 0;
    return d->aval;
  }
  int64_t ta = iter_t(a), tb = iter_t(b);
  d->use_a = ta <= tb;
  int64_t t = d->use_a ? ta : tb;
  int64_t pen = INITIAL_PENALTY_MS;
  if (d->last_t != INT64_MIN) {
    int64_t delta;
    if (__builtin_sub_overflow(t, d->last_t, &delta) ||
        __builtin_mul_overflow(delta, (int64_t)2, &pen))
      pen = INT64_MAX;
  }
  if (d->use_a) {
    d->pen_b = pen;
    d->pen_a = 0;
    d->last = d->a;
  } else {
    d->pen_a = pen;
    d->pen_b = 0;
    d->last = d->b;
  }
  d->last_t = t;
  return d->use_a ? d->aval : d->bval;
}

static void pen_adjust(struct qnode *n, double last) {
  struct pen_node *d = (struct pen_node *)n;
  if (d->aval == PROMQL_SAMPLE_FLOAT)
    d->a->adjust(d->a, last);
  if (d->bval == PROMQL_SAMPLE_FLOAT)
    d->b->adjust(d->b, last);
}

static enum promql_sample_type pen_next(struct promql_iter *it) {
  struct pen_node *d = (struct pen_node *)it;
  double last_v = 0;
  int had_float = (d->use_a ? d->aval : d->bval) == PROMQL_SAMPLE_FLOAT;
  if (had_float) {
    int64_t t;
    d->last->base.ops->at(&d->last->base, &t, &last_v);
  }
  int last_use_a = d->use_a;
  enum promql_sample_type r = pen_step(d);
  /* Switched replicas: let a counter replica catch up with the value
   * returned last, so the switch does not look like a reset. */
  if (d->use_a != last_use_a && had_float)
    pen_adjust(&d->q, last_v);
  return r;
}

static enum promql_sample_type pen_seek(struct promql_iter *it, int64_t t) {
  struct pen_node *d = (struct pen_node *)it;
  /* Not the inputs' seek: iterate with next so no gap is missed. One
   * deliberate difference from Thanos: when the side in use has no sample
   * at all (an empty first replica before any next()), Thanos reads a
   * stale timestamp from it; here next() picks the other side first. */
  for (;;) {
    enum promql_sample_type cur = d->use_a ? d->aval : d->bval;
    if (cur != PROMQL_SAMPLE_NONE) {
      struct promql_iter *side = d->use_a ? &d->a->base : &d->b->base;
      int64_t ts = iter_t(side);
      if (ts >= t)
        return side->ops->seek(side, ts);
    }
    if (pen_next(it) == PROMQL_SAMPLE_NONE)
      return PROMQL_SAMPLE_NONE;
  }
}

static void pen_at(struct promql_iter *it, int64_t *t, double *v) {
  struct pen_node *d = (struct pen_node *)it;
  d->last->base.ops->at(&d->last->base, t, v);
}

static int pen_err(struct promql_iter *it) {
  struct pen_node *d = (struct pen_node *)it;
  int rc = d->a->base.ops->err(&d->a->base);
  return rc ? rc : d->b->base.ops->err(&d->b->base);
}

static void pen_destroy(struct qnode *n) {
  struct pen_node *d = (struct pen_node *)n;
  d->a->destroy(d->a);
  d->b->destroy(d->b);
  free(d);
}

static const struct promql_iter_ops pen_ops = {
    .next = pen_next, .seek = pen_seek, .at = pen_at, .err = pen_err};

static struct qnode *pen_new(struct qnode *a, struct qnode *b) {
  struct pen_node *d = xcalloc(1, sizeof(*d));
  d->q.base.ops = &pen_ops;
  d->q.adjust = pen_adjust;
  d->q.destroy = pen_destroy;
  d->a = a;
  d->b = b;
  d->last_t = INT64_MIN;
  d->last = a;
  d->use_a = 1;
  d->aval = a->base.ops->next(&a->base);
  d->bval = b->base.ops->next(&b->base);
  return &d->q;
}

/* ---- chain ---- */

struct chain_node {
  struct qnode q;
  struct promql_iter **its; /* borrowed iterators, owned array */
  enum promql_sample_type *vals;
  int64_t *ts;
  size_t n;
  size_t cur;
  int64_t last_t;
  int started;
};

static void chain_load(struct chain_node *c, size_t i) {
  if (c->vals[i] != PROMQL_SAMPLE_NONE)
    c->ts[i] = iter_t(c->its[i]);
}

/* Picks the input with the smallest timestamp (lowest index on ties). */
static enum promql_sample_type chain_pick(struct chain_node *c) {
  size_t best = c->n;
  for (size_t i = 0; i < c->n; i++) {
    if (c->vals[i] == PROMQL_SAMPLE_NONE)
      continue;
    if (best == c->n || c->ts[i] < c->ts[best])
      best = i;
  }
  c->cur = best;
  if (best == c->n)
    return PROMQL_SAMPLE_NONE;
  c->last_t = c->ts[best];
  return c->vals[best];
}

static enum promql_sample_type chain_next(struct promql_iter *it) {
  struct chain_node *c = (struct chain_node *)it;
  for (size_t i = 0; i < c->n; i++) {
    if (!c->started) {
      c->vals[i] = c->its[i]->ops->next(c->its[i]);
    } else if (c->vals[i] != PROMQL_SAMPLE_NONE && c->ts[i] <= c->last_t) {
      /* the sample returned last and its duplicates */
      c->vals[i] = c->its[i]->ops->next(c->its[i]);
    }
    chain_load(c, i);
  }
  c->started = 1;
  return chain_pick(c);
}

static enum promql_sample_type chain_seek(struct promql_iter *it, int64_t t) {
  struct chain_node *c = (struct chain_node *)it;
  if (c->started && c->cur < c->n && c->last_t >= t)
    return c->vals[c->cur];
  for (size_t i = 0; i < c->n; i++) {
    if (!c->started || c->vals[i] != PROMQL_SAMPLE_NONE)
      c->vals[i] = c->its[i]->ops->seek(c->its[i], t);
    chain_load(c, i);
  }
  c->started = 1;
  return chain_pick(c);
}

static void chain_at(struct promql_iter *it, int64_t *t, double *v) {
  struct chain_node *c = (struct chain_node *)it;
  if (c->cur >= c->n) {
    *t = c->started ? c->last_t : INT64_MIN;
    *v = 0;
    return;
  }
  c->its[c->cur]->ops->at(c->its[c->cur], t, v);
}

static int chain_err(struct promql_iter *it) {
  struct chain_node *c = (struct chain_node *)it;
  for (size_t i = 0; i < c->n; i++) {
    int rc = c->its[i]->ops->err(c->its[i]);
    if (rc)
      return rc;
  }
  return 0;
}

static void chain_destroy(struct qnode *n) {
  struct chain_node *c = (struct chain_node *)n;
  free(c->its);
  free(c->vals);
  free(c->ts);
  free(c);
}

static void chain_adjust(struct qnode *n, double last) {
  (void)n;
  (void)last;
}

static const struct promql_iter_ops chain_ops = {
    .next = chain_next, .seek = chain_seek, .at = chain_at, .err = chain_err};

static struct qnode *chain_new(struct promql_iter *const *its, size_t n) {
  struct chain_node *c = xcalloc(1, sizeof(*c));
  c->q.base.ops = &chain_ops;
  c->q.adjust = chain_adjust;
  c->q.destroy = chain_destroy;
  c->its = xcalloc(n, sizeof(*c->its));
  memcpy(c->its, its, n * sizeof(*its));
  c->vals = xcalloc(n, sizeof(*c->vals));
  c->ts = xcalloc(n, sizeof(*c->ts));
  c->n = n;
  c->cur = n;
  c->last_t = INT64_MIN;
  return &c->q;
}

/* ---- public ---- */

struct promql_iter *qdedup_iter_new(enum qdedup_algo algo,
                                    struct promql_iter *const *replicas,
                                    size_t n, int is_counter) {
  if (n == 0)
    TC_BUG("qdedup_iter_new: no replicas");
  if (algo == QDEDUP_CHAIN)
    return &chain_new(replicas, n)->base;
  struct qnode *it = adj_new(replicas[0], is_counter);
  for (size_t i = 1; i < n; i++)
    it = pen_new(it, adj_new(replicas[i], is_counter));
  return &it->base;
}

void qdedup_iter_free(struct promql_iter *it) {
  if (!it)
    return;
  struct qnode *n = (struct qnode *)it;
  n->destroy(n);
}
