/*
 * run.c - the compactor on the runtime (compact_run): the HTTP server
 * (/metrics, probes, the Block Viewer) and a service that runs
 * compact_iterate() (or the caller's iteration, e.g. downsampling alone)
 * on the worker pool, once, or every --wait-interval with --wait; with
 * --wait, compact_cleanup() also runs every --compact.cleanup-interval
 * while no iteration does (and while halted: deleting marked blocks is
 * safe), and compact_progress() every --compact.progress-interval.
 *
 * Errors follow Thanos: with --wait a halt error (overlaps, a corrupt
 * block) sets thanos_compact_halted and stops iterating while the process
 * keeps serving its metrics for an operator to see; any other failure is
 * retried at the next interval. Without --wait the process exits 1 on any
 * failure (a halted compactor has nothing more to do in a cron job).
 */
#include <stdlib.h>

#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/error.h"
#include "thanosc/http.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/metrics.h"
#include "thanosc/ui.h"

struct crun {
  const struct compact_opts *o;
  const struct compact_run_opts *r;
  struct objstore *bkt;
  struct runtime *rt;
  struct service svc;
  uv_timer_t timer, clean_timer, progress_timer;
  struct tc_work work;
  compact_iterate_fn *side; /* the cleanup or the progress, between runs */
  const char *side_what;    /* which, for the log */
  int busy, stopping, halted, rc, closing;
  service_stopped_fn *done;
};

static void maybe_stopped(struct crun *c) {
  if (!c->stopping || c->busy || c->closing || !c->done)
    return;
  service_stopped_fn *done = c->done;
  c->done = NULL;
  done(&c->svc);
}

static void iterate_work(struct tc_work *w) {
  struct crun *c = w->data;
  compact_iterate_fn *fn = c->r->iterate ? c->r->iterate : compact_iterate;
  c->rc = fn(c->bkt, c->o);
  if (c->rc)
    LOG_ERROR("iteration failed", "service", c->svc.name, "err",
              tc_errmsg(c->rc));
}

static void tick(uv_timer_t *t);

static void side_work(struct tc_work *w) {
  struct crun *c = w->data;
  int rc = c->side(c->bkt, c->o);
  if (rc)
    LOG_WARN("background step failed", "step", c->side_what, "err",
             tc_errmsg(rc));
}

static void side_done(struct tc_work *w, int status) {
  struct crun *c = w->data;
  (void)status;
  c->busy = 0;
  maybe_stopped(c);
}

/* Runs fn on the pool unless something runs already (an iteration cleans
 * up at its end anyway, and the progress waits for the next tick). */
static void side_tick(uv_timer_t *t, compact_iterate_fn *fn,
                      const char *what) {
  struct crun *c = t->data;
  if (c->stopping || c->busy)
    return;
  c->busy = 1;
  c->side = fn;
  c->side_what = what;
  if (tc_work_submit(c->rt->loop, &c->work, side_work, side_done, c))
    c->busy = 0;
}

static void cleanup_tick(uv_timer_t *t) {
  side_tick(t, compact_cleanup, "cleanup of marked blocks");
}
static void progress_tick(uv_timer_t *t) {
  side_tick(t, compact_progress, "progress calculation");
}

static void iterate_done(struct tc_work *w, int status) {
  struct crun *c = w->data;
  c->busy = 0;
  if (c->stopping || status) {
    maybe_stopped(c);
    return;
  }
  if (!c->r->wait) {
    runtime_shutdown(c->rt, c->rc ? 1 : 0);
    return;
  }
  if (c->rc == COMPACT_HALT) {
    LOG_ERROR("critical error detected; halting");
    compact_set_halted(true);
    c->halted = 1;
    return;
  }
  uv_timer_start(&c->timer, tick, (uint64_t)c->r->wait_interval_ms, 0);
}

static void tick(uv_timer_t *t) {
  struct crun *c = t->data;
  if (c->stopping || c->halted)
    return;
  if (c->busy) { /* a cleanup: the iteration comes right after it */
    uv_timer_start(&c->timer, tick, 200, 0);
    return;
  }
  c->busy = 1;
  if (tc_work_submit(c->rt->loop, &c->work, iterate_work, iterate_done, c)) {
    c->busy = 0;
    LOG_ERROR("cannot start a compaction iteration");
    runtime_shutdown(c->rt, 1);
  }
}

static int crun_start(struct service *svc, struct runtime *rt) {
  struct crun *c = svc->data;
  c->rt = rt;
  uv_timer_init(rt->loop, &c->timer);
  c->timer.data = c;
  uv_timer_init(rt->loop, &c->clean_timer);
  c->clean_timer.data = c;
  uv_timer_init(rt->loop, &c->progress_timer);
  c->progress_timer.data = c;
  uv_timer_start(&c->timer, tick, 0, 0);
  uint64_t every = (uint64_t)c->r->cleanup_interval_ms;
  if (c->r->wait && every)
    uv_timer_start(&c->clean_timer, cleanup_tick, every, every);
  every = (uint64_t)c->r->progress_interval_ms;
  if (c->r->wait && every)
    uv_timer_start(&c->progress_timer, progress_tick, every, every);
  return 0;
}

/* The timers are closed before the service reports stopped. */
static void timer_closed(uv_handle_t *h) {
  struct crun *c = h->data;
  c->closing--;
  maybe_stopped(c);
}

static void crun_stop(struct service *svc, service_stopped_fn *done) {
  struct crun *c = svc->data;
  c->stopping = 1;
  if (c->busy)
    tc_work_cancel(&c->work);
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->clean_timer);
  uv_timer_stop(&c->progress_timer);
  c->done = done;
  c->closing = 3;
  uv_close((uv_handle_t *)&c->timer, timer_closed);
  uv_close((uv_handle_t *)&c->clean_timer, timer_closed);
  uv_close((uv_handle_t *)&c->progress_timer, timer_closed);
}

int compact_run(struct objstore *bkt, const struct compact_opts *o,
                const struct compact_run_opts *r) {
  struct runtime rt;
  struct http_server *http = NULL;
  struct crun c = {.o = o, .r = r, .bkt = bkt};
  int rc = runtime_init(&rt);
  if (rc < 0) {
    LOG_ERROR("runtime", "err", tc_errmsg(rc));
    return 1;
  }
  metrics_register_process();
  compact_metrics_register();
  const char *name = r->name ? r->name : "compact";
  c.svc = (struct service){.name = name,
                           .start = crun_start,
                           .stop = crun_stop,
                           .grace_ms = r->http_grace_ms,
                           .data = &c};
  rc = http_server_new(rt.loop,
                       &(struct http_server_opts){.address = r->http_address,
                                                  .grace_ms = r->http_grace_ms,
                                                  .rt = &rt},
                       &http);
  if (!rc)
    rc = http_server_add_builtin_routes(http);
  if (!rc && o->blocks)
    rc = ui_blocks_register_routes(http, r->web_prefix, o->blocks,
                                   r->web_home ? r->web_home : "loaded");
  int code = 1;
  if (rc < 0) {
    LOG_ERROR("http server", "err", tc_errmsg(rc));
  } else {
    runtime_set_healthy(&rt, 1);
    runtime_set_ready(&rt, 1);
    runtime_add(&rt, http_server_service(http));
    runtime_add(&rt, &c.svc);
    LOG_INFO("starting node", "service", name);
    code = runtime_run(&rt);
    if (code == 0)
      LOG_INFO("exiting");
  }
  runtime_release(&rt);
  http_server_free(http);
  return code;
}
