/*
 * loop.h - the process runtime: one libuv loop, services that start and
 * stop together, signals, readiness, and a worker pool for CPU work.
 *
 * A role (src/cmd/<role>.c) builds one struct runtime, registers its actors
 * (HTTP server, gRPC server, sync loops) as services, and calls
 * runtime_run(). This is Thanos's run.Group on an event loop:
 *
 *   struct runtime rt;
 *   runtime_init(&rt);
 *   runtime_add(&rt, &http_service);      started first, stopped last
 *   runtime_add(&rt, &grpc_service);
 *   int code = runtime_run(&rt);          returns after everything stopped
 *   runtime_release(&rt);
 *
 * Services start in registration order. SIGINT or SIGTERM (or a call to
 * runtime_shutdown(), e.g. from a service that failed) stops them in reverse
 * order: each service's stop() is called when the one registered after it
 * has reported stopped. A second signal exits at once with code 1, and so
 * does a stop that outlives the sum of the services' grace periods plus
 * 10 s (a service that never reports must not hang the process).
 *
 * Everything here runs on the loop thread except tc_work's fn, which runs on
 * a worker thread and must not touch the loop or any handle.
 */
#ifndef THANOSC_LOOP_H
#define THANOSC_LOOP_H

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

struct runtime;
struct service;

/* A service reports that it has fully stopped (all handles closed). */
typedef void service_stopped_fn(struct service *svc);

/*
 * Starts the service on rt->loop. Returns 0, or a negative code with a
 * tc_error() message: the runtime then stops what already started and
 * runtime_run() returns 1.
 */
typedef int service_start_fn(struct service *svc, struct runtime *rt);

/*
 * Begins a graceful stop: finish in-flight work within svc->grace_ms, then
 * close every handle and call done(svc) exactly once, on the loop thread
 * (it may be called from within stop itself).
 */
typedef void service_stop_fn(struct service *svc, service_stopped_fn *done);

struct service {
  const char *name; /* for logs: "http", "grpc", "sync" */
  service_start_fn *start;
  service_stop_fn *stop;
  int64_t grace_ms; /* informational; the service enforces it */
  void *data;       /* the service's own context */
  /* private to the runtime */
  int started_;
  struct runtime *rt_;
};

struct runtime {
  uv_loop_t *loop;       /* borrowed: uv_default_loop() */
  struct service **svcs; /* borrowed services, in start order */
  size_t nsvcs, cap;
  uv_signal_t sigint, sigterm;
  uv_timer_t deadline;    /* last resort: exit if a stop never reports */
  int64_t stop_margin_ms; /* added to the grace periods; 10 s */
  atomic_int ready;       /* /-/ready answers 200 when set */
  atomic_int healthy;     /* /-/healthy answers 200 when set */
  int stopping;           /* shutdown begun */
  int exit_code;
  size_t next_stop; /* number of services not yet stopped */
  int signals;      /* signals received */
};

/* Binds to the default loop; sets the worker pool size; ignores SIGPIPE. */
int runtime_init(struct runtime *rt);
/* Closes the signal handles and the loop. Call after runtime_run(). */
void runtime_release(struct runtime *rt);
/* svc is borrowed and must outlive runtime_run(). */
void runtime_add(struct runtime *rt, struct service *svc);
/*
 * Starts every service, runs the loop until all services stopped and the
 * loop has no more active handles, and returns the exit code: 0 after a
 * signal or runtime_shutdown(rt, 0), else the code given to shutdown.
 */
int runtime_run(struct runtime *rt);
/* Begins stopping every started service in reverse order. Idempotent; the
 * first call's code wins. */
void runtime_shutdown(struct runtime *rt, int code);

static inline void runtime_set_ready(struct runtime *rt, int ready) {
  atomic_store(&rt->ready, ready);
}
static inline int runtime_is_ready(struct runtime *rt) {
  return atomic_load(&rt->ready);
}
static inline void runtime_set_healthy(struct runtime *rt, int healthy) {
  atomic_store(&rt->healthy, healthy);
}
static inline int runtime_is_healthy(struct runtime *rt) {
  return atomic_load(&rt->healthy);
}

/* Milliseconds of a monotonic clock (the loop's, refreshed each tick). */
uint64_t runtime_now_ms(struct runtime *rt);

/*
 * Worker pool: a thin wrapper over uv_queue_work (libuv's thread pool,
 * sized by runtime_init() to the number of CPUs unless UV_THREADPOOL_SIZE
 * is set).
 *
 *   static void eval(struct tc_work *w) { ...CPU work on w->data... }
 *   static void evaluated(struct tc_work *w, int status) { ...on loop... }
 *   tc_work_submit(loop, &job->work, eval, evaluated, job);
 *
 * The caller owns struct tc_work (usually embedded in its job) and keeps it
 * alive until done runs. If tc_work_submit() returns < 0, done never runs;
 * otherwise done runs exactly once on the loop thread, with status 0 after
 * fn ran, or TC_ECANCELED if the work was cancelled before it started.
 */
struct tc_work;
typedef void tc_work_fn(struct tc_work *w);
typedef void tc_work_done_fn(struct tc_work *w, int status);

struct tc_work {
  uv_work_t req;
  tc_work_fn *fn;
  tc_work_done_fn *done;
  void *data;
  atomic_int canceled; /* set by tc_work_cancel(); fn may poll it */
};

int tc_work_submit(uv_loop_t *loop, struct tc_work *w, tc_work_fn *fn,
                   tc_work_done_fn *done, void *data);
/*
 * Asks the work to stop: if it has not started, done gets TC_ECANCELED and
 * fn never runs; if it is running, tc_work_canceled() turns true so that a
 * long fn can return early (done then gets 0 and should check the flag).
 */
void tc_work_cancel(struct tc_work *w);
static inline int tc_work_canceled(struct tc_work *w) {
  return atomic_load(&w->canceled);
}

#endif
