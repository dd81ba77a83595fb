/*
 * funcs.h - the numeric kernels of functions.c, used by engine.c.
 */
#ifndef THANOSC_PROMQL_FUNCS_H
#define THANOSC_PROMQL_FUNCS_H

#include "promql/internal.h"

/* One window of samples for a range-vector function. */
struct promql__window {
  const int64_t *t;
  const double *v;
  size_t n;
  int64_t ref;    /* window end (inclusive), after offset */
  int64_t range;  /* window length; it starts (exclusive) at ref - range */
  int64_t eval_t; /* evaluation time (predict_linear's intercept) */
  const double *args; /* scalar arguments at this step */
  /* Counter resets (v[j] < v[j-1]) and changes inside the window when the
   * caller knows them from prefix counts, else -1. */
  int64_t nresets, nchanges;
};

/* Returns 1 with *out set, 0 for "no sample"; *err set on bad arguments. */
int promql__range_fn(int fn, const struct promql__window *w, double *out,
                     const char **err /* OUT */);
/* Per-sample math; false drops the sample. */
bool promql__math_fn(int fn, double v, const double *args, double *out);
double promql__avg(const double *v, size_t n);
double promql__variance(const double *v, size_t n);

struct promql__bucket {
  double upper;
  double count;
};
/* flags |= 1 when counts were forced monotonic, 2 on precision fixes. */
double promql__bucket_quantile(double q, struct promql__bucket *b, size_t n,
                               unsigned *flags);
double promql__bucket_fraction(double lower, double upper,
                               struct promql__bucket *b, size_t n);

#endif
