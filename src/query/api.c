/*
 * api.c - Prometheus HTTP API v1 response shapes for the querier (see
 * include/thanosc/query_api.h): the success/error envelope, query results
 * (vector, matrix, scalar, string), label lists, and Thanos's
 * /api/v1/stores. Everything streams through struct jsonw, so a large
 * matrix never exists twice in memory.
 */
#include "thanosc/query_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/error.h"
#include "thanosc/fmttime.h"
#include "thanosc/promql.h"

const char *api_error_type_str(enum api_error_type t) {
  switch (t) {
  case API_ERR_NONE: return "";
  case API_ERR_TIMEOUT: return "timeout";
  case API_ERR_CANCELED: return "canceled";
  case API_ERR_EXEC: return "execution";
  case API_ERR_BAD_DATA: return "bad_data";
  case API_ERR_INTERNAL: return "internal";
  case API_ERR_UNAVAILABLE: return "unavailable";
  case API_ERR_NOT_FOUND: return "not_found";
  case API_ERR_NOT_ACCEPTABLE: return "not_acceptable";
  }
  return "internal";
}

int api_error_http_status(enum api_error_type t, enum api_flavor f) {
  switch (t) {
  case API_ERR_NONE: return 200;
  case API_ERR_BAD_DATA: return 400;
  case API_ERR_EXEC: return 422;
  case API_ERR_CANCELED: return f == API_THANOS ? 503 : 499;
  case API_ERR_TIMEOUT: return 503;
  case API_ERR_INTERNAL: return 500;
  case API_ERR_NOT_FOUND: return f == API_THANOS ? 500 : 404;
  case API_ERR_NOT_ACCEPTABLE: return f == API_THANOS ? 500 : 406;
  case API_ERR_UNAVAILABLE: return 500;
  }
  return 500;
}

void api_success_begin(struct jsonw *w) {
  jsonw_obj_begin(w);
  jsonw_key(w, "status");
  jsonw_raw(w, "\"success\"", 9);
}

void api_success_end(struct jsonw *w, const char *const *warnings,
                     size_t nwarn, size_t limit) {
  if (nwarn > 0) {
    size_t shown = (limit && nwarn > limit) ? limit : nwarn;
    jsonw_key(w, "warnings");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < shown; i++)
      jsonw_cstr(w, warnings[i] ? warnings[i] : "");
    if (shown < nwarn) {
      char tmp[64];
      snprintf(tmp, sizeof(tmp), "%zu more warning annotations omitted",
               nwarn - shown);
      jsonw_cstr(w, tmp);
    }
    jsonw_arr_end(w);
  }
  jsonw_obj_end(w);
}

int api_write_error(struct tc_buf *b, enum api_error_type t,
                    const char *msg) {
  struct jsonw w;
  jsonw_init(&w, b);
  jsonw_obj_begin(&w);
  jsonw_key(&w, "status");
  jsonw_raw(&w, "\"error\"", 7);
  jsonw_key(&w, "errorType");
  jsonw_cstr(&w, api_error_type_str(t == API_ERR_NONE ? API_ERR_INTERNAL
                                                      : t));
  jsonw_key(&w, "error");
  jsonw_cstr(&w, msg ? msg : "");
  jsonw_obj_end(&w);
  return jsonw_finish(&w);
}

void api_query_data_begin(struct jsonw *w, const char *result_type) {
  jsonw_obj_begin(w);
  jsonw_key(w, "resultType");
  jsonw_cstr(w, result_type);
  jsonw_key(w, "result");
}

void api_query_data_end(struct jsonw *w, unsigned flags) {
  if (flags & API_DATA_ANALYSIS) {
    jsonw_key(w, "analysis");
    jsonw_raw(w, "{}", 2);
  }
  jsonw_obj_end(w);
}

void api_labels(struct jsonw *w, const struct label *ls, size_t n) {
  jsonw_obj_begin(w);
  for (size_t i = 0; i < n; i++) {
    jsonw_key_plain(w, ls[i].name, strlen(ls[i].name));
    jsonw_str_plain(w, ls[i].value, strlen(ls[i].value));
  }
  jsonw_obj_end(w);
}

void api_vector_sample(struct jsonw *w, const struct label *ls, size_t n,
                       int64_t t, double v) {
  jsonw_obj_begin(w);
  jsonw_key(w, "metric");
  api_labels(w, ls, n);
  jsonw_key(w, "value");
  jsonw_arr_begin(w);
  jsonw_ts_ms(w, t);
  jsonw_sample_value(w, v);
  jsonw_arr_end(w);
  jsonw_obj_end(w);
}

void api_matrix_series_begin(struct jsonw *w, const struct label *ls,
                             size_t n, int has_points) {
  jsonw_obj_begin(w);
  jsonw_key(w, "metric");
  api_labels(w, ls, n);
  if (has_points) {
    jsonw_key(w, "values");
    jsonw_arr_begin(w);
  }
}

void api_matrix_point(struct jsonw *w, int64_t t, double v) {
  jsonw_arr_begin(w);
  jsonw_ts_ms(w, t);
  jsonw_sample_value(w, v);
  jsonw_arr_end(w);
}

void api_matrix_series_end(struct jsonw *w, int has_points) {
  if (has_points)
    jsonw_arr_end(w);
  jsonw_obj_end(w);
}

void api_matrix_series(struct jsonw *w, const struct label *ls, size_t n,
                       const struct qsample *s, size_t ns) {
  api_matrix_series_begin(w, ls, n, ns > 0);
  for (size_t i = 0; i < ns; i++)
    api_matrix_point(w, s[i].t, s[i].v);
  api_matrix_series_end(w, ns > 0);
}

void api_histogram(struct jsonw *w, double count, double sum,
                   const struct api_hist_bucket *b, size_t n) {
  int any = 0;
  jsonw_obj_begin(w);
  jsonw_key(w, "count");
  jsonw_sample_value(w, count);
  jsonw_key(w, "sum");
  jsonw_sample_value(w, sum);
  for (size_t i = 0; i < n; i++) {
    if (b[i].count == 0)
      continue;
    if (!any) {
      jsonw_key(w, "buckets");
      jsonw_arr_begin(w);
      any = 1;
    }
    jsonw_arr_begin(w);
    jsonw_int(w, b[i].boundaries);
    jsonw_sample_value(w, b[i].lower);
    jsonw_sample_value(w, b[i].upper);
    jsonw_sample_value(w, b[i].count);
    jsonw_arr_end(w);
  }
  if (any)
    jsonw_arr_end(w);
  jsonw_obj_end(w);
}

void api_vector_histogram(struct jsonw *w, const struct label *ls, size_t n,
                          int64_t t, double count, double sum,
                          const struct api_hist_bucket *b, size_t nb) {
  jsonw_obj_begin(w);
  jsonw_key(w, "metric");
  api_labels(w, ls, n);
  jsonw_key(w, "histogram");
  jsonw_arr_begin(w);
  jsonw_ts_ms(w, t);
  api_histogram(w, count, sum, b, nb);
  jsonw_arr_end(w);
  jsonw_obj_end(w);
}

void api_matrix_histograms_begin(struct jsonw *w) {
  jsonw_key(w, "histograms");
  jsonw_arr_begin(w);
}

void api_matrix_histogram_point(struct jsonw *w, int64_t t, double count,
                                double sum, const struct api_hist_bucket *b,
                                size_t nb) {
  jsonw_arr_begin(w);
  jsonw_ts_ms(w, t);
  api_histogram(w, count, sum, b, nb);
  jsonw_arr_end(w);
}

void api_scalar(struct jsonw *w, int64_t t, double v) {
  jsonw_arr_begin(w);
  jsonw_ts_float(w, t);
  jsonw_scalar_value(w, v);
  jsonw_arr_end(w);
}

void api_string(struct jsonw *w, int64_t t, const char *s, size_t n) {
  jsonw_arr_begin(w);
  jsonw_ts_float(w, t);
  jsonw_str_go(w, s, n);
  jsonw_arr_end(w);
}

void api_string_list(struct jsonw *w, const char *const *v, size_t n) {
  jsonw_arr_begin(w);
  for (size_t i = 0; i < n; i++)
    jsonw_cstr(w, v[i]);
  jsonw_arr_end(w);
}

void api_stores(struct jsonw *w, const struct api_store_status *st,
                size_t n) {
  /* Group by component with a stable insertion sort of pointers, so the
   * input order is kept inside a group. */
  const struct api_store_status **v = calloc(n ? n : 1, sizeof(*v));
  size_t m = 0;
  if (!v) {
    w->err = w->err ? w->err : TC_ENOMEM;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (!st[i].component)
      continue;
    size_t j = m++;
    while (j > 0 && strcmp(v[j - 1]->component, st[i].component) > 0) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = &st[i];
  }
  jsonw_obj_begin(w);
  for (size_t i = 0; i < m; i++) {
    if (i == 0 || strcmp(v[i - 1]->component, v[i]->component) != 0) {
      if (i > 0)
        jsonw_arr_end(w);
      jsonw_key(w, v[i]->component);
      jsonw_arr_begin(w);
    }
    const struct api_store_status *s = v[i];
    char ts[FMTTIME_MAX];
    size_t tl = fmttime_rfc3339nano(ts, s->last_check_ns);
    jsonw_obj_begin(w);
    jsonw_key(w, "name");
    jsonw_cstr(w, s->name ? s->name : "");
    jsonw_key(w, "lastCheck");
    jsonw_str(w, ts, tl);
    jsonw_key(w, "lastError");
    if (s->last_error)
      jsonw_cstr(w, s->last_error);
    else
      jsonw_null(w);
    jsonw_key(w, "labelSets");
    jsonw_arr_begin(w);
    for (size_t k = 0; k < s->nsets; k++)
      api_labels(w, s->label_sets[k], s->label_set_lens[k]);
    jsonw_arr_end(w);
    jsonw_key(w, "minTime");
    jsonw_int(w, s->min_time);
    jsonw_key(w, "maxTime");
    jsonw_int(w, s->max_time);
    jsonw_obj_end(w);
  }
  if (m > 0)
    jsonw_arr_end(w);
  jsonw_obj_end(w);
  free(v);
}

/* ---- engine results ---- */

static const char *result_type_name(int type) {
  switch (type) {
  case PROMQL_TYPE_SCALAR: return "scalar";
  case PROMQL_TYPE_VECTOR: return "vector";
  case PROMQL_TYPE_MATRIX: return "matrix";
  case PROMQL_TYPE_STRING: return "string";
  }
  return NULL;
}

void api_query_stats(struct jsonw *w, const struct api_query_stats *st) {
  static const char *const names[] = {
      "evalTotalTime", "resultSortTime", "queryPreparationTime",
      "innerEvalTime", "execQueueTime",  "execTotalTime"};
  const double v[] = {st->eval_total,  st->result_sort, st->query_preparation,
                      st->inner_eval, st->exec_queue,  st->exec_total};
  jsonw_key(w, "stats");
  jsonw_obj_begin(w);
  jsonw_key(w, "timings");
  jsonw_obj_begin(w);
  for (size_t i = 0; i < 6; i++) {
    jsonw_key(w, names[i]);
    jsonw_float(w, v[i]);
  }
  jsonw_obj_end(w);
  jsonw_key(w, "samples");
  jsonw_obj_begin(w);
  jsonw_key(w, "totalQueryableSamples");
  jsonw_int(w, st->total_queryable_samples);
  jsonw_key(w, "peakSamples");
  jsonw_int(w, st->peak_samples);
  jsonw_obj_end(w);
  jsonw_obj_end(w);
}

int api_write_query_result(struct tc_buf *b, const struct promql_result *r,
                           unsigned data_flags, const char *const *extra,
                           size_t nextra, size_t warn_limit) {
  return api_write_query_result_stats(b, r, data_flags, NULL, extra, nextra,
                                      warn_limit);
}

int api_write_query_result_stats(struct tc_buf *b,
                                 const struct promql_result *r,
                                 unsigned data_flags,
                                 const struct api_query_stats *st,
                                 const char *const *extra, size_t nextra,
                                 size_t warn_limit) {
  const char *type = result_type_name(r->type);
  if (!type)
    return tc_error(TC_EINVAL, "query result of type %d", (int)r->type);
  /* Reserve what the points need (about 30 bytes each) in one go rather
   * than doubling through a large answer. */
  size_t npoints = 0;
  for (size_t i = 0; i < r->nseries; i++)
    npoints += r->series[i].npoints;
  (void)tc_buf_reserve(b, npoints * 30); /* a limit: the writes say */
  struct jsonw w;
  jsonw_init(&w, b);
  api_success_begin(&w);
  jsonw_key(&w, "data");
  api_query_data_begin(&w, type);
  switch (r->type) {
  case PROMQL_TYPE_SCALAR:
    api_scalar(&w, r->t, r->scalar);
    break;
  case PROMQL_TYPE_STRING:
    api_string(&w, r->t, r->str ? r->str : "", r->str ? strlen(r->str) : 0);
    break;
  case PROMQL_TYPE_VECTOR:
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < r->nseries; i++) {
      const struct promql_series *s = &r->series[i];
      if (!s->npoints)
        continue;
      jsonw_obj_begin(&w);
      jsonw_key(&w, "metric");
      api_labels(&w, s->labels.v, s->labels.n);
      jsonw_key(&w, "value");
      jsonw_arr_begin(&w);
      jsonw_ts_ms(&w, s->points[0].t);
      jsonw_sample_value(&w, s->points[0].v);
      jsonw_arr_end(&w);
      jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    break;
  default: /* matrix */
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < r->nseries; i++) {
      const struct promql_series *s = &r->series[i];
      jsonw_obj_begin(&w);
      jsonw_key(&w, "metric");
      api_labels(&w, s->labels.v, s->labels.n);
      if (s->npoints) {
        jsonw_key(&w, "values");
        jsonw_arr_begin(&w);
        for (size_t k = 0; k < s->npoints; k++)
          api_matrix_point(&w, s->points[k].t, s->points[k].v);
        jsonw_arr_end(&w);
      }
      jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    break;
  }
  if (st)
    api_query_stats(&w, st);
  api_query_data_end(&w, data_flags);
  size_t nwarn = r->nwarnings + nextra;
  const char **warn = calloc(nwarn ? nwarn : 1, sizeof(*warn));
  if (!warn)
    return TC_ENOMEM;
  for (size_t i = 0; i < r->nwarnings; i++)
    warn[i] = r->warnings[i];
  for (size_t i = 0; i < nextra; i++)
    warn[r->nwarnings + i] = extra[i];
  api_success_end(&w, warn, nwarn, warn_limit);
  free(warn);
  return jsonw_finish(&w);
}

enum api_error_type api_error_for_exec(int rc, int range_query) {
  switch (rc) {
  case TC_EPARSE:
    return API_ERR_BAD_DATA;
  case TC_ECANCELED:
    return API_ERR_CANCELED;
  case TC_ETIMEOUT:
    return API_ERR_TIMEOUT;
  case TC_EIO:
  case TC_EUNAVAIL:
  case TC_EPROTO:
    return range_query ? API_ERR_EXEC : API_ERR_INTERNAL;
  default:
    return API_ERR_EXEC;
  }
}
