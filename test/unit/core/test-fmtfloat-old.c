/* test-fmtfloat-old.c - TEMPORARY: the four old formatters against fmtfloat. */
#include <stdbool.h>
#include <inttypes.h>
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/fmtfloat.h"
#define JSON_FLOAT_MAX 400

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

static size_t old_json(char *out, double v, char fmt) {
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
/* Prometheus text format: floats as Go's strconv 'g' shortest, +Inf etc. */
static void old_metrics(struct tc_buf *b, double v) {
  if (isnan(v)) {
    tc_buf_adds(b, "NaN");
  } else if (isinf(v)) {
    tc_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
  } else if (v == (double)(int64_t)v && fabs(v) < 1e15) {
    tc_buf_addf(b, "%lld", (long long)v);
  } else {
    char tmp[32];
    for (int prec = 1; prec <= 17; prec++) {
      snprintf(tmp, sizeof tmp, "%.*g", prec, v);
      if (strtod(tmp, NULL) == v)
        break;
    }
    tc_buf_adds(b, tmp);
  }
}
static int old_labels(struct tc_buf *out, double f) {
  if (isnan(f))
    return tc_buf_adds(out, "NaN");
  if (isinf(f))
    return tc_buf_adds(out, f > 0 ? "+Inf" : "-Inf");
  if (f == 0)
    return tc_buf_adds(out, signbit(f) ? "-0" : "0");
  /* Shortest %e representation that reads back to the same double. */
  char e[40];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(e, sizeof(e), "%.*e", prec, f);
    if (strtod(e, NULL) == f)
      break;
  }
  /* e is [-]D[.DDD]e[+-]XX: split into sign, digits and exponent. */
  char digits[24];
  size_t nd = 0;
  const char *p = e;
  bool neg = *p == '-';
  if (neg)
    p++;
  for (; *p && *p != 'e'; p++)
    if (*p != '.')
      digits[nd++] = *p;
  int exp = (int)strtol(p + 1, NULL, 10);
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  digits[nd] = '\0';
  int rc = neg ? tc_buf_addc(out, '-') : 0;
  if (rc)
    return rc;
  if (exp < -4 || exp >= 6) { /* Go %g, shortest: eprec 6 */
    rc = tc_buf_addc(out, digits[0]);
    if (!rc && nd > 1)
      rc = tc_buf_addf(out, ".%s", digits + 1);
    if (!rc)
      rc = tc_buf_addf(out, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    return rc;
  }
  if (exp < 0) {
    rc = tc_buf_adds(out, "0.");
    for (int i = -1; i > exp && !rc; i--)
      rc = tc_buf_addc(out, '0');
    return rc ? rc : tc_buf_adds(out, digits);
  }
  for (int i = 0; i <= exp && !rc; i++)
    rc = tc_buf_addc(out, (size_t)i < nd ? digits[i] : '0');
  if (!rc && (size_t)exp + 1 < nd)
    rc = tc_buf_addf(out, ".%s", digits + exp + 1);
  return rc;
}

/* ---- formatting --------------------------------------------------------- */

/* Shortest round-trip decimal digits of |v| (as Go's strconv picks them)
 * and the decimal point position: v = 0.DIGITS * 10^dp. A shortest form
 * of up to 15 digits is the correctly rounded 15-digit form without its
 * trailing zeros (DBL_DIG is 15); otherwise the closest 16-digit form if it
 * round-trips, else the 17-digit one. */
static void p_shortest_digits(double v, char *digits, int *nd, int *dp) {
  char tmp[40];
  int prec;
  /* subnormals carry fewer digits: search from one digit up */
  for (prec = fabs(v) < 2.2250738585072014e-308 ? 1 : 15; prec < 17; prec++) {
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  if (prec == 17)
    snprintf(tmp, sizeof(tmp), "%.16e", v);
  /* tmp: d.ddde[+-]xx */
  *nd = 0;
  for (const char *p = tmp; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9')
      digits[(*nd)++] = *p;
  while (*nd > 1 && digits[*nd - 1] == '0')
    (*nd)--;
  *dp = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10) + 1;
}

static void old_promql(struct tc_buf *b, double v) {
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
  p_shortest_digits(v, d, &nd, &dp);
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

static uint64_t st = 12345;
static uint64_t rnd(void) {
  uint64_t z = (st += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}
static double rv(long i) {
  if (i % 3 == 0) { uint64_t u = rnd(); double v; memcpy(&v, &u, 8); return v; }
  if (i % 3 == 1) { return (double)(int64_t)(rnd() % 100000000) / (double)(1 + rnd() % 100000); }
  char s[64]; int nd = 1 + (int)(rnd() % 17); uint64_t m = rnd() % 100000000000000000ULL;
  for (int k = nd; k < 17; k++) m /= 10;
  int x = rnd() % 4 ? (int)(rnd() % 41) - 25 : (int)(rnd() % 640) - 330;
  snprintf(s, sizeof s, "%" PRIu64 "e%d", m, x); return strtod(s, NULL);
}
TEST(fmtfloat_vs_old) {
  const char *s = getenv("OLDN");
  long n = s ? strtol(s, NULL, 10) : 200000;
  long metdiff = 0, metdiff_small = 0, jsondiff = 0, lbl = 0, prm = 0;
  char a[FMTFLOAT_MAX], b[FMTFLOAT_MAX];
  struct tc_buf x = TC_BUF_INIT, y = TC_BUF_INIT;
  for (long i = 0; i < n; i++) {
    double v = i < 20 ? (double[]){0, -0.0, NAN, INFINITY, -INFINITY, 1, -1, 1e6, 5e-324, 1e21, 1e-7, 0.1, 1e15, 1e16, 123456789012345680000.0, 2.5, 1e300, -1e-300, 999999.5, 1e-5}[i] : rv(i);
    const char fm[] = {'e', 'f', 'g'};
    for (int k = 0; k < 3; k++) {
      old_json(a, v, fm[k]);
      fmtfloat_write(b, v, fm[k]);
      if (strcmp(a, b)) { if (jsondiff++ < 5) fprintf(stderr, "json %c %a: old %s new %s\n", fm[k], v, a, b); }
    }
    tc_buf_reset(&x); tc_buf_reset(&y);
    old_labels(&x, v); fmtfloat_add(&y, v, 'g');
    if (strcmp(x.data, y.data)) { if (lbl++ < 5) fprintf(stderr, "labels %a: old %s new %s\n", v, x.data, y.data); }
    tc_buf_reset(&x); tc_buf_reset(&y);
    old_promql(&x, v); fmtfloat_add(&y, v, 'f');
    if (strcmp(x.data, y.data)) { if (prm++ < 5) fprintf(stderr, "promql %a: old %s new %s\n", v, x.data, y.data); }
    tc_buf_reset(&x); tc_buf_reset(&y);
    old_metrics(&x, v); fmtfloat_add(&y, v == 0 ? 0 : v, 'g');
    if (strcmp(x.data, y.data)) {
      if (fabs(v) < 1e6 && metdiff_small++ < 5) fprintf(stderr, "metrics %a: old %s new %s\n", v, x.data, y.data);
      metdiff++;
    }
  }
  fprintf(stderr, "n=%ld json=%ld labels=%ld promql=%ld metrics=%ld (below 1e6: %ld)\n", n, jsondiff, lbl, prm, metdiff, metdiff_small);
  tc_buf_release(&x); tc_buf_release(&y);
}
