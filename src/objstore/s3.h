/*
 * s3.h - the pieces of the S3 backend, private to src/objstore: SigV4
 * signing (sigv4.c), the XML answers (s3xml.c) and credentials
 * (s3creds.c). s3.c puts them together.
 */
#ifndef THANOSC_OBJSTORE_S3_H
#define THANOSC_OBJSTORE_S3_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "thanosc/buf.h"

/* --- SigV4 --------------------------------------------------------------- */

#define S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct s3_kv {
  const char *k;
  const char *v;
};

/*
 * What a signature covers. path is the raw (unencoded) absolute path, "/"
 * for the root; query holds raw names and values; headers are every header
 * to sign, host included, with any case and untrimmed values. payload_hash
 * is the hex SHA-256 of the body or S3_UNSIGNED_PAYLOAD.
 */
struct s3_sign_req {
  const char *method;
  const char *path;
  const struct s3_kv *query;
  size_t nquery;
  const struct s3_kv *headers;
  size_t nheaders;
  const char *payload_hash;
  const char *amz_date; /* "20150830T123600Z" */
  const char *region;
  const char *service; /* "s3" */
  const char *access_key;
  const char *secret_key;
  int double_encode; /* path segments encoded twice (non-S3 services) */
};

/* Appends the Authorization header value to out. */
int s3_sign(const struct s3_sign_req *r, struct tc_buf *out);
/* Appends the canonical request (for tests and debugging). */
int s3_canonical_request(const struct s3_sign_req *r, struct tc_buf *out);
/* Appends s URI-encoded the AWS way; '/' kept when keep_slash. */
void s3_uri_encode(struct tc_buf *out, const char *s, int keep_slash);
/* Lowercase hex SHA-256 of p[0..n) into hex (65 bytes). */
void s3_sha256_hex(const void *p, size_t n, char hex[65]);
/* "YYYYMMDDTHHMMSSZ" of t into out (17 bytes). */
void s3_amz_date(time_t t, char out[17]);

/* --- XML ------------------------------------------------------------------ */

/*
 * Called for each leaf element with its slash-joined path from the root
 * ("ListBucketResult/Contents/Key") and its text (both borrowed).
 */
typedef void s3xml_fn(void *data, const char *path, const char *text);
/* Parses a whole document; TC_EPARSE on malformed or too deep XML. */
int s3xml_parse(const char *p, size_t n, s3xml_fn *fn, void *data);

/* An S3 <Error> answer. */
struct s3_error {
  char code[64];
  char message[256];
};
void s3xml_error(const char *p, size_t n, struct s3_error *out /* OUT */);

/* One page of ListObjects (v1 or v2). Names owned. */
struct s3_list_page {
  char **keys;
  size_t nkeys, capkeys;
  char **prefixes;
  size_t nprefixes, capprefixes;
  int truncated;
  char *next_token;  /* v2 NextContinuationToken */
  char *next_marker; /* v1 NextMarker */
};
int s3xml_list(const char *p, size_t n, struct s3_list_page *out /* OUT */);
void s3_list_page_release(struct s3_list_page *pg);

/* --- credentials ------------------------------------------------------------ */

struct s3_creds {
  char *access_key;
  char *secret_key;
  char *token;      /* NULL when none */
  time_t expires;   /* 0: never */
};

void s3_creds_release(struct s3_creds *c);

enum s3_cred_source {
  S3_CRED_NONE,     /* anonymous */
  S3_CRED_STATIC,   /* config, environment or credentials file */
  S3_CRED_WEB_IDENTITY,
  S3_CRED_IMDS,
};

/*
 * The credential chain: config keys, AWS_ACCESS_KEY_ID/..., the shared
 * credentials file with AWS_PROFILE, web identity through STS
 * (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN; AWS_STS_ENDPOINT or
 * sts_endpoint overrides the endpoint), then EC2 instance metadata (IMDSv2;
 * AWS_EC2_METADATA_SERVICE_ENDPOINT overrides it). Temporary credentials
 * are refreshed five minutes before they expire. Thread-safe.
 */
struct s3_cred_provider {
  pthread_mutex_t lock;
  enum s3_cred_source source;
  struct s3_creds cur;
  char *sts_endpoint; /* owned */
  char *region;       /* owned; for the regional STS endpoint */
  int insecure_skip_verify;
};

/* Picks the source and loads static credentials. Does no network I/O. */
int s3_creds_init(struct s3_cred_provider *p, const char *access_key,
                  const char *secret_key, const char *session_token,
                  const char *sts_endpoint);
/* Copies current credentials into out (owned), refreshing when due.
 * source NONE gives out->access_key NULL. */
int s3_creds_get(struct s3_cred_provider *p, struct s3_creds *out /* OUT */);
void s3_creds_free(struct s3_cred_provider *p);
/* Temporary credentials the server called expired: fetch new ones next. */
void s3_creds_invalidate(struct s3_cred_provider *p);

/* Parses an RFC 3339 / ISO 8601 UTC time ("2026-11-24T02:00:00Z"). */
int s3_parse_iso8601(const char *s, time_t *out /* OUT */);
/* Parses an HTTP date ("Tue, 24 Nov 2026 02:00:00 GMT"). */
int s3_parse_http_date(const char *s, time_t *out /* OUT */);

#endif
