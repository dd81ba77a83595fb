/*
 * internal.h - what the gRPC server and client share: one HTTP/2 connection
 * over a libuv TCP stream, optionally wrapped in TLS through OpenSSL memory
 * BIOs. Not a public API.
 *
 * The owner (server connection or client) embeds struct grpc__conn, creates
 * the nghttp2 session with the conn as user data of its own callbacks, and
 * supplies three hooks. The conn reads from the socket, decrypts, feeds
 * nghttp2, and then calls ops->after_recv(); grpc__conn_kick() schedules
 * one flush (nghttp2 -> TLS -> socket) plus ops->after_recv() on the next
 * loop turn, so submissions made from user callbacks are batched.
 */
#ifndef THANOSC_GRPC_INTERNAL_H
#define THANOSC_GRPC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "thanosc/buf.h"

struct grpc__conn;

/* A piece of gathered output: bytes of wbuf from off, or borrowed ones. */
struct grpc__piece {
  const char *p; /* NULL: in wbuf at off */
  size_t off, n;
};

/* Called once the write carrying borrowed bytes is done (or dropped). */
struct grpc__ref {
  void (*release)(void *arg);
  void *arg;
};

struct grpc__conn_ops {
  /* After input was processed and after each flush: deliver events. */
  void (*after_recv)(struct grpc__conn *c);
  /* TLS handshake done, or TCP connected for h2c (client side). */
  void (*on_ready)(struct grpc__conn *c);
  /* The connection failed or ended (rc < 0 with tc_errmsg set, or 0 at
   * orderly EOF); it is being closed, on_closed follows. */
  void (*on_error)(struct grpc__conn *c, int rc);
  /* All handles closed: the owner may free the memory now. */
  void (*on_closed)(struct grpc__conn *c);
};

/* Stop generating output while this many bytes wait in the socket. */
#define GRPC__WRITE_HIGH (1u << 20)
/* Output is gathered into buffers of about this size per uv_write; a few
 * written ones are kept for reuse (fresh memory costs page faults). */
#define GRPC__WRITE_CHUNK (256u << 10)
#define GRPC__WRITE_SPARES 4

struct grpc__conn {
  uv_tcp_t tcp;
  uv_idle_t kick;
  uv_timer_t ka; /* keepalive PINGs (client side) */
  uint64_t ka_interval, ka_timeout;
  uint64_t ping_sent; /* uv_now() of the unanswered PING, or 0 */
  int (*ka_wanted)(struct grpc__conn *c); /* ping only while this is 1 */
  uv_loop_t *loop;
  const struct grpc__conn_ops *ops;
  nghttp2_session *h2;
  SSL *ssl; /* NULL for h2c */
  int tls_ready;
  size_t write_pending; /* bytes handed to uv_write, not yet done */
  int closing;          /* grpc__conn_close() called */
  int nclosed;          /* handles closed so far */
  int errored;          /* on_error delivered */
  int in_recv;          /* inside nghttp2_session_mem_recv */
  /* Output gathered for the next uv_write: copied bytes in wbuf, and the
   * order of them and of borrowed ones in pieces. */
  struct tc_buf wbuf;
  struct grpc__piece *pieces;
  size_t npieces, cappieces;
  struct grpc__ref *refs;
  size_t nrefs, caprefs;
  size_t out_len; /* bytes gathered */
  struct tc_buf spare[GRPC__WRITE_SPARES]; /* written buffers to reuse */
  int nspare;
  char rbuf[65536];
};

/* Sets up the uv handles (tcp already initialised by the caller is not
 * expected: this calls uv_tcp_init). */
int grpc__conn_init(struct grpc__conn *c, uv_loop_t *loop,
                    const struct grpc__conn_ops *ops);
/* Wraps the connection in TLS (server or client SSL from ctx); for a client
 * sni may name the server. The conn owns the SSL. */
int grpc__conn_tls(struct grpc__conn *c, SSL_CTX *ctx, int server,
                   const char *sni, int verify_name);
/* Starts reading (and the TLS handshake for a client). */
int grpc__conn_start(struct grpc__conn *c);
/* Schedules a flush + after_recv on the next loop turn. */
void grpc__conn_kick(struct grpc__conn *c);
/* Writes what nghttp2 has to send, within GRPC__WRITE_HIGH. */
void grpc__conn_flush(struct grpc__conn *c);
/* Appends bytes to the output being gathered by grpc__conn_flush() (after
 * TLS encryption): for nghttp2 send_data callbacks of NO_COPY DATA frames,
 * which run inside the flush. */
int grpc__conn_out(struct grpc__conn *c, const void *p, size_t n);
/* The same without copying: p stays valid until release(arg) runs, once
 * the write is done or the connection dropped (at once with TLS, which
 * copies while encrypting). */
int grpc__conn_out_ref(struct grpc__conn *c, const void *p, size_t n,
                       void (*release)(void *arg), void *arg);
/* Sends a PING every interval_ms while wanted(c) says so, and fails the
 * connection when one is not answered within timeout_ms. The owner reports
 * PING ACK frames with grpc__conn_ping_acked(). */
void grpc__conn_keepalive(struct grpc__conn *c, uint64_t interval_ms,
                          uint64_t timeout_ms,
                          int (*wanted)(struct grpc__conn *c));
void grpc__conn_ping_acked(struct grpc__conn *c);
/* Closes the handles (idempotent); on_closed runs when done. */
void grpc__conn_close(struct grpc__conn *c);

/* Loads an SSL_CTX for a server (cert, key, optional client CA) or a client
 * (optional cert/key, CA, skip-verify), with ALPN h2. Owned result. */
int grpc__tls_server_ctx(const char *cert, const char *key, const char *ca,
                         SSL_CTX **out /* OUT */);
int grpc__tls_client_ctx(const char *cert, const char *key, const char *ca,
                         int skip_verify, SSL_CTX **out /* OUT */);

/* A heap one-shot timer running cb(data) after ms; grpc__timer_free()
 * stops it and frees it once closed. */
uv_timer_t *grpc__timer_new(uv_loop_t *loop, uint64_t ms, uv_timer_cb cb,
                            void *data);
void grpc__timer_free(uv_timer_t *t);

/* Header helper: a nghttp2_nv from two C strings. */
#define GRPC__NV(n, v)                                                         \
  { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }

/*
 * Appends one gRPC length-prefixed message to out, compressing it with the
 * snappy framing format when snappy is set. max bounds the (uncompressed)
 * message size: TC_ELIMIT beyond it.
 */
int grpc__frame_msg(struct tc_buf *out, const void *p, size_t n, int snappy,
                    size_t max);

/*
 * Takes the next complete message from in[0..len): returns 0 and sets
 * msg, mlen and used when one is there (decompressing into scratch if its
 * flag says so), 1 when more bytes are needed, or an error (TC_ELIMIT for a
 * message over max, TC_EPROTO for a compressed message without encoding).
 */
int grpc__deframe(const uint8_t *in, size_t len, int snappy, size_t max,
                  struct tc_buf *scratch, const uint8_t **msg, size_t *mlen,
                  size_t *used);

#endif
