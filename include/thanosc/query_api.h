/*
 * query_api.h - the Prometheus HTTP API v1 response shapes, as Prometheus
 * and Thanos Query print them (shared/spec/http-api.md sections 1, 3-7),
 * written through a struct jsonw into a caller-owned buffer.
 *
 * A success body is built in three steps:
 *
 *     api_success_begin(&w);              {"status":"success"
 *     jsonw_key(&w, "data");              ,"data":
 *     api_query_data_begin(&w, "vector"); {"resultType":"vector","result":
 *     jsonw_arr_begin(&w);
 *     api_vector_sample(&w, ls, n, t, v); ...
 *     jsonw_arr_end(&w);
 *     api_query_data_end(&w, API_DATA_ANALYSIS);
 *     api_success_end(&w, warnings, nwarn, 0);
 *
 * and an error body with api_write_error(). Omitting the "data" key gives
 * a success without data, as Go's omitempty does for a nil value.
 *
 * All pointers are borrowed for the duration of the call.
 */
#ifndef THANOSC_QUERY_API_H
#define THANOSC_QUERY_API_H

#include <stddef.h>
#include <stdint.h>

#include "thanosc/json.h"
#include "thanosc/query.h"

struct tc_buf;

/* errorType values (web/api/v1 and Thanos pkg/api). */
enum api_error_type {
  API_ERR_NONE = 0,
  API_ERR_TIMEOUT,        /* "timeout" */
  API_ERR_CANCELED,       /* "canceled" */
  API_ERR_EXEC,           /* "execution" */
  API_ERR_BAD_DATA,       /* "bad_data" */
  API_ERR_INTERNAL,       /* "internal" */
  API_ERR_UNAVAILABLE,    /* "unavailable" */
  API_ERR_NOT_FOUND,      /* "not_found" */
  API_ERR_NOT_ACCEPTABLE, /* "not_acceptable" */
};

/* Whose status table and envelope rules to follow. */
enum api_flavor {
  API_THANOS,     /* canceled -> 503, no "infos", no warning limit */
  API_PROMETHEUS, /* canceled -> 499, warnings capped at 10 */
};

const char *api_error_type_str(enum api_error_type t);
/* The HTTP status for an error type (the table in http-api.md section 1). */
int api_error_http_status(enum api_error_type t, enum api_flavor f);

/* {"status":"success" */
void api_success_begin(struct jsonw *w);
/*
 * Writes "warnings" when nwarn > 0 and closes the envelope. limit > 0
 * lists at most limit warnings followed by "<n> more warning annotations
 * omitted" (Prometheus: 10); limit 0 lists them all (Thanos).
 */
void api_success_end(struct jsonw *w, const char *const *warnings,
                     size_t nwarn, size_t limit);
/* A whole error body: {"status":"error","errorType":..,"error":..}. */
int api_write_error(struct tc_buf *b, enum api_error_type t, const char *msg);

/* {"resultType":"<type>","result":   (type: vector, matrix, scalar, string) */
void api_query_data_begin(struct jsonw *w, const char *result_type);
enum api_data_flags {
  API_DATA_ANALYSIS = 1 << 0, /* Thanos: ,"analysis":{} (a non-pointer
                                 struct, never omitted by omitempty) */
};
/* Closes the data object opened by api_query_data_begin(). */
void api_query_data_end(struct jsonw *w, unsigned flags);

/* A label set as a JSON object, jsoniter WriteString escaping. */
void api_labels(struct jsonw *w, const struct label *ls, size_t n);
/* {"metric":{..},"value":[<ts>,"<v>"]} */
void api_vector_sample(struct jsonw *w, const struct label *ls, size_t n,
                       int64_t t, double v);
/* {"metric":{..},"values":[[<ts>,"<v>"],...]}; "values" left out when
 * ns == 0. */
void api_matrix_series(struct jsonw *w, const struct label *ls, size_t n,
                       const struct qsample *s, size_t ns);
/* Streaming form of api_matrix_series(): begin, points, end. has_points
 * must say whether at least one api_matrix_point() call follows. */
void api_matrix_series_begin(struct jsonw *w, const struct label *ls,
                             size_t n, int has_points);
void api_matrix_point(struct jsonw *w, int64_t t, double v);
void api_matrix_series_end(struct jsonw *w, int has_points);
/* One bucket of a native histogram as the API shows it. */
struct api_hist_bucket {
  int boundaries; /* 0 (l,u]  1 [l,u)  2 (l,u)  3 [l,u] */
  double lower, upper, count;
};

/*
 * A native histogram object: {"count":"..","sum":"..","buckets":[[b,"l",
 * "u","c"],...]}; buckets with a zero count are skipped and "buckets" is
 * left out when none is left (Prometheus json_codec).
 */
void api_histogram(struct jsonw *w, double count, double sum,
                   const struct api_hist_bucket *b, size_t n);
/* {"metric":{..},"histogram":[<ts>,{..}]} */
void api_vector_histogram(struct jsonw *w, const struct label *ls, size_t n,
                          int64_t t, double count, double sum,
                          const struct api_hist_bucket *b, size_t nb);
/* In a matrix series: after the "values" (if any), open "histograms" with
 * api_matrix_histograms_begin(), write points, close with jsonw_arr_end().
 * Pass has_points = 0 to api_matrix_series_begin() when the series has no
 * float points. */
void api_matrix_histograms_begin(struct jsonw *w);
void api_matrix_histogram_point(struct jsonw *w, int64_t t, double count,
                                double sum, const struct api_hist_bucket *b,
                                size_t nb);

/* [<t/1000 as a Go float>,"<v 'f' format>"] */
void api_scalar(struct jsonw *w, int64_t t, double v);
/* [<t/1000 as a Go float>,"<s>"] */
void api_string(struct jsonw *w, int64_t t, const char *s, size_t n);
/* ["a","b",...] with encoding/json escaping (/labels, /label/x/values). */
void api_string_list(struct jsonw *w, const char *const *v, size_t n);

/* One endpoint of Thanos's /api/v1/stores (query.EndpointStatus). */
struct api_store_status {
  const char *component;   /* group key: "sidecar", "store", "query"... */
  const char *name;        /* address */
  int64_t last_check_ns;   /* unix nanoseconds, printed as RFC3339Nano */
  const char *last_error;  /* NULL -> null */
  const struct label *const *label_sets; /* nsets label arrays */
  const size_t *label_set_lens;
  size_t nsets;
  int64_t min_time, max_time; /* milliseconds */
};
/*
 * The data of /api/v1/stores: an object keyed by component name (sorted,
 * as Go sorts map keys), each an array of
 * {"name","lastCheck","lastError","labelSets","minTime","maxTime"} in the
 * order given. Statuses with a NULL component are skipped, as Thanos
 * skips endpoints whose type is unknown.
 */
void api_stores(struct jsonw *w, const struct api_store_status *st, size_t n);

struct promql_result;

/*
 * A whole success body for a query result of the PromQL engine: envelope,
 * data {"resultType","result"} (plus API_DATA_* extras), then warnings:
 * the engine's annotations followed by extra (e.g. partial-response
 * warnings), at most warn_limit of them (0 = all). TC_ELIMIT past the
 * buffer's cap.
 */
int api_write_query_result(struct tc_buf *b, const struct promql_result *r,
                           unsigned data_flags, const char *const *extra,
                           size_t nextra, size_t warn_limit);

/* Prometheus's query stats (stats=<anything>): seconds and counts. */
struct api_query_stats {
  double eval_total, result_sort, query_preparation, inner_eval, exec_queue,
      exec_total;
  int64_t total_queryable_samples, peak_samples;
};
/* ,"stats":{"timings":{...},"samples":{...}} inside the data object,
 * after "result" (and before Thanos's "analysis"). */
void api_query_stats(struct jsonw *w, const struct api_query_stats *st);
/* api_write_query_result() with a "stats" object when st is not NULL. */
int api_write_query_result_stats(struct tc_buf *b,
                                 const struct promql_result *r,
                                 unsigned data_flags,
                                 const struct api_query_stats *st,
                                 const char *const *extra, size_t nextra,
                                 size_t warn_limit);

/*
 * The errorType for a failed query evaluation, as Thanos's query handlers
 * map engine errors: parse errors bad_data, cancellation canceled, timeouts
 * timeout, storage errors (I/O, unavailable, protocol) internal for instant
 * queries and execution for range queries, everything else execution.
 */
enum api_error_type api_error_for_exec(int rc, int range_query);


#endif
