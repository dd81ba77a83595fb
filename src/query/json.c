/*
 * json.c - the streaming JSON writer behind every HTTP API response of the
 * querier (see include/thanosc/json.h).
 *
 * The goal is byte equality with Prometheus/Thanos output, so the number
 * and string formats reproduce Go's: floats use the shortest decimal that
 * reads back as the same double (found by trying 1..17 significant digits
 * with the C library's correctly rounded printf) and are then laid out the
 * way strconv.FormatFloat lays out 'f' and 'e'; strings follow jsoniter's
 * two escaping paths. Commas are placed by the writer from a bit per
 * nesting level, so callers only say begin/key/value/end.
 */
#include "thanosc/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/error.h"

static const char hexdig[] = "0123456789abcdef";

void jsonw_init(struct jsonw *w, struct tc_buf *b) {
  memset(w, 0, sizeof(*w));
  w->b = b;
}

int jsonw_finish(struct jsonw *w) {
  if (w->err)
    return w->err;
  if (w->depth != 0 || w->after_key)
    return tc_error(TC_ESTATE, "json writer: %d containers left open",
                    w->depth);
  return 0;
}

static void put(struct jsonw *w, const char *s, size_t n) {
  if (w->err)
    return;
  int rc = tc_buf_add(w->b, s, n);
  if (rc)
    w->err = rc;
}

static void putc_(struct jsonw *w, char c) { put(w, &c, 1); }

/* Called before every value and key: writes the separating comma. */
static void sep(struct jsonw *w) {
  if (w->after_key) {
    w->after_key = 0;
    return;
  }
  if (w->depth > 0) {
    uint64_t bit = (uint64_t)1 << (w->depth - 1);
    if (w->nonempty & bit)
      putc_(w, ',');
    w->nonempty |= bit;
  }
}

static void open_(struct jsonw *w, char c) {
  sep(w);
  if (w->err)
    return;
  if (w->depth >= JSONW_MAX_DEPTH) {
    w->err = tc_error(TC_ELIMIT, "json writer: nesting deeper than %d",
                      JSONW_MAX_DEPTH);
    return;
  }
  putc_(w, c);
  w->depth++;
  w->nonempty &= ~((uint64_t)1 << (w->depth - 1));
}

static void close_(struct jsonw *w, char c) {
  if (w->err)
    return;
  if (w->depth == 0 || w->after_key) {
    w->err = tc_error(TC_ESTATE, "json writer: unbalanced '%c'", c);
    return;
  }
  putc_(w, c);
  w->depth--;
}

void jsonw_obj_begin(struct jsonw *w) { open_(w, '{'); }
void jsonw_obj_end(struct jsonw *w) { close_(w, '}'); }
void jsonw_arr_begin(struct jsonw *w) { open_(w, '['); }
void jsonw_arr_end(struct jsonw *w) { close_(w, ']'); }

/* ---- strings ---- */

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_valid(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2, v = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, v = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    v = (v << 6) | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return len;
}

static int escape_ctl(struct tc_buf *b, unsigned char c, int go122) {
  if (go122 && c == '\b')
    return tc_buf_add(b, "\\b", 2);
  if (go122 && c == '\f')
    return tc_buf_add(b, "\\f", 2);
  switch (c) {
  case '"': return tc_buf_add(b, "\\\"", 2);
  case '\\': return tc_buf_add(b, "\\\\", 2);
  case '\n': return tc_buf_add(b, "\\n", 2);
  case '\r': return tc_buf_add(b, "\\r", 2);
  case '\t': return tc_buf_add(b, "\\t", 2);
  default: {
    char u[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 15]};
    return tc_buf_add(b, u, 6);
  }
  }
}

int json_escape_plain(struct tc_buf *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t start = 0;
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    if (i > start && (rc = tc_buf_add(b, s + start, i - start)))
      return rc;
    if ((rc = escape_ctl(b, c, 0)))
      return rc;
    start = i + 1;
  }
  if (n > start)
    rc = tc_buf_add(b, s + start, n - start);
  return rc;
}

static int escape_std(struct tc_buf *b, const char *s, size_t n, int go122) {
  const unsigned char *p = (const unsigned char *)s;
  size_t start = 0, i = 0;
  int rc = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' &&
          c != '&') {
        i++;
        continue;
      }
      if (i > start && (rc = tc_buf_add(b, s + start, i - start)))
        return rc;
      rc = escape_ctl(b, c, go122);
      if (rc)
        return rc;
      i++;
      start = i;
      continue;
    }
    uint32_t cp;
    size_t len = utf8_valid(p + i, n - i, &cp);
    if (len && cp != 0x2028 && cp != 0x2029) {
      i += len;
      continue;
    }
    if (i > start && (rc = tc_buf_add(b, s + start, i - start)))
      return rc;
    if (!len) {
      rc = tc_buf_add(b, "\\ufffd", 6);
      i++;
    } else {
      rc = tc_buf_add(b, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
      i += len;
    }
    if (rc)
      return rc;
    start = i;
  }
  if (n > start)
    rc = tc_buf_add(b, s + start, n - start);
  return rc;
}

int json_escape(struct tc_buf *b, const char *s, size_t n) {
  return escape_std(b, s, n, 0);
}

int json_escape_go(struct tc_buf *b, const char *s, size_t n) {
  return escape_std(b, s, n, 1);
}

enum str_mode { STR_STD, STR_PLAIN, STR_GO };

static void str_(struct jsonw *w, const char *s, size_t n, enum str_mode m) {
  putc_(w, '"');
  if (!w->err) {
    int rc = m == STR_PLAIN ? json_escape_plain(w->b, s, n)
             : m == STR_GO  ? json_escape_go(w->b, s, n)
                            : json_escape(w->b, s, n);
    if (rc)
      w->err = rc;
  }
  putc_(w, '"');
}

void jsonw_key(struct jsonw *w, const char *k) {
  sep(w);
  str_(w, k, strlen(k), STR_STD);
  putc_(w, ':');
  w->after_key = 1;
}

void jsonw_key_plain(struct jsonw *w, const char *k, size_t n) {
  sep(w);
  str_(w, k, n, STR_PLAIN);
  putc_(w, ':');
  w->after_key = 1;
}

void jsonw_str(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  str_(w, s, n, STR_STD);
}

void jsonw_cstr(struct jsonw *w, const char *s) { jsonw_str(w, s, strlen(s)); }

void jsonw_str_plain(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  str_(w, s, n, STR_PLAIN);
}

void jsonw_str_go(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  str_(w, s, n, STR_GO);
}

void jsonw_int(struct jsonw *w, int64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
  sep(w);
  put(w, tmp, (size_t)n);
}

void jsonw_bool(struct jsonw *w, int v) {
  sep(w);
  if (v)
    put(w, "true", 4);
  else
    put(w, "false", 5);
}

void jsonw_null(struct jsonw *w) {
  sep(w);
  put(w, "null", 4);
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n) {
  sep(w);
  put(w, s, n);
}

/* ---- numbers ---- */

/* Digits of "D.DDDDe[+-]XX" (from printf %e) into d; returns the count. */
static int split_e(const char *tmp, char *d, int *exp) {
  int nd = 0;
  const char *p = tmp;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9')
      d[nd++] = *p;
  *exp = (*p == 'e') ? (int)strtol(p + 1, NULL, 10) : 0;
  return nd;
}

#define NDIGITS 25

/*
 * Decimal digits of v (finite, > 0): the first NDIGITS significant digits
 * in D and the exponent of the first. When *exact is set they are the
 * exact expansion cut off, with *sticky telling whether anything nonzero
 * follows; otherwise they are printf's correctly rounded digits.
 *
 * v = m * 2^e with a 53-bit m; for 2^-120 <= 2^e and v < 2^127 the
 * expansion is computed exactly in 128-bit fixed point (no printf), which
 * covers every value a metric normally has.
 */
static void decimal_digits(double v, char *D, int *exp, int *exact,
                           int *sticky) {
  int E;
  double f = frexp(v, &E);
  uint64_t m = (uint64_t)ldexp(f, 53);
  int e = E - 53;
  *exact = 0;
  *sticky = 0;
  if (e >= 0 && e <= 73) {
    unsigned __int128 x = (unsigned __int128)m << e;
    char rev[48];
    int n = 0;
    while (x) {
      rev[n++] = (char)('0' + (int)(x % 10));
      x /= 10;
    }
    for (int i = 0; i < NDIGITS; i++)
      D[i] = i < n ? rev[n - 1 - i] : '0';
    for (int i = NDIGITS; i < n; i++)
      *sticky |= rev[n - 1 - i] != '0';
    *exp = n - 1;
    *exact = 1;
    return;
  }
  if (e < 0 && e >= -120) {
    int k = -e;
    unsigned __int128 mask = ((unsigned __int128)1 << k) - 1;
    unsigned __int128 r = (unsigned __int128)m & mask;
    uint64_t ip = k < 64 ? m >> k : 0;
    int n = 0, e10;
    if (ip) {
      char rev[24];
      int ni = 0;
      while (ip) {
        rev[ni++] = (char)('0' + (int)(ip % 10));
        ip /= 10;
      }
      for (int i = ni - 1; i >= 0 && n < NDIGITS; i--)
        D[n++] = rev[i];
      e10 = ni - 1;
    } else {
      /* skip the zeros after the point */
      e10 = -1;
      for (;;) {
        r *= 10;
        if (r >> k)
          break;
        e10--;
      }
      D[n++] = (char)('0' + (int)(r >> k));
      r &= mask;
    }
    while (n < NDIGITS) {
      r *= 10;
      D[n++] = (char)('0' + (int)(r >> k));
      r &= mask;
    }
    *sticky = r != 0;
    *exp = e10;
    *exact = 1;
    return;
  }
  char tmp[64];
  snprintf(tmp, sizeof(tmp), "%.*e", NDIGITS - 1, v);
  split_e(tmp, D, exp);
}

/*
 * The p-digit decimal nearest to v (ties to even, as Go and printf do)
 * into c with *cexp. Returns 0 when printf's rounded digits cannot tell
 * the direction (they read 5000...0 after digit p); the caller then asks
 * printf for exactly p digits.
 */
static int round_digits(const char *D, int exp, int exact, int sticky, int p,
                        char *c, int *cexp) {
  int up = D[p] > '5';
  if (D[p] == '5') {
    int k = p + 1;
    while (k < NDIGITS && D[k] == '0')
      k++;
    if (k < NDIGITS || (exact && sticky))
      up = 1;
    else if (!exact)
      return 0;
    else
      up = (D[p - 1] - '0') % 2 == 1; /* exactly halfway */
  }
  memcpy(c, D, (size_t)p);
  *cexp = exp;
  if (up) {
    int k = p - 1;
    while (k >= 0 && c[k] == '9')
      c[k--] = '0';
    if (k >= 0) {
      c[k]++;
    } else {
      c[0] = '1';
      (*cexp)++;
    }
  }
  return 1;
}

struct digits {
  char D[NDIGITS + 8];
  int exp, exact, sticky;
};

/* Whether the p-digit rounding of v reads back as v; the digits go to c. */
static int roundtrips(double v, const struct digits *g, int p, char *c,
                      int *cexp) {
  char tmp[48];
  if (!round_digits(g->D, g->exp, g->exact, g->sticky, p, c, cexp)) {
    snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
    split_e(tmp, c, cexp);
  }
  /* "d.ddde<exp>" */
  int n = 0;
  tmp[n++] = c[0];
  if (p > 1) {
    tmp[n++] = '.';
    memcpy(tmp + n, c + 1, (size_t)(p - 1));
    n += p - 1;
  }
  int x = *cexp;
  tmp[n++] = 'e';
  if (x < 0) {
    tmp[n++] = '-';
    x = -x;
  }
  if (x >= 100)
    tmp[n++] = (char)('0' + x / 100);
  if (x >= 10)
    tmp[n++] = (char)('0' + x / 10 % 10);
  tmp[n++] = (char)('0' + x % 10);
  tmp[n] = '\0';
  return strtod(tmp, NULL) == v;
}

/*
 * Shortest decimal digits of v (finite, > 0): digits into d (no dot, no
 * trailing zeros), returns their count; *dp is the decimal point position
 * (v = 0.d1d2... * 10^dp), as Go's decimal type has it. Integers below
 * 1e15 are exact and shortest as they are. Otherwise the shortest
 * precision that reads back as v is searched (a precision that
 * round-trips makes every larger one round-trip too): 16 first, since
 * computed values mostly need 16 or 17 digits, then a binary search.
 */
static int shortest_digits(double v, char *d, int *dp) {
  int nd = 0;
  if (v < 1e15 && v == floor(v)) {
    char rev[24];
    uint64_t u = (uint64_t)v;
    while (u) {
      rev[nd++] = (char)('0' + (int)(u % 10));
      u /= 10;
    }
    for (int i = 0; i < nd; i++)
      d[i] = rev[nd - 1 - i];
    *dp = nd;
  } else {
    struct digits g;
    char c[24], best[24];
    int cexp, best_exp, lo = 1, hi = 16;
    decimal_digits(v, g.D, &g.exp, &g.exact, &g.sticky);
    if (!roundtrips(v, &g, 16, best, &best_exp)) {
      roundtrips(v, &g, 17, best, &best_exp);
      lo = hi = 17;
    }
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (roundtrips(v, &g, mid, c, &cexp)) {
        hi = mid;
        memcpy(best, c, (size_t)mid);
        best_exp = cexp;
      } else {
        lo = mid + 1;
      }
    }
    nd = lo;
    memcpy(d, best, (size_t)nd);
    *dp = best_exp + 1;
  }
  while (nd > 1 && d[nd - 1] == '0')
    nd--;
  return nd;
}

size_t json_format_float(char *out, double v, char fmt) {
  char d[24];
  int nd, dp;
  size_t n = 0;
  if (isnan(v))
    return (size_t)snprintf(out, JSON_FLOAT_MAX, "NaN");
  if (isinf(v))
    return (size_t)snprintf(out, JSON_FLOAT_MAX, v > 0 ? "+Inf" : "-Inf");
  if (signbit(v)) {
    out[n++] = '-';
    v = -v;
  }
  if (v == 0) {
    nd = 0;
    dp = 0;
  } else {
    nd = shortest_digits(v, d, &dp);
  }
  if (fmt == 'g') {
    /* Go's shortest %g: %e when the exponent is < -4 or >= 6. */
    int exp = dp - 1;
    fmt = (exp < -4 || exp >= 6) ? 'e' : 'f';
  }
  if (fmt == 'e') {
    out[n++] = nd ? d[0] : '0';
    if (nd > 1) {
      out[n++] = '.';
      for (int i = 1; i < nd; i++)
        out[n++] = d[i];
    }
    out[n++] = 'e';
    int exp = nd ? dp - 1 : 0;
    if (exp < 0) {
      out[n++] = '-';
      exp = -exp;
    } else {
      out[n++] = '+';
    }
    if (exp < 10) {
      out[n++] = '0';
      out[n++] = (char)('0' + exp);
    } else if (exp < 100) {
      out[n++] = (char)('0' + exp / 10);
      out[n++] = (char)('0' + exp % 10);
    } else {
      out[n++] = (char)('0' + exp / 100);
      out[n++] = (char)('0' + exp / 10 % 10);
      out[n++] = (char)('0' + exp % 10);
    }
    out[n] = '\0';
    return n;
  }
  /* 'f' */
  if (dp > 0) {
    for (int i = 0; i < dp; i++)
      out[n++] = i < nd ? d[i] : '0';
  } else {
    out[n++] = '0';
  }
  int frac = nd - dp;
  if (frac > 0) {
    out[n++] = '.';
    for (int i = 0; i < frac; i++) {
      int j = dp + i;
      out[n++] = (j >= 0 && j < nd) ? d[j] : '0';
    }
  }
  out[n] = '\0';
  return n;
}

void jsonw_sample_value(struct jsonw *w, double v) {
  char tmp[JSON_FLOAT_MAX + 2];
  double a = fabs(v);
  char fmt = (v != 0 && (a < 1e-6 || a >= 1e21)) ? 'e' : 'f';
  tmp[0] = '"';
  size_t n = json_format_float(tmp + 1, v, fmt);
  tmp[n + 1] = '"';
  sep(w);
  put(w, tmp, n + 2);
}

void jsonw_scalar_value(struct jsonw *w, double v) {
  char tmp[JSON_FLOAT_MAX + 2];
  tmp[0] = '"';
  size_t n = json_format_float(tmp + 1, v, 'f');
  tmp[n + 1] = '"';
  sep(w);
  put(w, tmp, n + 2);
}

void jsonw_ts_ms(struct jsonw *w, int64_t t) {
  char tmp[32];
  size_t n = 0;
  uint64_t u;
  if (t < 0) {
    tmp[n++] = '-';
    u = (uint64_t)0 - (uint64_t)t;
  } else {
    u = (uint64_t)t;
  }
  n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%" PRIu64, u / 1000);
  unsigned ms = (unsigned)(u % 1000);
  if (ms)
    n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, ".%03u", ms);
  sep(w);
  put(w, tmp, n);
}

void jsonw_ts_float(struct jsonw *w, int64_t t) {
  jsonw_float(w, (double)t / 1000);
}

void jsonw_float(struct jsonw *w, double x) {
  /* encoding/json: 'f' unless 0 < |x| < 1e-6 or |x| >= 1e21, then 'e'
   * with the exponent's leading zero dropped (e-07 -> e-7). */
  char tmp[JSON_FLOAT_MAX];
  double a = fabs(x);
  if (isnan(x) || isinf(x)) {
    jsonw_null(w);
    return;
  }
  size_t n;
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    n = json_format_float(tmp, x, 'e');
    if (n >= 4 && tmp[n - 4] == 'e' && tmp[n - 3] == '-' &&
        tmp[n - 2] == '0') {
      tmp[n - 2] = tmp[n - 1];
      tmp[--n] = '\0';
    }
  } else {
    n = json_format_float(tmp, x, 'f');
  }
  sep(w);
  put(w, tmp, n);
}
