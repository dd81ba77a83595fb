/*
 * memstore.c - an in-memory queryable: series kept as sorted label sets
 * with time-ordered sample arrays. It feeds the .test conformance runner,
 * unit tests and the benchmark through the same promql_queryable interface
 * the querier implements over StoreAPI.
 */
#include <stdlib.h>
#include <string.h>

#include "promql/internal.h"
#include "thanosc/common.h"

struct mem_series {
  struct labels labels;
  int64_t *t;
  double *v;
  uint8_t *hist; /* NULL until a histogram sample arrives */
  size_t n, cap;
};

struct promql_memstore {
  struct promql_queryable q;
  struct mem_series *s;
  size_t n, cap;
  struct promql__map idx; /* label key -> series index */
  size_t samples;
};

struct mem_iter {
  struct promql_iter it;
  const struct mem_series *s;
  size_t i; /* index of current sample + 1; 0 before the first */
  size_t end;
};

struct mem_set {
  struct promql_series_set ss;
  struct promql_memstore *ms;
  size_t *match;
  size_t n, pos;
  int64_t mint, maxt;
  struct mem_iter it;
};

static enum promql_sample_type mem_type(const struct mem_iter *m) {
  if (m->i == 0 || m->i > m->end)
    return PROMQL_SAMPLE_NONE;
  return m->s->hist && m->s->hist[m->i - 1] ? PROMQL_SAMPLE_HISTOGRAM
                                            : PROMQL_SAMPLE_FLOAT;
}

static enum promql_sample_type mem_next(struct promql_iter *it) {
  struct mem_iter *m = (struct mem_iter *)it;
  if (m->i <= m->end)
    m->i++;
  return mem_type(m);
}

static enum promql_sample_type mem_seek(struct promql_iter *it, int64_t ts) {
  struct mem_iter *m = (struct mem_iter *)it;
  size_t lo, hi;
  if (m->i == 0)
    m->i = 1;
  if (m->i > m->end || m->s->t[m->i - 1] >= ts)
    return mem_type(m);
  lo = m->i - 1;
  hi = m->end;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (m->s->t[mid] < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  m->i = lo + 1;
  return mem_type(m);
}

static void mem_at(struct promql_iter *it, int64_t *t, double *v) {
  struct mem_iter *m = (struct mem_iter *)it;
  *t = m->s->t[m->i - 1];
  *v = m->s->v[m->i - 1];
}

static int mem_err(struct promql_iter *it) {
  (void)it;
  return 0;
}

static const struct promql_iter_ops mem_iter_ops = {mem_next, mem_seek,
                                                    mem_at, mem_err};

static int set_next(struct promql_series_set *ss,
                    const struct labels **labels,
                    struct promql_iter **it) {
  struct mem_set *s = (struct mem_set *)ss;
  const struct mem_series *ser;
  if (s->pos >= s->n)
    return 0;
  ser = &s->ms->s[s->match[s->pos++]];
  s->it.it.ops = &mem_iter_ops;
  s->it.s = ser;
  s->it.i = 0;
  s->it.end = ser->n;
  *labels = &ser->labels;
  *it = &s->it.it;
  return 1;
}

static void set_free(struct promql_series_set *ss) {
  struct mem_set *s = (struct mem_set *)ss;
  free(s->match);
  free(s);
}

static const struct promql_series_set_ops set_ops = {set_next, set_free};

static int idx_cmp(const void *a, const void *b, void *arg) {
  struct promql_memstore *ms = arg;
  return labels_compare(&ms->s[*(const size_t *)a].labels,
                           &ms->s[*(const size_t *)b].labels);
}

static int mem_select(struct promql_queryable *q,
                      const struct promql_select_hints *hints,
                      const struct matcher *m, size_t nm,
                      struct promql_series_set **out) {
  struct promql_memstore *ms = tc_container_of(q, struct promql_memstore, q);
  struct mem_set *s = xcalloc(1, sizeof(*s));
  size_t cap = 0;
  (void)hints;
  s->ss.ops = &set_ops;
  s->ms = ms;
  for (size_t i = 0; i < ms->n; i++) {
    if (!promql_matchers_match(m, nm, &ms->s[i].labels))
      continue;
    TC_GROW(s->match, cap, s->n + 1);
    s->match[s->n++] = i;
  }
  if (s->n > 1)
    qsort_r(s->match, s->n, sizeof(size_t), idx_cmp, ms);
  *out = &s->ss;
  return 0;
}

static const struct promql_queryable_ops mem_ops = {mem_select};

struct promql_memstore *promql_memstore_new(void) {
  struct promql_memstore *ms = xcalloc(1, sizeof(*ms));
  ms->q.ops = &mem_ops;
  promql__map_init(&ms->idx);
  return ms;
}

void promql_memstore_free(struct promql_memstore *ms) {
  if (!ms)
    return;
  for (size_t i = 0; i < ms->n; i++) {
    labels_release(&ms->s[i].labels);
    free(ms->s[i].t);
    free(ms->s[i].v);
    free(ms->s[i].hist);
  }
  free(ms->s);
  promql__map_release(&ms->idx);
  free(ms);
}

void promql_memstore_add(struct promql_memstore *ms,
                         const struct labels *labels, int64_t t,
                         double v, bool is_histogram) {
  struct tc_buf key;
  bool found;
  size_t *slot;
  struct mem_series *s;
  tc_buf_init(&key, 0);
  promql__labels_key(&key, labels, NULL, 0, false, false);
  slot = promql__map_put(&ms->idx, key.data ? key.data : "", key.len, ms->n,
                         &found);
  tc_buf_release(&key);
  if (!found) {
    TC_GROW(ms->s, ms->cap, ms->n + 1);
    memset(&ms->s[ms->n], 0, sizeof(ms->s[0]));
    labels_copy(&ms->s[ms->n].labels, labels);
    ms->n++;
  }
  s = &ms->s[*slot];
  /* keep time order: a later load may overwrite or insert */
  size_t pos = s->n;
  while (pos > 0 && s->t[pos - 1] > t)
    pos--;
  if (pos > 0 && s->t[pos - 1] == t) {
    s->v[pos - 1] = v;
    if (s->hist)
      s->hist[pos - 1] = is_histogram;
    else if (is_histogram) {
      s->hist = xcalloc(s->cap ? s->cap : 1, 1);
      s->hist[pos - 1] = 1;
    }
    return;
  }
  if (s->n == s->cap) {
    size_t oc = s->cap;
    s->cap = s->cap ? s->cap * 2 : 16;
    s->t = xrealloc(s->t, s->cap * sizeof(*s->t));
    s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    if (s->hist) {
      s->hist = xrealloc(s->hist, s->cap);
      memset(s->hist + oc, 0, s->cap - oc);
    }
  }
  if (is_histogram && !s->hist)
    s->hist = xcalloc(s->cap, 1);
  memmove(s->t + pos + 1, s->t + pos, (s->n - pos) * sizeof(*s->t));
  memmove(s->v + pos + 1, s->v + pos, (s->n - pos) * sizeof(*s->v));
  if (s->hist)
    memmove(s->hist + pos + 1, s->hist + pos, s->n - pos);
  s->t[pos] = t;
  s->v[pos] = v;
  if (s->hist)
    s->hist[pos] = is_histogram;
  s->n++;
  ms->samples++;
}

size_t promql_memstore_samples(const struct promql_memstore *ms) {
  return ms->samples;
}

struct promql_queryable *promql_memstore_queryable(struct promql_memstore *ms) {
  return &ms->q;
}
