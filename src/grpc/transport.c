/*
 * transport.c - one HTTP/2 connection on a libuv TCP stream, shared by the
 * gRPC server and client (src/grpc/internal.h).
 *
 * Input: socket bytes -> (TLS: memory BIO, SSL_read) -> nghttp2 mem_recv.
 * Output: nghttp2 mem_send -> (TLS: SSL_write, drain the write BIO) ->
 * uv_write. Output stops while GRPC__WRITE_HIGH bytes are still queued in
 * the socket, so a peer that never reads holds at most that much here;
 * nghttp2 only pulls more from the streams' data providers when we ask.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "grpc/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

struct wreq {
  uv_write_t req;
  struct grpc__conn *c;
  struct tc_buf b;       /* the copied bytes */
  struct grpc__ref *refs; /* the borrowed ones, released when written */
  size_t nrefs, len;
};

static void refs_release(struct grpc__ref *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    r[i].release(r[i].arg);
}

static void conn_fail(struct grpc__conn *c, int rc) {
  if (c->errored)
    return;
  c->errored = 1;
  if (c->ops->on_error)
    c->ops->on_error(c, rc);
  grpc__conn_close(c);
}

static void on_handle_closed(uv_handle_t *h) {
  struct grpc__conn *c = h->data;
  if (++c->nclosed < 3)
    return;
  if (c->h2)
    nghttp2_session_del(c->h2);
  c->h2 = NULL;
  if (c->ssl)
    SSL_free(c->ssl);
  c->ssl = NULL;
  tc_buf_release(&c->wbuf);
  refs_release(c->refs, c->nrefs);
  free(c->refs);
  free(c->pieces);
  while (c->nspare > 0)
    tc_buf_release(&c->spare[--c->nspare]);
  c->ops->on_closed(c);
}

void grpc__conn_close(struct grpc__conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_idle_stop(&c->kick);
  uv_close((uv_handle_t *)&c->kick, on_handle_closed);
  uv_timer_stop(&c->ka);
  uv_close((uv_handle_t *)&c->ka, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_write(uv_write_t *req, int status) {
  struct wreq *w = (struct wreq *)req;
  struct grpc__conn *c = w->c;
  c->write_pending -= w->len;
  refs_release(w->refs, w->nrefs);
  free(w->refs);
  if (!c->closing && c->nspare < GRPC__WRITE_SPARES &&
      w->b.cap <= 2 * GRPC__WRITE_CHUNK) {
    tc_buf_reset(&w->b);
    c->spare[c->nspare++] = w->b;
  } else {
    tc_buf_release(&w->b);
  }
  free(w);
  if (c->closing)
    return;
  if (status < 0) {
    conn_fail(c, tc_error(status, "write: %s", uv_strerror(status)));
    return;
  }
  c->ops->after_recv(c);
  grpc__conn_flush(c);
}

/* Hands the gathered output to the socket. */
static int conn_write(struct grpc__conn *c) {
  if (!c->out_len)
    return 0;
  uv_buf_t small[16];
  uv_buf_t *bufs = c->npieces <= TC_ARRAY_SIZE(small)
                       ? small
                       : xmalloc(c->npieces * sizeof *bufs);
  for (size_t i = 0; i < c->npieces; i++) {
    const struct grpc__piece *pc = &c->pieces[i];
    bufs[i] = uv_buf_init(pc->p ? (char *)pc->p : c->wbuf.data + pc->off,
                          (unsigned)pc->n);
  }
  struct wreq *w = xcalloc(1, sizeof *w);
  w->c = c;
  w->b = c->wbuf;
  w->refs = c->refs, w->nrefs = c->nrefs;
  w->len = c->out_len;
  tc_buf_init(&c->wbuf, 0);
  c->refs = NULL, c->nrefs = c->caprefs = 0;
  c->out_len = 0;
  /* libuv keeps its own copy of the buffer list */
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs,
                    (unsigned)c->npieces, on_write);
  c->npieces = 0;
  if (bufs != small)
    free(bufs);
  if (rc < 0) {
    refs_release(w->refs, w->nrefs);
    free(w->refs);
    tc_buf_release(&w->b);
    free(w);
    return tc_error(rc, "write: %s", uv_strerror(rc));
  }
  c->write_pending += w->len;
  return 0;
}

/* Room for n more bytes in wbuf, in a reused buffer when there is one. */
static int wbuf_reserve(struct grpc__conn *c, size_t n) {
  if (!c->wbuf.data && c->nspare > 0)
    c->wbuf = c->spare[--c->nspare];
  if (!c->wbuf.cap)
    tc_buf_reserve(&c->wbuf, GRPC__WRITE_CHUNK);
  return tc_buf_reserve(&c->wbuf, n);
}

/* Records that the last n bytes of wbuf come next in the output. */
static void piece_copied(struct grpc__conn *c, size_t n) {
  struct grpc__piece *last = c->npieces ? &c->pieces[c->npieces - 1] : NULL;
  size_t off = c->wbuf.len - n;
  if (last && !last->p && last->off + last->n == off) {
    last->n += n;
  } else {
    TC_GROW(c->pieces, c->cappieces, c->npieces + 1);
    c->pieces[c->npieces++] = (struct grpc__piece){NULL, off, n};
  }
  c->out_len += n;
}

/* Moves TLS output (records, handshake) from the write BIO into wbuf. */
static void tls_drain(struct grpc__conn *c) {
  BIO *wbio = SSL_get_wbio(c->ssl);
  size_t pending;
  while ((pending = BIO_ctrl_pending(wbio)) > 0) {
    wbuf_reserve(c, pending);
    int n = BIO_read(wbio, c->wbuf.data + c->wbuf.len, (int)pending);
    if (n <= 0)
      break;
    c->wbuf.len += (size_t)n;
    piece_copied(c, (size_t)n);
  }
}

int grpc__conn_out(struct grpc__conn *c, const void *p, size_t n) {
  if (!n)
    return 0;
  if (c->ssl) {
    if (SSL_write(c->ssl, p, (int)n) != (int)n)
      return tc_error(TC_EPROTO, "tls write error");
    tls_drain(c);
    return 0;
  }
  int rc = wbuf_reserve(c, n);
  if (rc)
    return rc;
  memcpy(c->wbuf.data + c->wbuf.len, p, n);
  c->wbuf.len += n;
  piece_copied(c, n);
  return 0;
}

int grpc__conn_out_ref(struct grpc__conn *c, const void *p, size_t n,
                       void (*release)(void *arg), void *arg) {
  if (c->ssl || !n) {
    int rc = grpc__conn_out(c, p, n);
    release(arg);
    return rc;
  }
  TC_GROW(c->pieces, c->cappieces, c->npieces + 1);
  c->pieces[c->npieces++] = (struct grpc__piece){p, 0, n};
  TC_GROW(c->refs, c->caprefs, c->nrefs + 1);
  c->refs[c->nrefs++] = (struct grpc__ref){release, arg};
  c->out_len += n;
  return 0;
}

void grpc__conn_flush(struct grpc__conn *c) {
  if (c->closing || c->in_recv)
    return;
  int rc = 0;
  while (c->h2 && c->write_pending + c->out_len < GRPC__WRITE_HIGH &&
         (!c->ssl || c->tls_ready)) {
    const uint8_t *d;
    ssize_t n = nghttp2_session_mem_send(c->h2, &d);
    if (n < 0) {
      rc = tc_error(TC_EPROTO, "http2: %s", nghttp2_strerror((int)n));
      break;
    }
    if (n == 0)
      break;
    if ((rc = grpc__conn_out(c, d, (size_t)n)))
      break;
    if (c->out_len >= GRPC__WRITE_CHUNK && (rc = conn_write(c)))
      break;
  }
  if (c->ssl && !rc)
    tls_drain(c); /* handshake records */
  if (!rc)
    rc = conn_write(c);
  if (rc) {
    conn_fail(c, rc);
    return;
  }
  if (c->h2 && !nghttp2_session_want_read(c->h2) &&
      !nghttp2_session_want_write(c->h2) && c->write_pending == 0)
    conn_fail(c, 0);
}

static int h2_recv(struct grpc__conn *c, const uint8_t *p, size_t n) {
  c->in_recv = 1;
  ssize_t rv = nghttp2_session_mem_recv(c->h2, p, n);
  c->in_recv = 0;
  if (rv < 0)
    return tc_error(TC_EPROTO, "http2: %s", nghttp2_strerror((int)rv));
  return 0;
}

static int alpn_check(struct grpc__conn *c) {
  const unsigned char *p = NULL;
  unsigned n = 0;
  SSL_get0_alpn_selected(c->ssl, &p, &n);
  if (n && !(n == 2 && !memcmp(p, "h2", 2)))
    return tc_error(TC_EPROTO, "tls: peer negotiated '%.*s', not h2", (int)n,
                    p);
  return 0;
}

static int tls_error(const char *what) {
  unsigned long e = ERR_get_error();
  char msg[256];
  ERR_error_string_n(e, msg, sizeof msg);
  ERR_clear_error();
  return tc_error(TC_EPROTO, "tls %s: %s", what, e ? msg : "connection error");
}

static int conn_feed(struct grpc__conn *c, const char *p, size_t n) {
  if (!c->ssl)
    return h2_recv(c, (const uint8_t *)p, n);
  if (BIO_write(SSL_get_rbio(c->ssl), p, (int)n) != (int)n)
    return tc_error(TC_EIO, "tls: buffer error");
  if (!c->tls_ready) {
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
      return tls_error("handshake");
    }
    c->tls_ready = 1;
    int rc = alpn_check(c);
    if (rc)
      return rc;
    if (c->ops->on_ready)
      c->ops->on_ready(c);
  }
  char tmp[16384];
  for (;;) {
    int r = SSL_read(c->ssl, tmp, sizeof tmp);
    if (r > 0) {
      int rc = h2_recv(c, (const uint8_t *)tmp, (size_t)r);
      if (rc)
        return rc;
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return 0;
    if (e == SSL_ERROR_ZERO_RETURN)
      return 1; /* close_notify */
    return tls_error("read");
  }
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b) {
  struct grpc__conn *c = h->data;
  *b = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  struct grpc__conn *c = s->data;
  if (c->closing)
    return;
  if (nread < 0) {
    conn_fail(c, nread == UV_EOF ? 0
                                 : tc_error((int)nread, "read: %s",
                                            uv_strerror((int)nread)));
    return;
  }
  if (nread == 0)
    return;
  int rc = conn_feed(c, b->base, (size_t)nread);
  if (rc) {
    conn_fail(c, rc < 0 ? rc : 0);
    return;
  }
  c->ops->after_recv(c);
  grpc__conn_flush(c);
}

static void on_kick(uv_idle_t *h) {
  struct grpc__conn *c = h->data;
  uv_idle_stop(h);
  if (c->closing)
    return;
  c->ops->after_recv(c);
  grpc__conn_flush(c);
}

void grpc__conn_kick(struct grpc__conn *c) {
  if (!c->closing)
    uv_idle_start(&c->kick, on_kick);
}

int grpc__conn_init(struct grpc__conn *c, uv_loop_t *loop,
                    const struct grpc__conn_ops *ops) {
  c->loop = loop;
  c->ops = ops;
  int rc = uv_tcp_init(loop, &c->tcp);
  if (rc < 0)
    return tc_error(rc, "tcp: %s", uv_strerror(rc));
  uv_idle_init(loop, &c->kick);
  uv_timer_init(loop, &c->ka);
  c->tcp.data = c;
  c->kick.data = c;
  c->ka.data = c;
  return 0;
}

static void on_keepalive(uv_timer_t *t) {
  struct grpc__conn *c = t->data;
  if (c->closing || !c->h2)
    return;
  uint64_t now = uv_now(c->loop);
  if (c->ping_sent) {
    if (now - c->ping_sent >= c->ka_timeout)
      conn_fail(c, tc_error(TC_ETIMEOUT,
                            "keepalive ping not answered "
                            "within %llu ms",
                            (unsigned long long)c->ka_timeout));
    return;
  }
  if (c->ka_wanted && !c->ka_wanted(c))
    return;
  nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL);
  c->ping_sent = now ? now : 1;
  grpc__conn_flush(c);
}

void grpc__conn_keepalive(struct grpc__conn *c, uint64_t interval_ms,
                          uint64_t timeout_ms,
                          int (*wanted)(struct grpc__conn *c)) {
  c->ka_interval = interval_ms;
  c->ka_timeout = timeout_ms;
  c->ka_wanted = wanted;
  /* Ticks often enough to notice both the interval and the timeout. */
  uint64_t tick = timeout_ms < interval_ms ? timeout_ms : interval_ms;
  uv_timer_start(&c->ka, on_keepalive, interval_ms, tick ? tick : 1);
}

void grpc__conn_ping_acked(struct grpc__conn *c) {
  c->ping_sent = 0;
}

int grpc__conn_tls(struct grpc__conn *c, SSL_CTX *ctx, int server,
                   const char *sni, int verify_name) {
  c->ssl = SSL_new(ctx);
  if (!c->ssl)
    return tls_error("setup");
  BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(c->ssl, rbio, wbio);
  if (server) {
    SSL_set_accept_state(c->ssl);
    return 0;
  }
  SSL_set_connect_state(c->ssl);
  if (sni && *sni) {
    unsigned char tmp[16];
    int is_ip =
        inet_pton(AF_INET, sni, tmp) == 1 || inet_pton(AF_INET6, sni, tmp) == 1;
    if (!is_ip)
      SSL_set_tlsext_host_name(c->ssl, sni);
    if (verify_name) {
      X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
      if (is_ip)
        X509_VERIFY_PARAM_set1_ip_asc(vp, sni);
      else
        X509_VERIFY_PARAM_set1_host(vp, sni, 0);
    }
  }
  return 0;
}

int grpc__conn_start(struct grpc__conn *c) {
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0)
    return tc_error(rc, "read: %s", uv_strerror(rc));
  if (c->ssl && !SSL_is_server(c->ssl)) {
    SSL_do_handshake(c->ssl); /* produces the ClientHello */
    tls_drain(c);
    return conn_write(c);
  }
  if (!c->ssl && c->ops->on_ready)
    c->ops->on_ready(c);
  return 0;
}

/* ------------------------------------------------------------ TLS setup */

static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg) {
  static const unsigned char h2[] = "\x02h2";
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, h2, 3, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

int grpc__tls_server_ctx(const char *cert, const char *key, const char *ca,
                         SSL_CTX **out) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  int rc = 0;
  if (!ctx)
    return tls_error("setup");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    rc = tls_error("certificate");
    tc_error_wrap(rc, "grpc server tls cert '%s'", cert);
    goto out;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    rc = tls_error("key");
    tc_error_wrap(rc, "grpc server tls key '%s'", key);
    goto out;
  }
  if (ca && *ca) {
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
      rc = tls_error("client ca");
      tc_error_wrap(rc, "grpc server tls client ca '%s'", ca);
      goto out;
    }
    SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(ca));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       NULL);
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
out:
  if (rc) {
    SSL_CTX_free(ctx);
    return rc;
  }
  *out = ctx;
  return 0;
}

int grpc__tls_client_ctx(const char *cert, const char *key, const char *ca,
                         int skip_verify, SSL_CTX **out) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int rc = 0;
  if (!ctx)
    return tls_error("setup");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (cert && *cert) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert, SSL_FILETYPE_PEM) !=
            1) {
      rc = tls_error("client certificate");
      tc_error_wrap(rc, "grpc client tls cert '%s'", cert);
      goto out;
    }
  }
  if (ca && *ca) {
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
      rc = tls_error("ca");
      tc_error_wrap(rc, "grpc client tls ca '%s'", ca);
      goto out;
    }
  } else {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  SSL_CTX_set_verify(ctx, skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     NULL);
  SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3);
out:
  if (rc) {
    SSL_CTX_free(ctx);
    return rc;
  }
  *out = ctx;
  return 0;
}

static void timer_closed(uv_handle_t *h) {
  free(h);
}

uv_timer_t *grpc__timer_new(uv_loop_t *loop, uint64_t ms, uv_timer_cb cb,
                            void *data) {
  uv_timer_t *t = xmalloc(sizeof *t);
  uv_timer_init(loop, t);
  t->data = data;
  uv_timer_start(t, cb, ms, 0);
  return t;
}

void grpc__timer_free(uv_timer_t *t) {
  if (!t)
    return;
  uv_timer_stop(t);
  uv_close((uv_handle_t *)t, timer_closed);
}
