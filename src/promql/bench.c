/*
 * bench.c - `thanosc tools promql bench`: builds an in-memory data set
 * (series x samples, classic histogram buckets included) and times a set of
 * heavy range queries over it, printing samples/s per query. The number is
 * the raw samples the query's selectors cover divided by the CPU time the
 * query took (wall time is printed too; the machine may be shared).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promql/internal.h"
#include "thanosc/common.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: stable on a shared machine. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int promql_bench_run(size_t nseries, size_t nsamples, int64_t step_ms) {
  static const char *queries[] = {
      "rate(bench_requests_total[5m])",
      "sum by (job) (rate(bench_requests_total[5m]))",
      "avg_over_time(bench_requests_total[10m])",
      "histogram_quantile(0.9, sum by (le) (rate(bench_latency_bucket[5m])))",
      "topk(5, bench_requests_total)",
      ("bench_requests_total / on(instance, job) group_left "
       "bench_requests_total * 2"),
      "max_over_time(deriv(bench_requests_total[5m])[30m:1m])",
  };
  static const char *les[] = {"0.1", "0.5", "1", "5", "+Inf"};
  struct promql_memstore *ms = promql_memstore_new();
  struct promql_engine_opts o;
  double t0 = now_s();
  size_t nbucket_series = nseries / 10;
  int64_t scrape = 15000, end;
  promql_engine_opts_default(&o);
  o.max_samples = 0;
  for (size_t s = 0; s < nseries; s++) {
    struct labels l = {0};
    char inst[32], job[32];
    snprintf(inst, sizeof(inst), "i%zu", s);
    snprintf(job, sizeof(job), "job%zu", s % 10);
    promql_labels_set(&l, "__name__", "bench_requests_total");
    promql_labels_set(&l, "instance", inst);
    promql_labels_set(&l, "job", job);
    for (size_t i = 0; i < nsamples; i++)
      promql_memstore_add(ms, &l, (int64_t)i * scrape,
                          (double)(i * (s % 7 + 1)), false);
    labels_release(&l);
  }
  for (size_t s = 0; s < nbucket_series; s++) {
    for (size_t b = 0; b < TC_ARRAY_SIZE(les); b++) {
      struct labels l = {0};
      char inst[32];
      snprintf(inst, sizeof(inst), "i%zu", s);
      promql_labels_set(&l, "__name__", "bench_latency_bucket");
      promql_labels_set(&l, "instance", inst);
      promql_labels_set(&l, "le", les[b]);
      for (size_t i = 0; i < nsamples / 5; i++)
        promql_memstore_add(ms, &l, (int64_t)i * scrape * 5,
                            (double)(i * (b + 1)), false);
      labels_release(&l);
    }
  }
  end = (int64_t)(nsamples - 1) * scrape;
  printf("promql bench: %zu samples in %zu+%zu series loaded in %.2fs; "
         "range 0..%" PRId64 "s step %" PRId64 "s\n",
         promql_memstore_samples(ms), nseries, nbucket_series * 5,
         now_s() - t0, end / 1000, step_ms / 1000);
  for (size_t q = 0; q < TC_ARRAY_SIZE(queries); q++) {
    struct promql_query pq = {queries[q], 0, end, step_ms, 0, NULL};
    struct promql_result r;
    char *err = NULL;
    double t1 = now_s(), c1 = cpu_s(), dt, dc;
    size_t covered = strstr(queries[q], "bench_latency_bucket")
                         ? nbucket_series * 5 * (nsamples / 5)
                         : nseries * nsamples;
    int rc = promql_exec(&o, promql_memstore_queryable(ms), &pq, &r, &err);
    dt = now_s() - t1;
    dc = cpu_s() - c1;
    if (rc < 0) {
      printf("%-80s error: %s\n", queries[q], err);
      free(err);
      continue;
    }
    printf("%-76s %7.3fs wall %7.3fs cpu %12.0f samples/s (cpu) %zu series\n",
           queries[q], dt, dc, (double)covered / dc, r.nseries);
    promql_result_release(&r);
  }
  promql_memstore_free(ms);
  return 0;
}
