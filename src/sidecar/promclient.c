/*
 * promclient.c - the sidecar's client of Prometheus's HTTP API (see
 * sidecar.h and spec/remote-read.md §7): the configuration's external
 * labels (YAML inside JSON), the block-duration flags, the lowest
 * timestamp from /metrics, the series and label APIs, and remote read.
 *
 * Remote read asks for STREAMED_XOR_CHUNKS then SAMPLES, like Thanos. The
 * streamed body is cut into frames (uvarint length, be32 CRC32C, message)
 * as libcurl hands it over, so each series reaches the caller while the
 * rest is still on the wire; a SAMPLES body is read whole, snappy-decoded
 * and its samples re-encoded into XOR chunks of at most 120 samples.
 * Everything here blocks: callers run it on the worker pool.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "prompb_remote.pb-c.h"
#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/httpc.h"
#include "thanosc/sidecar.h"
#include "thanosc/tsdb/chunkenc.h"
#include "thanosc/tsdb/encoding.h"

#define API_MAX (64u << 20)        /* JSON answers */
#define ERRBODY_MAX 1024           /* error text kept from a failed call */
#define FRAME_MAX (50u << 20)      /* Thanos's chunked_read_limit */
#define SAMPLES_MAX (512u << 20)   /* decoded SAMPLES response */

/* An error for an HTTP status that is not 2xx, with the body's text. */
static int http_status_error(const char *what, int status,
                             const struct tc_buf *body) {
  int n = body && body->len ? (int)TC_MIN(body->len, ERRBODY_MAX) : 0;
  while (n > 0 && (body->data[n - 1] == '\n' || body->data[n - 1] == ' '))
    n--;
  int code = status == 503 || status >= 500 ? TC_EUNAVAIL
             : status == 404              ? TC_ENOTFOUND
                                          : TC_EINVAL;
  return tc_error(code, "%s: Prometheus answered HTTP %d%s%.*s", what, status,
                  n ? ": " : "", n, n ? body->data : "");
}

/* GET url+path into body; 2xx or an error. */
static int get(const char *url, const char *path, long timeout_ms,
               struct tc_buf *body) {
  char *u = xasprintf("%s%s", url, path);
  struct httpc_req r = {.method = "GET", .url = u, .timeout_ms = timeout_ms,
                        .connect_timeout_ms = TC_MIN(timeout_ms, 5000)};
  tc_buf_init(body, API_MAX);
  int rc = httpc_do(NULL, &r, body);
  free(u);
  if (rc < 0)
    return rc;
  if (rc < 200 || rc >= 300) {
    char *what = xstrndup(path, strcspn(path, "?"));
    rc = http_status_error(what, rc, body);
    free(what);
    return rc;
  }
  return 0;
}

/* Parses a Prometheus API envelope and returns "data" (borrowed from
 * *root, which the caller json_decref()s). */
static int envelope(const char *what, const struct tc_buf *body,
                    json_t **root, json_t **data) {
  json_error_t e;
  *root = json_loadb(body->data ? body->data : "", body->len, 0, &e);
  if (!*root)
    return tc_error(TC_EPARSE, "%s: bad JSON from Prometheus: %s", what,
                    e.text);
  const char *st = json_string_value(json_object_get(*root, "status"));
  if (!st || strcmp(st, "success")) {
    const char *err = json_string_value(json_object_get(*root, "error"));
    return tc_error(TC_EINVAL, "%s: Prometheus answered status %s: %s", what,
                    st ? st : "(none)", err ? err : "(no error text)");
  }
  *data = json_object_get(*root, "data");
  if (!*data)
    return tc_error(TC_EPARSE, "%s: no data in Prometheus's answer", what);
  return 0;
}

/* ------------------------------------------------------ external labels */

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m,
                            const char *key) {
  if (!m || m->type != YAML_MAPPING_NODE)
    return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
       p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(d, p->key);
    if (k && k->type == YAML_SCALAR_NODE &&
        !strcmp((const char *)k->data.scalar.value, key))
      return yaml_document_get_node(d, p->value);
  }
  return NULL;
}

int prom_config_external_labels(const char *yaml, size_t n,
                                 struct labels *out) {
  yaml_parser_t p;
  yaml_document_t d;
  int rc = 0;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)yaml, n);
  if (!yaml_parser_load(&p, &d)) {
    rc = tc_error(TC_EPARSE,
                  "Prometheus configuration: bad YAML at line %zu: %s",
                  p.problem_mark.line + 1,
                  p.problem ? p.problem : "unknown problem");
    yaml_parser_delete(&p);
    return rc;
  }
  yaml_node_t *root = yaml_document_get_root_node(&d);
  yaml_node_t *el = map_get(&d, map_get(&d, root, "global"), "external_labels");
  if (el && el->type == YAML_MAPPING_NODE) {
    for (yaml_node_pair_t *q = el->data.mapping.pairs.start;
         q < el->data.mapping.pairs.top; q++) {
      yaml_node_t *k = yaml_document_get_node(&d, q->key);
      yaml_node_t *v = yaml_document_get_node(&d, q->value);
      if (!k || !v || k->type != YAML_SCALAR_NODE ||
          v->type != YAML_SCALAR_NODE) {
        rc = tc_error(TC_EPARSE, "Prometheus configuration: "
                                 "global.external_labels is not a map of "
                                 "strings");
        goto out;
      }
      labels_add(out, (const char *)k->data.scalar.value,
                 (const char *)v->data.scalar.value);
    }
  } else if (el && !(el->type == YAML_SCALAR_NODE &&
                     el->data.scalar.length == 0)) {
    rc = tc_error(TC_EPARSE, "Prometheus configuration: "
                             "global.external_labels is not a map");
    goto out;
  }
  rc = labels_sort(out);
out:
  yaml_document_delete(&d);
  yaml_parser_delete(&p);
  return rc;
}

int prom_external_labels(const char *url, long timeout_ms,
                         struct labels *out) {
  struct tc_buf body;
  json_t *root = NULL, *data;
  labels_init(out);
  int rc = get(url, "/api/v1/status/config", timeout_ms, &body);
  if (rc)
    goto out;
  if ((rc = envelope("/api/v1/status/config", &body, &root, &data)))
    goto out;
  json_t *y = json_object_get(data, "yaml");
  if (!json_is_string(y)) {
    rc = tc_error(TC_EPARSE, "/api/v1/status/config: no data.yaml string");
    goto out;
  }
  rc = prom_config_external_labels(json_string_value(y), json_string_length(y),
                                   out);
out:
  json_decref(root);
  tc_buf_release(&body);
  return rc;
}

/* --------------------------------------------------------------- flags */

int prom_block_durations(const char *url, long timeout_ms, int64_t *min_ms,
                         int64_t *max_ms) {
  struct tc_buf body;
  json_t *root = NULL, *data;
  int rc = get(url, "/api/v1/status/flags", timeout_ms, &body);
  if (rc)
    goto out;
  if ((rc = envelope("/api/v1/status/flags", &body, &root, &data)))
    goto out;
  const char *keys[2] = {"storage.tsdb.min-block-duration",
                         "storage.tsdb.max-block-duration"};
  int64_t *dst[2] = {min_ms, max_ms};
  for (int i = 0; i < 2; i++) {
    const char *v = json_string_value(json_object_get(data, keys[i]));
    if (!v) {
      rc = tc_error(TC_EPARSE, "/api/v1/status/flags: no %s", keys[i]);
      goto out;
    }
    if (parse_duration_ms(v, dst[i])) {
      rc = tc_error(TC_EPARSE, "/api/v1/status/flags: %s: bad duration "
                               "\"%s\"", keys[i], v);
      goto out;
    }
  }
out:
  json_decref(root);
  tc_buf_release(&body);
  return rc;
}

/* -------------------------------------------------------- lowest time */

int prom_parse_lowest_timestamp(const char *text, size_t n, int64_t *ms) {
  static const char name[] = "prometheus_tsdb_lowest_timestamp_seconds";
  size_t nl = sizeof name - 1;
  const char *p = text, *end = text + n;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    if ((size_t)(eol - p) > nl && !memcmp(p, name, nl) &&
        (p[nl] == ' ' || p[nl] == '{')) {
      const char *v = p + nl;
      if (*v == '{') {
        v = memchr(v, '}', (size_t)(eol - v));
        if (!v)
          break;
        v++;
      }
      char tmp[64];
      size_t len = (size_t)(eol - v);
      if (len >= sizeof tmp)
        break;
      memcpy(tmp, v, len);
      tmp[len] = '\0';
      char *e;
      errno = 0;
      double s = strtod(tmp, &e);
      if (e == tmp || errno || !isfinite(s) || (*e && *e != ' '))
        break;
      if (s * 1000.0 >= 9.2e18) /* MaxInt64: no data yet */
        *ms = INT64_MAX;
      else if (s * 1000.0 <= -9.2e18)
        *ms = INT64_MIN;
      else
        *ms = (int64_t)llround(s * 1000.0);
      return 0;
    }
    p = eol + 1;
  }
  return tc_error(TC_ENOTFOUND, "no %s in Prometheus's /metrics", name);
}

int prom_lowest_timestamp(const char *url, long timeout_ms, int64_t *ms) {
  struct tc_buf body;
  int rc = get(url, "/metrics", timeout_ms, &body);
  if (rc == 0)
    rc = prom_parse_lowest_timestamp(body.data ? body.data : "", body.len, ms);
  tc_buf_release(&body);
  return rc;
}

/* ---------------------------------------------------------- JSON APIs */

static const char *op_str(int type) {
  switch (type) {
  case 0: return "=";
  case 1: return "!=";
  case 2: return "=~";
  default: return "!~";
  }
}

int prom_selector(const struct prom_matcher *ms, size_t n,
                  struct tc_buf *out) {
  int rc = tc_buf_addc(out, '{');
  for (size_t i = 0; i < n && !rc; i++) {
    rc = tc_buf_addf(out, "%s%s%s", i ? "," : "", ms[i].name,
                     op_str(ms[i].type));
    if (!rc)
      rc = tc_go_quote(out, ms[i].value, strlen(ms[i].value));
  }
  if (!rc)
    rc = tc_buf_addc(out, '}');
  return rc;
}

static void url_escape(struct tc_buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      tc_buf_addc(out, (char)c);
    } else {
      tc_buf_addc(out, '%');
      tc_buf_addc(out, hex[c >> 4]);
      tc_buf_addc(out, hex[c & 15]);
    }
  }
}

/* Prometheus's API time range limits (its minTime/maxTime). */
#define PROM_MIN_MS (((INT64_MIN / 1000) + 62135596801LL) * 1000)
#define PROM_MAX_MS (((INT64_MAX / 1000) - 62135596801LL) * 1000)

/* start/end as Thanos formats them: seconds, shortest decimal. */
static void add_time(struct tc_buf *q, const char *key, int64_t ms) {
  ms = ms < PROM_MIN_MS ? PROM_MIN_MS : ms > PROM_MAX_MS ? PROM_MAX_MS : ms;
  int64_t s = ms / 1000, frac = ms % 1000;
  if (frac < 0)
    frac = -frac;
  if (frac == 0) {
    tc_buf_addf(q, "&%s=%s%" PRId64, key, ms < 0 && s == 0 ? "-" : "", s);
    return;
  }
  char f[8];
  snprintf(f, sizeof f, "%03" PRId64, frac);
  size_t k = strlen(f);
  while (k && f[k - 1] == '0')
    f[--k] = '\0';
  tc_buf_addf(q, "&%s=%s%" PRId64 ".%s", key, ms < 0 && s == 0 ? "-" : "",
              s, f);
}

/* path?match[]=...&start=..&end=.. into q. */
static void api_query(struct tc_buf *q, const char *path,
                      const struct prom_matcher *ms, size_t n, int64_t start,
                      int64_t end) {
  tc_buf_init(q, 0);
  tc_buf_adds(q, path);
  tc_buf_adds(q, "?");
  if (n) {
    struct tc_buf sel = TC_BUF_INIT;
    prom_selector(ms, n, &sel);
    tc_buf_adds(q, "match%5B%5D=");
    url_escape(q, sel.data, sel.len);
    tc_buf_release(&sel);
  }
  add_time(q, "start", start);
  add_time(q, "end", end);
  char *amp = strstr(q->data, "?&");
  if (amp)
    memmove(amp + 1, amp + 2, strlen(amp + 2) + 1), q->len--;
}

int prom_series(const char *url, const struct prom_matcher *ms, size_t n,
                int64_t start, int64_t end, long timeout_ms,
                prom_series_fn *fn, void *data) {
  struct tc_buf q, body;
  json_t *root = NULL, *arr;
  struct labels ls = LABELS_INIT;
  api_query(&q, "/api/v1/series", ms, n, start, end);
  int rc = get(url, q.data, timeout_ms, &body);
  if (rc)
    goto out;
  if ((rc = envelope("/api/v1/series", &body, &root, &arr)))
    goto out;
  if (!json_is_array(arr)) {
    rc = tc_error(TC_EPARSE, "/api/v1/series: data is not an array");
    goto out;
  }
  size_t i;
  json_t *obj;
  json_array_foreach(arr, i, obj) {
    const char *k;
    json_t *v;
    labels_reset(&ls);
    json_object_foreach(obj, k, v) {
      if (json_is_string(v))
        labels_add(&ls, k, json_string_value(v));
    }
    if ((rc = labels_sort(&ls)) || (rc = fn(data, &ls)))
      goto out;
  }
out:
  labels_release(&ls);
  json_decref(root);
  tc_buf_release(&body);
  tc_buf_release(&q);
  return rc;
}

int prom_label_api(const char *url, const char *name,
                   const struct prom_matcher *ms, size_t n, int64_t start,
                   int64_t end, long timeout_ms, struct strlist *out) {
  struct tc_buf path = TC_BUF_INIT, q, body;
  json_t *root = NULL, *arr;
  if (name) {
    tc_buf_adds(&path, "/api/v1/label/");
    url_escape(&path, name, strlen(name));
    tc_buf_adds(&path, "/values");
  } else {
    tc_buf_adds(&path, "/api/v1/labels");
  }
  api_query(&q, path.data, ms, n, start, end);
  int rc = get(url, q.data, timeout_ms, &body);
  if (rc)
    goto out;
  if ((rc = envelope(path.data, &body, &root, &arr)))
    goto out;
  if (!json_is_array(arr) && !json_is_null(arr)) {
    rc = tc_error(TC_EPARSE, "%s: data is not an array", path.data);
    goto out;
  }
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (json_is_string(v))
      strlist_push(out, json_string_value(v));
  }
out:
  json_decref(root);
  tc_buf_release(&body);
  tc_buf_release(&q);
  tc_buf_release(&path);
  return rc;
}

/* -------------------------------------------------------- remote read */

/* The snappy-compressed ReadRequest. */
static int read_request(const struct prom_read *r, struct tc_buf *out) {
  Prometheus__LabelMatcher *mv = xcalloc(r->n ? r->n : 1, sizeof *mv);
  Prometheus__LabelMatcher **mp = xcalloc(r->n ? r->n : 1, sizeof *mp);
  for (size_t i = 0; i < r->n; i++) {
    prometheus__label_matcher__init(&mv[i]);
    mv[i].type = (Prometheus__LabelMatcher__Type)r->ms[i].type;
    mv[i].name = (char *)r->ms[i].name;
    mv[i].value = (char *)r->ms[i].value;
    mp[i] = &mv[i];
  }
  Prometheus__Query q = PROMETHEUS__QUERY__INIT;
  q.start_timestamp_ms = r->start;
  q.end_timestamp_ms = r->end;
  q.n_matchers = r->n;
  q.matchers = mp;
  Prometheus__Query *qp = &q;
  Prometheus__ReadRequest__ResponseType types[2] = {
      PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__STREAMED_XOR_CHUNKS,
      PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES};
  Prometheus__ReadRequest rr = PROMETHEUS__READ_REQUEST__INIT;
  rr.n_queries = 1;
  rr.queries = &qp;
  rr.n_accepted_response_types = r->force_samples ? 1 : 2;
  rr.accepted_response_types = r->force_samples ? types + 1 : types;
  size_t n = protobuf_c_message_get_packed_size(&rr.base);
  uint8_t *raw = xmalloc(n ? n : 1);
  protobuf_c_message_pack(&rr.base, raw);
  size_t clen = snappy_max_compressed_length(n);
  tc_buf_init(out, 0);
  tc_buf_reserve(out, clen);
  snappy_compress((const char *)raw, n, out->data, &clen);
  out->len = clen;
  free(raw);
  free(mp);
  free(mv);
  return 0;
}

enum read_mode { MODE_UNKNOWN, MODE_STREAMED, MODE_SAMPLES, MODE_ERROR };

struct read_state {
  struct prom_read *r;
  enum read_mode mode;
  int status;
  struct tc_buf buf; /* streamed: a frame cut short; samples: the body */
};

/* Hands over the complete frames at the start of [p, p+n); *used gets
 * the bytes they took. */
static int parse_frames(struct read_state *st, const char *p, size_t n,
                        size_t *used) {
  *used = 0;
  for (;;) {
    struct decbuf d = decbuf_make(p + *used, n - *used);
    uint64_t len = decbuf_uvarint(&d);
    if (d.err)
      return 0; /* need more */
    if (len > FRAME_MAX)
      return tc_error(TC_ELIMIT, "remote read: frame of %" PRIu64
                                 " bytes exceeds the %u-byte limit",
                      len, FRAME_MAX);
    if (decbuf_len(&d) < 4 + len)
      return 0;
    uint32_t crc = decbuf_be32(&d);
    const uint8_t *msg = decbuf_bytes(&d, len);
    if (tc_crc32c(0, msg, len) != crc)
      return tc_error(TC_ECHECKSUM, "remote read: frame checksum mismatch "
                                    "(a Prometheus error mid-stream?)");
    *used = (size_t)((const char *)msg + len - p);
    st->r->frames++;
    int rc;
    if (st->r->frame_fn) {
      if ((rc = st->r->frame_fn(st->r->data, msg, len)))
        return rc;
      continue;
    }
    Prometheus__ChunkedReadResponse *cr =
        prometheus__chunked_read_response__unpack(NULL, len, msg);
    if (!cr)
      return tc_error(TC_EPARSE, "remote read: bad ChunkedReadResponse");
    rc = 0;
    for (size_t i = 0; i < cr->n_chunked_series && !rc; i++)
      rc = st->r->fn(st->r->data, cr->chunked_series[i]);
    prometheus__chunked_read_response__free_unpacked(cr, NULL);
    if (rc)
      return rc;
  }
}

static int on_read_body(void *data, int status, const char *ctype,
                        const void *p, size_t n) {
  struct read_state *st = data;
  st->r->bytes += n;
  if (st->mode == MODE_UNKNOWN) {
    st->status = status;
    if (status != 200) {
      st->mode = MODE_ERROR;
      tc_buf_init(&st->buf, ERRBODY_MAX);
    } else if (!strncmp(ctype, "application/x-streamed-protobuf", 31)) {
      st->mode = MODE_STREAMED;
      st->r->streamed = 1;
      tc_buf_init(&st->buf, 0);
    } else if (!strncmp(ctype, "application/x-protobuf", 22)) {
      st->mode = MODE_SAMPLES;
      tc_buf_init(&st->buf, SAMPLES_MAX);
    } else {
      return tc_error(TC_EPROTO, "remote read: unexpected Content-Type "
                                 "\"%s\"", ctype);
    }
  }
  if (st->mode == MODE_ERROR) {
    size_t room = st->buf.max - st->buf.len;
    tc_buf_add(&st->buf, p, TC_MIN(room, n));
    return 0;
  }
  if (st->mode == MODE_SAMPLES) {
    if (tc_buf_add(&st->buf, p, n) < 0)
      return tc_error(TC_ELIMIT, "remote read: SAMPLES response larger than "
                                 "%u bytes", SAMPLES_MAX);
    return 0;
  }
  /* Streamed: frames wholly inside this piece are parsed in place; only
   * a frame cut by the piece's end is kept (buf) until the rest comes. */
  size_t used;
  int rc;
  if (st->buf.len) {
    size_t need = 0;
    struct decbuf d = decbuf_make(st->buf.data, st->buf.len);
    uint64_t len = decbuf_uvarint(&d);
    if (!d.err && len <= FRAME_MAX)
      need = (size_t)(st->buf.len - decbuf_len(&d)) + 4 + len - st->buf.len;
    size_t take = need && need < n ? need : n;
    tc_buf_add(&st->buf, p, take);
    if ((rc = parse_frames(st, st->buf.data, st->buf.len, &used)))
      return rc;
    if (used < st->buf.len) { /* still incomplete: n was all there was */
      memmove(st->buf.data, st->buf.data + used, st->buf.len - used);
      st->buf.len -= used;
      return 0;
    }
    st->buf.len = 0;
    p = (const char *)p + take;
    n -= take;
  }
  if ((rc = parse_frames(st, p, n, &used)))
    return rc;
  return tc_buf_add(&st->buf, (const char *)p + used, n - used);
}

/* One ChunkedSeries with the chunks of ts. */
int prom_samples_to_chunks(const Prometheus__TimeSeries *ts,
                           prom_chunked_fn *fn, void *data) {
  if (ts->n_histograms)
    return tc_error(TC_ENOTSUP, "remote read: native histograms in SAMPLES "
                                "mode are not supported");
  size_t nch = (ts->n_samples + XOR_SAMPLES_PER_CHUNK - 1) /
               XOR_SAMPLES_PER_CHUNK;
  Prometheus__Chunk *cv = xcalloc(nch ? nch : 1, sizeof *cv);
  Prometheus__Chunk **cp = xcalloc(nch ? nch : 1, sizeof *cp);
  struct xor_enc *enc = xcalloc(nch ? nch : 1, sizeof *enc);
  int rc = 0;
  for (size_t c = 0; c < nch; c++) {
    size_t first = c * XOR_SAMPLES_PER_CHUNK;
    size_t last = TC_MIN(first + XOR_SAMPLES_PER_CHUNK, ts->n_samples);
    xor_enc_init(&enc[c]);
    for (size_t i = first; i < last && !rc; i++)
      rc = xor_enc_append(&enc[c], ts->samples[i]->timestamp,
                          ts->samples[i]->value);
    prometheus__chunk__init(&cv[c]);
    cv[c].min_time_ms = ts->samples[first]->timestamp;
    cv[c].max_time_ms = ts->samples[last - 1]->timestamp;
    cv[c].type = PROMETHEUS__CHUNK__ENCODING__XOR;
    cv[c].data.data = (uint8_t *)xor_enc_bytes(&enc[c], &cv[c].data.len);
    cp[c] = &cv[c];
  }
  if (!rc) {
    Prometheus__ChunkedSeries cs = PROMETHEUS__CHUNKED_SERIES__INIT;
    cs.n_labels = ts->n_labels;
    cs.labels = ts->labels;
    cs.n_chunks = nch;
    cs.chunks = cp;
    rc = fn(data, &cs);
  }
  for (size_t c = 0; c < nch; c++)
    xor_enc_release(&enc[c]);
  free(enc);
  free(cp);
  free(cv);
  return rc;
}

static int samples_body(struct read_state *st) {
  size_t ulen;
  if (snappy_uncompressed_length(st->buf.data ? st->buf.data : "",
                                 st->buf.len, &ulen) != SNAPPY_OK)
    return tc_error(TC_EPARSE, "remote read: bad snappy body");
  if (ulen > SAMPLES_MAX)
    return tc_error(TC_ELIMIT, "remote read: SAMPLES response of %zu bytes "
                               "exceeds %u", ulen, SAMPLES_MAX);
  char *raw = xmalloc(ulen ? ulen : 1);
  int rc = 0;
  if (snappy_uncompress(st->buf.data, st->buf.len, raw, &ulen) != SNAPPY_OK) {
    free(raw);
    return tc_error(TC_EPARSE, "remote read: bad snappy body");
  }
  Prometheus__ReadResponse *resp =
      prometheus__read_response__unpack(NULL, ulen, (const uint8_t *)raw);
  free(raw);
  if (!resp)
    return tc_error(TC_EPARSE, "remote read: bad ReadResponse");
  for (size_t i = 0; i < resp->n_results && !rc; i++) {
    Prometheus__QueryResult *qr = resp->results[i];
    for (size_t j = 0; j < qr->n_timeseries && !rc; j++)
      rc = prom_samples_to_chunks(qr->timeseries[j], st->r->fn, st->r->data);
  }
  prometheus__read_response__free_unpacked(resp, NULL);
  return rc;
}

int prom_remote_read(struct prom_read *r) {
  struct tc_buf body;
  struct read_state st = {.r = r};
  read_request(r, &body);
  char *u = xasprintf("%s/api/v1/read", r->url);
  static const char *const hdrs[] = {
      "Content-Encoding: snappy",
      "Content-Type: application/x-stream-protobuf",
      "X-Prometheus-Remote-Read-Version: 0.1.0",
      "User-Agent: Thanos/" TC_VERSION,
      NULL};
  struct httpc_req req = {.method = "POST", .url = u, .headers = hdrs,
                          .body = body.data, .body_len = body.len,
                          .timeout_ms = r->timeout_ms,
                          .connect_timeout_ms = 5000,
                          .buffer_size = 512 << 10};
  r->streamed = 0;
  r->frames = r->bytes = 0;
  int rc = httpc_do_stream(NULL, &req, on_read_body, &st);
  if (rc < 0) {
    if (strncmp(tc_errmsg(rc), "remote read", 11))
      rc = tc_error_wrap(rc, "remote read");
    goto out;
  }
  if (st.mode == MODE_ERROR || rc < 200 || rc >= 300) {
    rc = http_status_error("remote read", rc, &st.buf);
    goto out;
  }
  rc = 0;
  if (st.mode == MODE_SAMPLES) {
    rc = samples_body(&st);
  } else if (st.mode == MODE_STREAMED && st.buf.len) {
    rc = tc_error(TC_EPROTO, "remote read: stream ended inside a frame "
                             "(%zu bytes left)", st.buf.len);
  }
out:
  tc_buf_release(&st.buf);
  tc_buf_release(&body);
  free(u);
  return rc;
}
