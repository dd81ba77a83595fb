/*
 * httpc.h - a small blocking HTTP client over libcurl for one-off requests
 * (credential endpoints, the sidecar asking Prometheus). Each call uses its
 * own easy handle unless the caller keeps a struct httpc for reuse.
 * Thread-safe when each thread uses its own struct httpc (or none).
 *
 *   struct httpc_req r = {.method = "GET", .url = url, .timeout_ms = 5000};
 *   struct tc_buf body; tc_buf_init(&body, 1 << 20);
 *   int status = httpc_do(NULL, &r, &body);
 */
#ifndef THANOSC_HTTPC_H
#define THANOSC_HTTPC_H

#include <stddef.h>

#include "thanosc/buf.h"

struct httpc_req {
  const char *method;        /* "GET", "PUT", "POST", ... */
  const char *url;
  const char *const *headers; /* "Name: value" strings, NULL-terminated */
  const char *body;          /* borrowed; may be NULL */
  size_t body_len;
  long timeout_ms;           /* whole request; 0 = none */
  long connect_timeout_ms;   /* 0 = libcurl's default */
  int insecure_skip_verify;
  long buffer_size;          /* receive buffer (CURLOPT_BUFFERSIZE); 0 = default */
};

/* A reusable connection (an easy handle); optional. */
struct httpc {
  void *curl;
};

void httpc_init(struct httpc *h);
void httpc_release(struct httpc *h);

/*
 * Performs the request; appends the response body to body (its cap
 * applies: TC_ELIMIT). Returns the HTTP status (>= 100) or a negative code
 * for a transport failure, with a message naming the URL without its query.
 */
int httpc_do(struct httpc *h, const struct httpc_req *r, struct tc_buf *body);

/*
 * Streaming variant: fn gets the body piece by piece as it arrives, with the
 * response status and Content-Type ("" when absent). A non-zero return from
 * fn aborts the transfer and is returned as is (fn sets the message). An
 * empty body never calls fn. Returns the status or a negative code.
 */
typedef int httpc_body_fn(void *data, int status, const char *content_type,
                          const void *p, size_t n);
int httpc_do_stream(struct httpc *h, const struct httpc_req *r,
                    httpc_body_fn *fn, void *data);

/* curl_global_init once, thread-safely. */
void httpc_global_init(void);

#endif
