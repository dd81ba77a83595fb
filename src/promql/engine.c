/*
 * engine.c - the PromQL evaluator. Every node is evaluated once over all
 * steps of the query (a range query is start..end by step, an instant
 * query is one step): an instant vector is a set of series, each with a
 * dense value array and a presence bitmap over the steps. Selectors read
 * each series once from the queryable and walk it with moving pointers
 * (lookback for instant selectors, left-open windows for range selectors
 * and subqueries), so no sample is re-read per step. Binary operators,
 * aggregations and functions then work step by step on those arrays.
 * Nothing here is global: a query's whole state lives in struct ev.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <xxhash.h>

#include "promql/funcs.h"
#include "promql/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

#define DEFAULT_SUBQUERY_STEP_MS 60000

#define MONOTONICITY_INFO                                                    \
  "PromQL info: input to histogram_quantile needed to be fixed for "         \
  "monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/" \
  "functions/#histogram_quantile) for metric name \"%s\""

struct vser {
  struct labels lbls;
  double *v;
  uint8_t *ok;
};

struct mser {
  struct labels lbls;
  int64_t *t;
  double *v;
  size_t n;
};

struct val {
  enum promql_type type;
  double *sc; /* SCALAR: one value per step */
  char *str;  /* STRING */
  struct vser *s; /* VECTOR */
  size_t n, cap;
  struct mser *m; /* MATRIX: all samples, windows per step below */
  size_t nm;
  int64_t range, offset, at_ms;
  enum promql_at at;
  const struct promql_expr *sel; /* the vector selector of a MATRIX_SEL */
  /* samples this value holds in the query's --query.max-samples account
   * (given back when it is released) */
  int64_t counted;
  int64_t *acct;
};

struct ev {
  const struct promql_engine_opts *o;
  struct promql_queryable *q;
  int64_t start, end, interval;
  size_t nsteps;
  int64_t lookback;
  int64_t qstart, qend; /* for @ start() / end() */
  volatile int *cancel;
  int64_t deadline_ns; /* 0: none */
  int64_t *nsamples;
  char **err;
  int *rc;
  struct promql_result *res; /* for warnings */
  const char *query;         /* for annotation positions */
};

/* Go's %g of a float (strconv 'g', -1): "NaN", "+Inf", "1.01". */
static const char *gfmt(double v, char buf[40]) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  tc_format_float(&b, v);
  snprintf(buf, 40, "%s", b.data ? b.data : "");
  tc_buf_release(&b);
  return buf;
}

static int ev_fail(struct ev *ev, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ev_fail(struct ev *ev, int code, const char *fmt, ...) {
  va_list ap;
  char *m;
  if (*ev->rc)
    return *ev->rc;
  va_start(ap, fmt);
  if (vasprintf(&m, fmt, ap) < 0)
    m = xstrdup("error");
  va_end(ap);
  *ev->err = m;
  *ev->rc = code;
  return code;
}

/* Records an annotation ("PromQL warning: ..." or "PromQL info: ...")
 * ending with the position of the expression it is about, as Prometheus
 * does: " (line:col)". pos < 0 leaves the position out. */
static void ev_warn(struct ev *ev, int pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ev_warn(struct ev *ev, int pos, const char *fmt, ...) {
  va_list ap;
  char *m, *t;
  struct promql_result *r = ev->res;
  va_start(ap, fmt);
  if (vasprintf(&m, fmt, ap) < 0)
    m = NULL;
  va_end(ap);
  if (!m)
    return;
  if (pos >= 0 && ev->query) {
    int line = 1, last_nl = -1;
    for (int i = 0; i < pos && ev->query[i]; i++)
      if (ev->query[i] == '\n') {
        line++;
        last_nl = i;
      }
    t = xasprintf("%s (%d:%d)", m, line, pos - last_nl);
    free(m);
    m = t;
  }
  for (size_t i = 0; i < r->nwarnings; i++)
    if (strcmp(r->warnings[i], m) == 0) {
      free(m);
      return;
    }
  r->warnings = xrealloc(r->warnings, (r->nwarnings + 1) * sizeof(char *));
  r->warnings[r->nwarnings++] = m;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Cancellation and deadline, checked between series and steps. */
static int ev_check(struct ev *ev) {
  if (*ev->rc)
    return *ev->rc;
  if (ev->cancel && *ev->cancel)
    return ev_fail(ev, TC_ECANCELED, "query was canceled");
  if (ev->deadline_ns && now_ns() > ev->deadline_ns)
    return ev_fail(ev, TC_ETIMEOUT, "query timed out in query execution");
  return 0;
}

static int ev_count(struct ev *ev, int64_t n) {
  *ev->nsamples += n;
  if (ev->o->max_samples > 0 && *ev->nsamples > ev->o->max_samples)
    return ev_fail(ev, TC_ELIMIT, "query processing would load too many "
                                  "samples into memory in query execution");
  return 0;
}

static inline int64_t ev_ts(const struct ev *ev, size_t i) {
  return ev->start + (int64_t)i * ev->interval;
}

/* ---- values ------------------------------------------------------------- */

static void vser_release(struct vser *s) {
  labels_release(&s->lbls);
  free(s->v);
  free(s->ok);
}

static void mser_release(struct mser *s) {
  labels_release(&s->lbls);
  free(s->t);
  free(s->v);
}

static void val_release(struct val *v) {
  if (v->acct)
    *v->acct -= v->counted;
  free(v->sc);
  free(v->str);
  for (size_t i = 0; i < v->n; i++)
    vser_release(&v->s[i]);
  free(v->s);
  for (size_t i = 0; i < v->nm; i++)
    mser_release(&v->m[i]);
  free(v->m);
  memset(v, 0, sizeof(*v));
}

/* Appends a series with moved labels (lbls is consumed). */
static struct vser *val_add(struct ev *ev, struct val *v,
                            struct labels *lbls) {
  struct vser *s;
  TC_GROW(v->s, v->cap, v->n + 1);
  s = &v->s[v->n++];
  s->lbls = *lbls;
  memset(lbls, 0, sizeof(*lbls));
  s->v = xmalloc(ev->nsteps * sizeof(double));
  s->ok = xcalloc(ev->nsteps, 1);
  return s;
}

static void val_scalar(struct ev *ev, struct val *v) {
  memset(v, 0, sizeof(*v));
  v->type = PROMQL_TYPE_SCALAR;
  v->sc = xmalloc(ev->nsteps * sizeof(double));
}

/* Output collector: series keyed by label set; a second value for the
 * same series at the same step is the "same labelset" error. */
struct coll {
  struct val *out;
  struct promql__map map;
  struct tc_buf key;
};

static void coll_init(struct coll *c, struct val *out) {
  memset(out, 0, sizeof(*out));
  out->type = PROMQL_TYPE_VECTOR;
  c->out = out;
  promql__map_init(&c->map);
  tc_buf_init(&c->key, 0);
}

static void coll_release(struct coll *c) {
  promql__map_release(&c->map);
  tc_buf_release(&c->key);
}

/* Index of the output series for lbls (consumed). */
static size_t coll_series(struct ev *ev, struct coll *c,
                          struct labels *lbls) {
  bool found;
  size_t *slot;
  tc_buf_reset(&c->key);
  tc_buf_addc(&c->key, 0);
  promql__labels_key(&c->key, lbls, NULL, 0, false, false);
  slot = promql__map_put(&c->map, c->key.data, c->key.len, c->out->n, &found);
  if (found) {
    labels_release(lbls);
    return *slot;
  }
  val_add(ev, c->out, lbls);
  return *slot;
}

static int coll_set(struct ev *ev, struct coll *c, size_t idx, size_t step,
                    double v, const char *dupmsg) {
  struct vser *s = &c->out->s[idx];
  if (s->ok[step])
    return ev_fail(ev, TC_EEXEC, "%s",
                   dupmsg ? dupmsg
                          : "vector cannot contain metrics with the same "
                            "labelset");
  s->ok[step] = 1;
  s->v[step] = v;
  return 0;
}

/* Drops series without any point. */
static void val_compact_n(struct val *v, size_t nsteps) {
  size_t k = 0;
  for (size_t i = 0; i < v->n; i++) {
    bool any = false;
    for (size_t j = 0; j < nsteps && !any; j++)
      any = v->s[i].ok[j];
    if (any)
      v->s[k++] = v->s[i];
    else
      vser_release(&v->s[i]);
  }
  v->n = k;
}

/* ---- selection ---------------------------------------------------------- */

static int64_t ref_time(const struct ev *ev, enum promql_at at, int64_t at_ms,
                        int64_t offset, size_t i) {
  int64_t t;
  switch (at) {
  case PROMQL_AT_TIME: t = at_ms; break;
  case PROMQL_AT_START: t = ev->qstart; break;
  case PROMQL_AT_END: t = ev->qend; break;
  default: t = ev_ts(ev, i); break;
  }
  return t - offset;
}

static const struct promql_expr *unparen(const struct promql_expr *e) {
  while (e->kind == PROMQL_PAREN || e->kind == PROMQL_STEP_INVARIANT)
    e = e->expr;
  return e;
}

/* Loads all samples of matching series in [mint, maxt]. */
static int load(struct ev *ev, const struct promql_expr *sel, int64_t mint,
                int64_t maxt, int64_t range, const char *func, bool keep_stale,
                struct mser **out, size_t *nout) {
  struct promql_select_hints h = {mint, maxt, ev->nsteps > 1 ? ev->interval : 0,
                                  range, func};
  struct promql_series_set *ss = NULL;
  const struct labels *lbls;
  struct promql_iter *it;
  size_t cap = 0;
  int rc;
  *out = NULL;
  *nout = 0;
  rc = ev->q->ops->select(ev->q, &h, sel->matchers, sel->nmatchers, &ss);
  if (rc < 0)
    return ev_fail(ev, rc, "%s", tc_errmsg(rc));
  while ((rc = ss->ops->next(ss, &lbls, &it)) > 0) {
    struct mser m = {0};
    size_t mcap = 0;
    enum promql_sample_type ty;
    if ((rc = ev_check(ev)) < 0)
      break;
    for (ty = it->ops->seek(it, mint); ty != PROMQL_SAMPLE_NONE;
         ty = it->ops->next(it)) {
      int64_t t;
      double v;
      it->ops->at(it, &t, &v);
      if (t > maxt)
        break;
      if (ty == PROMQL_SAMPLE_HISTOGRAM) {
        mser_release(&m);
        rc = ev_fail(ev, TC_ENOTSUP,
                     "native histograms are not supported yet");
        goto out;
      }
      if (!keep_stale && promql__is_stale(v))
        continue;
      if (m.n == mcap) {
        mcap = mcap ? mcap * 2 : 16;
        m.t = xrealloc(m.t, mcap * sizeof(int64_t));
        m.v = xrealloc(m.v, mcap * sizeof(double));
      }
      m.t[m.n] = t;
      m.v[m.n++] = v;
    }
    if ((rc = it->ops->err(it)) < 0) {
      mser_release(&m);
      rc = ev_fail(ev, rc, "%s", tc_errmsg(rc));
      goto out;
    }
    if ((rc = ev_count(ev, (int64_t)m.n)) < 0) {
      mser_release(&m);
      goto out;
    }
    if (!m.n) {
      mser_release(&m);
      continue;
    }
    labels_copy(&m.lbls, lbls);
    TC_GROW(*out, cap, *nout + 1);
    (*out)[(*nout)++] = m;
  }
  if (rc < 0)
    rc = ev_fail(ev, rc, "%s", tc_errmsg(rc));
out:
  ss->ops->free(ss);
  if (rc < 0) {
    for (size_t i = 0; i < *nout; i++)
      mser_release(&(*out)[i]);
    free(*out);
    *out = NULL;
    *nout = 0;
  }
  return rc < 0 ? rc : 0;
}

/* Instant vector selector. want_ts: values are the samples' timestamps. */
static int eval_vsel(struct ev *ev, const struct promql_expr *e, bool want_ts,
                     struct val *out) {
  int64_t rmin = INT64_MAX, rmax = INT64_MIN;
  struct mser *ms;
  size_t nms;
  int rc;
  memset(out, 0, sizeof(*out));
  out->type = PROMQL_TYPE_VECTOR;
  for (size_t i = 0; i < ev->nsteps; i++) {
    int64_t r = ref_time(ev, e->at, e->at_ms, e->offset_ms, i);
    rmin = TC_MIN(rmin, r);
    rmax = TC_MAX(rmax, r);
  }
  rc = load(ev, e, rmin - ev->lookback + 1, rmax, 0, NULL, true, &ms, &nms);
  if (rc < 0)
    return rc;
  for (size_t k = 0; k < nms; k++) {
    struct mser *m = &ms[k];
    struct vser *s = NULL;
    *ev->nsamples -= (int64_t)m->n; /* raw samples are dropped below */
    size_t j = 0; /* samples with t <= ref */
    for (size_t i = 0; i < ev->nsteps; i++) {
      int64_t ref = ref_time(ev, e->at, e->at_ms, e->offset_ms, i);
      if (j > 0 && m->t[j - 1] > ref)
        j = 0; /* refs only grow, but be safe */
      while (j < m->n && m->t[j] <= ref)
        j++;
      if (j == 0 || m->t[j - 1] <= ref - ev->lookback ||
          promql__is_stale(m->v[j - 1]))
        continue;
      if (!s) {
        s = val_add(ev, out, &m->lbls);
      }
      s->ok[i] = 1;
      s->v[i] = want_ts ? (double)m->t[j - 1] / 1000.0 : m->v[j - 1];
    }
    mser_release(m);
  }
  free(ms);
  out->counted = (int64_t)(out->n * ev->nsteps);
  out->acct = ev->nsamples;
  return ev_count(ev, out->counted);
}

static int eval(struct ev *ev, const struct promql_expr *e, struct val *out);

/* Subquery: evaluates the inner expression on its own step grid and keeps
 * the points as a range vector. */
static int eval_subquery(struct ev *ev, const struct promql_expr *e,
                         struct val *out) {
  struct ev in = *ev;
  struct val iv;
  int64_t step = e->step_ms ? e->step_ms : DEFAULT_SUBQUERY_STEP_MS;
  int64_t rmin = INT64_MAX, rmax = INT64_MIN, lo;
  int rc;
  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < ev->nsteps; i++) {
    int64_t r = ref_time(ev, e->at, e->at_ms, e->offset_ms, i);
    rmin = TC_MIN(rmin, r);
    rmax = TC_MAX(rmax, r);
  }
  lo = rmin - e->range_ms;
  in.interval = step;
  in.start = step * (lo / step); /* Go division truncates toward zero */
  if (in.start <= lo)
    in.start += step;
  in.end = rmax;
  if (in.end < in.start) {
    out->type = PROMQL_TYPE_MATRIX;
    goto done;
  }
  in.nsteps = (size_t)((in.end - in.start) / step) + 1;
  if ((rc = eval(&in, e->expr, &iv)) < 0)
    return rc;
  out->type = PROMQL_TYPE_MATRIX;
  if (iv.type == PROMQL_TYPE_VECTOR) {
    out->m = xcalloc(iv.n ? iv.n : 1, sizeof(struct mser));
    for (size_t k = 0; k < iv.n; k++) {
      struct mser *m = &out->m[out->nm];
      size_t cnt = 0;
      for (size_t i = 0; i < in.nsteps; i++)
        cnt += iv.s[k].ok[i];
      if (!cnt)
        continue;
      m->t = xmalloc(cnt * sizeof(int64_t));
      m->v = xmalloc(cnt * sizeof(double));
      for (size_t i = 0; i < in.nsteps; i++)
        if (iv.s[k].ok[i]) {
          m->t[m->n] = ev_ts(&in, i);
          m->v[m->n++] = iv.s[k].v[i];
        }
      m->lbls = iv.s[k].lbls;
      memset(&iv.s[k].lbls, 0, sizeof(iv.s[k].lbls));
      out->nm++;
    }
  }
  val_release(&iv);
done:
  out->range = e->range_ms;
  out->offset = e->offset_ms;
  out->at = e->at;
  out->at_ms = e->at_ms;
  return 0;
}

/* A range-vector argument: matrix selector or subquery. */
static int eval_matrix(struct ev *ev, const struct promql_expr *e,
                       const char *func, struct val *out) {
  const struct promql_expr *vs;
  int rc;
  int64_t rmin = INT64_MAX, rmax = INT64_MIN;
  e = unparen(e);
  if (e->kind == PROMQL_SUBQUERY)
    return eval_subquery(ev, e, out);
  if (e->kind != PROMQL_MATRIX_SEL)
    return ev_fail(ev, TC_EEXEC, "unexpected range vector expression");
  vs = e->expr;
  memset(out, 0, sizeof(*out));
  out->type = PROMQL_TYPE_MATRIX;
  out->range = e->range_ms;
  out->offset = vs->offset_ms;
  out->at = vs->at;
  out->at_ms = vs->at_ms;
  out->sel = vs;
  for (size_t i = 0; i < ev->nsteps; i++) {
    int64_t r = ref_time(ev, vs->at, vs->at_ms, vs->offset_ms, i);
    rmin = TC_MIN(rmin, r);
    rmax = TC_MAX(rmax, r);
  }
  rc = load(ev, vs, rmin - e->range_ms + 1, rmax, e->range_ms, func, false,
            &out->m, &out->nm);
  if (rc == 0) {
    for (size_t k = 0; k < out->nm; k++)
      out->counted += (int64_t)out->m[k].n;
    out->acct = ev->nsamples;
  }
  return rc;
}

/* ---- functions ---------------------------------------------------------- */

static bool fn_keeps_name(int fn) {
  switch (fn) {
  case FN_LAST_OVER_TIME:
  case FN_FIRST_OVER_TIME:
  case FN_LABEL_REPLACE:
  case FN_LABEL_JOIN:
  case FN_SORT:
  case FN_SORT_DESC:
  case FN_SORT_BY_LABEL:
  case FN_SORT_BY_LABEL_DESC:
    return true;
  default:
    return false;
  }
}

/* Labels of absent()'s result: the selector's equality matchers. */
static void absent_labels(const struct promql_expr *sel,
                          struct labels *l) {
  for (size_t i = 0; sel && i < sel->nmatchers; i++) {
    const struct matcher *m = &sel->matchers[i];
    size_t same = 0;
    if (strcmp(m->name, "__name__") == 0 || m->type != MATCH_EQ)
      continue;
    for (size_t j = 0; j < sel->nmatchers; j++)
      same += strcmp(sel->matchers[j].name, m->name) == 0;
    if (same == 1)
      promql_labels_set(l, m->name, m->value);
  }
}

static int eval_range_fn(struct ev *ev, const struct promql_expr *e,
                         const struct promql_expr *marg, double **sargs,
                         size_t nsargs, struct val *out) {
  int fn = e->func->id;
  struct val mv;
  struct coll c;
  int rc;
  double args[4];
  char gb[40];
  if ((rc = eval_matrix(ev, marg, e->func->name, &mv)) < 0)
    return rc;
  coll_init(&c, out);
  if (fn == FN_ABSENT_OVER_TIME) {
    struct vser *s;
    struct labels l = {0};
    absent_labels(mv.sel, &l);
    s = val_add(ev, out, &l);
    for (size_t i = 0; i < ev->nsteps; i++) {
      int64_t ref = ref_time(ev, mv.at, mv.at_ms, mv.offset, i);
      bool any = false;
      for (size_t k = 0; k < mv.nm && !any; k++) {
        struct mser *m = &mv.m[k];
        for (size_t j = 0; j < m->n && !any; j++)
          any = m->t[j] > ref - mv.range && m->t[j] <= ref;
      }
      if (!any) {
        s->ok[i] = 1;
        s->v[i] = 1;
      }
    }
    goto done;
  }
  bool want_resets = fn == FN_RATE || fn == FN_INCREASE || fn == FN_RESETS;
  uint32_t *pre = NULL; /* prefix counts of resets or changes */
  size_t precap = 0;
  for (size_t k = 0; k < mv.nm && !*ev->rc; k++) {
    struct mser *m = &mv.m[k];
    size_t lo = 0, hi = 0, idx = SIZE_MAX;
    struct labels l;
    if ((rc = ev_check(ev)) < 0)
      break;
    if (want_resets || fn == FN_CHANGES) {
      /* pre[j]: resets (or changes) between samples 0..j, exact integers,
       * so a window's count is pre[hi-1] - pre[lo] in O(1) */
      TC_GROW(pre, precap, m->n);
      pre[0] = 0;
      for (size_t j = 1; j < m->n; j++)
        pre[j] = pre[j - 1] +
                 (want_resets ? m->v[j] < m->v[j - 1]
                              : (m->v[j] != m->v[j - 1] &&
                                 !(isnan(m->v[j]) && isnan(m->v[j - 1]))));
    }
    for (size_t i = 0; i < ev->nsteps; i++) {
      int64_t ref = ref_time(ev, mv.at, mv.at_ms, mv.offset, i);
      struct promql__window w;
      const char *err;
      double r;
      if (hi > 0 && m->t[hi - 1] > ref)
        lo = hi = 0;
      while (hi < m->n && m->t[hi] <= ref)
        hi++;
      while (lo < hi && m->t[lo] <= ref - mv.range)
        lo++;
      for (size_t a = 0; a < nsargs; a++)
        args[a] = sargs[a][i];
      if (fn == FN_QUANTILE_OVER_TIME && hi > lo &&
          (isnan(args[0]) || args[0] < 0 || args[0] > 1))
        ev_warn(ev, e->args[0]->pos_start,
                "PromQL warning: quantile value should be between 0 and 1, "
                "got %s", gfmt(args[0], gb));
      w.t = m->t + lo;
      w.v = m->v + lo;
      w.n = hi - lo;
      w.ref = ref;
      w.range = mv.range;
      w.eval_t = ev_ts(ev, i);
      w.args = args;
      w.nresets = w.nchanges = -1;
      if (pre && hi > lo) {
        int64_t cnt = (int64_t)pre[hi - 1] - (int64_t)pre[lo];
        if (want_resets)
          w.nresets = cnt;
        else
          w.nchanges = cnt;
      }
      if (!promql__range_fn(fn, &w, &r, &err)) {
        if (err) {
          rc = ev_fail(ev, TC_EEXEC, "%s, got: %g", err,
                       fn == FN_DOUBLE_EXP_SMOOTHING && strstr(err, "smoothing")
                           ? args[0]
                           : args[1]);
          break;
        }
        continue;
      }
      if (idx == SIZE_MAX && (fn == FN_RATE || fn == FN_INCREASE)) {
        const char *mn = labels_get(&m->lbls, "__name__");
        size_t ml = mn ? strlen(mn) : 0;
        if (mn && !(ml >= 6 && strcmp(mn + ml - 6, "_total") == 0) &&
            !(ml >= 4 && strcmp(mn + ml - 4, "_sum") == 0) &&
            !(ml >= 6 && strcmp(mn + ml - 6, "_count") == 0) &&
            !(ml >= 7 && strcmp(mn + ml - 7, "_bucket") == 0))
          ev_warn(ev, marg->pos_start,
                  "PromQL info: metric might not be a counter, name does not "
                  "end in _total/_sum/_count/_bucket: \"%s\"",
                  mn);
      }
      if (idx == SIZE_MAX) {
        labels_copy(&l, &m->lbls);
        if (!fn_keeps_name(fn))
          promql_labels_del(&l, "__name__");
        idx = coll_series(ev, &c, &l);
      }
      if ((rc = coll_set(ev, &c, idx, i, r, NULL)) < 0)
        break;
    }
  }
  free(pre);
done:
  rc = *ev->rc;
  coll_release(&c);
  val_release(&mv);
  return rc;
}

/* Prometheus 3 label names: any non-empty valid UTF-8. */
static bool utf8_label_name(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  if (!*p)
    return false;
  while (*p) {
    int n = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2
            : (*p >> 3) == 30 ? 3 : -1;
    if (n < 0)
      return false;
    p++;
    for (int i = 0; i < n; i++, p++)
      if ((*p & 0xC0) != 0x80)
        return false;
  }
  return true;
}

/* A string argument (a literal, maybe in parentheses). */
static const char *str_arg(const struct promql_expr *a) {
  a = unparen(a);
  return a->str ? a->str : "";
}

static int regex_compile(struct ev *ev, const char *re, pcre2_code **out) {
  int err;
  PCRE2_SIZE off;
  char *pat = xasprintf("^(?:%s)$", re);
  *out = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                       PCRE2_DOTALL | PCRE2_UTF, &err, &off, NULL);
  free(pat);
  if (!*out) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return ev_fail(ev, TC_EEXEC,
                   "invalid regular expression in label_replace(): %s", re);
  }
  return 0;
}

/* Go regexp.Expand of template with the match in md. */
static void expand(struct tc_buf *b, const char *tmpl, const char *subj,
                   pcre2_code *re, pcre2_match_data *md) {
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  uint32_t n = pcre2_get_ovector_count(md);
  for (const char *p = tmpl; *p;) {
    char name[128];
    size_t nl = 0;
    int grp = -1;
    if (*p != '$') {
      tc_buf_addc(b, *p++);
      continue;
    }
    p++;
    if (*p == '$') {
      tc_buf_addc(b, '$');
      p++;
      continue;
    }
    if (*p == '{') {
      const char *q = strchr(p, '}');
      if (!q) {
        tc_buf_addc(b, '$');
        continue;
      }
      nl = (size_t)(q - p - 1);
      if (nl == 0 || nl >= sizeof(name)) {
        tc_buf_addc(b, '$');
        continue;
      }
      memcpy(name, p + 1, nl);
      p = q + 1;
    } else {
      while ((p[nl] >= 'a' && p[nl] <= 'z') || (p[nl] >= 'A' && p[nl] <= 'Z') ||
             (p[nl] >= '0' && p[nl] <= '9') || p[nl] == '_') {
        if (nl + 1 < sizeof(name))
          name[nl] = p[nl];
        nl++;
      }
      if (nl == 0 || nl >= sizeof(name)) {
        tc_buf_addc(b, '$');
        continue;
      }
      p += nl;
    }
    name[nl] = 0;
    {
      char *end;
      long v = strtol(name, &end, 10);
      if (!*end && name[0] >= '0' && name[0] <= '9')
        grp = v > 100000 ? -1 : (int)v;
      else
        grp = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
    }
    if (grp >= 0 && (uint32_t)grp < n && ov[2 * grp] != PCRE2_UNSET)
      tc_buf_add(b, subj + ov[2 * grp], ov[2 * grp + 1] - ov[2 * grp]);
  }
}

static int label_fn(struct ev *ev, const struct promql_expr *e, struct val *in,
                    struct val *out) {
  int fn = e->func->id;
  const char *dst = str_arg(e->args[1]);
  pcre2_code *re = NULL;
  pcre2_match_data *md = NULL;
  struct coll c;
  int rc = 0;
  if (!utf8_label_name(dst))
    return ev_fail(ev, TC_EEXEC, "invalid destination label name in %s(): %s",
                   e->func->name, dst);
  if (fn == FN_LABEL_REPLACE) {
    if ((rc = regex_compile(ev, str_arg(e->args[4]), &re)) < 0)
      return rc;
    md = pcre2_match_data_create_from_pattern(re, NULL);
  }
  coll_init(&c, out);
  for (size_t k = 0; k < in->n && rc == 0; k++) {
    struct vser *s = &in->s[k];
    struct labels l;
    size_t idx;
    labels_copy(&l, &s->lbls);
    if (fn == FN_LABEL_REPLACE) {
      const char *src = labels_get(&s->lbls, str_arg(e->args[3]));
      if (!src)
        src = "";
      if (pcre2_match(re, (PCRE2_SPTR)src, strlen(src), 0, 0, md, NULL) >= 0) {
        struct tc_buf b;
        tc_buf_init(&b, 0);
        tc_buf_adds(&b, "");
        expand(&b, str_arg(e->args[2]), src, re, md);
        promql_labels_set(&l, dst, b.data);
        tc_buf_release(&b);
      }
    } else {
      struct tc_buf b;
      tc_buf_init(&b, 0);
      tc_buf_adds(&b, "");
      for (size_t i = 3; i < e->nargs; i++) {
        const char *v = labels_get(&s->lbls, str_arg(e->args[i]));
        if (i > 3)
          tc_buf_adds(&b, str_arg(e->args[2]));
        tc_buf_adds(&b, v ? v : "");
      }
      promql_labels_set(&l, dst, b.data);
      tc_buf_release(&b);
    }
    idx = coll_series(ev, &c, &l);
    for (size_t i = 0; i < ev->nsteps && rc == 0; i++)
      if (s->ok[i])
        rc = coll_set(ev, &c, idx, i, s->v[i], NULL);
  }
  coll_release(&c);
  if (md)
    pcre2_match_data_free(md);
  if (re)
    pcre2_code_free(re);
  return rc;
}

static int nat_cmp(const char *a, const char *b) {
  while (*a && *b) {
    if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
      const char *x = a, *y = b;
      while (*x == '0')
        x++;
      while (*y == '0')
        y++;
      const char *xe = x, *ye = y;
      while (*xe >= '0' && *xe <= '9')
        xe++;
      while (*ye >= '0' && *ye <= '9')
        ye++;
      if (xe - x != ye - y)
        return (xe - x) < (ye - y) ? -1 : 1;
      int c = strncmp(x, y, (size_t)(xe - x));
      if (c)
        return c;
      a = xe;
      b = ye;
      continue;
    }
    if (*a != *b)
      return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++;
    b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

struct sort_ctx {
  int fn;
  char **labels;
  size_t nlabels;
};

static int vser_sort_cmp(const void *pa, const void *pb, void *arg) {
  const struct vser *a = pa, *b = pb;
  const struct sort_ctx *c = arg;
  if (c->fn == FN_SORT || c->fn == FN_SORT_DESC) {
    double x = a->v[0], y = b->v[0];
    if (isnan(x) || isnan(y))
      return isnan(x) ? (isnan(y) ? 0 : 1) : -1;
    if (x == y)
      return 0;
    return (c->fn == FN_SORT ? x < y : x > y) ? -1 : 1;
  }
  for (size_t i = 0; i < c->nlabels; i++) {
    const char *x = labels_get(&a->lbls, c->labels[i]);
    const char *y = labels_get(&b->lbls, c->labels[i]);
    int r = nat_cmp(x ? x : "", y ? y : "");
    if (r)
      return c->fn == FN_SORT_BY_LABEL_DESC ? -r : r;
  }
  {
    int r = labels_compare(&a->lbls, &b->lbls);
    return c->fn == FN_SORT_BY_LABEL_DESC ? -r : r;
  }
}

static int hist_fn(struct ev *ev, const struct promql_expr *e, struct val *in,
                   double **sargs, size_t nsargs, struct val *out) {
  int fn = e->func->id;
  struct promql__map groups;
  struct tc_buf key;
  size_t n = in->n ? in->n : 1;
  size_t *gid = xcalloc(n, sizeof(size_t));
  double *le = xcalloc(n, sizeof(double));
  size_t ng = 0, gcap = 0;
  size_t *gout = NULL; /* group -> output series */
  struct labels *glab = NULL;
  size_t glcap = 0;
  const char **gname = NULL; /* metric name per group, borrowed from in */
  size_t gncap = 0;
  char gb[40];
  struct promql__bucket *bk = xmalloc(n * sizeof(*bk));
  struct coll c;
  int rc = 0;
  char *le_name = "le";
  promql__map_init(&groups);
  tc_buf_init(&key, 0);
  coll_init(&c, out);
  /* group by all labels but le (the name included, as Prometheus does) */
  for (size_t k = 0; k < in->n; k++) {
    const char *lv = labels_get(&in->s[k].lbls, "le");
    bool found;
    size_t *slot;
    if (!lv || promql_parse_number(lv, strlen(lv), &le[k]) < 0) {
      gid[k] = SIZE_MAX;
      const char *mn = labels_get(&in->s[k].lbls, "__name__");
      ev_warn(ev, e->args[fn == FN_HISTOGRAM_QUANTILES ? 0 : e->nargs - 1]->pos_start,
              "PromQL warning: bucket label \"le\" is missing or has a "
              "malformed value of \"%s\" for metric name \"%s\"",
              lv ? lv : "", mn ? mn : "");
      continue;
    }
    tc_buf_reset(&key);
    tc_buf_addc(&key, 0);
    promql__labels_key(&key, &in->s[k].lbls, &le_name, 1, false, false);
    slot = promql__map_put(&groups, key.data, key.len, ng, &found);
    if (!found) {
      struct labels l;
      labels_copy(&l, &in->s[k].lbls);
      promql_labels_del(&l, "le");
      promql_labels_del(&l, "__name__");
      TC_GROW(gout, gcap, ng + 1);
      TC_GROW(glab, glcap, ng + 1);
      TC_GROW(gname, gncap, ng + 1);
      gname[ng] = labels_get(&in->s[k].lbls, "__name__");
      if (fn == FN_HISTOGRAM_QUANTILES) {
        glab[ng] = l;
        gout[ng++] = 0;
      } else {
        memset(&glab[ng], 0, sizeof(glab[0]));
        gout[ng++] = coll_series(ev, &c, &l);
      }
    }
    gid[k] = *slot;
  }
  for (size_t i = 0; i < ev->nsteps && rc == 0; i++) {
    for (size_t g = 0; g < ng && rc == 0; g++) {
      size_t nb = 0;
      unsigned flags = 0;
      double r;
      for (size_t k = 0; k < in->n; k++) {
        if (gid[k] != g || !in->s[k].ok[i])
          continue;
        bk[nb].upper = le[k];
        bk[nb].count = in->s[k].v[i];
        nb++;
      }
      if (!nb)
        continue;
      if (fn == FN_HISTOGRAM_QUANTILES) {
        for (size_t q = 0; q < nsargs && rc == 0; q++) {
          struct promql__bucket *copy = xmalloc(nb * sizeof(*copy));
          struct labels l;
          struct tc_buf qs;
          const char *qstr;
          memcpy(copy, bk, nb * sizeof(*copy));
          r = promql__bucket_quantile(sargs[q][i], copy, nb, &flags);
          free(copy);
          if (flags & 1)
            ev_warn(ev, e->args[0]->pos_start, MONOTONICITY_INFO,
                    gname[g] ? gname[g] : "");
          tc_buf_init(&qs, 0);
          promql__fmt_float(&qs, sargs[q][i]);
          qstr = qs.data;
          if (!strpbrk(qstr, ".eIN"))
            tc_buf_adds(&qs, ".0");
          if (strcmp(qs.data, "+Inf") == 0)
            tc_buf_reset(&qs), tc_buf_adds(&qs, "+Inf");
          labels_copy(&l, &glab[g]);
          promql_labels_set(&l, str_arg(e->args[1]), qs.data);
          tc_buf_release(&qs);
          rc = coll_set(ev, &c, coll_series(ev, &c, &l), i, r, NULL);
        }
        continue;
      }
      if (fn == FN_HISTOGRAM_QUANTILE) {
        r = promql__bucket_quantile(sargs[0][i], bk, nb, &flags);
        if (flags & 1)
          ev_warn(ev, e->args[1]->pos_start, MONOTONICITY_INFO,
                  gname[g] ? gname[g] : "");
      } else {
        r = promql__bucket_fraction(sargs[0][i], sargs[1][i], bk, nb);
      }
      rc = coll_set(ev, &c, gout[g], i, r, NULL);
    }
    for (size_t q = 0; fn != FN_HISTOGRAM_FRACTION && q < nsargs; q++) {
      double qv = sargs[q][i];
      if (isnan(qv) || qv < 0 || qv > 1)
        ev_warn(ev, e->args[fn == FN_HISTOGRAM_QUANTILES ? 2 + q : 0]->pos_start,
                "PromQL warning: quantile value should be between 0 and 1, "
                "got %s",
                gfmt(qv, gb));
    }
  }
  val_compact_n(out, ev->nsteps);
  coll_release(&c);
  for (size_t g = 0; g < ng; g++)
    labels_release(&glab[g]);
  free(glab);
  free(gname);
  free(gout);
  free(bk);
  free(le);
  free(gid);
  promql__map_release(&groups);
  tc_buf_release(&key);
  return rc;
}

static int eval_call(struct ev *ev, const struct promql_expr *e,
                     struct val *out) {
  const struct promql_func *f = e->func;
  int fn = f->id;
  double *sargs[16] = {0};
  size_t nsargs = 0;
  const struct promql_expr *marg = NULL, *varg = NULL;
  struct val in = {0};
  int rc = 0;
  bool ts_from_sel = false;

  /* scalar arguments first, in order */
  for (size_t i = 0; i < e->nargs; i++) {
    enum promql_type t = promql_expr_type(e->args[i]);
    if (t == PROMQL_TYPE_SCALAR && nsargs < 16) {
      struct val sv;
      if ((rc = eval(ev, e->args[i], &sv)) < 0)
        goto out;
      sargs[nsargs++] = sv.sc;
      sv.sc = NULL;
      val_release(&sv);
    } else if (t == PROMQL_TYPE_MATRIX) {
      marg = e->args[i];
    } else if (t == PROMQL_TYPE_VECTOR && !varg) {
      varg = e->args[i];
    }
  }
  if (marg) {
    rc = eval_range_fn(ev, e, marg, sargs, nsargs, out);
    goto out;
  }
  switch (fn) {
  case FN_MIN_OF:
  case FN_MAX_OF:
    val_scalar(ev, out);
    for (size_t i = 0; i < ev->nsteps; i++) {
      double a = sargs[0][i], b = sargs[1][i];
      out->sc[i] = isnan(a) || isnan(b) ? NAN
                   : fn == FN_MIN_OF   ? (a < b ? a : b)
                                       : (a > b ? a : b);
    }
    goto out;
  case FN_TIME:
  case FN_PI:
    val_scalar(ev, out);
    for (size_t i = 0; i < ev->nsteps; i++)
      out->sc[i] = fn == FN_PI ? M_PI : (double)ev_ts(ev, i) / 1000.0;
    goto out;
  case FN_VECTOR: {
    struct labels l = {0};
    struct vser *s;
    memset(out, 0, sizeof(*out));
    out->type = PROMQL_TYPE_VECTOR;
    s = val_add(ev, out, &l);
    for (size_t i = 0; i < ev->nsteps; i++) {
      s->ok[i] = 1;
      s->v[i] = sargs[0][i];
    }
    goto out;
  }
  default:
    break;
  }
  if (!varg) {
    /* date functions without argument: vector(time()) */
    struct labels l = {0};
    struct vser *s;
    memset(&in, 0, sizeof(in));
    in.type = PROMQL_TYPE_VECTOR;
    s = val_add(ev, &in, &l);
    for (size_t i = 0; i < ev->nsteps; i++) {
      s->ok[i] = 1;
      s->v[i] = (double)ev_ts(ev, i) / 1000.0;
    }
  } else if (fn == FN_TIMESTAMP && unparen(varg)->kind == PROMQL_VECTOR_SEL) {
    ts_from_sel = true;
    if ((rc = eval_vsel(ev, unparen(varg), true, &in)) < 0)
      goto out;
  } else if ((rc = eval(ev, varg, &in)) < 0) {
    goto out;
  }

  switch (fn) {
  case FN_SCALAR:
    val_scalar(ev, out);
    for (size_t i = 0; i < ev->nsteps; i++) {
      size_t cnt = 0;
      double v = NAN;
      for (size_t k = 0; k < in.n; k++)
        if (in.s[k].ok[i]) {
          cnt++;
          v = in.s[k].v[i];
        }
      out->sc[i] = cnt == 1 ? v : NAN;
    }
    break;
  case FN_ABSENT: {
    struct labels l = {0};
    const struct promql_expr *sel = unparen(varg);
    struct vser *s;
    memset(out, 0, sizeof(*out));
    out->type = PROMQL_TYPE_VECTOR;
    if (sel->kind == PROMQL_VECTOR_SEL)
      absent_labels(sel, &l);
    s = val_add(ev, out, &l);
    for (size_t i = 0; i < ev->nsteps; i++) {
      bool any = false;
      for (size_t k = 0; k < in.n && !any; k++)
        any = in.s[k].ok[i];
      if (!any) {
        s->ok[i] = 1;
        s->v[i] = 1;
      }
    }
    val_compact_n(out, ev->nsteps);
    break;
  }
  case FN_LABEL_REPLACE:
  case FN_LABEL_JOIN:
    rc = label_fn(ev, e, &in, out);
    break;
  case FN_SORT:
  case FN_SORT_DESC:
  case FN_SORT_BY_LABEL:
  case FN_SORT_BY_LABEL_DESC: {
    struct sort_ctx c = {fn, NULL, 0};
    char *labels[16];
    for (size_t i = 1; i < e->nargs && c.nlabels < 16; i++)
      labels[c.nlabels++] = (char *)str_arg(e->args[i]);
    c.labels = labels;
    *out = in;
    memset(&in, 0, sizeof(in));
    if (ev->qstart != ev->qend)
      ev_warn(ev, e->pos_start,
              "PromQL warning: sort is ineffective for range queries "
              "since results are always ordered by labels");
    if (ev->nsteps == 1 && out->n > 1)
      qsort_r(out->s, out->n, sizeof(struct vser), vser_sort_cmp, &c);
    break;
  }
  case FN_HISTOGRAM_QUANTILE:
  case FN_HISTOGRAM_QUANTILES:
  case FN_HISTOGRAM_FRACTION:
    rc = hist_fn(ev, e, &in, sargs, nsargs, out);
    break;
  case FN_HISTOGRAM_AVG:
  case FN_HISTOGRAM_COUNT:
  case FN_HISTOGRAM_SUM:
  case FN_HISTOGRAM_STDDEV:
  case FN_HISTOGRAM_STDVAR:
    /* float samples are ignored by the native-histogram functions */
    memset(out, 0, sizeof(*out));
    out->type = PROMQL_TYPE_VECTOR;
    break;
  case FN_INFO:
    rc = ev_fail(ev, TC_ENOTSUP, "info() is not supported yet");
    break;
  default: {
    struct coll c;
    double args[4];
    coll_init(&c, out);
    for (size_t k = 0; k < in.n && rc == 0; k++) {
      struct vser *s = &in.s[k];
      size_t idx = SIZE_MAX;
      for (size_t i = 0; i < ev->nsteps && rc == 0; i++) {
        double r;
        if (!s->ok[i])
          continue;
        for (size_t a = 0; a < nsargs; a++)
          args[a] = sargs[a][i];
        if (fn == FN_TIMESTAMP)
          r = ts_from_sel ? s->v[i] : (double)ev_ts(ev, i) / 1000.0;
        else if (!promql__math_fn(fn, s->v[i], nsargs ? args : NULL, &r))
          continue;
        if (idx == SIZE_MAX) {
          struct labels l;
          labels_copy(&l, &s->lbls);
          promql_labels_del(&l, "__name__");
          idx = coll_series(ev, &c, &l);
        }
        rc = coll_set(ev, &c, idx, i, r, NULL);
      }
    }
    coll_release(&c);
    break;
  }
  }
out:
  val_release(&in);
  for (size_t i = 0; i < nsargs; i++)
    free(sargs[i]);
  return rc < 0 ? rc : *ev->rc;
}

/* ---- aggregation -------------------------------------------------------- */

/*
 * topk/bottomk selection exactly as Prometheus does it, ties included: a
 * heap of k (Go's container/heap) over the input in order, the root being
 * the element to replace (the smallest for topk, the largest for bottomk,
 * NaN first). ix/v hold n series indices and values; on return the first
 * `take` entries of ix are the selected series.
 */
struct kheap {
  size_t *ix;
  double *v;
  bool bottom;
};

static bool kh_less(const struct kheap *h, size_t i, size_t j) {
  double a = h->v[i], b = h->v[j];
  if (isnan(a))
    return true;
  return h->bottom ? a > b : a < b;
}

static void kh_swap(struct kheap *h, size_t i, size_t j) {
  size_t ti = h->ix[i];
  double tv = h->v[i];
  h->ix[i] = h->ix[j];
  h->v[i] = h->v[j];
  h->ix[j] = ti;
  h->v[j] = tv;
}

static void kh_up(struct kheap *h, size_t j) {
  while (j > 0) {
    size_t i = (j - 1) / 2;
    if (!kh_less(h, j, i))
      break;
    kh_swap(h, i, j);
    j = i;
  }
}

static bool kh_down(struct kheap *h, size_t i0, size_t n) {
  size_t i = i0;
  for (;;) {
    size_t j1 = 2 * i + 1, j;
    if (j1 >= n)
      break;
    j = j1;
    if (j1 + 1 < n && kh_less(h, j1 + 1, j1))
      j = j1 + 1;
    if (!kh_less(h, j, i))
      break;
    kh_swap(h, i, j);
    i = j;
  }
  return i > i0;
}

static size_t khheap_select(size_t *ix, double *v, size_t n, size_t k,
                            bool bottom) {
  struct kheap h = {ix, v, bottom};
  size_t hn = 0;
  for (size_t j = 0; j < n; j++) {
    double x = v[j];
    size_t xi = ix[j];
    if (hn < k) {
      ix[hn] = xi;
      v[hn] = x;
      kh_up(&h, hn++);
      continue;
    }
    if ((bottom ? v[0] > x : v[0] < x) || (isnan(v[0]) && !isnan(x))) {
      ix[0] = xi;
      v[0] = x;
      if (k > 1 && !kh_down(&h, 0, hn))
        kh_up(&h, 0);
    }
  }
  return hn;
}

static bool int64_ok(double v) {
  return !isnan(v) && v >= -9223372036854775808.0 &&
         v < 9223372036854775808.0;
}

static int eval_aggr(struct ev *ev, const struct promql_expr *e,
                     struct val *out) {
  enum promql_op op = e->op;
  struct val in = {0}, pv = {0};
  struct promql__map groups;
  struct tc_buf key;
  size_t *gid = NULL, ng = 0, *cnt = NULL, *off = NULL, *idx = NULL;
  double *vals = NULL, *cur = NULL;
  struct labels *glabels = NULL;
  size_t glcap = 0;
  struct coll c;
  size_t *cv_idx = NULL;
  int rc = 0;
  char gb[40];
  bool keep_series = op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK ||
                     op == PROMQL_AGG_LIMITK || op == PROMQL_AGG_LIMIT_RATIO;

  promql__map_init(&groups);
  tc_buf_init(&key, 0);
  coll_init(&c, out);
  if (e->param && (rc = eval(ev, e->param, &pv)) < 0)
    goto out;
  if ((rc = eval(ev, e->expr, &in)) < 0)
    goto out;
  if (op == PROMQL_AGG_COUNT_VALUES) {
    const char *ln = pv.str;
    if (!utf8_label_name(ln))
      { rc = ev_fail(ev, TC_EEXEC, "invalid label name \"%s\"", ln); goto out; }
  }
  gid = xmalloc((in.n ? in.n : 1) * sizeof(size_t));
  for (size_t k = 0; k < in.n; k++) {
    bool found;
    size_t *slot;
    tc_buf_reset(&key);
    tc_buf_addc(&key, 0);
    promql__labels_key(&key, &in.s[k].lbls, e->grouping, e->ngrouping,
                       !e->without, e->without);
    slot = promql__map_put(&groups, key.data, key.len, ng, &found);
    if (!found) {
      struct labels l = {0};
      for (size_t i = 0; i < in.s[k].lbls.n; i++) {
        const struct label *lb = &in.s[k].lbls.v[i];
        bool listed = false;
        for (size_t j = 0; j < e->ngrouping; j++)
          listed |= strcmp(e->grouping[j], lb->name) == 0;
        if (e->without ? (listed || strcmp(lb->name, "__name__") == 0)
                       : !listed)
          continue;
        promql_labels_set(&l, lb->name, lb->value);
      }
      TC_GROW(glabels, glcap, ng + 1);
      glabels[ng++] = l;
    }
    gid[k] = *slot;
  }
  cnt = xcalloc(ng + 1, sizeof(size_t));
  off = xcalloc(ng + 1, sizeof(size_t));
  idx = xmalloc((in.n ? in.n : 1) * sizeof(size_t));
  vals = xmalloc((in.n ? in.n : 1) * sizeof(double));
  cur = xmalloc((in.n ? in.n : 1) * sizeof(double));
  if (!keep_series && op != PROMQL_AGG_COUNT_VALUES)
    for (size_t g = 0; g < ng; g++) {
      struct labels l;
      labels_copy(&l, &glabels[g]);
      val_add(ev, out, &l);
    }
  if (keep_series) {
    cv_idx = xmalloc((in.n ? in.n : 1) * sizeof(size_t));
    for (size_t k = 0; k < in.n; k++)
      cv_idx[k] = SIZE_MAX;
  }
  for (size_t i = 0; i < ev->nsteps; i++) {
    double param = pv.sc ? pv.sc[i] : 0;
    if ((rc = ev_check(ev)) < 0)
      goto out;
    memset(cnt, 0, (ng + 1) * sizeof(size_t));
    for (size_t k = 0; k < in.n; k++)
      if (in.s[k].ok[i])
        cnt[gid[k]]++;
    off[0] = 0;
    for (size_t g = 1; g <= ng; g++)
      off[g] = off[g - 1] + cnt[g - 1];
    {
      size_t *pos = xmalloc((ng + 1) * sizeof(size_t));
      memcpy(pos, off, (ng + 1) * sizeof(size_t));
      for (size_t k = 0; k < in.n; k++)
        if (in.s[k].ok[i]) {
          idx[pos[gid[k]]] = k;
          vals[pos[gid[k]]] = in.s[k].v[i];
          pos[gid[k]]++;
        }
      free(pos);
    }
    if ((op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK ||
         op == PROMQL_AGG_LIMITK) && !int64_ok(param)) {
      if (isnan(param))
        rc = ev_fail(ev, TC_EEXEC, "Parameter value is NaN");
      else
        rc = ev_fail(ev, TC_EEXEC, "Scalar value %s overflows int64",
                     param > 0 ? "+Inf" : "-Inf");
      goto out;
    }
    if (op == PROMQL_AGG_LIMIT_RATIO && isnan(param)) {
      rc = ev_fail(ev, TC_EEXEC, "Ratio value is NaN");
      goto out;
    }
    if (op == PROMQL_AGG_QUANTILE && off[ng] > 0 &&
        (isnan(param) || param < 0 || param > 1))
      ev_warn(ev, e->param->pos_start,
              "PromQL warning: quantile value should be between 0 and 1, "
              "got %s", gfmt(param, gb));
    for (size_t g = 0; g < ng; g++) {
      size_t n = cnt[g];
      double *v = vals + off[g];
      size_t *ix = idx + off[g];
      double r = 0;
      if (!n)
        continue;
      switch (op) {
      case PROMQL_AGG_SUM: {
        double s = 0, cc = 0;
        for (size_t j = 0; j < n; j++)
          promql__kahan_add(v[j], &s, &cc);
        r = s + cc;
        break;
      }
      case PROMQL_AGG_AVG:
        r = promql__avg(v, n);
        break;
      case PROMQL_AGG_COUNT:
        r = (double)n;
        break;
      case PROMQL_AGG_GROUP:
        r = 1;
        break;
      case PROMQL_AGG_MIN:
      case PROMQL_AGG_MAX:
        r = v[0];
        for (size_t j = 1; j < n; j++)
          if ((op == PROMQL_AGG_MAX ? v[j] > r : v[j] < r) || isnan(r))
            r = v[j];
        break;
      case PROMQL_AGG_STDDEV:
      case PROMQL_AGG_STDVAR: {
        /* Prometheus's aggregation: plain Welford from the first value;
         * NaN or Inf there makes the group NaN */
        double mean = v[0], m2 = isnan(v[0]) || isinf(v[0]) ? NAN : 0;
        for (size_t j = 1; j < n; j++) {
          double delta = v[j] - mean;
          mean += delta / (double)(j + 1);
          m2 += delta * (v[j] - mean);
        }
        r = m2 / (double)n;
        if (op == PROMQL_AGG_STDDEV)
          r = sqrt(r);
        break;
      }
      case PROMQL_AGG_QUANTILE:
        memcpy(cur, v, n * sizeof(double));
        r = promql__quantile(param, cur, n);
        break;
      case PROMQL_AGG_COUNT_VALUES: {
        /* count per distinct value, in order of first appearance */
        for (size_t j = 0; j < n; j++) {
          struct tc_buf vb;
          struct labels l;
          size_t oi;
          struct vser *s;
          tc_buf_init(&vb, 0);
          promql__fmt_float(&vb, v[j]);
          labels_copy(&l, &glabels[g]);
          promql_labels_set(&l, pv.str, vb.data);
          tc_buf_release(&vb);
          oi = coll_series(ev, &c, &l);
          s = &out->s[oi];
          if (!s->ok[i]) {
            s->ok[i] = 1;
            s->v[i] = 0;
          }
          s->v[i] += 1;
        }
        continue;
      }
      case PROMQL_AGG_TOPK:
      case PROMQL_AGG_BOTTOMK:
      case PROMQL_AGG_LIMITK:
      case PROMQL_AGG_LIMIT_RATIO: {
        size_t take = n;
        if (op != PROMQL_AGG_LIMIT_RATIO) {
          int64_t k = (int64_t)param;
          if (k < 1)
            continue;
          if ((uint64_t)k < n)
            take = (size_t)k;
        }
        if (op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK)
          take = khheap_select(ix, v, n, take, op == PROMQL_AGG_BOTTOMK);
        for (size_t j = 0; j < take; j++) {
          size_t k = ix[j];
          if (op == PROMQL_AGG_LIMIT_RATIO) {
            struct tc_buf hb;
            double ratio = param, offv;
            uint64_t h;
            if (ratio > 1)
              ratio = 1;
            if (ratio < -1)
              ratio = -1;
            /* Prometheus 3 is built with stringlabels: Hash() is XXH64
             * of the set's encoding, uvarint length + bytes per string */
            tc_buf_init(&hb, 0);
            for (size_t q = 0; q < in.s[k].lbls.n; q++) {
              const char *strs[2] = {in.s[k].lbls.v[q].name,
                                     in.s[k].lbls.v[q].value};
              for (int w = 0; w < 2; w++) {
                tc_buf_put_uvarint(&hb, strlen(strs[w]));
                tc_buf_adds(&hb, strs[w]);
              }
            }
            h = XXH64(hb.data ? hb.data : "", hb.len, 0);
            tc_buf_release(&hb);
            offv = (double)h / 18446744073709551615.0;
            if (!(ratio >= 0 ? offv < ratio : offv >= 1.0 + ratio))
              continue;
          }
          if (cv_idx[k] == SIZE_MAX) {
            struct labels l;
            labels_copy(&l, &in.s[k].lbls);
            cv_idx[k] = coll_series(ev, &c, &l);
          }
          out->s[cv_idx[k]].ok[i] = 1;
          out->s[cv_idx[k]].v[i] = in.s[k].v[i];
        }
        continue;
      }
      default:
        break;
      }
      out->s[g].ok[i] = 1;
      out->s[g].v[i] = r;
    }
  }
  if (op == PROMQL_AGG_LIMIT_RATIO) {
    for (size_t i = 0; i < ev->nsteps; i++)
      if (pv.sc[i] > 1 || pv.sc[i] < -1) {
        ev_warn(ev, e->param->pos_start,
                "PromQL warning: ratio value should be between -1 and 1, "
                "got %s, capping to %d",
                gfmt(pv.sc[i], gb), pv.sc[i] > 1 ? 1 : -1);
        break;
      }
  }
  val_compact_n(out, ev->nsteps);
  if (ev->nsteps == 1 && (op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK) &&
      out->n > 1) {
    struct sort_ctx sc = {op == PROMQL_AGG_TOPK ? FN_SORT_DESC : FN_SORT, NULL,
                          0};
    qsort_r(out->s, out->n, sizeof(struct vser), vser_sort_cmp, &sc);
  }
out:
  coll_release(&c);
  for (size_t g = 0; g < ng; g++)
    labels_release(&glabels[g]);
  free(glabels);
  free(gid);
  free(cnt);
  free(off);
  free(idx);
  free(vals);
  free(cur);
  free(cv_idx);
  val_release(&in);
  val_release(&pv);
  promql__map_release(&groups);
  tc_buf_release(&key);
  return rc < 0 ? rc : *ev->rc;
}

/* ---- binary operators --------------------------------------------------- */

static bool is_cmp(enum promql_op op) {
  return op >= PROMQL_OP_EQL && op <= PROMQL_OP_LTE;
}

static bool drops_name(enum promql_op op) {
  return op >= PROMQL_OP_ADD && op <= PROMQL_OP_ATAN2;
}

/* Returns keep; *out the value (lhs for comparisons). */
static bool binop(enum promql_op op, double l, double r, double *out) {
  switch (op) {
  case PROMQL_OP_ADD: *out = l + r; return true;
  case PROMQL_OP_SUB: *out = l - r; return true;
  case PROMQL_OP_MUL: *out = l * r; return true;
  case PROMQL_OP_DIV: *out = l / r; return true;
  case PROMQL_OP_POW: *out = pow(l, r); return true;
  case PROMQL_OP_MOD: *out = fmod(l, r); return true;
  case PROMQL_OP_ATAN2: *out = atan2(l, r); return true;
  case PROMQL_OP_EQL: *out = l; return l == r;
  case PROMQL_OP_NEQ: *out = l; return l != r;
  case PROMQL_OP_GTR: *out = l; return l > r;
  case PROMQL_OP_LSS: *out = l; return l < r;
  case PROMQL_OP_GTE: *out = l; return l >= r;
  case PROMQL_OP_LTE: *out = l; return l <= r;
  default: *out = NAN; return false;
  }
}

static int eval_vec_scalar(struct ev *ev, const struct promql_expr *e,
                           struct val *vec, const double *sc, bool swap,
                           struct val *out) {
  struct coll c;
  int rc = 0;
  coll_init(&c, out);
  for (size_t k = 0; k < vec->n && rc == 0; k++) {
    struct vser *s = &vec->s[k];
    size_t idx = SIZE_MAX;
    for (size_t i = 0; i < ev->nsteps && rc == 0; i++) {
      double l, r, v;
      bool keep;
      if (!s->ok[i])
        continue;
      l = s->v[i];
      r = sc[i];
      if (swap) {
        double t = l;
        l = r;
        r = t;
      }
      keep = binop(e->op, l, r, &v);
      if (is_cmp(e->op) && swap)
        v = r;
      if (e->return_bool) {
        v = keep ? 1 : 0;
        keep = true;
      }
      if (!keep)
        continue;
      if (idx == SIZE_MAX) {
        struct labels l2;
        labels_copy(&l2, &s->lbls);
        if (drops_name(e->op) || e->return_bool)
          promql_labels_del(&l2, "__name__");
        idx = coll_series(ev, &c, &l2);
      }
      rc = coll_set(ev, &c, idx, i, v, NULL);
    }
  }
  coll_release(&c);
  return rc;
}

/* Signature of a series for vector matching. */
static void sig_key(struct tc_buf *b, const struct promql_expr *e,
                    const struct labels *l) {
  tc_buf_reset(b);
  tc_buf_addc(b, 0);
  if (e->on)
    promql__labels_key(b, l, e->match_labels, e->nmatch_labels, true, false);
  else
    promql__labels_key(b, l, e->match_labels, e->nmatch_labels, false, true);
}

static char *match_labels_str(const struct promql_expr *e,
                              const struct labels *l) {
  struct labels m = {0};
  char *s;
  for (size_t i = 0; i < l->n; i++) {
    bool listed = false;
    for (size_t j = 0; j < e->nmatch_labels; j++)
      listed |= strcmp(e->match_labels[j], l->v[i].name) == 0;
    if (e->on ? listed
              : (!listed && strcmp(l->v[i].name, "__name__") != 0))
      promql_labels_set(&m, l->v[i].name, l->v[i].value);
  }
  s = promql_labels_string(&m);
  labels_release(&m);
  return s;
}

static int eval_vec_vec(struct ev *ev, const struct promql_expr *e,
                        struct val *lhs, struct val *rhs, struct val *out) {
  struct promql__map sigs, pairs;
  struct tc_buf key;
  size_t nsig = 0;
  size_t *lsig = xmalloc((lhs->n + 1) * sizeof(size_t));
  size_t *rsig = xmalloc((rhs->n + 1) * sizeof(size_t));
  size_t *slot_r = NULL, *slot_l = NULL;
  struct coll c;
  int rc = 0;
  enum promql_op op = e->op;
  promql__map_init(&sigs);
  promql__map_init(&pairs);
  tc_buf_init(&key, 0);
  coll_init(&c, out);
  for (size_t k = 0; k < lhs->n; k++) {
    bool f;
    sig_key(&key, e, &lhs->s[k].lbls);
    lsig[k] = *promql__map_put(&sigs, key.data, key.len, nsig, &f);
    if (!f)
      nsig++;
  }
  for (size_t k = 0; k < rhs->n; k++) {
    bool f;
    sig_key(&key, e, &rhs->s[k].lbls);
    rsig[k] = *promql__map_put(&sigs, key.data, key.len, nsig, &f);
    if (!f)
      nsig++;
  }
  slot_r = xmalloc((nsig + 1) * sizeof(size_t));
  slot_l = xmalloc((nsig + 1) * sizeof(size_t));
  for (size_t g = 0; g <= nsig; g++)
    slot_r[g] = slot_l[g] = SIZE_MAX;

  if (op == PROMQL_OP_AND || op == PROMQL_OP_OR || op == PROMQL_OP_UNLESS) {
    size_t *lidx = xmalloc((lhs->n + 1) * sizeof(size_t));
    size_t *ridx = xmalloc((rhs->n + 1) * sizeof(size_t));
    for (size_t k = 0; k < lhs->n; k++)
      lidx[k] = SIZE_MAX;
    for (size_t k = 0; k < rhs->n; k++)
      ridx[k] = SIZE_MAX;
    for (size_t i = 0; i < ev->nsteps; i++) {
      for (size_t k = 0; k < rhs->n; k++)
        if (rhs->s[k].ok[i])
          slot_r[rsig[k]] = i;
      for (size_t k = 0; k < lhs->n; k++)
        if (lhs->s[k].ok[i])
          slot_l[lsig[k]] = i;
      for (size_t k = 0; k < lhs->n; k++) {
        bool in_r = slot_r[lsig[k]] == i;
        if (!lhs->s[k].ok[i])
          continue;
        if (op == PROMQL_OP_AND ? !in_r : op == PROMQL_OP_UNLESS ? in_r : false)
          continue;
        if (lidx[k] == SIZE_MAX) {
          struct labels l;
          labels_copy(&l, &lhs->s[k].lbls);
          lidx[k] = coll_series(ev, &c, &l);
        }
        out->s[lidx[k]].ok[i] = 1;
        out->s[lidx[k]].v[i] = lhs->s[k].v[i];
      }
      if (op == PROMQL_OP_OR)
        for (size_t k = 0; k < rhs->n; k++) {
          if (!rhs->s[k].ok[i] || slot_l[rsig[k]] == i)
            continue;
          if (ridx[k] == SIZE_MAX) {
            struct labels l;
            labels_copy(&l, &rhs->s[k].lbls);
            ridx[k] = coll_series(ev, &c, &l);
          }
          out->s[ridx[k]].ok[i] = 1;
          out->s[ridx[k]].v[i] = rhs->s[k].v[i];
        }
    }
    free(lidx);
    free(ridx);
    goto out;
  }

  {
    /* "one" side is rhs unless group_right */
    bool swap = e->card == PROMQL_CARD_ONE_TO_MANY;
    struct val *many = swap ? rhs : lhs, *one = swap ? lhs : rhs;
    size_t *msig = swap ? rsig : lsig, *osig = swap ? lsig : rsig;
    size_t *oidx = xmalloc((nsig + 1) * sizeof(size_t));
    size_t *matched_step = xmalloc((nsig + 1) * sizeof(size_t));
    for (size_t g = 0; g <= nsig; g++)
      matched_step[g] = SIZE_MAX;
    for (size_t i = 0; i < ev->nsteps && rc == 0; i++) {
      bool any_many = false, any_one = false;
      if ((rc = ev_check(ev)) < 0)
        break;
      /* as Prometheus: nothing (and no matching error) when a side is
       * empty at this step */
      for (size_t k = 0; k < many->n && !any_many; k++)
        any_many = many->s[k].ok[i];
      for (size_t k = 0; k < one->n && !any_one; k++)
        any_one = one->s[k].ok[i];
      if (!any_many || !any_one)
        continue;
      for (size_t k = 0; k < one->n; k++) {
        if (!one->s[k].ok[i])
          continue;
        if (slot_r[osig[k]] == i) {
          char *ml = match_labels_str(e, &one->s[k].lbls);
          char *a = promql_labels_string(&one->s[k].lbls);
          char *b = promql_labels_string(&one->s[oidx[osig[k]]].lbls);
          if (strcmp(a, b) > 0) {
            char *t = a;
            a = b;
            b = t;
          }
          rc = ev_fail(ev, TC_EEXEC,
                       "found duplicate series for the match group %s on the "
                       "%s hand-side of the operation: [%s, %s];many-to-many "
                       "matching not allowed: matching labels must be unique "
                       "on one side",
                       ml, swap ? "left" : "right", a, b);
          free(ml);
          free(a);
          free(b);
          break;
        }
        slot_r[osig[k]] = i;
        oidx[osig[k]] = k;
      }
      for (size_t k = 0; k < many->n && rc == 0; k++) {
        size_t sg = msig[k], ok;
        double lv, rv, v;
        bool keep;
        size_t *pslot;
        bool found;
        size_t pk[2];
        if (!many->s[k].ok[i] || slot_r[sg] != i)
          continue;
        ok = oidx[sg];
        if (e->card == PROMQL_CARD_ONE_TO_ONE) {
          if (matched_step[sg] == i) {
            rc = ev_fail(ev, TC_EEXEC,
                         "multiple matches for labels: many-to-one matching "
                         "must be explicit (group_left/group_right)");
            break;
          }
          matched_step[sg] = i;
        }
        lv = many->s[k].v[i];
        rv = one->s[ok].v[i];
        if (swap) {
          double t = lv;
          lv = rv;
          rv = t;
        }
        keep = binop(op, lv, rv, &v);
        if (e->return_bool) {
          v = keep ? 1 : 0;
          keep = true;
        }
        if (!keep)
          continue;
        pk[0] = k;
        pk[1] = ok;
        pslot = promql__map_put(&pairs, (const char *)pk, sizeof(pk), 0,
                                &found);
        if (!found) {
          struct labels l;
          labels_copy(&l, &many->s[k].lbls);
          if (drops_name(op) || e->return_bool)
            promql_labels_del(&l, "__name__");
          if (e->card == PROMQL_CARD_ONE_TO_ONE) {
            if (e->on) {
              struct labels kept = {0};
              for (size_t j = 0; j < e->nmatch_labels; j++) {
                const char *x = labels_get(&l, e->match_labels[j]);
                if (x)
                  promql_labels_set(&kept, e->match_labels[j], x);
              }
              labels_release(&l);
              l = kept;
            } else {
              for (size_t j = 0; j < e->nmatch_labels; j++)
                promql_labels_del(&l, e->match_labels[j]);
            }
          }
          for (size_t j = 0; j < e->ninclude; j++)
            promql_labels_set(&l, e->include[j],
                              labels_get(&one->s[ok].lbls,
                                                e->include[j]));
          *pslot = coll_series(ev, &c, &l);
        }
        rc = coll_set(ev, &c, *pslot, i, v,
                      e->card == PROMQL_CARD_ONE_TO_ONE
                          ? "multiple matches for labels: many-to-one "
                            "matching must be explicit "
                            "(group_left/group_right)"
                          : "multiple matches for labels: grouping labels "
                            "must ensure unique matches");
      }
    }
    free(oidx);
    free(matched_step);
  }
out:
  free(lsig);
  free(rsig);
  free(slot_r);
  free(slot_l);
  promql__map_release(&sigs);
  promql__map_release(&pairs);
  tc_buf_release(&key);
  coll_release(&c);
  return rc < 0 ? rc : *ev->rc;
}

static int eval_binary(struct ev *ev, const struct promql_expr *e,
                       struct val *out) {
  struct val l = {0}, r = {0};
  int rc;
  if ((rc = eval(ev, e->lhs, &l)) < 0)
    goto out;
  if ((rc = eval(ev, e->rhs, &r)) < 0)
    goto out;
  if (l.type == PROMQL_TYPE_SCALAR && r.type == PROMQL_TYPE_SCALAR) {
    val_scalar(ev, out);
    for (size_t i = 0; i < ev->nsteps; i++) {
      double v;
      bool keep = binop(e->op, l.sc[i], r.sc[i], &v);
      out->sc[i] = e->return_bool ? (keep ? 1 : 0) : v;
    }
  } else if (l.type == PROMQL_TYPE_VECTOR && r.type == PROMQL_TYPE_SCALAR) {
    rc = eval_vec_scalar(ev, e, &l, r.sc, false, out);
  } else if (l.type == PROMQL_TYPE_SCALAR && r.type == PROMQL_TYPE_VECTOR) {
    rc = eval_vec_scalar(ev, e, &r, l.sc, true, out);
  } else {
    rc = eval_vec_vec(ev, e, &l, &r, out);
  }
out:
  val_release(&l);
  val_release(&r);
  return rc < 0 ? rc : *ev->rc;
}

/* ---- dispatch ----------------------------------------------------------- */

static int eval_node(struct ev *ev, const struct promql_expr *e,
                     struct val *out);

/* Evaluates e into out; on failure out is released (empty). */
static int eval(struct ev *ev, const struct promql_expr *e, struct val *out) {
  int rc = eval_node(ev, e, out);
  if (rc < 0 || *ev->rc < 0) {
    val_release(out);
    return rc < 0 ? rc : *ev->rc;
  }
  return 0;
}

static int eval_node(struct ev *ev, const struct promql_expr *e,
                     struct val *out) {
  int rc;
  memset(out, 0, sizeof(*out));
  if ((rc = ev_check(ev)) < 0)
    return rc;
  switch (e->kind) {
  case PROMQL_NUMBER:
    val_scalar(ev, out);
    for (size_t i = 0; i < ev->nsteps; i++)
      out->sc[i] = e->num;
    return 0;
  case PROMQL_STRING_LIT:
    out->type = PROMQL_TYPE_STRING;
    out->str = xstrdup(e->str);
    return 0;
  case PROMQL_PAREN:
  case PROMQL_STEP_INVARIANT:
    return eval(ev, e->expr, out);
  case PROMQL_UNARY:
    if ((rc = eval(ev, e->expr, out)) < 0)
      return rc;
    if (e->op == PROMQL_OP_SUB) {
      if (out->type == PROMQL_TYPE_SCALAR) {
        for (size_t i = 0; i < ev->nsteps; i++)
          out->sc[i] = -out->sc[i];
      } else {
        struct val in = *out;
        struct coll c;
        coll_init(&c, out);
        for (size_t k = 0; k < in.n && rc == 0; k++) {
          struct labels l;
          size_t idx;
          labels_copy(&l, &in.s[k].lbls);
          promql_labels_del(&l, "__name__");
          idx = coll_series(ev, &c, &l);
          for (size_t i = 0; i < ev->nsteps && rc == 0; i++)
            if (in.s[k].ok[i])
              rc = coll_set(ev, &c, idx, i, -in.s[k].v[i], NULL);
        }
        coll_release(&c);
        val_release(&in);
        return rc;
      }
    }
    return 0;
  case PROMQL_VECTOR_SEL:
    return eval_vsel(ev, e, false, out);
  case PROMQL_MATRIX_SEL:
  case PROMQL_SUBQUERY:
    return eval_matrix(ev, e, NULL, out);
  case PROMQL_CALL:
    return eval_call(ev, e, out);
  case PROMQL_AGGREGATE:
    return eval_aggr(ev, e, out);
  case PROMQL_BINARY:
    return eval_binary(ev, e, out);
  }
  return ev_fail(ev, TC_EEXEC, "unknown expression");
}

/* ---- entry -------------------------------------------------------------- */

void promql_engine_opts_default(struct promql_engine_opts *o) {
  memset(o, 0, sizeof(*o));
  o->lookback_ms = 5 * 60 * 1000;
  o->max_samples = 50000000;
}

void promql_result_release(struct promql_result *r) {
  free(r->str);
  for (size_t i = 0; i < r->nseries; i++) {
    labels_release(&r->series[i].labels);
    free(r->series[i].points);
  }
  free(r->series);
  for (size_t i = 0; i < r->nwarnings; i++)
    free(r->warnings[i]);
  free(r->warnings);
  memset(r, 0, sizeof(*r));
}

static int series_cmp(const void *a, const void *b) {
  return labels_compare(&((const struct promql_series *)a)->labels,
                           &((const struct promql_series *)b)->labels);
}

int promql_exec(const struct promql_engine_opts *opts,
                struct promql_queryable *queryable,
                const struct promql_query *q, struct promql_result *res,
                char **errmsg) {
  struct promql_parse_opts po = {opts->experimental_functions};
  struct promql_expr *e = NULL;
  struct ev ev;
  struct val v = {0};
  int64_t nsamples = 0;
  int rc = 0;
  bool instant = q->step_ms == 0;
  memset(res, 0, sizeof(*res));
  *errmsg = NULL;
  if ((rc = promql_parse(q->expr, &po, &e, errmsg)) < 0)
    return rc;
  memset(&ev, 0, sizeof(ev));
  ev.o = opts;
  ev.q = queryable;
  ev.start = q->start_ms;
  ev.end = instant ? q->start_ms : q->end_ms;
  ev.interval = instant ? 1 : q->step_ms;
  if (ev.end < ev.start || ev.interval <= 0) {
    *errmsg = xstrdup("invalid query range");
    rc = TC_EINVAL;
    goto out;
  }
  ev.nsteps = (size_t)((ev.end - ev.start) / ev.interval) + 1;
  if (ev.nsteps > 11000 && !instant) {
    *errmsg = xstrdup("exceeded maximum resolution of 11,000 points per "
                      "timeseries. Try decreasing the query resolution "
                      "(?step=XX)");
    rc = TC_EINVAL;
    goto out;
  }
  ev.lookback = q->lookback_ms > 0 ? q->lookback_ms
                : opts->lookback_ms > 0 ? opts->lookback_ms
                                        : 300000;
  ev.qstart = ev.start;
  ev.qend = ev.end;
  ev.cancel = q->cancel;
  if (opts->timeout_ms > 0)
    ev.deadline_ns = now_ns() + opts->timeout_ms * 1000000;
  ev.nsamples = &nsamples;
  ev.err = errmsg;
  ev.rc = &rc;
  ev.res = res;
  ev.query = q->expr;
  if (!instant && promql_expr_type(e) != PROMQL_TYPE_SCALAR &&
      promql_expr_type(e) != PROMQL_TYPE_VECTOR) {
    ev_fail(&ev, TC_EEXEC,
            "invalid expression type \"%s\" for range query, must be Scalar "
            "or instant Vector",
            promql_type_name(promql_expr_type(e)));
    goto out;
  }
  if (eval(&ev, e, &v) < 0 || rc < 0)
    goto out;
  res->type = v.type;
  res->t = ev.start;
  switch (v.type) {
  case PROMQL_TYPE_STRING:
    res->str = v.str;
    v.str = NULL;
    if (!instant) {
      res->type = PROMQL_TYPE_MATRIX;
    }
    break;
  case PROMQL_TYPE_SCALAR:
    if (instant) {
      res->scalar = v.sc[0];
      break;
    }
    res->type = PROMQL_TYPE_MATRIX;
    res->series = xcalloc(1, sizeof(struct promql_series));
    res->nseries = 1;
    res->series[0].points = xmalloc(ev.nsteps * sizeof(struct promql_point));
    for (size_t i = 0; i < ev.nsteps; i++)
      res->series[0].points[i] = (struct promql_point){ev_ts(&ev, i), v.sc[i]};
    res->series[0].npoints = ev.nsteps;
    break;
  case PROMQL_TYPE_VECTOR:
    res->series = xcalloc(v.n + 1, sizeof(struct promql_series));
    for (size_t k = 0; k < v.n; k++) {
      struct promql_series *s = &res->series[res->nseries];
      size_t cnt = 0;
      for (size_t i = 0; i < ev.nsteps; i++)
        cnt += v.s[k].ok[i];
      if (!cnt)
        continue;
      s->points = xmalloc(cnt * sizeof(struct promql_point));
      for (size_t i = 0; i < ev.nsteps; i++)
        if (v.s[k].ok[i])
          s->points[s->npoints++] =
              (struct promql_point){ev_ts(&ev, i), v.s[k].v[i]};
      s->labels = v.s[k].lbls;
      memset(&v.s[k].lbls, 0, sizeof(v.s[k].lbls));
      res->nseries++;
    }
    if (!instant) {
      res->type = PROMQL_TYPE_MATRIX;
      qsort(res->series, res->nseries, sizeof(struct promql_series),
            series_cmp);
    }
    break;
  case PROMQL_TYPE_MATRIX: {
    int64_t ref = ref_time(&ev, v.at, v.at_ms, v.offset, 0);
    res->series = xcalloc(v.nm + 1, sizeof(struct promql_series));
    for (size_t k = 0; k < v.nm; k++) {
      struct promql_series *s = &res->series[res->nseries];
      struct mser *m = &v.m[k];
      for (size_t j = 0; j < m->n; j++) {
        if (m->t[j] <= ref - v.range || m->t[j] > ref)
          continue;
        s->points = xrealloc(s->points,
                             (s->npoints + 1) * sizeof(struct promql_point));
        s->points[s->npoints++] = (struct promql_point){m->t[j], m->v[j]};
      }
      if (!s->npoints)
        continue;
      s->labels = m->lbls;
      memset(&m->lbls, 0, sizeof(m->lbls));
      res->nseries++;
    }
    break;
  }
  default:
    break;
  }
out:
  val_release(&v);
  promql_expr_free(e);
  if (rc < 0) {
    char **w = res->warnings;
    size_t nw = res->nwarnings;
    res->warnings = NULL;
    res->nwarnings = 0;
    promql_result_release(res);
    for (size_t i = 0; i < nw; i++)
      free(w[i]);
    free(w);
    if (!*errmsg)
      *errmsg = xstrdup(tc_errmsg(rc));
  }
  return rc;
}
