/*
 * promqltest.c - runner for Prometheus's promqltest .test scripts (the DSL
 * described in shared/promql-testdata/README.md): load / load_with_nhcb /
 * clear / eval instant / eval range / eval_fail / eval_ordered / eval_warn /
 * eval_info and the `expect` lines, over the in-memory queryable. Each eval
 * is a case identified by "file:line". Cases that need native histograms or
 * a feature Prometheus keeps behind a flag are skipped with the reason. A
 * list of known failures lets CI pass while the engine is incomplete; only
 * new failures make the run fail.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

struct tline {
  char *s; /* trimmed, owned */
  int no;  /* 1-based line number */
};

struct counts {
  size_t pass, fail, skip;
};

struct runner {
  const struct promql_test_opts *o;
  struct promql__map known;
  FILE *update;
  struct counts total;
  size_t new_failures;
  struct promql_memstore *ms;
  const char *file; /* basename */
  const char *file_skip; /* reason to skip every case of this file */
  const char *fail_skip; /* reason to skip a failing case of this file */
};

static char *trim(char *s) {
  char *e;
  while (isspace((unsigned char)*s))
    s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = 0;
  return s;
}

static int parse_time(const char *s, size_t n, int64_t *ms) {
  double v;
  if (promql_parse_duration(s, n, ms) == 0)
    return 0;
  if (promql_parse_number(s, n, &v) == 0) {
    *ms = (int64_t)llround(v * 1000);
    return 0;
  }
  return -1;
}

/* ---- series values ------------------------------------------------------ */

struct sval {
  bool missing, hist;
  double v;
};

/* Skips one balanced {{...}} group. */
static const char *skip_braces(const char *s) {
  int depth = 0;
  do {
    if (*s == '{')
      depth++;
    else if (*s == '}')
      depth--;
    s++;
  } while (*s && depth > 0);
  return s;
}

/* Expands a values string ("1+2x3 _ stale {{...}}x2") into vals. */
static int parse_values(const char *s, struct sval **out, size_t *n) {
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  while (*s) {
    const char *st;
    char tok[256];
    size_t len;
    while (isspace((unsigned char)*s))
      s++;
    if (!*s)
      break;
    st = s;
    if (s[0] == '{' && s[1] == '{') {
      /* histogram(s): {{...}} [+{{...}}] [xN] */
      s = skip_braces(s);
      if (*s == '+' || *s == '-')
        s = skip_braces(s + 1);
      long cnt = 0;
      if (*s == 'x') {
        cnt = strtol(s + 1, (char **)&s, 10);
      }
      for (long i = 0; i <= cnt; i++) {
        TC_GROW(*out, cap, *n + 1);
        (*out)[(*n)++] = (struct sval){false, true, 0};
      }
      continue;
    }
    while (*s && !isspace((unsigned char)*s))
      s++;
    len = (size_t)(s - st);
    if (len >= sizeof(tok))
      return -1;
    memcpy(tok, st, len);
    tok[len] = 0;
    if (tok[0] == '_') {
      long cnt = 1;
      if (tok[1] == 'x')
        cnt = strtol(tok + 2, NULL, 10);
      for (long i = 0; i < cnt; i++) {
        TC_GROW(*out, cap, *n + 1);
        (*out)[(*n)++] = (struct sval){true, false, 0};
      }
      continue;
    }
    if (strcmp(tok, "stale") == 0) {
      TC_GROW(*out, cap, *n + 1);
      (*out)[(*n)++] = (struct sval){false, false, promql__stale_nan()};
      continue;
    }
    {
      double v, a, b = 0;
      char *x = strrchr(tok, 'x');
      /* "0x59" is 60 zeros in series descriptions; hex needs a letter */
      bool hex = x && strpbrk(x + 1, "abcdefABCDEF") != NULL;
      if (promql_parse_number(tok, len, &v) == 0 && (hex || !x)) {
        TC_GROW(*out, cap, *n + 1);
        (*out)[(*n)++] = (struct sval){false, false, v};
        continue;
      }
      if (!x || !x[1])
        return -1;
      long cnt = strtol(x + 1, NULL, 10);
      size_t blen = (size_t)(x - tok);
      size_t op = 0;
      for (size_t i = 1; i < blen; i++)
        if ((tok[i] == '+' || tok[i] == '-') && tok[i - 1] != 'e' &&
            tok[i - 1] != 'E')
          op = i;
      if (op) {
        if (promql_parse_number(tok, op, &a) < 0 ||
            promql_parse_number(tok + op + 1, blen - op - 1, &b) < 0)
          return -1;
        if (tok[op] == '-')
          b = -b;
      } else if (promql_parse_number(tok, blen, &a) < 0) {
        return -1;
      }
      for (long i = 0; i <= cnt; i++) {
        TC_GROW(*out, cap, *n + 1);
        (*out)[(*n)++] = (struct sval){false, false, a + b * (double)i};
      }
    }
  }
  return 0;
}

/* Parses "metric values..." into labels and values. */
static int parse_series_line(const char *line, struct labels *l,
                             struct sval **vals, size_t *n, char **err) {
  size_t consumed = 0;
  const char *p = line;
  while (isspace((unsigned char)*p))
    p++;
  if (strncmp(p, "{}", 2) == 0) {
    memset(l, 0, sizeof(*l));
    consumed = (size_t)(p - line) + 2;
  } else {
    /* the metric ends at the first whitespace outside braces/quotes */
    size_t i = 0;
    int depth = 0;
    char q = 0;
    for (; p[i]; i++) {
      if (q) {
        if (p[i] == '\\' && p[i + 1])
          i++;
        else if (p[i] == q)
          q = 0;
        continue;
      }
      if (p[i] == '"' || p[i] == '\'' || p[i] == '`')
        q = p[i];
      else if (p[i] == '{')
        depth++;
      else if (p[i] == '}')
        depth--;
      else if (isspace((unsigned char)p[i]) && depth == 0)
        break;
    }
    if (promql__parse_metric(p, i, l, &consumed, err) < 0)
      return -1;
    consumed = (size_t)(p - line) + i;
  }
  if (parse_values(line + consumed, vals, n) < 0) {
    labels_release(l);
    *err = xstrdup("bad values");
    return -1;
  }
  return 0;
}

/* ---- expectations ------------------------------------------------------- */

static bool almost_equal(double a, double b) {
  double sum, diff;
  const double eps = 1e-6, minnorm = 2.2250738585072014e-308;
  if (isnan(a) && isnan(b))
    return true;
  if (a == b)
    return true;
  sum = fabs(a) + fabs(b);
  diff = fabs(a - b);
  if (a == 0 || b == 0 || sum < minnorm)
    return diff < eps * minnorm;
  return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

struct expect_series {
  struct labels l;
  struct sval *v;
  size_t n;
  bool scalar;
};

struct evalcase {
  int line;
  bool range;
  int64_t start, end, step;
  char *expr;
  bool fail, ordered, warn, info, no_warn, no_info;
  /* `expect warn|info msg:|regex:` lines: [0] warnings, [1] infos */
  char **amsg[2], **are[2];
  size_t namsg[2], nare[2];
  char *fail_msg, *fail_re;
  bool has_string;
  char *string;
  bool range_vector; /* expect range vector */
  int64_t rv_start, rv_end, rv_step;
  struct expect_series *es;
  size_t nes;
  bool has_hist;
};

static void strv_push(char ***v, size_t *n, const char *s) {
  *v = xrealloc(*v, (*n + 1) * sizeof(char *));
  (*v)[(*n)++] = xstrdup(s);
}

static void evalcase_release(struct evalcase *c) {
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < c->namsg[k]; i++)
      free(c->amsg[k][i]);
    for (size_t i = 0; i < c->nare[k]; i++)
      free(c->are[k][i]);
    free(c->amsg[k]);
    free(c->are[k]);
  }
  free(c->expr);
  free(c->fail_msg);
  free(c->fail_re);
  free(c->string);
  for (size_t i = 0; i < c->nes; i++) {
    labels_release(&c->es[i].l);
    free(c->es[i].v);
  }
  free(c->es);
}

static bool regex_match(const char *re, const char *s) {
  int err;
  PCRE2_SIZE off;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                PCRE2_UTF, &err, &off, NULL);
  pcre2_match_data *md;
  int rc;
  if (!c)
    return false;
  md = pcre2_match_data_create_from_pattern(c, NULL);
  rc = pcre2_match(c, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
  pcre2_match_data_free(md);
  pcre2_code_free(c);
  return rc >= 0;
}

static const char *feature_reason(const char *expr) {
  static const struct {
    const char *needle, *reason;
  } f[] = {
      {"anchored", "feature flag: extended range selectors"},
      {"smoothed", "feature flag: extended range selectors"},
      {"step()", "feature flag: duration expressions"},
      {"range()", "feature flag: duration expressions"},
      {"fill(", "feature flag: fill modifiers"},
      {"fill_left", "feature flag: fill modifiers"},
      {"fill_right", "feature flag: fill modifiers"},
      {"__type__", "feature flag: type-and-unit labels"},
      {"__unit__", "feature flag: type-and-unit labels"},
      {"info(", "feature flag: experimental function info()"},
  };
  for (size_t i = 0; i < TC_ARRAY_SIZE(f); i++)
    if (strstr(expr, f[i].needle))
      return f[i].reason;
  for (const char *p = expr; (p = strstr(p, "start()")) || 0; p++)
    if (p == expr || !strchr("@ ", p[-1]) ||
        (p > expr + 1 && p[-1] == ' ' && p[-2] != '@'))
      return "feature flag: duration expressions (start())";
  for (const char *p = expr; (p = strstr(p, "end()")) || 0; p++)
    if (p == expr || !strchr("@ ", p[-1]) ||
        (p > expr + 1 && p[-1] == ' ' && p[-2] != '@'))
      return "feature flag: duration expressions (end())";
  /* arithmetic inside [...] or after offset/@: duration expressions */
  for (const char *p = strchr(expr, '['); p; p = strchr(p + 1, '[')) {
    const char *e = strchr(p, ']');
    for (const char *q = p + 1; e && q < e; q++)
      if (*q == '+' || *q == '*' || *q == '/' || *q == '(' || *q == '%' ||
          *q == '^' || (*q == '-' && q > p + 1))
        return "feature flag: duration expressions";
  }
  {
    const char *o = strstr(expr, "offset");
    while (o) {
      const char *q = o + 6;
      while (*q == ' ')
        q++;
      if (*q == '(' || *q == '-' ) {
        if (*q == '(')
          return "feature flag: duration expressions";
      }
      for (; *q && *q != ')' && *q != ' '; q++)
        if (*q == '+' || *q == '*' || *q == '/')
          return "feature flag: duration expressions";
      o = strstr(o + 1, "offset");
    }
  }
  return NULL;
}

/* Compares result and expectation; returns NULL or a message (owned). */
static char *check(struct evalcase *c, struct promql_result *r) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  if (c->warn || c->info) {
    bool have_w = false, have_i = false;
    for (size_t i = 0; i < r->nwarnings; i++) {
      if (strstr(r->warnings[i], "PromQL info"))
        have_i = true;
      else
        have_w = true;
    }
    if (c->warn && !have_w)
      return xstrdup("expected warnings, got none");
    if (c->info && !have_i)
      return xstrdup("expected info annotations, got none");
  }
  for (int k = 0; k < 2; k++) {
    /* every expected message must be produced; with expectations, every
     * produced annotation of that kind must be expected */
    for (size_t i = 0; i < c->namsg[k]; i++) {
      bool found = false;
      for (size_t j = 0; j < r->nwarnings && !found; j++)
        found = strcmp(r->warnings[j], c->amsg[k][i]) == 0;
      if (!found)
        return xasprintf("expected annotation \"%s\"%s%s", c->amsg[k][i],
                         r->nwarnings ? ", got " : "",
                         r->nwarnings ? r->warnings[0] : "");
    }
    for (size_t i = 0; i < c->nare[k]; i++) {
      bool found = false;
      for (size_t j = 0; j < r->nwarnings && !found; j++)
        found = regex_match(c->are[k][i], r->warnings[j]);
      if (!found)
        return xasprintf("expected annotation matching /%s/", c->are[k][i]);
    }
    if (c->namsg[k] + c->nare[k] == 0)
      continue;
    for (size_t j = 0; j < r->nwarnings; j++) {
      bool info = strncmp(r->warnings[j], "PromQL info", 11) == 0;
      bool ok = false;
      if (info != (k == 1))
        continue;
      for (size_t i = 0; i < c->namsg[k] && !ok; i++)
        ok = strcmp(r->warnings[j], c->amsg[k][i]) == 0;
      for (size_t i = 0; i < c->nare[k] && !ok; i++)
        ok = regex_match(c->are[k][i], r->warnings[j]);
      if (!ok)
        return xasprintf("unexpected annotation: %s", r->warnings[j]);
    }
  }
  if (c->no_warn || c->no_info) {
    for (size_t i = 0; i < r->nwarnings; i++) {
      bool info = strstr(r->warnings[i], "PromQL info") != NULL;
      if ((info && c->no_info) || (!info && c->no_warn))
        return xasprintf("unexpected annotation: %s", r->warnings[i]);
    }
  }
  if (c->has_string) {
    if (r->type != PROMQL_TYPE_STRING || strcmp(r->str, c->string) != 0)
      return xasprintf("expected string \"%s\"", c->string);
    return NULL;
  }
  if (c->nes == 1 && c->es[0].scalar) {
    if (r->type != PROMQL_TYPE_SCALAR)
      return xasprintf("expected scalar, got %s", promql_type_name(r->type));
    if (!almost_equal(r->scalar, c->es[0].v[0].v))
      return xasprintf("expected scalar %g, got %g", c->es[0].v[0].v,
                       r->scalar);
    return NULL;
  }
  if (r->type == PROMQL_TYPE_SCALAR)
    return xasprintf("expected vector, got scalar %g", r->scalar);
  if (r->type == PROMQL_TYPE_STRING)
    return xstrdup("unexpected string result");
  if (r->nseries != c->nes) {
    char *m = xasprintf("expected %zu series, got %zu", c->nes, r->nseries);
    tc_buf_adds(&b, m);
    free(m);
    for (size_t i = 0; i < r->nseries && i < 5; i++) {
      char *ls = promql_labels_string(&r->series[i].labels);
      tc_buf_addf(&b, " %s=%g", ls,
                  r->series[i].npoints ? r->series[i].points[0].v : NAN);
      free(ls);
    }
    return tc_buf_detach(&b, NULL);
  }
  for (size_t i = 0; i < r->nseries; i++) {
    struct promql_series *s = &r->series[i];
    struct expect_series *e = NULL;
    if (c->ordered) {
      if (labels_compare(&c->es[i].l, &s->labels) == 0)
        e = &c->es[i];
    } else {
      for (size_t j = 0; j < c->nes && !e; j++)
        if (labels_compare(&c->es[j].l, &s->labels) == 0)
          e = &c->es[j];
    }
    if (!e) {
      char *ls = promql_labels_string(&s->labels);
      char *m = xasprintf("unexpected series %s%s", ls,
                          c->ordered ? " (or wrong order)" : "");
      free(ls);
      return m;
    }
    if (!c->range && !c->range_vector) {
      if (s->npoints != 1 || e->n != 1 || !almost_equal(s->points[0].v,
                                                          e->v[0].v)) {
        char *ls = promql_labels_string(&s->labels);
        char *m = xasprintf("series %s: expected %g, got %g", ls,
                            e->n ? e->v[0].v : NAN,
                            s->npoints ? s->points[0].v : NAN);
        free(ls);
        return m;
      }
      continue;
    }
    {
      int64_t st = c->range_vector ? c->rv_start : c->start;
      int64_t step = c->range_vector ? c->rv_step : c->step;
      size_t k = 0;
      char *ls = NULL;
      for (size_t j = 0; j < e->n; j++) {
        int64_t t = st + (int64_t)j * step;
        if (e->v[j].missing)
          continue;
        if (k >= s->npoints || s->points[k].t != t ||
            !almost_equal(s->points[k].v, e->v[j].v)) {
          ls = promql_labels_string(&s->labels);
          char *m = xasprintf(
              "series %s: at t=%lld expected %g, got %s%g at %lld", ls,
              (long long)t, e->v[j].v, k < s->npoints ? "" : "nothing ",
              k < s->npoints ? s->points[k].v : 0,
              k < s->npoints ? (long long)s->points[k].t : 0LL);
          free(ls);
          return m;
        }
        k++;
      }
      if (k != s->npoints) {
        ls = promql_labels_string(&s->labels);
        char *m = xasprintf("series %s: %zu extra points", ls,
                            s->npoints - k);
        free(ls);
        return m;
      }
    }
  }
  return NULL;
}

static void report(struct runner *R, struct counts *fc, int line,
                   const char *status, const char *msg) {
  char id[512];
  snprintf(id, sizeof(id), "%s:%d", R->file, line);
  if (strcmp(status, "pass") == 0) {
    fc->pass++;
    if (promql__map_get(&R->known, id, strlen(id)) && R->o->verbose)
      printf("FIXED %s (listed as a known failure)\n", id);
    return;
  }
  if (strcmp(status, "skip") == 0) {
    fc->skip++;
    printf("SKIP %s: %s\n", id, msg);
    return;
  }
  fc->fail++;
  if (R->update)
    fprintf(R->update, "%s\n", id);
  if (promql__map_get(&R->known, id, strlen(id))) {
    if (R->o->verbose)
      printf("known FAIL %s: %s\n", id, msg);
    return;
  }
  R->new_failures++;
  printf("FAIL %s: %s\n", id, msg);
}

static void run_case(struct runner *R, struct counts *fc,
                     struct evalcase *c) {
  struct promql_engine_opts eo;
  struct promql_query q = {0};
  struct promql_result res;
  char *err = NULL, *msg = NULL;
  int rc;
  const char *fr;
  if (R->file_skip) {
    report(R, fc, c->line, "skip", R->file_skip);
    return;
  }
  if (c->has_hist) {
    report(R, fc, c->line, "skip", "native histograms");
    return;
  }
  promql_engine_opts_default(&eo);
  eo.experimental_functions = true;
  eo.max_samples = 0;
  q.expr = c->expr;
  q.start_ms = c->start;
  q.end_ms = c->range ? c->end : c->start;
  q.step_ms = c->range ? c->step : 0;
  rc = promql_exec(&eo, promql_memstore_queryable(R->ms), &q, &res, &err);
  if (rc < 0) {
    if (rc == TC_ENOTSUP && strstr(err, "native histograms")) {
      report(R, fc, c->line, "skip", "native histograms");
    } else if (rc == TC_EPARSE &&
               (strstr(c->expr, ">/") || strstr(c->expr, "</"))) {
      report(R, fc, c->line, "skip", "native histograms (trim operators)");
    } else if (rc == TC_EPARSE && (fr = feature_reason(c->expr))) {
      report(R, fc, c->line, "skip", fr);
    } else if (!c->fail && R->fail_skip) {
      report(R, fc, c->line, "skip", R->fail_skip);
    } else if (!c->fail) {
      msg = xasprintf("unexpected error: %s", err);
      report(R, fc, c->line, "fail", msg);
    } else if (c->fail_msg && strcmp(c->fail_msg, err) != 0) {
      msg = xasprintf("expected error \"%s\", got \"%s\"", c->fail_msg, err);
      report(R, fc, c->line, "fail", msg);
    } else if (c->fail_re && !regex_match(c->fail_re, err)) {
      msg = xasprintf("error \"%s\" does not match /%s/", err, c->fail_re);
      report(R, fc, c->line, "fail", msg);
    } else {
      report(R, fc, c->line, "pass", NULL);
    }
    free(err);
    free(msg);
    return;
  }
  if (c->fail) {
    if ((fr = feature_reason(c->expr)))
      report(R, fc, c->line, "skip", fr);
    else
      report(R, fc, c->line, "fail", "expected an error, query succeeded");
    promql_result_release(&res);
    return;
  }
  msg = check(c, &res);
  if (msg && (fr = feature_reason(c->expr)))
    report(R, fc, c->line, "skip", fr);
  else if (msg && R->fail_skip)
    report(R, fc, c->line, "skip", R->fail_skip);
  else
    report(R, fc, c->line, msg ? "fail" : "pass", msg);
  free(msg);
  promql_result_release(&res);
}

/* ---- script ------------------------------------------------------------- */

static void do_load(struct runner *R, struct tline *ls, size_t n, size_t *i,
                    bool nhcb) {
  char *args = ls[*i].s + (nhcb ? 14 : 4);
  int64_t step;
  args = trim(args);
  if (parse_time(args, strlen(args), &step) < 0) {
    fprintf(stderr, "%s:%d: bad load step\n", R->file, ls[*i].no);
    step = 60000;
  }
  for ((*i)++; *i < n && ls[*i].s[0]; (*i)++) {
    struct labels l;
    struct sval *v;
    size_t nv;
    char *err = NULL;
    if (strstr(ls[*i].s, "@st "))
      continue;
    if (parse_series_line(ls[*i].s, &l, &v, &nv, &err) < 0) {
      fprintf(stderr, "%s:%d: bad series line: %s\n", R->file, ls[*i].no,
              err ? err : "");
      free(err);
      continue;
    }
    for (size_t k = 0; k < nv; k++) {
      if (v[k].missing)
        continue;
      promql_memstore_add(R->ms, &l, (int64_t)k * step, v[k].v, v[k].hist);
    }
    if (nhcb) {
      const char *name = labels_get(&l, "__name__");
      size_t nl = name ? strlen(name) : 0;
      if (nl > 7 && strcmp(name + nl - 7, "_bucket") == 0) {
        char *base = xstrndup(name, nl - 7);
        promql_labels_set(&l, "__name__", base);
        promql_labels_del(&l, "le");
        for (size_t k = 0; k < nv; k++)
          if (!v[k].missing)
            promql_memstore_add(R->ms, &l, (int64_t)k * step, 0, true);
        free(base);
      }
    }
    labels_release(&l);
    free(v);
  }
}

static int parse_eval(struct runner *R, struct tline *ls, size_t n, size_t *i,
                      struct evalcase *c) {
  char *s = ls[*i].s;
  char *kw = s;
  char *rest;
  size_t cap = 0;
  memset(c, 0, sizeof(*c));
  c->line = ls[*i].no;
  rest = strchr(s, ' ');
  if (!rest)
    return -1;
  *rest++ = 0;
  if (strcmp(kw, "eval_fail") == 0)
    c->fail = true;
  else if (strcmp(kw, "eval_ordered") == 0)
    c->ordered = true;
  else if (strcmp(kw, "eval_warn") == 0)
    c->warn = true;
  else if (strcmp(kw, "eval_info") == 0)
    c->info = true;
  rest = trim(rest);
  if (strncmp(rest, "instant at ", 11) == 0) {
    char *t = rest + 11, *e = t;
    while (*e && !isspace((unsigned char)*e))
      e++;
    if (parse_time(t, (size_t)(e - t), &c->start) < 0)
      return -1;
    c->expr = xstrdup(trim(e));
  } else if (strncmp(rest, "range from ", 11) == 0) {
    char a[64], b[64], st[64];
    int used = 0;
    if (sscanf(rest + 11, "%63s to %63s step %63s %n", a, b, st, &used) < 3 ||
        !used)
      return -1;
    if (parse_time(a, strlen(a), &c->start) < 0 ||
        parse_time(b, strlen(b), &c->end) < 0 ||
        parse_time(st, strlen(st), &c->step) < 0)
      return -1;
    c->range = true;
    c->expr = xstrdup(trim(rest + 11 + used));
  } else {
    return -1;
  }
  for ((*i)++; *i < n && ls[*i].s[0]; (*i)++) {
    char *l = ls[*i].s;
    if (strncmp(l, "expect ", 7) == 0) {
      char *x = trim(l + 7);
      if (strncmp(x, "fail", 4) == 0) {
        c->fail = true;
        if (strncmp(x, "fail msg:", 9) == 0)
          c->fail_msg = xstrdup(trim(x + 9));
        else if (strncmp(x, "fail regex:", 11) == 0)
          c->fail_re = xstrdup(trim(x + 11));
      } else if (strcmp(x, "ordered") == 0) {
        c->ordered = true;
      } else if (strncmp(x, "no_warn", 7) == 0) {
        c->no_warn = true;
      } else if (strncmp(x, "no_info", 7) == 0) {
        c->no_info = true;
      } else if (strncmp(x, "warn", 4) == 0 || strncmp(x, "info", 4) == 0) {
        int k = x[0] == 'i';
        char *arg = trim(x + 4);
        if (k)
          c->info = true;
        else
          c->warn = true;
        if (strncmp(arg, "msg:", 4) == 0)
          strv_push(&c->amsg[k], &c->namsg[k], trim(arg + 4));
        else if (strncmp(arg, "regex:", 6) == 0)
          strv_push(&c->are[k], &c->nare[k], trim(arg + 6));
      } else if (strncmp(x, "string ", 7) == 0) {
        char *v = trim(x + 7);
        size_t vl = strlen(v);
        c->has_string = true;
        if (vl >= 2 && (v[0] == '"' || v[0] == '`' || v[0] == '\'')) {
          struct promql_expr *pe;
          char *err;
          if (promql_parse(v, NULL, &pe, &err) == 0 &&
              pe->kind == PROMQL_STRING_LIT) {
            c->string = xstrdup(pe->str);
          } else {
            c->string = xstrndup(v + 1, vl - 2);
          }
          if (pe)
            promql_expr_free(pe);
          free(err);
        } else {
          c->string = xstrdup(v);
        }
      } else if (strncmp(x, "range vector from ", 18) == 0) {
        char a[64], b[64], st[64];
        if (sscanf(x + 18, "%63s to %63s step %63s", a, b, st) != 3 ||
            parse_time(a, strlen(a), &c->rv_start) < 0 ||
            parse_time(b, strlen(b), &c->rv_end) < 0 ||
            parse_time(st, strlen(st), &c->rv_step) < 0)
          return -1;
        c->range_vector = true;
      }
      continue;
    }
    if (strncmp(l, "expected_fail_message ", 22) == 0) {
      c->fail_msg = xstrdup(trim(l + 22));
      continue;
    }
    if (strncmp(l, "expected_fail_regexp ", 21) == 0) {
      c->fail_re = xstrdup(trim(l + 21));
      continue;
    }
    {
      struct expect_series es = {0};
      char *err = NULL;
      double v;
      if (strstr(l, "{{"))
        c->has_hist = true;
      if (promql_parse_number(l, strlen(l), &v) == 0) {
        es.scalar = true;
        es.v = xmalloc(sizeof(struct sval));
        es.v[0] = (struct sval){false, false, v};
        es.n = 1;
      } else if (parse_series_line(l, &es.l, &es.v, &es.n, &err) < 0) {
        if (!c->has_hist)
          fprintf(stderr, "%s:%d: bad expectation: %s\n", R->file, ls[*i].no,
                  err ? err : "");
        free(err);
        continue;
      }
      TC_GROW(c->es, cap, c->nes + 1);
      c->es[c->nes++] = es;
    }
  }
  return 0;
}

static int run_file(struct runner *R, const char *path) {
  FILE *f = fopen(path, "r");
  struct tline *ls = NULL;
  size_t n = 0, cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  int no = 0;
  struct counts fc = {0};
  const char *base;
  static const struct {
    const char *file, *reason;
  } skips[] = {
      {"duration_expression.test", "feature flag: duration expressions"},
      {"extended_vectors.test", "feature flag: extended range selectors"},
      {"fill-modifier.test", "feature flag: fill modifiers"},
      {"type_and_unit.test", "feature flag: type-and-unit labels"},
      {"start_timestamps.test", "feature flag: start timestamps"},
      {"info.test", "feature flag: experimental function info()"},
  };
  if (!f) {
    fprintf(stderr, "cannot open '%s'\n", path);
    return -1;
  }
  base = strrchr(path, '/');
  base = base ? base + 1 : path;
  R->file = base;
  R->file_skip = NULL;
  for (size_t i = 0; i < TC_ARRAY_SIZE(skips); i++)
    if (strcmp(base, skips[i].file) == 0)
      R->file_skip = skips[i].reason;
  /* Its cases assume --enable-feature=promql-delayed-name-removal; a case
   * that fails there is one whose answer depends on that flag. */
  R->fail_skip = strcmp(base, "name_label_dropping.test") == 0
                     ? "feature flag: delayed name removal"
                     : NULL;
  while (getline(&line, &lcap, f) >= 0) {
    char *t = trim(line);
    no++;
    if (t[0] == '#')
      t = "";
    TC_GROW(ls, cap, n + 1);
    ls[n].s = xstrdup(t);
    ls[n].no = no;
    n++;
  }
  free(line);
  fclose(f);
  R->ms = promql_memstore_new();
  for (size_t i = 0; i < n;) {
    char *s = ls[i].s;
    if (!s[0]) {
      i++;
      continue;
    }
    if (strncmp(s, "load_with_nhcb ", 15) == 0) {
      do_load(R, ls, n, &i, true);
    } else if (strncmp(s, "load ", 5) == 0) {
      do_load(R, ls, n, &i, false);
    } else if (strcmp(s, "clear") == 0) {
      promql_memstore_free(R->ms);
      R->ms = promql_memstore_new();
      i++;
    } else if (strncmp(s, "eval", 4) == 0) {
      struct evalcase c;
      int ln = ls[i].no;
      if (parse_eval(R, ls, n, &i, &c) < 0) {
        report(R, &fc, ln, "fail", "cannot parse eval command");
        while (i < n && ls[i].s[0])
          i++;
      } else {
        run_case(R, &fc, &c);
      }
      evalcase_release(&c);
    } else {
      fprintf(stderr, "%s:%d: unknown command '%s'\n", base, ls[i].no, s);
      while (i < n && ls[i].s[0])
        i++;
    }
  }
  promql_memstore_free(R->ms);
  R->ms = NULL;
  for (size_t i = 0; i < n; i++)
    free(ls[i].s);
  free(ls);
  printf("%s: %zu passed, %zu failed, %zu skipped\n", base, fc.pass, fc.fail,
         fc.skip);
  R->total.pass += fc.pass;
  R->total.fail += fc.fail;
  R->total.skip += fc.skip;
  return 0;
}

int promql_test_run(char **files, size_t nfiles,
                    const struct promql_test_opts *o) {
  struct runner R;
  int rc = 0;
  memset(&R, 0, sizeof(R));
  R.o = o;
  promql__map_init(&R.known);
  if (o->known_failures) {
    FILE *f = fopen(o->known_failures, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) >= 0) {
      char *t = trim(line);
      bool found;
      if (t[0] && t[0] != '#')
        promql__map_put(&R.known, t, strlen(t), 1, &found);
    }
    free(line);
    if (f)
      fclose(f);
  }
  if (o->update && !(R.update = fopen(o->update, "w"))) {
    fprintf(stderr, "cannot write '%s'\n", o->update);
    return 1;
  }
  if (R.update)
    fprintf(R.update, "# PromQL conformance cases that fail today "
                      "(regenerate: scripts/promql-conformance.sh --update)\n");
  for (size_t i = 0; i < nfiles; i++)
    if (run_file(&R, files[i]) < 0)
      rc = 1;
  if (R.update)
    fclose(R.update);
  if (R.new_failures && !o->update) {
    printf("%zu failure(s) not in the known-failures list\n", R.new_failures);
    rc = 1;
  }
  /* the summary is always the last line */
  printf("promql conformance: %zu passed, %zu failed, %zu skipped\n",
         R.total.pass, R.total.fail, R.total.skip);
  promql__map_release(&R.known);
  return rc;
}
