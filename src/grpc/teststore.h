/*
 * teststore.h - a synthetic StoreAPI (thanos.Store Series, LabelNames,
 * LabelValues, legacy Info, and thanos.info.Info) for interop tests and
 * benchmarks, and the worked example of a streaming handler that computes on
 * the libuv worker pool and sends under backpressure.
 *
 * Series returns nseries series {__name__="test_metric", i="%08d",
 * job="serve-test"} each with one raw XOR chunk of one sample. Matchers on
 * __name__ select special behaviours: "slow" never answers (until cancelled
 * or the deadline), "error" fails with INVALID_ARGUMENT, "big" sends one
 * message of 8 MiB.
 */
#ifndef THANOSC_GRPC_TESTSTORE_H
#define THANOSC_GRPC_TESTSTORE_H

#include <stdint.h>

#include "thanosc/grpc.h"

struct grpc_teststore {
  int64_t nseries;
  int64_t min_time, max_time; /* advertised by Info */
  const char *ext_label;      /* "name=value" external label or NULL */
  int64_t series_started;     /* counters, for tests */
  int64_t series_cancelled;
};

/* The method table serving ts (borrowed; ts must outlive the server). */
const struct grpc_method *grpc_teststore_methods(struct grpc_teststore *ts);

#endif
