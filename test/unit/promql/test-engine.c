/* Unit tests of src/promql/engine.c over the in-memory queryable. */
#include <pthread.h>
#include <stdlib.h>

#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/promql.h"

static struct promql_memstore *fixture(void) {
  struct promql_memstore *ms = promql_memstore_new();
  for (int s = 0; s < 2; s++) {
    struct labels l = {0};
    promql_labels_set(&l, "__name__", "req");
    promql_labels_set(&l, "job", s ? "b" : "a");
    for (int i = 0; i <= 10; i++)
      promql_memstore_add(ms, &l, i * 60000, i * (s + 1), false);
    labels_release(&l);
  }
  return ms;
}

TEST(promql_engine_instant) {
  struct promql_memstore *ms = fixture();
  struct promql_engine_opts o;
  struct promql_query q = {"sum(req)", 600000, 600000, 0, 0, NULL};
  struct promql_result r;
  char *err = NULL;
  promql_engine_opts_default(&o);
  ASSERT_OK(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err));
  ASSERT_EQ(r.type, PROMQL_TYPE_VECTOR);
  ASSERT_EQ(r.nseries, 1);
  ASSERT_DBL_EQ(r.series[0].points[0].v, 30);
  promql_result_release(&r);
  promql_memstore_free(ms);
}

TEST(promql_engine_range_rate) {
  struct promql_memstore *ms = fixture();
  struct promql_engine_opts o;
  struct promql_query q = {"rate(req{job=\"a\"}[5m])", 300000, 600000, 60000,
                           0, NULL};
  struct promql_result r;
  char *err = NULL;
  promql_engine_opts_default(&o);
  ASSERT_OK(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err));
  ASSERT_EQ(r.type, PROMQL_TYPE_MATRIX);
  ASSERT_EQ(r.nseries, 1);
  ASSERT_EQ(r.series[0].npoints, 6);
  ASSERT_DBL_EQ(r.series[0].points[5].v, 1.0 / 60);
  promql_result_release(&r);
  promql_memstore_free(ms);
}

TEST(promql_engine_max_samples) {
  struct promql_memstore *ms = fixture();
  struct promql_engine_opts o;
  struct promql_query q = {"req[10m]", 600000, 600000, 0, 0, NULL};
  struct promql_result r;
  char *err = NULL;
  promql_engine_opts_default(&o);
  o.max_samples = 5;
  ASSERT_EQ(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err),
            TC_ELIMIT);
  ASSERT_STREQ(err, "query processing would load too many samples into "
                    "memory in query execution");
  free(err);
  promql_memstore_free(ms);
}

TEST(promql_engine_cancel) {
  struct promql_memstore *ms = fixture();
  struct promql_engine_opts o;
  volatile int cancel = 1;
  struct promql_query q = {"sum(req)", 0, 600000, 60000, 0, &cancel};
  struct promql_result r;
  char *err = NULL;
  promql_engine_opts_default(&o);
  ASSERT_EQ(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err),
            TC_ECANCELED);
  free(err);
  promql_memstore_free(ms);
}

TEST(promql_engine_lookback_per_query) {
  struct promql_memstore *ms = fixture();
  struct promql_engine_opts o;
  /* last sample at 10m; at 12m it is 2m old */
  struct promql_query q = {"req", 720000, 720000, 0, 60000, NULL};
  struct promql_result r;
  char *err = NULL;
  promql_engine_opts_default(&o);
  ASSERT_OK(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err));
  ASSERT_EQ(r.nseries, 0);
  promql_result_release(&r);
  q.lookback_ms = 0; /* engine default 5m */
  ASSERT_OK(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err));
  ASSERT_EQ(r.nseries, 2);
  promql_result_release(&r);
  promql_memstore_free(ms);
}

TEST(promql_engine_histogram_unsupported) {
  struct promql_memstore *ms = promql_memstore_new();
  struct labels l = LABELS_INIT;
  struct promql_engine_opts o;
  struct promql_query q = {"rate(h[5m])", 300000, 300000, 0, 0, NULL};
  struct promql_result r;
  char *err = NULL;
  promql_labels_set(&l, "__name__", "h");
  promql_memstore_add(ms, &l, 60000, 0, true);
  promql_memstore_add(ms, &l, 120000, 0, true);
  labels_release(&l);
  promql_engine_opts_default(&o);
  ASSERT_EQ(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err),
            TC_ENOTSUP);
  ASSERT_STREQ(err, "native histograms are not supported yet");
  free(err);
  promql_memstore_free(ms);
}

TEST(promql_engine_json) {
  struct promql_memstore *ms = fixture();
  struct promql_engine_opts o;
  struct promql_query q = {"req{job=\"b\"} / 4", 90500, 90500, 0, 0, NULL};
  struct promql_result r;
  struct tc_buf b;
  char *err = NULL;
  promql_engine_opts_default(&o);
  ASSERT_OK(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err));
  tc_buf_init(&b, 0);
  promql_result_json(&r, &b);
  ASSERT_STREQ(b.data, "{\"status\":\"success\",\"data\":{\"resultType\":"
                       "\"vector\",\"result\":[{\"metric\":{\"job\":\"b\"},"
                       "\"value\":[90.5,\"0.5\"]}]}}");
  tc_buf_release(&b);
  promql_result_release(&r);
  promql_memstore_free(ms);
}

struct conc_arg {
  struct promql_memstore *ms;
  size_t want_series, want_points; /* from a single-threaded run */
  int failures;
};

static void *conc_worker(void *p) {
  struct conc_arg *a = p;
  struct promql_engine_opts o;
  promql_engine_opts_default(&o);
  for (int i = 0; i < 50; i++) {
    struct promql_query q = {"sum by (job) (rate(req[2m])) > bool 0", 0,
                             600000, 15000, 0, NULL};
    struct promql_result r;
    char *err = NULL;
    if (promql_exec(&o, promql_memstore_queryable(a->ms), &q, &r, &err) !=
            0 ||
        r.nseries != a->want_series ||
        r.series[0].npoints != a->want_points) {
      a->failures++;
      free(err);
      continue;
    }
    promql_result_release(&r);
  }
  return NULL;
}

/* Queries on several threads at once over one queryable: no shared state. */
TEST(promql_engine_concurrent) {
  struct promql_memstore *ms = fixture();
  pthread_t th[4];
  struct conc_arg args[4];
  struct promql_engine_opts o;
  struct promql_query q = {"sum by (job) (rate(req[2m])) > bool 0", 0,
                           600000, 15000, 0, NULL};
  struct promql_result r;
  char *err = NULL;
  promql_engine_opts_default(&o);
  ASSERT_OK(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err));
  ASSERT_EQ(r.nseries, 2);
  ASSERT_GT(r.series[0].npoints, 30);
  for (int i = 0; i < 4; i++) {
    args[i] = (struct conc_arg){ms, r.nseries, r.series[0].npoints, 0};
    ASSERT_EQ(pthread_create(&th[i], NULL, conc_worker, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
    ASSERT_EQ(args[i].failures, 0);
  }
  promql_result_release(&r);
  promql_memstore_free(ms);
}

TEST(promql_engine_timeout) {
  struct promql_memstore *ms = promql_memstore_new();
  struct promql_engine_opts o;
  struct promql_query q = {"sum(rate(big[5m])) + count(big)", 0, 30000000,
                           15000, 0, NULL};
  struct promql_result r;
  char *err = NULL;
  for (int s = 0; s < 200; s++) {
    struct labels l = LABELS_INIT;
    char v[16];
    snprintf(v, sizeof(v), "%d", s);
    promql_labels_set(&l, "__name__", "big");
    promql_labels_set(&l, "i", v);
    for (int i = 0; i < 2000; i++)
      promql_memstore_add(ms, &l, i * 15000, i, false);
    labels_release(&l);
  }
  promql_engine_opts_default(&o);
  o.timeout_ms = 1;
  ASSERT_EQ(promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err),
            TC_ETIMEOUT);
  ASSERT_STREQ(err, "query timed out in query execution");
  free(err);
  promql_memstore_free(ms);
}
