/*
 * internal.h - declarations shared by the files of src/promql only: the
 * function table, the string hash map, the label-key builder and the
 * number/string formatting helpers used by printer, engine and runner.
 */
#ifndef THANOSC_PROMQL_INTERNAL_H
#define THANOSC_PROMQL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thanosc/buf.h"
#include "thanosc/promql.h"

/* Function table entry (functions.c). */
struct promql_func {
  const char *name;
  enum promql_type args[6]; /* argument types */
  int nargs;                /* fixed arguments */
  int variadic;             /* 0: exactly nargs; >0: up to that many more
                               optional; -1: any number more */
  enum promql_type ret;
  bool experimental;
  int id; /* internal evaluator id */
};

/* Evaluator ids of the functions (functions.c). */
enum promql_fn {
  FN_ABS, FN_ABSENT, FN_ABSENT_OVER_TIME, FN_ACOS, FN_ACOSH, FN_ASIN,
  FN_ASINH, FN_ATAN, FN_ATANH, FN_AVG_OVER_TIME, FN_CEIL, FN_CHANGES,
  FN_CLAMP, FN_CLAMP_MAX, FN_CLAMP_MIN, FN_COS, FN_COSH, FN_COUNT_OVER_TIME,
  FN_DAYS_IN_MONTH, FN_DAY_OF_MONTH, FN_DAY_OF_WEEK, FN_DAY_OF_YEAR, FN_DEG,
  FN_DELTA, FN_DERIV, FN_EXP, FN_FLOOR, FN_HISTOGRAM_AVG, FN_HISTOGRAM_COUNT,
  FN_HISTOGRAM_SUM, FN_HISTOGRAM_STDDEV, FN_HISTOGRAM_STDVAR,
  FN_HISTOGRAM_FRACTION, FN_HISTOGRAM_QUANTILE, FN_DOUBLE_EXP_SMOOTHING,
  FN_HOUR, FN_IDELTA, FN_INCREASE, FN_INFO, FN_IRATE, FN_LABEL_REPLACE,
  FN_LABEL_JOIN, FN_LAST_OVER_TIME, FN_FIRST_OVER_TIME, FN_LN, FN_LOG10,
  FN_LOG2, FN_MAD_OVER_TIME, FN_MAX_OVER_TIME, FN_MIN_OVER_TIME,
  FN_TS_OF_MAX_OVER_TIME, FN_TS_OF_MIN_OVER_TIME, FN_TS_OF_LAST_OVER_TIME,
  FN_TS_OF_FIRST_OVER_TIME, FN_MINUTE, FN_MONTH, FN_PI, FN_PREDICT_LINEAR,
  FN_PRESENT_OVER_TIME, FN_QUANTILE_OVER_TIME, FN_RATE, FN_RESETS, FN_ROUND,
  FN_SCALAR, FN_SGN, FN_SIN, FN_SINH, FN_SORT, FN_SORT_DESC,
  FN_SORT_BY_LABEL, FN_SORT_BY_LABEL_DESC, FN_SQRT, FN_STDDEV_OVER_TIME,
  FN_STDVAR_OVER_TIME, FN_SUM_OVER_TIME, FN_TAN, FN_TANH, FN_TIME,
  FN_TIMESTAMP, FN_VECTOR, FN_YEAR, FN_RAD, FN_HISTOGRAM_QUANTILES, FN_MIN_OF,
  FN_MAX_OF,
};

/* Open-addressing map from byte strings to size_t (keys are copied). */
struct promql__map {
  char **keys;
  size_t *klen;
  size_t *vals;
  size_t cap, n;
};
void promql__map_init(struct promql__map *m);
void promql__map_release(struct promql__map *m);
/* Returns a pointer to the value slot; *found says whether it existed. A new
 * slot is set to `dflt`. */
size_t *promql__map_put(struct promql__map *m, const char *k, size_t klen,
                        size_t dflt, bool *found /* OUT */);
size_t *promql__map_get(struct promql__map *m, const char *k, size_t klen);

/* Appends an unambiguous key of ls (labels named in `names` kept when
 * `keep`, dropped otherwise; __name__ also dropped when drop_name). */
void promql__labels_key(struct tc_buf *b, const struct labels *ls,
                        char **names, size_t nnames, bool keep,
                        bool drop_name);

/* Go strconv.FormatFloat(v, 'f', -1, 64). */
void promql__fmt_float(struct tc_buf *b, double v);
/* Is s a valid legacy label name / metric name? */
bool promql__valid_label_name(const char *s);
bool promql__valid_metric_name(const char *s);

/* The stale-marker NaN (bits 0x7ff0000000000002). */
double promql__stale_nan(void);
bool promql__is_stale(double v);

/* Parser entry used by the .test runner for series lines: parses a metric
 * like `foo{a="b"}` into labels (matchers must be equality). */
int promql__parse_metric(const char *s, size_t len,
                         struct labels *out /* OUT */,
                         size_t *consumed /* OUT */, char **errmsg);

/* Quantile of n values (sorted in place), Prometheus's interpolation. */
double promql__quantile(double q, double *v, size_t n);
/* Kahan-compensated addition: sum += x with compensation c. */
static inline void promql__kahan_add(double x, double *sum, double *c) {
  double t = *sum + x;
  if (__builtin_isinf(t))
    *c = 0;
  else if (__builtin_fabs(*sum) >= __builtin_fabs(x))
    *c += (*sum - t) + x;
  else
    *c += (x - t) + *sum;
  *sum = t;
}

#endif
