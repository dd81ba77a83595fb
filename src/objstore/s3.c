/*
 * s3.c - the S3 backend on libcurl: the config keys of Thanos's S3 client,
 * SigV4-signed requests (sigv4.c) with credentials from s3creds.c, XML
 * answers through expat (s3xml.c). A pool of curl easy handles keeps
 * connections alive across requests and lets several threads work at once.
 * Every request is retried with exponential backoff and jitter on 5xx,
 * SlowDown, RequestTimeout and dropped connections, never on other 4xx; a
 * get that drops mid-body resumes where it stopped, so the caller's
 * callback sees each byte once. Uploads above part_size go in parts,
 * several at a time, and a failed multipart upload is aborted so that
 * nothing half-written stays.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "objstore/internal.h"
#include "objstore/s3.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/httpc.h"
#include "thanosc/log.h"

#define POOL_MAX 64
#define RESP_MAX (32 << 20)     /* list pages, errors */
#define DEFAULT_PART_SIZE (64ULL << 20)
#define MIN_PART_SIZE (5ULL << 20)
#define MAX_PARTS 10000
#define PART_THREADS 4
#define DEFAULT_ATTEMPTS 10
#define RETRY_UNIT_MS 200
#define RETRY_CAP_MS 1000
#define HASH_CHUNK (1 << 20)
#define MAX_HDRS 24
#define SIGNED_BODY_MAX (64 * 1024)

struct s3_bucket {
  struct objstore base;
  char *name;       /* the bucket */
  char *host;       /* authority of requests: endpoint or bucket.endpoint */
  char *scheme;     /* "http" or "https" */
  char *region;
  char *path_base;  /* "/bucket" (path style) or "" */
  int list_v1;
  int send_md5;
  int disable_multipart;
  uint64_t part_size;
  int attempts;
  long connect_timeout_ms;
  long stall_s;     /* response_header_timeout, as a stall limit */
  long idle_s;
  int skip_verify;
  char *ca_file, *cert_file, *key_file;
  char **meta;      /* "x-amz-meta-k: v" */
  size_t nmeta;
  char **sse;       /* SSE headers for PUT/initiate */
  size_t nsse;
  char **ssec;      /* SSE-C headers for GET/HEAD/part too */
  size_t nssec;
  struct s3_cred_provider creds;
  pthread_mutex_t pool_lock;
  CURL *pool[POOL_MAX];
  int npool;
  CURLSH *share;      /* DNS cache and TLS sessions across the pool */
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

static struct s3_bucket *s3b(struct objstore *os) {
  return objstore__downcast(os, &objstore_s3_ops);
}

/* --- one request ---------------------------------------------------------- */

struct s3_req {
  const char *op;      /* for messages: "get", "upload", ... */
  const char *method;
  const char *key;     /* NULL: the bucket itself */
  struct s3_kv query[6];
  size_t nq;
  const char *hdrs[MAX_HDRS]; /* "name: value", signed */
  size_t nh;
  /* body */
  const struct objstore_src *src;
  uint64_t body_off, body_len;
  int has_body;
  uint64_t body_pos;
  /* response */
  objstore_write_fn *fn; /* 2xx body; NULL: into resp */
  void *fn_data;
  int ranged;
  uint64_t range_off;
  int64_t range_len;
  /* state and results */
  struct tc_buf resp;
  long status;
  int64_t content_length;
  time_t last_modified;
  char etag[256];
  int user_rc;
  int overflow;
  uint64_t delivered; /* bytes handed to fn, over all attempts */
  uint64_t skip;      /* bytes to drop from a 200 that ignored our range */
  uint64_t received;  /* 2xx body bytes of this attempt */
};

static void req_init(struct s3_req *r, const char *op, const char *method,
                     const char *key) {
  memset(r, 0, sizeof *r);
  r->op = op;
  r->method = method;
  r->key = key;
  r->content_length = -1;
  tc_buf_init(&r->resp, RESP_MAX);
}

static void req_release(struct s3_req *r) { tc_buf_release(&r->resp); }

static void req_query(struct s3_req *r, const char *k, const char *v) {
  if (r->nq < TC_ARRAY_SIZE(r->query))
    r->query[r->nq++] = (struct s3_kv){k, v};
}

static void req_header(struct s3_req *r, const char *h) {
  if (r->nh < MAX_HDRS)
    r->hdrs[r->nh++] = h;
}

static void req_headers(struct s3_req *r, char **h, size_t n) {
  for (size_t i = 0; i < n; i++)
    req_header(r, h[i]);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  struct s3_req *r = ud;
  size_t len = size * n;
  char line[512];
  size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
  memcpy(line, p, l);
  line[l] = '\0';
  line[strcspn(line, "\r\n")] = '\0';
  if (!strncmp(line, "HTTP/", 5)) {
    const char *sp = strchr(line, ' ');
    r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    r->content_length = -1;
    /* A 200 to a ranged get is the whole object: drop what comes before
     * the bytes wanted (the range start plus what was delivered). */
    r->skip = r->status == 200 && r->ranged ? r->range_off + r->delivered : 0;
    return len;
  }
  char *colon = strchr(line, ':');
  if (!colon)
    return len;
  *colon = '\0';
  char *v = colon + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  if (!strcasecmp(line, "content-length"))
    r->content_length = strtoll(v, NULL, 10);
  else if (!strcasecmp(line, "last-modified"))
    s3_parse_http_date(v, &r->last_modified);
  else if (!strcasecmp(line, "etag"))
    snprintf(r->etag, sizeof r->etag, "%s", v);
  return len;
}

static int ok_status(long s) { return s >= 200 && s < 300; }

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  struct s3_req *r = ud;
  size_t len = size * n;
  if (ok_status(r->status) && r->fn) {
    size_t k = 0;
    r->received += len;
    if (r->skip) {
      k = r->skip < len ? (size_t)r->skip : len;
      r->skip -= k;
    }
    size_t give = len - k;
    /* Some servers answer more than the range asked for ("bytes=0-0"). */
    if (r->ranged && r->range_len >= 0)
      give = (uint64_t)r->range_len - r->delivered < give
                 ? (size_t)((uint64_t)r->range_len - r->delivered)
                 : give;
    if (give) {
      int rc = r->fn(r->fn_data, p + k, give);
      if (rc) {
        r->user_rc = rc;
        return 0;
      }
      r->delivered += give;
    }
    return len;
  }
  if (tc_buf_add(&r->resp, p, len) < 0) {
    r->overflow = 1;
    return 0;
  }
  return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud) {
  struct s3_req *r = ud;
  uint64_t left = r->body_len - r->body_pos;
  size_t k = size * n < left ? size * n : (size_t)left;
  int rc;
  if (k && (rc = r->src->read_at(r->src->data, p, k,
                                 r->body_off + r->body_pos)) < 0) {
    r->user_rc = rc; /* the source's message stays recorded */
    return CURL_READFUNC_ABORT;
  }
  r->body_pos += k;
  return k;
}

static int on_seek(void *ud, curl_off_t off, int origin) {
  struct s3_req *r = ud;
  if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len)
    return CURL_SEEKFUNC_CANTSEEK;
  r->body_pos = (uint64_t)off;
  return CURL_SEEKFUNC_OK;
}

static CURL *pool_get(struct s3_bucket *b) {
  CURL *c = NULL;
  pthread_mutex_lock(&b->pool_lock);
  if (b->npool)
    c = b->pool[--b->npool];
  pthread_mutex_unlock(&b->pool_lock);
  if (!c && !(c = curl_easy_init()))
    TC_BUG("curl_easy_init");
  return c;
}

static void pool_put(struct s3_bucket *b, CURL *c) {
  pthread_mutex_lock(&b->pool_lock);
  if (b->npool < POOL_MAX) {
    b->pool[b->npool++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&b->pool_lock);
  if (c)
    curl_easy_cleanup(c);
}

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a,
                       void *ud) {
  (void)c;
  (void)a;
  pthread_mutex_lock(&((struct s3_bucket *)ud)->share_locks[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *ud) {
  (void)c;
  pthread_mutex_unlock(&((struct s3_bucket *)ud)->share_locks[d]);
}

static void share_init(struct s3_bucket *b) {
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&b->share_locks[i], NULL);
  b->share = curl_share_init();
  if (!b->share)
    TC_BUG("curl_share_init");
  curl_share_setopt(b->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(b->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(b->share, CURLSHOPT_USERDATA, b);
  curl_share_setopt(b->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(b->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

/* The raw path of a request: "/bucket/key" or "/key". Caller frees. */
static char *req_path(struct s3_bucket *b, const char *key) {
  return xasprintf("%s/%s", b->path_base, key ? key : "");
}

/* Is a transport error worth another attempt? */
static int retriable_curl(CURLcode cc) {
  switch (cc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return 1;
  default:
    return 0;
  }
}

static int retriable_code(const char *code) {
  return !strcmp(code, "SlowDown") || !strcmp(code, "RequestTimeout") ||
         !strcmp(code, "InternalError") || !strcmp(code, "ServiceUnavailable") ||
         !strcmp(code, "RequestTimeTooSkewed") || !strcmp(code, "ExpiredToken");
}

static int err_code_of(long status, const char *code) {
  if (!strcmp(code, "NoSuchKey") || (status == 404 && !code[0]))
    return TC_ENOTFOUND;
  if (status == 403 || !strcmp(code, "AccessDenied") ||
      !strcmp(code, "InvalidAccessKeyId") ||
      !strcmp(code, "SignatureDoesNotMatch"))
    return TC_EDENIED;
  if (status >= 500 || status == 429)
    return TC_EUNAVAIL;
  if (!strcmp(code, "NoSuchBucket"))
    return TC_EINVAL;
  return TC_EIO;
}

static void backoff(int attempt) {
  long d = RETRY_UNIT_MS << (attempt < 10 ? attempt : 10);
  if (d > RETRY_CAP_MS)
    d = RETRY_CAP_MS;
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&d ^
                  (unsigned)attempt * 2654435761u;
  long j = d / 2 + (long)(rand_r(&seed) % (d / 2 + 1));
  usleep((useconds_t)j * 1000);
}

/* Sets the options of one attempt on c; headers go into *hl. */
static int setup(struct s3_bucket *b, struct s3_req *r, CURL *c,
                 const struct s3_creds *cr, const char *payload_hash,
                 struct curl_slist **hl, char **url_out) {
  struct tc_buf url = TC_BUF_INIT, auth = TC_BUF_INIT;
  char date[17], range[64];
  char *path = req_path(b, r->key);
  struct s3_kv sh[MAX_HDRS + 6];
  size_t nsh = 0;
  char *owned[MAX_HDRS + 6];
  size_t nowned = 0;

  s3_amz_date(time(NULL), date);
  tc_buf_addf(&url, "%s://%s", b->scheme, b->host);
  s3_uri_encode(&url, path, 1);
  for (size_t i = 0; i < r->nq; i++) {
    tc_buf_addc(&url, i ? '&' : '?');
    s3_uri_encode(&url, r->query[i].k, 0);
    tc_buf_addc(&url, '=');
    s3_uri_encode(&url, r->query[i].v ? r->query[i].v : "", 0);
  }

  sh[nsh++] = (struct s3_kv){"host", b->host};
  sh[nsh++] = (struct s3_kv){"x-amz-content-sha256", payload_hash};
  sh[nsh++] = (struct s3_kv){"x-amz-date", date};
  if (cr->token)
    sh[nsh++] = (struct s3_kv){"x-amz-security-token", cr->token};
  if (r->ranged) {
    uint64_t off = r->range_off + r->delivered;
    if (r->range_len < 0)
      snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)off);
    else
      snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
               (unsigned long long)(r->range_off + (uint64_t)r->range_len - 1));
    sh[nsh++] = (struct s3_kv){"range", range};
  }
  for (size_t i = 0; i < r->nh; i++) {
    const char *colon = strchr(r->hdrs[i], ':');
    char *k = xstrndup(r->hdrs[i], (size_t)(colon - r->hdrs[i]));
    owned[nowned++] = k;
    const char *v = colon + 1;
    while (*v == ' ')
      v++;
    sh[nsh++] = (struct s3_kv){k, v};
  }
  for (size_t i = 0; i < nsh; i++) {
    char *h = xasprintf("%s: %s", sh[i].k, sh[i].v);
    *hl = curl_slist_append(*hl, h);
    free(h);
  }
  if (cr->access_key) {
    char *raw = xasprintf("%s/%s", b->path_base, r->key ? r->key : "");
    struct s3_sign_req sr = {
        .method = r->method, .path = raw, .query = r->query, .nquery = r->nq,
        .headers = sh, .nheaders = nsh, .payload_hash = payload_hash,
        .amz_date = date, .region = b->region, .service = "s3",
        .access_key = cr->access_key, .secret_key = cr->secret_key};
    tc_buf_adds(&auth, "Authorization: ");
    s3_sign(&sr, &auth);
    *hl = curl_slist_append(*hl, auth.data);
    memset(auth.data, 0, auth.len);
    free(raw);
  }
  *hl = curl_slist_append(*hl, "Expect:");
  *hl = curl_slist_append(*hl, "Accept:");
  for (size_t i = 0; i < nowned; i++)
    free(owned[i]);

  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url.data);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_SHARE, b->share);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hl);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, b->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, b->stall_s);
  curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, b->idle_s);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
  if (b->skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (b->ca_file)
    curl_easy_setopt(c, CURLOPT_CAINFO, b->ca_file);
  if (b->cert_file)
    curl_easy_setopt(c, CURLOPT_SSLCERT, b->cert_file);
  if (b->key_file)
    curl_easy_setopt(c, CURLOPT_SSLKEY, b->key_file);
  if (!strcmp(r->method, "HEAD")) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (r->has_body) {
    r->body_pos = 0;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, r);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, r);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    if (strcmp(r->method, "PUT"))
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
  } else if (strcmp(r->method, "GET")) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
  }
  tc_buf_release(&auth);
  free(path);
  *url_out = tc_buf_detach(&url, NULL);
  return 0;
}

/* Hex SHA-256 (and base64 MD5 when md5b64) of the request body. */
static int hash_body(struct s3_req *r, char hex[65], char *md5b64) {
  EVP_MD_CTX *sha = EVP_MD_CTX_new(), *md5 = EVP_MD_CTX_new();
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int dn;
  char *buf = xmalloc(HASH_CHUNK);
  int rc = 0;
  if (!sha || !md5)
    TC_BUG("openssl: out of memory");
  EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
  EVP_DigestInit_ex(md5, EVP_md5(), NULL);
  for (uint64_t off = 0; off < r->body_len;) {
    size_t n = r->body_len - off < HASH_CHUNK ? (size_t)(r->body_len - off)
                                              : HASH_CHUNK;
    if ((rc = r->src->read_at(r->src->data, buf, n, r->body_off + off)) < 0)
      break;
    if (hex)
      EVP_DigestUpdate(sha, buf, n);
    if (md5b64)
      EVP_DigestUpdate(md5, buf, n);
    off += n;
  }
  free(buf);
  if (rc == 0 && hex) {
    EVP_DigestFinal_ex(sha, d, &dn);
    for (unsigned i = 0; i < dn; i++)
      snprintf(hex + 2 * i, 3, "%02x", d[i]);
  }
  if (rc == 0 && md5b64) {
    EVP_DigestFinal_ex(md5, d, &dn);
    EVP_EncodeBlock((unsigned char *)md5b64, d, (int)dn);
  }
  EVP_MD_CTX_free(sha);
  EVP_MD_CTX_free(md5);
  return rc;
}

/* The message subject: "get 'key'" or "list bucket 'b'". */
static void subject(struct s3_bucket *b, struct s3_req *r, char *out,
                    size_t n) {
  if (r->key && *r->key)
    snprintf(out, n, "s3 %s '%s'", r->op, r->key);
  else
    snprintf(out, n, "s3 %s bucket '%s'", r->op, b->name);
}

/*
 * Performs r with retries. 0 when the answer was 2xx (or 416 on a ranged
 * get: nothing past the end), r->user_rc when the callback stopped it, or
 * a negative code with a message naming the operation, key and S3 code.
 */
static int s3_perform(struct s3_bucket *b, struct s3_req *r) {
  char hash[65] = "", md5[32] = "", *md5hdr = NULL, subj[1200];
  const char *payload_hash;
  int rc = 0;

  subject(b, r, subj, sizeof subj);
  if (r->has_body && r->body_len) {
    /* Small bodies (XML) are hashed; object data goes UNSIGNED-PAYLOAD, as
     * curl and the SDKs over TLS send it, checked by Content-MD5 when
     * send_content_md5 is set: a second pass over gigabytes costs more. */
    int want_sha = r->body_len <= SIGNED_BODY_MAX;
    if (want_sha || b->send_md5) {
      if ((rc = hash_body(r, want_sha ? hash : NULL,
                          b->send_md5 ? md5 : NULL)) < 0)
        return tc_error_wrap(rc, "%s", subj);
    }
    payload_hash = want_sha ? hash : S3_UNSIGNED_PAYLOAD;
    if (b->send_md5) {
      md5hdr = xasprintf("content-md5: %s", md5);
      req_header(r, md5hdr);
    }
  } else {
    s3_sha256_hex("", 0, hash);
    payload_hash = hash;
  }

  for (int attempt = 0; attempt < b->attempts; attempt++) {
    struct s3_creds cr;
    struct curl_slist *hl = NULL;
    char *url = NULL;
    if (attempt)
      backoff(attempt - 1);
    if ((rc = s3_creds_get(&b->creds, &cr)) < 0) {
      rc = tc_error_wrap(rc, "%s: credentials", subj);
      break;
    }
    CURL *c = pool_get(b);
    uint64_t resumed = r->delivered;
    r->status = 0;
    r->skip = 0;
    r->received = 0;
    r->overflow = 0;
    tc_buf_reset(&r->resp);
    if (resumed && !r->ranged) {
      r->ranged = 1;
      r->range_off = 0;
      r->range_len = -1;
    }
    setup(b, r, c, &cr, payload_hash, &hl, &url);
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(hl);
    free(url);
    s3_creds_release(&cr);
    pool_put(b, c);
    if (r->user_rc) {
      rc = r->user_rc;
      break;
    }
    if (r->overflow) {
      rc = tc_error(TC_ELIMIT, "%s: answer larger than %d bytes", subj,
                    RESP_MAX);
      break;
    }
    if (cc != CURLE_OK) {
      rc = tc_error(cc == CURLE_OPERATION_TIMEDOUT ? TC_ETIMEOUT : TC_EUNAVAIL,
                    "%s: %s", subj, curl_easy_strerror(cc));
      if (retriable_curl(cc)) {
        LOG_DEBUG("s3 request retried", "op", r->op, "err", tc_errmsg(rc));
        continue;
      }
      break;
    }
    if (ok_status(r->status)) {
      /* A body that ended short without an error is a dropped body. */
      if (r->fn && r->content_length >= 0 &&
          r->received < (uint64_t)r->content_length &&
          strcmp(r->method, "HEAD")) {
        rc = tc_error(TC_EUNAVAIL, "%s: body cut short", subj);
        continue;
      }
      rc = 0;
      break;
    }
    if (r->status == 416 && r->ranged) {
      rc = 0; /* the range starts at or past the end: nothing */
      break;
    }
    struct s3_error e;
    s3xml_error(r->resp.data, r->resp.len, &e);
    rc = tc_error(err_code_of(r->status, e.code), "%s: %ld %s%s%s", subj,
                  r->status, e.code[0] ? e.code : "",
                  e.message[0] ? ": " : "", e.message);
    if (!strcmp(e.code, "ExpiredToken"))
      s3_creds_invalidate(&b->creds);
    if (r->status >= 500 || r->status == 429 || retriable_code(e.code)) {
      LOG_DEBUG("s3 request retried", "op", r->op, "err", tc_errmsg(rc));
      continue;
    }
    break;
  }
  free(md5hdr);
  return rc;
}

/* --- operations ----------------------------------------------------------------- */

struct merge {
  objstore_iter_fn *fn;
  void *data;
  const char *dir;
  char *last; /* v1: where the next page starts */
};

static int emit(struct merge *m, const char *name) {
  free(m->last);
  m->last = xstrdup(name);
  if (!strcmp(name, m->dir))
    return 0; /* the "directory" object itself */
  return m->fn(m->data, name);
}

static int s3_iter(struct objstore *os, const char *dir, unsigned flags,
                   objstore_iter_fn *fn, void *data) {
  struct s3_bucket *b = s3b(os);
  struct merge m = {fn, data, dir, NULL};
  char *token = NULL;
  int rc = 0;
  for (int page = 0;; page++) {
    struct s3_req r;
    struct s3_list_page pg;
    req_init(&r, "list", "GET", NULL);
    if (!b->list_v1)
      req_query(&r, "list-type", "2");
    req_query(&r, "prefix", dir);
    if (!(flags & OBJSTORE_RECURSIVE))
      req_query(&r, "delimiter", "/");
    if (token)
      req_query(&r, b->list_v1 ? "marker" : "continuation-token", token);
    rc = s3_perform(b, &r);
    if (rc == 0 && (rc = s3xml_list(r.resp.data ? r.resp.data : "",
                                    r.resp.len, &pg)) < 0)
      rc = tc_error_wrap(rc, "s3 list '%s'", dir);
    req_release(&r);
    if (rc < 0)
      break;
    /* Keys and prefixes are each sorted: merge them. */
    size_t i = 0, j = 0;
    while (!rc && (i < pg.nkeys || j < pg.nprefixes)) {
      if (j >= pg.nprefixes ||
          (i < pg.nkeys && strcmp(pg.keys[i], pg.prefixes[j]) < 0))
        rc = emit(&m, pg.keys[i++]);
      else
        rc = emit(&m, pg.prefixes[j++]);
    }
    free(token);
    token = NULL;
    if (!rc && pg.truncated) {
      if (b->list_v1)
        token = xstrdup(pg.next_marker ? pg.next_marker
                                       : m.last ? m.last : "");
      else if (pg.next_token)
        token = xstrdup(pg.next_token);
    }
    s3_list_page_release(&pg);
    if (rc || !token)
      break;
  }
  free(token);
  free(m.last);
  return rc;
}

static int s3_get_range(struct objstore *os, const char *name, uint64_t off,
                        int64_t len, objstore_write_fn *fn, void *data) {
  struct s3_bucket *b = s3b(os);
  struct s3_req r;
  req_init(&r, off || len >= 0 ? "get_range" : "get", "GET", name);
  r.fn = fn;
  r.fn_data = data;
  if (off || len >= 0) {
    r.ranged = 1;
    r.range_off = off;
    r.range_len = len;
  }
  req_headers(&r, b->ssec, b->nssec);
  int rc = s3_perform(b, &r);
  req_release(&r);
  return rc;
}

static int s3_attributes(struct objstore *os, const char *name,
                         struct objstore_attrs *out) {
  struct s3_bucket *b = s3b(os);
  struct s3_req r;
  req_init(&r, "attributes", "HEAD", name);
  req_headers(&r, b->ssec, b->nssec);
  int rc = s3_perform(b, &r);
  if (rc == 0) {
    out->size = r.content_length < 0 ? 0 : r.content_length;
    out->last_modified_ms = (int64_t)r.last_modified * 1000;
  }
  req_release(&r);
  return rc;
}

static int put_object(struct s3_bucket *b, const char *name,
                      const struct objstore_src *src) {
  struct s3_req r;
  req_init(&r, "upload", "PUT", name);
  r.src = src;
  r.has_body = 1;
  r.body_len = src->size;
  req_headers(&r, b->sse, b->nsse);
  req_headers(&r, b->meta, b->nmeta);
  int rc = s3_perform(b, &r);
  req_release(&r);
  return rc;
}

struct upload_id {
  char id[1024];
};

static void upload_id_cb(void *data, const char *path, const char *text) {
  if (!strcmp(path, "InitiateMultipartUploadResult/UploadId"))
    snprintf(((struct upload_id *)data)->id, 1024, "%s", text);
}

struct multipart {
  struct s3_bucket *b;
  const char *name;
  const char *upload_id;
  const struct objstore_src *src;
  uint64_t part_size;
  int nparts;
  char **etags;
  pthread_mutex_t lock;
  int next;
  int rc;
  char msg[1024];
};

static void *part_worker(void *arg) {
  struct multipart *mp = arg;
  for (;;) {
    pthread_mutex_lock(&mp->lock);
    int i = mp->rc ? mp->nparts : mp->next++;
    pthread_mutex_unlock(&mp->lock);
    if (i >= mp->nparts)
      break;
    char num[16];
    snprintf(num, sizeof num, "%d", i + 1);
    struct s3_req r;
    req_init(&r, "upload", "PUT", mp->name);
    req_query(&r, "partNumber", num);
    req_query(&r, "uploadId", mp->upload_id);
    r.src = mp->src;
    r.has_body = 1;
    r.body_off = (uint64_t)i * mp->part_size;
    r.body_len = TC_MIN(mp->part_size, mp->src->size - r.body_off);
    req_headers(&r, mp->b->ssec, mp->b->nssec);
    int rc = s3_perform(mp->b, &r);
    if (rc == 0 && !r.etag[0])
      rc = tc_error(TC_EPROTO, "s3 upload '%s': part %d without ETag",
                    mp->name, i + 1);
    pthread_mutex_lock(&mp->lock);
    if (rc < 0 && !mp->rc) {
      mp->rc = rc;
      snprintf(mp->msg, sizeof mp->msg, "%s (part %d)", tc_errmsg(rc), i + 1);
    } else if (rc == 0) {
      mp->etags[i] = xstrdup(r.etag);
    }
    pthread_mutex_unlock(&mp->lock);
    req_release(&r);
  }
  return NULL;
}

static void xml_escape(struct tc_buf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': tc_buf_adds(b, "&amp;"); break;
    case '<': tc_buf_adds(b, "&lt;"); break;
    case '>': tc_buf_adds(b, "&gt;"); break;
    case '"': tc_buf_adds(b, "&quot;"); break;
    default: tc_buf_addc(b, *s);
    }
  }
}

static int multipart_upload(struct s3_bucket *b, const char *name,
                            const struct objstore_src *src) {
  struct s3_req r;
  struct upload_id uid = {""};
  struct multipart mp = {.b = b, .name = name, .src = src};
  struct tc_buf xml = TC_BUF_INIT;
  int rc;

  mp.part_size = b->part_size;
  while ((src->size + mp.part_size - 1) / mp.part_size > MAX_PARTS)
    mp.part_size *= 2;
  mp.nparts = (int)((src->size + mp.part_size - 1) / mp.part_size);

  req_init(&r, "upload", "POST", name);
  req_query(&r, "uploads", "");
  struct objstore_src empty;
  objstore_src_buf(&empty, "", 0);
  r.src = &empty;
  r.has_body = 1;
  req_headers(&r, b->sse, b->nsse);
  req_headers(&r, b->meta, b->nmeta);
  rc = s3_perform(b, &r);
  if (rc == 0)
    s3xml_parse(r.resp.data ? r.resp.data : "", r.resp.len, upload_id_cb, &uid);
  req_release(&r);
  if (rc < 0)
    return rc;
  if (!uid.id[0])
    return tc_error(TC_EPROTO, "s3 upload '%s': no UploadId in answer", name);
  mp.upload_id = uid.id;
  mp.etags = xcalloc((size_t)mp.nparts, sizeof *mp.etags);
  pthread_mutex_init(&mp.lock, NULL);

  int nt = TC_MIN(PART_THREADS, mp.nparts);
  pthread_t t[PART_THREADS];
  for (int i = 0; i < nt; i++)
    pthread_create(&t[i], NULL, part_worker, &mp);
  for (int i = 0; i < nt; i++)
    pthread_join(t[i], NULL);
  if (mp.rc < 0) {
    rc = tc_error(mp.rc, "%s", mp.msg);
    goto abort;
  }

  tc_buf_adds(&xml, "<CompleteMultipartUpload>");
  for (int i = 0; i < mp.nparts; i++) {
    tc_buf_addf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
    xml_escape(&xml, mp.etags[i]);
    tc_buf_adds(&xml, "</ETag></Part>");
  }
  tc_buf_adds(&xml, "</CompleteMultipartUpload>");
  struct objstore_src body;
  objstore_src_buf(&body, xml.data, xml.len);
  req_init(&r, "upload", "POST", name);
  req_query(&r, "uploadId", uid.id);
  r.src = &body;
  r.has_body = 1;
  r.body_len = xml.len;
  req_header(&r, "content-type: application/xml");
  rc = s3_perform(b, &r);
  if (rc == 0) {
    /* Complete can fail with 200 and an <Error> body. */
    struct s3_error e;
    s3xml_error(r.resp.data, r.resp.len, &e);
    if (e.code[0])
      rc = tc_error(err_code_of(500, e.code), "s3 upload '%s': complete: %s%s%s",
                    name, e.code, e.message[0] ? ": " : "", e.message);
  }
  req_release(&r);
  if (rc == 0)
    goto out;
abort:
  {
    /* Keep the first error's message over the abort's. */
    char *msg = xstrdup(tc_errmsg(rc));
    struct s3_req a;
    req_init(&a, "abort upload", "DELETE", name);
    req_query(&a, "uploadId", uid.id);
    if (s3_perform(b, &a) < 0)
      LOG_WARN("s3 multipart upload not aborted", "key", name, "err",
               tc_errmsg(TC_EIO));
    req_release(&a);
    rc = tc_error(rc, "%s", msg);
    free(msg);
  }
out:
  for (int i = 0; i < mp.nparts; i++)
    free(mp.etags[i]);
  free(mp.etags);
  pthread_mutex_destroy(&mp.lock);
  tc_buf_release(&xml);
  return rc;
}

static int s3_upload(struct objstore *os, const char *name,
                     const struct objstore_src *src) {
  struct s3_bucket *b = s3b(os);
  if (b->disable_multipart || src->size <= b->part_size)
    return put_object(b, name, src);
  return multipart_upload(b, name, src);
}

static int s3_delete(struct objstore *os, const char *name) {
  struct s3_bucket *b = s3b(os);
  struct s3_req r;
  req_init(&r, "delete", "DELETE", name);
  int rc = s3_perform(b, &r);
  req_release(&r);
  return rc == TC_ENOTFOUND ? 0 : rc;
}

/* --- opening ---------------------------------------------------------------------- */

struct location {
  char region[64];
  int seen;
};

static void location_cb(void *data, const char *path, const char *text) {
  struct location *l = data;
  if (!strcmp(path, "LocationConstraint")) {
    snprintf(l->region, sizeof l->region, "%s", text);
    l->seen = 1;
  }
}

/* GetBucketLocation; us-east-1 when it cannot tell. */
static void lookup_region(struct s3_bucket *b) {
  struct s3_req r;
  struct location loc = {"", 0};
  b->region = xstrdup("us-east-1");
  int attempts = b->attempts;
  b->attempts = 1;
  req_init(&r, "location", "GET", NULL);
  req_query(&r, "location", "");
  int rc = s3_perform(b, &r);
  b->attempts = attempts;
  if (rc == 0)
    s3xml_parse(r.resp.data ? r.resp.data : "", r.resp.len, location_cb, &loc);
  req_release(&r);
  if (rc < 0) {
    LOG_WARN("s3 bucket location unknown, using us-east-1", "bucket", b->name,
             "err", tc_errmsg(rc));
    return;
  }
  if (loc.region[0]) {
    free(b->region);
    b->region = xstrdup(!strcmp(loc.region, "EU") ? "eu-west-1" : loc.region);
  }
  tc_error_clear();
}

static void push_hdr(char ***v, size_t *n, char *h) {
  *v = xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = h;
}

static int meta_cb(void *data, const char *k, const char *v) {
  struct s3_bucket *b = data;
  for (const char *p = k; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
      return tc_error(TC_EINVAL, "s3 config: put_user_metadata key '%s' is "
                      "not a valid header name", k);
  for (const char *p = v; *p; p++)
    if (*p == '\r' || *p == '\n')
      return tc_error(TC_EINVAL, "s3 config: put_user_metadata '%s' has a "
                      "line break", k);
  push_hdr(&b->meta, &b->nmeta, xasprintf("x-amz-meta-%s: %s", k, v));
  return 0;
}

static int kms_ctx_cb(void *data, const char *k, const char *v) {
  json_object_set_new(data, k, json_string(v));
  return 0;
}

static char *b64(const unsigned char *p, size_t n) {
  char *out = xmalloc(4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)out, p, (int)n);
  return out;
}

static int setup_sse(struct s3_bucket *b, struct objstore_cfg *cfg) {
  const char *type = objstore_cfg_str(cfg, "sse_config.type", "");
  const char *kms = objstore_cfg_str(cfg, "sse_config.kms_key_id", "");
  const char *keyfile = objstore_cfg_str(cfg, "sse_config.encryption_key", "");
  json_t *ctx = json_object();
  int rc = objstore_cfg_map(cfg, "sse_config.kms_encryption_context",
                            kms_ctx_cb, ctx);
  if (rc < 0)
    goto out;
  if (!*type) {
    rc = 0;
  } else if (!strcmp(type, "SSE-S3")) {
    push_hdr(&b->sse, &b->nsse,
             xstrdup("x-amz-server-side-encryption: AES256"));
  } else if (!strcmp(type, "SSE-KMS")) {
    if (!*kms) {
      rc = tc_error(TC_EINVAL, "s3 config: sse_config.kms_key_id is required "
                    "for SSE-KMS");
      goto out;
    }
    push_hdr(&b->sse, &b->nsse,
             xstrdup("x-amz-server-side-encryption: aws:kms"));
    push_hdr(&b->sse, &b->nsse,
             xasprintf("x-amz-server-side-encryption-aws-kms-key-id: %s", kms));
    if (json_object_size(ctx)) {
      char *js = json_dumps(ctx, JSON_COMPACT | JSON_SORT_KEYS);
      char *enc = b64((unsigned char *)js, strlen(js));
      push_hdr(&b->sse, &b->nsse,
               xasprintf("x-amz-server-side-encryption-context: %s", enc));
      free(enc);
      free(js);
    }
  } else if (!strcmp(type, "SSE-C")) {
    unsigned char key[33], md[EVP_MAX_MD_SIZE];
    FILE *f = *keyfile ? fopen(keyfile, "rb") : NULL;
    size_t n = f ? fread(key, 1, sizeof key, f) : 0;
    if (f)
      fclose(f);
    if (!*keyfile || !f || n != 32) {
      rc = tc_error(TC_EINVAL, "s3 config: sse_config.encryption_key must name "
                    "a file of 32 bytes for SSE-C");
      goto out;
    }
    unsigned int mdn = sizeof md;
    EVP_Digest(key, 32, md, &mdn, EVP_md5(), NULL);
    char *k64 = b64(key, 32), *m64 = b64(md, mdn);
    memset(key, 0, sizeof key);
    push_hdr(&b->ssec, &b->nssec, xstrdup(
        "x-amz-server-side-encryption-customer-algorithm: AES256"));
    push_hdr(&b->ssec, &b->nssec,
             xasprintf("x-amz-server-side-encryption-customer-key: %s", k64));
    push_hdr(&b->ssec, &b->nssec,
             xasprintf("x-amz-server-side-encryption-customer-key-md5: %s", m64));
    for (size_t i = 0; i < b->nssec; i++)
      push_hdr(&b->sse, &b->nsse, xstrdup(b->ssec[i]));
    memset(k64, 0, strlen(k64));
    free(k64);
    free(m64);
  } else {
    rc = tc_error(TC_EINVAL, "s3 config: unsupported sse_config.type '%s' "
                  "(SSE-S3, SSE-KMS or SSE-C)", type);
  }
out:
  json_decref(ctx);
  return rc;
}

static int s3_open(struct objstore *os, struct objstore_cfg *cfg) {
  struct s3_bucket *b = s3b(os);
  int64_t v;
  int rc, insecure, sv2;

  pthread_mutex_init(&b->pool_lock, NULL);
  httpc_global_init();
  share_init(b);
  const char *bucket = objstore_cfg_str(cfg, "bucket", "");
  const char *endpoint = objstore_cfg_str(cfg, "endpoint", "");
  const char *region = objstore_cfg_str(cfg, "region", "");
  const char *ak = objstore_cfg_str(cfg, "access_key", "");
  const char *sk = objstore_cfg_str(cfg, "secret_key", "");
  const char *tok = objstore_cfg_str(cfg, "session_token", "");
  const char *sts = objstore_cfg_str(cfg, "sts_endpoint", "");
  const char *listv = objstore_cfg_str(cfg, "list_objects_version", "");
  const char *lookup = objstore_cfg_str(cfg, "bucket_lookup_type", "auto");
  if ((rc = objstore_cfg_bool(cfg, "insecure", 0, &insecure)) < 0 ||
      (rc = objstore_cfg_bool(cfg, "signature_version2", 0, &sv2)) < 0 ||
      (rc = objstore_cfg_bool(cfg, "send_content_md5", 0, &b->send_md5)) < 0 ||
      (rc = objstore_cfg_bool(cfg, "disable_multipart", 0,
                              &b->disable_multipart)) < 0 ||
      (rc = objstore_cfg_bool(cfg, "http_config.insecure_skip_verify", 0,
                              &b->skip_verify)) < 0)
    return rc;
  int tls_skip;
  if ((rc = objstore_cfg_bool(cfg, "http_config.tls_config.insecure_skip_verify",
                              0, &tls_skip)) < 0)
    return rc;
  b->skip_verify |= tls_skip;
  if ((rc = objstore_cfg_int(cfg, "part_size", (int64_t)DEFAULT_PART_SIZE,
                             &v)) < 0)
    return rc;
  b->part_size = v > 0 ? (uint64_t)v : DEFAULT_PART_SIZE;
  if (b->part_size < MIN_PART_SIZE)
    return tc_error(TC_EINVAL, "s3 config: part_size %llu is below the 5MiB S3 "
                    "minimum", (unsigned long long)b->part_size);
  if ((rc = objstore_cfg_int(cfg, "max_retries", 0, &v)) < 0)
    return rc;
  b->attempts = v > 0 ? (int)v : DEFAULT_ATTEMPTS;
  int64_t idle, hdr, tlsh;
  if ((rc = objstore_cfg_duration(cfg, "http_config.idle_conn_timeout", "90s",
                                  &idle)) < 0 ||
      (rc = objstore_cfg_duration(cfg, "http_config.response_header_timeout",
                                  "2m", &hdr)) < 0 ||
      (rc = objstore_cfg_duration(cfg, "http_config.tls_handshake_timeout",
                                  "10s", &tlsh)) < 0)
    return rc;
  b->idle_s = (long)(idle / 1000 ? idle / 1000 : 1);
  b->stall_s = (long)(hdr / 1000 ? hdr / 1000 : 1);
  b->connect_timeout_ms = 30000 + (long)tlsh;
  const char *ca = objstore_cfg_str(cfg, "http_config.tls_config.ca_file", "");
  const char *cert = objstore_cfg_str(cfg, "http_config.tls_config.cert_file", "");
  const char *key = objstore_cfg_str(cfg, "http_config.tls_config.key_file", "");
  objstore_cfg_str(cfg, "http_config.tls_config.server_name", "");
  b->ca_file = *ca ? xstrdup(ca) : NULL;
  b->cert_file = *cert ? xstrdup(cert) : NULL;
  b->key_file = *key ? xstrdup(key) : NULL;
  /* Accepted, and meaningless for a libcurl client. */
  objstore_cfg_accept(cfg, "http_config.expect_continue_timeout");
  objstore_cfg_accept(cfg, "http_config.max_idle_conns");
  objstore_cfg_accept(cfg, "http_config.max_idle_conns_per_host");
  objstore_cfg_accept(cfg, "http_config.max_conns_per_host");
  objstore_cfg_accept(cfg, "http_config.disable_compression");
  objstore_cfg_accept(cfg, "http_config.insecure_skip_verify");
  objstore_cfg_accept(cfg, "trace");
  objstore_cfg_accept(cfg, "aws_sdk_auth");
  if ((rc = objstore_cfg_map(cfg, "put_user_metadata", meta_cb, b)) < 0)
    return rc;
  if ((rc = setup_sse(b, cfg)) < 0)
    return rc;

  if (!*bucket)
    return tc_error(TC_EINVAL, "s3 config: missing bucket");
  if (!*endpoint)
    return tc_error(TC_EINVAL, "s3 config: missing endpoint");
  if (strstr(endpoint, "://"))
    return tc_error(TC_EINVAL, "s3 config: endpoint '%s' must be host[:port] "
                    "without a scheme", endpoint);
  if (sv2)
    return tc_error(TC_ENOTSUP, "s3 config: signature_version2 is not "
                    "supported, only signature version 4");
  if (*listv && strcmp(listv, "v1") && strcmp(listv, "v2"))
    return tc_error(TC_EINVAL, "s3 config: list_objects_version must be v1 or "
                    "v2, not '%s'", listv);
  b->list_v1 = !strcmp(listv, "v1");
  int path_style;
  if (!strcmp(lookup, "path"))
    path_style = 1;
  else if (!strcmp(lookup, "virtual-hosted"))
    path_style = 0;
  else if (!strcmp(lookup, "auto"))
    path_style = !(strstr(endpoint, "amazonaws.com") && !strchr(bucket, '.'));
  else
    return tc_error(TC_EINVAL, "s3 config: bucket_lookup_type must be auto, "
                    "virtual-hosted or path, not '%s'", lookup);
  if ((rc = s3_creds_init(&b->creds, ak, sk, tok, sts)) < 0) {
    s3_creds_free(&b->creds);
    return rc;
  }
  b->name = xstrdup(bucket);
  b->scheme = xstrdup(insecure ? "http" : "https");
  b->host = path_style ? xstrdup(endpoint) : xasprintf("%s.%s", bucket, endpoint);
  b->path_base = path_style ? xasprintf("/%s", bucket) : xstrdup("");
  os->bucket = xstrdup(bucket);
  if (*region) {
    b->region = xstrdup(region);
  } else {
    lookup_region(b);
  }
  free(b->creds.region);
  b->creds.region = xstrdup(b->region);
  b->creds.insecure_skip_verify = b->skip_verify;
  return 0;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    memset(v[i], 0, strlen(v[i]));
    free(v[i]);
  }
  free(v);
}

static void s3_close(struct objstore *os) {
  struct s3_bucket *b = s3b(os);
  for (int i = 0; i < b->npool; i++)
    curl_easy_cleanup(b->pool[i]);
  pthread_mutex_destroy(&b->pool_lock);
  if (b->share) {
    curl_share_cleanup(b->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
      pthread_mutex_destroy(&b->share_locks[i]);
  }
  if (b->name)
    s3_creds_free(&b->creds);
  free_list(b->meta, b->nmeta);
  free_list(b->sse, b->nsse);
  free_list(b->ssec, b->nssec);
  free(b->name);
  free(b->host);
  free(b->scheme);
  free(b->region);
  free(b->path_base);
  free(b->ca_file);
  free(b->cert_file);
  free(b->key_file);
}

const struct objstore_ops objstore_s3_ops = {
    .name = "S3",
    .caps = OBJSTORE_CAP_RANGE | OBJSTORE_CAP_MULTIPART,
    .instance_size = sizeof(struct s3_bucket),
    .open = s3_open,
    .close = s3_close,
    .iter = s3_iter,
    .get_range = s3_get_range,
    .attributes = s3_attributes,
    .upload = s3_upload,
    .del = s3_delete,
};
