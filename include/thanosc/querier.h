/*
 * querier.h - the assembly of `thanosc query`: the endpoint set (Info
 * checks, health, DNS discovery), the fan-out of StoreAPI calls to the
 * endpoints, the evaluation threads, and the Prometheus HTTP API v1
 * handlers built on the query engineer's library (query_*.h).
 *
 * Threads: the endpoint set, every gRPC call and every HTTP response live
 * on the loop thread. PromQL evaluation and JSON encoding run on the
 * querier's evaluation threads (--query.max-concurrent of them; queries
 * beyond that wait in a queue). An evaluation that needs series posts a
 * fan-out to the loop (querier_post) and waits for its buffered streams.
 *
 * Ownership: struct querier is owned by the role (src/cmd/query.c); the
 * strings and lists in struct querier_config are borrowed from the flags
 * and must outlive it.
 */
#ifndef THANOSC_QUERIER_H
#define THANOSC_QUERIER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "thanosc/labels.h"
#include "thanosc/query_dedup.h"
#include "thanosc/query_params.h"

struct grpc_client_opts;
struct http_server;
struct grpc_method;

struct querier_config {
  const char *const *endpoints; /* --endpoint (host:port, dns+, dnssrv+) */
  size_t nendpoints;
  const char *const *strict; /* --endpoint-strict: always queried */
  size_t nstrict;
  const char *sd_file;   /* --endpoint.sd-config-file, may be NULL */
  const char *sd_inline; /* --endpoint.sd-config, may be NULL */
  int64_t sd_reload_ms;
  int64_t dns_interval_ms;
  int64_t info_interval_ms; /* 5 s */
  int64_t info_timeout_ms;  /* 5 s */
  int64_t unhealthy_timeout_ms;
  int64_t response_timeout_ms; /* --store.response-timeout, 0 = none */
  const struct grpc_client_opts *client;

  const char *route_prefix; /* "" or "/prefix" */
  int64_t query_timeout_ms;
  int64_t max_concurrent;
  int64_t max_samples;
  int64_t lookback_ms; /* 0 = 5m */
  int dynamic_lookback; /* --query.dynamic-lookback-delta */
  int raw_counters;     /* read raw chunks of counter functions as they are
                           (Prometheus's answers) instead of through Thanos's
                           counter-reset iterator */
  int experimental_functions;
  struct query_defaults defaults; /* partial_response, replica labels... */
  enum qdedup_algo dedup_algo;
  const char *const *selector_labels; /* --selector-label, "k=v" */
  size_t nselector_labels;
  const char *flags_json; /* /api/v1/status/flags data, borrowed */
};

struct querier;

/*
 * Creates the querier on loop: endpoint set (first Info round started
 * right away), evaluation threads and the loop mailbox. Errors: bad
 * endpoint addresses or SD config (message in tc_errmsg()).
 */
int querier_new(uv_loop_t *loop, const struct querier_config *cfg,
                struct querier **out /* OUT */);
/* Registers the API routes (under cfg->route_prefix). */
int querier_http_routes(struct querier *q, struct http_server *srv);
/* The StoreAPI + Info methods for the querier's own gRPC server (a
 * table terminated by {0}, owned by q). */
const struct grpc_method *querier_grpc_methods(struct querier *q);
/* Begins the stop: timers and clients closed; done(data) runs on the loop
 * once every handle is closed and every evaluation finished. */
void querier_stop(struct querier *q, void (*done)(void *), void *data);
void querier_free(struct querier *q);

/* ---- internal interfaces shared by the files of src/querier ---- */

/* A function to run on the loop thread, posted from any thread. Returns
 * TC_ECANCELED (and fn never runs) once the querier has stopped. */
struct querier_post {
  void (*fn)(struct querier_post *p);
  struct querier_post *next;
};
int querier_post(struct querier *q, struct querier_post *p);

/* A task for an evaluation thread. */
struct querier_task {
  void (*run)(struct querier_task *t);
  struct querier_task *next;
  uint64_t queued_ns; /* set by querier_task_submit() */
};
void querier_task_submit(struct querier *q, struct querier_task *t);

#endif
