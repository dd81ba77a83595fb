/*
 * s3creds.c - where the S3 backend's credentials come from, in the order
 * Thanos's client looks: the config's keys, the AWS_* environment, the
 * shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
 * profile AWS_PROFILE), web identity through STS AssumeRoleWithWebIdentity,
 * and EC2 instance metadata (IMDSv2). Temporary credentials are refreshed
 * before they expire. Secrets never reach a log line or an error message.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objstore/s3.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/httpc.h"
#include "thanosc/log.h"

#define REFRESH_BEFORE_S 300
#define CRED_TIMEOUT_MS 10000
#define IMDS_TIMEOUT_MS 2000

static char *dup_or_null(const char *s) { return s && *s ? xstrdup(s) : NULL; }

static void wipe_free(char *s) {
  if (s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

void s3_creds_release(struct s3_creds *c) {
  wipe_free(c->access_key);
  wipe_free(c->secret_key);
  wipe_free(c->token);
  memset(c, 0, sizeof *c);
}

static void set_static(struct s3_cred_provider *p, const char *ak,
                       const char *sk, const char *tok) {
  p->source = S3_CRED_STATIC;
  p->cur.access_key = xstrdup(ak);
  p->cur.secret_key = xstrdup(sk);
  p->cur.token = dup_or_null(tok);
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

/* Reads keys of one profile of an INI credentials file; 1 when found. */
static int load_file(struct s3_cred_provider *p) {
  const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE");
  const char *profile = getenv("AWS_PROFILE");
  char *def = NULL;
  if (!profile || !*profile)
    profile = "default";
  if (!path || !*path) {
    const char *home = getenv("HOME");
    if (!home)
      return 0;
    path = def = xasprintf("%s/.aws/credentials", home);
  }
  FILE *f = fopen(path, "r");
  free(def);
  if (!f)
    return 0;
  char line[4096], *ak = NULL, *sk = NULL, *tok = NULL;
  int in = 0;
  while (fgets(line, sizeof line, f)) {
    char *l = trim(line);
    if (*l == '#' || *l == ';' || !*l)
      continue;
    if (*l == '[') {
      char *end = strchr(l, ']');
      if (end) {
        *end = '\0';
        in = !strcmp(trim(l + 1), profile);
      }
      continue;
    }
    char *eq = strchr(l, '=');
    if (!in || !eq)
      continue;
    *eq = '\0';
    char *k = trim(l), *v = trim(eq + 1);
    char **dst = !strcmp(k, "aws_access_key_id")       ? &ak
                 : !strcmp(k, "aws_secret_access_key") ? &sk
                 : !strcmp(k, "aws_session_token")     ? &tok
                                                       : NULL;
    if (dst) {
      wipe_free(*dst);
      *dst = xstrdup(v);
    }
  }
  fclose(f);
  memset(line, 0, sizeof line);
  int ok = ak && sk && *ak && *sk;
  if (ok)
    set_static(p, ak, sk, tok);
  wipe_free(ak);
  wipe_free(sk);
  wipe_free(tok);
  return ok;
}

int s3_creds_init(struct s3_cred_provider *p, const char *access_key,
                  const char *secret_key, const char *session_token,
                  const char *sts_endpoint) {
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->lock, NULL);
  p->sts_endpoint = dup_or_null(sts_endpoint);
  int has_ak = access_key && *access_key, has_sk = secret_key && *secret_key;
  if (has_ak != has_sk)
    return tc_error(TC_EINVAL, has_ak
                    ? "s3 config: access_key given without secret_key"
                    : "s3 config: secret_key given without access_key");
  if (has_ak) {
    set_static(p, access_key, secret_key, session_token);
    return 0;
  }
  const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk =
      getenv("AWS_SECRET_ACCESS_KEY");
  if (!ak || !*ak)
    ak = getenv("AWS_ACCESS_KEY");
  if (!sk || !*sk)
    sk = getenv("AWS_SECRET_KEY");
  if (ak && *ak && sk && *sk) {
    set_static(p, ak, sk, getenv("AWS_SESSION_TOKEN"));
    return 0;
  }
  if (load_file(p))
    return 0;
  const char *wif = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
  const char *role = getenv("AWS_ROLE_ARN");
  if (wif && *wif && role && *role) {
    p->source = S3_CRED_WEB_IDENTITY;
    return 0;
  }
  const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
  p->source = dis && !strcasecmp(dis, "true") ? S3_CRED_NONE : S3_CRED_IMDS;
  return 0;
}

void s3_creds_free(struct s3_cred_provider *p) {
  s3_creds_release(&p->cur);
  free(p->sts_endpoint);
  free(p->region);
  pthread_mutex_destroy(&p->lock);
}

/* --- times ------------------------------------------------------------------ */

static time_t utc_mktime(struct tm *tm) { return timegm(tm); }

int s3_parse_iso8601(const char *s, time_t *out) {
  struct tm tm = {0};
  const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end)
    return tc_error(TC_EPARSE, "bad time '%.40s'", s);
  if (*end == '.')
    while (isdigit((unsigned char)*++end))
      ;
  if (*end && *end != 'Z' && strcmp(end, "+00:00"))
    return tc_error(TC_EPARSE, "time '%.40s' not in UTC", s);
  *out = utc_mktime(&tm);
  return 0;
}

int s3_parse_http_date(const char *s, time_t *out) {
  struct tm tm = {0};
  const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
  if (!end)
    return tc_error(TC_EPARSE, "bad date '%.40s'", s);
  *out = utc_mktime(&tm);
  return 0;
}

/* --- STS web identity --------------------------------------------------------- */

struct sts_result {
  struct s3_creds c;
  char expiration[64];
  char code[64];
};

static void sts_cb(void *data, const char *path, const char *text) {
  struct sts_result *r = data;
  const char *leaf = strrchr(path, '/');
  leaf = leaf ? leaf + 1 : path;
  if (strstr(path, "/Credentials/")) {
    if (!strcmp(leaf, "AccessKeyId"))
      r->c.access_key = xstrdup(text);
    else if (!strcmp(leaf, "SecretAccessKey"))
      r->c.secret_key = xstrdup(text);
    else if (!strcmp(leaf, "SessionToken"))
      r->c.token = xstrdup(text);
    else if (!strcmp(leaf, "Expiration"))
      snprintf(r->expiration, sizeof r->expiration, "%s", text);
  } else if (!strcmp(path, "ErrorResponse/Error/Code")) {
    snprintf(r->code, sizeof r->code, "%s", text);
  }
}

static void form_add(struct tc_buf *b, const char *k, const char *v) {
  if (b->len)
    tc_buf_addc(b, '&');
  tc_buf_adds(b, k);
  tc_buf_addc(b, '=');
  s3_uri_encode(b, v, 0);
}

static int fetch_web_identity(struct s3_cred_provider *p,
                              struct s3_creds *out) {
  const char *file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
  const char *role = getenv("AWS_ROLE_ARN");
  const char *session = getenv("AWS_ROLE_SESSION_NAME");
  const char *ep = p->sts_endpoint ? p->sts_endpoint : getenv("AWS_STS_ENDPOINT");
  struct tc_buf tok, form = TC_BUF_INIT, body;
  struct sts_result r;
  char *url = NULL;
  int rc = 0;

  memset(&r, 0, sizeof r);
  tc_buf_init(&tok, 1 << 20);
  tc_buf_init(&body, 1 << 20);
  FILE *f = fopen(file, "rb");
  if (!f) {
    rc = tc_error(TC_EDENIED, "web identity: token file '%s' unreadable",
                  file);
    goto out;
  }
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    if (tc_buf_add(&tok, tmp, n) < 0)
      break;
  fclose(f);
  while (tok.len && isspace((unsigned char)tok.data[tok.len - 1]))
    tok.data[--tok.len] = '\0';
  char sess[64];
  snprintf(sess, sizeof sess, "thanosc-%ld", (long)time(NULL));
  form_add(&form, "Action", "AssumeRoleWithWebIdentity");
  form_add(&form, "Version", "2011-06-15");
  form_add(&form, "RoleArn", role);
  form_add(&form, "RoleSessionName", session && *session ? session : sess);
  form_add(&form, "WebIdentityToken", tok.len ? tok.data : "");
  if (ep && *ep)
    url = xstrdup(ep);
  else if (p->region && *p->region)
    url = xasprintf("https://sts.%s.amazonaws.com", p->region);
  else
    url = xstrdup("https://sts.amazonaws.com");
  static const char *const hdrs[] = {
      "Content-Type: application/x-www-form-urlencoded", "Accept: */*", NULL};
  struct httpc_req req = {.method = "POST", .url = url, .headers = hdrs,
                          .body = form.data, .body_len = form.len,
                          .timeout_ms = CRED_TIMEOUT_MS,
                          .insecure_skip_verify = p->insecure_skip_verify};
  int status = httpc_do(NULL, &req, &body);
  if (status < 0) {
    rc = tc_error_wrap(status, "web identity");
    goto out;
  }
  s3xml_parse(body.data ? body.data : "", body.len, sts_cb, &r);
  if (status != 200 || !r.c.access_key || !r.c.secret_key) {
    rc = tc_error(TC_EDENIED, "web identity: sts answered %d %s", status,
                  r.code[0] ? r.code : "without credentials");
    goto out;
  }
  if (r.expiration[0] && s3_parse_iso8601(r.expiration, &r.c.expires) < 0)
    r.c.expires = time(NULL) + 900;
  *out = r.c;
  memset(&r.c, 0, sizeof r.c);
out:
  s3_creds_release(&r.c);
  if (tok.data)
    memset(tok.data, 0, tok.len);
  if (form.data)
    memset(form.data, 0, form.len);
  if (body.data)
    memset(body.data, 0, body.len);
  tc_buf_release(&tok);
  tc_buf_release(&form);
  tc_buf_release(&body);
  free(url);
  return rc;
}

/* --- EC2 instance metadata (IMDSv2) ---------------------------------------------- */

static int fetch_imds(struct s3_cred_provider *p, struct s3_creds *out) {
  const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  char *base = xstrdup(ep && *ep ? ep : "http://169.254.169.254");
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/')
    base[--bl] = '\0';
  struct tc_buf tok, role, body;
  char *url = NULL, *hdr = NULL;
  json_t *j = NULL;
  int rc = 0, status;
  tc_buf_init(&tok, 4096);
  tc_buf_init(&role, 4096);
  tc_buf_init(&body, 64 * 1024);

  url = xasprintf("%s/latest/api/token", base);
  static const char *const ttl[] = {
      "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
  struct httpc_req r = {.method = "PUT", .url = url, .headers = ttl,
                        .timeout_ms = IMDS_TIMEOUT_MS,
                        .connect_timeout_ms = IMDS_TIMEOUT_MS};
  status = httpc_do(NULL, &r, &tok);
  if (status != 200) {
    rc = status < 0 ? tc_error_wrap(status, "instance metadata token")
                    : tc_error(TC_EDENIED, "instance metadata token: %d",
                               status);
    goto out;
  }
  hdr = xasprintf("X-aws-ec2-metadata-token: %s", tok.data ? tok.data : "");
  const char *const th[] = {hdr, NULL};
  free(url);
  url = xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
  r = (struct httpc_req){.method = "GET", .url = url, .headers = th,
                         .timeout_ms = IMDS_TIMEOUT_MS};
  status = httpc_do(NULL, &r, &role);
  if (status != 200 || !role.len) {
    rc = status < 0 ? tc_error_wrap(status, "instance metadata role")
                    : tc_error(TC_EDENIED, "instance metadata: no role (%d)",
                               status);
    goto out;
  }
  role.data[strcspn(role.data, "\r\n")] = '\0';
  free(url);
  url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base,
                  role.data);
  r.url = url;
  status = httpc_do(NULL, &r, &body);
  if (status != 200) {
    rc = status < 0 ? tc_error_wrap(status, "instance metadata credentials")
                    : tc_error(TC_EDENIED, "instance metadata credentials: %d",
                               status);
    goto out;
  }
  j = json_loadb(body.data, body.len, 0, NULL);
  const char *ak = json_string_value(json_object_get(j, "AccessKeyId"));
  const char *sk = json_string_value(json_object_get(j, "SecretAccessKey"));
  const char *tk = json_string_value(json_object_get(j, "Token"));
  const char *exp = json_string_value(json_object_get(j, "Expiration"));
  if (!ak || !sk) {
    rc = tc_error(TC_EDENIED, "instance metadata: no credentials in answer");
    goto out;
  }
  out->access_key = xstrdup(ak);
  out->secret_key = xstrdup(sk);
  out->token = dup_or_null(tk);
  if (!exp || s3_parse_iso8601(exp, &out->expires) < 0)
    out->expires = time(NULL) + 900;
out:
  json_decref(j);
  if (body.data)
    memset(body.data, 0, body.len);
  tc_buf_release(&tok);
  tc_buf_release(&role);
  tc_buf_release(&body);
  wipe_free(hdr);
  free(url);
  free(base);
  return rc;
}

int s3_creds_get(struct s3_cred_provider *p, struct s3_creds *out) {
  int rc = 0;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&p->lock);
  time_t now = time(NULL);
  if ((p->source == S3_CRED_WEB_IDENTITY || p->source == S3_CRED_IMDS) &&
      (!p->cur.access_key || now >= p->cur.expires - REFRESH_BEFORE_S)) {
    struct s3_creds fresh = {0};
    rc = p->source == S3_CRED_WEB_IDENTITY ? fetch_web_identity(p, &fresh)
                                           : fetch_imds(p, &fresh);
    if (rc == 0) {
      s3_creds_release(&p->cur);
      p->cur = fresh;
      LOG_DEBUG("s3 credentials refreshed", "source",
                p->source == S3_CRED_IMDS ? "imds" : "web-identity");
    } else if (p->cur.access_key && now < p->cur.expires) {
      LOG_WARN("s3 credentials refresh", "err", tc_errmsg(rc));
      rc = 0; /* the old ones still work a little longer */
    } else if (p->source == S3_CRED_IMDS) {
      LOG_WARN("no s3 credentials found, requests go unsigned", "err",
               tc_errmsg(rc));
      p->source = S3_CRED_NONE;
      rc = 0;
    }
  }
  if (rc == 0 && p->cur.access_key && p->source != S3_CRED_NONE) {
    out->access_key = xstrdup(p->cur.access_key);
    out->secret_key = xstrdup(p->cur.secret_key);
    out->token = dup_or_null(p->cur.token);
    out->expires = p->cur.expires;
  }
  pthread_mutex_unlock(&p->lock);
  return rc;
}

void s3_creds_invalidate(struct s3_cred_provider *p) {
  pthread_mutex_lock(&p->lock);
  if (p->source == S3_CRED_WEB_IDENTITY || p->source == S3_CRED_IMDS)
    p->cur.expires = 1;
  pthread_mutex_unlock(&p->lock);
}
