/*
 * labels.c - the small vocabulary under the PromQL engine: sorted label
 * sets, label matchers on PCRE2 (fully anchored, RE2-like), a string hash
 * map used for grouping and matching, and Go-compatible number and string
 * formatting so printed queries and labels match Prometheus byte for byte.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

/* ---- labels ------------------------------------------------------------- */

static size_t labels_find(const struct promql_labels *ls, const char *name,
                          bool *found) {
  size_t lo = 0, hi = ls->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(ls->v[mid].name, name);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

const char *promql_labels_get(const struct promql_labels *ls,
                              const char *name) {
  bool found;
  size_t i = labels_find(ls, name, &found);
  return found ? ls->v[i].value : NULL;
}

void promql_labels_del(struct promql_labels *ls, const char *name) {
  bool found;
  size_t i = labels_find(ls, name, &found);
  if (!found)
    return;
  free(ls->v[i].name);
  free(ls->v[i].value);
  memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(ls->v[0]));
  ls->n--;
}

void promql_labels_set(struct promql_labels *ls, const char *name,
                       const char *value) {
  bool found;
  size_t i;
  if (!value || !*value) {
    promql_labels_del(ls, name);
    return;
  }
  i = labels_find(ls, name, &found);
  if (found) {
    char *nv = xstrdup(value);
    free(ls->v[i].value);
    ls->v[i].value = nv;
    return;
  }
  ls->v = xrealloc(ls->v, (ls->n + 1) * sizeof(ls->v[0]));
  memmove(&ls->v[i + 1], &ls->v[i], (ls->n - i) * sizeof(ls->v[0]));
  ls->v[i].name = xstrdup(name);
  ls->v[i].value = xstrdup(value);
  ls->n++;
}

void promql_labels_copy(struct promql_labels *dst,
                        const struct promql_labels *src) {
  dst->n = src->n;
  dst->v = src->n ? xmalloc(src->n * sizeof(src->v[0])) : NULL;
  for (size_t i = 0; i < src->n; i++) {
    dst->v[i].name = xstrdup(src->v[i].name);
    dst->v[i].value = xstrdup(src->v[i].value);
  }
}

void promql_labels_release(struct promql_labels *ls) {
  for (size_t i = 0; i < ls->n; i++) {
    free(ls->v[i].name);
    free(ls->v[i].value);
  }
  free(ls->v);
  ls->v = NULL;
  ls->n = 0;
}

int promql_labels_cmp(const struct promql_labels *a,
                      const struct promql_labels *b) {
  size_t n = TC_MIN(a->n, b->n);
  for (size_t i = 0; i < n; i++) {
    int c = strcmp(a->v[i].name, b->v[i].name);
    if (c)
      return c;
    c = strcmp(a->v[i].value, b->v[i].value);
    if (c)
      return c;
  }
  return a->n < b->n ? -1 : a->n > b->n;
}

static int label_cmp(const void *a, const void *b) {
  return strcmp(((const struct promql_label *)a)->name,
                ((const struct promql_label *)b)->name);
}

void promql_labels_sort(struct promql_labels *ls) {
  if (ls->n > 1)
    qsort(ls->v, ls->n, sizeof(ls->v[0]), label_cmp);
}

char *promql_labels_string(const struct promql_labels *ls) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  tc_buf_addc(&b, '{');
  for (size_t i = 0; i < ls->n; i++) {
    if (i)
      tc_buf_adds(&b, ", ");
    if (promql__valid_label_name(ls->v[i].name))
      tc_buf_adds(&b, ls->v[i].name);
    else
      promql__quote(&b, ls->v[i].name);
    tc_buf_addc(&b, '=');
    promql__quote(&b, ls->v[i].value);
  }
  tc_buf_addc(&b, '}');
  return tc_buf_detach(&b, NULL);
}

void promql__labels_key(struct tc_buf *b, const struct promql_labels *ls,
                        char **names, size_t nnames, bool keep,
                        bool drop_name) {
  for (size_t i = 0; i < ls->n; i++) {
    const char *n = ls->v[i].name;
    bool listed = false;
    if (drop_name && strcmp(n, "__name__") == 0)
      continue;
    for (size_t j = 0; j < nnames; j++)
      if (strcmp(names[j], n) == 0) {
        listed = true;
        break;
      }
    if (listed != keep)
      continue;
    tc_buf_add(b, n, strlen(n) + 1);
    tc_buf_add(b, ls->v[i].value, strlen(ls->v[i].value) + 1);
  }
}

/* ---- matchers ----------------------------------------------------------- */

int promql_matcher_compile(struct promql_matcher *m) {
  int err;
  PCRE2_SIZE off;
  char *pat;
  if (m->type != PROMQL_MATCH_RE && m->type != PROMQL_MATCH_NRE)
    return 0;
  pat = xasprintf("^(?:%s)$", m->value);
  m->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                        PCRE2_DOTALL | PCRE2_UTF | PCRE2_NO_UTF_CHECK, &err,
                        &off, NULL);
  free(pat);
  if (!m->re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return tc_error(TC_EPARSE, "error parsing regexp: %s: `%s`", (char *)msg,
                    m->value);
  }
  return 0;
}

bool promql_matcher_matches(const struct promql_matcher *m, const char *v) {
  if (!v)
    v = "";
  switch (m->type) {
  case PROMQL_MATCH_EQ:
    return strcmp(m->value, v) == 0;
  case PROMQL_MATCH_NEQ:
    return strcmp(m->value, v) != 0;
  case PROMQL_MATCH_RE:
  case PROMQL_MATCH_NRE: {
    pcre2_match_data *md;
    int rc;
    bool ok;
    if (!m->re)
      return false;
    md = pcre2_match_data_create_from_pattern(m->re, NULL);
    rc = pcre2_match(m->re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    ok = rc >= 0;
    return m->type == PROMQL_MATCH_RE ? ok : !ok;
  }
  }
  return false;
}

void promql_matcher_release(struct promql_matcher *m) {
  free(m->name);
  free(m->value);
  if (m->re)
    pcre2_code_free(m->re);
  m->name = m->value = NULL;
  m->re = NULL;
}

bool promql_matchers_match(const struct promql_matcher *ms, size_t n,
                           const struct promql_labels *ls) {
  for (size_t i = 0; i < n; i++)
    if (!promql_matcher_matches(&ms[i], promql_labels_get(ls, ms[i].name)))
      return false;
  return true;
}

/* ---- hash map ----------------------------------------------------------- */

static uint64_t map_hash(const char *k, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
  return h;
}

void promql__map_init(struct promql__map *m) { memset(m, 0, sizeof(*m)); }

void promql__map_release(struct promql__map *m) {
  for (size_t i = 0; i < m->cap; i++)
    free(m->keys[i]);
  free(m->keys);
  free(m->klen);
  free(m->vals);
  memset(m, 0, sizeof(*m));
}

static size_t map_slot(const struct promql__map *m, const char *k, size_t n) {
  size_t i = map_hash(k, n) & (m->cap - 1);
  while (m->keys[i] &&
         (m->klen[i] != n || memcmp(m->keys[i], k, n) != 0))
    i = (i + 1) & (m->cap - 1);
  return i;
}

size_t *promql__map_get(struct promql__map *m, const char *k, size_t klen) {
  size_t i;
  if (!m->cap)
    return NULL;
  i = map_slot(m, k, klen);
  return m->keys[i] ? &m->vals[i] : NULL;
}

size_t *promql__map_put(struct promql__map *m, const char *k, size_t klen,
                        size_t dflt, bool *found) {
  size_t i;
  if ((m->n + 1) * 2 > m->cap) {
    struct promql__map old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->keys = xcalloc(m->cap, sizeof(char *));
    m->klen = xcalloc(m->cap, sizeof(size_t));
    m->vals = xcalloc(m->cap, sizeof(size_t));
    for (size_t j = 0; j < old.cap; j++) {
      if (!old.keys[j])
        continue;
      i = map_slot(m, old.keys[j], old.klen[j]);
      m->keys[i] = old.keys[j];
      m->klen[i] = old.klen[j];
      m->vals[i] = old.vals[j];
    }
    free(old.keys);
    free(old.klen);
    free(old.vals);
  }
  i = map_slot(m, k, klen);
  if (m->keys[i]) {
    *found = true;
    return &m->vals[i];
  }
  *found = false;
  m->keys[i] = xmalloc(klen ? klen : 1);
  memcpy(m->keys[i], k, klen);
  m->klen[i] = klen;
  m->vals[i] = dflt;
  m->n++;
  return &m->vals[i];
}

/* ---- formatting --------------------------------------------------------- */

/* Shortest round-trip decimal digits of |v| and the decimal point position:
 * v = 0.DIGITS * 10^dp. */
static void shortest_digits(double v, char *digits, int *nd, int *dp) {
  char tmp[40];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  if (prec > 17)
    prec = 17;
  snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
  /* tmp: d.ddde[+-]xx */
  *nd = 0;
  for (const char *p = tmp; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9')
      digits[(*nd)++] = *p;
  while (*nd > 1 && digits[*nd - 1] == '0')
    (*nd)--;
  *dp = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10) + 1;
}

void promql__fmt_float(struct tc_buf *b, double v) {
  char d[32];
  int nd, dp;
  if (isnan(v)) {
    tc_buf_adds(b, "NaN");
    return;
  }
  if (isinf(v)) {
    tc_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (v == 0) {
    tc_buf_adds(b, signbit(v) ? "-0" : "0");
    return;
  }
  if (v < 0) {
    tc_buf_addc(b, '-');
    v = -v;
  }
  shortest_digits(v, d, &nd, &dp);
  if (dp <= 0) {
    tc_buf_adds(b, "0.");
    for (int i = 0; i < -dp; i++)
      tc_buf_addc(b, '0');
    tc_buf_add(b, d, nd);
    return;
  }
  for (int i = 0; i < dp; i++)
    tc_buf_addc(b, i < nd ? d[i] : '0');
  if (nd > dp) {
    tc_buf_addc(b, '.');
    tc_buf_add(b, d + dp, nd - dp);
  }
}

void promql__fmt_value(struct tc_buf *b, double v) {
  char d[32];
  int nd, dp, exp;
  if (isnan(v) || isinf(v) || v == 0) {
    promql__fmt_float(b, v);
    return;
  }
  if (v < 0) {
    tc_buf_addc(b, '-');
    v = -v;
  }
  shortest_digits(v, d, &nd, &dp);
  exp = dp - 1;
  if (exp < -4 || exp >= 21) {
    tc_buf_addc(b, d[0]);
    if (nd > 1) {
      tc_buf_addc(b, '.');
      tc_buf_add(b, d + 1, nd - 1);
    }
    tc_buf_addf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return;
  }
  promql__fmt_float(b, v);
}

void promql__quote(struct tc_buf *b, const char *s) {
  tc_buf_addc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': tc_buf_adds(b, "\\\""); break;
    case '\\': tc_buf_adds(b, "\\\\"); break;
    case '\n': tc_buf_adds(b, "\\n"); break;
    case '\t': tc_buf_adds(b, "\\t"); break;
    case '\r': tc_buf_adds(b, "\\r"); break;
    case '\a': tc_buf_adds(b, "\\a"); break;
    case '\b': tc_buf_adds(b, "\\b"); break;
    case '\f': tc_buf_adds(b, "\\f"); break;
    case '\v': tc_buf_adds(b, "\\v"); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        tc_buf_addf(b, "\\x%02x", *p);
      else
        tc_buf_addc(b, (char)*p);
    }
  }
  tc_buf_addc(b, '"');
}

static bool name_ok(const char *s, bool colon) {
  if (!*s)
    return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (colon && c == ':') || (p != s && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

bool promql__valid_label_name(const char *s) { return name_ok(s, false); }
bool promql__valid_metric_name(const char *s) { return name_ok(s, true); }

double promql__stale_nan(void) {
  uint64_t bits = 0x7ff0000000000002ULL;
  double v;
  memcpy(&v, &bits, sizeof(v));
  return v;
}

bool promql__is_stale(double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof(v));
  return bits == 0x7ff0000000000002ULL;
}
