/*
 * functab.c - the table of PromQL functions: names, argument and return
 * types, and whether Prometheus keeps the function behind
 * --enable-feature=promql-experimental-functions. The parser type-checks
 * calls against it; the evaluator dispatches on the id.
 */
#include <string.h>

#include "promql/internal.h"
#include "thanosc/common.h"

#define S PROMQL_TYPE_SCALAR
#define V PROMQL_TYPE_VECTOR
#define M PROMQL_TYPE_MATRIX
#define STR PROMQL_TYPE_STRING

/* name, args, nargs, variadic, return, experimental, id */
static const struct promql_func funcs[] = {
    {"abs", {V}, 1, 0, V, false, FN_ABS},
    {"absent", {V}, 1, 0, V, false, FN_ABSENT},
    {"absent_over_time", {M}, 1, 0, V, false, FN_ABSENT_OVER_TIME},
    {"acos", {V}, 1, 0, V, false, FN_ACOS},
    {"acosh", {V}, 1, 0, V, false, FN_ACOSH},
    {"asin", {V}, 1, 0, V, false, FN_ASIN},
    {"asinh", {V}, 1, 0, V, false, FN_ASINH},
    {"atan", {V}, 1, 0, V, false, FN_ATAN},
    {"atanh", {V}, 1, 0, V, false, FN_ATANH},
    {"avg_over_time", {M}, 1, 0, V, false, FN_AVG_OVER_TIME},
    {"ceil", {V}, 1, 0, V, false, FN_CEIL},
    {"changes", {M}, 1, 0, V, false, FN_CHANGES},
    {"clamp", {V, S, S}, 3, 0, V, false, FN_CLAMP},
    {"clamp_max", {V, S}, 2, 0, V, false, FN_CLAMP_MAX},
    {"clamp_min", {V, S}, 2, 0, V, false, FN_CLAMP_MIN},
    {"cos", {V}, 1, 0, V, false, FN_COS},
    {"cosh", {V}, 1, 0, V, false, FN_COSH},
    {"count_over_time", {M}, 1, 0, V, false, FN_COUNT_OVER_TIME},
    {"days_in_month", {V}, 0, 1, V, false, FN_DAYS_IN_MONTH},
    {"day_of_month", {V}, 0, 1, V, false, FN_DAY_OF_MONTH},
    {"day_of_week", {V}, 0, 1, V, false, FN_DAY_OF_WEEK},
    {"day_of_year", {V}, 0, 1, V, false, FN_DAY_OF_YEAR},
    {"deg", {V}, 1, 0, V, false, FN_DEG},
    {"delta", {M}, 1, 0, V, false, FN_DELTA},
    {"deriv", {M}, 1, 0, V, false, FN_DERIV},
    {"double_exponential_smoothing", {M, S, S}, 3, 0, V, true,
     FN_DOUBLE_EXP_SMOOTHING},
    {"exp", {V}, 1, 0, V, false, FN_EXP},
    {"first_over_time", {M}, 1, 0, V, true, FN_FIRST_OVER_TIME},
    {"floor", {V}, 1, 0, V, false, FN_FLOOR},
    {"histogram_avg", {V}, 1, 0, V, false, FN_HISTOGRAM_AVG},
    {"histogram_count", {V}, 1, 0, V, false, FN_HISTOGRAM_COUNT},
    {"histogram_fraction", {S, S, V}, 3, 0, V, false, FN_HISTOGRAM_FRACTION},
    {"histogram_quantile", {S, V}, 2, 0, V, false, FN_HISTOGRAM_QUANTILE},
    {"histogram_quantiles", {V, STR, S}, 3, -1, V, true,
     FN_HISTOGRAM_QUANTILES},
    {"histogram_stddev", {V}, 1, 0, V, false, FN_HISTOGRAM_STDDEV},
    {"histogram_stdvar", {V}, 1, 0, V, false, FN_HISTOGRAM_STDVAR},
    {"histogram_sum", {V}, 1, 0, V, false, FN_HISTOGRAM_SUM},
    {"hour", {V}, 0, 1, V, false, FN_HOUR},
    {"idelta", {M}, 1, 0, V, false, FN_IDELTA},
    {"increase", {M}, 1, 0, V, false, FN_INCREASE},
    {"info", {V, V}, 1, 1, V, true, FN_INFO},
    {"irate", {M}, 1, 0, V, false, FN_IRATE},
    {"label_join", {V, STR, STR, STR}, 3, -1, V, false, FN_LABEL_JOIN},
    {"label_replace", {V, STR, STR, STR, STR}, 5, 0, V, false,
     FN_LABEL_REPLACE},
    {"last_over_time", {M}, 1, 0, V, false, FN_LAST_OVER_TIME},
    {"ln", {V}, 1, 0, V, false, FN_LN},
    {"log10", {V}, 1, 0, V, false, FN_LOG10},
    {"log2", {V}, 1, 0, V, false, FN_LOG2},
    {"mad_over_time", {M}, 1, 0, V, true, FN_MAD_OVER_TIME},
    {"max_over_time", {M}, 1, 0, V, false, FN_MAX_OVER_TIME},
    {"min_over_time", {M}, 1, 0, V, false, FN_MIN_OVER_TIME},
    {"max_of", {S, S}, 2, 0, S, true, FN_MAX_OF},
    {"min_of", {S, S}, 2, 0, S, true, FN_MIN_OF},
    {"minute", {V}, 0, 1, V, false, FN_MINUTE},
    {"month", {V}, 0, 1, V, false, FN_MONTH},
    {"pi", {0}, 0, 0, S, false, FN_PI},
    {"predict_linear", {M, S}, 2, 0, V, false, FN_PREDICT_LINEAR},
    {"present_over_time", {M}, 1, 0, V, false, FN_PRESENT_OVER_TIME},
    {"quantile_over_time", {S, M}, 2, 0, V, false, FN_QUANTILE_OVER_TIME},
    {"rad", {V}, 1, 0, V, false, FN_RAD},
    {"rate", {M}, 1, 0, V, false, FN_RATE},
    {"resets", {M}, 1, 0, V, false, FN_RESETS},
    {"round", {V, S}, 1, 1, V, false, FN_ROUND},
    {"scalar", {V}, 1, 0, S, false, FN_SCALAR},
    {"sgn", {V}, 1, 0, V, false, FN_SGN},
    {"sin", {V}, 1, 0, V, false, FN_SIN},
    {"sinh", {V}, 1, 0, V, false, FN_SINH},
    {"sort", {V}, 1, 0, V, false, FN_SORT},
    {"sort_by_label", {V, STR}, 1, -1, V, true, FN_SORT_BY_LABEL},
    {"sort_by_label_desc", {V, STR}, 1, -1, V, true, FN_SORT_BY_LABEL_DESC},
    {"sort_desc", {V}, 1, 0, V, false, FN_SORT_DESC},
    {"sqrt", {V}, 1, 0, V, false, FN_SQRT},
    {"stddev_over_time", {M}, 1, 0, V, false, FN_STDDEV_OVER_TIME},
    {"stdvar_over_time", {M}, 1, 0, V, false, FN_STDVAR_OVER_TIME},
    {"sum_over_time", {M}, 1, 0, V, false, FN_SUM_OVER_TIME},
    {"tan", {V}, 1, 0, V, false, FN_TAN},
    {"tanh", {V}, 1, 0, V, false, FN_TANH},
    {"time", {0}, 0, 0, S, false, FN_TIME},
    {"timestamp", {V}, 1, 0, V, false, FN_TIMESTAMP},
    {"ts_of_first_over_time", {M}, 1, 0, V, true, FN_TS_OF_FIRST_OVER_TIME},
    {"ts_of_last_over_time", {M}, 1, 0, V, true, FN_TS_OF_LAST_OVER_TIME},
    {"ts_of_max_over_time", {M}, 1, 0, V, true, FN_TS_OF_MAX_OVER_TIME},
    {"ts_of_min_over_time", {M}, 1, 0, V, true, FN_TS_OF_MIN_OVER_TIME},
    {"vector", {S}, 1, 0, V, false, FN_VECTOR},
    {"year", {V}, 0, 1, V, false, FN_YEAR},
};

const struct promql_func *promql_func_lookup(const char *name) {
  for (size_t i = 0; i < TC_ARRAY_SIZE(funcs); i++)
    if (strcmp(funcs[i].name, name) == 0)
      return &funcs[i];
  return NULL;
}
