/*
 * Tests of src/query/params.c: accepted syntaxes and the exact error texts
 * of Thanos's pkg/api/query/v1.go, table-driven.
 */
#include <math.h>

#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/query_params.h"

/* Builds a qparams view from "k=v" strings (no decoding). */
struct kv {
  struct qparam v[16];
  size_t n;
  char store[16][128];
};

static struct qparams mk(struct kv *kv, const char *const *pairs) {
  kv->n = 0;
  for (size_t i = 0; pairs && pairs[i]; i++) {
    snprintf(kv->store[i], sizeof(kv->store[i]), "%s", pairs[i]);
    char *eq = strchr(kv->store[i], '=');
    *eq = '\0';
    kv->v[i].key = kv->store[i];
    kv->v[i].value = eq + 1;
    kv->v[i].value_len = strlen(eq + 1);
    kv->n++;
  }
  struct qparams p = {kv->v, kv->n};
  return p;
}

static void defaults(struct query_defaults *d) {
  memset(d, 0, sizeof(*d));
  d->now_ms = 1700000000123;
  d->default_step_ns = 1000000000LL;
  d->engine = QUERY_ENGINE_PROMETHEUS;
}

TEST(params_time_values) {
  static const struct {
    const char *in;
    int64_t want;
  } ok[] = {
      {"1435781451.781", 1435781451781},
      {"1435781451", 1435781451000},
      {"1435781451.7815", 1435781451782},
      {"1435781451.7814", 1435781451781},
      {"-1.5", -1500},
      {"0", 0},
      {"1e3", 1000000},
      {"+2", 2000},
      {".5", 500},
      {"0x1p4", 16000},
      {"2015-07-01T20:10:51.781Z", 1435781451781},
      {"2015-07-01T20:10:51Z", 1435781451000},
      {"2015-07-01T20:10:51.7819999Z", 1435781451781},
      {"2015-07-01T22:10:51.781+02:00", 1435781451781},
      {"2015-07-01T18:10:51,781-02:00", 1435781451781},
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59.999Z", -1},
      {"2000-02-29T00:00:00Z", 951782400000},
      {"-292273086-05-16T16:47:06Z", QUERY_MIN_TIME_MS},
      {"292277025-08-18T07:12:54.999999999Z", QUERY_MAX_TIME_MS},
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    int64_t ms = 42;
    int rc = query_parse_time(ok[i].in, strlen(ok[i].in), &ms);
    if (rc)
      TEST_FAIL_("%s: %s", ok[i].in, tc_errmsg(rc));
    if (ms != ok[i].want)
      TEST_FAIL_("%s: %lld, want %lld", ok[i].in, (long long)ms,
                 (long long)ok[i].want);
  }
  static const char *const bad[] = {
      "", "x", "1_000", "0x10", "1e", "inf", "NaN", "1e400",
      "2015-07-01 20:10:51Z", "2015-07-01T20:10:51", "2001-02-29T00:00:00Z",
      "2015-07-01T24:00:00Z", "2015-07-01T20:10:60Z", "2015-07-01t20:10:51Z",
      "2015-07-01T20:10:51z", "2015-07-01T20:10:51+0200", "15-07-01T20:10:51Z",
      "1.5 ", " 1.5",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t ms;
    int rc = query_parse_time(bad[i], strlen(bad[i]), &ms);
    if (rc != TC_EINVAL)
      TEST_FAIL_("%s: accepted as %lld", bad[i], (long long)ms);
  }
  int64_t ms;
  ASSERT_EQ(query_parse_time("x", 1, &ms), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL), "cannot parse \"x\" to a valid timestamp");
  ASSERT_EQ(query_parse_time("a\0b\n\"\xff", 6, &ms), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL),
               "cannot parse \"a\\x00b\\n\\\"\\xff\" to a valid timestamp");
}

TEST(params_durations) {
  static const struct {
    const char *in;
    int64_t want_ns;
  } ok[] = {
      {"15", 15000000000LL},
      {"0.5", 500000000LL},
      {"1e-9", 1},
      {"-1", -1000000000LL},
      {"0", 0},
      {"5m", 300000000000LL},
      {"1h30m", 5400000000000LL},
      {"500ms", 500000000LL},
      {"1y2w3d4h5m6s7ms", 31536000000000000LL + 1209600000000000LL +
                              259200000000000LL + 14400000000000LL +
                              300000000000LL + 6000000000LL + 7000000LL},
      {"0s", 0},
      {"NaN", INT64_MIN},
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    int64_t ns = 42;
    int rc = query_parse_duration(ok[i].in, strlen(ok[i].in), &ns);
    if (rc)
      TEST_FAIL_("%s: %s", ok[i].in, tc_errmsg(rc));
    if (ns != ok[i].want_ns)
      TEST_FAIL_("%s: %lld, want %lld", ok[i].in, (long long)ns,
                 (long long)ok[i].want_ns);
  }
  static const char *const bad[] = {"", "1m1h", "1h1h", "5x", "h", "1.5h",
                                    "-5m", "1d ", "300y", "10000000000000000s",
                                    "5M"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t ns;
    if (query_parse_duration(bad[i], strlen(bad[i]), &ns) != TC_EINVAL)
      TEST_FAIL_("%s: accepted as %lld", bad[i], (long long)ns);
  }
  int64_t ns;
  ASSERT_EQ(query_parse_duration("x", 1, &ns), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL), "cannot parse \"x\" to a valid duration");
  ASSERT_EQ(query_parse_duration("1e10", 4, &ns), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL),
               "cannot parse \"1e10\" to a valid duration. It overflows int64");
  ASSERT_EQ(query_parse_duration("-Inf", 4, &ns), TC_EINVAL);
}

TEST(params_go_scalars) {
  int b;
  static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
  for (size_t i = 0; i < 6; i++) {
    ASSERT_OK(query_parse_go_bool(t[i], strlen(t[i]), &b));
    ASSERT_EQ(b, 1);
  }
  ASSERT_OK(query_parse_go_bool("False", 5, &b));
  ASSERT_EQ(b, 0);
  ASSERT_EQ(query_parse_go_bool("yes", 3, &b), TC_EINVAL);
  ASSERT_EQ(query_parse_go_bool("tRUE", 4, &b), TC_EINVAL);
  double v;
  ASSERT_OK(query_parse_go_float("Infinity", 8, &v));
  ASSERT_TRUE(isinf(v) && v > 0);
  ASSERT_OK(query_parse_go_float("-inf", 4, &v));
  ASSERT_TRUE(isinf(v) && v < 0);
  ASSERT_OK(query_parse_go_float("nAn", 3, &v));
  ASSERT_TRUE(isnan(v));
  ASSERT_EQ(query_parse_go_float("+nan", 4, &v), TC_EINVAL);
  ASSERT_EQ(query_parse_go_float("infin", 5, &v), TC_EINVAL);
  ASSERT_OK(query_parse_go_float("1e-400", 6, &v));
  ASSERT_TRUE(v == 0);
  ASSERT_EQ(query_parse_go_float(".", 1, &v), TC_EINVAL);
  ASSERT_OK(query_parse_go_float("5.", 2, &v));
  ASSERT_TRUE(v == 5);
}

/* One range-query case: params and the expected error ("" = success). */
struct range_case {
  const char *params[8];
  const char *err;
};

TEST(params_query_range_errors) {
  static const struct range_case cases[] = {
      {{"query=up", "end=10", "step=1"},
       "cannot parse \"\" to a valid timestamp"},
      {{"query=up", "start=x", "end=10", "step=1"},
       "cannot parse \"x\" to a valid timestamp"},
      {{"start=1", "end=y", "step=1"},
       "cannot parse \"y\" to a valid timestamp"},
      {{"start=10", "end=9", "step=1"},
       "end timestamp must not be before start time"},
      {{"start=1", "end=2", "step=x"},
       "'step' parameter: cannot parse \"x\" to a valid duration"},
      {{"start=1", "end=2", "step=0"},
       "zero or negative query resolution step widths are not accepted. Try "
       "a positive integer"},
      {{"start=1", "end=2", "step=-1s"},
       "'step' parameter: cannot parse \"-1s\" to a valid duration"},
      {{"start=1", "end=2", "step=-1"},
       "zero or negative query resolution step widths are not accepted. Try "
       "a positive integer"},
      {{"start=0", "end=11001", "step=1"},
       "exceeded maximum resolution of 11,000 points per timeseries. Try "
       "decreasing the query resolution (?step=XX)"},
      {{"start=0", "end=11000", "step=1"}, ""},
      {{"start=0", "end=10", "step=1", "timeout=x"},
       "cannot parse \"x\" to a valid duration"},
      {{"start=0", "end=10", "step=1", "dedup=x"},
       "'dedup' parameter: strconv.ParseBool: parsing \"x\": invalid syntax"},
      {{"start=0", "end=10", "step=1", "max_source_resolution=-5m"},
       "'max_source_resolution' parameter: cannot parse \"-5m\" to a valid "
       "duration"},
      {{"start=0", "end=10", "step=1", "max_source_resolution=-300"},
       "negative 'max_source_resolution' is not accepted. Try a positive "
       "integer"},
      {{"start=0", "end=10", "step=1", "partial_response=maybe"},
       "'partial_response' parameter: strconv.ParseBool: parsing \"maybe\": "
       "invalid syntax"},
      {{"start=0", "end=10", "step=1", "engine=v8"}, "'v8' bad engine"},
      {{"start=0", "end=10", "step=1", "lookback_delta=1x"},
       "'lookback_delta' parameter: cannot parse \"1x\" to a valid duration"},
      /* first failing check wins: dedup before max_source_resolution */
      {{"start=0", "end=10", "step=1", "max_source_resolution=-1",
        "dedup=no"},
       "'dedup' parameter: strconv.ParseBool: parsing \"no\": invalid syntax"},
      /* range queries read max_source_resolution before partial_response */
      {{"start=0", "end=10", "step=1", "partial_response=x",
        "max_source_resolution=-1"},
       "negative 'max_source_resolution' is not accepted. Try a positive "
       "integer"},
  };
  struct query_defaults d;
  defaults(&d);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kv kv;
    struct qparams p = mk(&kv, cases[i].params);
    struct query_range_req r;
    int rc = query_parse_range(&p, &d, &r);
    if (!*cases[i].err) {
      if (rc)
        TEST_FAIL_("case %zu: %s", i, tc_errmsg(rc));
      query_opts_release(&r.o);
      continue;
    }
    if (rc != TC_EINVAL)
      TEST_FAIL_("case %zu: rc %d, want error \"%s\"", i, rc, cases[i].err);
    if (strcmp(tc_errmsg(rc), cases[i].err))
      TEST_FAIL_("case %zu: \"%s\", want \"%s\"", i, tc_errmsg(rc),
                 cases[i].err);
  }
}

TEST(params_query_range_values) {
  struct query_defaults d;
  defaults(&d);
  static const char *const r1[] = {"query=rate(x[5m])", "start=1000.5",
                                   "end=2000", "step=15", NULL};
  struct kv kv;
  struct qparams p = mk(&kv, r1);
  struct query_range_req r;
  ASSERT_OK(query_parse_range(&p, &d, &r));
  ASSERT_STREQ(r.query, "rate(x[5m])");
  ASSERT_EQ(r.start_ms, 1000500);
  ASSERT_EQ(r.end_ms, 2000000);
  ASSERT_EQ(r.step_ms, 15000);
  ASSERT_EQ(r.o.dedup, 1);
  ASSERT_EQ(r.o.partial_response, 0);
  ASSERT_EQ(r.o.max_source_resolution_ms, 0);
  ASSERT_EQ(r.o.engine, QUERY_ENGINE_PROMETHEUS);
  ASSERT_EQ(r.o.timeout_ms, 0);
  ASSERT_EQ(r.o.replica_labels.n, 0);
  query_opts_release(&r.o);

  /* default step: max(range/250 s, default step); auto resolution = step/5 */
  static const char *const r2[] = {"start=0", "end=100000",
                                   "max_source_resolution=auto",
                                   "replicaLabels[]=replica",
                                   "replicaLabels[]=rule_replica",
                                   "storeMatch[]={job=\"a\"}", "dedup=false",
                                   NULL};
  p = mk(&kv, r2);
  ASSERT_OK(query_parse_range(&p, &d, &r));
  ASSERT_EQ(r.step_ms, 400000);
  ASSERT_EQ(r.o.max_source_resolution_ms, 80000);
  ASSERT_EQ(r.o.replica_labels.n, 2);
  ASSERT_STREQ(r.o.replica_labels.v[1], "rule_replica");
  ASSERT_EQ(r.o.store_matchers.n, 1);
  ASSERT_STREQ(r.o.store_matchers.v[0], "{job=\"a\"}");
  ASSERT_EQ(r.o.dedup, 0);
  query_opts_release(&r.o);

  static const char *const r3[] = {"start=0", "end=5", "step=0.0005",
                                   "max_source_resolution=1h",
                                   "partial_response=1", "engine=thanos",
                                   "lookback_delta=5m", "timeout=30s", NULL};
  const char *flag_replicas[] = {"prometheus_replica"};
  d.replica_labels.v = flag_replicas;
  d.replica_labels.n = 1;
  d.auto_downsampling = 1;
  p = mk(&kv, r3);
  ASSERT_OK(query_parse_range(&p, &d, &r));
  ASSERT_EQ(r.step_ns, 500000);
  ASSERT_EQ(r.step_ms, 0);
  ASSERT_EQ(r.o.max_source_resolution_ms, 3600000);
  ASSERT_EQ(r.o.partial_response, 1);
  ASSERT_EQ(r.o.engine, QUERY_ENGINE_THANOS);
  ASSERT_EQ(r.o.lookback_delta_ms, 300000);
  ASSERT_EQ(r.o.timeout_ms, 30000);
  ASSERT_EQ(r.o.replica_labels.n, 1);
  ASSERT_STREQ(r.o.replica_labels.v[0], "prometheus_replica");
  query_opts_release(&r.o);

  /* auto downsampling flag: step/5 without the parameter */
  static const char *const r4[] = {"start=0", "end=100", "step=10", NULL};
  p = mk(&kv, r4);
  ASSERT_OK(query_parse_range(&p, &d, &r));
  ASSERT_EQ(r.o.max_source_resolution_ms, 2000);
  query_opts_release(&r.o);
}

TEST(params_query_instant) {
  struct query_defaults d;
  defaults(&d);
  struct kv kv;
  struct query_instant_req q;
  static const char *const a[] = {"query=up", NULL};
  struct qparams p = mk(&kv, a);
  ASSERT_OK(query_parse_instant(&p, &d, &q));
  ASSERT_EQ(q.time_ms, 1700000000123);
  ASSERT_STREQ(q.query, "up");
  query_opts_release(&q.o);

  static const char *const b[] = {"time=tomorrow", NULL};
  p = mk(&kv, b);
  ASSERT_EQ(query_parse_instant(&p, &d, &q), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL), "Invalid time value for 'time': cannot "
                                     "parse \"tomorrow\" to a valid timestamp");

  /* instant: partial_response is read before max_source_resolution */
  static const char *const c[] = {"time=1", "partial_response=x",
                                  "max_source_resolution=-1", "stats=all",
                                  NULL};
  p = mk(&kv, c);
  ASSERT_EQ(query_parse_instant(&p, &d, &q), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL), "'partial_response' parameter: "
                                     "strconv.ParseBool: parsing \"x\": "
                                     "invalid syntax");

  static const char *const e[] = {"time=2015-07-01T20:10:51.781Z",
                                  "max_source_resolution=auto", "stats=all",
                                  "analyze=1", "time=5", NULL};
  d.instant_max_source_resolution_ns = 300000000000LL;
  p = mk(&kv, e);
  ASSERT_OK(query_parse_instant(&p, &d, &q));
  ASSERT_EQ(q.time_ms, 1435781451781);
  ASSERT_EQ(q.o.max_source_resolution_ms, 300000);
  ASSERT_EQ(q.o.stats, 1);
  ASSERT_EQ(q.o.analyze, 1);
  query_opts_release(&q.o);
}

static int fake_check(void *ctx, const char *sel, int *nonempty) {
  (void)ctx;
  if (sel[0] == '!')
    return tc_error(TC_EPARSE, "1:1: parse error: unexpected character: '!'");
  *nonempty = strcmp(sel, "{a=\"\"}") != 0;
  return 0;
}

TEST(params_metadata) {
  struct query_defaults d;
  defaults(&d);
  struct kv kv;
  struct query_meta_req m;
  struct qparams p = mk(&kv, NULL);
  ASSERT_EQ(query_parse_series(&p, &d, &m), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL), "no match[] parameter provided");

  static const char *const a[] = {"match[]=up", "match[]={job=\"x\"}",
                                  "limit=5", NULL};
  p = mk(&kv, a);
  ASSERT_OK(query_parse_series(&p, &d, &m));
  ASSERT_EQ(m.start_ms, QUERY_MIN_TIME_MS);
  ASSERT_EQ(m.end_ms, QUERY_MAX_TIME_MS);
  ASSERT_EQ(m.matchers.n, 2);
  ASSERT_EQ(m.limit, 5);
  ASSERT_EQ(m.dedup, 1);
  query_meta_req_release(&m);

  static const struct {
    const char *params[4];
    const char *err;
  } bad[] = {
      {{"match[]=up", "start=x"},
       "Invalid time value for 'start': cannot parse \"x\" to a valid "
       "timestamp"},
      {{"match[]=up", "end=y"},
       "Invalid time value for 'end': cannot parse \"y\" to a valid "
       "timestamp"},
      {{"match[]=up", "start=5", "end=4"},
       "end timestamp must not be before start time"},
      {{"match[]=up", "limit=-1"}, "limit must be non-negative"},
      {{"match[]=up", "limit=1.5"}, "cannot parse \"1.5\" to a valid limit"},
      {{"match[]=up", "limit=99999999999999999999"},
       "cannot parse \"99999999999999999999\" to a valid limit"},
      {{"match[]=!x"}, "1:1: parse error: unexpected character: '!'"},
      {{"match[]=up", "match[]={a=\"\"}"},
       "match[] must contain at least one non-empty matcher"},
  };
  d.check_selector = fake_check;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    p = mk(&kv, bad[i].params);
    int rc = query_parse_series(&p, &d, &m);
    if (rc != TC_EINVAL || strcmp(tc_errmsg(rc), bad[i].err))
      TEST_FAIL_("case %zu: rc %d \"%s\", want \"%s\"", i, rc, tc_errmsg(rc),
                 bad[i].err);
  }

  /* labels: match[] optional; label values: name check first */
  p = mk(&kv, NULL);
  ASSERT_OK(query_parse_labels(&p, &d, &m));
  ASSERT_EQ(m.matchers.n, 0);
  query_meta_req_release(&m);
  ASSERT_EQ(query_parse_label_values(&p, &d, "a-b", &m), TC_EINVAL);
  ASSERT_STREQ(tc_errmsg(TC_EINVAL), "invalid label name: \"a-b\"");
  ASSERT_EQ(query_parse_label_values(&p, &d, "", &m), TC_EINVAL);
  ASSERT_EQ(query_parse_label_values(&p, &d, "1a", &m), TC_EINVAL);
  ASSERT_OK(query_parse_label_values(&p, &d, "_a1", &m));
  ASSERT_STREQ(m.label_name, "_a1");
  query_meta_req_release(&m);

  /* default metadata range from the flag */
  d.metadata_range_ns = 3600 * 1000000000LL;
  ASSERT_OK(query_parse_labels(&p, &d, &m));
  ASSERT_EQ(m.start_ms, 1700000000123 - 3600000);
  ASSERT_EQ(m.end_ms, 1700000000123);
  query_meta_req_release(&m);
}

TEST(params_go_quote) {
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(query_go_quote(&b, "a\x01\x7f\xc3\xa9\xc2\x85\xe2\x80\xa8\t", 11));
  ASSERT_STREQ(b.data, "\"a\\x01\\x7f\xc3\xa9\\u0085\\u2028\\t\"");
  tc_buf_release(&b);
}

TEST(params_lookback_delta) {
  static const struct {
    int64_t ld;
    int dynamic;
    int64_t msr, want;
  } c[] = {
      {0, 1, 0, 300000},           /* default 5m, raw */
      {0, 1, 300000, 300000},      /* 5m level: not above max(5m, 5m) */
      {0, 1, 300001, 3600000},     /* above 5m: the 1h level's lookback */
      {0, 1, 60000, 300000},       /* auto resolution of a 5m step */
      {60000, 1, 0, 60000},        /* 1m flag, raw */
      {60000, 1, 120000, 300000},  /* above the 1m flag: 5m */
      {60000, 1, 3600001, 3600000},
      {60000, 0, 3600001, 60000},  /* not dynamic: always the flag */
      {7200000, 1, 3600001, 7200000},
      {7200000, 1, 7200001, 7200000},
  };
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    int64_t got = query_lookback_delta(c[i].ld, c[i].dynamic, c[i].msr);
    if (got != c[i].want)
      TEST_FAIL_("case %zu: %lld, want %lld", i, (long long)got,
                 (long long)c[i].want);
  }
}
