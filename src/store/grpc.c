/*
 * grpc.c - the store gateway's gRPC methods (thanos.Store Series,
 * LabelNames, LabelValues, legacy Info; thanos.info.Info) and its sync
 * service. Requests are decoded on the loop; all block work runs on the
 * libuv worker pool. Series produces a batch of responses at a time and
 * asks for the next batch only while the call is writable, so a slow
 * client stops the producer instead of growing a buffer. The sync runs on
 * its own thread (first sync, then every --sync-block-duration) and marks
 * the process ready after the first one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "info.pb-c.h"
#include "store/storesvc.h"
#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/log.h"

#define BATCH_BYTES (1u << 20)

/* ---- Series ---- */

struct series_job {
  struct store_service *svc;
  struct grpc_call *call;
  uv_work_t work;
  Thanos__SeriesRequest *req; /* owned until started */
  struct store_query *q;
  int rc;
  char *msg; /* owned: the worker thread's error message */
  bool done;
  int busy, cancelled;
  int waiting; /* queued at the concurrency gate */
  struct series_job *next; /* in the gate's queue */
  struct tc_buf batch;
};

static void series_queue(struct series_job *j);

static void job_free(struct series_job *j) {
  struct store_service *svc = j->svc;
  if (j->req)
    thanos__series_request__free_unpacked(j->req, NULL);
  store_query_free(j->q);
  free(j->msg);
  tc_buf_release(&j->batch);
  if (!j->waiting)
    atomic_fetch_sub(&svc->inflight, 1);
  free(j);
  /* The gate: the oldest waiting call takes the freed place. */
  struct series_job *w = svc->gate_head;
  if (w && (svc->max_concurrency <= 0 ||
            atomic_load(&svc->inflight) < svc->max_concurrency)) {
    svc->gate_head = w->next;
    if (!svc->gate_head)
      svc->gate_tail = NULL;
    w->waiting = 0;
    atomic_fetch_add(&svc->inflight, 1);
    series_queue(w);
  }
}

/* Takes j out of the gate's queue (cancelled while waiting). */
static void gate_remove(struct series_job *j) {
  struct store_service *svc = j->svc;
  struct series_job **pp = &svc->gate_head;
  struct series_job *prev = NULL;
  for (; *pp; prev = *pp, pp = &(*pp)->next) {
    if (*pp == j) {
      *pp = j->next;
      if (svc->gate_tail == j)
        svc->gate_tail = prev;
      return;
    }
  }
}

static void job_end(struct series_job *j, int code, const char *msg) {
  grpc_call_finish(j->call, code, msg ? "%s" : NULL, msg);
  job_free(j);
}

static int call_cancelled(void *call) {
  return grpc_call_cancelled(call);
}

static void series_work(uv_work_t *w) {
  struct series_job *j = w->data;
  tc_buf_reset(&j->batch);
  if (grpc_call_cancelled(j->call))
    return;
  if (!j->q) {
    j->rc = store_series_start(j->svc->bs, j->req, call_cancelled, j->call,
                               &j->q);
    thanos__series_request__free_unpacked(j->req, NULL);
    j->req = NULL;
  }
  if (!j->rc && grpc_call_cancelled(j->call))
    j->rc = tc_error(TC_ECANCELED, "context canceled");
  if (!j->rc)
    j->rc = store_series_next(j->q, &j->batch, BATCH_BYTES, &j->done);
  /* Messages are thread-local: carry it to the loop. */
  if (j->rc)
    j->msg = xstrdup(tc_errmsg(j->rc));
}

static void on_writable(struct grpc_call *c) {
  series_queue(grpc_call_data(c));
}

static void series_after(uv_work_t *w, int status) {
  (void)status;
  struct series_job *j = w->data;
  j->busy = 0;
  if (j->cancelled || grpc_call_cancelled(j->call)) {
    job_end(j, GRPC_CANCELLED, "context canceled");
    return;
  }
  if (j->rc) {
    int code = grpc_code_from_tc(j->rc);
    if (j->rc == TC_ELIMIT)
      code = GRPC_RESOURCE_EXHAUSTED;
    job_end(j, code, j->msg);
    return;
  }
  struct decbuf d = decbuf_make(j->batch.data, j->batch.len);
  while (decbuf_len(&d) > 0) {
    uint64_t n = decbuf_uvarint(&d);
    const uint8_t *p = decbuf_bytes(&d, n);
    if (d.err)
      break;
    int rc = grpc_call_send_bytes(j->call, p, n);
    if (rc == TC_ECANCELED) {
      job_end(j, GRPC_CANCELLED, "context canceled");
      return;
    }
    if (rc) {
      job_end(j, grpc_code_from_tc(rc), tc_errmsg(rc));
      return;
    }
  }
  if (j->done) {
    job_end(j, GRPC_OK, NULL);
    return;
  }
  if (grpc_call_writable(j->call))
    series_queue(j);
  else
    grpc_call_on_writable(j->call, on_writable);
}

static void series_queue(struct series_job *j) {
  j->busy = 1;
  j->work.data = j;
  uv_queue_work(grpc_call_loop(j->call), &j->work, series_work, series_after);
}

static void series_cancel(struct grpc_call *c) {
  struct series_job *j = grpc_call_data(c);
  j->cancelled = 1;
  if (j->waiting)
    gate_remove(j);
  if (!j->busy)
    job_end(j, GRPC_CANCELLED, "context canceled");
}

static void series(struct grpc_call *c, const uint8_t *req, size_t len,
                   void *data) {
  struct store_service *svc = data;
  Thanos__SeriesRequest *r =
      grpc_call_unpack(c, &thanos__series_request__descriptor, req, len);
  if (!r)
    return;
  struct series_job *j = xcalloc(1, sizeof(*j));
  j->svc = svc;
  j->call = c;
  j->req = r;
  tc_buf_init(&j->batch, 0);
  grpc_call_set_data(c, j);
  grpc_call_on_cancel(c, series_cancel);
  if (svc->max_concurrency > 0 &&
      atomic_load(&svc->inflight) >= svc->max_concurrency) {
    /* As Thanos's gate: wait for a place (or the deadline). */
    j->waiting = 1;
    if (svc->gate_tail)
      svc->gate_tail->next = j;
    else
      svc->gate_head = j;
    svc->gate_tail = j;
    return;
  }
  atomic_fetch_add(&svc->inflight, 1);
  series_queue(j);
}

/* ---- LabelNames / LabelValues ---- */

struct label_job {
  struct store_service *svc;
  struct grpc_call *call;
  uv_work_t work;
  int values;
  void *req;
  struct strlist out;
  int rc;
  char *msg; /* owned: the worker thread's error message */
};

static void label_work(uv_work_t *w) {
  struct label_job *j = w->data;
  if (j->values)
    j->rc = store_label_values(j->svc->bs, j->req, &j->out);
  else
    j->rc = store_label_names(j->svc->bs, j->req, &j->out);
  if (j->rc)
    j->msg = xstrdup(tc_errmsg(j->rc));
}

static void label_after(uv_work_t *w, int status) {
  (void)status;
  struct label_job *j = w->data;
  int rc = j->rc;
  if (!rc && !grpc_call_cancelled(j->call)) {
    if (j->values) {
      Thanos__LabelValuesResponse r = THANOS__LABEL_VALUES_RESPONSE__INIT;
      r.n_values = j->out.n;
      r.values = j->out.v;
      rc = grpc_call_send(j->call, &r.base);
    } else {
      Thanos__LabelNamesResponse r = THANOS__LABEL_NAMES_RESPONSE__INIT;
      r.n_names = j->out.n;
      r.names = j->out.v;
      rc = grpc_call_send(j->call, &r.base);
    }
  }
  if (rc)
    grpc_call_finish(j->call, grpc_code_from_tc(rc), "%s",
                     j->rc ? j->msg : tc_errmsg(rc));
  else
    grpc_call_finish(j->call, GRPC_OK, NULL);
  free(j->msg);
  if (j->values)
    thanos__label_values_request__free_unpacked(j->req, NULL);
  else
    thanos__label_names_request__free_unpacked(j->req, NULL);
  strlist_release(&j->out);
  free(j);
}

static void label_start(struct grpc_call *c, struct store_service *svc,
                        int values, void *req) {
  struct label_job *j = xcalloc(1, sizeof(*j));
  j->svc = svc;
  j->call = c;
  j->values = values;
  j->req = req;
  j->work.data = j;
  uv_queue_work(grpc_call_loop(c), &j->work, label_work, label_after);
}

static void label_names(struct grpc_call *c, const uint8_t *req, size_t len,
                        void *data) {
  Thanos__LabelNamesRequest *r =
      grpc_call_unpack(c, &thanos__label_names_request__descriptor, req, len);
  if (!r)
    return;
  label_start(c, data, 0, r);
}

static void label_values(struct grpc_call *c, const uint8_t *req, size_t len,
                         void *data) {
  Thanos__LabelValuesRequest *r =
      grpc_call_unpack(c, &thanos__label_values_request__descriptor, req, len);
  if (!r)
    return;
  if (!*r->label) {
    thanos__label_values_request__free_unpacked(r, NULL);
    grpc_call_finish(c, GRPC_INVALID_ARGUMENT,
                     "label name parameter cannot be empty");
    return;
  }
  label_start(c, data, 1, r);
}

/* ---- Info ---- */

/* Protobuf label sets over info (borrowed strings). */
struct pb_sets {
  Thanos__Label *l;
  Thanos__Label **lp;
  Thanos__ZLabelSet *s;
  Thanos__ZLabelSet **sp;
};

static void pb_sets_make(const struct store_info *in, struct pb_sets *o) {
  size_t nl = 0;
  for (size_t i = 0; i < in->nsets; i++)
    nl += in->sets[i].n;
  o->l = xcalloc(nl + 1, sizeof(*o->l));
  o->lp = xcalloc(nl + 1, sizeof(*o->lp));
  o->s = xcalloc(in->nsets + 1, sizeof(*o->s));
  o->sp = xcalloc(in->nsets + 1, sizeof(*o->sp));
  size_t k = 0;
  for (size_t i = 0; i < in->nsets; i++) {
    thanos__zlabel_set__init(&o->s[i]);
    o->s[i].labels = &o->lp[k];
    o->s[i].n_labels = in->sets[i].n;
    for (size_t j = 0; j < in->sets[i].n; j++, k++) {
      thanos__label__init(&o->l[k]);
      o->l[k].name = (char *)in->sets[i].v[j].name;
      o->l[k].value = (char *)in->sets[i].v[j].value;
      o->lp[k] = &o->l[k];
    }
    o->sp[i] = &o->s[i];
  }
}

static void pb_sets_free(struct pb_sets *o) {
  free(o->l);
  free(o->lp);
  free(o->s);
  free(o->sp);
}


/* Both Info methods: the info and its protobuf label sets. */
static void info_get(struct store_service *svc, struct store_info *in,
                     struct pb_sets *ps) {
  store_info_get(svc->bs, in);
  pb_sets_make(in, ps);
}

static void info(struct grpc_call *c, const uint8_t *req, size_t len,
                 void *data) {
  (void)req, (void)len;
  struct store_info in;
  struct pb_sets ps;
  info_get(data, &in, &ps);
  Thanos__Info__TSDBInfo *ti = xcalloc(in.ntsdbs + 1, sizeof(*ti));
  Thanos__Info__TSDBInfo **tip = xcalloc(in.ntsdbs + 1, sizeof(*tip));
  for (size_t i = 0; i < in.ntsdbs; i++) {
    thanos__info__tsdbinfo__init(&ti[i]);
    ti[i].labels = ps.sp[in.tsdbs[i].set];
    ti[i].min_time = in.tsdbs[i].min_time;
    ti[i].max_time = in.tsdbs[i].max_time;
    tip[i] = &ti[i];
  }
  Thanos__Info__StoreInfo si = THANOS__INFO__STORE_INFO__INIT;
  si.min_time = in.min_time;
  si.max_time = in.max_time;
  si.supports_sharding = 0;
  si.supports_without_replica_labels = 1;
  si.n_tsdb_infos = in.ntsdbs;
  si.tsdb_infos = tip;
  Thanos__Info__InfoResponse r = THANOS__INFO__INFO_RESPONSE__INIT;
  r.n_label_sets = in.nsets;
  r.label_sets = ps.sp;
  r.componenttype = "store";
  r.store = &si;
  grpc_call_reply(c, &r.base);
  free(ti);
  free(tip);
  pb_sets_free(&ps);
  store_info_release(&in);
}

static void legacy_info(struct grpc_call *c, const uint8_t *req, size_t len,
                        void *data) {
  (void)req, (void)len;
  struct store_info in;
  struct pb_sets ps;
  info_get(data, &in, &ps);
  Thanos__InfoResponse r = THANOS__INFO_RESPONSE__INIT;
  r.min_time = in.min_time;
  r.max_time = in.max_time;
  r.storetype = THANOS__STORE_TYPE__STORE;
  r.n_label_sets = in.nsets;
  r.label_sets = ps.sp;
  grpc_call_reply(c, &r.base);
  pb_sets_free(&ps);
  store_info_release(&in);
}

const struct grpc_method *store_service_methods(struct store_service *svc) {
  svc->methods[0] = (struct grpc_method){"/thanos.Store/Series",
                                         GRPC_SERVER_STREAM, series, svc};
  svc->methods[1] = (struct grpc_method){"/thanos.Store/LabelNames",
                                         GRPC_UNARY, label_names, svc};
  svc->methods[2] = (struct grpc_method){"/thanos.Store/LabelValues",
                                         GRPC_UNARY, label_values, svc};
  svc->methods[3] = (struct grpc_method){"/thanos.Store/Info", GRPC_UNARY,
                                         legacy_info, svc};
  svc->methods[4] = (struct grpc_method){"/thanos.info.Info/Info", GRPC_UNARY,
                                         info, svc};
  svc->methods[5] = (struct grpc_method){0};
  return svc->methods;
}

/* ---- the sync service ---- */

static void *sync_thread(void *arg) {
  struct store_service *svc = arg;
  pthread_mutex_lock(&svc->mu);
  while (!svc->stopping) {
    pthread_mutex_unlock(&svc->mu);
    int rc = bucket_store_sync(svc->bs);
    if (rc)
      LOG_WARN("syncing blocks failed", "err", tc_errmsg(rc));
    uv_async_send(&svc->synced);
    pthread_mutex_lock(&svc->mu);
    if (svc->stopping)
      break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = svc->interval_ms > 0 ? svc->interval_ms : 180000;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    while (!svc->stopping &&
           pthread_cond_timedwait(&svc->cv, &svc->mu, &ts) == 0)
      ;
  }
  pthread_mutex_unlock(&svc->mu);
  return NULL;
}

static void on_synced(uv_async_t *a) {
  struct store_service *svc = a->data;
  if (!svc->ready && atomic_load(&svc->bs->synced)) {
    svc->ready = 1;
    runtime_set_ready(svc->rt, 1);
    LOG_INFO("bucket store ready", "blocks", "synced");
    LOG_INFO("changing probe status", "status", "ready");
  }
}

static int sync_start(struct service *s, struct runtime *rt) {
  struct store_service *svc = s->data;
  svc->rt = rt;
  uv_async_init(rt->loop, &svc->synced, on_synced);
  svc->synced.data = svc;
  if (pthread_create(&svc->thread, NULL, sync_thread, svc) != 0) {
    uv_close((uv_handle_t *)&svc->synced, NULL);
    return tc_error(TC_EIO, "starting the sync thread");
  }
  svc->started = 1;
  return 0;
}

static void async_closed(uv_handle_t *h) {
  struct store_service *svc = h->data;
  svc->stop_done(&svc->sync_svc);
}

static void sync_stop(struct service *s, service_stopped_fn *done) {
  struct store_service *svc = s->data;
  runtime_set_ready(svc->rt, 0);
  pthread_mutex_lock(&svc->mu);
  svc->stopping = 1;
  pthread_cond_signal(&svc->cv);
  pthread_mutex_unlock(&svc->mu);
  if (svc->started)
    pthread_join(svc->thread, NULL);
  svc->started = 0;
  svc->stop_done = done;
  uv_close((uv_handle_t *)&svc->synced, async_closed);
}

void store_service_init(struct store_service *svc, struct bucket_store *bs,
                        int64_t interval_ms, int max_concurrency) {
  memset(svc, 0, sizeof(*svc));
  svc->bs = bs;
  svc->interval_ms = interval_ms;
  svc->max_concurrency = max_concurrency;
  atomic_init(&svc->inflight, 0);
  pthread_mutex_init(&svc->mu, NULL);
  pthread_cond_init(&svc->cv, NULL);
  svc->sync_svc = (struct service){.name = "sync", .start = sync_start,
                                   .stop = sync_stop, .data = svc};
}

void store_service_release(struct store_service *svc) {
  pthread_mutex_destroy(&svc->mu);
  pthread_cond_destroy(&svc->cv);
}

/* ---- the gRPC server as a service ---- */

static int grpc_start(struct service *s, struct runtime *rt) {
  struct store_service *svc = s->data;
  int rc = grpc_server_new(rt->loop, store_service_methods(svc),
                           &svc->grpc_opts, &svc->grpc);
  if (rc)
    return rc;
  char port[16];
  snprintf(port, sizeof port, "%d", grpc_server_port(svc->grpc));
  LOG_INFO("listening for serving gRPC", "address", svc->grpc_opts.address,
           "port", port);
  return 0;
}

static void grpc_stopped(struct grpc_server *g, void *data) {
  struct store_service *svc = data;
  grpc_server_free(g);
  svc->grpc = NULL;
  svc->grpc_done(&svc->grpc_svc);
}

static void grpc_stop(struct service *s, service_stopped_fn *done) {
  struct store_service *svc = s->data;
  if (!svc->grpc) {
    done(s);
    return;
  }
  svc->grpc_done = done;
  grpc_server_stop(svc->grpc, grpc_stopped, svc);
}

void store_service_grpc(struct store_service *svc,
                        const struct grpc_server_opts *o) {
  svc->grpc_opts = *o;
  svc->grpc_svc = (struct service){.name = "grpc", .start = grpc_start,
                                   .stop = grpc_stop, .data = svc,
                                   .grace_ms = o->grace_ms};
}
