/*
 * run.c - the sidecar's services on the runtime (sidecar.h sidecar_run):
 * the HTTP server (/metrics, probes), the gRPC StoreAPI, a refresher that
 * asks Prometheus for its external labels and lowest timestamp (every 2 s
 * until it first answers, then every --prometheus.get_config_interval),
 * and the shipper (every 30 s) when a bucket is configured.
 *
 * Readiness follows Thanos: ready once Prometheus answered with non-empty
 * external labels, not ready again while a refresh fails. Empty external
 * labels end the start-up with an explanation; so does no answer within
 * --prometheus.ready_timeout. With uploads on, the block durations of
 * Prometheus are checked first (min must equal max). All HTTP calls and
 * uploads run on the worker pool.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/grpc.h"
#include "thanosc/http.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/metrics.h"
#include "thanosc/objstore.h"
#include "thanosc/shipper.h"
#include "thanosc/sidecar.h"

#define RETRY_MS 2000
#define TWO_HOURS_MS (2 * 3600 * 1000)

struct run {
  const struct sidecar_opts *o;
  struct runtime *rt;
  struct sidecar sc;
  struct objstore *bkt;
  struct metric_child *up, *heartbeat;

  /* refresher */
  struct service svc;
  uv_timer_t timer;
  struct tc_work work;
  int busy, stopping, answered, flags_checked, flags_busy;
  uint64_t started_ms;
  struct labels got;
  int64_t lowest;
  int rc;
  char *err;
  int64_t min_block, max_block;
  service_stopped_fn *done;

  /* shipper */
  uv_timer_t ship_timer;
  struct tc_work ship_work;
  int ship_busy, ship_started;
  struct labels ship_ext;
  int ship_rc;

  /* grpc */
  struct service grpc_svc;
  struct grpc_server *srv;
  struct grpc_server_opts gopts;
  service_stopped_fn *grpc_done;
};

static void maybe_stopped(struct run *r) {
  if (!r->stopping || r->busy || r->ship_busy || r->flags_busy || !r->done)
    return;
  service_stopped_fn *done = r->done;
  r->done = NULL;
  done(&r->svc);
}

/* ---------------------------------------------------------- shipper */

static void ship_schedule(struct run *r, uint64_t ms);

static void ship_work(struct tc_work *w) {
  struct run *r = w->data;
  struct shipper s = {.dir = r->o->tsdb_path, .bkt = r->bkt,
                      .source = "sidecar",
                      .upload_compacted = r->o->upload_compacted,
                      .meta_file = r->o->shipper_meta_file,
                      .hash_func = r->o->hash_func};
  struct shipper_stats st;
  r->ship_rc = shipper_sync(&s, &r->ship_ext, &st);
  if (r->ship_rc)
    LOG_WARN("shipper sync failed; retrying next round", "err",
             tc_errmsg(r->ship_rc));
}

static void ship_done(struct tc_work *w, int status) {
  struct run *r = w->data;
  r->ship_busy = 0;
  labels_release(&r->ship_ext);
  if (r->stopping) {
    maybe_stopped(r);
    return;
  }
  ship_schedule(r, (uint64_t)r->o->shipper_interval_ms);
}

static void ship_tick(uv_timer_t *t) {
  struct run *r = t->data;
  if (r->stopping || r->ship_busy)
    return;
  if (sidecar_ext_labels(&r->sc, &r->ship_ext)) {
    labels_release(&r->ship_ext);
    ship_schedule(r, RETRY_MS);
    return;
  }
  r->ship_busy = 1;
  if (tc_work_submit(r->rt->loop, &r->ship_work, ship_work, ship_done, r)) {
    r->ship_busy = 0;
    labels_release(&r->ship_ext);
    ship_schedule(r, RETRY_MS);
  }
}

static void ship_schedule(struct run *r, uint64_t ms) {
  uv_timer_start(&r->ship_timer, ship_tick, ms, 0);
}

/* ------------------------------------------------- Prometheus's flags */

static void flags_work(struct tc_work *w) {
  struct run *r = w->data;
  r->rc = prom_block_durations(r->sc.prom_url, r->o->config_timeout_ms,
                               &r->min_block, &r->max_block);
  free(r->err);
  r->err = r->rc ? xstrdup(tc_errmsg(r->rc)) : NULL;
}

static void refresh_schedule(struct run *r, uint64_t ms);

static void flags_done(struct tc_work *w, int status) {
  struct run *r = w->data;
  r->flags_busy = 0;
  if (r->stopping) {
    maybe_stopped(r);
    return;
  }
  if (r->rc == TC_ENOTFOUND) {
    LOG_WARN("Prometheus has no flags endpoint; not checking block "
             "durations");
  } else if (r->rc) {
    LOG_WARN("failed to check Prometheus flags; retrying", "err", r->err);
    refresh_schedule(r, RETRY_MS);
    return;
  } else if (r->min_block != r->max_block) {
    char a[32], b[32];
    format_duration_ms(r->max_block, a, sizeof a);
    format_duration_ms(r->min_block, b, sizeof b);
    LOG_ERROR("cannot upload blocks: Prometheus compacts them locally "
              "(storage.tsdb.min-block-duration != "
              "storage.tsdb.max-block-duration); compaction must be "
              "disabled by setting both to the same value, e.g. 2h",
              "max_block_duration", a, "min_block_duration", b);
    runtime_shutdown(r->rt, 1);
    return;
  } else if (r->min_block != TWO_HOURS_MS) {
    char a[32];
    format_duration_ms(r->min_block, a, sizeof a);
    LOG_WARN("found that TSDB block time is not 2h. Only 2h block time is "
             "recommended.", "block-time", a);
  }
  r->flags_checked = 1;
  if (!r->ship_started) {
    r->ship_started = 1;
    LOG_INFO("starting shipper", "dir", r->o->tsdb_path);
    ship_schedule(r, 0);
  }
  refresh_schedule(r, (uint64_t)r->o->config_interval_ms);
}

/* ------------------------------------------------------ the refresher */

static void refresh_work(struct tc_work *w) {
  struct run *r = w->data;
  labels_release(&r->got);
  r->rc = prom_external_labels(r->sc.prom_url, r->o->config_timeout_ms,
                               &r->got);
  free(r->err);
  r->err = r->rc ? xstrdup(tc_errmsg(r->rc)) : NULL;
  r->lowest = INT64_MIN;
  if (r->rc == 0) {
    int64_t t;
    int rc = prom_lowest_timestamp(r->sc.prom_url, r->o->config_timeout_ms,
                                   &t);
    if (rc == 0 && t != INT64_MAX)
      r->lowest = t;
  }
}

static void refresh_done(struct tc_work *w, int status) {
  struct run *r = w->data;
  r->busy = 0;
  if (r->stopping) {
    maybe_stopped(r);
    return;
  }
  uint64_t now = runtime_now_ms(r->rt);
  if (status || r->rc) {
    atomic_store(&r->sc.prom_up, 0);
    metric_set(r->up, 0);
    runtime_set_ready(r->rt, 0);
    if (!r->answered) {
      if (now - r->started_ms >= (uint64_t)r->o->ready_timeout_ms) {
        char d[32];
        format_duration_ms(r->o->ready_timeout_ms, d, sizeof d);
        LOG_ERROR("Prometheus did not become ready in time "
                  "(--prometheus.ready_timeout)", "timeout", d, "err",
                  r->err ? r->err : "canceled");
        runtime_shutdown(r->rt, 1);
        return;
      }
      LOG_WARN("failed to fetch initial external labels. Is Prometheus "
               "running? Retrying", "err", r->err ? r->err : "canceled");
      refresh_schedule(r, RETRY_MS);
      return;
    }
    LOG_WARN("heartbeat failed", "err", r->err ? r->err : "canceled");
    refresh_schedule(r, (uint64_t)r->o->config_interval_ms);
    return;
  }
  if (r->got.n == 0) {
    LOG_ERROR("no external labels configured on Prometheus server, uniquely "
              "identifying external labels must be configured (global."
              "external_labels in prometheus.yml): without them queriers "
              "cannot tell this Prometheus's data from other clusters' and "
              "replicas' and would return doubled results; see "
              "https://thanos.io/tip/thanos/storage.md#external-labels");
    runtime_shutdown(r->rt, 1);
    return;
  }
  struct tc_buf lb = TC_BUF_INIT;
  labels_format(&r->got, &lb);
  sidecar_update(&r->sc, &r->got, r->lowest);
  atomic_store(&r->sc.prom_up, 1);
  metric_set(r->up, 1);
  metric_set_now(r->heartbeat);
  if (!r->answered) {
    r->answered = 1;
    LOG_INFO("successfully loaded prometheus external labels",
             "external_labels", lb.data ? lb.data : "{}");
  }
  if (!runtime_is_ready(r->rt)) {
    runtime_set_ready(r->rt, 1);
    LOG_INFO("changing probe status", "status", "ready");
  }
  tc_buf_release(&lb);
  if (r->bkt && !r->flags_checked) {
    r->flags_busy = 1;
    if (tc_work_submit(r->rt->loop, &r->work, flags_work, flags_done, r)) {
      r->flags_busy = 0;
      refresh_schedule(r, RETRY_MS);
    }
    return;
  }
  refresh_schedule(r, (uint64_t)r->o->config_interval_ms);
}

static void refresh_tick(uv_timer_t *t) {
  struct run *r = t->data;
  if (r->stopping || r->busy || r->flags_busy)
    return;
  r->busy = 1;
  if (tc_work_submit(r->rt->loop, &r->work, refresh_work, refresh_done, r)) {
    r->busy = 0;
    refresh_schedule(r, RETRY_MS);
  }
}

static void refresh_schedule(struct run *r, uint64_t ms) {
  uv_timer_start(&r->timer, refresh_tick, ms, 0);
}

static int prom_start(struct service *svc, struct runtime *rt) {
  struct run *r = svc->data;
  r->rt = rt;
  uv_timer_init(rt->loop, &r->timer);
  r->timer.data = r;
  uv_timer_init(rt->loop, &r->ship_timer);
  r->ship_timer.data = r;
  r->started_ms = runtime_now_ms(rt);
  refresh_schedule(r, 0);
  return 0;
}

static void timer_closed(uv_handle_t *h) {
  struct run *r = h->data;
  maybe_stopped(r);
}

static void prom_stop(struct service *svc, service_stopped_fn *done) {
  struct run *r = svc->data;
  r->stopping = 1;
  runtime_set_ready(r->rt, 0);
  if (r->busy || r->flags_busy)
    tc_work_cancel(&r->work);
  if (r->ship_busy)
    tc_work_cancel(&r->ship_work);
  uv_timer_stop(&r->timer);
  uv_timer_stop(&r->ship_timer);
  uv_close((uv_handle_t *)&r->ship_timer, NULL);
  r->done = done;
  uv_close((uv_handle_t *)&r->timer, timer_closed);
}

/* ---------------------------------------------------------------- gRPC */

static int grpc_start(struct service *svc, struct runtime *rt) {
  struct run *r = svc->data;
  int rc = grpc_server_new(rt->loop, sidecar_store_methods(&r->sc), &r->gopts,
                           &r->srv);
  if (rc == 0)
    LOG_INFO("listening for serving gRPC", "service", "gRPC/server",
             "address", r->gopts.address);
  return rc;
}

static void grpc_stopped(struct grpc_server *s, void *data) {
  struct run *r = data;
  r->grpc_done(&r->grpc_svc);
}

static void grpc_stop(struct service *svc, service_stopped_fn *done) {
  struct run *r = svc->data;
  r->grpc_done = done;
  grpc_server_stop(r->srv, grpc_stopped, r);
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

int sidecar_run(const struct sidecar_opts *o) {
  struct runtime rt;
  struct run *r = xcalloc(1, sizeof *r);
  struct http_server *http = NULL;
  int code = 1, rc;
  if ((rc = runtime_init(&rt)) < 0) {
    LOG_ERROR("runtime", "err", tc_errmsg(rc));
    free(r);
    return 1;
  }
  metrics_register_process();
  shipper_metrics_register();
  /* Series buffers of a few MiB come and go per request: keep them in the
   * heap instead of mmap/munmap (and zeroed pages) every time. */
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  r->o = o;
  r->rt = &rt;
  sidecar_init(&r->sc, o->prom_url);
  r->sc.prom_timeout_ms = (long)o->config_timeout_ms;
  r->sc.flag_min_time = o->min_time;
  r->sc.min_time = o->min_time;
  r->sc.limit_series = o->limit_series;
  r->sc.limit_samples = o->limit_samples;
  r->sc.force_samples = o->force_samples;
  r->up = metric_child(metric_gauge("thanos_sidecar_prometheus_up",
                                    "Boolean indicator whether the sidecar "
                                    "can reach its Prometheus peer.", NULL));
  r->heartbeat = metric_child(metric_gauge(
      "thanos_sidecar_last_heartbeat_success_time_seconds",
      "Timestamp of the last successful heartbeat in seconds.", NULL));
  labels_init(&r->got);
  labels_init(&r->ship_ext);
  if (o->objstore_yaml) {
    if ((rc = objstore_open(o->objstore_yaml, &r->bkt))) {
      LOG_ERROR("opening the bucket failed", "err", tc_errmsg(rc));
      goto out;
    }
  } else {
    LOG_INFO("no supported bucket was configured, uploads will be disabled");
  }
  rc = http_server_new(rt.loop,
                       &(struct http_server_opts){.address = o->http_address,
                                                  .grace_ms = o->http_grace_ms,
                                                  .rt = &rt},
                       &http);
  if (rc == 0)
    rc = http_server_add_builtin_routes(http);
  if (rc) {
    LOG_ERROR("http server", "err", tc_errmsg(rc));
    goto out;
  }
  r->gopts = (struct grpc_server_opts){
      .address = o->grpc_address, .tls_cert = nonempty(o->grpc_tls_cert),
      .tls_key = nonempty(o->grpc_tls_key),
      .tls_client_ca = nonempty(o->grpc_tls_client_ca),
      .grace_ms = o->grpc_grace_ms};
  r->grpc_svc = (struct service){.name = "grpc", .start = grpc_start,
                                 .stop = grpc_stop, .data = r,
                                 .grace_ms = o->grpc_grace_ms};
  r->svc = (struct service){.name = "prometheus", .start = prom_start,
                            .stop = prom_stop, .data = r};
  runtime_add(&rt, http_server_service(http));
  runtime_add(&rt, &r->grpc_svc);
  runtime_add(&rt, &r->svc);
  LOG_INFO("starting sidecar", "prometheus", r->sc.prom_url);
  code = runtime_run(&rt);
  if (code == 0)
    LOG_INFO("exiting");
out:
  runtime_release(&rt);
  http_server_free(http);
  if (r->srv)
    grpc_server_free(r->srv);
  objstore_close(r->bkt);
  labels_release(&r->got);
  labels_release(&r->ship_ext);
  free(r->err);
  sidecar_release(&r->sc);
  free(r);
  return code;
}
