/*
 * Tests of src/query/queryable.c: the whole querier pipeline without the
 * network: two HA replicas (as XOR chunks from two "endpoints") through
 * merge, dedup and the PromQL engine to the JSON body.
 */
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/query_api.h"
#include "thanosc/query_queryable.h"
#include "thanosc/tsdb/chunkenc.h"

/* Two endpoints, one series each: a counter scraped every 15s; replica b
 * restarted at 60s and carries lower values from then on. */
struct fake_store {
  struct xor_enc enc[2];
  struct qchunk chunk[2];
  struct qseries series[2];
  struct qseries_array_set set[2];
  struct qseries_set *sets[2];
  int released;
  const char *seen_func;
  size_t seen_replicas;
};

static const struct label lab_a[] = {{"__name__", "reqs"},
                                      {"job", "api"},
                                      {"replica", "a"}};
static const struct label lab_b[] = {{"__name__", "reqs"},
                                      {"job", "api"},
                                      {"replica", "b"}};

static void store_init(struct fake_store *s) {
  memset(s, 0, sizeof(*s));
  for (int r = 0; r < 2; r++) {
    xor_enc_init(&s->enc[r]);
    for (int i = 0; i <= 20; i++) {
      int64_t t = i * 15000 + (r ? 5000 : 0);
      double v = (r == 1 && t >= 60000) ? (i - 4) * 10 : i * 10;
      if (r == 0 && t >= 90000 && t < 180000)
        continue; /* replica a misses scrapes: the query switches to b */
      ASSERT_OK(xor_enc_append(&s->enc[r], t, v));
    }
    size_t n;
    const uint8_t *b = xor_enc_bytes(&s->enc[r], &n);
    s->chunk[r] = (struct qchunk){0, 305000, QCHUNK_STOREPB_XOR, b, n};
    s->series[r] = (struct qseries){r ? lab_b : lab_a, 3, &s->chunk[r], 1};
  }
}

static void store_release(struct fake_store *s) {
  xor_enc_release(&s->enc[0]);
  xor_enc_release(&s->enc[1]);
}

static void fetch_release(struct query_fetch *f) {
  ((struct fake_store *)f->data)->released++;
}

static int fake_fetch(void *ctx, const struct promql_select_hints *h,
                      const struct matcher *ms, size_t nms,
                      const struct qstrs *rep, struct query_fetch *out) {
  struct fake_store *s = ctx;
  (void)ms;
  (void)nms;
  s->seen_func = h->func;
  s->seen_replicas = rep->n;
  for (int r = 0; r < 2; r++) {
    qseries_array_set_init(&s->set[r], &s->series[r], 1);
    s->sets[r] = &s->set[r].base;
  }
  out->sets = s->sets;
  out->nsets = 2;
  static const unsigned char stripped[] = {0, 0};
  out->stripped = stripped;
  out->release = fetch_release;
  out->data = s;
  return 0;
}

static int raw_counters;

static void run_rep(struct fake_store *s, int dedup, size_t nrep,
                    const char *expr, int64_t t, struct tc_buf *out) {
  struct query_queryable q;
  query_queryable_init(&q);
  q.raw_counters = raw_counters;
  static const char *rep[] = {"replica"};
  q.fetch = fake_fetch;
  q.fetch_ctx = s;
  q.dedup = dedup;
  q.algo = QDEDUP_PENALTY;
  q.replica_labels.v = rep;
  q.replica_labels.n = nrep;
  struct promql_engine_opts eo;
  promql_engine_opts_default(&eo);
  struct promql_query pq = {.expr = expr, .start_ms = t, .end_ms = t};
  struct promql_result res;
  char *err = NULL;
  int rc = promql_exec(&eo, &q.base, &pq, &res, &err);
  if (rc)
    TEST_FAIL_("%s: %s", expr, err ? err : tc_errmsg(rc));
  tc_buf_reset(out);
  ASSERT_OK(api_write_query_result(out, &res, API_DATA_ANALYSIS, NULL, 0, 0));
  promql_result_release(&res);
}

static void run(struct fake_store *s, int dedup, const char *expr,
                int64_t t, struct tc_buf *out) {
  run_rep(s, dedup, 1, expr, t, out);
}

TEST(queryable_pipeline) {
  struct fake_store s;
  store_init(&s);
  struct tc_buf out = TC_BUF_INIT;

  run(&s, 0, "reqs", 300000, &out);
  ASSERT_STREQ(out.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{\"__name__\":\"reqs\",\"job\":\"api\","
               "\"replica\":\"a\"},\"value\":[300,\"200\"]},{\"metric\":{"
               "\"__name__\":\"reqs\",\"job\":\"api\",\"replica\":\"b\"},"
               "\"value\":[300,\"150\"]}],\"analysis\":{}}}");
  ASSERT_EQ(s.seen_replicas, 0);
  ASSERT_EQ(s.released, 1);

  /* dedup: one series without the replica label; A until its gap, then B
   * with its own lower values (no counter function, no adjustment) */
  run(&s, 1, "reqs", 300000, &out);
  ASSERT_STREQ(out.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{\"__name__\":\"reqs\","
               "\"job\":\"api\"},\"value\":[300,\"150\"]}],"
               "\"analysis\":{}}}");
  ASSERT_EQ(s.seen_replicas, 1);
  ASSERT_EQ(s.released, 2);

  /* resets() is a counter function: switching to the restarted replica
   * is adjusted, so no reset shows. Without dedup replica b restarted, but
   * a Thanos querier reads counter functions through its counter-reset
   * iterator, which hides resets (Thanos issue 3644): 0 there too. */
  run(&s, 1, "resets(reqs[5m])", 300000, &out);
  ASSERT_STREQ(out.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{\"job\":\"api\"},\"value\":[300,"
               "\"0\"]}],\"analysis\":{}}}");
  ASSERT_STREQ(s.seen_func, "resets");
  run(&s, 0, "resets(reqs[5m])", 300000, &out);
  ASSERT_STREQ(out.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{\"job\":\"api\",\"replica\":\"a\"},"
               "\"value\":[300,\"0\"]},{\"metric\":{\"job\":\"api\","
               "\"replica\":\"b\"},\"value\":[300,\"0\"]}],\"analysis\":{}}}");
  ASSERT_EQ(s.released, 4);

  /* with raw_counters, resets() counts b's restart as Prometheus would */
  raw_counters = 1;
  run(&s, 0, "resets(reqs[5m])", 300000, &out);
  raw_counters = 0;
  ASSERT_STREQ(out.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{\"job\":\"api\",\"replica\":\"a\"},"
               "\"value\":[300,\"0\"]},{\"metric\":{\"job\":\"api\","
               "\"replica\":\"b\"},\"value\":[300,\"1\"]}],"
               "\"analysis\":{}}}");

  /* not a counter function: b's own values, restart included */
  run(&s, 0, "max_over_time(reqs[10m])", 300000, &out);
  ASSERT_STREQ(out.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{\"job\":\"api\",\"replica\":\"a\"},"
               "\"value\":[300,\"200\"]},{\"metric\":{\"job\":\"api\","
               "\"replica\":\"b\"},\"value\":[300,\"150\"]}],"
               "\"analysis\":{}}}");

  /* dedup asked for but no replica labels: nothing is deduplicated */
  run_rep(&s, 1, 0, "count(reqs)", 300000, &out);
  ASSERT_STREQ(out.data,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
               "\"result\":[{\"metric\":{},\"value\":[300,\"2\"]}],"
               "\"analysis\":{}}}");
  ASSERT_EQ(s.seen_replicas, 0);
  tc_buf_release(&out);
  store_release(&s);
}
