/*
 * core.c - the querier object: creation and stop, the loop mailbox through
 * which evaluation threads hand work to the loop (uv_async + a locked
 * list), and the evaluation threads themselves.
 *
 * Evaluations block while their StoreAPI calls run on the loop, so they do
 * not use libuv's thread pool: a blocked pool would also stall the loop's
 * getaddrinfo requests that those very calls may need. The querier runs
 * --query.max-concurrent threads of its own; further queries wait in the
 * task queue, as Thanos's query gate makes them wait.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/metrics.h"

/* Thanos's query gate metrics (prefix thanos_query_concurrent_). */
static struct metric *gate_inflight, *gate_max, *gate_duration;

static void gate_metrics(int64_t max) {
  static const double buckets[] = {0.01, 0.1, 0.3, 0.6, 1,   3,   6,  9,
                                   20,   30,  60,  90,  120, 240, 360, 720};
  gate_inflight = metric_gauge("thanos_query_concurrent_gate_queries_in_flight",
                               "Number of queries that are currently in flight.",
                               NULL);
  gate_max = metric_gauge("thanos_query_concurrent_gate_queries_max",
                          "Number of maximum concurrent queries.", NULL);
  gate_duration = metric_histogram(
      "thanos_query_concurrent_gate_duration_seconds",
      "How many seconds it took for queries to wait at the gate.", NULL,
      buckets, TC_ARRAY_SIZE(buckets));
  metric_set(metric_child(gate_max), (double)max);
  metric_set(metric_child(gate_inflight), 0);
}

static void async_cb(uv_async_t *a) {
  struct querier *q = a->data;
  pthread_mutex_lock(&q->mu);
  struct querier_post *p = q->posts;
  q->posts = NULL;
  q->posts_tail = &q->posts;
  pthread_mutex_unlock(&q->mu);
  while (p) {
    struct querier_post *next = p->next;
    p->fn(p);
    p = next;
  }
}

int querier_post(struct querier *q, struct querier_post *p) {
  p->next = NULL;
  pthread_mutex_lock(&q->mu);
  if (q->closed) {
    pthread_mutex_unlock(&q->mu);
    return TC_ECANCELED;
  }
  *q->posts_tail = p;
  q->posts_tail = &p->next;
  uv_async_send(&q->async);
  pthread_mutex_unlock(&q->mu);
  return 0;
}

static void *eval_thread(void *arg) {
  struct querier *q = arg;
  for (;;) {
    pthread_mutex_lock(&q->tmu);
    while (!q->tasks && !q->tstop)
      pthread_cond_wait(&q->tcv, &q->tmu);
    struct querier_task *t = q->tasks;
    if (!t) {
      pthread_mutex_unlock(&q->tmu);
      return NULL;
    }
    q->tasks = t->next;
    if (!q->tasks)
      q->tasks_tail = &q->tasks;
    pthread_mutex_unlock(&q->tmu);
    metric_observe(metric_child(gate_duration),
                   (double)(uv_hrtime() - t->queued_ns) / 1e9);
    metric_add(metric_child(gate_inflight), 1);
    t->run(t); /* may free t */
    metric_add(metric_child(gate_inflight), -1);
  }
}

void querier_task_submit(struct querier *q, struct querier_task *t) {
  t->next = NULL;
  t->queued_ns = uv_hrtime();
  pthread_mutex_lock(&q->tmu);
  *q->tasks_tail = t;
  q->tasks_tail = &t->next;
  pthread_cond_signal(&q->tcv);
  pthread_mutex_unlock(&q->tmu);
}

int querier_new(uv_loop_t *loop, const struct querier_config *cfg,
                struct querier **out) {
  struct querier *q = xcalloc(1, sizeof(*q));
  int rc;
  q->loop = loop;
  q->cfg = *cfg;
  if (q->cfg.info_interval_ms <= 0)
    q->cfg.info_interval_ms = 5000;
  if (q->cfg.info_timeout_ms <= 0)
    q->cfg.info_timeout_ms = 5000;
  q->posts_tail = &q->posts;
  q->tasks_tail = &q->tasks;
  pthread_mutex_init(&q->mu, NULL);
  pthread_mutex_init(&q->tmu, NULL);
  pthread_cond_init(&q->tcv, NULL);
  labels_init(&q->selector_labels);
  for (size_t i = 0; i < cfg->nselector_labels; i++) {
    const char *s = cfg->selector_labels[i];
    const char *eq = strchr(s, '=');
    if (!eq) {
      rc = tc_error(TC_EINVAL, "selector-label %s: want name=value", s);
      goto fail;
    }
    char *name = xstrdup(s);
    name[eq - s] = '\0';
    labels_add(&q->selector_labels, name, eq + 1);
    free(name);
  }
  labels_sort(&q->selector_labels);
  if ((rc = qep_set_init(q)) < 0)
    goto fail;
  uv_async_init(loop, &q->async, async_cb);
  q->async.data = q;
  q->open_handles++;
  q->nthreads = cfg->max_concurrent > 0 ? (size_t)cfg->max_concurrent : 20;
  gate_metrics((int64_t)q->nthreads);
  q->threads = xcalloc(q->nthreads, sizeof(*q->threads));
  for (size_t i = 0; i < q->nthreads; i++) {
    if (pthread_create(&q->threads[i], NULL, eval_thread, q) != 0)
      TC_BUG("querier: pthread_create failed");
  }
  q->methods = qstore_methods(q);
  *out = q;
  return 0;
fail:
  labels_release(&q->selector_labels);
  free(q);
  return rc;
}

int querier_http_routes(struct querier *q, struct http_server *srv) {
  return qapi_routes(q, srv);
}

const struct grpc_method *querier_grpc_methods(struct querier *q) {
  return q->methods;
}

void querier_handle_gone(struct querier *q) {
  if (--q->open_handles == 0 && q->stopped)
    q->stopped(q->stopped_data);
}

void querier_handle_closed(uv_handle_t *h) {
  querier_handle_gone(h->data);
}

static void join_threads(struct querier *q) {
  pthread_mutex_lock(&q->tmu);
  q->tstop = 1;
  pthread_cond_broadcast(&q->tcv);
  pthread_mutex_unlock(&q->tmu);
}

void querier_stop(struct querier *q, void (*done)(void *), void *data) {
  q->stopping = 1;
  q->stopped = done;
  q->stopped_data = data;
  join_threads(q);
  qep_set_stop(q);
  /* Later posts fail (their fan-outs end at once); the ones queued now
   * run here, on the loop, before the handle goes. */
  pthread_mutex_lock(&q->mu);
  q->closed = 1;
  pthread_mutex_unlock(&q->mu);
  async_cb(&q->async);
  uv_close((uv_handle_t *)&q->async, querier_handle_closed);
}

void querier_free(struct querier *q) {
  if (!q)
    return;
  for (size_t i = 0; i < q->nthreads; i++)
    pthread_join(q->threads[i], NULL);
  free(q->threads);
  free(q->methods);
  labels_release(&q->selector_labels);
  pthread_mutex_destroy(&q->mu);
  pthread_mutex_destroy(&q->tmu);
  pthread_cond_destroy(&q->tcv);
  free(q);
}
