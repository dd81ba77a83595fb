/*
 * grpc.h - gRPC over HTTP/2 (nghttp2) on a libuv loop: a server with a
 * method table and a multiplexing client.
 *
 * Everything here runs on the loop thread unless stated otherwise. Messages
 * cross this API as serialized protobuf bytes (or a ProtobufCMessage for
 * convenience); framing, compression (identity, snappy framing format),
 * deadlines, flow control and status trailers are handled inside.
 *
 * Server
 * ------
 * A role describes its methods in a table terminated by {0}:
 *
 *   static const struct grpc_method methods[] = {
 *     {"/thanos.Store/Series", GRPC_SERVER_STREAM, series_handler, st},
 *     {0},
 *   };
 *
 * When a request message has arrived the handler runs with a call. The call
 * belongs to the library; the handler must end it exactly once with
 * grpc_call_finish() - synchronously, or later from any loop callback (for
 * example the after-work callback of uv_queue_work). Until then the call
 * stays valid even if the client has gone away.
 *
 * Streaming with backpressure: a handler sends while grpc_call_writable()
 * is true and otherwise returns after grpc_call_on_writable(call, fn); fn
 * runs on the loop when the peer has taken enough data. Sends never block.
 *
 * Cancellation: RST_STREAM from the client, a lost connection, an expired
 * grpc-timeout or server shutdown make the call cancelled. The on_cancel
 * callback (if set) runs once on the loop; grpc_call_cancelled() may be
 * polled from worker threads. A cancelled call still needs its finish.
 *
 * Client
 * ------
 * grpc_client_new() makes one client per endpoint; its calls share one
 * HTTP/2 connection, opened on first use and reopened with backoff after a
 * failure. grpc_client_call_start() sends one request message; responses
 * are delivered one message at a time to on_msg, then on_done runs exactly
 * once with the final status, after which the call is freed.
 */
#ifndef THANOSC_GRPC_H
#define THANOSC_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <uv.h>

#include "thanosc/buf.h"
#include "thanosc/loop.h"

/* gRPC status codes (the numbers are the wire values). */
enum grpc_code {
  GRPC_OK = 0,
  GRPC_CANCELLED = 1,
  GRPC_UNKNOWN = 2,
  GRPC_INVALID_ARGUMENT = 3,
  GRPC_DEADLINE_EXCEEDED = 4,
  GRPC_NOT_FOUND = 5,
  GRPC_ALREADY_EXISTS = 6,
  GRPC_PERMISSION_DENIED = 7,
  GRPC_RESOURCE_EXHAUSTED = 8,
  GRPC_FAILED_PRECONDITION = 9,
  GRPC_ABORTED = 10,
  GRPC_OUT_OF_RANGE = 11,
  GRPC_UNIMPLEMENTED = 12,
  GRPC_INTERNAL = 13,
  GRPC_UNAVAILABLE = 14,
  GRPC_DATA_LOSS = 15,
  GRPC_UNAUTHENTICATED = 16,
};

/* grpc-go's name of a code ("OK", "InvalidArgument", ...), as metrics and
 * tools print it; "Code(N)" style codes outside the table give "Unknown". */
const char *grpc_code_name(int code);
/* The gRPC code for a thanosc error code (TC_EINVAL -> INVALID_ARGUMENT,
 * TC_ELIMIT -> RESOURCE_EXHAUSTED, TC_ENOTSUP -> UNIMPLEMENTED, ...). */
int grpc_code_from_tc(int rc);
/* The thanosc error code for a gRPC status (inverse of the above). */
int grpc_code_to_tc(int code);

/* Message-size default of Thanos servers and clients: 2^31-1. */
#define GRPC_MAX_MSG_DEFAULT ((size_t)INT32_MAX)

/* ---------------------------------------------------------------- server */

struct grpc_server;
struct grpc_call;

enum grpc_method_type {
  GRPC_UNARY,
  GRPC_SERVER_STREAM,
};

/*
 * Runs once per call when its request message (req, len bytes, borrowed for
 * the duration of the handler only) has arrived. Must lead to exactly one
 * grpc_call_finish(). data is grpc_method.data.
 */
typedef void grpc_handler_fn(struct grpc_call *call, const uint8_t *req,
                             size_t len, void *data);
/* A per-call event: writable again, or cancelled. */
typedef void grpc_call_event_fn(struct grpc_call *call);

struct grpc_method {
  const char *path; /* "/thanos.Store/Series" */
  enum grpc_method_type type;
  grpc_handler_fn *handler;
  void *data;
};

struct grpc_server_opts {
  const char *address;  /* "host:port", ":port"; port 0 = any */
  const char *tls_cert; /* PEM files; NULL or "" = plaintext h2c */
  const char *tls_key;
  const char *tls_client_ca; /* set = require and verify client certs */
  size_t max_recv_msg;       /* 0 = GRPC_MAX_MSG_DEFAULT */
  size_t max_send_msg;       /* 0 = GRPC_MAX_MSG_DEFAULT */
  int64_t grace_ms;          /* graceful-stop drain time, --grpc-grace-period */
};

/*
 * Creates a server on loop serving the methods of table (borrowed: must
 * outlive the server) and binds/listens on o->address. *out is owned: stop
 * it with grpc_server_stop() and free it in (or after) the stop callback.
 * Errors: bad address, TLS files, bind failures (message in tc_errmsg()).
 */
int grpc_server_new(uv_loop_t *loop, const struct grpc_method *table,
                    const struct grpc_server_opts *o,
                    struct grpc_server **out /* OUT */);
/* The bound TCP port (useful with port 0). */
int grpc_server_port(const struct grpc_server *s);

typedef void grpc_server_stop_fn(struct grpc_server *s, void *data);
/*
 * Graceful stop: closes the listener, sends GOAWAY on every connection, lets
 * running calls finish for up to grace_ms, then cancels what remains and
 * closes all connections. done runs once on the loop when every handle is
 * closed and every call finished; only then may grpc_server_free() run.
 */
void grpc_server_stop(struct grpc_server *s, grpc_server_stop_fn *done,
                      void *data);
void grpc_server_free(struct grpc_server *s);

/* The loop the call runs on (for timers and uv_queue_work). */
uv_loop_t *grpc_call_loop(const struct grpc_call *c);
/* Handler-owned state of a call. */
void grpc_call_set_data(struct grpc_call *c, void *data);
void *grpc_call_data(const struct grpc_call *c);
/* The method the call is for (borrowed from the table). */
const struct grpc_method *grpc_call_method(const struct grpc_call *c);
/* A request metadata value (lower-case name), borrowed until finish, or
 * NULL. */
const char *grpc_call_metadata(const struct grpc_call *c, const char *name);
/* Milliseconds left before the client's deadline; INT64_MAX if none. */
int64_t grpc_call_time_left_ms(const struct grpc_call *c);

/*
 * Queues one response message. Returns 0, TC_ECANCELED when the call is
 * cancelled (the message is dropped; finish the call), TC_ELIMIT when the
 * message exceeds max_send_msg or the handler ignored backpressure far
 * beyond the high-water mark (64 MiB queued), TC_ESTATE after finish or a
 * second message on a unary call.
 */
int grpc_call_send(struct grpc_call *c, const ProtobufCMessage *msg);
int grpc_call_send_bytes(struct grpc_call *c, const void *p, size_t n);
/*
 * Queues messages that are already framed as on the wire (each one: a zero
 * byte, its length as big-endian 32 bits, the message) without copying
 * them: the server takes b's memory, and b is left empty, possibly with the
 * memory of an earlier batch to fill next. The same results as
 * grpc_call_send_bytes() for each message, and TC_EINVAL for bad framing
 * (nothing is queued then). A call that compresses its responses frames
 * them again here (a copy).
 */
int grpc_call_send_framed(struct grpc_call *c, struct tc_buf *b);
/* 1 when the queue is below the high-water mark and sending is useful. */
int grpc_call_writable(const struct grpc_call *c);
/* fn runs once, on the loop, when the queue drains below the low-water
 * mark (or immediately on the next loop turn if it already is). */
void grpc_call_on_writable(struct grpc_call *c, grpc_call_event_fn *fn);
/* fn runs once on the loop when the call is cancelled. */
void grpc_call_on_cancel(struct grpc_call *c, grpc_call_event_fn *fn);
/* Thread-safe: 1 once cancelled. */
int grpc_call_cancelled(const struct grpc_call *c);
/*
 * Ends the call with a status and an optional message (printf format, may
 * be NULL). The call must not be used afterwards. On a cancelled call this
 * only releases it.
 */
void grpc_call_finish(struct grpc_call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Answers a unary call: sends msg and finishes with OK, or, when the send
 * fails (too large, cancelled), finishes with that error's status and
 * message. The call must not be used afterwards.
 */
void grpc_call_reply(struct grpc_call *c, const ProtobufCMessage *msg);
/*
 * A handler's request as message d, owned by the caller (free it with
 * protobuf_c_message_free_unpacked()); NULL after finishing the call with
 * InvalidArgument when the bytes do not unpack.
 */
void *grpc_call_unpack(struct grpc_call *c,
                       const ProtobufCMessageDescriptor *d, const uint8_t *req,
                       size_t len);

/*
 * The server as a runtime service (thanosc/loop.h): start creates it on the
 * runtime's loop, stop is grpc_server_stop() within opts.grace_ms.
 *
 *   struct grpc_service gs;
 *   grpc_service_init(&gs, methods, &opts);
 *   runtime_add(&rt, &gs.svc);
 *
 * table and the strings in o are borrowed and must outlive the runtime.
 */
struct grpc_service {
  struct service svc;
  const struct grpc_method *table;
  struct grpc_server_opts opts;
  struct grpc_server *srv; /* while started */
  service_stopped_fn *stopped;
};
void grpc_service_init(struct grpc_service *gs, const struct grpc_method *table,
                       const struct grpc_server_opts *o);

/* ---------------------------------------------------------------- client */

struct grpc_client;
struct grpc_client_call;

struct grpc_client_opts {
  int tls;              /* --grpc-client-tls-secure */
  const char *tls_cert; /* client certificate (mTLS), may be NULL */
  const char *tls_key;
  const char *tls_ca;      /* NULL = system roots */
  const char *server_name; /* SNI / verification name; NULL = host */
  int tls_skip_verify;
  const char *compression;      /* NULL, "none" or "snappy" */
  size_t max_recv_msg;          /* 0 = GRPC_MAX_MSG_DEFAULT */
  int64_t keepalive_ms;         /* PING interval while calls are open;
                                   0 = 10 s, <0 = off */
  int64_t keepalive_timeout_ms; /* unanswered PING fails the connection
                                   (calls: UNAVAILABLE); 0 = 5 s */
};

/*
 * One message of a response, p/n borrowed for the duration of the callback.
 * Return 0 to continue, or non-zero to cancel the call (on_done follows with
 * CANCELLED).
 */
typedef int grpc_client_msg_fn(struct grpc_client_call *call, const uint8_t *p,
                               size_t n, void *data);
/* The final status, exactly once; msg is borrowed for the callback; the
 * call is freed when it returns. */
typedef void grpc_client_done_fn(struct grpc_client_call *call, int code,
                                 const char *msg, void *data);

/*
 * A client for target "host:port". No connection is made until the first
 * call. *out is owned: grpc_client_free() fails what is still running (each
 * call gets on_done CANCELLED) and closes the connection asynchronously.
 */
int grpc_client_new(uv_loop_t *loop, const char *target,
                    const struct grpc_client_opts *o,
                    struct grpc_client **out /* OUT */);
void grpc_client_free(struct grpc_client *c);

/*
 * Starts a call of path ("/thanos.Store/Series") with one request message
 * (req, n bytes, copied). timeout_ms > 0 sets grpc-timeout and a local
 * deadline. If this returns < 0 no callback runs; otherwise on_done runs
 * exactly once, never before this function has returned. *out (may be
 * NULL) is borrowed until on_done.
 */
int grpc_client_call_start(struct grpc_client *c, const char *path,
                           const void *req, size_t n, int64_t timeout_ms,
                           grpc_client_msg_fn *on_msg,
                           grpc_client_done_fn *on_done, void *data,
                           struct grpc_client_call **out /* OUT */);
/* Same with a message to serialize. */
int grpc_client_call_startm(struct grpc_client *c, const char *path,
                            const ProtobufCMessage *req, int64_t timeout_ms,
                            grpc_client_msg_fn *on_msg,
                            grpc_client_done_fn *on_done, void *data,
                            struct grpc_client_call **out /* OUT */);
/* Cancels (RST_STREAM CANCEL); on_done(CANCELLED) runs on a later turn. */
void grpc_client_call_cancel(struct grpc_client_call *call);
/* Backpressure: while paused no message is delivered and the HTTP/2 window
 * is not reopened, so the server stops sending. */
void grpc_client_call_pause(struct grpc_client_call *call);
void grpc_client_call_resume(struct grpc_client_call *call);

/* ------------------------------------------------------ framing helpers */

/* Percent-encodes a grpc-message value (bytes outside 0x20-0x7e and '%'). */
char *grpc_percent_encode(const char *s);
/* Decodes it back; malformed escapes are kept verbatim. Owned result. */
char *grpc_percent_decode(const char *s);
/* Parses a grpc-timeout value ("100m", "5S"); TC_EPARSE on bad input. */
int grpc_timeout_parse(const char *s, int64_t *ms /* OUT */);
/* Formats ms as a grpc-timeout value into out (at least 16 bytes). */
void grpc_timeout_format(int64_t ms, char *out, size_t n);

/*
 * Snappy framing format (as grpc-go's "snappy" compressor in Thanos writes
 * it): compress appends a stream identifier and chunks of at most 64 KiB;
 * decompress verifies chunk CRCs and refuses output beyond max bytes.
 */
struct tc_buf;
int grpc_snappy_compress(const void *p, size_t n, struct tc_buf *out);
int grpc_snappy_decompress(const void *p, size_t n, struct tc_buf *out,
                           size_t max);

#endif
