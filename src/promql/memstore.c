/*
 * memstore.c - an in-memory queryable: series kept as sorted label sets
 * with time-ordered sample arrays. It feeds the .test conformance runner,
 * unit tests and the benchmark through the same promql_queryable interface
 * the querier implements over StoreAPI.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

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
  size_t last;            /* series of the previous add (bulk loads) */
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
  if (ms->last < ms->n && labels_equal(&ms->s[ms->last].labels, labels)) {
    s = &ms->s[ms->last];
  } else {
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
    ms->last = *slot;
    s = &ms->s[*slot];
  }
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

/* Parses `{a="b",c="d"}` (OpenMetrics label syntax) into l; returns the
 * position after '}' or NULL. */
static const char *parse_text_labels(const char *p, struct labels *l) {
  struct tc_buf name, val;
  tc_buf_init(&name, 0);
  tc_buf_init(&val, 0);
  p++; /* { */
  for (;;) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == '}') {
      p++;
      break;
    }
    tc_buf_reset(&name);
    tc_buf_reset(&val);
    tc_buf_adds(&name, "");
    tc_buf_adds(&val, "");
    if (*p == '"') {
      p++;
      while (*p && *p != '"')
        tc_buf_addc(&name, *p++);
      if (*p)
        p++;
    } else {
      while (*p && *p != '=' && *p != ' ')
        tc_buf_addc(&name, *p++);
    }
    if (*p != '=' || p[1] != '"') {
      p = NULL;
      break;
    }
    p += 2;
    while (*p && *p != '"') {
      if (*p == '\\' && p[1]) {
        p++;
        tc_buf_addc(&val, *p == 'n' ? '\n' : *p);
        p++;
        continue;
      }
      tc_buf_addc(&val, *p++);
    }
    if (*p != '"') {
      p = NULL;
      break;
    }
    p++;
    promql_labels_set(l, name.data, val.data);
  }
  tc_buf_release(&name);
  tc_buf_release(&val);
  return p;
}

int promql_memstore_load_text(struct promql_memstore *ms, const char *path,
                              int64_t default_ms) {
  FILE *f = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  int n = 0, rc = 0;
  if (!f)
    return tc_error(-errno, "open '%s': %s", path, strerror(errno));
  while (getline(&line, &cap, f) >= 0) {
    struct labels l = LABELS_INIT;
    const char *p = line, *st;
    char *end;
    double v, ts;
    int64_t t = default_ms;
    lineno++;
    while (*p == ' ')
      p++;
    if (*p == '#' || *p == '\n' || !*p)
      continue;
    st = p;
    while (*p && *p != '{' && *p != ' ')
      p++;
    if (p > st) {
      char *name = xstrndup(st, (size_t)(p - st));
      promql_labels_set(&l, "__name__", name);
      free(name);
    }
    if (*p == '{' && !(p = parse_text_labels(p, &l)))
      goto bad;
    while (*p == ' ')
      p++;
    st = p;
    while (*p && *p != ' ' && *p != '\n')
      p++;
    if (promql_parse_number(st, (size_t)(p - st), &v) < 0)
      goto bad;
    while (*p == ' ')
      p++;
    if (*p && *p != '\n' && *p != '#') {
      ts = strtod(p, &end);
      if (end == p)
        goto bad;
      t = (int64_t)llround(ts * 1000.0);
    }
    promql_memstore_add(ms, &l, t, v, false);
    labels_release(&l);
    n++;
    continue;
  bad:
    labels_release(&l);
    rc = tc_error(TC_EPARSE, "'%s' line %zu: bad sample", path, lineno);
    break;
  }
  free(line);
  fclose(f);
  return rc < 0 ? rc : n;
}
