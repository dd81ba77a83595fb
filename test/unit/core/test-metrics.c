/* Tests of src/core/metrics.c. */
#include "test.h"
#include "thanosc/metrics.h"

TEST(metrics_exposition) {
  struct metric *ops = metric_counter("test_ops_total", "Ops done.",
                                      "bucket,operation");
  ASSERT(metric_counter("test_ops_total", "again", "bucket,operation") == ops);
  metric_inc(metric_with(ops, "b", "get"));
  metric_add(metric_with(ops, "b", "get"), 2);
  metric_inc(metric_with(ops, "a", "iter\"x"));
  struct metric *up = metric_gauge("test_up", "Up.", NULL);
  metric_set(metric_child(up), 0.5);
  double bounds[] = {0.1, 1e6};
  struct metric *h = metric_histogram("test_seconds", "Latency.", "op",
                                      bounds, 2);
  metric_observe(metric_with(h, "x"), 0.05);
  metric_observe(metric_with(h, "x"), 5);
  /* client_golang's writeFloat: Go's %g shortest, both zeros "0" */
  metric_set(metric_child(metric_gauge("test_big", "Big.", NULL)), 25e6);
  metric_set(metric_child(metric_gauge("test_zero", "Zero.", NULL)), -0.0);
  struct metric *empty = metric_counter("test_empty_total", "None yet.", "k");
  (void)empty;
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(metrics_write(&b));
  const char *want =
      "# HELP test_big Big.\n"
      "# TYPE test_big gauge\n"
      "test_big 2.5e+07\n"
      "# HELP test_ops_total Ops done.\n"
      "# TYPE test_ops_total counter\n"
      "test_ops_total{bucket=\"a\",operation=\"iter\\\"x\"} 1\n"
      "test_ops_total{bucket=\"b\",operation=\"get\"} 3\n"
      "# HELP test_seconds Latency.\n"
      "# TYPE test_seconds histogram\n"
      "test_seconds_bucket{op=\"x\",le=\"0.1\"} 1\n"
      "test_seconds_bucket{op=\"x\",le=\"1e+06\"} 2\n"
      "test_seconds_bucket{op=\"x\",le=\"+Inf\"} 2\n"
      "test_seconds_sum{op=\"x\"} 5.05\n"
      "test_seconds_count{op=\"x\"} 2\n"
      "# HELP test_up Up.\n"
      "# TYPE test_up gauge\n"
      "test_up 0.5\n"
      "# HELP test_zero Zero.\n"
      "# TYPE test_zero gauge\n"
      "test_zero 0\n";
  ASSERT_STREQ(b.data, want);
  tc_buf_release(&b);
}
