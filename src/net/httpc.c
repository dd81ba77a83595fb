/*
 * httpc.c - the blocking libcurl client of httpc.h: one request, its body
 * into a capped buffer, the status back. Used for credential endpoints by
 * src/objstore and open to the sidecar for Prometheus's HTTP API; the S3
 * backend drives libcurl itself for streaming and connection reuse.
 */
#include "thanosc/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void httpc_global_init(void) { pthread_once(&global_once, global_init); }

void httpc_init(struct httpc *h) { h->curl = NULL; }

void httpc_release(struct httpc *h) {
  if (h->curl)
    curl_easy_cleanup(h->curl);
  h->curl = NULL;
}

struct sink {
  struct tc_buf *body;
  int err;
  CURL *curl;
  httpc_body_fn *fn; /* streaming: instead of body */
  void *data;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  struct sink *s = ud;
  if (s->fn) {
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(s->curl, CURLINFO_CONTENT_TYPE, &ctype);
    int rc = s->fn(s->data, (int)status, ctype ? ctype : "", p, size * n);
    if (rc) {
      s->err = rc;
      return 0;
    }
    return size * n;
  }
  if (tc_buf_add(s->body, p, size * n) < 0) {
    s->err = TC_ELIMIT;
    return 0;
  }
  return size * n;
}

/* The URL without its query, for messages (queries may hold tokens). */
static char *url_for_msg(const char *url) {
  size_t n = strcspn(url, "?");
  return xstrndup(url, n);
}

static int perform(struct httpc *h, const struct httpc_req *r,
                   struct sink *sink_in) {
  httpc_global_init();
  CURL *c = h && h->curl ? h->curl : curl_easy_init();
  struct curl_slist *hdrs = NULL;
  struct sink sink = *sink_in;
  int rc;
  if (!c)
    TC_BUG("curl_easy_init");
  if (h)
    h->curl = c;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, r->url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
  if (!strcmp(r->method, "HEAD"))
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (r->body || strcmp(r->method, "GET")) {
    if (r->body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
  }
  for (const char *const *p = r->headers; p && *p; p++)
    hdrs = curl_slist_append(hdrs, *p);
  hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  sink.curl = c;
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  if (r->timeout_ms)
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
  if (r->connect_timeout_ms)
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
  if (r->buffer_size)
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, r->buffer_size);
  if (r->insecure_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  CURLcode cc = curl_easy_perform(c);
  if (sink.err && sink.fn) {
    rc = sink.err; /* the callback's code and message */
  } else if (sink.err) {
    char *u = url_for_msg(r->url);
    rc = tc_error(TC_ELIMIT, "%s %s: response larger than %zu bytes",
                  r->method, u, sink.body->max);
    free(u);
  } else if (cc != CURLE_OK) {
    char *u = url_for_msg(r->url);
    rc = tc_error(cc == CURLE_OPERATION_TIMEDOUT ? TC_ETIMEOUT : TC_EUNAVAIL,
                  "%s %s: %s", r->method, u, curl_easy_strerror(cc));
    free(u);
  } else {
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    rc = (int)status;
  }
  curl_slist_free_all(hdrs);
  if (!h)
    curl_easy_cleanup(c);
  return rc;
}

int httpc_do(struct httpc *h, const struct httpc_req *r, struct tc_buf *body) {
  struct sink sink = {.body = body};
  return perform(h, r, &sink);
}

int httpc_do_stream(struct httpc *h, const struct httpc_req *r,
                    httpc_body_fn *fn, void *data) {
  struct sink sink = {.fn = fn, .data = data};
  return perform(h, r, &sink);
}
