/*
 * client.c - the gRPC client: one multiplexed HTTP/2 connection per
 * endpoint, opened on the first call (DNS, TCP, optional TLS with ALPN h2)
 * and reopened after a failure once an exponential backoff has passed;
 * while in backoff, new calls fail fast with UNAVAILABLE as grpc-go's do.
 *
 * Every call is in the client's list from grpc_client_call_start() until
 * it is freed. nghttp2 callbacks only record what arrived; client_process()
 * (after each read, write completion, or kick) delivers messages to on_msg
 * and the final status to on_done, outside nghttp2, so user callbacks may
 * start or cancel calls freely.
 *
 * Receive backpressure: automatic WINDOW_UPDATEs are off; received bytes
 * are acknowledged (nghttp2_session_consume) as they are taken in, except
 * while the call is paused, so a paused call's server runs out of window.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/grpc.h"
#include "thanosc/log.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS 120000
#define STREAM_WINDOW (4 << 20)
#define CONN_WINDOW (32 << 20)
#define KEEPALIVE_MS 10000        /* Thanos clients: PING every 10 s */
#define KEEPALIVE_TIMEOUT_MS 5000 /* ... answered within 5 s */

struct cconn;

struct grpc_client_call {
  struct grpc_client *cl;
  struct cconn *conn; /* NULL: never attached or connection gone */
  int32_t sid;        /* -1 until submitted */
  char *path;
  struct tc_buf req; /* framed request */
  size_t req_off;
  grpc_client_msg_fn *on_msg;
  grpc_client_done_fn *on_done;
  void *data;
  int64_t timeout_ms;
  uint64_t deadline;
  uv_timer_t *timer;
  struct tc_buf in; /* received, not yet delivered */
  size_t in_off;
  struct tc_buf scratch;
  int resp_snappy;
  int http_status;
  int have_status;
  int status;
  char *status_msg;
  int stream_closed;
  uint32_t rst_code;
  int final; /* status decided */
  int hard;  /* ... and undelivered messages are dropped */
  int final_code;
  char *final_msg;
  int done; /* on_done delivered */
  int paused;
  size_t unconsumed;
  struct grpc_client_call *next, *prev;
};

struct cconn {
  struct grpc__conn c;
  struct grpc_client *cl;
  uv_getaddrinfo_t gai;
  uv_connect_t creq;
  int resolving, connecting, ready, draining;
  int orphan; /* closed while resolving: on_resolved frees */
  struct cconn *next, *prev;
};

struct grpc_client {
  uv_loop_t *loop;
  char *host, *port, *authority;
  int snappy;
  int tls;
  size_t max_recv;
  int64_t keepalive_ms;
  int64_t keepalive_timeout_ms;
  SSL_CTX *ctx;
  char *sni;
  int verify_name;
  struct cconn *conn;  /* the one new calls use */
  struct cconn *conns; /* all, including draining */
  struct grpc_client_call *calls;
  uint64_t backoff_until;
  int64_t backoff_ms;
  char *last_err;
  uv_idle_t kick;
  int freeing;
  int kick_closed;
  int in_process;
  int closing;      /* grpc_client_free() called */
  int free_pending; /* ... from inside a callback */
};

static void client_process(struct grpc_client *cl);
static void client_maybe_gone(struct grpc_client *cl);
static void client_free_now(struct grpc_client *cl);

static void on_client_kick(uv_idle_t *h);

static void client_kick(struct grpc_client *cl) {
  if (!cl->freeing)
    uv_idle_start(&cl->kick, on_client_kick);
}

/* --------------------------------------------------------------- calls */

static void call_set_final(struct grpc_client_call *k, int code, int hard,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void call_set_final(struct grpc_client_call *k, int code, int hard,
                           const char *fmt, ...) {
  if (k->final)
    return;
  char msg[1024] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
  }
  k->final = 1;
  k->hard = hard;
  k->final_code = code;
  k->final_msg = xstrdup(msg);
  if (k->timer)
    uv_timer_stop(k->timer);
}

static nghttp2_session *call_h2(struct grpc_client_call *k) {
  return k->conn && k->conn->ready && !k->conn->c.closing ? k->conn->c.h2
                                                          : NULL;
}

static void call_rst(struct grpc_client_call *k) {
  nghttp2_session *h2 = call_h2(k);
  if (h2 && k->sid >= 0 && !k->stream_closed) {
    nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, k->sid, NGHTTP2_CANCEL);
    grpc__conn_kick(&k->conn->c);
  }
}

static void call_free(struct grpc_client_call *k) {
  struct grpc_client *cl = k->cl;
  if (k->prev)
    k->prev->next = k->next;
  else
    cl->calls = k->next;
  if (k->next)
    k->next->prev = k->prev;
  if (k->conn && k->sid >= 0 && k->conn->c.h2)
    nghttp2_session_set_stream_user_data(k->conn->c.h2, k->sid, NULL);
  grpc__timer_free(k->timer);
  free(k->path);
  free(k->status_msg);
  free(k->final_msg);
  tc_buf_release(&k->req);
  tc_buf_release(&k->in);
  tc_buf_release(&k->scratch);
  free(k);
}

static int call_can_free(const struct grpc_client_call *k) {
  return k->done && (k->sid < 0 || k->stream_closed || !k->conn);
}

static void on_call_deadline(uv_timer_t *t) {
  struct grpc_client_call *k = t->data;
  call_set_final(k, GRPC_DEADLINE_EXCEEDED, 1, "context deadline exceeded");
  call_rst(k);
  client_kick(k->cl);
}

void grpc_client_call_cancel(struct grpc_client_call *k) {
  call_set_final(k, GRPC_CANCELLED, 1, "context canceled");
  call_rst(k);
  client_kick(k->cl);
}

void grpc_client_call_pause(struct grpc_client_call *k) {
  k->paused = 1;
}

void grpc_client_call_resume(struct grpc_client_call *k) {
  k->paused = 0;
  nghttp2_session *h2 = call_h2(k);
  if (h2 && k->unconsumed && !k->stream_closed) {
    nghttp2_session_consume(h2, k->sid, k->unconsumed);
    grpc__conn_kick(&k->conn->c);
  }
  k->unconsumed = 0;
  client_kick(k->cl);
}

/* ---------------------------------------------------- nghttp2 callbacks */

static ssize_t req_read(nghttp2_session *h2, int32_t sid, uint8_t *buf,
                        size_t length, uint32_t *flags,
                        nghttp2_data_source *src, void *ud) {
  struct grpc_client_call *k = src->ptr;
  size_t avail = k->req.len - k->req_off;
  size_t n = avail < length ? avail : length;
  memcpy(buf, k->req.data + k->req_off, n);
  k->req_off += n;
  if (k->req_off == k->req.len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *ud) {
  if (f->hd.type != NGHTTP2_HEADERS)
    return 0;
  struct grpc_client_call *k =
      nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
  if (!k)
    return 0;
  const char *n = (const char *)name, *v = (const char *)value;
  if (!strcmp(n, ":status")) {
    k->http_status = (int)strtol(v, NULL, 10);
  } else if (!strcmp(n, "grpc-status")) {
    k->have_status = 1;
    k->status = (int)strtol(v, NULL, 10);
  } else if (!strcmp(n, "grpc-message")) {
    free(k->status_msg);
    k->status_msg = grpc_percent_decode(v);
  } else if (!strcmp(n, "grpc-encoding")) {
    k->resp_snappy = !strcmp(v, "snappy");
    if (!k->resp_snappy && strcmp(v, "identity"))
      call_set_final(k, GRPC_INTERNAL, 1,
                     "grpc: Decompressor is not installed for grpc-encoding "
                     "\"%s\"",
                     v);
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t sid,
                         const uint8_t *data, size_t len, void *ud) {
  struct grpc_client_call *k = nghttp2_session_get_stream_user_data(h2, sid);
  if (!k || k->hard) {
    nghttp2_session_consume(h2, sid, len);
    return 0;
  }
  tc_buf_add(&k->in, data, len);
  if (k->paused)
    k->unconsumed += len;
  else
    nghttp2_session_consume(h2, sid, len);
  return 0;
}

static int http_to_code(int st) {
  switch (st) {
  case 400:
    return GRPC_INTERNAL;
  case 401:
    return GRPC_UNAUTHENTICATED;
  case 403:
    return GRPC_PERMISSION_DENIED;
  case 404:
    return GRPC_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504:
    return GRPC_UNAVAILABLE;
  default:
    return GRPC_UNKNOWN;
  }
}

static int on_stream_close(nghttp2_session *h2, int32_t sid, uint32_t err,
                           void *ud) {
  struct grpc_client_call *k = nghttp2_session_get_stream_user_data(h2, sid);
  if (!k)
    return 0;
  k->stream_closed = 1;
  k->rst_code = err;
  if (k->have_status)
    call_set_final(k, k->status, 0, "%s", k->status_msg ? k->status_msg : "");
  else if (k->http_status && k->http_status != 200)
    call_set_final(k, http_to_code(k->http_status), 1,
                   "unexpected HTTP status code received from server: %d",
                   k->http_status);
  else if (err == NGHTTP2_REFUSED_STREAM)
    call_set_final(k, GRPC_UNAVAILABLE, 1, "stream refused by server");
  else if (err == NGHTTP2_CANCEL)
    call_set_final(k, GRPC_CANCELLED, 1,
                   "stream terminated by RST_STREAM "
                   "with error code: CANCEL");
  else if (err != NGHTTP2_NO_ERROR)
    call_set_final(k, GRPC_INTERNAL, 1,
                   "stream terminated by RST_STREAM "
                   "with error code: %s",
                   nghttp2_http2_strerror(err));
  else
    call_set_final(k, GRPC_INTERNAL, 0,
                   "server closed the stream without sending trailers");
  return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f,
                         void *ud) {
  struct cconn *cc = ud;
  if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
    grpc__conn_ping_acked(&cc->c);
  if (f->hd.type == NGHTTP2_GOAWAY) {
    cc->draining = 1;
    if (cc->cl->conn == cc)
      cc->cl->conn = NULL;
  }
  return 0;
}

/* ------------------------------------------------------- connections */

static void submit_call(struct grpc_client_call *k) {
  struct grpc_client *cl = k->cl;
  nghttp2_session *h2 = call_h2(k);
  char tmo[32];
  nghttp2_nv nv[11] = {
      GRPC__NV(":method", "POST"),
      GRPC__NV(":scheme", cl->tls ? "https" : "http"),
      GRPC__NV(":path", k->path),
      GRPC__NV(":authority", cl->authority),
      GRPC__NV("content-type", "application/grpc"),
      GRPC__NV("user-agent", "grpc-c-thanosc/" TC_VERSION),
      GRPC__NV("te", "trailers"),
  };
  size_t n = 7;
  if (k->timeout_ms > 0) {
    uint64_t now = uv_now(cl->loop);
    grpc_timeout_format(k->deadline > now ? (int64_t)(k->deadline - now) : 1,
                        tmo, sizeof tmo);
    nv[n++] = (nghttp2_nv)GRPC__NV("grpc-timeout", tmo);
  }
  if (cl->snappy) {
    nv[n++] = (nghttp2_nv)GRPC__NV("grpc-encoding", "snappy");
    nv[n++] = (nghttp2_nv)GRPC__NV("grpc-accept-encoding", "snappy");
  }
  nghttp2_data_provider prd = {.source.ptr = k, .read_callback = req_read};
  int32_t sid = nghttp2_submit_request(h2, NULL, nv, n, &prd, k);
  if (sid < 0) {
    call_set_final(k, GRPC_UNAVAILABLE, 1, "http2: %s", nghttp2_strerror(sid));
    return;
  }
  k->sid = sid;
}

/* Keepalive pings only while calls are open, as grpc-go clients do without
 * PermitWithoutStream, so servers' ping policies are respected. */
static int cconn_busy(struct grpc__conn *gc) {
  struct cconn *cc = tc_container_of(gc, struct cconn, c);
  for (struct grpc_client_call *k = cc->cl->calls; k; k = k->next)
    if (k->conn == cc && !k->done)
      return 1;
  return 0;
}

static void cconn_on_ready(struct grpc__conn *gc) {
  struct cconn *cc = tc_container_of(gc, struct cconn, c);
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_option *opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  int rv = nghttp2_session_client_new2(&gc->h2, cb, cc, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv) {
    grpc__conn_close(gc);
    return;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
  };
  nghttp2_submit_settings(gc->h2, NGHTTP2_FLAG_NONE, iv, TC_ARRAY_SIZE(iv));
  nghttp2_session_set_local_window_size(gc->h2, NGHTTP2_FLAG_NONE, 0,
                                        CONN_WINDOW);
  cc->ready = 1;
  cc->cl->backoff_ms = 0;
  if (cc->cl->keepalive_ms > 0)
    grpc__conn_keepalive(gc, (uint64_t)cc->cl->keepalive_ms,
                         (uint64_t)cc->cl->keepalive_timeout_ms, cconn_busy);
  grpc__conn_kick(gc);
}

static void cconn_on_error(struct grpc__conn *gc, int rc) {
  struct cconn *cc = tc_container_of(gc, struct cconn, c);
  struct grpc_client *cl = cc->cl;
  const char *why = rc < 0 ? tc_errmsg(rc) : "connection closed";
  if (!cc->ready) {
    cl->backoff_ms = cl->backoff_ms ? cl->backoff_ms * 8 / 5 : BACKOFF_BASE_MS;
    if (cl->backoff_ms > BACKOFF_MAX_MS)
      cl->backoff_ms = BACKOFF_MAX_MS;
    cl->backoff_until = uv_now(cl->loop) + (uint64_t)cl->backoff_ms;
  }
  free(cl->last_err);
  cl->last_err = xstrdup(why);
  for (struct grpc_client_call *k = cl->calls; k; k = k->next) {
    if (k->conn != cc)
      continue;
    k->conn = NULL;
    k->stream_closed = 1;
    call_set_final(k, GRPC_UNAVAILABLE, 0, "connection error: %s", why);
  }
  if (cl->conn == cc)
    cl->conn = NULL;
  client_kick(cl);
}

static void cconn_on_closed(struct grpc__conn *gc) {
  struct cconn *cc = tc_container_of(gc, struct cconn, c);
  struct grpc_client *cl = cc->cl;
  if (cc->prev)
    cc->prev->next = cc->next;
  else
    cl->conns = cc->next;
  if (cc->next)
    cc->next->prev = cc->prev;
  if (cc->resolving)
    cc->orphan = 1;
  else
    free(cc);
  client_maybe_gone(cl);
}

static void cconn_after_recv(struct grpc__conn *gc) {
  client_process(tc_container_of(gc, struct cconn, c)->cl);
}

static const struct grpc__conn_ops cconn_ops = {
    .after_recv = cconn_after_recv,
    .on_ready = cconn_on_ready,
    .on_error = cconn_on_error,
    .on_closed = cconn_on_closed,
};

static void cconn_fail(struct cconn *cc, int rc) {
  if (cc->c.errored)
    return;
  cc->c.errored = 1;
  cconn_on_error(&cc->c, rc);
  grpc__conn_close(&cc->c);
}

static void on_connect(uv_connect_t *req, int status) {
  struct cconn *cc = req->data;
  cc->connecting = 0;
  if (cc->c.closing)
    return;
  if (status < 0) {
    cconn_fail(cc, tc_error(status, "dial tcp %s:%s: %s", cc->cl->host,
                            cc->cl->port, uv_strerror(status)));
    return;
  }
  uv_tcp_nodelay(&cc->c.tcp, 1);
  int rc = 0;
  if (cc->cl->ctx)
    rc = grpc__conn_tls(&cc->c, cc->cl->ctx, 0, cc->cl->sni,
                        cc->cl->verify_name);
  if (!rc)
    rc = grpc__conn_start(&cc->c);
  if (rc)
    cconn_fail(cc, rc);
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  struct cconn *cc = req->data;
  cc->resolving = 0;
  if (cc->c.closing) {
    uv_freeaddrinfo(res);
    if (cc->orphan)
      free(cc);
    return;
  }
  if (status < 0) {
    cconn_fail(cc, tc_error(status, "resolve '%s': %s", cc->cl->host,
                            uv_strerror(status)));
    uv_freeaddrinfo(res);
    return;
  }
  cc->creq.data = cc;
  int rc = uv_tcp_connect(&cc->creq, &cc->c.tcp, res->ai_addr, on_connect);
  uv_freeaddrinfo(res);
  if (rc < 0) {
    cconn_fail(cc, tc_error(rc, "dial tcp %s:%s: %s", cc->cl->host,
                            cc->cl->port, uv_strerror(rc)));
    return;
  }
  cc->connecting = 1;
}

static struct cconn *client_conn(struct grpc_client *cl) {
  if (cl->conn)
    return cl->conn;
  struct cconn *cc = xcalloc(1, sizeof *cc);
  cc->cl = cl;
  if (grpc__conn_init(&cc->c, cl->loop, &cconn_ops)) {
    free(cc);
    return NULL;
  }
  cc->next = cl->conns;
  if (cl->conns)
    cl->conns->prev = cc;
  cl->conns = cc;
  cl->conn = cc;
  cc->gai.data = cc;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(cl->loop, &cc->gai, on_resolved, cl->host, cl->port,
                          &hints);
  if (rc < 0) {
    cconn_fail(cc, tc_error(rc, "resolve '%s': %s", cl->host, uv_strerror(rc)));
    return NULL;
  }
  cc->resolving = 1;
  return cc;
}

/* ---------------------------------------------------------- processing */

/* Delivers one message of k if there is one: 1 delivered, 0 none. */
static int call_deliver(struct grpc_client_call *k) {
  const uint8_t *msg;
  size_t mlen, used;
  int rc = grpc__deframe((const uint8_t *)k->in.data + k->in_off,
                         k->in.len - k->in_off, k->resp_snappy, k->cl->max_recv,
                         &k->scratch, &msg, &mlen, &used);
  if (rc == 1)
    return 0;
  if (rc < 0) {
    call_set_final(k, rc == TC_ELIMIT ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL,
                   1, "%s", tc_errmsg(rc));
    call_rst(k);
    return 1;
  }
  k->in_off += used;
  if (k->in_off == k->in.len) {
    tc_buf_reset(&k->in);
    k->in_off = 0;
  } else if (k->in_off > (1u << 20) && k->in_off > k->in.len / 2) {
    memmove(k->in.data, k->in.data + k->in_off, k->in.len - k->in_off);
    k->in.len -= k->in_off;
    k->in_off = 0;
  }
  if (k->on_msg && k->on_msg(k, msg, mlen, k->data)) {
    call_set_final(k, GRPC_CANCELLED, 1, "context canceled");
    call_rst(k);
  }
  return 1;
}

static void client_process(struct grpc_client *cl) {
  if (cl->in_process)
    return;
  cl->in_process = 1;
again:
  for (struct grpc_client_call *k = cl->calls; k; k = k->next) {
    if (k->done) {
      if (call_can_free(k)) {
        call_free(k);
        goto again;
      }
      continue;
    }
    if (!k->final && k->sid < 0 && k->conn && k->conn->draining &&
        !cl->closing) {
      /* Not sent yet and the server said GOAWAY: use a new connection. */
      k->conn = client_conn(cl);
      if (!k->conn)
        call_set_final(k, GRPC_UNAVAILABLE, 1, "connection error: %s",
                       cl->last_err ? cl->last_err : "cannot connect");
    }
    if (!k->final && k->sid < 0 && k->conn && k->conn->ready) {
      submit_call(k);
      grpc__conn_kick(&k->conn->c);
    }
    if (!k->hard && !k->paused && call_deliver(k))
      goto again;
    if (k->final && (k->hard || k->in.len == k->in_off)) {
      if (!k->hard && k->in.len != k->in_off)
        continue;
      if (k->final_code == GRPC_OK && k->in.len > k->in_off) {
        k->final_code = GRPC_INTERNAL;
        free(k->final_msg);
        k->final_msg = xstrdup("grpc: truncated message at end of stream");
      }
      k->done = 1;
      if (k->on_done)
        k->on_done(k, k->final_code, k->final_msg, k->data);
      goto again;
    }
  }
  cl->in_process = 0;
  if (cl->free_pending) {
    cl->free_pending = 0;
    client_free_now(cl);
  }
}

static void on_client_kick(uv_idle_t *h) {
  struct grpc_client *cl = h->data;
  uv_idle_stop(h);
  client_process(cl);
}

/* ------------------------------------------------------------ public */

int grpc_client_new(uv_loop_t *loop, const char *target,
                    const struct grpc_client_opts *o,
                    struct grpc_client **out) {
  const char *colon = strrchr(target, ':');
  if (!colon || colon == target || !colon[1])
    return tc_error(TC_EINVAL, "grpc endpoint '%s': want host:port", target);
  struct grpc_client *cl = xcalloc(1, sizeof *cl);
  int rc = 0;
  cl->loop = loop;
  cl->host = xstrndup(target, (size_t)(colon - target));
  if (cl->host[0] == '[') {
    size_t hl = strlen(cl->host);
    if (hl >= 2 && cl->host[hl - 1] == ']') {
      memmove(cl->host, cl->host + 1, hl - 2);
      cl->host[hl - 2] = '\0';
    }
  }
  cl->port = xstrdup(colon + 1);
  cl->authority = xstrdup(target);
  cl->max_recv = o && o->max_recv_msg ? o->max_recv_msg : GRPC_MAX_MSG_DEFAULT;
  cl->keepalive_ms = o && o->keepalive_ms ? o->keepalive_ms : KEEPALIVE_MS;
  cl->keepalive_timeout_ms = o && o->keepalive_timeout_ms > 0
                                 ? o->keepalive_timeout_ms
                                 : KEEPALIVE_TIMEOUT_MS;
  if (o && o->compression && strcmp(o->compression, "none") &&
      strcmp(o->compression, "identity")) {
    if (strcmp(o->compression, "snappy")) {
      rc = tc_error(TC_EINVAL, "grpc compression '%s': want none or snappy",
                    o->compression);
      goto out;
    }
    cl->snappy = 1;
  }
  if (o && o->tls) {
    cl->tls = 1;
    if ((rc = grpc__tls_client_ctx(o->tls_cert, o->tls_key, o->tls_ca,
                                   o->tls_skip_verify, &cl->ctx)))
      goto out;
    cl->sni =
        xstrdup(o->server_name && *o->server_name ? o->server_name : cl->host);
    cl->verify_name = !o->tls_skip_verify;
  }
  uv_idle_init(loop, &cl->kick);
  cl->kick.data = cl;
out:
  if (rc) {
    free(cl->host);
    free(cl->port);
    free(cl->authority);
    free(cl);
    return rc;
  }
  *out = cl;
  return 0;
}

int grpc_client_call_start(struct grpc_client *cl, const char *path,
                           const void *req, size_t n, int64_t timeout_ms,
                           grpc_client_msg_fn *on_msg,
                           grpc_client_done_fn *on_done, void *data,
                           struct grpc_client_call **out) {
  if (cl->closing)
    return tc_error(TC_ESTATE, "grpc client is closing");
  struct grpc_client_call *k = xcalloc(1, sizeof *k);
  int rc = grpc__frame_msg(&k->req, req, n, cl->snappy, (size_t)UINT32_MAX);
  if (rc) {
    tc_buf_release(&k->req);
    free(k);
    return rc;
  }
  k->cl = cl;
  k->sid = -1;
  k->path = xstrdup(path);
  k->on_msg = on_msg;
  k->on_done = on_done;
  k->data = data;
  k->timeout_ms = timeout_ms;
  k->next = cl->calls;
  if (cl->calls)
    cl->calls->prev = k;
  cl->calls = k;
  if (timeout_ms > 0) {
    k->deadline = uv_now(cl->loop) + (uint64_t)timeout_ms;
    k->timer =
        grpc__timer_new(cl->loop, (uint64_t)timeout_ms, on_call_deadline, k);
  }
  if (!cl->conn && uv_now(cl->loop) < cl->backoff_until) {
    call_set_final(k, GRPC_UNAVAILABLE, 1, "connection error: %s",
                   cl->last_err ? cl->last_err : "in backoff");
  } else {
    k->conn = client_conn(cl);
    if (!k->conn)
      call_set_final(k, GRPC_UNAVAILABLE, 1, "connection error: %s",
                     cl->last_err ? cl->last_err : "cannot connect");
  }
  client_kick(cl);
  if (out)
    *out = k;
  return 0;
}

int grpc_client_call_startm(struct grpc_client *cl, const char *path,
                            const ProtobufCMessage *req, int64_t timeout_ms,
                            grpc_client_msg_fn *on_msg,
                            grpc_client_done_fn *on_done, void *data,
                            struct grpc_client_call **out) {
  size_t n = protobuf_c_message_get_packed_size(req);
  uint8_t *p = xmalloc(n ? n : 1);
  protobuf_c_message_pack(req, p);
  int rc = grpc_client_call_start(cl, path, p, n, timeout_ms, on_msg, on_done,
                                  data, out);
  free(p);
  return rc;
}

static void on_kick_closed(uv_handle_t *h) {
  struct grpc_client *cl = h->data;
  cl->kick_closed = 1;
  client_maybe_gone(cl);
}

static void client_maybe_gone(struct grpc_client *cl) {
  if (!cl->freeing || !cl->kick_closed || cl->conns)
    return;
  if (cl->ctx)
    SSL_CTX_free(cl->ctx);
  free(cl->host);
  free(cl->port);
  free(cl->authority);
  free(cl->sni);
  free(cl->last_err);
  free(cl);
}

static void client_free_now(struct grpc_client *cl) {
  for (struct grpc_client_call *k = cl->calls; k; k = k->next)
    if (!k->final)
      call_set_final(k, GRPC_CANCELLED, 1, "grpc client closing");
  client_process(cl);
  while (cl->calls) {
    cl->calls->done = 1;
    cl->calls->conn = NULL;
    call_free(cl->calls);
  }
  cl->freeing = 1;
  uv_idle_stop(&cl->kick);
  uv_close((uv_handle_t *)&cl->kick, on_kick_closed);
  for (struct cconn *cc = cl->conns; cc; cc = cc->next) {
    cc->c.errored = 1;
    if (cc->resolving)
      uv_cancel((uv_req_t *)&cc->gai);
    grpc__conn_close(&cc->c);
  }
}

void grpc_client_free(struct grpc_client *cl) {
  if (!cl || cl->closing)
    return;
  cl->closing = 1;
  if (cl->in_process) { /* called from on_msg/on_done: finish afterwards */
    cl->free_pending = 1;
    return;
  }
  client_free_now(cl);
}
