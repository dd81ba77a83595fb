/*
 * server.c - the gRPC server: accepts h2c or TLS (ALPN h2) connections,
 * maps each HTTP/2 stream to a call of a method from the role's table, and
 * streams the handler's responses back under HTTP/2 flow control.
 *
 * A call lives in its connection's list from its HEADERS until both sides
 * are done: the stream is closed (or the connection gone) and the handler
 * has called grpc_call_finish(). Handlers and user callbacks never run
 * inside nghttp2 callbacks: nghttp2 callbacks only set flags, and
 * server_after_recv() (after each read, write completion or kick) runs the
 * handlers, the cancel and writable callbacks, and frees finished calls.
 *
 * Output of a call is a queue of framed messages; nghttp2 pulls from it
 * through a data provider as the peer's window allows. The handler learns
 * about room through grpc_call_writable() and the on_writable callback, so
 * a slow or stuck peer holds at most the high-water mark per call plus the
 * socket buffer of the connection.
 *
 * The queue is a list of segments: small messages are framed into an open
 * one, grpc_call_send_framed() adds the caller's buffer as it is. DATA
 * frames use NGHTTP2_DATA_FLAG_NO_COPY: send_data() puts the frame header
 * and the payload into the connection's output itself, copying from an
 * open segment and borrowing from a sealed one, whose bytes then go from
 * the handler's batch to the socket without a copy.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>

#include "grpc/internal.h"
#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/grpc.h"
#include "thanosc/log.h"
#include "thanosc/metrics.h"

#define OUT_HIGH (256u << 10) /* writable() turns false above */
#define OUT_LOW (64u << 10)   /* on_writable fires below */
#define OUT_HARD (64u << 20) /* send() refuses above */
#define SEG_MAX (64u << 10)   /* small messages framed into one segment */
#define SPARE_MAX (1u << 20)  /* larger sent segments are freed */
#define MD_MAX 16384         /* request metadata bytes */

enum hstate { H_NONE, H_READY, H_RUNNING, H_DONE };

struct md {
  char *name, *value;
};

struct sconn;

/* A piece of a call's output: framed messages, sent from off on. A
 * sealed one (the caller's batch) is written without a copy and lives
 * until the last write that borrows from it is done (refs). */
struct oseg {
  struct oseg *next;
  struct tc_buf b;
  size_t off;
  int sealed; /* the caller's buffer (send_framed): nothing appended */
  int refs;   /* the call's queue, writes in flight */
};

struct grpc_call {
  struct grpc_server *srv;
  struct sconn *conn; /* NULL once the connection is gone */
  int32_t sid;
  const struct grpc_method *m;
  char *path;
  char *encoding; /* request grpc-encoding */
  int snappy;
  int content_type_ok;
  int64_t timeout_ms; /* -1: none */
  uint64_t deadline;  /* uv_now() ms, when timeout_ms >= 0 */
  uv_timer_t *timer;
  struct md *md;
  size_t nmd, capmd, mdbytes;
  struct tc_buf in;      /* request bytes */
  struct tc_buf scratch; /* decompressed request */
  struct oseg *out, *out_tail; /* framed responses */
  size_t out_bytes;             /* queued, not yet given to nghttp2 */
  struct tc_buf spare;          /* a sent segment's memory, for reuse */
  enum hstate hstate;
  int req_ended;
  int closed;
  int wire_done;
  int headers_sent;
  int eof_pending;
  int sent_msgs;
  int code; /* the status sent */
  char *msg;
  int metrics_done;
  atomic_int cancelled;
  int cancel_pending;
  int writable_due;
  grpc_call_event_fn *on_writable, *on_cancel;
  void *data;
  uint64_t start_ns;
  struct grpc_call *next, *prev;
};

struct sconn {
  struct grpc__conn c;
  struct grpc_server *srv;
  struct grpc_call *calls;
  struct sconn *next, *prev;
};

struct grpc_server {
  uv_loop_t *loop;
  const struct grpc_method *table;
  size_t max_recv, max_send;
  int64_t grace_ms;
  SSL_CTX *ctx;
  uv_tcp_t listener;
  int port;
  struct sconn *conns;
  size_t nrunning; /* handlers started and not finished */
  int stopping;
  int listener_closed;
  uv_timer_t grace;
  int grace_started, grace_closed, stop_done;
  grpc_server_stop_fn *stop_cb;
  void *stop_data;
};

/* ------------------------------------------------------------ metrics */

static struct metric *m_started, *m_handled, *m_seconds, *m_msg_recv,
    *m_msg_sent;

static void metrics_init(void) {
  static const double buckets[] = {0.001, 0.01, 0.1, 0.3, 0.6, 1,   3,   6,  9,
                                   20,    30,   60,  90,  120, 240, 360, 720};
  if (m_started)
    return;
  m_started = metric_counter("grpc_server_started_total",
                             "Total number of RPCs started on the server.",
                             "grpc_method,grpc_service,grpc_type");
  m_handled = metric_counter("grpc_server_handled_total",
                             "Total number of RPCs completed on the server, "
                             "regardless of success or failure.",
                             "grpc_code,grpc_method,grpc_service,grpc_type");
  m_seconds = metric_histogram(
      "grpc_server_handling_seconds",
      "Histogram of response latency (seconds) of gRPC that had been "
      "application-level handled by the server.",
      "grpc_method,grpc_service,grpc_type", buckets, TC_ARRAY_SIZE(buckets));
  m_msg_recv = metric_counter("grpc_server_msg_received_total",
                              "Total number of RPC stream messages received "
                              "on the server.",
                              "grpc_method,grpc_service,grpc_type");
  m_msg_sent = metric_counter("grpc_server_msg_sent_total",
                              "Total number of gRPC stream messages sent by "
                              "the server.",
                              "grpc_method,grpc_service,grpc_type");
}

/* Splits "/pkg.Service/Method" into service and method (static storage). */
static void split_path(const char *path, char *svc, size_t ns, char *meth,
                       size_t nm) {
  const char *p = path[0] == '/' ? path + 1 : path;
  const char *slash = strchr(p, '/');
  if (!slash) {
    snprintf(svc, ns, "%s", p);
    snprintf(meth, nm, "%s", "");
    return;
  }
  snprintf(svc, ns, "%.*s", (int)(slash - p), p);
  snprintf(meth, nm, "%s", slash + 1);
}

static const char *type_name(const struct grpc_method *m) {
  return m->type == GRPC_UNARY ? "unary" : "server_stream";
}

static void metrics_started(struct grpc_call *c) {
  char svc[128], meth[128];
  split_path(c->m->path, svc, sizeof svc, meth, sizeof meth);
  metric_inc(metric_with(m_started, meth, svc, type_name(c->m)));
  metric_inc(metric_with(m_msg_recv, meth, svc, type_name(c->m)));
}

static void metrics_handled(struct grpc_call *c, int code) {
  if (c->metrics_done || !c->m || c->hstate == H_NONE)
    return;
  c->metrics_done = 1;
  char svc[128], meth[128];
  split_path(c->m->path, svc, sizeof svc, meth, sizeof meth);
  metric_inc(
      metric_with(m_handled, grpc_code_name(code), meth, svc, type_name(c->m)));
  double secs = (double)(uv_hrtime() - c->start_ns) / 1e9;
  metric_observe(metric_with(m_seconds, meth, svc, type_name(c->m)), secs);
  /* Added once at the end rather than per message: same totals, no label
   * lookup on the streaming hot path. */
  if (c->sent_msgs)
    metric_add(metric_with(m_msg_sent, meth, svc, type_name(c->m)),
               c->sent_msgs);
}

/* ---------------------------------------------------------- call basics */

static void server_check_stopped(struct grpc_server *s);

static void call_unlink(struct grpc_call *c) {
  if (!c->conn)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->conn->calls = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->next = c->prev = NULL;
  c->conn = NULL;
}

static void oseg_unref(void *arg) {
  struct oseg *g = arg;
  if (--g->refs > 0)
    return;
  tc_buf_release(&g->b);
  free(g);
}

static void call_free(struct grpc_call *c) {
  call_unlink(c);
  grpc__timer_free(c->timer);
  for (size_t i = 0; i < c->nmd; i++) {
    free(c->md[i].name);
    free(c->md[i].value);
  }
  free(c->md);
  free(c->path);
  free(c->encoding);
  free(c->msg);
  tc_buf_release(&c->in);
  tc_buf_release(&c->scratch);
  while (c->out) {
    struct oseg *g = c->out;
    c->out = g->next;
    oseg_unref(g);
  }
  tc_buf_release(&c->spare);
  free(c);
}

static int call_can_free(const struct grpc_call *c) {
  return c->closed && c->hstate != H_RUNNING && c->hstate != H_READY &&
         !c->cancel_pending;
}

static nghttp2_session *call_h2(const struct grpc_call *c) {
  return c->conn && !c->conn->c.closing ? c->conn->c.h2 : NULL;
}

static void call_kick(struct grpc_call *c) {
  if (c->conn)
    grpc__conn_kick(&c->conn->c);
}

/* Marks the call cancelled for its handler (once). */
static void call_cancel(struct grpc_call *c) {
  if (atomic_load(&c->cancelled))
    return;
  atomic_store(&c->cancelled, 1);
  if (c->hstate == H_RUNNING)
    c->cancel_pending = 1;
  else if (c->hstate == H_READY || c->hstate == H_NONE)
    c->hstate = H_DONE;
}

/* Drops the sent head segment, keeping its memory as the spare unless
 * writes still borrow it. */
static void out_pop(struct grpc_call *c) {
  struct oseg *g = c->out;
  c->out = g->next;
  if (!c->out)
    c->out_tail = NULL;
  if (g->refs == 1 && !c->spare.data && g->b.cap <= SPARE_MAX) {
    tc_buf_reset(&g->b);
    c->spare = g->b;
    tc_buf_init(&g->b, 0);
  }
  oseg_unref(g);
}

/* Data provider: claims up to length queued bytes for one DATA frame,
 * which send_data() then writes (NO_COPY); adds the trailers at the end. */
static ssize_t call_read(nghttp2_session *h2, int32_t sid, uint8_t *buf,
                         size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud) {
  struct grpc_call *c = src->ptr;
  size_t n = c->out_bytes < length ? c->out_bytes : length;
  c->out_bytes -= n;
  if (n)
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (c->on_writable && c->out_bytes < OUT_LOW && !c->writable_due) {
    c->writable_due = 1;
    call_kick(c);
  }
  if (c->out_bytes > 0)
    return (ssize_t)n;
  if (!c->eof_pending)
    return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
  *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
  char code[16];
  snprintf(code, sizeof code, "%d", c->code);
  char *enc = c->msg ? grpc_percent_encode(c->msg) : NULL;
  nghttp2_nv nv[2] = {GRPC__NV("grpc-status", code)};
  size_t nnv = 1;
  if (enc && *enc)
    nv[nnv++] = (nghttp2_nv)GRPC__NV("grpc-message", enc);
  nghttp2_submit_trailer(h2, sid, nv, nnv);
  free(enc);
  c->eof_pending = 0;
  return (ssize_t)n;
}

/* Writes one DATA frame claimed by call_read(): the 9-byte header, then
 * length bytes from the head segments (we never ask for padding). */
static int send_data(nghttp2_session *h2, nghttp2_frame *f,
                     const uint8_t *hd, size_t length,
                     nghttp2_data_source *src, void *ud) {
  struct sconn *sc = ud;
  struct grpc_call *c = src->ptr;
  if (grpc__conn_out(&sc->c, hd, 9))
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  while (length) {
    struct oseg *g = c->out;
    size_t k = TC_MIN(length, g->b.len - g->off);
    int rc;
    if (g->sealed) {
      g->refs++;
      rc = grpc__conn_out_ref(&sc->c, g->b.data + g->off, k, oseg_unref, g);
    } else {
      rc = grpc__conn_out(&sc->c, g->b.data + g->off, k);
    }
    if (rc)
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    g->off += k;
    length -= k;
    if (g->off == g->b.len) {
      if (g == c->out_tail && !g->sealed) {
        g->off = 0; /* the open segment: reuse it */
        tc_buf_reset(&g->b);
      } else {
        out_pop(c);
      }
    }
  }
  return 0;
}

/* Sends the status: trailers after the data, or Trailers-Only. */
static void call_end_wire(struct grpc_call *c, int code, const char *msg) {
  if (c->wire_done)
    return;
  c->wire_done = 1;
  c->code = code;
  free(c->msg);
  c->msg = msg && *msg ? xstrdup(msg) : NULL;
  metrics_handled(c, code);
  nghttp2_session *h2 = call_h2(c);
  if (!h2 || c->closed)
    return;
  if (c->headers_sent) {
    c->eof_pending = 1;
    nghttp2_session_resume_data(h2, c->sid);
  } else {
    char cs[16];
    snprintf(cs, sizeof cs, "%d", code);
    char *enc = c->msg ? grpc_percent_encode(c->msg) : NULL;
    nghttp2_nv nv[4] = {GRPC__NV(":status", "200"),
                        GRPC__NV("content-type", "application/grpc"),
                        GRPC__NV("grpc-status", cs)};
    size_t nnv = 3;
    if (enc && *enc)
      nv[nnv++] = (nghttp2_nv)GRPC__NV("grpc-message", enc);
    nghttp2_submit_response(h2, c->sid, nv, nnv, NULL);
    free(enc);
    c->headers_sent = 1;
  }
  call_kick(c);
}

static void call_fail(struct grpc_call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_fail(struct grpc_call *c, int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  call_end_wire(c, code, msg);
  call_cancel(c);
}

static void on_deadline(uv_timer_t *t) {
  struct grpc_call *c = t->data;
  if (c->wire_done || c->closed)
    return;
  call_fail(c, GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
  call_kick(c);
}

/* ------------------------------------------------------ public call API */

uv_loop_t *grpc_call_loop(const struct grpc_call *c) {
  return c->srv->loop;
}
void grpc_call_set_data(struct grpc_call *c, void *data) {
  c->data = data;
}
void *grpc_call_data(const struct grpc_call *c) {
  return c->data;
}
const struct grpc_method *grpc_call_method(const struct grpc_call *c) {
  return c->m;
}

const char *grpc_call_metadata(const struct grpc_call *c, const char *name) {
  for (size_t i = 0; i < c->nmd; i++)
    if (!strcmp(c->md[i].name, name))
      return c->md[i].value;
  return NULL;
}

int64_t grpc_call_time_left_ms(const struct grpc_call *c) {
  if (c->timeout_ms < 0)
    return INT64_MAX;
  uint64_t now = uv_now(c->srv->loop);
  return now >= c->deadline ? 0 : (int64_t)(c->deadline - now);
}

int grpc_call_cancelled(const struct grpc_call *c) {
  return atomic_load(&c->cancelled);
}

int grpc_call_writable(const struct grpc_call *c) {
  return !atomic_load(&c->cancelled) && !c->wire_done &&
         c->out_bytes < OUT_HIGH;
}

void grpc_call_on_writable(struct grpc_call *c, grpc_call_event_fn *fn) {
  c->on_writable = fn;
  if (fn && c->out_bytes < OUT_LOW) {
    c->writable_due = 1;
    call_kick(c);
  }
}

void grpc_call_on_cancel(struct grpc_call *c, grpc_call_event_fn *fn) {
  c->on_cancel = fn;
  if (fn && atomic_load(&c->cancelled) && c->hstate == H_RUNNING) {
    c->cancel_pending = 1;
    call_kick(c);
  }
}

/* Whether a message may be queued now; 0 or the error to return. */
static int send_check(const struct grpc_call *c) {
  if (c->hstate != H_RUNNING)
    return tc_error(TC_ESTATE, "grpc: send after finish");
  if (atomic_load(&c->cancelled) || c->wire_done || c->closed || !call_h2(c))
    return tc_error(TC_ECANCELED, "grpc: call cancelled");
  if (c->m->type == GRPC_UNARY && c->sent_msgs)
    return tc_error(TC_ESTATE, "grpc: second response on unary call");
  if (c->out_bytes > OUT_HARD)
    return tc_error(TC_ELIMIT, "grpc: send queue over %u bytes", OUT_HARD);
  return 0;
}

static struct oseg *out_append(struct grpc_call *c, struct tc_buf *b,
                               int sealed) {
  struct oseg *g = xcalloc(1, sizeof *g);
  g->b = *b;
  tc_buf_init(b, 0);
  g->sealed = sealed;
  g->refs = 1;
  if (c->out_tail)
    c->out_tail->next = g;
  else
    c->out = g;
  c->out_tail = g;
  return g;
}

/* The response headers with the first message, then nghttp2 is told. */
static void out_queued(struct grpc_call *c) {
  nghttp2_session *h2 = call_h2(c);
  if (!c->headers_sent) {
    nghttp2_nv nv[3] = {GRPC__NV(":status", "200"),
                        GRPC__NV("content-type", "application/grpc"),
                        GRPC__NV("grpc-encoding", "snappy")};
    nghttp2_data_provider prd = {.source.ptr = c, .read_callback = call_read};
    nghttp2_submit_response(h2, c->sid, nv, c->snappy ? 3 : 2, &prd);
    c->headers_sent = 1;
  } else {
    nghttp2_session_resume_data(h2, c->sid);
  }
  call_kick(c);
}

int grpc_call_send_bytes(struct grpc_call *c, const void *p, size_t n) {
  int rc = send_check(c);
  if (rc)
    return rc;
  struct oseg *g = c->out_tail;
  if (!g || g->sealed || g->b.len >= SEG_MAX) {
    struct tc_buf b = c->spare;
    tc_buf_init(&c->spare, 0);
    g = out_append(c, &b, 0);
  }
  size_t at = g->b.len;
  if ((rc = grpc__frame_msg(&g->b, p, n, c->snappy, c->srv->max_send)))
    return rc;
  c->out_bytes += g->b.len - at;
  c->sent_msgs++;
  out_queued(c);
  return 0;
}

int grpc_call_send_framed(struct grpc_call *c, struct tc_buf *b) {
  int rc = send_check(c);
  if (rc)
    return rc;
  /* Check the framing and count the messages. */
  size_t nmsg = 0;
  for (size_t at = 0; at < b->len; nmsg++) {
    const uint8_t *h = (const uint8_t *)b->data + at;
    size_t n = b->len - at < 5 ? SIZE_MAX
                               : (size_t)h[1] << 24 | (size_t)h[2] << 16 |
                                     (size_t)h[3] << 8 | h[4];
    if (n == SIZE_MAX || h[0] != 0 || n > b->len - at - 5)
      return tc_error(TC_EINVAL, "grpc: badly framed messages");
    if (n > c->srv->max_send)
      return tc_error(TC_ELIMIT, "grpc: message larger than max (%zu vs. "
                                 "%zu)", n, c->srv->max_send);
    at += 5 + n;
  }
  if (!nmsg)
    return 0;
  if (c->m->type == GRPC_UNARY && nmsg > 1)
    return tc_error(TC_ESTATE, "grpc: second response on unary call");
  if (c->snappy) { /* compressed one by one: a copy anyway */
    for (size_t at = 0; at < b->len;) {
      const uint8_t *h = (const uint8_t *)b->data + at;
      size_t n = (size_t)h[1] << 24 | (size_t)h[2] << 16 |
                 (size_t)h[3] << 8 | h[4];
      if ((rc = grpc_call_send_bytes(c, h + 5, n)))
        return rc;
      at += 5 + n;
    }
    tc_buf_reset(b);
    return 0;
  }
  c->out_bytes += b->len;
  c->sent_msgs += (int)nmsg;
  out_append(c, b, 1);
  *b = c->spare; /* recycled memory for the caller's next batch */
  tc_buf_init(&c->spare, 0);
  out_queued(c);
  return 0;
}

int grpc_call_send(struct grpc_call *c, const ProtobufCMessage *msg) {
  size_t n = protobuf_c_message_get_packed_size(msg);
  uint8_t stackbuf[512];
  uint8_t *p = n <= sizeof stackbuf ? stackbuf : xmalloc(n);
  protobuf_c_message_pack(msg, p);
  int rc = grpc_call_send_bytes(c, p, n);
  if (p != stackbuf)
    free(p);
  return rc;
}

void grpc_call_finish(struct grpc_call *c, int code, const char *fmt, ...) {
  char msg[1024] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
  }
  if (c->hstate != H_RUNNING)
    TC_BUG("grpc_call_finish on a call that is not running");
  c->hstate = H_DONE;
  c->on_writable = NULL;
  c->on_cancel = NULL;
  c->cancel_pending = 0;
  c->srv->nrunning--;
  if (!atomic_load(&c->cancelled))
    call_end_wire(c, code, msg);
  else
    metrics_handled(c, c->wire_done ? c->code : GRPC_CANCELLED);
  struct grpc_server *s = c->srv;
  if (!c->conn) {
    if (call_can_free(c))
      call_free(c);
  } else {
    call_kick(c);
  }
  server_check_stopped(s);
}

void grpc_call_reply(struct grpc_call *c, const ProtobufCMessage *msg) {
  int rc = grpc_call_send(c, msg);
  if (rc)
    grpc_call_finish(c, grpc_code_from_tc(rc), "%s", tc_errmsg(rc));
  else
    grpc_call_finish(c, GRPC_OK, NULL);
}

void *grpc_call_unpack(struct grpc_call *c,
                       const ProtobufCMessageDescriptor *d, const uint8_t *req,
                       size_t len) {
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, req);
  if (!m)
    grpc_call_finish(c, GRPC_INVALID_ARGUMENT, "unmarshal %s", d->short_name);
  return m;
}

/* ------------------------------------------------- request processing */

/* grpc.health.v1.Health/Check, served unless the table has its own:
 * SERVING (1) for "" or a service of the table, NOT_SERVING (2) while
 * stopping, NOT_FOUND for other services, as grpc-go's health server. */
static void health_check(struct grpc_call *c, const uint8_t *req, size_t len,
                         void *data) {
  struct grpc_server *s = c->srv;
  struct decbuf d = decbuf_make(req, len);
  const char *svc = "";
  size_t svclen = 0;
  while (decbuf_len(&d) > 0 && !d.err) {
    uint64_t tag = decbuf_uvarint(&d);
    if (tag == 0x0a) {
      svc = decbuf_uvarint_str(&d, &svclen);
    } else if ((tag & 7) == 0) {
      decbuf_uvarint(&d);
    } else if ((tag & 7) == 2) {
      decbuf_skip(&d, decbuf_uvarint(&d));
    } else {
      d.err = TC_ECORRUPT;
    }
  }
  if (d.err) {
    grpc_call_finish(c, GRPC_INTERNAL, "grpc: error unmarshalling request");
    return;
  }
  int known = svclen == 0;
  for (const struct grpc_method *m = s->table; m->path && !known; m++) {
    const char *p = m->path + 1, *slash = strchr(p, '/');
    known = slash && (size_t)(slash - p) == svclen && !memcmp(p, svc, svclen);
  }
  if (!known) {
    grpc_call_finish(c, GRPC_NOT_FOUND, "unknown service");
    return;
  }
  uint8_t resp[2] = {0x08, s->stopping ? 2 : 1};
  int rc = grpc_call_send_bytes(c, resp, sizeof resp);
  grpc_call_finish(c, grpc_code_from_tc(rc), rc ? "%s" : NULL, tc_errmsg(rc));
}

static const struct grpc_method health_method = {
    "/grpc.health.v1.Health/Check", GRPC_UNARY, health_check, NULL};

static const struct grpc_method *method_find(struct grpc_server *s,
                                             const char *path) {
  for (const struct grpc_method *m = s->table; m->path; m++)
    if (!strcmp(m->path, path))
      return m;
  if (!strcmp(path, health_method.path))
    return &health_method;
  return NULL;
}

/* The request headers are complete: route, check, arm the deadline. */
static void call_headers_done(struct grpc_call *c) {
  struct grpc_server *s = c->srv;
  if (!c->path) {
    call_fail(c, GRPC_INTERNAL, "malformed method name: \"\"");
    return;
  }
  if (!c->content_type_ok) {
    nghttp2_session *h2 = call_h2(c);
    nghttp2_nv nv[2] = {GRPC__NV(":status", "415"),
                        GRPC__NV("content-type", "text/plain")};
    c->wire_done = c->headers_sent = 1;
    nghttp2_submit_response(h2, c->sid, nv, 2, NULL);
    call_cancel(c);
    return;
  }
  c->m = method_find(s, c->path);
  if (!c->m) {
    char svc[128], meth[128];
    split_path(c->path, svc, sizeof svc, meth, sizeof meth);
    int known = 0;
    for (const struct grpc_method *m = s->table; m->path; m++) {
      char s2[128], m2[128];
      split_path(m->path, s2, sizeof s2, m2, sizeof m2);
      known |= !strcmp(s2, svc);
    }
    if (known) {
      call_fail(c, GRPC_UNIMPLEMENTED, "unknown method %s for service %s", meth,
                svc);
      return;
    }
    call_fail(c, GRPC_UNIMPLEMENTED, "unknown service %s", svc);
    return;
  }
  if (c->encoding && strcmp(c->encoding, "identity")) {
    if (strcmp(c->encoding, "snappy")) {
      call_fail(c, GRPC_UNIMPLEMENTED,
                "grpc: Decompressor is not installed for "
                "grpc-encoding \"%s\"",
                c->encoding);
      return;
    }
    c->snappy = 1;
  }
  c->start_ns = uv_hrtime();
  if (c->timeout_ms >= 0) {
    c->deadline = uv_now(s->loop) + (uint64_t)c->timeout_ms;
    c->timer =
        grpc__timer_new(s->loop, (uint64_t)c->timeout_ms, on_deadline, c);
  }
}

/* The request stream ended: exactly one message must be there. */
static void call_request_done(struct grpc_call *c) {
  c->req_ended = 1;
  if (c->wire_done || !c->m)
    return;
  const uint8_t *msg;
  size_t mlen, used;
  int rc = grpc__deframe((const uint8_t *)c->in.data, c->in.len, c->snappy,
                         c->srv->max_recv, &c->scratch, &msg, &mlen, &used);
  if (rc == 1) {
    call_fail(c, GRPC_INTERNAL,
              "grpc: client streaming protocol "
              "violation: get <nil>, want 1 message");
    return;
  }
  if (rc < 0) {
    call_fail(c, rc == TC_ELIMIT ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL,
              "%s", tc_errmsg(rc));
    return;
  }
  if (used != c->in.len) {
    call_fail(c, GRPC_INTERNAL,
              "grpc: client streaming protocol "
              "violation: get more than one message");
    return;
  }
  c->hstate = H_READY;
}

/* ------------------------------------------------------ nghttp2 hooks */

static struct grpc_call *stream_call(nghttp2_session *h2, int32_t sid) {
  return nghttp2_session_get_stream_user_data(h2, sid);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f,
                            void *ud) {
  struct sconn *sc = ud;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  struct grpc_call *c = xcalloc(1, sizeof *c);
  c->srv = sc->srv;
  c->conn = sc;
  c->sid = f->hd.stream_id;
  c->timeout_ms = -1;
  tc_buf_init(&c->in, 0);
  tc_buf_init(&c->scratch, 0);
  c->next = sc->calls;
  if (sc->calls)
    sc->calls->prev = c;
  sc->calls = c;
  nghttp2_session_set_stream_user_data(h2, c->sid, c);
  return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *ud) {
  if (f->hd.type != NGHTTP2_HEADERS)
    return 0;
  struct grpc_call *c = stream_call(h2, f->hd.stream_id);
  if (!c || f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  c->mdbytes += nlen + vlen + 32;
  if (c->mdbytes > MD_MAX)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
  const char *n = (const char *)name, *v = (const char *)value;
  if (!strcmp(n, ":path")) {
    free(c->path);
    c->path = xstrndup(v, vlen);
  } else if (!strcmp(n, "content-type")) {
    c->content_type_ok = !strncmp(v, "application/grpc", 16) &&
                         (v[16] == '\0' || v[16] == '+' || v[16] == ';');
  } else if (!strcmp(n, "grpc-encoding")) {
    free(c->encoding);
    c->encoding = xstrndup(v, vlen);
  } else if (!strcmp(n, "grpc-timeout")) {
    int64_t ms;
    if (grpc_timeout_parse(v, &ms) == 0)
      c->timeout_ms = ms;
  } else if (n[0] != ':') {
    TC_GROW(c->md, c->capmd, c->nmd + 1);
    c->md[c->nmd].name = xstrndup(n, nlen);
    c->md[c->nmd].value = xstrndup(v, vlen);
    c->nmd++;
  }
  return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f,
                         void *ud) {
  if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
    return 0;
  struct grpc_call *c = stream_call(h2, f->hd.stream_id);
  if (!c)
    return 0;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
    call_headers_done(c);
  if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
    call_request_done(c);
  return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t sid,
                         const uint8_t *data, size_t len, void *ud) {
  struct grpc_call *c = stream_call(h2, sid);
  if (!c || c->wire_done)
    return 0;
  /* Bound the buffered request: its first message's prefix says how much
   * may come; anything beyond it is a protocol error anyway. */
  if (c->in.len + len > 5 && c->in.len < 5) {
    uint8_t hdr[5];
    size_t have = c->in.len;
    memcpy(hdr, c->in.data ? c->in.data : "", have);
    memcpy(hdr + have, data, 5 - have);
    size_t n = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 |
               (size_t)hdr[3] << 8 | hdr[4];
    if (n > c->srv->max_recv) {
      call_fail(c, GRPC_RESOURCE_EXHAUSTED,
                "grpc: received message larger than max (%zu vs. %zu)", n,
                c->srv->max_recv);
      tc_buf_release(&c->in);
      return 0;
    }
  }
  if (c->in.len >= 5) {
    size_t n = (size_t)(uint8_t)c->in.data[1] << 24 |
               (size_t)(uint8_t)c->in.data[2] << 16 |
               (size_t)(uint8_t)c->in.data[3] << 8 | (uint8_t)c->in.data[4];
    if (c->in.len + len > n + 5 + 5) {
      call_fail(c, GRPC_INTERNAL,
                "grpc: client streaming protocol "
                "violation: get more than one message");
      tc_buf_release(&c->in);
      return 0;
    }
  }
  tc_buf_add(&c->in, data, len);
  return 0;
}

/* Once the status is out while the client is still sending (an early
 * error), reset the stream so that it stops; as grpc-go does. */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f,
                         void *ud) {
  if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  struct grpc_call *c = stream_call(h2, f->hd.stream_id);
  if (c && !c->req_ended && !c->closed)
    nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, c->sid, NGHTTP2_NO_ERROR);
  return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t sid, uint32_t err,
                           void *ud) {
  struct grpc_call *c = stream_call(h2, sid);
  if (!c)
    return 0;
  nghttp2_session_set_stream_user_data(h2, sid, NULL);
  c->closed = 1;
  if (!c->wire_done) {
    c->wire_done = 1;
    c->code = GRPC_CANCELLED;
    if (c->hstate == H_RUNNING)
      ; /* metrics recorded at finish */
    else
      metrics_handled(c, GRPC_CANCELLED);
  }
  call_cancel(c);
  call_kick(c);
  return 0;
}

/* Runs what nghttp2 callbacks flagged: handlers, cancel and writable
 * callbacks, frees. Restarts after each user callback since it may change
 * the list. */
static void server_after_recv(struct grpc__conn *gc) {
  struct sconn *sc = tc_container_of(gc, struct sconn, c);
  struct grpc_server *s = sc->srv;
again:
  for (struct grpc_call *c = sc->calls; c; c = c->next) {
    if (c->hstate == H_READY) {
      c->hstate = H_RUNNING;
      s->nrunning++;
      metrics_started(c);
      const uint8_t *msg = NULL;
      size_t mlen = 0, used;
      grpc__deframe((const uint8_t *)c->in.data, c->in.len, c->snappy,
                    s->max_recv, &c->scratch, &msg, &mlen, &used);
      c->m->handler(c, msg, mlen, c->m->data);
      if (c->conn == sc) { /* may already be freed if detached */
        tc_buf_release(&c->in);
        tc_buf_release(&c->scratch);
      }
      goto again;
    }
    if (c->cancel_pending) {
      c->cancel_pending = 0;
      grpc_call_event_fn *fn = c->on_cancel;
      c->on_cancel = NULL;
      c->on_writable = NULL;
      if (fn) {
        fn(c);
        goto again;
      }
    }
    if (c->writable_due) {
      c->writable_due = 0;
      grpc_call_event_fn *fn = c->on_writable;
      c->on_writable = NULL;
      if (fn && c->hstate == H_RUNNING && !atomic_load(&c->cancelled)) {
        fn(c);
        goto again;
      }
    }
    if (call_can_free(c)) {
      call_free(c);
      goto again;
    }
  }
}

/* ---------------------------------------------------------- connections */

static void sconn_on_error(struct grpc__conn *gc, int rc) {
  struct sconn *sc = tc_container_of(gc, struct sconn, c);
  if (rc < 0)
    LOG_DEBUG("grpc connection error", "err", tc_errmsg(rc));
  /* Detach every call: the streams are gone with the connection. */
  struct grpc_call *c = sc->calls;
  sc->calls = NULL;
  while (c) {
    struct grpc_call *next = c->next;
    c->next = c->prev = NULL;
    c->conn = NULL;
    c->closed = 1;
    if (!c->wire_done) {
      c->wire_done = 1;
      if (c->hstate != H_RUNNING)
        metrics_handled(c, GRPC_CANCELLED);
    }
    int was_running = c->hstate == H_RUNNING;
    call_cancel(c);
    if (was_running && c->on_cancel) {
      grpc_call_event_fn *fn = c->on_cancel;
      c->on_cancel = NULL;
      c->cancel_pending = 0;
      fn(c); /* may finish and free c */
    } else {
      c->cancel_pending = 0;
      if (call_can_free(c))
        call_free(c);
    }
    c = next;
  }
}

static void sconn_on_closed(struct grpc__conn *gc) {
  struct sconn *sc = tc_container_of(gc, struct sconn, c);
  struct grpc_server *s = sc->srv;
  if (sc->prev)
    sc->prev->next = sc->next;
  else
    s->conns = sc->next;
  if (sc->next)
    sc->next->prev = sc->prev;
  free(sc);
  server_check_stopped(s);
}

static const struct grpc__conn_ops sconn_ops = {
    .after_recv = server_after_recv,
    .on_error = sconn_on_error,
    .on_closed = sconn_on_closed,
};

static int sconn_session(struct sconn *sc) {
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
  nghttp2_option *opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_max_send_header_block_length(opt, 65536);
  int rv = nghttp2_session_server_new2(&sc->c.h2, cb, sc, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv)
    return tc_error(TC_EPROTO, "http2: %s", nghttp2_strerror(rv));
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MD_MAX},
  };
  nghttp2_submit_settings(sc->c.h2, NGHTTP2_FLAG_NONE, iv, TC_ARRAY_SIZE(iv));
  nghttp2_session_set_local_window_size(sc->c.h2, NGHTTP2_FLAG_NONE, 0,
                                        16 << 20);
  return 0;
}

static void on_connection(uv_stream_t *l, int status) {
  struct grpc_server *s = l->data;
  if (status < 0 || s->stopping)
    return;
  struct sconn *sc = xcalloc(1, sizeof *sc);
  sc->srv = s;
  if (grpc__conn_init(&sc->c, s->loop, &sconn_ops)) {
    free(sc);
    return;
  }
  sc->next = s->conns;
  if (s->conns)
    s->conns->prev = sc;
  s->conns = sc;
  int rc = uv_accept(l, (uv_stream_t *)&sc->c.tcp);
  if (!rc && s->ctx)
    rc = grpc__conn_tls(&sc->c, s->ctx, 1, NULL, 0);
  if (!rc)
    rc = sconn_session(sc);
  if (!rc)
    rc = grpc__conn_start(&sc->c);
  if (rc) {
    LOG_WARN("grpc accept", "err", tc_errmsg(rc));
    sc->c.errored = 1;
    grpc__conn_close(&sc->c);
    return;
  }
  uv_tcp_nodelay(&sc->c.tcp, 1);
  grpc__conn_flush(&sc->c);
}

/* ------------------------------------------------------------- server */

static int parse_listen(const char *addr, struct sockaddr_storage *ss) {
  const char *colon = strrchr(addr, ':');
  if (!colon)
    return tc_error(TC_EINVAL, "grpc address '%s': missing port", addr);
  char host[256];
  size_t hl = (size_t)(colon - addr);
  if (hl >= sizeof host)
    return tc_error(TC_EINVAL, "grpc address '%s': host too long", addr);
  memcpy(host, addr, hl);
  host[hl] = '\0';
  char *h = host;
  if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
    h[hl - 1] = '\0';
    h++;
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || port < 0 || port > 65535)
    return tc_error(TC_EINVAL, "grpc address '%s': bad port", addr);
  if (!*h)
    h = "0.0.0.0";
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE},
                  *res;
  char ps[8];
  snprintf(ps, sizeof ps, "%ld", port);
  int e = getaddrinfo(h, ps, &hints, &res);
  if (e)
    return tc_error(TC_EINVAL, "grpc address '%s': %s", addr, gai_strerror(e));
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

static void free_on_close(uv_handle_t *h) {
  free(h->data);
}

int grpc_server_new(uv_loop_t *loop, const struct grpc_method *table,
                    const struct grpc_server_opts *o,
                    struct grpc_server **out) {
  int rc;
  struct sockaddr_storage ss;
  if ((rc = parse_listen(o->address ? o->address : "0.0.0.0:10901", &ss)))
    return rc;
  metrics_init();
  struct grpc_server *s = xcalloc(1, sizeof *s);
  s->loop = loop;
  s->table = table;
  s->max_recv = o->max_recv_msg ? o->max_recv_msg : GRPC_MAX_MSG_DEFAULT;
  s->max_send = o->max_send_msg ? o->max_send_msg : GRPC_MAX_MSG_DEFAULT;
  s->grace_ms = o->grace_ms;
  int want_tls = (o->tls_cert && *o->tls_cert) || (o->tls_key && *o->tls_key);
  if (want_tls) {
    if (!o->tls_cert || !*o->tls_cert || !o->tls_key || !*o->tls_key) {
      free(s);
      return tc_error(TC_EINVAL,
                      "grpc server tls: both cert and key are needed");
    }
    if ((rc = grpc__tls_server_ctx(o->tls_cert, o->tls_key, o->tls_client_ca,
                                   &s->ctx))) {
      free(s);
      return rc;
    }
  }
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
  if (!rc)
    rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
  if (rc < 0) {
    rc = tc_error(rc, "grpc listen on '%s': %s", o->address, uv_strerror(rc));
    if (s->ctx)
      SSL_CTX_free(s->ctx);
    uv_close((uv_handle_t *)&s->listener, free_on_close); /* frees s */
    *out = NULL;
    return rc;
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
  s->port = ntohs(bound.ss_family == AF_INET6
                      ? ((struct sockaddr_in6 *)&bound)->sin6_port
                      : ((struct sockaddr_in *)&bound)->sin_port);
  uv_timer_init(loop, &s->grace);
  s->grace.data = s;
  *out = s;
  return 0;
}

int grpc_server_port(const struct grpc_server *s) {
  return s->port;
}

static void on_grace_closed(uv_handle_t *h) {
  struct grpc_server *s = h->data;
  s->grace_closed = 1;
  if (s->stop_cb)
    s->stop_cb(s, s->stop_data);
}

static void server_check_stopped(struct grpc_server *s) {
  if (!s->stopping || s->stop_done || !s->listener_closed || s->conns ||
      s->nrunning)
    return;
  s->stop_done = 1;
  uv_timer_stop(&s->grace);
  uv_close((uv_handle_t *)&s->grace, on_grace_closed);
}

static void on_listener_closed(uv_handle_t *h) {
  struct grpc_server *s = h->data;
  s->listener_closed = 1;
  server_check_stopped(s);
}

static void on_grace(uv_timer_t *t) {
  struct grpc_server *s = t->data;
  for (struct sconn *sc = s->conns, *next; sc; sc = next) {
    next = sc->next;
    if (!sc->c.closing) {
      sconn_on_error(&sc->c, 0);
      sc->c.errored = 1;
      grpc__conn_close(&sc->c);
    }
  }
  server_check_stopped(s);
}

void grpc_server_stop(struct grpc_server *s, grpc_server_stop_fn *done,
                      void *data) {
  if (s->stopping)
    return;
  s->stopping = 1;
  s->stop_cb = done;
  s->stop_data = data;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  for (struct sconn *sc = s->conns; sc; sc = sc->next) {
    if (sc->c.closing || !sc->c.h2)
      continue;
    nghttp2_submit_goaway(sc->c.h2, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(sc->c.h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
    grpc__conn_kick(&sc->c);
  }
  uv_timer_start(&s->grace, on_grace,
                 s->grace_ms > 0 ? (uint64_t)s->grace_ms : 0, 0);
}

void grpc_server_free(struct grpc_server *s) {
  if (!s)
    return;
  if (s->ctx)
    SSL_CTX_free(s->ctx);
  free(s);
}
