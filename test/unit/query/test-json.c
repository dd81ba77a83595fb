/*
 * Tests of src/query/json.c and src/query/api.c: exact bytes, as
 * Prometheus 3.5 / Thanos print them (collected from a running Prometheus
 * 3.5 over a promtool-made block; see the expected strings).
 */
#include <math.h>

#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/fmtfloat.h"
#include "thanosc/fmttime.h"
#include "thanosc/json.h"
#include "thanosc/promql.h"
#include "thanosc/query_api.h"

static const char *fmt_sample(double v) {
  static char out[FMTFLOAT_MAX + 8];
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_sample_value(&w, v);
  if (jsonw_finish(&w))
    return "(error)";
  snprintf(out, sizeof(out), "%s", b.data);
  tc_buf_release(&b);
  return out;
}

static const char *fmt_scalar(double v) {
  static char out[FMTFLOAT_MAX + 8];
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_scalar_value(&w, v);
  snprintf(out, sizeof(out), "%s", b.data);
  tc_buf_release(&b);
  return out;
}

TEST(json_sample_values) {
  static const struct {
    double v;
    const char *want;
  } cases[] = {
      {1, "\"1\""},
      {0.1, "\"0.1\""},
      {1234567.125, "\"1234567.125\""},
      {1e21, "\"1e+21\""},
      {1.5e-7, "\"1.5e-07\""},
      {0, "\"0\""},
      {-0.0, "\"-0\""},
      {123456789012345678.0, "\"123456789012345680\""},
      {0.000001, "\"0.000001\""},
      {1e-300, "\"1e-300\""},
      {5e-324, "\"5e-324\""},
      {1.7976931348623157e308, "\"1.7976931348623157e+308\""},
      {100, "\"100\""},
      {123.456, "\"123.456\""},
      {0.1 + 0.2, "\"0.30000000000000004\""},
      {-2.5, "\"-2.5\""},
      {9.999999999999999e20, "\"999999999999999900000\""},
      {-1e-7, "\"-1e-07\""},
      {1e100, "\"1e+100\""},
      {INFINITY, "\"+Inf\""},
      {-INFINITY, "\"-Inf\""},
      {NAN, "\"NaN\""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    ASSERT_STREQ(fmt_sample(cases[i].v), cases[i].want);
}

TEST(json_scalar_values) {
  ASSERT_STREQ(fmt_scalar(1e21), "\"1000000000000000000000\"");
  ASSERT_STREQ(fmt_scalar(1.5e-7), "\"0.00000015\"");
  ASSERT_STREQ(fmt_scalar(-0.0), "\"-0\"");
  ASSERT_STREQ(fmt_scalar(0.1 + 0.2), "\"0.30000000000000004\"");
  ASSERT_STREQ(fmt_scalar(NAN), "\"NaN\"");
  ASSERT_STREQ(fmt_scalar(INFINITY), "\"+Inf\"");
  ASSERT_STREQ(fmt_scalar(-INFINITY), "\"-Inf\"");
  {
    /* "0." followed by 323 zeros and a 5 */
    char want[400];
    memcpy(want, "\"0.", 3);
    memset(want + 3, '0', 323);
    memcpy(want + 326, "5\"", 3);
    ASSERT_STREQ(fmt_scalar(5e-324), want);
  }
}

static const char *fmt_ts(int64_t t, int as_float) {
  static char out[64];
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  if (as_float)
    jsonw_ts_float(&w, t);
  else
    jsonw_ts_ms(&w, t);
  snprintf(out, sizeof(out), "%s", b.data);
  tc_buf_release(&b);
  return out;
}

TEST(json_timestamps) {
  ASSERT_STREQ(fmt_ts(1435781451781, 0), "1435781451.781");
  ASSERT_STREQ(fmt_ts(1435781451000, 0), "1435781451");
  ASSERT_STREQ(fmt_ts(1435781451500, 0), "1435781451.500");
  ASSERT_STREQ(fmt_ts(1435781451050, 0), "1435781451.050");
  ASSERT_STREQ(fmt_ts(5, 0), "0.005");
  ASSERT_STREQ(fmt_ts(-1500, 0), "-1.500");
  ASSERT_STREQ(fmt_ts(0, 0), "0");
  ASSERT_STREQ(fmt_ts(INT64_MIN, 0), "-9223372036854775.808");
  ASSERT_STREQ(fmt_ts(1435781451500, 1), "1435781451.5");
  ASSERT_STREQ(fmt_ts(1435781451000, 1), "1435781451");
  ASSERT_STREQ(fmt_ts(1700000030050, 1), "1700000030.05");
  ASSERT_STREQ(fmt_ts(-1500, 1), "-1.5");
  ASSERT_STREQ(fmt_ts(1001, 1), "1.001");
  ASSERT_STREQ(fmt_ts(0, 1), "0");
}

static const char *esc(const char *s, size_t n, int plain) {
  static char out[256];
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  if (plain)
    jsonw_str_plain(&w, s, n);
  else
    jsonw_str(&w, s, n);
  snprintf(out, sizeof(out), "%s", b.data);
  tc_buf_release(&b);
  return out;
}

TEST(json_string_escaping) {
  /* jsoniter WriteString (label values): what Prometheus 3.5 printed for
   * label_replace(m, "z", "\x08<\x01\x7f\xff\u2028", "", "") */
  const char lv[] = "\x08<\x01\x7f\xff\xe2\x80\xa8";
  ASSERT_STREQ(esc(lv, sizeof(lv) - 1, 1),
               "\"\\u0008<\\u0001\x7f\xff\xe2\x80\xa8\"");
  ASSERT_STREQ(esc("q\"uo\\te", 7, 1), "\"q\\\"uo\\\\te\"");
  ASSERT_STREQ(esc("nl\nx\r\t", 6, 1), "\"nl\\nx\\r\\t\"");
  /* encoding/json-compatible */
  ASSERT_STREQ(esc("x<y>&z", 6, 0), "\"x\\u003cy\\u003e\\u0026z\"");
  ASSERT_STREQ(esc(lv, sizeof(lv) - 1, 0),
               "\"\\u0008\\u003c\\u0001\x7f\\ufffd\\u2028\"");
  ASSERT_STREQ(esc("\xe2\x80\xa9\xc3\xa9", 5, 0), "\"\\u2029\xc3\xa9\"");
  /* truncated / overlong / surrogate sequences */
  ASSERT_STREQ(esc("a\xe2\x80", 3, 0), "\"a\\ufffd\\ufffd\"");
  ASSERT_STREQ(esc("\xc0\xaf", 2, 0), "\"\\ufffd\\ufffd\"");
  ASSERT_STREQ(esc("\xed\xa0\x80", 3, 0), "\"\\ufffd\\ufffd\\ufffd\"");
  ASSERT_STREQ(esc("\xf0\x9f\x98\x80", 4, 0), "\"\xf0\x9f\x98\x80\"");
  ASSERT_STREQ(esc("", 0, 0), "\"\"");
}

TEST(json_writer_structure) {
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_obj_begin(&w);
  jsonw_key(&w, "a");
  jsonw_arr_begin(&w);
  jsonw_int(&w, 1);
  jsonw_arr_begin(&w);
  jsonw_arr_end(&w);
  jsonw_obj_begin(&w);
  jsonw_obj_end(&w);
  jsonw_bool(&w, 1);
  jsonw_null(&w);
  jsonw_arr_end(&w);
  jsonw_key(&w, "b");
  jsonw_bool(&w, 0);
  jsonw_obj_end(&w);
  ASSERT_OK(jsonw_finish(&w));
  ASSERT_STREQ(b.data, "{\"a\":[1,[],{},true,null],\"b\":false}");

  /* unbalanced */
  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  jsonw_obj_begin(&w);
  ASSERT_EQ(jsonw_finish(&w), TC_ESTATE);
  jsonw_init(&w, &b);
  jsonw_arr_end(&w);
  ASSERT_EQ(jsonw_finish(&w), TC_ESTATE);

  /* the buffer cap is a sticky TC_ELIMIT */
  tc_buf_release(&b);
  tc_buf_init(&b, 8);
  jsonw_init(&w, &b);
  jsonw_arr_begin(&w);
  for (int i = 0; i < 100; i++)
    jsonw_int(&w, 12345);
  jsonw_arr_end(&w);
  ASSERT_EQ(jsonw_finish(&w), TC_ELIMIT);
  tc_buf_release(&b);

  /* depth limit */
  tc_buf_init(&b, 0);
  jsonw_init(&w, &b);
  for (int i = 0; i < JSONW_MAX_DEPTH + 1; i++)
    jsonw_arr_begin(&w);
  ASSERT_EQ(jsonw_finish(&w), TC_ELIMIT);
  tc_buf_release(&b);
}

static const struct label m1[] = {
    {"__name__", "m"}, {"a", "tab\\there"}, {"b", "nl\nx"}};
static const struct label m2[] = {
    {"__name__", "m"}, {"a", "x<y>&z"}, {"b", "q\"uo\\te"}};

TEST(api_vector_and_matrix) {
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  api_success_begin(&w);
  jsonw_key(&w, "data");
  api_query_data_begin(&w, "vector");
  jsonw_arr_begin(&w);
  api_vector_sample(&w, m1, 3, 1700000030050, 0.000001);
  api_vector_sample(&w, m2, 3, 1700000030050, 1234567.125);
  jsonw_arr_end(&w);
  api_query_data_end(&w, 0);
  api_success_end(&w, NULL, 0, 10);
  ASSERT_OK(jsonw_finish(&w));
  ASSERT_STREQ(
      b.data,
      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
      "[{\"metric\":{\"__name__\":\"m\",\"a\":\"tab\\\\there\",\"b\":\"nl\\nx"
      "\"},\"value\":[1700000030.050,\"0.000001\"]},{\"metric\":{\"__name__\":"
      "\"m\",\"a\":\"x<y>&z\",\"b\":\"q\\\"uo\\\\te\"},\"value\":[1700000030."
      "050,\"1234567.125\"]}]}}");

  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  api_success_begin(&w);
  jsonw_key(&w, "data");
  api_query_data_begin(&w, "matrix");
  jsonw_arr_begin(&w);
  static const struct qsample s1[] = {{1700000015050, 123456789012345678.0},
                                      {1700000016000, 123456789012345678.0}};
  api_matrix_series(&w, m1, 3, s1, 2);
  api_matrix_series(&w, m2, 3, NULL, 0);
  jsonw_arr_end(&w);
  api_query_data_end(&w, API_DATA_ANALYSIS);
  api_success_end(&w, NULL, 0, 0);
  ASSERT_OK(jsonw_finish(&w));
  ASSERT_STREQ(
      b.data,
      "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
      "[{\"metric\":{\"__name__\":\"m\",\"a\":\"tab\\\\there\",\"b\":\"nl\\nx"
      "\"},\"values\":[[1700000015.050,\"123456789012345680\"],[1700000016,"
      "\"123456789012345680\"]]},{\"metric\":{\"__name__\":\"m\",\"a\":\"x<y>"
      "&z\",\"b\":\"q\\\"uo\\\\te\"}}],\"analysis\":{}}}");

  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  api_success_begin(&w);
  jsonw_key(&w, "data");
  api_query_data_begin(&w, "vector");
  jsonw_arr_begin(&w);
  jsonw_arr_end(&w);
  api_query_data_end(&w, 0);
  api_success_end(&w, NULL, 0, 10);
  ASSERT_STREQ(b.data, "{\"status\":\"success\",\"data\":{\"resultType\":"
                       "\"vector\",\"result\":[]}}");
  tc_buf_release(&b);
}

TEST(api_scalar_and_string) {
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  api_query_data_begin(&w, "scalar");
  api_scalar(&w, 1700000030050, 1e21);
  api_query_data_end(&w, 0);
  ASSERT_STREQ(b.data, "{\"resultType\":\"scalar\",\"result\":[1700000030.05,"
                       "\"1000000000000000000000\"]}");
  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  api_scalar(&w, -1500, 0.1 + 0.2);
  ASSERT_STREQ(b.data, "[-1.5,\"0.30000000000000004\"]");
  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  /* what Prometheus 3.5 printed for query="a<b>&\"\b\f\u2028" */
  api_string(&w, 1001, "a<b>&\"\b\f\xe2\x80\xa8\x01", 12);
  ASSERT_STREQ(b.data, "[1.001,\"a\\u003cb\\u003e\\u0026\\\"\\b\\f"
                       "\\u2028\\u0001\"]");
  tc_buf_release(&b);
}

TEST(api_envelope_errors_and_warnings) {
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(api_write_error(&b, API_ERR_BAD_DATA,
                            "invalid parameter \"query\": 1:1: parse error: "
                            "unexpected character: '\\b'"));
  ASSERT_STREQ(b.data, "{\"status\":\"error\",\"errorType\":\"bad_data\","
                       "\"error\":\"invalid parameter \\\"query\\\": 1:1: "
                       "parse error: unexpected character: '\\\\b'\"}");
  tc_buf_reset(&b);
  ASSERT_OK(api_write_error(&b, API_ERR_EXEC, "a < b"));
  ASSERT_STREQ(b.data, "{\"status\":\"error\",\"errorType\":\"execution\","
                       "\"error\":\"a \\u003c b\"}");

  const char *warn[12];
  char tmp[12][8];
  for (int i = 0; i < 12; i++) {
    snprintf(tmp[i], sizeof(tmp[i]), "w%d", i);
    warn[i] = tmp[i];
  }
  struct jsonw w;
  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  api_success_begin(&w);
  jsonw_key(&w, "data");
  api_string_list(&w, NULL, 0);
  api_success_end(&w, warn, 12, 10);
  ASSERT_OK(jsonw_finish(&w));
  ASSERT_STREQ(b.data,
               "{\"status\":\"success\",\"data\":[],\"warnings\":[\"w0\","
               "\"w1\",\"w2\",\"w3\",\"w4\",\"w5\",\"w6\",\"w7\",\"w8\","
               "\"w9\",\"2 more warning annotations omitted\"]}");
  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  api_success_begin(&w);
  api_success_end(&w, warn, 2, 0);
  ASSERT_STREQ(b.data,
               "{\"status\":\"success\",\"warnings\":[\"w0\",\"w1\"]}");
  tc_buf_release(&b);

  ASSERT_EQ(api_error_http_status(API_ERR_BAD_DATA, API_THANOS), 400);
  ASSERT_EQ(api_error_http_status(API_ERR_EXEC, API_THANOS), 422);
  ASSERT_EQ(api_error_http_status(API_ERR_CANCELED, API_THANOS), 503);
  ASSERT_EQ(api_error_http_status(API_ERR_CANCELED, API_PROMETHEUS), 499);
  ASSERT_EQ(api_error_http_status(API_ERR_TIMEOUT, API_THANOS), 503);
  ASSERT_EQ(api_error_http_status(API_ERR_INTERNAL, API_THANOS), 500);
  ASSERT_EQ(api_error_http_status(API_ERR_NOT_FOUND, API_PROMETHEUS), 404);
  ASSERT_EQ(api_error_http_status(API_ERR_NOT_ACCEPTABLE, API_PROMETHEUS),
            406);
  ASSERT_EQ(api_error_http_status(API_ERR_UNAVAILABLE, API_PROMETHEUS), 500);
}

TEST(api_label_lists_and_series) {
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  static const char *const vals[] = {"tab\\there", "x<y>&z", "\xc3\xa9"};
  api_string_list(&w, vals, 3);
  ASSERT_STREQ(b.data,
               "[\"tab\\\\there\",\"x\\u003cy\\u003e\\u0026z\",\"\xc3\xa9\"]");
  tc_buf_reset(&b);
  jsonw_init(&w, &b);
  jsonw_arr_begin(&w);
  api_labels(&w, m1, 3);
  api_labels(&w, m2, 3);
  api_labels(&w, NULL, 0);
  jsonw_arr_end(&w);
  ASSERT_STREQ(b.data,
               "[{\"__name__\":\"m\",\"a\":\"tab\\\\there\",\"b\":\"nl\\nx\"},"
               "{\"__name__\":\"m\",\"a\":\"x<y>&z\",\"b\":\"q\\\"uo\\\\te\"},"
               "{}]");
  tc_buf_release(&b);
}

TEST(api_stores_shape) {
  static const struct label ext1[] = {{"cluster", "a"}, {"replica", "0"}};
  static const struct label ext2[] = {{"cluster", "b"}};
  const struct label *sets1[] = {ext1, ext2};
  size_t lens1[] = {2, 1};
  struct api_store_status st[] = {
      {"store", "10.0.0.1:10901", 1700000000123456789LL, NULL, NULL, NULL, 0,
       -9223372036854775807LL - 1, 9223372036854775807LL},
      {"sidecar", "10.0.0.2:10901", 1700000000000000000LL, "rpc error", sets1,
       lens1, 2, 1000, 2000},
      {NULL, "unknown:1", 0, NULL, NULL, NULL, 0, 0, 0},
      {"store", "10.0.0.3:10901", 1700000000100000000LL, NULL, NULL, NULL, 0, 5,
       6},
  };
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  api_stores(&w, st, 4);
  ASSERT_OK(jsonw_finish(&w));
  ASSERT_STREQ(
      b.data,
      "{\"sidecar\":[{\"name\":\"10.0.0.2:10901\",\"lastCheck\":\"2023-11-"
      "14T22:13:20Z\",\"lastError\":\"rpc error\",\"labelSets\":[{\"cluster\":"
      "\"a\",\"replica\":\"0\"},{\"cluster\":\"b\"}],\"minTime\":1000,"
      "\"maxTime\":2000}],\"store\":[{\"name\":\"10.0.0.1:10901\",\"lastCheck"
      "\":\"2023-11-14T22:13:20.123456789Z\",\"lastError\":null,\"labelSets\":"
      "[],\"minTime\":-9223372036854775808,\"maxTime\":9223372036854775807},"
      "{\"name\":\"10.0.0.3:10901\",\"lastCheck\":\"2023-11-14T22:13:20.1Z\","
      "\"lastError\":null,\"labelSets\":[],\"minTime\":5,\"maxTime\":6}]}");
  tc_buf_release(&b);

  char out[40];
  fmttime_rfc3339nano(out, 0);
  ASSERT_STREQ(out, "1970-01-01T00:00:00Z");
  fmttime_rfc3339nano(out, -1);
  ASSERT_STREQ(out, "1969-12-31T23:59:59.999999999Z");
  fmttime_rfc3339nano(out, 951782400000000000LL); /* leap day 2000 */
  ASSERT_STREQ(out, "2000-02-29T00:00:00Z");
}

TEST(api_engine_results) {
  struct label l1[] = {{"__name__", "up"}, {"job", "a<b>"}};
  struct label l2[] = {{"__name__", "up"}, {"job", "b"}};
  struct promql_point p1[] = {{1000, 1}, {16000, 0.5}};
  struct promql_point p2[] = {{1000, 1e-7}};
  struct promql_series s[] = {{{l1, 2, 2, LABELS_BORROWED}, p1, 2},
                              {{l2, 2, 2, LABELS_BORROWED}, p2, 1},
                              {{l2, 2, 2, LABELS_BORROWED}, NULL, 0}};
  char *warns[] = {"PromQL warning: x"};
  struct promql_result r = {0};
  r.type = PROMQL_TYPE_MATRIX;
  r.series = s;
  r.nseries = 3;
  r.warnings = warns;
  r.nwarnings = 1;
  const char *extra[] = {"store a: unavailable"};
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(api_write_query_result(&b, &r, API_DATA_ANALYSIS, extra, 1, 0));
  ASSERT_STREQ(b.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
               "\"result\":[{\"metric\":{\"__name__\":\"up\",\"job\":\"a<b>\"},"
               "\"values\":[[1,\"1\"],[16,\"0.5\"]]},{\"metric\":{\"__name__\":"
               "\"up\",\"job\":\"b\"},\"values\":[[1,\"1e-07\"]]},{\"metric\":"
               "{\"__name__\":\"up\",\"job\":\"b\"}}],\"analysis\":{}},"
               "\"warnings\":[\"PromQL warning: x\",\"store a: "
               "unavailable\"]}");
  tc_buf_reset(&b);
  r.type = PROMQL_TYPE_VECTOR;
  r.nwarnings = 0;
  ASSERT_OK(api_write_query_result(&b, &r, 0, NULL, 0, 10));
  ASSERT_STREQ(b.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{\"__name__\":\"up\",\"job\":\"a<b>\"},"
               "\"value\":[1,\"1\"]},{\"metric\":{\"__name__\":\"up\",\"job\":"
               "\"b\"},\"value\":[1,\"1e-07\"]}]}}");
  tc_buf_reset(&b);
  struct promql_result sc = {0};
  sc.type = PROMQL_TYPE_SCALAR;
  sc.scalar = 2.5;
  sc.t = 1500;
  ASSERT_OK(api_write_query_result(&b, &sc, 0, NULL, 0, 10));
  ASSERT_STREQ(b.data, "{\"status\":\"success\",\"data\":{\"resultType\":"
                       "\"scalar\",\"result\":[1.5,\"2.5\"]}}");
  tc_buf_reset(&b);
  struct promql_result st = {0};
  st.type = PROMQL_TYPE_STRING;
  st.str = "x&y";
  st.t = 0;
  ASSERT_OK(api_write_query_result(&b, &st, 0, NULL, 0, 10));
  ASSERT_STREQ(b.data, "{\"status\":\"success\",\"data\":{\"resultType\":"
                       "\"string\",\"result\":[0,\"x\\u0026y\"]}}");
  tc_buf_release(&b);

  ASSERT_EQ(api_error_for_exec(TC_EPARSE, 0), API_ERR_BAD_DATA);
  ASSERT_EQ(api_error_for_exec(TC_ETIMEOUT, 1), API_ERR_TIMEOUT);
  ASSERT_EQ(api_error_for_exec(TC_ECANCELED, 1), API_ERR_CANCELED);
  ASSERT_EQ(api_error_for_exec(TC_EIO, 0), API_ERR_INTERNAL);
  ASSERT_EQ(api_error_for_exec(TC_EIO, 1), API_ERR_EXEC);
  ASSERT_EQ(api_error_for_exec(TC_ELIMIT, 0), API_ERR_EXEC);
  ASSERT_EQ(api_error_for_exec(TC_EEXEC, 0), API_ERR_EXEC);
}

TEST(api_histograms) {
  static const struct label m[] = {{"__name__", "h"}};
  static const struct api_hist_bucket b[] = {
      {1, -4, -2.82842712474619, 1},
      {3, -0.001, 0.001, 2},
      {0, 1, 1.414213562373095, 0},
      {0, 1.414213562373095, 2, 3.5},
  };
  struct tc_buf out = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &out);
  jsonw_arr_begin(&w);
  api_vector_histogram(&w, m, 1, 1500, 6.5, -1e-7, b, 4);
  api_vector_histogram(&w, m, 1, 2000, 0, 0, b + 2, 1);
  /* a matrix series with only histogram points */
  api_matrix_series_begin(&w, m, 1, 0);
  api_matrix_histograms_begin(&w);
  api_matrix_histogram_point(&w, 1000, 1, 2, b + 1, 1);
  jsonw_arr_end(&w);
  api_matrix_series_end(&w, 0);
  jsonw_arr_end(&w);
  ASSERT_OK(jsonw_finish(&w));
  ASSERT_STREQ(out.data,
               "[{\"metric\":{\"__name__\":\"h\"},\"histogram\":[1.500,{"
               "\"count\":\"6.5\",\"sum\":\"-1e-07\",\"buckets\":[[1,\"-4\","
               "\"-2.82842712474619\",\"1\"],[3,\"-0.001\",\"0.001\",\"2\"],"
               "[0,\"1.414213562373095\",\"2\",\"3.5\"]]}]},"
               "{\"metric\":{\"__name__\":\"h\"},\"histogram\":[2,{\"count\":"
               "\"0\",\"sum\":\"0\"}]},"
               "{\"metric\":{\"__name__\":\"h\"},\"histograms\":[[1,{\"count\":"
               "\"1\",\"sum\":\"2\",\"buckets\":[[3,\"-0.001\",\"0.001\","
               "\"2\"]]}]]}]");
  tc_buf_release(&out);
}

TEST(api_stats) {
  /* the shape and number format Prometheus 3.5 printed for stats=1 */
  struct api_query_stats st = {0.000282632, 0,        0.000090076,
                               0.00011428,  2.747e-7, 1e21,
                               3,           3};
  struct promql_result r = {0};
  r.type = PROMQL_TYPE_SCALAR;
  r.t = 1000;
  r.scalar = 1;
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(api_write_query_result_stats(&b, &r, API_DATA_ANALYSIS, &st, NULL,
                                         0, 0));
  ASSERT_STREQ(b.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
               "\"result\":[1,\"1\"],\"stats\":{\"timings\":{"
               "\"evalTotalTime\":0.000282632,\"resultSortTime\":0,"
               "\"queryPreparationTime\":0.000090076,\"innerEvalTime\":"
               "0.00011428,\"execQueueTime\":2.747e-7,\"execTotalTime\":"
               "1e+21},\"samples\":{\"totalQueryableSamples\":3,"
               "\"peakSamples\":3}},\"analysis\":{}}}");
  tc_buf_release(&b);
}

TEST(json_writer_drain) {
  /* Draining the buffer between calls keeps the output whole. */
  struct tc_buf b = TC_BUF_INIT, all = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_obj_begin(&w);
  jsonw_key(&w, "a");
  tc_buf_add(&all, b.data, b.len);
  tc_buf_reset(&b);
  jsonw_arr_begin(&w);
  jsonw_int(&w, 1);
  tc_buf_add(&all, b.data, b.len);
  tc_buf_reset(&b);
  jsonw_int(&w, 2);
  jsonw_arr_end(&w);
  jsonw_obj_end(&w);
  ASSERT_OK(jsonw_finish(&w));
  tc_buf_add(&all, b.data, b.len);
  ASSERT_STREQ(all.data, "{\"a\":[1,2]}");
  tc_buf_release(&b);
  tc_buf_release(&all);
}
