/*
 * labels.c - the small vocabulary under the PromQL engine: in-place
 * edits on thanosc/labels.h label sets, matching a label set against
 * matchers, a string hash map used for grouping and matching, and
 * Go-compatible number formatting so printed queries match Prometheus.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/fmtfloat.h"

/* ---- labels ------------------------------------------------------------- */

static size_t labels_find(const struct labels *ls, const char *name,
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

void promql_labels_del(struct labels *ls, const char *name) {
  bool found;
  size_t i = labels_find(ls, name, &found);
  if (!found)
    return;
  if (!(ls->flags & LABELS_BORROWED)) {
    free((char *)ls->v[i].name);
    free((char *)ls->v[i].value);
  }
  memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(ls->v[0]));
  ls->n--;
}

void promql_labels_set(struct labels *ls, const char *name,
                       const char *value) {
  bool found;
  size_t i;
  if (!value || !*value) {
    promql_labels_del(ls, name);
    return;
  }
  if (ls->flags & LABELS_BORROWED)
    TC_BUG("promql_labels_set on a borrowed label set");
  i = labels_find(ls, name, &found);
  if (found) {
    char *nv = xstrdup(value);
    free((char *)ls->v[i].value);
    ls->v[i].value = nv;
    return;
  }
  TC_GROW(ls->v, ls->cap, ls->n + 1);
  memmove(&ls->v[i + 1], &ls->v[i], (ls->n - i) * sizeof(ls->v[0]));
  ls->v[i].name = xstrdup(name);
  ls->v[i].value = xstrdup(value);
  ls->n++;
}

char *promql_labels_string(const struct labels *ls) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  labels_format(ls, &b);
  return tc_buf_detach(&b, NULL);
}

void promql__labels_key(struct tc_buf *b, const struct labels *ls,
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

bool promql_matchers_match(const struct matcher *ms, size_t n,
                           const struct labels *ls) {
  for (size_t i = 0; i < n; i++) {
    const char *v = labels_get(ls, ms[i].name);
    if (!matcher_matches_str(&ms[i], v ? v : ""))
      return false;
  }
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

void promql__fmt_float(struct tc_buf *b, double v) {
  fmtfloat_add(b, v, 'f');
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
