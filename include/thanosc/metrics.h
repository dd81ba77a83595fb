/*
 * metrics.h - the process's metrics registry: counters, gauges and
 * histograms with labels, exposed in the Prometheus text format 0.0.4.
 *
 * A metric is registered once (at start-up, or lazily: registering the same
 * name twice returns the same metric) and lives until exit. Children, one
 * per label-value tuple, are created on first use and also live until exit.
 * Every operation is thread-safe.
 *
 *   static struct metric *ops;
 *   ops = metric_counter("thanos_objstore_bucket_operations_total",
 *                        "Total number of all attempted operations",
 *                        "bucket,operation");
 *   metric_inc(metric_with(ops, "mybucket", "get"));
 *
 * For a metric without labels use metric_inc(metric_with(m)) or the
 * shorthand metric_child(m).
 */
#ifndef THANOSC_METRICS_H
#define THANOSC_METRICS_H

#include <stddef.h>

#include "thanosc/buf.h"

struct metric;
struct metric_child;

/* labels: comma-separated label names, or NULL/"" for none. */
struct metric *metric_counter(const char *name, const char *help,
                              const char *labels);
struct metric *metric_gauge(const char *name, const char *help,
                            const char *labels);
/* buckets: upper bounds, increasing; +Inf is implied. NULL = defaults. */
struct metric *metric_histogram(const char *name, const char *help,
                                const char *labels, const double *buckets,
                                size_t nbuckets);

/* The child for these label values, one per label name, in order. */
struct metric_child *metric_with(struct metric *m, ...);
struct metric_child *metric_withv(struct metric *m, const char *const *vals);
#define metric_child(m) metric_with(m)

void metric_add(struct metric_child *c, double v);
void metric_inc(struct metric_child *c);
void metric_set(struct metric_child *c, double v);
void metric_set_now(struct metric_child *c); /* gauge: unix time in s */
void metric_observe(struct metric_child *c, double v);
double metric_value(struct metric_child *c); /* counters and gauges */

/* Called before each exposition to refresh gauges (process_*, ...). */
typedef void metrics_collect_fn(void *data);
void metrics_add_collector(metrics_collect_fn *fn, void *data);

/* Appends the text exposition of every metric, sorted by name. */
int metrics_write(struct tc_buf *out);

/* Registers process_* and thanos_build_info (idempotent). */
void metrics_register_process(void);

#endif
