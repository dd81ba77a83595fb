/*
 * http.h - the HTTP/1.1 server of every role (llhttp on libuv), its router,
 * and the query-string / form helpers of the HTTP APIs.
 *
 * One server listens on --http-address. Routes are registered before
 * http_server_listen(); each names a handler that receives the request once
 * it is complete (head and body, both within the configured limits):
 *
 *   static void hello(struct http_req *req, void *data) {
 *     http_respond(req, 200, "text/plain; charset=utf-8", "hi\n", 3);
 *   }
 *   http_server_route(srv, &(struct http_route){
 *       .methods = HTTP_M_GET, .path = "/hello", .name = "hello", .fn =
 * hello});
 *
 * Request contract (libuv's): the server owns struct http_req. A handler must
 * finish every request exactly once, with http_respond*() or
 * http_stream_end(), either before it returns or later from any loop
 * callback (after worker-pool work, for instance). The request and every
 * string borrowed from it stay valid until that call. If the client goes
 * away first, the on_abort callback runs (when set), later writes are
 * dropped, and the handler still finishes the request to release it.
 * All functions run on the loop thread only.
 *
 * Connections are kept alive (HTTP/1.1 default, HTTP/1.0 on request) and
 * pipelined requests are answered in order: the next request on a
 * connection is parsed only after the previous response was queued.
 * Malformed requests get 400, too-large heads 431, too-large bodies 413,
 * unknown paths 404, a known path with another method 405 with Allow; the
 * connection is closed after 400, 413 and 431.
 *
 * Instrumented routes (non-NULL name) feed the metrics of Thanos's HTTP
 * middleware: http_requests_total, http_request_duration_seconds,
 * http_request_size_bytes, http_response_size_bytes (labels code, handler,
 * method) and http_inflight_requests (handler, method).
 */
#ifndef THANOSC_HTTP_H
#define THANOSC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "thanosc/buf.h"

struct runtime;
struct service;
struct http_server;
struct http_req;

/* Methods as bits, for route tables and Allow headers. */
enum http_method_bits {
  HTTP_M_GET = 1 << 0,
  HTTP_M_HEAD = 1 << 1,
  HTTP_M_POST = 1 << 2,
  HTTP_M_PUT = 1 << 3,
  HTTP_M_DELETE = 1 << 4,
  HTTP_M_OPTIONS = 1 << 5,
  HTTP_M_PATCH = 1 << 6,
};

/* The bit of a method name ("GET" -> HTTP_M_GET), 0 when unknown. */
unsigned http_method_bit(const char *name);
/* "GET, HEAD, POST" for a mask, into out (at least 64 bytes). */
void http_methods_allow(unsigned mask, char *out, size_t n);

typedef void http_handler_fn(struct http_req *req, void *data);

enum http_route_flags {
  /* path is a prefix: "/api/v1/label/" matches "/api/v1/label/job/values";
   * the remainder is http_req_rest(). */
  HTTP_ROUTE_PREFIX = 1 << 0,
  /* Full responses of 1400 bytes or more are gzip-encoded for clients
   * that accept it (Content-Encoding: gzip, Vary: Accept-Encoding), as
   * Thanos's API and promhttp's /metrics do. Streams are not encoded. */
  HTTP_ROUTE_GZIP = 1 << 1,
  /* With HTTP_ROUTE_GZIP: encode bodies of any size (promhttp does). */
  HTTP_ROUTE_GZIP_ANY_SIZE = 1 << 2,
};

struct http_route {
  unsigned methods; /* enum http_method_bits; GET implies HEAD */
  const char *path; /* absolute, decoded form ("/api/v1/query") */
  unsigned flags;   /* enum http_route_flags */
  const char *name; /* "handler" label of the http_* metrics, or NULL
                     * for an uninstrumented route (/metrics, probes) */
  http_handler_fn *fn;
  void *data; /* passed to fn, borrowed */
};

/*
 * Router: exact paths first, then the longest matching prefix. Returns 200
 * and *out (borrowed from r) when a route matches path and method, 405 when
 * a route matches the path only (*allow gets the methods of the path), and
 * 404 otherwise. *rest gets the part of path after a prefix route ("" for an
 * exact route).
 */
struct http_router {
  struct http_route *routes; /* owned copies; path strings duplicated */
  size_t n, cap;
};

void http_router_init(struct http_router *r);
void http_router_release(struct http_router *r);
/* Copies route (and its path). TC_EEXIST when the same path and kind is
 * already registered for an overlapping method. */
int http_router_add(struct http_router *r, const struct http_route *route);
int http_router_match(const struct http_router *r, unsigned method,
                      const char *path, const struct http_route **out,
                      const char **rest, unsigned *allow);

/*
 * Query strings and application/x-www-form-urlencoded bodies, as Go's
 * url.ParseQuery reads them: pairs split on '&', '+' is a space, %XX is
 * decoded, a key without '=' has the value "", repeated keys keep every
 * value in order (match[]=a&match[]=b). A bad escape or a ';' separator is
 * TC_EPARSE with a message naming the offending text.
 */
struct http_param {
  char *key;   /* owned, '\0'-terminated */
  char *value; /* owned, '\0'-terminated (may hold '\0' inside) */
  size_t value_len;
};

struct http_params {
  struct http_param *v;
  size_t n, cap;
};

#define HTTP_PARAMS_INIT                                                       \
  { 0 }

/* Appends the pairs of s[0..len) to p. */
int http_params_parse(struct http_params *p, const char *s, size_t len);
/* The first value of key, or NULL (borrowed from p). */
const char *http_params_get(const struct http_params *p, const char *key);
/* Iterates values of key: start with *pos = 0; NULL at the end. */
const char *http_params_next(const struct http_params *p, const char *key,
                             size_t *pos);
size_t http_params_count(const struct http_params *p, const char *key);
void http_params_release(struct http_params *p);

/* Percent-decodes s[0..n) into a new string (*out owned by the caller,
 * *out_len without the terminator); plus_space turns '+' into ' '. */
int http_unescape(const char *s, size_t n, int plus_space, char **out,
                  size_t *out_len /* OUT, may be NULL */);

/* Server. */
struct http_server_opts {
  const char *address;       /* "host:port"; port 0 picks a free port */
  int64_t grace_ms;          /* --http-grace-period */
  size_t max_header_bytes;   /* request line + headers; 0 = 1 MiB */
  size_t max_body_bytes;     /* 0 = 32 MiB */
  int64_t header_timeout_ms; /* whole head must arrive in; 0 = 60 s */
  int64_t idle_timeout_ms;   /* keep-alive idle close, and the time the
                              * body may take after the head; 0 = 5 min */
  struct runtime *rt;        /* borrowed; readiness for /-/ready, may be NULL */
};

/* A server on loop; *out is owned, freed with http_server_free(). */
int http_server_new(uv_loop_t *loop, const struct http_server_opts *opts,
                    struct http_server **out /* OUT */);
/* Frees a server that is not listening (never started, or stopped). */
void http_server_free(struct http_server *srv);
int http_server_route(struct http_server *srv, const struct http_route *r);
/* Registers /metrics, /-/healthy and /-/ready. */
int http_server_add_builtin_routes(struct http_server *srv);
/* Binds and listens; TC_EINVAL for a bad address, -errno from the socket. */
int http_server_listen(struct http_server *srv);
/* The bound port after http_server_listen(). */
int http_server_port(struct http_server *srv);
/*
 * Graceful stop: closes the listener, closes idle connections, lets
 * requests in progress finish within grace_ms (their responses carry
 * "Connection: close"), then closes what is left and calls done(data).
 */
typedef void http_server_stopped_fn(struct http_server *srv, void *data);
void http_server_stop(struct http_server *srv, http_server_stopped_fn *done,
                      void *data);
/* A runtime service (borrowed from srv) that listens on start and stops
 * gracefully. */
struct service *http_server_service(struct http_server *srv);
/* Number of open connections (for tests). */
size_t http_server_connections(struct http_server *srv);

/* Request accessors: strings are borrowed from req. */
const char *http_req_method(struct http_req *req); /* "GET" */
unsigned http_req_method_bit(struct http_req *req);
const char *http_req_path(struct http_req *req);  /* percent-decoded */
const char *http_req_query(struct http_req *req); /* raw, without '?' */
const char *http_req_rest(struct http_req *req);  /* after a prefix route */
/* The first value of a header (name case-insensitive), or NULL. */
const char *http_req_header(struct http_req *req, const char *name);
const struct tc_buf *http_req_body(struct http_req *req);
/*
 * The request's parameters, as Go's Request.ParseForm: the values of an
 * application/x-www-form-urlencoded body (POST, PUT, PATCH) first, then the
 * query string. TC_EPARSE for bad encodings.
 */
int http_req_params(struct http_req *req, struct http_params *out);
/* The loop the request runs on (for worker-pool work). */
uv_loop_t *http_req_loop(struct http_req *req);
/* The client went away: later writes are dropped. */
int http_req_aborted(struct http_req *req);
typedef void http_abort_fn(struct http_req *req, void *data);
void http_req_on_abort(struct http_req *req, http_abort_fn *fn, void *data);

/* Response. */
/* Adds a response header (copied); call before responding. */
void http_set_header(struct http_req *req, const char *name, const char *value);
/* A complete response with a Content-Length. content_type may be NULL. */
int http_respond(struct http_req *req, int status, const char *content_type,
                 const void *body, size_t len);
/* Same, taking the bytes of body (which is left empty). */
int http_respond_buf(struct http_req *req, int status, const char *content_type,
                     struct tc_buf *body);
/* Go's http.Error: text/plain, "msg\n", X-Content-Type-Options: nosniff. */
int http_respond_error(struct http_req *req, int status, const char *msg);

/*
 * Streaming (Transfer-Encoding: chunked). http_stream_write() queues one
 * chunk and returns 0 while the connection's write queue is below the high
 * water mark, 1 when it is above (the producer should wait for the drain
 * callback before writing more), or TC_ECANCELED when the client went away.
 * The drain callback runs once, when the queue falls below the low water
 * mark after a write returned 1.
 */
int http_stream_begin(struct http_req *req, int status,
                      const char *content_type);
int http_stream_write(struct http_req *req, const void *p, size_t n);
typedef void http_drain_fn(struct http_req *req, void *data);
void http_stream_on_drain(struct http_req *req, http_drain_fn *fn, void *data);
int http_stream_end(struct http_req *req);

/* Whether an Accept-Encoding value (may be NULL) allows gzip. */
int http_accepts_gzip(const char *accept_encoding);

/* "Not Found" for 404, "" for unknown codes. */
const char *http_status_text(int status);

#endif
