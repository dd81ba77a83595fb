/*
 * Unit tests of src/net/http_server.c and the worker pool of src/core/loop.c:
 * a server on a private loop, a blocking client on a thread, and handlers
 * that finish later (worker pool, timers), stream with backpressure, see
 * their client go away, or are caught by a graceful stop.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "thanosc/http.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/metrics.h"

struct fixture {
  uv_loop_t loop;
  struct http_server *srv;
  uv_async_t client_done;
  pthread_t thread;
  /* client side */
  const char *request;
  int read_delay_ms;
  int close_early; /* close after sending, without reading */
  char *response;
  size_t response_len;
  /* server side observations */
  int stopped;
  int aborts;
  int backpressure;
  int stop_after_request; /* stop the server when /slow arrives */
  int drain_calls;
  int64_t header_timeout_ms;
};

static int atoi_safe(const char *s) {
  long v = strtol(s, NULL, 10);
  return v > 0 && v < 1024 ? (int)v : 4;
}

static char *exchange(int port, const char *req, int delay_ms, int close_early,
                      size_t *len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    *len = 0;
    return NULL;
  }
  size_t n = strlen(req);
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, req + off, n - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  if (close_early) {
    usleep(100 * 1000);
    close(fd);
    *len = 0;
    return NULL;
  }
  if (delay_ms)
    usleep((useconds_t)delay_ms * 1000);
  size_t cap = 1 << 16, used = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (used + 65536 > cap)
      buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + used, 65536);
    if (r <= 0)
      break;
    used += (size_t)r;
  }
  buf[used < cap ? used : cap - 1] = '\0';
  close(fd);
  *len = used;
  return buf;
}

static void *client_main(void *arg) {
  struct fixture *f = arg;
  f->response = exchange(http_server_port(f->srv), f->request, f->read_delay_ms,
                         f->close_early, &f->response_len);
  uv_async_send(&f->client_done);
  return NULL;
}

static void on_stopped(struct http_server *srv, void *data) {
  (void)srv;
  struct fixture *f = data;
  f->stopped = 1;
}

static void on_client_done(uv_async_t *a) {
  struct fixture *f = a->data;
  uv_close((uv_handle_t *)a, NULL);
  http_server_stop(f->srv, on_stopped, f);
}

/* Worker pool: the handler answers after the sum ran on a worker thread. */
struct sum_job {
  struct tc_work work;
  struct http_req *req;
  long n, sum;
};

static void sum_run(struct tc_work *w) {
  struct sum_job *j = w->data;
  for (long i = 1; i <= j->n; i++)
    j->sum += i;
}

static void sum_done(struct tc_work *w, int status) {
  struct sum_job *j = w->data;
  char out[64];
  int len = snprintf(out, sizeof out, "sum=%ld status=%d", j->sum, status);
  http_respond(j->req, 200, "text/plain", out, (size_t)len);
  free(j);
}

static void handle_sum(struct http_req *req, void *data) {
  (void)data;
  struct http_params p = HTTP_PARAMS_INIT;
  if (http_req_params(req, &p) < 0) {
    http_params_release(&p);
    http_respond_error(req, 400, "bad parameters");
    return;
  }
  const char *n = http_params_get(&p, "n");
  struct sum_job *j = calloc(1, sizeof *j);
  j->req = req;
  j->n = n ? strtol(n, NULL, 10) : 0;
  http_params_release(&p);
  if (tc_work_submit(http_req_loop(req), &j->work, sum_run, sum_done, j) < 0)
    TEST_FAIL_("tc_work_submit");
}

/* Streaming: 8 MiB in 64 KiB chunks, waiting for drain when told to. */
struct stream_job {
  struct http_req *req;
  struct fixture *f;
  int sent;
};

static void stream_more(struct http_req *req, void *data) {
  struct stream_job *s = data;
  static char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  if (s->sent)
    s->f->drain_calls++;
  while (s->sent < 128) {
    s->sent++;
    int rc = http_stream_write(req, chunk, sizeof chunk);
    if (rc == 1) {
      s->f->backpressure++;
      return; /* on_drain calls back */
    }
    if (rc < 0)
      break;
  }
  http_stream_end(req);
  free(s);
}

static void handle_stream(struct http_req *req, void *data) {
  struct stream_job *s = calloc(1, sizeof *s);
  s->req = req;
  s->f = data;
  http_stream_on_drain(req, stream_more, s);
  ASSERT_OK(http_stream_begin(req, 200, "application/octet-stream"));
  stream_more(req, s);
}

/* Slow: answers after 300 ms from a timer; counts client aborts. */
struct slow_job {
  uv_timer_t t;
  struct http_req *req;
  struct fixture *f;
};

static void slow_closed(uv_handle_t *h) {
  free(h->data);
}

static void slow_fire(uv_timer_t *t) {
  struct slow_job *s = t->data;
  int aborted = http_req_aborted(s->req);
  int rc = http_respond(s->req, 200, "text/plain", "slow", 4);
  ASSERT_EQ(rc, aborted ? TC_ECANCELED : 0);
  uv_close((uv_handle_t *)t, slow_closed);
}

static void slow_aborted(struct http_req *req, void *data) {
  (void)req;
  struct slow_job *s = data;
  s->f->aborts++;
}

static void handle_slow(struct http_req *req, void *data) {
  struct fixture *f = data;
  struct slow_job *s = calloc(1, sizeof *s);
  s->req = req;
  s->f = f;
  http_req_on_abort(req, slow_aborted, s);
  uv_timer_init(http_req_loop(req), &s->t);
  s->t.data = s;
  uv_timer_start(&s->t, slow_fire, 300, 0);
  if (f->stop_after_request)
    http_server_stop(f->srv, on_stopped, f);
}

/* Big: n bytes of 'a' on a gzip route. */
static void handle_big(struct http_req *req, void *data) {
  (void)data;
  struct http_params p = HTTP_PARAMS_INIT;
  http_params_parse(&p, http_req_query(req), strlen(http_req_query(req)));
  const char *n = http_params_get(&p, "n");
  size_t len = n ? (size_t)strtoul(n, NULL, 10) : 0;
  http_params_release(&p);
  char *body = malloc(len + 1);
  memset(body, 'a', len);
  http_respond(req, 200, "text/plain", body, len);
  free(body);
}

static void fixture_run(struct fixture *f, const char *request) {
  tc_log_setup("warn", "logfmt");
  ASSERT_OK(uv_loop_init(&f->loop));
  ASSERT_OK(http_server_new(
      &f->loop,
      &(struct http_server_opts){.address = "127.0.0.1:0",
                                 .grace_ms = 5000,
                                 .header_timeout_ms = f->header_timeout_ms},
      &f->srv));
  ASSERT_OK(http_server_add_builtin_routes(f->srv));
  ASSERT_OK(http_server_route(
      f->srv, &(struct http_route){.methods = HTTP_M_GET | HTTP_M_POST,
                                   .path = "/sum",
                                   .name = "sum",
                                   .fn = handle_sum}));
  ASSERT_OK(
      http_server_route(f->srv, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "/stream",
                                                     .fn = handle_stream,
                                                     .data = f}));
  ASSERT_OK(
      http_server_route(f->srv, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "/slow",
                                                     .fn = handle_slow,
                                                     .data = f}));
  ASSERT_OK(
      http_server_route(f->srv, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "/big",
                                                     .flags = HTTP_ROUTE_GZIP,
                                                     .fn = handle_big}));
  ASSERT_OK(http_server_listen(f->srv));
  ASSERT_GT(http_server_port(f->srv), 0);
  uv_async_init(&f->loop, &f->client_done, on_client_done);
  f->client_done.data = f;
  f->request = request;
  pthread_create(&f->thread, NULL, client_main, f);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  pthread_join(f->thread, NULL);
  ASSERT_EQ(f->stopped, 1);
  ASSERT_EQ(http_server_connections(f->srv), 0);
  ASSERT_OK(uv_loop_close(&f->loop));
  http_server_free(f->srv);
}

TEST(http_server_async_worker_pipelined) {
  struct fixture f = {0};
  fixture_run(&f, "GET /sum?n=100 HTTP/1.1\r\nHost: x\r\n\r\n"
                  "POST /sum?n=1 HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\n"
                  "Content-Length: 6\r\n\r\nn=1000"
                  "GET /sum?n=%zz HTTP/1.1\r\nHost: x\r\n"
                  "Connection: close\r\n\r\n");
  ASSERT(f.response);
  char *a = strstr(f.response, "sum=5050 status=0");
  char *b = strstr(f.response, "sum=500500 status=0"); /* body wins */
  char *c = strstr(f.response, "400 Bad Request");
  ASSERT(a && b && c);
  ASSERT(a < b && b < c);
  free(f.response);
  /* Thanos's HTTP middleware metrics for the instrumented route. */
  struct tc_buf m = TC_BUF_INIT;
  ASSERT_OK(metrics_write(&m));
  const char *dump = getenv("THANOSC_DUMP_METRICS");
  if (dump) {
    FILE *out = fopen(dump, "w");
    fwrite(m.data, 1, m.len, out);
    fclose(out);
  }
  ASSERT(strstr(m.data, "http_requests_total{code=\"200\",handler=\"sum\","
                        "method=\"get\"} 1\n"));
  ASSERT(strstr(m.data, "http_requests_total{code=\"200\",handler=\"sum\","
                        "method=\"post\"} 1\n"));
  ASSERT(strstr(m.data, "http_requests_total{code=\"400\",handler=\"sum\","
                        "method=\"get\"} 1\n"));
  ASSERT(strstr(m.data, "http_inflight_requests{handler=\"sum\","
                        "method=\"get\"} 0\n"));
  ASSERT(strstr(m.data, "http_request_duration_seconds_bucket{code=\"200\","
                        "handler=\"sum\",method=\"get\",le=\"720\"} 1\n"));
  ASSERT(strstr(m.data, "http_response_size_bytes_bucket{code=\"200\","
                        "handler=\"sum\",method=\"get\",le=\"64\"} 1\n"));
  tc_buf_release(&m);
}

TEST(http_server_stream_backpressure) {
  struct fixture f = {.read_delay_ms = 300};
  fixture_run(&f,
              "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT(f.response);
  ASSERT(strstr(f.response, "Transfer-Encoding: chunked"));
  ASSERT_GT(f.response_len, 128 * 65536);
  ASSERT(f.response_len >= 5 &&
         !memcmp(f.response + f.response_len - 5, "0\r\n\r\n", 5));
  ASSERT_GT(f.backpressure, 0);
  ASSERT_EQ(f.drain_calls, f.backpressure);
  free(f.response);
}

TEST(http_server_graceful_stop_finishes_inflight) {
  struct fixture f = {.stop_after_request = 1};
  fixture_run(&f, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT(f.response);
  ASSERT(strstr(f.response, "HTTP/1.1 200 OK"));
  ASSERT(strstr(f.response, "Connection: close"));
  ASSERT(strstr(f.response, "\r\n\r\nslow"));
  ASSERT_EQ(f.aborts, 0);
  free(f.response);
}

TEST(http_server_client_abort) {
  struct fixture f = {.close_early = 1};
  fixture_run(&f, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(f.aborts, 1);
}

TEST(http_server_limits_and_errors) {
  struct fixture f = {0};
  fixture_run(&f, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                  "DELETE /sum HTTP/1.1\r\nHost: x\r\n\r\n"
                  "HEAD /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /-/ready HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 99999999999\r\n\r\n");
  ASSERT(f.response);
  char *a = strstr(f.response, "HTTP/1.1 200 OK");
  char *b = strstr(f.response, "HTTP/1.1 405 Method Not Allowed");
  char *c = strstr(f.response, "Allow: GET, HEAD, POST");
  char *d = strstr(f.response, "HTTP/1.1 413");
  ASSERT(a && b && c && d && a < b && b < d);
  /* HEAD: headers with the length, no body before the next response. */
  char *h = strstr(b, "Content-Length: 2\r\n\r\nHTTP/1.1 413");
  ASSERT(h);
  free(f.response);
}

/* The runtime: services start in order, stop in reverse on shutdown. */
static int order[8], norder;

static int svc_start(struct service *svc, struct runtime *rt) {
  (void)rt;
  order[norder++] = (int)(intptr_t)svc->data;
  return 0;
}

static void svc_stop(struct service *svc, service_stopped_fn *done) {
  order[norder++] = -(int)(intptr_t)svc->data;
  done(svc);
}

static int svc_fail(struct service *svc, struct runtime *rt) {
  (void)svc;
  (void)rt;
  return tc_error(TC_EINVAL, "no");
}

static void shutdown_soon(uv_timer_t *t) {
  struct runtime *rt = t->data;
  ASSERT_EQ(runtime_is_ready(rt), 1);
  uv_close((uv_handle_t *)t, NULL);
  runtime_shutdown(rt, 3);
}

TEST(runtime_start_stop_order) {
  struct runtime rt;
  ASSERT_OK(runtime_init(&rt));
  struct service a = {
      .name = "a", .start = svc_start, .stop = svc_stop, .data = (void *)1};
  struct service b = {
      .name = "b", .start = svc_start, .stop = svc_stop, .data = (void *)2};
  runtime_add(&rt, &a);
  runtime_add(&rt, &b);
  runtime_set_ready(&rt, 1);
  uv_timer_t t;
  uv_timer_init(rt.loop, &t);
  t.data = &rt;
  uv_timer_start(&t, shutdown_soon, 10, 0);
  ASSERT_EQ(runtime_run(&rt), 3);
  ASSERT_EQ(runtime_is_ready(&rt), 0);
  ASSERT_EQ(norder, 4);
  ASSERT_EQ(order[0], 1);
  ASSERT_EQ(order[1], 2);
  ASSERT_EQ(order[2], -2);
  ASSERT_EQ(order[3], -1);
  runtime_release(&rt);

  /* A service that does not start stops the ones before it; exit 1. */
  norder = 0;
  ASSERT_OK(runtime_init(&rt));
  struct service c = {.name = "c", .start = svc_fail, .stop = svc_stop};
  runtime_add(&rt, &a);
  runtime_add(&rt, &c);
  runtime_add(&rt, &b);
  ASSERT_EQ(runtime_run(&rt), 1);
  ASSERT_EQ(norder, 2);
  ASSERT_EQ(order[0], 1);
  ASSERT_EQ(order[1], -1);
  runtime_release(&rt);
}

TEST(http_server_header_timeout) {
  struct fixture f = {.header_timeout_ms = 200};
  uint64_t t0 = uv_hrtime();
  fixture_run(&f, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow");
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ASSERT_EQ(f.response_len, 0); /* closed without an answer */
  ASSERT_GE(ms, 190);
  ASSERT_LT(ms, 5000);
  free(f.response);
}

/* Worker pool: queued work cancelled before it starts gets TC_ECANCELED. */
struct nap {
  struct tc_work work;
  int status;
  int ran;
  int done;
};

static void nap_run(struct tc_work *w) {
  struct nap *n = w->data;
  n->ran = 1;
  usleep(100 * 1000);
}

static void nap_done(struct tc_work *w, int status) {
  struct nap *n = w->data;
  n->status = status;
  n->done++;
}

TEST(work_submit_and_cancel) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  /* libuv's pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise:
   * with 4 + 4 naps, the last 4 are still queued when cancelled. */
  const char *env = getenv("UV_THREADPOOL_SIZE");
  int threads = env ? atoi_safe(env) : 4;
  struct nap naps[64] = {0};
  int n = threads * 2 > 64 ? 64 : threads * 2;
  for (int i = 0; i < n; i++)
    ASSERT_OK(
        tc_work_submit(&loop, &naps[i].work, nap_run, nap_done, &naps[i]));
  for (int i = n - 1; i >= threads; i--)
    tc_work_cancel(&naps[i].work);
  uv_run(&loop, UV_RUN_DEFAULT);
  int canceled = 0;
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(naps[i].done, 1);
    if (naps[i].status == TC_ECANCELED) {
      ASSERT_EQ(naps[i].ran, 0);
      canceled++;
    } else {
      ASSERT_EQ(naps[i].status, 0);
      ASSERT_EQ(naps[i].ran, 1);
    }
  }
  ASSERT_GT(canceled, 0);
  ASSERT(tc_work_canceled(&naps[n - 1].work));
  ASSERT_FALSE(tc_work_canceled(&naps[0].work));
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(http_server_listen_addresses) {
  static const struct {
    const char *addr;
    int rc;
  } cases[] = {
      {"127.0.0.1:0", 0},
      {":0", 0},
      {"localhost:0", 0},
      {"[::1]:0", 0},
      {"noport", TC_EINVAL},
      {"127.0.0.1:", TC_EINVAL},
      {"1.2.3.4:99999", TC_EINVAL},
      {"127.0.0.1:x", TC_EINVAL},
      {"no.such.host.invalid:80", TC_EINVAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uv_loop_t loop;
    ASSERT_OK(uv_loop_init(&loop));
    struct http_server *srv;
    ASSERT_OK(http_server_new(
        &loop, &(struct http_server_opts){.address = cases[i].addr}, &srv));
    int rc = http_server_listen(srv);
    if (rc != cases[i].rc)
      TEST_FAIL_("'%s': %d (%s)", cases[i].addr, rc, tc_errmsg(rc));
    struct fixture f = {0};
    http_server_stop(srv, on_stopped, &f);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(f.stopped, 1);
    ASSERT_OK(uv_loop_close(&loop));
    http_server_free(srv);
  }
}

/* strstr over the whole response, which holds binary gzip bodies. */
static char *find(struct fixture *f, const char *needle) {
  return memmem(f->response, f->response_len, needle, strlen(needle));
}

TEST(http_server_gzip_route) {
  struct fixture f = {0};
  fixture_run(&f, "GET /big?n=100 HTTP/1.1\r\nHost: x\r\n"
                  "Accept-Encoding: gzip\r\n\r\n"
                  "GET /big?n=5000 HTTP/1.1\r\nHost: x\r\n"
                  "Accept-Encoding: gzip\r\n\r\n"
                  "GET /big?n=5000 HTTP/1.1\r\nHost: x\r\n"
                  "Accept-Encoding: gzip;q=0\r\nConnection: close\r\n\r\n");
  ASSERT(f.response);
  /* Small: not encoded, but Vary says it could be. */
  char *a = find(&f, "Vary: Accept-Encoding\r\nContent-Length: 100\r\n");
  /* Big: gzip, much smaller than 5000 bytes, with the gzip magic. */
  char *b = find(&f, "Content-Encoding: gzip\r\nContent-Length: ");
  char *c = find(&f, "Vary: Accept-Encoding\r\nContent-Length: 5000\r\n");
  ASSERT(a && b && c && a < b && b < c);
  long zlen = strtol(b + strlen("Content-Encoding: gzip\r\nContent-Length: "),
                     NULL, 10);
  ASSERT_GT(zlen, 10);
  ASSERT_LT(zlen, 200);
  char *body = strstr(b, "\r\n\r\n") + 4;
  ASSERT_EQ((unsigned char)body[0], 0x1f);
  ASSERT_EQ((unsigned char)body[1], 0x8b);
  free(f.response);
}

/* A service whose stop never reports: the runtime exits 1 after the grace
 * periods plus the margin instead of hanging. */
static void svc_stop_never(struct service *svc, service_stopped_fn *done) {
  (void)svc;
  (void)done;
}

TEST(runtime_stop_deadline) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    tc_log_setup("error", "logfmt");
    struct runtime rt;
    if (runtime_init(&rt) < 0)
      _exit(3);
    rt.stop_margin_ms = 100;
    struct service stuck = {.name = "stuck",
                            .start = svc_start,
                            .stop = svc_stop_never,
                            .grace_ms = 200};
    runtime_add(&rt, &stuck);
    uv_timer_t t;
    uv_timer_init(rt.loop, &t);
    t.data = &rt;
    runtime_set_ready(&rt, 1);
    uv_timer_start(&t, shutdown_soon, 10, 0);
    runtime_run(&rt);
    _exit(0); /* not reached: the deadline exits first */
  }
  uint64_t t0 = uv_hrtime();
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ASSERT(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 1);
  ASSERT_GE(ms, 290);
  ASSERT_LT(ms, 5000);
}
