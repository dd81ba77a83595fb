/*
 * params.c - the querier's HTTP API parameter parsing (see
 * include/thanosc/query_params.h).
 *
 * Thanos Query validates its parameters in pkg/api/query/v1.go with Go's
 * strconv and time packages; users and tools see those exact error texts,
 * so this file reproduces the accepted syntaxes (strconv.ParseFloat,
 * strconv.ParseBool, strconv.Atoi, time.Parse(RFC3339Nano), Prometheus
 * model.ParseDuration), the numeric conversions (float seconds to ms the
 * way math.Modf/math.Round/time.Unix do it) and the order in which the
 * handlers check parameters, since the first failing check is the one
 * reported.
 */
#include "thanosc/query_params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* ---- request pairs ---- */

const char *qparams_get(const struct qparams *p, const char *key,
                        size_t *len) {
  for (size_t i = 0; i < p->n; i++) {
    if (!strcmp(p->v[i].key, key)) {
      if (len)
        *len = p->v[i].value_len;
      return p->v[i].value;
    }
  }
  if (len)
    *len = 0;
  return NULL;
}

size_t qparams_count(const struct qparams *p, const char *key) {
  size_t n = 0;
  for (size_t i = 0; i < p->n; i++)
    n += !strcmp(p->v[i].key, key);
  return n;
}

/* All values of key (borrowed strings, owned array). */
static void qparams_all(const struct qparams *p, const char *key,
                        struct qstrs *out) {
  size_t n = qparams_count(p, key), j = 0;
  out->v = NULL;
  out->n = 0;
  if (!n)
    return;
  out->v = xcalloc(n, sizeof(*out->v));
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->v[i].key, key))
      out->v[j++] = p->v[i].value;
  out->n = n;
}

/* FormValue: the first value, "" when absent. */
static const char *form_value(const struct qparams *p, const char *key,
                              size_t *len) {
  const char *v = qparams_get(p, key, len);
  return v ? v : "";
}

/* ---- Go-compatible scalars ---- */

int query_go_quote(struct tc_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  int rc = tc_buf_addc(b, '"');
  for (size_t i = 0; i < n && !rc;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      const char *e = NULL;
      switch (c) {
      case '\a': e = "\\a"; break;
      case '\b': e = "\\b"; break;
      case '\f': e = "\\f"; break;
      case '\n': e = "\\n"; break;
      case '\r': e = "\\r"; break;
      case '\t': e = "\\t"; break;
      case '\v': e = "\\v"; break;
      case '"': e = "\\\""; break;
      case '\\': e = "\\\\"; break;
      }
      if (e) {
        rc = tc_buf_adds(b, e);
      } else if (c < 0x20 || c == 0x7f) {
        char x[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        rc = tc_buf_add(b, x, 4);
      } else {
        rc = tc_buf_addc(b, (char)c);
      }
      i++;
      continue;
    }
    /* Multi-byte: copy valid printable sequences, \x for bad bytes. */
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4 : 0;
    uint32_t cp = len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 7u);
    int ok = len && i + len <= n;
    for (size_t k = 1; ok && k < len; k++) {
      if ((p[i + k] & 0xc0) != 0x80)
        ok = 0;
      else
        cp = (cp << 6) | (p[i + k] & 0x3fu);
    }
    if (ok) {
      static const uint32_t mins[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < mins[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        ok = 0;
    }
    if (!ok) {
      char x[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      rc = tc_buf_add(b, x, 4);
      i++;
      continue;
    }
    if (cp < 0xa1 || cp == 0xad || cp == 0x2028 || cp == 0x2029 ||
        cp == 0xfeff) {
      char u[12];
      snprintf(u, sizeof(u), "\\u%04x", (unsigned)cp);
      rc = tc_buf_adds(b, u);
    } else {
      rc = tc_buf_add(b, s + i, len);
    }
    i += len;
  }
  if (!rc)
    rc = tc_buf_addc(b, '"');
  return rc;
}

/* tc_error(TC_EINVAL, "<pre>%q<post>") with Go quoting of s. */
static int quoted_error(const char *pre, const char *s, size_t n,
                        const char *post) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  query_go_quote(&b, s, n);
  int rc = tc_error(TC_EINVAL, "%s%s%s", pre, b.data ? b.data : "\"\"", post);
  tc_buf_release(&b);
  return rc;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_xdigit_(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Case-insensitive prefix length of s[0..n) and word. */
static size_t prefix_ci(const char *s, size_t n, const char *word) {
  size_t i = 0;
  while (i < n && word[i]) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != word[i])
      break;
    i++;
  }
  return i;
}

int query_parse_go_float(const char *s, size_t n, double *v) {
  size_t i = 0;
  int neg = 0;
  if (n == 0 || memchr(s, '\0', n))
    return TC_EINVAL;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  /* Specials: [+-]inf, [+-]infinity, nan (no sign). */
  size_t k = prefix_ci(s + i, n - i, "infinity");
  if ((k == 3 || k == 8) && i + k == n) {
    *v = neg ? -INFINITY : INFINITY;
    return 0;
  }
  if (i == 0 && n == 3 && prefix_ci(s, n, "nan") == 3) {
    *v = NAN;
    return 0;
  }
  size_t digits = 0;
  int hex = 0;
  if (n - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    hex = 1;
    i += 2;
  }
  int dot = 0;
  for (; i < n; i++) {
    if (s[i] == '.' && !dot)
      dot = 1;
    else if (hex ? is_xdigit_(s[i]) : is_digit(s[i]))
      digits++;
    else
      break;
  }
  if (!digits)
    return TC_EINVAL;
  if (i < n && (hex ? (s[i] == 'p' || s[i] == 'P')
                    : (s[i] == 'e' || s[i] == 'E'))) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    size_t e0 = i;
    while (i < n && is_digit(s[i]))
      i++;
    if (i == e0)
      return TC_EINVAL;
  } else if (hex) {
    return TC_EINVAL; /* Go requires the p exponent on hex floats */
  }
  if (i != n)
    return TC_EINVAL;
  errno = 0;
  char *end;
  double x = strtod(s, &end);
  if (end != s + n)
    return TC_EINVAL;
  if (errno == ERANGE && isinf(x))
    return TC_EINVAL; /* Go: ErrRange on overflow, not on underflow */
  *v = x;
  return 0;
}

int query_parse_go_bool(const char *s, size_t n, int *v) {
  static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (size_t i = 0; i < TC_ARRAY_SIZE(t); i++) {
    if (strlen(t[i]) == n && !memcmp(s, t[i], n)) {
      *v = 1;
      return 0;
    }
    if (strlen(f[i]) == n && !memcmp(s, f[i], n)) {
      *v = 0;
      return 0;
    }
  }
  return TC_EINVAL;
}

/* Go strconv.Atoi into int64 (range of int on 64-bit). */
static int parse_go_int(const char *s, size_t n, int64_t *v) {
  size_t i = 0;
  int neg = 0;
  uint64_t x = 0;
  if (n && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == n)
    return TC_EINVAL;
  for (; i < n; i++) {
    if (!is_digit(s[i]))
      return TC_EINVAL;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (x > (UINT64_MAX - d) / 10)
      return TC_EINVAL;
    x = x * 10 + d;
  }
  if (neg ? x > (uint64_t)INT64_MAX + 1 : x > (uint64_t)INT64_MAX)
    return TC_EINVAL;
  *v = neg ? (int64_t)(0 - x) : (int64_t)x;
  return 0;
}

/* ---- time ---- */

static int parse_uint_range(const char *s, size_t n, int lo, int hi,
                            int *out) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

static int is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int m, int y) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Go time.Parse(time.RFC3339Nano, s), then timestamp.FromTime. */
static int parse_rfc3339(const char *s, size_t n, int64_t *ms) {
  int y, mo, d, h, mi, se;
  if (n < 20)
    return -1;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':')
    return -1;
  if (parse_uint_range(s, 4, 0, 9999, &y) ||
      parse_uint_range(s + 5, 2, 1, 12, &mo) ||
      parse_uint_range(s + 8, 2, 1, 31, &d) || d > days_in(mo, y) ||
      parse_uint_range(s + 11, 2, 0, 23, &h) ||
      parse_uint_range(s + 14, 2, 0, 59, &mi) ||
      parse_uint_range(s + 17, 2, 0, 59, &se))
    return -1;
  size_t i = 19;
  int64_t nsec = 0;
  if (n - i >= 2 && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1])) {
    size_t k = 0;
    i++;
    for (; i < n && is_digit(s[i]); i++, k++) {
      if (k < 9)
        nsec = nsec * 10 + (s[i] - '0');
    }
    for (; k < 9; k++)
      nsec *= 10;
  }
  int64_t off = 0;
  if (n - i == 1 && s[i] == 'Z') {
    off = 0;
  } else if (n - i == 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (parse_uint_range(s + i + 1, 2, 0, 23, &oh) ||
        parse_uint_range(s + i + 4, 2, 0, 59, &om))
      return -1;
    off = (oh * 60 + om) * 60;
    if (s[i] == '-')
      off = -off;
  } else {
    return -1;
  }
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
                 off;
  *ms = secs * 1000 + nsec / NS_PER_MS;
  return 0;
}

int query_parse_time(const char *s, size_t n, int64_t *ms) {
  double t;
  if (!query_parse_go_float(s, n, &t)) {
    /* s, ns := math.Modf(t); ns = math.Round(ns*1000) / 1000;
     * time.Unix(int64(s), int64(ns*1e9)); timestamp.FromTime. */
    if (isfinite(t) && fabs(t) < 9.2e15) {
      double ip;
      double frac = modf(t, &ip);
      frac = round(frac * 1000) / 1000;
      int64_t sec = (int64_t)ip;
      int64_t nsec = (int64_t)(frac * 1e9);
      if (nsec < 0) {
        sec--;
        nsec += NS_PER_S;
      } else if (nsec >= NS_PER_S) {
        sec++;
        nsec -= NS_PER_S;
      }
      *ms = sec * 1000 + nsec / NS_PER_MS;
      return 0;
    }
  } else if (!memchr(s, '\0', n)) {
    if (n == strlen(QUERY_MIN_TIME_STR) && !memcmp(s, QUERY_MIN_TIME_STR, n)) {
      *ms = QUERY_MIN_TIME_MS;
      return 0;
    }
    if (n == strlen(QUERY_MAX_TIME_STR) && !memcmp(s, QUERY_MAX_TIME_STR, n)) {
      *ms = QUERY_MAX_TIME_MS;
      return 0;
    }
    if (!parse_rfc3339(s, n, ms))
      return 0;
  }
  return quoted_error("cannot parse ", s, n, " to a valid timestamp");
}

/* ---- durations ---- */

int query_parse_prom_duration(const char *s, size_t n, int64_t *ns) {
  static const struct {
    const char *u;
    uint64_t mult;
  } units[] = {
      /* in order: position = index + 1 */
      {"y", 365ULL * 24 * 3600 * NS_PER_S}, {"w", 7ULL * 24 * 3600 * NS_PER_S},
      {"d", 24ULL * 3600 * NS_PER_S},       {"h", 3600ULL * NS_PER_S},
      {"m", 60ULL * NS_PER_S},              {"s", (uint64_t)NS_PER_S},
      {"ms", (uint64_t)NS_PER_MS},
  };
  if (n == 1 && s[0] == '0') {
    *ns = 0;
    return 0;
  }
  if (n == 0)
    return TC_EINVAL;
  uint64_t dur = 0;
  size_t last = 0, i = 0;
  while (i < n) {
    if (!is_digit(s[i]))
      return TC_EINVAL;
    uint64_t v = 0;
    for (; i < n && is_digit(s[i]); i++) {
      uint64_t d = (uint64_t)(s[i] - '0');
      if (v > (UINT64_MAX - d) / 10)
        return TC_EINVAL;
      v = v * 10 + d;
    }
    size_t u0 = i;
    while (i < n && !is_digit(s[i]))
      i++;
    size_t ul = i - u0, pos = 0;
    for (size_t k = 0; k < TC_ARRAY_SIZE(units); k++)
      if (strlen(units[k].u) == ul && !memcmp(s + u0, units[k].u, ul))
        pos = k + 1;
    if (!pos || pos <= last)
      return TC_EINVAL;
    last = pos;
    uint64_t mult = units[pos - 1].mult;
    if (v > (1ULL << 63) / mult)
      return TC_EINVAL;
    dur += v * mult;
    if (dur > (uint64_t)INT64_MAX)
      return TC_EINVAL;
  }
  *ns = (int64_t)dur;
  return 0;
}

int query_parse_duration(const char *s, size_t n, int64_t *ns) {
  double d;
  if (!query_parse_go_float(s, n, &d)) {
    double ts = d * 1e9;
    if (ts >= 9223372036854775808.0 || ts < -9223372036854775808.0)
      return quoted_error("cannot parse ", s, n,
                          " to a valid duration. It overflows int64");
    /* Go converts NaN to the most negative int64 on amd64. */
    *ns = isnan(ts) ? INT64_MIN : (int64_t)ts;
    return 0;
  }
  if (!memchr(s, '\0', n) && !query_parse_prom_duration(s, n, ns))
    return 0;
  return quoted_error("cannot parse ", s, n, " to a valid duration");
}

/* ---- the Thanos extras ---- */

static int64_t sat_range_ns(int64_t start_ms, int64_t end_ms) {
  /* time.Time.Sub saturates at the Duration limits. */
  __int128 d = ((__int128)end_ms - start_ms) * NS_PER_MS;
  if (d > INT64_MAX)
    return INT64_MAX;
  if (d < INT64_MIN)
    return INT64_MIN;
  return (int64_t)d;
}

static int parse_bool_param(const struct qparams *p, const char *name,
                            int *v) {
  size_t n;
  const char *s = form_value(p, name, &n);
  if (!n)
    return 0;
  if (!query_parse_go_bool(s, n, v))
    return 0;
  char pre[64];
  snprintf(pre, sizeof(pre), "'%s' parameter: strconv.ParseBool: parsing ",
           name);
  return quoted_error(pre, s, n, ": invalid syntax");
}

static int check_selectors(const struct query_defaults *d,
                           const struct qstrs *sels, int need_nonempty) {
  if (!d->check_selector)
    return 0;
  for (size_t i = 0; i < sels->n; i++) {
    int nonempty = 1;
    int rc = d->check_selector(d->check_ctx, sels->v[i], &nonempty);
    if (rc)
      return TC_EINVAL; /* keeps the checker's message */
    if (need_nonempty && !nonempty)
      return tc_error(TC_EINVAL,
                      "match[] must contain at least one non-empty matcher");
  }
  return 0;
}

static int parse_replica_labels(const struct qparams *p,
                                const struct query_defaults *d,
                                struct qstrs *out) {
  qparams_all(p, "replicaLabels[]", out);
  if (!out->n && d->replica_labels.n) {
    out->v = xcalloc(d->replica_labels.n, sizeof(*out->v));
    memcpy(out->v, d->replica_labels.v, d->replica_labels.n * sizeof(*out->v));
    out->n = d->replica_labels.n;
  }
  return 0;
}

static int parse_store_matchers(const struct qparams *p,
                                const struct query_defaults *d,
                                struct qstrs *out) {
  qparams_all(p, "storeMatch[]", out);
  return check_selectors(d, out, 0);
}

static int parse_max_source_resolution(const struct qparams *p,
                                       const struct query_defaults *d,
                                       int64_t default_ns, int64_t *ms) {
  size_t n;
  const char *s = form_value(p, "max_source_resolution", &n);
  int is_auto = n == 4 && !memcmp(s, "auto", 4);
  int64_t ns = 0;
  if (d->auto_downsampling || is_auto)
    ns = default_ns;
  if (n && !is_auto) {
    int rc = query_parse_duration(s, n, &ns);
    if (rc)
      return tc_error_wrap(TC_EINVAL, "'max_source_resolution' parameter");
  }
  if (ns < 0)
    return tc_error(TC_EINVAL, "negative 'max_source_resolution' is not "
                               "accepted. Try a positive integer");
  *ms = ns / NS_PER_MS;
  return 0;
}

static int parse_engine(const struct qparams *p, const struct query_defaults *d,
                        enum query_engine *e) {
  size_t n;
  const char *s = form_value(p, "engine", &n);
  if (!n) {
    *e = d->engine;
    return 0;
  }
  if (n == 10 && !memcmp(s, "prometheus", 10)) {
    *e = QUERY_ENGINE_PROMETHEUS;
    return 0;
  }
  if (n == 6 && !memcmp(s, "thanos", 6)) {
    *e = QUERY_ENGINE_THANOS;
    return 0;
  }
  return tc_error(TC_EINVAL, "'%.*s' bad engine", (int)TC_MIN(n, 200), s);
}

/* An optional duration parameter; *set says whether it was given. wrap
 * makes errors read "'<name>' parameter: ..." as Thanos words some. */
static int parse_duration_param(const struct qparams *p, const char *name,
                                int wrap, int64_t *ns, int *set) {
  size_t n;
  const char *s = form_value(p, name, &n);
  *ns = 0;
  *set = n > 0;
  if (!n)
    return 0;
  int rc = query_parse_duration(s, n, ns);
  if (rc && wrap)
    return tc_error_wrap(TC_EINVAL, "'%s' parameter", name);
  return rc;
}

static int parse_lookback_delta(const struct qparams *p, int64_t *ms) {
  int64_t ns;
  int set;
  int rc = parse_duration_param(p, "lookback_delta", 1, &ns, &set);
  *ms = ns > 0 ? ns / NS_PER_MS : 0;
  return rc;
}

static int parse_timeout(const struct qparams *p, int64_t *ms) {
  int64_t ns;
  int set;
  int rc = parse_duration_param(p, "timeout", 0, &ns, &set);
  /* context.WithTimeout with d <= 0 is already expired: -1. */
  *ms = !set ? 0 : ns > 0 ? TC_MAX(ns / NS_PER_MS, 1) : -1;
  return rc;
}

static int parse_partial_response(const struct qparams *p,
                                  const struct query_defaults *d, int *v) {
  *v = d->partial_response;
  return parse_bool_param(p, "partial_response", v);
}

static int parse_dedup(const struct qparams *p, int *v) {
  *v = 1;
  return parse_bool_param(p, "dedup", v);
}

/* The tail shared by instant and range queries, after time/step/timeout. */
static int parse_query_opts(const struct qparams *p,
                            const struct query_defaults *d,
                            int64_t msr_default_ns, int range,
                            struct query_opts *o) {
  int rc;
  if ((rc = parse_dedup(p, &o->dedup)) ||
      (rc = parse_replica_labels(p, d, &o->replica_labels)) ||
      (rc = parse_store_matchers(p, d, &o->store_matchers)))
    return rc;
  /* Instant queries read partial_response before max_source_resolution,
   * range queries after. */
  if (!range && (rc = parse_partial_response(p, d, &o->partial_response)))
    return rc;
  if ((rc = parse_max_source_resolution(p, d, msr_default_ns,
                                        &o->max_source_resolution_ms)))
    return rc;
  if (range && (rc = parse_partial_response(p, d, &o->partial_response)))
    return rc;
  if ((rc = parse_engine(p, d, &o->engine)) ||
      (rc = parse_lookback_delta(p, &o->lookback_delta_ms)))
    return rc;
  size_t n;
  form_value(p, "stats", &n);
  o->stats = n > 0;
  const char *a = form_value(p, "analyze", &n);
  o->analyze = !strcmp(a, "true") || !strcmp(a, "1");
  return 0;
}

int64_t query_lookback_delta(int64_t lookback_ms, int dynamic,
                             int64_t max_source_resolution_ms) {
  /* raw, 5m and 1h downsampling levels */
  static const int64_t res[] = {0, 5 * 60 * 1000, 60 * 60 * 1000};
  int64_t lds[3];
  size_t n = dynamic ? 3 : 1;
  int64_t ld = lookback_ms > 0 ? lookback_ms : 5 * 60 * 1000;
  int64_t cur = ld;
  for (size_t i = 0; i < n; i++) {
    if (ld < res[i])
      cur = res[i];
    lds[i] = cur;
  }
  for (size_t i = n - 1; i >= 1; i--) {
    int64_t left = TC_MAX(res[i - 1], ld);
    if (left < max_source_resolution_ms)
      return lds[i];
  }
  return lds[0];
}

void query_opts_release(struct query_opts *o) {
  free(o->replica_labels.v);
  free(o->store_matchers.v);
  memset(o, 0, sizeof(*o));
}

int query_parse_instant(const struct qparams *p, const struct query_defaults *d,
                        struct query_instant_req *out) {
  int rc;
  size_t n;
  memset(out, 0, sizeof(*out));
  out->query = form_value(p, "query", NULL);
  const char *t = form_value(p, "time", &n);
  out->time_ms = d->now_ms;
  if (n && (rc = query_parse_time(t, n, &out->time_ms)))
    return tc_error_wrap(TC_EINVAL, "Invalid time value for 'time'");
  if ((rc = parse_timeout(p, &out->o.timeout_ms)) ||
      (rc = parse_query_opts(p, d, d->instant_max_source_resolution_ns, 0,
                             &out->o))) {
    query_opts_release(&out->o);
    return rc;
  }
  return 0;
}

int query_parse_range(const struct qparams *p, const struct query_defaults *d,
                      struct query_range_req *out) {
  int rc;
  size_t n;
  const char *s;
  memset(out, 0, sizeof(*out));
  out->query = form_value(p, "query", NULL);
  s = form_value(p, "start", &n);
  if ((rc = query_parse_time(s, n, &out->start_ms)))
    return rc;
  s = form_value(p, "end", &n);
  if ((rc = query_parse_time(s, n, &out->end_ms)))
    return rc;
  if (out->end_ms < out->start_ms)
    return tc_error(TC_EINVAL, "end timestamp must not be before start time");
  int64_t range_ns = sat_range_ns(out->start_ms, out->end_ms);
  int step_set;
  if ((rc = parse_duration_param(p, "step", 1, &out->step_ns, &step_set)))
    return rc;
  if (!step_set) {
    /* max(range seconds / 250, default step in whole seconds) seconds */
    int64_t a = range_ns / NS_PER_S / 250;
    int64_t b = d->default_step_ns / NS_PER_S;
    out->step_ns = TC_MAX(a, b) * NS_PER_S;
  }
  if (out->step_ns <= 0)
    return tc_error(TC_EINVAL, "zero or negative query resolution step "
                               "widths are not accepted. Try a positive "
                               "integer");
  if (range_ns / out->step_ns > 11000)
    return tc_error(TC_EINVAL, "exceeded maximum resolution of 11,000 points "
                               "per timeseries. Try decreasing the query "
                               "resolution (?step=XX)");
  out->step_ms = out->step_ns / NS_PER_MS;
  if ((rc = parse_timeout(p, &out->o.timeout_ms)) ||
      (rc = parse_query_opts(p, d, out->step_ns / 5, 1, &out->o))) {
    query_opts_release(&out->o);
    return rc;
  }
  return 0;
}

/* parseMetadataTimeRange */
static int parse_meta_range(const struct qparams *p,
                            const struct query_defaults *d,
                            struct query_meta_req *out) {
  static const char *const names[] = {"start", "end"};
  int64_t *dst[] = {&out->start_ms, &out->end_ms};
  if (d->metadata_range_ns) {
    out->start_ms = d->now_ms - d->metadata_range_ns / NS_PER_MS;
    out->end_ms = d->now_ms;
  } else {
    out->start_ms = QUERY_MIN_TIME_MS;
    out->end_ms = QUERY_MAX_TIME_MS;
  }
  for (int i = 0; i < 2; i++) {
    size_t n;
    const char *s = form_value(p, names[i], &n);
    int rc;
    if (n && (rc = query_parse_time(s, n, dst[i])))
      return tc_error_wrap(TC_EINVAL, "Invalid time value for '%s'",
                           names[i]);
  }
  if (out->end_ms < out->start_ms)
    return tc_error(TC_EINVAL, "end timestamp must not be before start time");
  return 0;
}

static int parse_limit(const struct qparams *p, size_t *limit) {
  size_t n;
  const char *s = form_value(p, "limit", &n);
  int64_t v;
  *limit = 0;
  if (!n)
    return 0;
  if (parse_go_int(s, n, &v))
    return quoted_error("cannot parse ", s, n, " to a valid limit");
  if (v < 0)
    return tc_error(TC_EINVAL, "limit must be non-negative");
  *limit = (size_t)v;
  return 0;
}

void query_meta_req_release(struct query_meta_req *r) {
  free(r->matchers.v);
  free(r->replica_labels.v);
  free(r->store_matchers.v);
  memset(r, 0, sizeof(*r));
}

static int parse_matchers(const struct qparams *p,
                          const struct query_defaults *d,
                          struct query_meta_req *out) {
  qparams_all(p, "match[]", &out->matchers);
  return check_selectors(d, &out->matchers, 1);
}

int query_parse_series(const struct qparams *p, const struct query_defaults *d,
                       struct query_meta_req *out) {
  int rc;
  memset(out, 0, sizeof(*out));
  if (!qparams_count(p, "match[]"))
    return tc_error(TC_EINVAL, "no match[] parameter provided");
  if ((rc = parse_meta_range(p, d, out)) || (rc = parse_matchers(p, d, out)) ||
      (rc = parse_dedup(p, &out->dedup)) ||
      (rc = parse_replica_labels(p, d, &out->replica_labels)) ||
      (rc = parse_store_matchers(p, d, &out->store_matchers)) ||
      (rc = parse_limit(p, &out->limit)) ||
      (rc = parse_partial_response(p, d, &out->partial_response)))
    query_meta_req_release(out);
  return rc;
}

/* /labels and /label/<name>/values: same parameters, same order. */
static int parse_labels_common(const struct qparams *p,
                               const struct query_defaults *d,
                               struct query_meta_req *out) {
  int rc;
  out->dedup = 1;
  if ((rc = parse_meta_range(p, d, out)) ||
      (rc = parse_partial_response(p, d, &out->partial_response)) ||
      (rc = parse_store_matchers(p, d, &out->store_matchers)) ||
      (rc = parse_limit(p, &out->limit)) || (rc = parse_matchers(p, d, out)))
    query_meta_req_release(out);
  return rc;
}

int query_parse_labels(const struct qparams *p, const struct query_defaults *d,
                       struct query_meta_req *out) {
  memset(out, 0, sizeof(*out));
  return parse_labels_common(p, d, out);
}

/* model.LabelNameRE: ^[a-zA-Z_][a-zA-Z0-9_]*$ */
static int valid_label_name(const char *s) {
  if (!*s)
    return 0;
  for (size_t i = 0; s[i]; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
             (i > 0 && is_digit(c));
    if (!ok)
      return 0;
  }
  return 1;
}

int query_parse_label_values(const struct qparams *p,
                             const struct query_defaults *d, const char *name,
                             struct query_meta_req *out) {
  int rc;
  memset(out, 0, sizeof(*out));
  if (!valid_label_name(name))
    return quoted_error("invalid label name: ", name, strlen(name), "");
  rc = parse_labels_common(p, d, out);
  if (!rc)
    out->label_name = name;
  return rc;
}
