/*
 * sigv4.c - AWS Signature Version 4 for the S3 backend, with OpenSSL's
 * SHA-256 and HMAC: canonical request (method, URI-encoded path, sorted
 * query, sorted lowercase headers with trimmed values, signed header list,
 * payload hash), string to sign, the derived signing key and the
 * Authorization header value. Pure functions, no I/O: tested against
 * botocore and the published test-suite examples.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "objstore/s3.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexdig[p[i] >> 4];
    out[2 * i + 1] = hexdig[p[i] & 15];
  }
  out[2 * n] = '\0';
}

void s3_sha256_hex(const void *p, size_t n, char hex[65]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(p, n, md);
  to_hex(md, sizeof md, hex);
}

void s3_amz_date(time_t t, char out[17]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void s3_uri_encode(struct tc_buf *out, const char *s, int keep_slash) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
        (keep_slash && *p == '/')) {
      tc_buf_addc(out, (char)*p);
    } else {
      char e[3] = {'%', "0123456789ABCDEF"[*p >> 4], "0123456789ABCDEF"[*p & 15]};
      tc_buf_add(out, e, 3);
    }
  }
}

struct enc_kv {
  char *k, *v;
};

static int cmp_kv(const void *a, const void *b) {
  const struct enc_kv *x = a, *y = b;
  int c = strcmp(x->k, y->k);
  return c ? c : strcmp(x->v, y->v);
}

/* A header value trimmed, runs of spaces collapsed to one. */
static void add_trimmed(struct tc_buf *out, const char *v) {
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(v);
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  for (size_t i = 0; i < n; i++) {
    if ((v[i] == ' ' || v[i] == '\t') && i && (v[i - 1] == ' ' || v[i - 1] == '\t'))
      continue;
    tc_buf_addc(out, v[i] == '\t' ? ' ' : v[i]);
  }
}

static char *lower(const char *s) {
  char *l = xstrdup(s);
  for (char *p = l; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return l;
}

/* Sorted lowercase header names joined by ';' into out. */
static void signed_headers(const struct s3_sign_req *r, struct enc_kv *h,
                           struct tc_buf *out) {
  for (size_t i = 0; i < r->nheaders; i++) {
    if (i)
      tc_buf_addc(out, ';');
    tc_buf_adds(out, h[i].k);
  }
}

static struct enc_kv *sorted_headers(const struct s3_sign_req *r) {
  struct enc_kv *h = xcalloc(r->nheaders + 1, sizeof *h);
  for (size_t i = 0; i < r->nheaders; i++) {
    struct tc_buf v = TC_BUF_INIT;
    tc_buf_adds(&v, "");
    add_trimmed(&v, r->headers[i].v);
    h[i].k = lower(r->headers[i].k);
    h[i].v = tc_buf_detach(&v, NULL);
  }
  qsort(h, r->nheaders, sizeof *h, cmp_kv);
  return h;
}

static void free_kv(struct enc_kv *kv, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(kv[i].k);
    free(kv[i].v);
  }
  free(kv);
}

int s3_canonical_request(const struct s3_sign_req *r, struct tc_buf *out) {
  tc_buf_adds(out, r->method);
  tc_buf_addc(out, '\n');
  if (r->double_encode) {
    struct tc_buf once = TC_BUF_INIT;
    tc_buf_adds(&once, "");
    s3_uri_encode(&once, r->path, 1);
    s3_uri_encode(out, once.data, 1);
    tc_buf_release(&once);
  } else {
    s3_uri_encode(out, r->path, 1);
  }
  tc_buf_addc(out, '\n');

  struct enc_kv *q = xcalloc(r->nquery + 1, sizeof *q);
  for (size_t i = 0; i < r->nquery; i++) {
    struct tc_buf k = TC_BUF_INIT, v = TC_BUF_INIT;
    tc_buf_adds(&k, "");
    tc_buf_adds(&v, "");
    s3_uri_encode(&k, r->query[i].k, 0);
    s3_uri_encode(&v, r->query[i].v ? r->query[i].v : "", 0);
    q[i].k = tc_buf_detach(&k, NULL);
    q[i].v = tc_buf_detach(&v, NULL);
  }
  qsort(q, r->nquery, sizeof *q, cmp_kv);
  for (size_t i = 0; i < r->nquery; i++)
    tc_buf_addf(out, "%s%s=%s", i ? "&" : "", q[i].k, q[i].v);
  tc_buf_addc(out, '\n');
  free_kv(q, r->nquery);

  struct enc_kv *h = sorted_headers(r);
  for (size_t i = 0; i < r->nheaders; i++)
    tc_buf_addf(out, "%s:%s\n", h[i].k, h[i].v);
  tc_buf_addc(out, '\n');
  signed_headers(r, h, out);
  tc_buf_addc(out, '\n');
  tc_buf_adds(out, r->payload_hash);
  free_kv(h, r->nheaders);
  return 0;
}

static void hmac(const void *key, size_t klen, const char *msg,
                 unsigned char out[32]) {
  unsigned char tmp[EVP_MAX_MD_SIZE];
  unsigned int n = sizeof tmp;
  HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg),
       tmp, &n);
  memcpy(out, tmp, 32);
}

int s3_sign(const struct s3_sign_req *r, struct tc_buf *out) {
  struct tc_buf creq = TC_BUF_INIT, sts = TC_BUF_INIT, sh = TC_BUF_INIT;
  char date[9], hash[65], sig[65];
  unsigned char k[32];

  if (!r->amz_date || strlen(r->amz_date) != 16)
    return tc_error(TC_EINVAL, "sigv4: bad date");
  memcpy(date, r->amz_date, 8);
  date[8] = '\0';
  s3_canonical_request(r, &creq);
  s3_sha256_hex(creq.data, creq.len, hash);
  tc_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
              r->amz_date, date, r->region, r->service, hash);

  char *ksecret = xasprintf("AWS4%s", r->secret_key);
  hmac(ksecret, strlen(ksecret), date, k);
  memset(ksecret, 0, strlen(ksecret));
  free(ksecret);
  hmac(k, 32, r->region, k);
  hmac(k, 32, r->service, k);
  hmac(k, 32, "aws4_request", k);
  hmac(k, 32, sts.data, k);
  to_hex(k, 32, sig);

  struct enc_kv *h = sorted_headers(r);
  tc_buf_adds(&sh, "");
  signed_headers(r, h, &sh);
  free_kv(h, r->nheaders);
  tc_buf_addf(out,
              "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
              "SignedHeaders=%s, Signature=%s",
              r->access_key, date, r->region, r->service, sh.data, sig);
  tc_buf_release(&creq);
  tc_buf_release(&sts);
  tc_buf_release(&sh);
  return 0;
}
