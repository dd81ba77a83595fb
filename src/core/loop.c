/*
 * loop.c - the process runtime (see loop.h): the one uv loop of a role, its
 * services started in order and stopped in reverse order on SIGINT/SIGTERM,
 * the readiness and health flags behind /-/ready and /-/healthy, and the
 * worker-pool wrapper over uv_queue_work through which CPU work leaves the
 * loop and its result comes back to it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"

static void stop_next(struct runtime *rt);

static void on_service_stopped(struct service *svc) {
  LOG_INFO("service stopped", "service", svc->name);
  svc->started_ = 0;
  stop_next(svc->rt_);
}

static void close_signals(struct runtime *rt) {
  if (!uv_is_closing((uv_handle_t *)&rt->sigint))
    uv_close((uv_handle_t *)&rt->sigint, NULL);
  if (!uv_is_closing((uv_handle_t *)&rt->sigterm))
    uv_close((uv_handle_t *)&rt->sigterm, NULL);
  if (!uv_is_closing((uv_handle_t *)&rt->deadline))
    uv_close((uv_handle_t *)&rt->deadline, NULL);
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  LOG_ERROR("services did not stop within their grace periods, exiting");
  _exit(1);
}

static void stop_next(struct runtime *rt) {
  while (rt->next_stop > 0) {
    struct service *svc = rt->svcs[--rt->next_stop];
    if (!svc->started_)
      continue;
    LOG_INFO("stopping service", "service", svc->name);
    svc->stop(svc, on_service_stopped);
    return;
  }
  close_signals(rt);
}

void runtime_shutdown(struct runtime *rt, int code) {
  if (rt->stopping)
    return;
  rt->stopping = 1;
  rt->exit_code = code;
  runtime_set_ready(rt, 0);
  uint64_t ms = rt->stop_margin_ms > 0 ? (uint64_t)rt->stop_margin_ms : 0;
  for (size_t i = 0; i < rt->nsvcs; i++)
    ms += rt->svcs[i]->grace_ms > 0 ? (uint64_t)rt->svcs[i]->grace_ms : 0;
  uv_timer_start(&rt->deadline, on_deadline, ms, 0);
  uv_unref((uv_handle_t *)&rt->deadline);
  stop_next(rt);
}

static void on_signal(uv_signal_t *h, int signum) {
  struct runtime *rt = h->data;
  rt->signals++;
  if (rt->signals > 1) {
    LOG_WARN("second signal received, exiting now", "signal",
             signum == SIGINT ? "interrupt" : "terminated");
    _exit(1);
  }
  LOG_INFO("caught signal, exiting gracefully", "signal",
           signum == SIGINT ? "interrupt" : "terminated");
  runtime_shutdown(rt, 0);
}

static void size_thread_pool(void) {
  if (getenv("UV_THREADPOOL_SIZE"))
    return;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 4)
    n = 4; /* blocking object-storage calls share the pool */
  if (n > 128)
    n = 128;
  char v[16];
  snprintf(v, sizeof v, "%ld", n);
  setenv("UV_THREADPOOL_SIZE", v, 0);
}

int runtime_init(struct runtime *rt) {
  *rt = (struct runtime){0};
  size_thread_pool();
  signal(SIGPIPE, SIG_IGN);
  rt->loop = uv_default_loop();
  if (!rt->loop)
    return tc_error(TC_EIO, "event loop: cannot initialise");
  atomic_init(&rt->ready, 0);
  atomic_init(&rt->healthy, 0);
  rt->stop_margin_ms = 10000;
  uv_timer_init(rt->loop, &rt->deadline);
  int rc = uv_signal_init(rt->loop, &rt->sigint);
  if (rc == 0)
    rc = uv_signal_init(rt->loop, &rt->sigterm);
  if (rc < 0)
    return tc_error(rc, "signal handlers: %s", uv_strerror(rc));
  rt->sigint.data = rt->sigterm.data = rt;
  return 0;
}

void runtime_release(struct runtime *rt) {
  close_signals(rt);
  uv_run(rt->loop, UV_RUN_DEFAULT);
  uv_loop_close(rt->loop);
  free(rt->svcs);
  rt->svcs = NULL;
  rt->nsvcs = rt->cap = 0;
}

void runtime_add(struct runtime *rt, struct service *svc) {
  TC_GROW(rt->svcs, rt->cap, rt->nsvcs + 1);
  svc->started_ = 0;
  svc->rt_ = rt;
  rt->svcs[rt->nsvcs++] = svc;
}

uint64_t runtime_now_ms(struct runtime *rt) {
  return uv_now(rt->loop);
}

int runtime_run(struct runtime *rt) {
  int rc = uv_signal_start(&rt->sigint, on_signal, SIGINT);
  if (rc == 0)
    rc = uv_signal_start(&rt->sigterm, on_signal, SIGTERM);
  if (rc < 0) {
    LOG_ERROR("signal handlers", "err", uv_strerror(rc));
    return 1;
  }
  runtime_set_healthy(rt, 1);
  for (size_t i = 0; i < rt->nsvcs; i++) {
    struct service *svc = rt->svcs[i];
    rc = svc->start(svc, rt);
    if (rc < 0) {
      LOG_ERROR("service did not start", "service", svc->name, "err",
                tc_errmsg(rc));
      rt->next_stop = i;
      runtime_shutdown(rt, 1);
      break;
    }
    svc->started_ = 1;
    rt->next_stop = i + 1;
  }
  uv_run(rt->loop, UV_RUN_DEFAULT);
  return rt->exit_code;
}

/* Worker pool. */

static void work_cb(uv_work_t *req) {
  struct tc_work *w = tc_container_of(req, struct tc_work, req);
  w->fn(w);
}

static void after_work_cb(uv_work_t *req, int status) {
  struct tc_work *w = tc_container_of(req, struct tc_work, req);
  w->done(w, status == UV_ECANCELED ? TC_ECANCELED : 0);
}

int tc_work_submit(uv_loop_t *loop, struct tc_work *w, tc_work_fn *fn,
                   tc_work_done_fn *done, void *data) {
  w->fn = fn;
  w->done = done;
  w->data = data;
  atomic_init(&w->canceled, 0);
  int rc = uv_queue_work(loop, &w->req, work_cb, after_work_cb);
  if (rc < 0)
    return tc_error(rc, "worker pool: %s", uv_strerror(rc));
  return 0;
}

void tc_work_cancel(struct tc_work *w) {
  atomic_store(&w->canceled, 1);
  uv_cancel((uv_req_t *)&w->req);
}
