/*
 * storesvc.h - the store gateway's runtime pieces (private to src/store
 * and src/cmd/store.c): the gRPC method table over a bucket store and the
 * sync service that keeps it up to date.
 */
#ifndef THANOSC_STORE_STORESVC_H
#define THANOSC_STORE_STORESVC_H

#include <pthread.h>
#include <stdatomic.h>

#include "thanosc/grpc.h"
#include "thanosc/loop.h"
#include "thanosc/store.h"

struct series_job;

struct store_service {
  struct bucket_store *bs;     /* borrowed */
  int64_t interval_ms;         /* --sync-block-duration */
  int max_concurrency;         /* --store.grpc.series-max-concurrency */
  atomic_int inflight;         /* Series calls running */
  /* Series calls waiting for a place, oldest first (loop thread only) */
  struct series_job *gate_head, *gate_tail;
  struct grpc_method methods[6];
  struct service sync_svc;     /* register with runtime_add() */
  struct runtime *rt;          /* borrowed, set at start */
  uv_async_t synced;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stopping, started, ready;
  service_stopped_fn *stop_done;
  /* the gRPC server as a runtime service */
  struct service grpc_svc;     /* register with runtime_add() */
  struct grpc_server_opts grpc_opts; /* strings borrowed */
  struct grpc_server *grpc;
  service_stopped_fn *grpc_done;
};

/* bs is borrowed and must outlive the service. */
void store_service_init(struct store_service *svc, struct bucket_store *bs,
                        int64_t interval_ms, int max_concurrency);
void store_service_release(struct store_service *svc);
/* Sets up svc->grpc_svc to serve the store's methods with o (copied;
 * its strings borrowed). */
void store_service_grpc(struct store_service *svc,
                        const struct grpc_server_opts *o);
/* The method table (stored in svc) for grpc_server_new(). */
const struct grpc_method *store_service_methods(struct store_service *svc);

#endif
