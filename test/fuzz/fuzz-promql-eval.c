/*
 * fuzz-promql-eval.c - libFuzzer target for the evaluator: any query is
 * evaluated as an instant and as a range query over a small fixed data set
 * (counters, gauges with NaN and stale markers, classic buckets); it must
 * succeed or fail with a message, never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/promql.h"

static struct promql_memstore *ms;

static void add(const char *name, const char *k, const char *v,
                double base, double inc) {
  struct labels l = LABELS_INIT;
  promql_labels_set(&l, "__name__", name);
  promql_labels_set(&l, k, v);
  for (int i = 0; i < 40; i++) {
    double x = base + inc * i;
    if (i == 17)
      x = 0; /* counter reset */
    if (i == 23 && inc < 0)
      x = __builtin_nan("");
    promql_memstore_add(ms, &l, (int64_t)i * 15000, x, false);
  }
  labels_release(&l);
}

static void setup(void) {
  static const char *les[] = {"0.1", "1", "10", "+Inf"};
  ms = promql_memstore_new();
  add("up", "job", "a", 1, 0);
  add("up", "job", "b", 0, 0);
  add("req_total", "job", "a", 0, 3);
  add("req_total", "job", "b", 5, 1.5);
  add("temp", "room", "x", 20, -0.25);
  for (size_t i = 0; i < 4; i++)
    add("lat_bucket", "le", les[i], (double)i, (double)i + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct promql_engine_opts o;
  struct promql_query q = {0};
  struct promql_result r;
  char *err = NULL;
  char *in;
  if (!ms)
    setup();
  if (size > 4096)
    return 0;
  in = malloc(size + 1);
  memcpy(in, data, size);
  in[size] = 0;
  promql_engine_opts_default(&o);
  o.experimental_functions = true;
  o.max_samples = 200000;
  q.expr = in;
  q.start_ms = q.end_ms = 300000;
  if (promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err) == 0)
    promql_result_release(&r);
  free(err);
  err = NULL;
  q.start_ms = 0;
  q.end_ms = 600000;
  q.step_ms = 30000;
  if (promql_exec(&o, promql_memstore_queryable(ms), &q, &r, &err) == 0)
    promql_result_release(&r);
  free(err);
  free(in);
  return 0;
}
