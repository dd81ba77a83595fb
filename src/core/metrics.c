/*
 * metrics.c - the process-wide metrics registry (see metrics.h).
 *
 * Families live in a list sorted by name; each family keeps its children in
 * a small open-addressing hash table keyed by the label values. A family's
 * mutex guards its children and their values, so updates from worker
 * threads and the loop never race. Nothing is freed before exit: metrics,
 * like in Prometheus's client library, live as long as the process.
 */
#include "thanosc/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/fmtfloat.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric_child {
  char **values;      /* one per label name */
  double value;       /* counter, gauge; histogram: sum */
  uint64_t count;     /* histogram: observations */
  uint64_t *buckets;  /* histogram: per-bucket (not cumulative) counts */
  struct metric *m;
};

struct metric {
  char *name;
  char *help;
  enum metric_type type;
  char **labels;
  size_t nlabels;
  double *bounds;
  size_t nbounds;
  pthread_mutex_t mu;
  struct metric_child **children;
  size_t nchildren, cap;
  struct metric *next;
};

struct collector {
  metrics_collect_fn *fn;
  void *data;
  struct collector *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric *families;
static struct collector *collectors;

static const double default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,    2.5,   5,    10};

static void split_labels(struct metric *m, const char *labels) {
  if (!labels || !*labels)
    return;
  const char *p = labels;
  size_t cap = 0;
  while (*p) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    TC_GROW(m->labels, cap, m->nlabels + 1);
    m->labels[m->nlabels++] = xstrndup(p, n);
    p += n + (c != NULL);
  }
}

static struct metric *metric_register(enum metric_type type, const char *name,
                                      const char *help, const char *labels,
                                      const double *bounds, size_t nbounds) {
  pthread_mutex_lock(&registry_mu);
  struct metric **pp = &families;
  while (*pp && strcmp((*pp)->name, name) < 0)
    pp = &(*pp)->next;
  if (*pp && !strcmp((*pp)->name, name)) {
    struct metric *m = *pp;
    pthread_mutex_unlock(&registry_mu);
    if (m->type != type)
      TC_BUG("metric '%s' registered with two types", name);
    return m;
  }
  struct metric *m = xcalloc(1, sizeof *m);
  m->name = xstrdup(name);
  m->help = xstrdup(help ? help : "");
  m->type = type;
  split_labels(m, labels);
  if (type == METRIC_HISTOGRAM) {
    if (!bounds) {
      bounds = default_buckets;
      nbounds = TC_ARRAY_SIZE(default_buckets);
    }
    m->bounds = xmalloc(nbounds * sizeof *m->bounds);
    memcpy(m->bounds, bounds, nbounds * sizeof *m->bounds);
    m->nbounds = nbounds;
  }
  pthread_mutex_init(&m->mu, NULL);
  m->next = *pp;
  *pp = m;
  pthread_mutex_unlock(&registry_mu);
  return m;
}

struct metric *metric_counter(const char *name, const char *help,
                              const char *labels) {
  return metric_register(METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric *metric_gauge(const char *name, const char *help,
                            const char *labels) {
  return metric_register(METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric *metric_histogram(const char *name, const char *help,
                                const char *labels, const double *buckets,
                                size_t nbuckets) {
  return metric_register(METRIC_HISTOGRAM, name, help, labels, buckets,
                         nbuckets);
}

/*
 * Children are kept sorted by label values so the exposition is stable;
 * lookup is a binary search. Families have few children in practice.
 */
static int child_cmp(const char *const *a, const char *const *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int c = strcmp(a[i], b[i]);
    if (c)
      return c;
  }
  return 0;
}

struct metric_child *metric_withv(struct metric *m, const char *const *vals) {
  pthread_mutex_lock(&m->mu);
  size_t lo = 0, hi = m->nchildren;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = child_cmp((const char *const *)m->children[mid]->values, vals,
                      m->nlabels);
    if (c == 0) {
      struct metric_child *found = m->children[mid];
      pthread_mutex_unlock(&m->mu);
      return found;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  struct metric_child *c = xcalloc(1, sizeof *c);
  c->m = m;
  c->values = xcalloc(m->nlabels + 1, sizeof *c->values);
  for (size_t i = 0; i < m->nlabels; i++)
    c->values[i] = xstrdup(vals[i] ? vals[i] : "");
  if (m->type == METRIC_HISTOGRAM)
    c->buckets = xcalloc(m->nbounds + 1, sizeof *c->buckets);
  TC_GROW(m->children, m->cap, m->nchildren + 1);
  memmove(m->children + lo + 1, m->children + lo,
          (m->nchildren - lo) * sizeof *m->children);
  m->children[lo] = c;
  m->nchildren++;
  pthread_mutex_unlock(&m->mu);
  return c;
}

struct metric_child *metric_with(struct metric *m, ...) {
  const char *vals[16];
  va_list ap;
  if (m->nlabels > TC_ARRAY_SIZE(vals))
    TC_BUG("metric '%s' has too many labels", m->name);
  va_start(ap, m);
  for (size_t i = 0; i < m->nlabels; i++)
    vals[i] = va_arg(ap, const char *);
  va_end(ap);
  return metric_withv(m, vals);
}

void metric_add(struct metric_child *c, double v) {
  pthread_mutex_lock(&c->m->mu);
  c->value += v;
  pthread_mutex_unlock(&c->m->mu);
}

void metric_inc(struct metric_child *c) { metric_add(c, 1); }

void metric_set(struct metric_child *c, double v) {
  pthread_mutex_lock(&c->m->mu);
  c->value = v;
  pthread_mutex_unlock(&c->m->mu);
}

void metric_set_now(struct metric_child *c) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  metric_set(c, (double)ts.tv_sec + ts.tv_nsec / 1e9);
}

void metric_observe(struct metric_child *c, double v) {
  struct metric *m = c->m;
  size_t i = 0;
  while (i < m->nbounds && v > m->bounds[i])
    i++;
  pthread_mutex_lock(&m->mu);
  c->buckets[i]++;
  c->count++;
  c->value += v;
  pthread_mutex_unlock(&m->mu);
}

double metric_value(struct metric_child *c) {
  pthread_mutex_lock(&c->m->mu);
  double v = c->value;
  pthread_mutex_unlock(&c->m->mu);
  return v;
}

void metrics_add_collector(metrics_collect_fn *fn, void *data) {
  struct collector *c = xcalloc(1, sizeof *c);
  c->fn = fn;
  c->data = data;
  pthread_mutex_lock(&registry_mu);
  c->next = collectors;
  collectors = c;
  pthread_mutex_unlock(&registry_mu);
}

/* Prometheus text format: client_golang writes floats as Go's 'g' shortest
 * (1e+06, 0.005, +Inf) except that both zeros are "0". */
static void add_float(struct tc_buf *b, double v) {
  fmtfloat_add(b, v == 0 ? 0 : v, 'g');
}

static void add_escaped(struct tc_buf *b, const char *s, int quote) {
  for (; *s; s++) {
    if (*s == '\\')
      tc_buf_adds(b, "\\\\");
    else if (*s == '\n')
      tc_buf_adds(b, "\\n");
    else if (quote && *s == '"')
      tc_buf_adds(b, "\\\"");
    else
      tc_buf_addc(b, *s);
  }
}

static void add_labels(struct tc_buf *b, const struct metric *m,
                       const struct metric_child *c, const char *extra_name,
                       const char *extra_value) {
  if (!m->nlabels && !extra_name)
    return;
  tc_buf_addc(b, '{');
  for (size_t i = 0; i < m->nlabels; i++) {
    tc_buf_addf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
    add_escaped(b, c->values[i], 1);
    tc_buf_addc(b, '"');
  }
  if (extra_name) {
    tc_buf_addf(b, "%s%s=\"%s\"", m->nlabels ? "," : "", extra_name,
                extra_value);
  }
  tc_buf_addc(b, '}');
}

static void write_family(struct tc_buf *b, struct metric *m) {
  static const char *const types[] = {"counter", "gauge", "histogram"};
  pthread_mutex_lock(&m->mu);
  if (!m->nchildren && m->nlabels) {
    pthread_mutex_unlock(&m->mu);
    return; /* a labelled family with no children exposes nothing */
  }
  tc_buf_addf(b, "# HELP %s ", m->name);
  add_escaped(b, m->help, 0);
  tc_buf_addf(b, "\n# TYPE %s %s\n", m->name, types[m->type]);
  struct metric_child zero = {0};
  uint64_t zb[64] = {0};
  if (!m->nchildren) {
    zero.m = m;
    zero.buckets = zb;
    if (m->nbounds + 1 > TC_ARRAY_SIZE(zb))
      TC_BUG("histogram '%s' has too many buckets", m->name);
  }
  size_t n = m->nchildren ? m->nchildren : 1;
  for (size_t i = 0; i < n; i++) {
    struct metric_child *c = m->nchildren ? m->children[i] : &zero;
    if (m->type != METRIC_HISTOGRAM) {
      tc_buf_adds(b, m->name);
      add_labels(b, m, c, NULL, NULL);
      tc_buf_addc(b, ' ');
      add_float(b, c->value);
      tc_buf_addc(b, '\n');
      continue;
    }
    uint64_t cum = 0;
    char le[FMTFLOAT_MAX];
    for (size_t j = 0; j <= m->nbounds; j++) {
      cum += c->buckets[j];
      fmtfloat_write(le, j < m->nbounds ? m->bounds[j] : INFINITY, 'g');
      tc_buf_addf(b, "%s_bucket", m->name);
      add_labels(b, m, c, "le", le);
      tc_buf_addf(b, " %llu\n", (unsigned long long)cum);
    }
    tc_buf_addf(b, "%s_sum", m->name);
    add_labels(b, m, c, NULL, NULL);
    tc_buf_addc(b, ' ');
    add_float(b, c->value);
    tc_buf_addf(b, "\n%s_count", m->name);
    add_labels(b, m, c, NULL, NULL);
    tc_buf_addf(b, " %llu\n", (unsigned long long)c->count);
  }
  pthread_mutex_unlock(&m->mu);
}

int metrics_write(struct tc_buf *out) {
  pthread_mutex_lock(&registry_mu);
  struct collector *cs = collectors;
  pthread_mutex_unlock(&registry_mu);
  for (struct collector *c = cs; c; c = c->next)
    c->fn(c->data);
  pthread_mutex_lock(&registry_mu);
  for (struct metric *m = families; m; m = m->next)
    write_family(out, m);
  pthread_mutex_unlock(&registry_mu);
  return 0;
}
