/*
 * functions.c - the numeric kernels of PromQL functions: range-vector
 * functions over one window of samples (rate, *_over_time, deriv, ...),
 * per-sample math, the date functions, quantiles and the classic-bucket
 * histogram_quantile / histogram_fraction. Pure functions of their inputs;
 * the evaluator (engine.c) does selection, windowing and labels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql/funcs.h"
#include "thanosc/common.h"

/* ---- helpers ------------------------------------------------------------ */

static int dbl_cmp_nan_first(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x))
    return isnan(y) ? 0 : -1;
  if (isnan(y))
    return 1;
  return x < y ? -1 : x > y;
}

double promql__quantile(double q, double *v, size_t n) {
  double rank, lo, hi, w;
  if (n == 0 || isnan(q))
    return NAN;
  if (q < 0)
    return -INFINITY;
  if (q > 1)
    return INFINITY;
  qsort(v, n, sizeof(double), dbl_cmp_nan_first);
  rank = q * (double)(n - 1);
  lo = fmax(0, floor(rank));
  hi = fmin((double)n - 1, lo + 1);
  w = rank - floor(rank);
  return v[(size_t)lo] * (1 - w) + v[(size_t)hi] * w;
}

double promql__avg(const double *v, size_t n) {
  double sum = 0, mean = 0, count = 0, c = 0;
  bool incremental = false;
  for (size_t i = 0; i < n; i++) {
    count++;
    if (!incremental) {
      double ns = sum, nc = c;
      promql__kahan_add(v[i], &ns, &nc);
      if (count == 1 || !isinf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    {
      double q = (count - 1) / count;
      double m = q * mean, mc = q * c;
      promql__kahan_add(v[i] / count, &m, &mc);
      mean = m;
      c = mc;
    }
  }
  if (incremental)
    return mean + c;
  return sum / count + c / count;
}

double promql__variance(const double *v, size_t n) {
  double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
  for (size_t i = 0; i < n; i++) {
    double delta;
    count++;
    delta = v[i] - (mean + cmean);
    promql__kahan_add(delta / count, &mean, &cmean);
    promql__kahan_add(delta * (v[i] - (mean + cmean)), &aux, &caux);
  }
  return (aux + caux) / count;
}

static void linreg(const int64_t *t, const double *v, size_t n,
                   int64_t icept, double *slope, double *intercept) {
  double sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
  double nn = 0, init = v[0];
  bool consty = true;
  for (size_t i = 0; i < n; i++) {
    double x = (double)(t[i] - icept) / 1e3;
    if (consty && i > 0 && v[i] != init)
      consty = false;
    nn += 1;
    promql__kahan_add(x, &sx, &cx);
    promql__kahan_add(v[i], &sy, &cy);
    promql__kahan_add(x * v[i], &sxy, &cxy);
    promql__kahan_add(x * x, &sx2, &cx2);
  }
  if (consty) {
    if (isinf(init)) {
      *slope = *intercept = NAN;
      return;
    }
    *slope = 0;
    *intercept = init;
    return;
  }
  sx += cx;
  sy += cy;
  sxy += cxy;
  sx2 += cx2;
  {
    double cov = sxy - sx * sy / nn, var = sx2 - sx * sx / nn;
    *slope = cov / var;
    *intercept = sy / nn - *slope * sx / nn;
  }
}

static bool extrapolated_rate(const struct promql__window *w, bool counter,
                              bool rate, double *out) {
  const int64_t *t = w->t;
  const double *v = w->v;
  size_t n = w->n;
  double result, to_start, to_end, sampled, avg, thresh, factor;
  int64_t rstart = w->ref - w->range, rend = w->ref;
  if (n < 2)
    return false;
  result = v[n - 1] - v[0];
  if (counter && w->nresets != 0) {
    double prev = v[0];
    for (size_t i = 1; i < n; i++) {
      if (v[i] < prev)
        result += prev;
      prev = v[i];
    }
  }
  to_start = (double)(t[0] - rstart) / 1000;
  to_end = (double)(rend - t[n - 1]) / 1000;
  sampled = (double)(t[n - 1] - t[0]) / 1000;
  avg = sampled / (double)(n - 1);
  thresh = avg * 1.1;
  if (to_start >= thresh)
    to_start = avg / 2;
  if (counter) {
    double to_zero = to_start;
    if (result > 0 && v[0] >= 0)
      to_zero = sampled * (v[0] / result);
    if (to_zero < to_start)
      to_start = to_zero;
  }
  if (to_end >= thresh)
    to_end = avg / 2;
  factor = (sampled + to_start + to_end) / sampled;
  if (rate)
    factor /= (double)w->range / 1000;
  *out = result * factor;
  return true;
}

static bool instant_value(const struct promql__window *w, bool rate,
                          double *out) {
  size_t n = w->n;
  double last, prev, r;
  int64_t iv;
  if (n < 2)
    return false;
  last = w->v[n - 1];
  prev = w->v[n - 2];
  r = rate && last < prev ? last : last - prev;
  iv = w->t[n - 1] - w->t[n - 2];
  if (iv == 0)
    return false;
  if (rate)
    r /= (double)iv / 1000;
  *out = r;
  return true;
}

int promql__range_fn(int fn, const struct promql__window *w, double *out,
                     const char **err) {
  size_t n = w->n;
  const double *v = w->v;
  *err = NULL;
  switch (fn) {
  case FN_RATE:
    return extrapolated_rate(w, true, true, out);
  case FN_INCREASE:
    return extrapolated_rate(w, true, false, out);
  case FN_DELTA:
    return extrapolated_rate(w, false, false, out);
  case FN_IRATE:
    return instant_value(w, true, out);
  case FN_IDELTA:
    return instant_value(w, false, out);
  case FN_RESETS:
  case FN_CHANGES: {
    double c = 0;
    if (!n)
      return false;
    if (fn == FN_RESETS && w->nresets >= 0) {
      *out = (double)w->nresets;
      return true;
    }
    if (fn == FN_CHANGES && w->nchanges >= 0) {
      *out = (double)w->nchanges;
      return true;
    }
    for (size_t i = 1; i < n; i++) {
      if (fn == FN_RESETS ? v[i] < v[i - 1]
                          : (v[i] != v[i - 1] &&
                             !(isnan(v[i]) && isnan(v[i - 1]))))
        c++;
    }
    *out = c;
    return true;
  }
  case FN_DERIV:
  case FN_PREDICT_LINEAR: {
    double slope, icept;
    if (n < 2)
      return false;
    if (fn == FN_DERIV) {
      linreg(w->t, v, n, w->t[0], &slope, &icept);
      *out = slope;
    } else {
      linreg(w->t, v, n, w->eval_t, &slope, &icept);
      *out = slope * w->args[0] + icept;
    }
    return true;
  }
  case FN_AVG_OVER_TIME:
    if (!n)
      return false;
    *out = promql__avg(v, n);
    return true;
  case FN_SUM_OVER_TIME: {
    double s = 0, c = 0;
    if (!n)
      return false;
    for (size_t i = 0; i < n; i++)
      promql__kahan_add(v[i], &s, &c);
    *out = s + c;
    return true;
  }
  case FN_COUNT_OVER_TIME:
  case FN_PRESENT_OVER_TIME:
    if (!n)
      return false;
    *out = fn == FN_PRESENT_OVER_TIME ? 1 : (double)n;
    return true;
  case FN_MIN_OVER_TIME:
  case FN_MAX_OVER_TIME:
  case FN_TS_OF_MIN_OVER_TIME:
  case FN_TS_OF_MAX_OVER_TIME: {
    bool max = fn == FN_MAX_OVER_TIME || fn == FN_TS_OF_MAX_OVER_TIME;
    double m;
    size_t mi = 0;
    if (!n)
      return false;
    m = v[0];
    for (size_t i = 1; i < n; i++)
      if ((max ? v[i] > m : v[i] < m) || isnan(m) ||
          (v[i] == m && fn != FN_MIN_OVER_TIME && fn != FN_MAX_OVER_TIME)) {
        m = v[i];
        mi = i;
      }
    *out = (fn == FN_MIN_OVER_TIME || fn == FN_MAX_OVER_TIME)
               ? m
               : (double)w->t[mi] / 1000;
    return true;
  }
  case FN_LAST_OVER_TIME:
  case FN_TS_OF_LAST_OVER_TIME:
    if (!n)
      return false;
    *out = fn == FN_LAST_OVER_TIME ? v[n - 1] : (double)w->t[n - 1] / 1000;
    return true;
  case FN_FIRST_OVER_TIME:
  case FN_TS_OF_FIRST_OVER_TIME:
    if (!n)
      return false;
    *out = fn == FN_FIRST_OVER_TIME ? v[0] : (double)w->t[0] / 1000;
    return true;
  case FN_STDDEV_OVER_TIME:
  case FN_STDVAR_OVER_TIME:
    if (!n)
      return false;
    *out = promql__variance(v, n);
    if (fn == FN_STDDEV_OVER_TIME)
      *out = sqrt(*out);
    return true;
  case FN_QUANTILE_OVER_TIME:
  case FN_MAD_OVER_TIME: {
    double *tmp;
    if (!n)
      return false;
    tmp = xmalloc(n * sizeof(double));
    memcpy(tmp, v, n * sizeof(double));
    if (fn == FN_QUANTILE_OVER_TIME) {
      *out = promql__quantile(w->args[0], tmp, n);
    } else {
      double med = promql__quantile(0.5, tmp, n);
      if (isnan(tmp[0])) { /* NaN sorts first: any NaN makes MAD NaN */
        free(tmp);
        *out = NAN;
        return true;
      }
      for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(v[i] - med);
      *out = promql__quantile(0.5, tmp, n);
    }
    free(tmp);
    return true;
  }
  case FN_DOUBLE_EXP_SMOOTHING: {
    double sf = w->args[0], tf = w->args[1], s0 = 0, s1, b;
    if (!(sf > 0 && sf < 1)) {
      *err = "invalid smoothing factor. Expected: 0 < sf < 1";
      return false;
    }
    if (!(tf > 0 && tf < 1)) {
      *err = "invalid trend factor. Expected: 0 < tf < 1";
      return false;
    }
    if (n < 2)
      return false;
    s1 = v[0];
    b = v[1] - v[0];
    for (size_t i = 1; i < n; i++) {
      double x = sf * v[i];
      if (i > 1)
        b = tf * (s1 - s0) + (1 - tf) * b;
      double y = (1 - sf) * (s1 + b);
      s0 = s1;
      s1 = x + y;
    }
    *out = s1;
    return true;
  }
  default:
    return false;
  }
}

/* ---- per-sample math ---------------------------------------------------- */

static double go_min(double a, double b) {
  if (isnan(a) || isnan(b))
    return NAN;
  if (a == 0 && b == 0)
    return signbit(a) ? a : b;
  return a < b ? a : b;
}

static double go_max(double a, double b) {
  if (isnan(a) || isnan(b))
    return NAN;
  if (a == 0 && b == 0)
    return signbit(a) ? b : a;
  return a > b ? a : b;
}

/* Go's math.Log2 (and Log10 = Log2 * Ln2/Ln10): results differ from the
 * C library's in the last bit, which the date functions can turn into a
 * different minute. */
static double go_log2(double x) {
  int e;
  double f = frexp(x, &e);
  if (f == 0.5)
    return (double)(e - 1);
  return log(f) * (1 / M_LN2) + (double)e;
}

/* days since 1970-01-01 -> civil date (Howard Hinnant's algorithm). */
static void civil(int64_t days, int64_t *y, int *m, int *d) {
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static double date_fn(int fn, double v) {
  int64_t s, days, secs, y;
  int m, d;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  /* Go's int64(f) on amd64 (NaN and out of range give MinInt64), then
   * time.Unix().UTC(), whose calendar math runs on a uint64 count of
   * seconds since year -292277022399: mirror its wrap-around */
  if (isnan(v) || v >= 9223372036854775807.0 || v < -9223372036854775808.0)
    s = INT64_MIN;
  else
    s = (int64_t)v;
  {
    /* Go 1.23+ unixToAbsolute: 1970 counted from March 1, -292277022400 */
    const uint64_t base = 9223372028741760000ULL;
    uint64_t u = (uint64_t)s + base;
    if (u >= base) {
      uint64_t e = u - base;
      days = (int64_t)(e / 86400);
      secs = (int64_t)(e % 86400);
    } else {
      uint64_t e = base - u;
      days = -(int64_t)((e + 86399) / 86400);
      secs = (int64_t)((86400 - e % 86400) % 86400);
    }
  }
  civil(days, &y, &m, &d);
  switch (fn) {
  case FN_YEAR: return (double)y;
  case FN_MONTH: return m;
  case FN_DAY_OF_MONTH: return d;
  case FN_DAY_OF_WEEK: return (double)(((days % 7) + 11) % 7);
  case FN_DAY_OF_YEAR: {
    int doy = d;
    for (int i = 0; i < m - 1; i++)
      doy += mdays[i] + (i == 1 && leap(y));
    return doy;
  }
  case FN_DAYS_IN_MONTH: return mdays[m - 1] + (m == 2 && leap(y));
  case FN_HOUR: return (double)(secs / 3600);
  case FN_MINUTE: return (double)((secs % 3600) / 60);
  default: return NAN;
  }
}

bool promql__math_fn(int fn, double v, const double *args, double *out) {
  switch (fn) {
  case FN_ABS: *out = fabs(v); break;
  case FN_CEIL: *out = ceil(v); break;
  case FN_FLOOR: *out = floor(v); break;
  case FN_EXP: *out = exp(v); break;
  case FN_SQRT: *out = sqrt(v); break;
  case FN_LN: *out = log(v); break;
  case FN_LOG2: *out = go_log2(v); break;
  case FN_LOG10: *out = go_log2(v) * (M_LN2 / M_LN10); break;
  case FN_SIN: *out = sin(v); break;
  case FN_COS: *out = cos(v); break;
  case FN_TAN: *out = tan(v); break;
  case FN_ASIN: *out = asin(v); break;
  case FN_ACOS: *out = acos(v); break;
  case FN_ATAN: *out = atan(v); break;
  case FN_SINH: *out = sinh(v); break;
  case FN_COSH: *out = cosh(v); break;
  case FN_TANH: *out = tanh(v); break;
  case FN_ASINH: *out = asinh(v); break;
  case FN_ACOSH: *out = acosh(v); break;
  case FN_ATANH: *out = atanh(v); break;
  case FN_DEG: *out = v * 180 / M_PI; break;
  case FN_RAD: *out = v * M_PI / 180; break;
  case FN_SGN: *out = v > 0 ? 1 : v < 0 ? -1 : v; break;
  case FN_ROUND: {
    double inv = 1.0 / (args ? args[0] : 1.0);
    *out = floor(v * inv + 0.5) / inv;
    break;
  }
  case FN_CLAMP:
    if (args[1] < args[0])
      return false;
    *out = go_max(args[0], go_min(args[1], v));
    break;
  case FN_CLAMP_MAX: *out = go_min(v, args[0]); break;
  case FN_CLAMP_MIN: *out = go_max(v, args[0]); break;
  case FN_YEAR: case FN_MONTH: case FN_DAY_OF_MONTH: case FN_DAY_OF_WEEK:
  case FN_DAY_OF_YEAR: case FN_DAYS_IN_MONTH: case FN_HOUR: case FN_MINUTE:
    *out = date_fn(fn, v);
    break;
  default:
    return false;
  }
  return true;
}

/* ---- classic histograms ------------------------------------------------- */

static int bucket_cmp(const void *a, const void *b) {
  double x = ((const struct promql__bucket *)a)->upper;
  double y = ((const struct promql__bucket *)b)->upper;
  return x < y ? -1 : x > y;
}

static bool almost_equal(double a, double b, double eps) {
  double sum, diff;
  if (a == b)
    return true;
  if (isnan(a) || isnan(b))
    return false;
  sum = fabs(a) + fabs(b);
  diff = fabs(a - b);
  if (a == 0 || b == 0 || sum < 2.2250738585072014e-308)
    return diff < eps * 2.2250738585072014e-308;
  return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

/* Sorts, checks +Inf, coalesces equal bounds; returns new count or 0. */
static size_t prep_buckets(struct promql__bucket *b, size_t n,
                           unsigned *flags) {
  size_t k = 0;
  qsort(b, n, sizeof(*b), bucket_cmp);
  if (!n || !(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (k && b[k - 1].upper == b[i].upper)
      b[k - 1].count += b[i].count;
    else
      b[k++] = b[i];
  }
  if (flags) {
    double prev = b[0].count;
    for (size_t i = 1; i < k; i++) {
      double cur = b[i].count;
      if (cur == prev)
        continue;
      if (almost_equal(prev, cur, 1e-12)) {
        b[i].count = prev;
        *flags |= 2;
        continue;
      }
      if (cur < prev) {
        b[i].count = prev;
        *flags |= 1;
        continue;
      }
      prev = cur;
    }
  }
  return k;
}

double promql__bucket_quantile(double q, struct promql__bucket *b, size_t n,
                               unsigned *flags) {
  double obs, rank, start = 0, end, count;
  size_t i;
  if (isnan(q))
    return NAN;
  if (q < 0)
    return -INFINITY;
  if (q > 1)
    return INFINITY;
  n = prep_buckets(b, n, flags);
  if (n < 2)
    return NAN;
  obs = b[n - 1].count;
  if (obs == 0 || isnan(obs))
    return NAN;
  rank = q * obs;
  for (i = 0; i < n - 1; i++)
    if (b[i].count >= rank)
      break;
  if (i == n - 1)
    return b[n - 2].upper;
  if (i == 0 && b[0].upper <= 0)
    return b[0].upper;
  end = b[i].upper;
  count = b[i].count;
  if (i > 0) {
    start = b[i - 1].upper;
    count -= b[i - 1].count;
    rank -= b[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}

double promql__bucket_fraction(double lower, double upper,
                               struct promql__bucket *b, size_t n) {
  double count, rank = 0, lrank = 0, urank = 0;
  bool lset = false, uset = false;
  n = prep_buckets(b, n, NULL);
  if (!n)
    return NAN;
  count = b[n - 1].count;
  if (count == 0 || isnan(lower) || isnan(upper))
    return NAN;
  if (lower >= upper)
    return 0;
  for (size_t i = 0; i < n; i++) {
    double lb = i > 0 ? b[i - 1].upper : -INFINITY;
    double ub = b[i].upper;
    if (i == 0 && ub > 0)
      lb = 0; /* a positive first bucket starts at zero */
    if (!lset && lb >= lower) {
      lrank = rank;
      lset = true;
    }
    if (!uset && lb >= upper) {
      urank = rank;
      uset = true;
    }
    if (lset && uset)
      break;
    if (!lset && lb < lower && ub > lower) {
      lrank = isinf(lb)   ? b[i].count
              : isinf(ub) ? rank
                          : rank + (b[i].count - rank) * (lower - lb) / (ub - lb);
      lset = true;
    }
    if (!uset && lb < upper && ub > upper) {
      urank = isinf(lb)   ? b[i].count
              : isinf(ub) ? rank
                          : rank + (b[i].count - rank) * (upper - lb) / (ub - lb);
      uset = true;
    }
    if (lset && uset)
      break;
    rank = b[i].count;
  }
  if (!lset || lrank > count)
    lrank = count;
  if (!uset || urank > count)
    urank = count;
  return (urank - lrank) / count;
}
