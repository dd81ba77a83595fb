/*
 * Tests of src/grpc/server.c and client.c together: the synthetic store
 * (teststore.c) served and called on one loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/teststore.h"
#include "storepb_rpc.pb-c.h"
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/grpc.h"
#include "thanosc/metrics.h"

struct fixture {
  uv_loop_t loop;
  struct grpc_teststore ts;
  struct grpc_server *srv;
  struct grpc_client *cl;
  char target[64];
};

struct result {
  int done;
  int code;
  char msg[256];
  int64_t msgs;
  int64_t bytes;
  int64_t cancel_after; /* return 1 from on_msg after this many */
  int64_t pause_after;
  struct grpc_client_call *call;
};

static int on_msg(struct grpc_client_call *k, const uint8_t *p, size_t n,
                  void *data) {
  struct result *r = data;
  r->msgs++;
  r->bytes += (int64_t)n;
  if (r->pause_after && r->msgs == r->pause_after)
    grpc_client_call_pause(k);
  return r->cancel_after && r->msgs >= r->cancel_after;
}

static void on_done(struct grpc_client_call *k, int code, const char *msg,
                    void *data) {
  struct result *r = data;
  r->done = 1;
  r->code = code;
  snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
}

static void fixture_start(struct fixture *f, int64_t nseries,
                          const char *compression) {
  memset(f, 0, sizeof *f);
  ASSERT_OK(uv_loop_init(&f->loop));
  f->ts.nseries = nseries;
  struct grpc_server_opts so = {
      .address = "127.0.0.1:0", .grace_ms = 2000, .max_recv_msg = 1 << 20};
  ASSERT_OK(
      grpc_server_new(&f->loop, grpc_teststore_methods(&f->ts), &so, &f->srv));
  snprintf(f->target, sizeof f->target, "127.0.0.1:%d",
           grpc_server_port(f->srv));
  struct grpc_client_opts co = {.compression = compression};
  ASSERT_OK(grpc_client_new(&f->loop, f->target, &co, &f->cl));
}

static void stopped(struct grpc_server *s, void *data) {
  *(int *)data = 1;
}

static void fixture_stop(struct fixture *f) {
  int done = 0;
  if (f->cl)
    grpc_client_free(f->cl);
  grpc_server_stop(f->srv, stopped, &done);
  while (!done)
    uv_run(&f->loop, UV_RUN_ONCE);
  grpc_server_free(f->srv);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&f->loop), 0);
}

static void wait_done(struct fixture *f, struct result *r) {
  while (!r->done)
    uv_run(&f->loop, UV_RUN_ONCE);
}

static void call(struct fixture *f, const char *path,
                 const ProtobufCMessage *req, int64_t timeout_ms,
                 struct result *r) {
  ASSERT_OK(grpc_client_call_startm(f->cl, path, req, timeout_ms, on_msg,
                                    on_done, r, &r->call));
}

static Thanos__SeriesRequest *series_req(const char *name) {
  static Thanos__LabelMatcher lm;
  static Thanos__LabelMatcher *lmp = &lm;
  static Thanos__SeriesRequest r;
  thanos__label_matcher__init(&lm);
  thanos__series_request__init(&r);
  lm.name = "__name__";
  lm.value = (char *)name;
  r.n_matchers = name ? 1 : 0;
  r.matchers = &lmp;
  return &r;
}

TEST(grpc_unary_and_stream) {
  struct fixture f;
  fixture_start(&f, 20000, NULL);
  Thanos__LabelNamesRequest ln = THANOS__LABEL_NAMES_REQUEST__INIT;
  struct result a = {0}, b = {0};
  call(&f, "/thanos.Store/LabelNames", &ln.base, 5000, &a);
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 10000, &b);
  wait_done(&f, &a);
  wait_done(&f, &b);
  ASSERT_EQ(a.code, GRPC_OK);
  ASSERT_EQ(a.msgs, 1);
  ASSERT_EQ(b.code, GRPC_OK);
  ASSERT_EQ(b.msgs, 20000);
  /* the handler's status and message */
  Thanos__LabelValuesRequest lv = THANOS__LABEL_VALUES_REQUEST__INIT;
  struct result c = {0};
  call(&f, "/thanos.Store/LabelValues", &lv.base, 5000, &c);
  wait_done(&f, &c);
  ASSERT_EQ(c.code, GRPC_INVALID_ARGUMENT);
  ASSERT_STREQ(c.msg, "label name parameter cannot be empty");
  /* metrics as go-grpc-prometheus names them */
  struct tc_buf m = TC_BUF_INIT;
  ASSERT_OK(metrics_write(&m));
  ASSERT_NOT_NULL(strstr(m.data,
                         "grpc_server_handled_total{grpc_code=\"OK\","
                         "grpc_method=\"Series\",grpc_service=\"thanos.Store\","
                         "grpc_type=\"server_stream\"} 1"));
  ASSERT_NOT_NULL(strstr(m.data,
                         "grpc_server_handled_total{grpc_code="
                         "\"InvalidArgument\",grpc_method=\"LabelValues\""));
  ASSERT_NOT_NULL(strstr(m.data, "grpc_server_started_total{grpc_method="
                                 "\"LabelNames\",grpc_service=\"thanos.Store\","
                                 "grpc_type=\"unary\"} 1"));
  ASSERT_NOT_NULL(strstr(m.data, "grpc_server_handling_seconds_bucket{"));
  ASSERT_NOT_NULL(strstr(m.data, "grpc_server_msg_sent_total{grpc_method="
                                 "\"Series\",grpc_service=\"thanos.Store\","
                                 "grpc_type=\"server_stream\"} 20000"));
  ASSERT_NOT_NULL(strstr(m.data, "grpc_server_msg_received_total{"));
  tc_buf_release(&m);
  fixture_stop(&f);
}

TEST(grpc_snappy_end_to_end) {
  struct fixture f;
  fixture_start(&f, 5000, "snappy");
  struct result r = {0};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 10000, &r);
  wait_done(&f, &r);
  ASSERT_EQ(r.code, GRPC_OK);
  ASSERT_EQ(r.msgs, 5000);
  fixture_stop(&f);
}

TEST(grpc_cancel_reaches_handler) {
  struct fixture f;
  fixture_start(&f, 1000000, NULL);
  struct result r = {.cancel_after = 100};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 0, &r);
  wait_done(&f, &r);
  ASSERT_EQ(r.code, GRPC_CANCELLED);
  ASSERT_EQ(r.msgs, 100);
  /* the server's handler notices and ends */
  for (int i = 0; i < 200 && !f.ts.series_cancelled; i++)
    uv_run(&f.loop, UV_RUN_NOWAIT), uv_sleep(5);
  ASSERT_EQ(f.ts.series_cancelled, 1);
  /* explicit cancel of a call that never answers */
  struct result s = {0};
  call(&f, "/thanos.Store/Series", &series_req("slow")->base, 0, &s);
  for (int i = 0; i < 20; i++)
    uv_run(&f.loop, UV_RUN_NOWAIT);
  grpc_client_call_cancel(s.call);
  wait_done(&f, &s);
  ASSERT_EQ(s.code, GRPC_CANCELLED);
  fixture_stop(&f);
}

TEST(grpc_deadline_and_errors) {
  struct fixture f;
  fixture_start(&f, 10, NULL);
  struct result r = {0};
  call(&f, "/thanos.Store/Series", &series_req("slow")->base, 100, &r);
  wait_done(&f, &r);
  ASSERT_EQ(r.code, GRPC_DEADLINE_EXCEEDED);
  struct result u = {0};
  call(&f, "/thanos.Store/Nope", &series_req(NULL)->base, 5000, &u);
  wait_done(&f, &u);
  ASSERT_EQ(u.code, GRPC_UNIMPLEMENTED);
  ASSERT_STREQ(u.msg, "unknown method Nope for service thanos.Store");
  /* a request over the server's 1 MiB limit */
  Thanos__LabelValuesRequest lv = THANOS__LABEL_VALUES_REQUEST__INIT;
  lv.label = malloc(2 << 20);
  memset(lv.label, 'x', (2 << 20) - 1);
  lv.label[(2 << 20) - 1] = '\0';
  struct result big = {0};
  call(&f, "/thanos.Store/LabelValues", &lv.base, 5000, &big);
  free(lv.label);
  wait_done(&f, &big);
  ASSERT_EQ(big.code, GRPC_RESOURCE_EXHAUSTED);
  /* after all that the connection still works */
  struct result ok = {0};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 5000, &ok);
  wait_done(&f, &ok);
  ASSERT_EQ(ok.code, GRPC_OK);
  ASSERT_EQ(ok.msgs, 10);
  fixture_stop(&f);
}

TEST(grpc_client_pause_resume) {
  struct fixture f;
  fixture_start(&f, 200000, NULL);
  struct result r = {.pause_after = 10};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 0, &r);
  for (int i = 0; i < 300; i++) {
    uv_run(&f.loop, UV_RUN_NOWAIT);
    uv_sleep(1);
  }
  /* paused: the stream is stuck, the server holds back (window) */
  ASSERT_FALSE(r.done);
  ASSERT_EQ(r.msgs, 10);
  grpc_client_call_resume(r.call);
  wait_done(&f, &r);
  ASSERT_EQ(r.code, GRPC_OK);
  ASSERT_EQ(r.msgs, 200000);
  fixture_stop(&f);
}

TEST(grpc_client_unavailable_and_backoff) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  struct grpc_client *cl;
  struct grpc_client_opts co = {0};
  /* a port nobody listens on: bind one and close it */
  uv_tcp_t t;
  uv_tcp_init(&loop, &t);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  uv_tcp_bind(&t, (struct sockaddr *)&sa, 0);
  int len = sizeof sa;
  uv_tcp_getsockname(&t, (struct sockaddr *)&sa, &len);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(sa.sin_port));
  uv_close((uv_handle_t *)&t, NULL);
  ASSERT_OK(grpc_client_new(&loop, target, &co, &cl));
  struct result r = {0}, r2 = {0};
  ASSERT_OK(grpc_client_call_start(cl, "/x.Y/Z", "", 0, 1000, on_msg, on_done,
                                   &r, NULL));
  while (!r.done)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(r.code, GRPC_UNAVAILABLE);
  ASSERT_NOT_NULL(strstr(r.msg, "connection refused"));
  /* within the backoff the next call fails fast, asynchronously */
  ASSERT_OK(grpc_client_call_start(cl, "/x.Y/Z", "", 0, 1000, on_msg, on_done,
                                   &r2, NULL));
  ASSERT_FALSE(r2.done);
  while (!r2.done)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(r2.code, GRPC_UNAVAILABLE);
  /* bad arguments */
  struct grpc_client *bad;
  ASSERT_EQ(grpc_client_new(&loop, "nohostport", &co, &bad), TC_EINVAL);
  struct grpc_client_opts cz = {.compression = "gzip"};
  ASSERT_EQ(grpc_client_new(&loop, "a:1", &cz, &bad), TC_EINVAL);
  grpc_client_free(cl);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(grpc_server_bad_options) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  struct grpc_server *s;
  const struct grpc_method none[] = {{0}};
  struct grpc_server_opts o = {.address = "127.0.0.1"};
  ASSERT_EQ(grpc_server_new(&loop, none, &o, &s), TC_EINVAL);
  o.address = "127.0.0.1:99999";
  ASSERT_EQ(grpc_server_new(&loop, none, &o, &s), TC_EINVAL);
  o.address = "127.0.0.1:0";
  o.tls_cert = "/nonexistent/cert.pem";
  ASSERT_EQ(grpc_server_new(&loop, none, &o, &s), TC_EINVAL);
  o.tls_key = "/nonexistent/key.pem";
  ASSERT_EQ(grpc_server_new(&loop, none, &o, &s), TC_EPROTO);
  ASSERT_NOT_NULL(strstr(tc_errmsg(TC_EPROTO), "/nonexistent/cert.pem"));
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(grpc_graceful_stop_drains) {
  struct fixture f;
  fixture_start(&f, 50000, NULL);
  struct result r = {0};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 0, &r);
  while (r.msgs < 10)
    uv_run(&f.loop, UV_RUN_ONCE);
  int done = 0;
  grpc_server_stop(f.srv, stopped, &done);
  wait_done(&f, &r);
  ASSERT_EQ(r.code, GRPC_OK);
  ASSERT_EQ(r.msgs, 50000);
  /* new calls after the GOAWAY are refused */
  struct result late = {0};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 2000, &late);
  wait_done(&f, &late);
  ASSERT_EQ(late.code, GRPC_UNAVAILABLE);
  grpc_client_free(f.cl);
  while (!done)
    uv_run(&f.loop, UV_RUN_ONCE);
  grpc_server_free(f.srv);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&f.loop), 0);
}

/* A TCP peer that accepts and reads but never answers anything. */
struct silent {
  uv_tcp_t listener;
  uv_tcp_t peer;
  int accepted;
  const char *say; /* written once on accept, if set */
  size_t saylen;
  uv_write_t wr;
  char buf[4096];
};

static void silent_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  struct silent *s = h->data;
  *b = uv_buf_init(s->buf, sizeof s->buf);
}

static void silent_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {}

static void silent_accept(uv_stream_t *l, int status) {
  struct silent *s = l->data;
  uv_tcp_init(l->loop, &s->peer);
  s->peer.data = s;
  uv_accept(l, (uv_stream_t *)&s->peer);
  uv_read_start((uv_stream_t *)&s->peer, silent_alloc, silent_read);
  s->accepted = 1;
  if (s->say) {
    uv_buf_t b = uv_buf_init((char *)s->say, (unsigned)s->saylen);
    uv_write(&s->wr, (uv_stream_t *)&s->peer, &b, 1, NULL);
  }
}

/* Listens on a free loopback port; target gets "127.0.0.1:port". */
static void silent_listen(uv_loop_t *loop, struct silent *s, char *target,
                          size_t n) {
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  ASSERT_OK(uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0));
  ASSERT_OK(uv_listen((uv_stream_t *)&s->listener, 8, silent_accept));
  int len = sizeof sa;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&sa, &len);
  snprintf(target, n, "127.0.0.1:%d", ntohs(sa.sin_port));
}

static void silent_close(struct silent *s) {
  uv_close((uv_handle_t *)&s->listener, NULL);
  if (s->accepted)
    uv_close((uv_handle_t *)&s->peer, NULL);
}

/* A peer that answers garbage (an HTTP/1.1 reply, or a bad frame after a
 * valid SETTINGS): the call fails cleanly. */
TEST(grpc_client_garbage_server) {
  static const char http1[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
  static const char badframe[] = "\0\0\0\4\0\0\0\0\0"    /* SETTINGS */
                                 "\0\0\2\0\0\0\0\0\0xx"; /* DATA on 0 */
  const struct {
    const char *say;
    size_t n;
  } cases[] = {{http1, sizeof http1 - 1}, {badframe, sizeof badframe - 1}};
  for (size_t i = 0; i < TC_ARRAY_SIZE(cases); i++) {
    uv_loop_t loop;
    ASSERT_OK(uv_loop_init(&loop));
    struct silent s = {.say = cases[i].say, .saylen = cases[i].n};
    char target[64];
    silent_listen(&loop, &s, target, sizeof target);
    struct grpc_client *cl;
    struct grpc_client_opts co = {0};
    ASSERT_OK(grpc_client_new(&loop, target, &co, &cl));
    struct result r = {0};
    ASSERT_OK(grpc_client_call_start(cl, "/x.Y/Z", "", 0, 5000, on_msg, on_done,
                                     &r, NULL));
    while (!r.done)
      uv_run(&loop, UV_RUN_ONCE);
    ASSERT_NE(r.code, GRPC_OK);
    ASSERT_NE(r.code, GRPC_DEADLINE_EXCEEDED);
    grpc_client_free(cl);
    silent_close(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop), 0);
  }
}

TEST(grpc_client_keepalive) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  struct silent s = {0};
  char target[64];
  silent_listen(&loop, &s, target, sizeof target);
  struct grpc_client *cl;
  struct grpc_client_opts co = {.keepalive_ms = 50,
                                .keepalive_timeout_ms = 100};
  ASSERT_OK(grpc_client_new(&loop, target, &co, &cl));
  struct result r = {0};
  uint64_t t0 = uv_now(&loop);
  ASSERT_OK(grpc_client_call_start(cl, "/x.Y/Z", "", 0, 10000, on_msg, on_done,
                                   &r, NULL));
  while (!r.done)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(r.code, GRPC_UNAVAILABLE);
  ASSERT_NOT_NULL(strstr(r.msg, "keepalive"));
  ASSERT_LT(uv_now(&loop) - t0, 2000);
  grpc_client_free(cl);
  silent_close(&s);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);

  /* Against a real server the PINGs are answered: a paused stream lives. */
  struct fixture f;
  fixture_start(&f, 50000, NULL);
  grpc_client_free(f.cl);
  ASSERT_OK(grpc_client_new(&f.loop, f.target, &co, &f.cl));
  struct result p = {.pause_after = 5};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 0, &p);
  for (int i = 0; i < 400; i++) {
    uv_run(&f.loop, UV_RUN_NOWAIT);
    uv_sleep(1);
  }
  ASSERT_FALSE(p.done);
  grpc_client_call_resume(p.call);
  wait_done(&f, &p);
  ASSERT_EQ(p.code, GRPC_OK);
  ASSERT_EQ(p.msgs, 50000);
  fixture_stop(&f);
}

TEST(grpc_client_reconnects_after_backoff) {
  struct fixture f;
  fixture_start(&f, 10, NULL);
  int port = grpc_server_port(f.srv);
  /* The server goes away: the call fails, the client backs off. */
  int done = 0;
  grpc_server_stop(f.srv, stopped, &done);
  while (!done)
    uv_run(&f.loop, UV_RUN_ONCE);
  grpc_server_free(f.srv);
  struct result a = {0};
  call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 2000, &a);
  wait_done(&f, &a);
  ASSERT_EQ(a.code, GRPC_UNAVAILABLE);
  /* It comes back on the same port; after the backoff calls work again. */
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  struct grpc_server_opts so = {.address = addr};
  ASSERT_OK(
      grpc_server_new(&f.loop, grpc_teststore_methods(&f.ts), &so, &f.srv));
  uint64_t t0 = uv_now(&f.loop);
  int ok = 0;
  while (!ok && uv_now(&f.loop) - t0 < 5000) {
    struct result r = {0};
    call(&f, "/thanos.Store/Series", &series_req(NULL)->base, 2000, &r);
    wait_done(&f, &r);
    ok = r.code == GRPC_OK && r.msgs == 10;
    if (!ok) {
      ASSERT_EQ(r.code, GRPC_UNAVAILABLE);
      uv_sleep(100);
      uv_update_time(&f.loop);
    }
  }
  ASSERT(ok);
  fixture_stop(&f);
}

struct free_in_done {
  struct grpc_client *cl;
  int ndone;
  int codes[2];
};

static void done_frees_client(struct grpc_client_call *k, int code,
                              const char *msg, void *data) {
  struct free_in_done *x = data;
  x->codes[x->ndone++] = code;
  grpc_client_free(x->cl); /* the first one frees; the second is a no-op */
  ASSERT_EQ(
      grpc_client_call_start(x->cl, "/x.Y/Z", "", 0, 0, NULL, NULL, NULL, NULL),
      TC_ESTATE);
}

TEST(grpc_client_free_from_callback) {
  struct fixture f;
  fixture_start(&f, 10, NULL);
  struct free_in_done x = {.cl = f.cl};
  struct grpc_client_call *a, *b;
  Thanos__SeriesRequest *r = series_req("slow");
  ASSERT_OK(grpc_client_call_startm(f.cl, "/thanos.Store/Series", &r->base, 0,
                                    NULL, done_frees_client, &x, &a));
  ASSERT_OK(grpc_client_call_startm(f.cl, "/thanos.Store/Series", &r->base, 0,
                                    NULL, done_frees_client, &x, &b));
  for (int i = 0; i < 20; i++)
    uv_run(&f.loop, UV_RUN_NOWAIT);
  grpc_client_call_cancel(a);
  while (x.ndone < 2)
    uv_run(&f.loop, UV_RUN_ONCE);
  ASSERT_EQ(x.codes[0], GRPC_CANCELLED);
  ASSERT_EQ(x.codes[1], GRPC_CANCELLED);
  f.cl = NULL;
  fixture_stop(&f);
}

/* A handler queuing pre-framed batches: a badly framed one first (refused,
 * left as it was), then many messages spanning many DATA frames. */
struct framed_state {
  int bad_rc, good_rc;
  size_t bad_len, left_len;
};

#define FRAMED_MSGS 3000

static void framed_series(struct grpc_call *c, const uint8_t *req, size_t n,
                          void *data) {
  struct framed_state *st = data;
  struct tc_buf bad = TC_BUF_INIT, b = TC_BUF_INIT;
  tc_buf_add(&bad, "\0\0\0\0\x09" "abc", 8); /* says 9 bytes, has 3 */
  st->bad_rc = grpc_call_send_framed(c, &bad);
  st->bad_len = bad.len;
  for (int i = 0; i < FRAMED_MSGS; i++) {
    char msg[64];
    int k = snprintf(msg, sizeof msg, "message %d", i);
    tc_buf_addc(&b, 0);
    tc_buf_put_be32(&b, (uint32_t)k);
    tc_buf_add(&b, msg, (size_t)k);
  }
  st->good_rc = grpc_call_send_framed(c, &b);
  st->left_len = b.len;
  tc_buf_release(&b);
  tc_buf_release(&bad);
  grpc_call_finish(c, GRPC_OK, NULL);
}

static void framed_roundtrip(const char *compression) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  struct framed_state st = {0};
  const struct grpc_method table[] = {
      {"/thanos.Store/Series", GRPC_SERVER_STREAM, framed_series, &st},
      {0}};
  struct grpc_server_opts so = {.address = "127.0.0.1:0", .grace_ms = 1000};
  struct grpc_server *srv;
  ASSERT_OK(grpc_server_new(&loop, table, &so, &srv));
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", grpc_server_port(srv));
  struct grpc_client_opts co = {.compression = compression};
  struct grpc_client *cl;
  ASSERT_OK(grpc_client_new(&loop, target, &co, &cl));
  struct result r = {0};
  ASSERT_OK(grpc_client_call_startm(cl, "/thanos.Store/Series",
                                    &series_req(NULL)->base, 5000, on_msg,
                                    on_done, &r, NULL));
  while (!r.done)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(r.code, GRPC_OK);
  ASSERT_EQ(st.bad_rc, TC_EINVAL);
  ASSERT_EQ(st.bad_len, 8);
  ASSERT_EQ(st.good_rc, 0);
  ASSERT_EQ(st.left_len, 0);
  ASSERT_EQ(r.msgs, FRAMED_MSGS);
  int64_t bytes = 0;
  for (int i = 0; i < FRAMED_MSGS; i++) {
    char msg[64];
    bytes += snprintf(msg, sizeof msg, "message %d", i);
  }
  ASSERT_EQ(r.bytes, bytes);
  grpc_client_free(cl);
  int done = 0;
  grpc_server_stop(srv, stopped, &done);
  while (!done)
    uv_run(&loop, UV_RUN_ONCE);
  grpc_server_free(srv);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(grpc_send_framed) {
  framed_roundtrip(NULL);
  framed_roundtrip("snappy");
}
