/*
 * internal.h - what the files of src/querier share: the querier object,
 * one endpoint of the endpoint set, and a fan-out of StoreAPI calls.
 */
#ifndef THANOSC_QUERIER_INTERNAL_H
#define THANOSC_QUERIER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "thanosc/buf.h"
#include "thanosc/grpc.h"
#include "thanosc/labels.h"
#include "thanosc/querier.h"
#include "thanosc/query_merge.h"
#include "storepb_rpc.pb-c.h"

/* One endpoint (loop thread only). */
struct qep {
  char *addr; /* host:port */
  struct grpc_client *cl;
  unsigned src;       /* QEP_SRC_* bits that currently name it */
  int strict;         /* always queried */
  int healthy;        /* last Info succeeded */
  int have_info;      /* some Info succeeded once */
  int info_inflight;
  int legacy;         /* answered only thanos.Store/Info */
  char *component;    /* "store", "sidecar", "query", ... or NULL */
  struct labels *lsets; /* external label sets (owned) */
  size_t nlsets;
  int64_t mint, maxt;
  int supports_wrl; /* without_replica_labels */
  int64_t last_check_ns;
  char *last_error;
  uint64_t unhealthy_since_ms; /* 0 while healthy */
  struct qep *next;
};

enum {
  QEP_SRC_FLAG = 1 << 0,
  QEP_SRC_DNS = 1 << 1,
  QEP_SRC_FILE = 1 << 2,
};

/* One name to resolve (dns+ / dnssrv+) or a static address. */
struct qspec {
  char *name; /* as given */
  int kind;   /* 0 static, 1 dns+, 2 dnssrv+ */
  int strict;
  unsigned src;
};

struct querier {
  uv_loop_t *loop;
  struct querier_config cfg;
  struct qep *eps;
  struct qspec *specs; /* flags and SD file */
  size_t nspecs;
  size_t nflag_specs;
  uv_timer_t info_timer, dns_timer, sd_timer;
  int stopping;
  int open_handles; /* handles and DNS lookups that stop waits for */
  struct dns_ctx *dns; /* lookups in flight */
  void (*stopped)(void *);
  void *stopped_data;
  char *sd_last; /* last SD file contents */

  /* loop mailbox */
  uv_async_t async;
  pthread_mutex_t mu;
  struct querier_post *posts, **posts_tail;
  int closed; /* under mu: no more posts */

  /* evaluation threads */
  pthread_t *threads;
  size_t nthreads;
  pthread_mutex_t tmu;
  pthread_cond_t tcv;
  struct querier_task *tasks, **tasks_tail;
  int tstop;
  atomic_int running; /* tasks in flight (queued or running) */

  struct grpc_method *methods;
  struct labels selector_labels;
};

/* ---- endpoints.c ---- */
int qep_set_init(struct querier *q);
void qep_set_stop(struct querier *q);
/* close callback of the handles counted in open_handles (data = q) */
void querier_handle_closed(uv_handle_t *h);
/* One of open_handles is gone; the last calls the stop callback. */
void querier_handle_gone(struct querier *q);
/* Whether ep should get a request over [mint, maxt] with these matchers
 * (external labels) and storeMatch[] selectors (on __address__). */
int qep_matches(const struct qep *ep, int64_t mint, int64_t maxt,
                const struct matcher *ms, size_t nms,
                const struct matchers *store_ms, size_t nstore_ms);
const char *qep_component(const struct qep *ep);

/* ---- fanout.c ---- */

/* One endpoint's buffered answer. */
struct qfan_stream {
  struct qseries_array_set set;
  struct qseries *series;
  size_t n, cap;
  void **msgs; /* unpacked responses kept alive for borrowed strings */
  size_t nmsgs, msgcap;
  char **strs; /* LabelNames/LabelValues answers (borrowed from msgs) */
  size_t nstrs, strcap;
  struct querier_fan *fan;
  char *addr;
  char *lsets_str; /* for warnings */
  struct grpc_client_call *call;
  uv_timer_t *timer; /* --store.response-timeout */
  int done;
  unsigned char stripped; /* sent without_replica_labels, store honours it */
};

enum qfan_kind { QFAN_SERIES, QFAN_LABEL_NAMES, QFAN_LABEL_VALUES };

struct querier_fan {
  struct querier_post post;
  struct querier *q;
  enum qfan_kind kind;
  /* request (borrowed until done) */
  int64_t mint, maxt;
  const struct matcher *ms;
  size_t nms;
  const struct matchers *store_ms;
  size_t nstore_ms;
  const struct qstrs *without_replica; /* NULL = none */
  int skip_chunks;
  int partial_response;
  int64_t step_ms, range_ms, max_resolution_ms;
  const char *func;
  const char *label_name; /* LabelValues */
  int64_t limit;
  int64_t timeout_ms;

  /* results */
  struct qfan_stream *streams;
  size_t nstreams;
  size_t pending;
  char **warnings;
  size_t nwarnings;
  int err; /* 0 or TC_E* */
  int deadline_hit; /* an endpoint answered DeadlineExceeded */
  char *errmsg;

  /* completion: on_done on the loop, or a waiting thread */
  void (*on_done)(struct querier_fan *f);
  void *data;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int finished;
};

/* Fills the request fields, then: */
void qfan_init(struct querier_fan *f, struct querier *q, enum qfan_kind kind);
/* From the loop thread: starts the calls; on_done runs on the loop. */
void qfan_start(struct querier_fan *f);
/* From any other thread: posts, waits until every call has ended. */
void qfan_run_wait(struct querier_fan *f);
void qfan_release(struct querier_fan *f);
/* The sets of the streams, for qmerge_new(). Owned array. */
struct qseries_set **qfan_sets(struct querier_fan *f);
/* Per stream: 1 when it comes without the replica labels (owned array). */
unsigned char *qfan_stripped(struct querier_fan *f);

/* ---- api.c ---- */
int qapi_routes(struct querier *q, struct http_server *srv);

/* ---- storesrv.c ---- */
struct grpc_method *qstore_methods(struct querier *q);

#endif
