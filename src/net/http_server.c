/*
 * http_server.c - the HTTP/1.1 server of every thanosc role: llhttp parses,
 * libuv moves the bytes, the router (http_router.c) picks a handler. See
 * http.h for the request contract.
 *
 * One connection handles one request at a time. Bytes read while a request
 * is being handled (pipelined requests) wait in conn->pending, and the
 * socket is no longer read once PENDING_MAX bytes wait: this is what makes
 * pipelining safe (responses leave in request order) and bounds memory per
 * connection, while a client closing during a long request is noticed.
 * The parser pauses at the end of each message (on_message_complete returns
 * HPE_PAUSED), so a read holding several requests is parsed one at a time.
 *
 * Lifetimes: a connection is freed when both its handles are closed and no
 * handler holds its current request (conn->refs). A request is freed when
 * it is finished (http_respond*, http_stream_end) or, while still being
 * read, when its connection closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <llhttp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/http.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/metrics.h"

#define READ_BUF_SIZE (64 * 1024)
#define STREAM_HIGH_WATER (256 * 1024)
#define STREAM_LOW_WATER (64 * 1024)
#define PENDING_MAX (64 * 1024)
#define GZIP_MIN_SIZE 1400

enum req_state {
  REQ_READING,   /* head or body still arriving */
  REQ_HANDLING,  /* handed to the handler, no response yet */
  REQ_STREAMING, /* chunked response begun */
};

struct http_hdr {
  size_t name, name_len, value, value_len; /* offsets into req->head */
};

struct http_conn;

struct http_req {
  struct http_conn *conn;
  struct http_server *srv;
  enum req_state state;
  struct tc_buf url;  /* raw request target */
  struct tc_buf head; /* "name\0value\0" pairs */
  struct http_hdr *hdrs;
  size_t nhdrs, hdrs_cap;
  int in_value; /* last header callback was a value */
  struct tc_buf body;
  char method[16];
  unsigned method_bit;
  char *path;        /* decoded, owned */
  const char *query; /* into url */
  const char *rest;  /* into path */
  int keep_alive;
  int http_minor;
  const struct http_route *route;
  uint64_t start_ns;
  size_t resp_bytes;
  int status;
  struct tc_buf resp_hdrs; /* extra "Name: value\r\n" lines */
  int aborted;
  http_abort_fn *on_abort;
  void *abort_data;
  http_drain_fn *on_drain;
  void *drain_data;
  int want_drain;
};

struct http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shutdown;
  struct http_server *srv;
  struct http_conn *prev, *next;
  llhttp_t parser;
  struct http_req *req;  /* the request being read or handled */
  struct tc_buf pending; /* read but not parsed yet */
  size_t wpending;       /* bytes handed to uv_write, not yet written */
  int error_status;      /* set by a parser callback before failing */
  int closing;
  int shutting_down;
  int lingering;   /* write side shut, draining the read side */
  int close_after; /* close once the current response is written */
  int feeding;     /* inside conn_feed() */
  int reading;
  int handles; /* open handles */
  int refs;    /* handles + a handler holding req */
};

struct http_server {
  uv_loop_t *loop;
  struct http_server_opts opts;
  char *address;
  uv_tcp_t listener;
  int listening;
  int listener_open;
  int port;
  struct http_router router;
  llhttp_settings_t settings;
  struct http_conn *conns;
  size_t nconns;
  int stopping;
  uv_timer_t grace_timer;
  int grace_timer_open;
  http_server_stopped_fn *stopped_cb;
  void *stopped_data;
  struct service svc;
  service_stopped_fn *svc_done;
  struct metric *m_total, *m_duration, *m_req_size, *m_resp_size, *m_inflight;
  time_t date_sec;
  char date[40];
  char readbuf[READ_BUF_SIZE];
};

static void conn_close(struct http_conn *c);
static void conn_feed(struct http_conn *c, const char *data, size_t len);
static void server_maybe_stopped(struct http_server *srv);
static void conn_free(struct http_conn *c);

static const struct {
  int code;
  const char *text;
} status_texts[] = {
    {100, "Continue"},
    {200, "OK"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {413, "Request Entity Too Large"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Entity"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {499, "Client Closed Request"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

const char *http_status_text(int status) {
  for (size_t i = 0; i < TC_ARRAY_SIZE(status_texts); i++)
    if (status_texts[i].code == status)
      return status_texts[i].text;
  return "";
}

/* Requests. */

static struct http_req *req_new(struct http_conn *c) {
  struct http_req *r = xcalloc(1, sizeof *r);
  r->conn = c;
  r->srv = c->srv;
  tc_buf_init(&r->url, 0);
  tc_buf_init(&r->head, 0);
  tc_buf_init(&r->body, c->srv->opts.max_body_bytes);
  tc_buf_init(&r->resp_hdrs, 0);
  return r;
}

static void req_free(struct http_req *r) {
  tc_buf_release(&r->url);
  tc_buf_release(&r->head);
  tc_buf_release(&r->body);
  tc_buf_release(&r->resp_hdrs);
  free(r->hdrs);
  free(r->path);
  free(r);
}

const char *http_req_method(struct http_req *req) {
  return req->method;
}
unsigned http_req_method_bit(struct http_req *req) {
  return req->method_bit;
}
const char *http_req_path(struct http_req *req) {
  return req->path;
}
const char *http_req_query(struct http_req *req) {
  return req->query;
}
const char *http_req_rest(struct http_req *req) {
  return req->rest;
}
const struct tc_buf *http_req_body(struct http_req *req) {
  return &req->body;
}
uv_loop_t *http_req_loop(struct http_req *req) {
  return req->srv->loop;
}
int http_req_aborted(struct http_req *req) {
  return req->aborted;
}

void http_req_on_abort(struct http_req *req, http_abort_fn *fn, void *data) {
  req->on_abort = fn;
  req->abort_data = data;
}

const char *http_req_header(struct http_req *req, const char *name) {
  for (size_t i = 0; i < req->nhdrs; i++)
    if (!strcasecmp(req->head.data + req->hdrs[i].name, name))
      return req->head.data + req->hdrs[i].value;
  return NULL;
}

int http_req_params(struct http_req *req, struct http_params *out) {
  unsigned m = req->method_bit;
  const char *ct = http_req_header(req, "Content-Type");
  if ((m & (HTTP_M_POST | HTTP_M_PUT | HTTP_M_PATCH)) && ct &&
      !strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
    int rc = http_params_parse(out, req->body.data ? req->body.data : "",
                               req->body.len);
    if (rc < 0)
      return rc;
  }
  return http_params_parse(out, req->query, strlen(req->query));
}

void http_set_header(struct http_req *req, const char *name,
                     const char *value) {
  /* CR and LF in a value would split the response: drop the header. */
  if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
    return;
  tc_buf_addf(&req->resp_hdrs, "%s: %s\r\n", name, value);
}

/* Writes. */

struct write_req {
  uv_write_t w;
  struct http_conn *c;
  size_t bytes;
  char *own[2];
};

static void on_write(uv_write_t *w, int status) {
  struct write_req *wr = tc_container_of(w, struct write_req, w);
  struct http_conn *c = wr->c;
  c->wpending -= wr->bytes;
  free(wr->own[0]);
  free(wr->own[1]);
  free(wr);
  if (status < 0) {
    conn_close(c);
    return;
  }
  struct http_req *r = c->req;
  if (r && r->want_drain && c->wpending <= STREAM_LOW_WATER) {
    r->want_drain = 0;
    if (r->on_drain)
      r->on_drain(r, r->drain_data);
  }
}

/* Queues bufs; takes own0/own1 (freed after the write). */
static int conn_write(struct http_conn *c, uv_buf_t *bufs, unsigned n,
                      char *own0, char *own1) {
  if (c->closing) {
    free(own0);
    free(own1);
    return TC_ECANCELED;
  }
  struct write_req *wr = xcalloc(1, sizeof *wr);
  wr->c = c;
  wr->own[0] = own0;
  wr->own[1] = own1;
  for (unsigned i = 0; i < n; i++)
    wr->bytes += bufs[i].len;
  int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, n, on_write);
  if (rc < 0) {
    free(own0);
    free(own1);
    free(wr);
    conn_close(c);
    return TC_ECANCELED;
  }
  c->wpending += wr->bytes;
  return 0;
}

static const char *http_date(struct http_server *srv) {
  time_t now = time(NULL);
  if (now != srv->date_sec) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(srv->date, sizeof srv->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    srv->date_sec = now;
  }
  return srv->date;
}

/* The status line and headers; chunked when len is SIZE_MAX. */
static void build_head(struct http_conn *c, struct tc_buf *h, int status,
                       const char *ctype, const struct tc_buf *extra,
                       size_t len, int keep_alive, int http_minor) {
  tc_buf_addf(h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
              http_status_text(status), http_date(c->srv));
  if (ctype)
    tc_buf_addf(h, "Content-Type: %s\r\n", ctype);
  if (extra && extra->len)
    tc_buf_add(h, extra->data, extra->len);
  if (len == SIZE_MAX)
    tc_buf_adds(h, "Transfer-Encoding: chunked\r\n");
  else
    tc_buf_addf(h, "Content-Length: %zu\r\n", len);
  if (!keep_alive)
    tc_buf_adds(h, "Connection: close\r\n");
  else if (http_minor == 0)
    tc_buf_adds(h, "Connection: keep-alive\r\n");
  tc_buf_adds(h, "\r\n");
}

static void on_conn_timer_linger(uv_timer_t *t) {
  conn_close(t->data);
}

/* Graceful shutdown of the write side once queued writes are out. */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Lingering close (as Go's server does): after our FIN, read and drop what
 * the client still sends for a moment, so that closing with unread bytes
 * does not reset the connection before the client read our response. */
static void on_shutdown(uv_shutdown_t *s, int status) {
  struct http_conn *c = tc_container_of(s, struct http_conn, shutdown);
  if (status < 0 || c->closing) {
    conn_close(c);
    return;
  }
  c->lingering = 1;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
    conn_close(c);
    return;
  }
  c->reading = 1;
  uv_timer_start(&c->timer, on_conn_timer_linger, 500, 0);
}

static void conn_shutdown(struct http_conn *c) {
  if (c->closing || c->shutting_down)
    return;
  c->shutting_down = 1;
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  uv_timer_stop(&c->timer);
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
    conn_close(c);
}

/* A response without a request (parse errors): always closes. */
static void conn_error(struct http_conn *c, int status) {
  if (c->req && c->req->state == REQ_READING) {
    req_free(c->req);
    c->req = NULL;
  }
  const char *text = http_status_text(status);
  struct tc_buf h = TC_BUF_INIT;
  char body[64];
  int blen = snprintf(body, sizeof body, "%d %s", status, text);
  build_head(c, &h, status, "text/plain; charset=utf-8", NULL, (size_t)blen, 0,
             1);
  tc_buf_add(&h, body, (size_t)blen);
  size_t len;
  char *p = tc_buf_detach(&h, &len);
  uv_buf_t b = uv_buf_init(p, (unsigned)len);
  c->close_after = 1;
  if (conn_write(c, &b, 1, p, NULL) == 0)
    conn_shutdown(c);
}

/* Timers: the head must arrive within header_timeout, an idle keep-alive
 * connection lives idle_timeout. */
static void on_conn_timer(uv_timer_t *t) {
  struct http_conn *c = t->data;
  if (c->req && c->req->state != REQ_READING)
    return;
  conn_close(c);
}

static void conn_arm(struct http_conn *c, int64_t ms) {
  if (!c->closing)
    uv_timer_start(&c->timer, on_conn_timer, (uint64_t)ms, 0);
}

static void conn_read_start(struct http_conn *c);

static void conn_resume(struct http_conn *c) {
  if (c->closing || c->shutting_down)
    return;
  if (c->pending.len) {
    size_t len;
    char *p = tc_buf_detach(&c->pending, &len);
    conn_feed(c, p, len);
    free(p);
  }
  if (!c->closing && !c->shutting_down && !c->req) {
    conn_arm(c, c->srv->opts.idle_timeout_ms);
    conn_read_start(c);
  }
}

/* The method label of the http_* metrics: lowercase, as Thanos's. */
static void metric_method(const struct http_req *r, char out[16]) {
  size_t i;
  for (i = 0; r->method[i] && i < 15; i++)
    out[i] = (char)(r->method[i] | 0x20);
  out[i] = '\0';
}

static void record_metrics(struct http_req *r) {
  struct http_server *srv = r->srv;
  if (!r->route || !r->route->name)
    return;
  char code[8], method[16];
  snprintf(code, sizeof code, "%d", r->status);
  metric_method(r, method);
  const char *name = r->route->name;
  double secs = (double)(uv_hrtime() - r->start_ns) / 1e9;
  metric_inc(metric_with(srv->m_total, code, name, method));
  metric_observe(metric_with(srv->m_duration, code, name, method), secs);
  metric_observe(metric_with(srv->m_req_size, code, name, method),
                 (double)(r->url.len + r->head.len + r->body.len));
  metric_observe(metric_with(srv->m_resp_size, code, name, method),
                 (double)r->resp_bytes);
  metric_add(metric_with(srv->m_inflight, name, method), -1);
}

/* The handler is done with r: account, free, move to the next request. */
static void req_finish(struct http_req *r) {
  struct http_conn *c = r->conn;
  record_metrics(r);
  if (tc_log_enabled(TC_LOG_DEBUG)) {
    char status[8], ms[32];
    snprintf(status, sizeof status, "%d", r->status);
    snprintf(ms, sizeof ms, "%.3f", (double)(uv_hrtime() - r->start_ns) / 1e6);
    LOG_DEBUG("http request", "method", r->method, "path", r->path, "status",
              status, "duration_ms", ms, "aborted",
              r->aborted ? "true" : "false");
  }
  int close = !r->keep_alive || c->close_after;
  c->req = NULL;
  req_free(r);
  if (--c->refs == 0) {
    /* The connection closed while the handler ran: the last user frees. */
    conn_free(c);
    return;
  }
  if (c->closing)
    return;
  if (close) {
    conn_shutdown(c);
  } else if (!c->feeding) {
    conn_resume(c);
  }
}

static int req_check(struct http_req *req) {
  if (req->state == REQ_READING)
    TC_BUG("http: response to a request that was not dispatched");
  return req->aborted ? TC_ECANCELED : 0;
}

/*
 * Whether Accept-Encoding allows gzip: a "gzip" or "*" coding without
 * q=0 (RFC 9110 12.5.3).
 */
int http_accepts_gzip(const char *ae) {
  while (ae && *ae) {
    while (*ae == ' ' || *ae == '\t' || *ae == ',')
      ae++;
    size_t n = strcspn(ae, ",;");
    size_t tn = n;
    while (tn && (ae[tn - 1] == ' ' || ae[tn - 1] == '\t'))
      tn--;
    int match =
        (tn == 4 && !strncasecmp(ae, "gzip", 4)) || (tn == 1 && ae[0] == '*');
    const char *end = ae + strcspn(ae, ",");
    double q = 1;
    const char *qp = ae + n;
    while (qp < end && *qp == ';') {
      qp++;
      while (*qp == ' ')
        qp++;
      if ((qp[0] == 'q' || qp[0] == 'Q') && qp[1] == '=')
        q = strtod(qp + 2, NULL);
      qp += strcspn(qp, ";,");
    }
    if (match && q > 0)
      return 1;
    ae = end;
  }
  return 0;
}

/* gzip of body[0..len) into a new buffer, or NULL when it does not pay. */
static char *gzip_body(const char *body, size_t len, size_t *out_len) {
  z_stream z = {0};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return NULL;
  size_t cap = deflateBound(&z, (uLong)len);
  char *out = xmalloc(cap);
  z.next_in = (Bytef *)body;
  z.avail_in = (uInt)len;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)cap;
  int zrc = deflate(&z, Z_FINISH);
  *out_len = z.total_out;
  deflateEnd(&z);
  if (zrc != Z_STREAM_END || *out_len >= len) {
    free(out);
    return NULL;
  }
  return out;
}

/* Compresses a full response for routes with HTTP_ROUTE_GZIP, as Thanos's
 * gzip handler does: bodies of GZIP_MIN_SIZE bytes or more, when the client
 * accepts it and the handler did not encode the body itself. */
static void maybe_gzip(struct http_req *req, char **body, size_t *len) {
  if (!req->route || !(req->route->flags & HTTP_ROUTE_GZIP) ||
      *len >= UINT32_MAX)
    return;
  tc_buf_adds(&req->resp_hdrs, "Vary: Accept-Encoding\r\n");
  if ((*len < GZIP_MIN_SIZE &&
       !(req->route->flags & HTTP_ROUTE_GZIP_ANY_SIZE)) ||
      !http_accepts_gzip(http_req_header(req, "Accept-Encoding")) ||
      (req->resp_hdrs.data &&
       strcasestr(req->resp_hdrs.data, "Content-Encoding:")))
    return;
  size_t zlen;
  char *z = gzip_body(*body, *len, &zlen);
  if (!z)
    return;
  free(*body);
  *body = z;
  *len = zlen;
  tc_buf_adds(&req->resp_hdrs, "Content-Encoding: gzip\r\n");
}

static int respond_owned(struct http_req *req, int status, const char *ctype,
                         char *body, size_t len) {
  int rc = req_check(req);
  if (req->state == REQ_STREAMING)
    TC_BUG("http: full response after http_stream_begin()");
  struct http_conn *c = req->conn;
  req->status = status;
  if (rc == 0)
    maybe_gzip(req, &body, &len);
  req->resp_bytes = len;
  if (rc == 0) {
    struct tc_buf h = TC_BUF_INIT;
    int keep = req->keep_alive && !c->close_after;
    build_head(c, &h, status, ctype, &req->resp_hdrs, len, keep,
               req->http_minor);
    size_t hlen;
    char *hp = tc_buf_detach(&h, &hlen);
    uv_buf_t b[2] = {uv_buf_init(hp, (unsigned)hlen),
                     uv_buf_init(body, (unsigned)len)};
    int head_only = req->method_bit == HTTP_M_HEAD || len == 0;
    rc = conn_write(c, b, head_only ? 1 : 2, hp, body);
    body = NULL;
  }
  free(body);
  req_finish(req);
  return rc;
}

int http_respond(struct http_req *req, int status, const char *content_type,
                 const void *body, size_t len) {
  char *copy = xmalloc(len + 1);
  if (len)
    memcpy(copy, body, len);
  return respond_owned(req, status, content_type, copy, len);
}

int http_respond_buf(struct http_req *req, int status, const char *content_type,
                     struct tc_buf *body) {
  size_t len;
  char *p = tc_buf_detach(body, &len);
  if (!p)
    p = xstrdup("");
  return respond_owned(req, status, content_type, p, len);
}

int http_respond_error(struct http_req *req, int status, const char *msg) {
  http_set_header(req, "X-Content-Type-Options", "nosniff");
  char *body = xasprintf("%s\n", msg);
  return respond_owned(req, status, "text/plain; charset=utf-8", body,
                       strlen(body));
}

int http_stream_begin(struct http_req *req, int status,
                      const char *content_type) {
  int rc = req_check(req);
  if (req->state == REQ_STREAMING)
    TC_BUG("http: http_stream_begin() twice");
  req->state = REQ_STREAMING;
  req->status = status;
  if (rc < 0)
    return rc;
  struct http_conn *c = req->conn;
  struct tc_buf h = TC_BUF_INIT;
  build_head(c, &h, status, content_type, &req->resp_hdrs, SIZE_MAX,
             req->keep_alive && !c->close_after, req->http_minor);
  size_t hlen;
  char *hp = tc_buf_detach(&h, &hlen);
  uv_buf_t b = uv_buf_init(hp, (unsigned)hlen);
  return conn_write(c, &b, 1, hp, NULL);
}

int http_stream_write(struct http_req *req, const void *p, size_t n) {
  if (req->state != REQ_STREAMING)
    TC_BUG("http: http_stream_write() before http_stream_begin()");
  if (req->aborted)
    return TC_ECANCELED;
  if (n == 0)
    return 0;
  req->resp_bytes += n;
  if (req->method_bit == HTTP_M_HEAD)
    return 0;
  char *chunk = xmalloc(n + 24);
  int hl = snprintf(chunk, 24, "%zx\r\n", n);
  memcpy(chunk + hl, p, n);
  memcpy(chunk + hl + n, "\r\n", 2);
  uv_buf_t b = uv_buf_init(chunk, (unsigned)(hl + n + 2));
  int rc = conn_write(req->conn, &b, 1, chunk, NULL);
  if (rc < 0)
    return rc;
  if (req->conn->wpending > STREAM_HIGH_WATER) {
    req->want_drain = 1;
    return 1;
  }
  return 0;
}

void http_stream_on_drain(struct http_req *req, http_drain_fn *fn, void *data) {
  req->on_drain = fn;
  req->drain_data = data;
}

int http_stream_end(struct http_req *req) {
  if (req->state != REQ_STREAMING)
    TC_BUG("http: http_stream_end() before http_stream_begin()");
  int rc = req->aborted ? TC_ECANCELED : 0;
  if (rc == 0 && req->method_bit != HTTP_M_HEAD) {
    char *end = xstrdup("0\r\n\r\n");
    uv_buf_t b = uv_buf_init(end, 5);
    rc = conn_write(req->conn, &b, 1, end, NULL);
  }
  req_finish(req);
  return rc;
}

/* Dispatch. */

/* Splits the request target into a decoded path and the raw query. */
static int req_parse_target(struct http_req *r) {
  char *t = r->url.data ? r->url.data : "";
  if (!strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8)) {
    char *slash = strchr(strstr(t, "://") + 3, '/');
    t = slash ? slash : "/";
  }
  if (t[0] != '/')
    return TC_EPARSE;
  char *hash = strchr(t, '#');
  if (hash)
    *hash = '\0';
  char *q = strchr(t, '?');
  size_t plen = q ? (size_t)(q - t) : strlen(t);
  r->query = q ? q + 1 : "";
  size_t len;
  int rc = http_unescape(t, plen, 0, &r->path, &len);
  if (rc == 0 && memchr(r->path, '\0', len))
    rc = TC_EPARSE; /* %00 in the path */
  return rc;
}

static void conn_dispatch(struct http_conn *c) {
  struct http_req *r = c->req;
  struct http_server *srv = c->srv;
  uv_timer_stop(&c->timer);
  /* HTTP/1.1 requires Host (RFC 9112 3.2); Go's server answers 400. */
  if (req_parse_target(r) < 0 ||
      (r->http_minor >= 1 && !http_req_header(r, "Host"))) {
    conn_error(c, 400);
    return;
  }
  if (srv->stopping)
    c->close_after = 1;
  r->state = REQ_HANDLING;
  r->start_ns = uv_hrtime();
  c->refs++;
  unsigned allow = 0;
  const struct http_route *route = NULL;
  int st = http_router_match(&srv->router, r->method_bit, r->path, &route,
                             &r->rest, &allow);
  if (st == 404) {
    http_respond(r, 404, "text/plain; charset=utf-8", "404 page not found\n",
                 19);
    return;
  }
  if (st == 405) {
    char a[96];
    http_methods_allow(allow, a, sizeof a);
    http_set_header(r, "Allow", a);
    http_respond_error(r, 405, "Method Not Allowed");
    return;
  }
  r->route = route;
  if (route->name) {
    char method[16];
    metric_method(r, method);
    metric_add(metric_with(srv->m_inflight, route->name, method), 1);
  }
  route->fn(r, route->data);
}

/* Parser callbacks. */

static struct http_conn *parser_conn(llhttp_t *p) {
  return p->data;
}

static int head_too_big(struct http_conn *c) {
  struct http_req *r = c->req;
  if (r->url.len + r->head.len > c->srv->opts.max_header_bytes) {
    c->error_status = 431;
    return -1;
  }
  return 0;
}

static int on_message_begin(llhttp_t *p) {
  struct http_conn *c = parser_conn(p);
  if (!c->req)
    c->req = req_new(c);
  conn_arm(c, c->srv->opts.header_timeout_ms);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  struct http_conn *c = parser_conn(p);
  tc_buf_add(&c->req->url, at, n);
  return head_too_big(c);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  struct http_conn *c = parser_conn(p);
  struct http_req *r = c->req;
  if (r->in_value || r->nhdrs == 0) {
    if (r->nhdrs)
      tc_buf_addc(&r->head, '\0');
    TC_GROW(r->hdrs, r->hdrs_cap, r->nhdrs + 1);
    r->hdrs[r->nhdrs++] = (struct http_hdr){.name = r->head.len};
    r->in_value = 0;
  }
  tc_buf_add(&r->head, at, n);
  r->hdrs[r->nhdrs - 1].name_len += n;
  return head_too_big(c);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  struct http_conn *c = parser_conn(p);
  struct http_req *r = c->req;
  if (!r->in_value) {
    tc_buf_addc(&r->head, '\0');
    r->hdrs[r->nhdrs - 1].value = r->head.len;
    r->in_value = 1;
  }
  tc_buf_add(&r->head, at, n);
  r->hdrs[r->nhdrs - 1].value_len += n;
  return head_too_big(c);
}

static int on_headers_complete(llhttp_t *p) {
  struct http_conn *c = parser_conn(p);
  struct http_req *r = c->req;
  if (r->nhdrs && !r->in_value) {
    /* A field without a value: give it an empty one. */
    tc_buf_addc(&r->head, '\0');
    r->hdrs[r->nhdrs - 1].value = r->head.len;
  }
  tc_buf_addc(&r->head, '\0');
  if (!r->url.data)
    tc_buf_adds(&r->url, "");
  snprintf(r->method, sizeof r->method, "%s",
           llhttp_method_name((llhttp_method_t)p->method));
  r->method_bit = http_method_bit(r->method);
  r->http_minor = p->http_minor;
  if ((p->flags & F_CONTENT_LENGTH) &&
      p->content_length > c->srv->opts.max_body_bytes) {
    c->error_status = 413;
    return -1;
  }
  /* The head arrived in time; the whole body must arrive within the idle
   * timeout, which bounds slow uploads too. */
  conn_arm(c, c->srv->opts.idle_timeout_ms);
  const char *expect = http_req_header(r, "Expect");
  if (expect && !strcasecmp(expect, "100-continue") && p->http_minor >= 1) {
    char *cont = xstrdup("HTTP/1.1 100 Continue\r\n\r\n");
    uv_buf_t b = uv_buf_init(cont, (unsigned)strlen(cont));
    conn_write(c, &b, 1, cont, NULL);
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  struct http_conn *c = parser_conn(p);
  if (tc_buf_add(&c->req->body, at, n) < 0) {
    c->error_status = 413;
    return -1;
  }
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct http_conn *c = parser_conn(p);
  c->req->keep_alive = llhttp_should_keep_alive(p);
  if (p->upgrade)
    c->req->keep_alive = 0;
  return HPE_PAUSED;
}

/* Parses data; dispatches each complete request; keeps what follows a
 * request being handled in c->pending. */
static void conn_feed(struct http_conn *c, const char *data, size_t len) {
  c->feeding = 1;
  while (len > 0 && !c->closing && !c->shutting_down &&
         (!c->req || c->req->state == REQ_READING)) {
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    if (err == HPE_OK) {
      len = 0;
      break;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      const char *pos = llhttp_get_error_pos(&c->parser);
      size_t used = pos ? (size_t)(pos - data) : len;
      data += used;
      len -= used;
      llhttp_resume(&c->parser);
      if (err == HPE_PAUSED_UPGRADE) {
        llhttp_resume_after_upgrade(&c->parser);
        c->close_after = 1;
      }
      conn_dispatch(c);
      continue;
    }
    conn_error(c, c->error_status ? c->error_status : 400);
    len = 0;
  }
  c->feeding = 0;
  if (len > 0 && !c->closing && !c->shutting_down)
    tc_buf_add(&c->pending, data, len);
  if (c->closing || c->shutting_down)
    return;
  if (c->req && c->req->state != REQ_READING) {
    /* Keep reading while the handler works, to notice a client that goes
     * away, until PENDING_MAX pipelined bytes wait. */
    if (c->pending.len >= PENDING_MAX && c->reading) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = 0;
    } else if (c->pending.len < PENDING_MAX) {
      conn_read_start(c);
    }
  } else if (!c->req && c->pending.len == 0 && c->srv->stopping) {
    conn_shutdown(c);
  } else if (!c->req && c->pending.len) {
    /* A response finished synchronously while pipelined bytes waited. */
    conn_resume(c);
  } else {
    if (!c->req)
      conn_arm(c, c->srv->opts.idle_timeout_ms);
    conn_read_start(c);
  }
}

/* Connections. */

static void conn_free(struct http_conn *c) {
  struct http_server *srv = c->srv;
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  srv->nconns--;
  tc_buf_release(&c->pending);
  free(c);
  server_maybe_stopped(srv);
}

static void on_conn_handle_closed(uv_handle_t *h) {
  struct http_conn *c = h->data;
  if (--c->handles == 0 && --c->refs == 0)
    conn_free(c);
}

static void conn_close(struct http_conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  c->reading = 0;
  struct http_req *r = c->req;
  if (r && r->state == REQ_READING) {
    req_free(r);
    c->req = NULL;
  } else if (r) {
    r->aborted = 1;
    if (r->on_abort)
      r->on_abort(r, r->abort_data);
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  struct http_conn *c = h->data;
  *buf = uv_buf_init(c->srv->readbuf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct http_conn *c = s->data;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (n == 0 || c->lingering)
    return;
  if (c->req && c->req->state != REQ_READING) {
    /* Pipelined bytes behind a request being handled: keep them. */
    tc_buf_add(&c->pending, buf->base, (size_t)n);
    if (c->pending.len >= PENDING_MAX) {
      uv_read_stop(s);
      c->reading = 0;
    }
    return;
  }
  conn_feed(c, buf->base, (size_t)n);
}

static void conn_read_start(struct http_conn *c) {
  if (c->reading || c->closing || c->shutting_down)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
    conn_close(c);
    return;
  }
  c->reading = 1;
}

static void on_connection(uv_stream_t *l, int status) {
  struct http_server *srv = l->data;
  if (status < 0) {
    LOG_WARN("http accept", "err", uv_strerror(status));
    return;
  }
  struct http_conn *c = xcalloc(1, sizeof *c);
  c->srv = srv;
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->refs = 1;
  tc_buf_init(&c->pending, 0);
  llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
  c->parser.data = c;
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  conn_arm(c, srv->opts.header_timeout_ms);
  conn_read_start(c);
}

/* Built-in routes. */

static void handle_metrics(struct http_req *req, void *data) {
  (void)data;
  struct tc_buf b = TC_BUF_INIT;
  int rc = metrics_write(&b);
  if (rc < 0) {
    tc_buf_release(&b);
    http_respond_error(req, 500, tc_errmsg(rc));
    return;
  }
  http_respond_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static void probe(struct http_req *req, int ok) {
  if (ok)
    http_respond(req, 200, "text/plain; charset=utf-8", "OK", 2);
  else
    http_respond_error(req, 503, "NOT OK");
}

static void handle_healthy(struct http_req *req, void *data) {
  struct runtime *rt = data;
  probe(req, !rt || runtime_is_healthy(rt));
}

static void handle_ready(struct http_req *req, void *data) {
  struct runtime *rt = data;
  probe(req, !rt || runtime_is_ready(rt));
}

int http_server_add_builtin_routes(struct http_server *srv) {
  int rc = http_server_route(
      srv,
      &(struct http_route){.methods = HTTP_M_GET,
                           .path = "/metrics",
                           .flags = HTTP_ROUTE_GZIP | HTTP_ROUTE_GZIP_ANY_SIZE,
                           .fn = handle_metrics});
  if (rc == 0)
    rc = http_server_route(srv, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "/-/healthy",
                                                     .fn = handle_healthy,
                                                     .data = srv->opts.rt});
  if (rc == 0)
    rc = http_server_route(srv, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "/-/ready",
                                                     .fn = handle_ready,
                                                     .data = srv->opts.rt});
  return rc;
}

/* Server. */

static void register_metrics(struct http_server *srv) {
  static const double dur[] = {0.001, 0.01, 0.1, 0.3, 0.6, 1,   3,   6,  9,
                               20,    30,   60,  90,  120, 240, 360, 720};
  double size[10];
  for (int i = 0; i < 10; i++)
    size[i] = 64.0 * (1 << i);
  srv->m_total = metric_counter("http_requests_total",
                                "Tracks the number of HTTP requests.",
                                "code,handler,method");
  srv->m_duration =
      metric_histogram("http_request_duration_seconds",
                       "Tracks the latencies for HTTP requests.",
                       "code,handler,method", dur, TC_ARRAY_SIZE(dur));
  srv->m_req_size = metric_histogram("http_request_size_bytes",
                                     "Tracks the size of HTTP requests.",
                                     "code,handler,method", size, 10);
  srv->m_resp_size = metric_histogram("http_response_size_bytes",
                                      "Tracks the size of HTTP responses.",
                                      "code,handler,method", size, 10);
  srv->m_inflight = metric_gauge(
      "http_inflight_requests",
      "Current number of HTTP requests the handler is responding to.",
      "handler,method");
}

int http_server_new(uv_loop_t *loop, const struct http_server_opts *opts,
                    struct http_server **out) {
  struct http_server *srv = xcalloc(1, sizeof *srv);
  srv->loop = loop;
  srv->opts = *opts;
  srv->address = xstrdup(opts->address ? opts->address : "0.0.0.0:10902");
  srv->opts.address = srv->address;
  if (!srv->opts.max_header_bytes)
    srv->opts.max_header_bytes = 1 << 20;
  if (!srv->opts.max_body_bytes)
    srv->opts.max_body_bytes = 32 << 20;
  if (srv->opts.header_timeout_ms <= 0)
    srv->opts.header_timeout_ms = 60 * 1000;
  if (srv->opts.idle_timeout_ms <= 0)
    srv->opts.idle_timeout_ms = 5 * 60 * 1000;
  http_router_init(&srv->router);
  llhttp_settings_init(&srv->settings);
  srv->settings.on_message_begin = on_message_begin;
  srv->settings.on_url = on_url;
  srv->settings.on_header_field = on_header_field;
  srv->settings.on_header_value = on_header_value;
  srv->settings.on_headers_complete = on_headers_complete;
  srv->settings.on_body = on_body;
  srv->settings.on_message_complete = on_message_complete;
  register_metrics(srv);
  *out = srv;
  return 0;
}

void http_server_free(struct http_server *srv) {
  if (!srv)
    return;
  http_router_release(&srv->router);
  free(srv->address);
  free(srv);
}

int http_server_route(struct http_server *srv, const struct http_route *r) {
  return http_router_add(&srv->router, r);
}

/* Splits "host:port" / "[v6]:port"; an empty host means every address. */
static int parse_address(const char *addr, struct sockaddr_storage *ss) {
  const char *colon = strrchr(addr, ':');
  if (!colon)
    return tc_error(TC_EINVAL, "address '%s': missing port", addr);
  char host[256];
  size_t hlen = (size_t)(colon - addr);
  if (hlen >= sizeof host)
    return tc_error(TC_EINVAL, "address '%s': host too long", addr);
  memcpy(host, addr, hlen);
  host[hlen] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || port < 0 || port > 65535)
    return tc_error(TC_EINVAL, "address '%s': bad port", addr);
  char *h = host;
  if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
    h[hlen - 1] = '\0';
    h++;
  }
  if (!h[0])
    h = "0.0.0.0";
  if (uv_ip4_addr(h, (int)port, (struct sockaddr_in *)ss) == 0 ||
      uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)ss) == 0)
    return 0;
  /* A host name, as Go's net.Listen takes: resolve it once, at start. */
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(h, NULL, &hints, &res);
  if (rc != 0 || !res)
    return tc_error(TC_EINVAL, "address '%s': %s", addr, gai_strerror(rc));
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  freeaddrinfo(res);
  return 0;
}

/* Whether this host can listen on [::] for IPv4 and IPv6 at once. */
static int dual_stack_ok(void) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  int off = 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
  int ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0 &&
           bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

int http_server_listen(struct http_server *srv) {
  struct sockaddr_storage ss;
  int rc = parse_address(srv->address, &ss);
  if (rc < 0)
    return rc;
  /* Go listens on [::] for both families when given the IPv4 wildcard
   * ("0.0.0.0:10902", ":10902"); do the same where the host allows it. */
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  if (ss.ss_family == AF_INET && v4->sin_addr.s_addr == htonl(INADDR_ANY) &&
      dual_stack_ok()) {
    uint16_t port = v4->sin_port;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    *v6 = (struct sockaddr_in6){
        .sin6_family = AF_INET6, .sin6_addr = in6addr_any, .sin6_port = port};
  }
  uv_tcp_init(srv->loop, &srv->listener);
  srv->listener.data = srv;
  srv->listener_open = 1;
  rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&srv->listener, 4096, on_connection);
  if (rc < 0) {
    rc = tc_error(rc, "http listen on '%s': %s", srv->address, uv_strerror(rc));
    uv_close((uv_handle_t *)&srv->listener, NULL);
    srv->listener_open = 0;
    return rc;
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen);
  srv->port = ntohs(bound.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)&bound)->sin6_port
                        : ((struct sockaddr_in *)&bound)->sin_port);
  srv->listening = 1;
  char port[16];
  snprintf(port, sizeof port, "%d", srv->port);
  LOG_INFO("listening for requests and metrics", "service", "http/server",
           "address", srv->address, "port", port);
  return 0;
}

int http_server_port(struct http_server *srv) {
  return srv->port;
}
size_t http_server_connections(struct http_server *srv) {
  return srv->nconns;
}

static void on_grace_closed(uv_handle_t *h) {
  struct http_server *srv = h->data;
  srv->grace_timer_open = 0;
  server_maybe_stopped(srv);
}

static void on_listener_closed(uv_handle_t *h) {
  struct http_server *srv = h->data;
  srv->listener_open = 0;
  server_maybe_stopped(srv);
}

static void server_maybe_stopped(struct http_server *srv) {
  if (!srv->stopping || srv->listener_open || srv->nconns)
    return;
  if (srv->grace_timer_open) {
    if (!uv_is_closing((uv_handle_t *)&srv->grace_timer))
      uv_close((uv_handle_t *)&srv->grace_timer, on_grace_closed);
    return;
  }
  if (srv->stopped_cb) {
    http_server_stopped_fn *cb = srv->stopped_cb;
    srv->stopped_cb = NULL;
    LOG_INFO("internal server is shutdown gracefully", "service",
             "http/server");
    cb(srv, srv->stopped_data);
  }
}

static void on_grace_expired(uv_timer_t *t) {
  struct http_server *srv = t->data;
  if (srv->nconns)
    LOG_WARN("http grace period over, closing connections", "service",
             "http/server");
  for (struct http_conn *c = srv->conns, *next; c; c = next) {
    next = c->next;
    conn_close(c);
  }
}

void http_server_stop(struct http_server *srv, http_server_stopped_fn *done,
                      void *data) {
  srv->stopped_cb = done;
  srv->stopped_data = data;
  if (srv->stopping)
    return;
  srv->stopping = 1;
  LOG_INFO("internal server is shutting down", "service", "http/server");
  if (srv->listener_open) {
    srv->listening = 0;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
  }
  uv_timer_init(srv->loop, &srv->grace_timer);
  srv->grace_timer.data = srv;
  srv->grace_timer_open = 1;
  uv_timer_start(&srv->grace_timer, on_grace_expired,
                 (uint64_t)(srv->opts.grace_ms > 0 ? srv->opts.grace_ms : 0),
                 0);
  for (struct http_conn *c = srv->conns, *next; c; c = next) {
    next = c->next;
    c->close_after = 1;
    if (!c->req && c->pending.len == 0)
      conn_close(c); /* idle keep-alive connection */
  }
  server_maybe_stopped(srv);
}

/* Runtime service. */

static int svc_start(struct service *svc, struct runtime *rt) {
  (void)rt;
  return http_server_listen(svc->data);
}

static void svc_stopped(struct http_server *srv, void *data) {
  (void)data;
  srv->svc_done(&srv->svc);
}

static void svc_stop(struct service *svc, service_stopped_fn *done) {
  struct http_server *srv = svc->data;
  srv->svc_done = done;
  http_server_stop(srv, svc_stopped, NULL);
}

struct service *http_server_service(struct http_server *srv) {
  srv->svc = (struct service){.name = "http",
                              .start = svc_start,
                              .stop = svc_stop,
                              .grace_ms = srv->opts.grace_ms,
                              .data = srv};
  return &srv->svc;
}
