/*
 * tools-store.c - `thanosc tools store info|series|label-names|label-values`:
 * a StoreAPI client for any Thanos or thanosc endpoint, printing what it
 * serves; plus the hidden `serve-test`, a synthetic StoreAPI server used by
 * the interop tests and the gRPC benchmark. Flags and wiring, plus a
 * light wire walk of plain Series responses (the protocol lives in
 * src/grpc).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "grpc/teststore.h"
#include "info.pb-c.h"
#include "storepb_rpc.pb-c.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/grpc.h"
#include "thanosc/labels.h"
#include "thanosc/log.h"
#include "thanosc/storepb.h"
#include "thanosc/tsdb/chunkenc.h"

/* ------------------------------------------------------ client plumbing */

struct client_flags {
  char *endpoint;
  int tls;
  char *cert, *key, *ca, *server_name;
  int skip_verify;
  char *compression;
  int64_t timeout_ms;
};

#define CLIENT_FLAGS(f)                                                        \
  {"endpoint",                                                                 \
   FLAG_STRING,                                                                \
   &(f).endpoint,                                                              \
   NULL,                                                                       \
   "StoreAPI endpoint to query (host:port).",                                  \
   NULL,                                                                       \
   FLAG_REQUIRED},                                                             \
      {"grpc-client-tls-secure", FLAG_BOOL, &(f).tls, "false",                 \
       "Use TLS when talking to the gRPC server"},                             \
      {"grpc-client-tls-cert", FLAG_STRING, &(f).cert, "",                     \
       "TLS Certificates to use to identify this client to the server"},       \
      {"grpc-client-tls-key", FLAG_STRING, &(f).key, "",                       \
       "TLS Key for the client's certificate"},                                \
      {"grpc-client-tls-ca", FLAG_STRING, &(f).ca, "",                         \
       "TLS CA Certificates to use to verify gRPC servers"},                   \
      {"grpc-client-server-name", FLAG_STRING, &(f).server_name, "",           \
       "Server name to verify the hostname on the returned gRPC "              \
       "certificates."},                                                       \
      {"grpc-client-tls-skip-verify", FLAG_BOOL, &(f).skip_verify, "false",    \
       "Disable TLS certificate verification i.e self signed, signed by fake " \
       "CA"},                                                                  \
      {"grpc-compression",                                                     \
       FLAG_ENUM,                                                              \
       &(f).compression,                                                       \
       "none",                                                                 \
       "Compression algorithm to use for gRPC requests to other clients.",     \
       "none|snappy"},                                                         \
  {                                                                            \
    "timeout", FLAG_DURATION, &(f).timeout_ms, "1m", "Deadline of each call."  \
  }

struct run {
  uv_loop_t loop;
  struct grpc_client *cl;
  int code;
  char *msg;
  int done;
  void *state;
};

static int run_open(struct run *r, struct client_flags *f, const char *cmd) {
  memset(r, 0, sizeof *r);
  uv_loop_init(&r->loop);
  struct grpc_client_opts o = {.tls = f->tls,
                               .tls_cert = f->cert,
                               .tls_key = f->key,
                               .tls_ca = f->ca,
                               .server_name = f->server_name,
                               .tls_skip_verify = f->skip_verify,
                               .compression = f->compression};
  int rc = grpc_client_new(&r->loop, f->endpoint, &o, &r->cl);
  if (rc) {
    fprintf(stderr, "%s: error: %s\n", cmd, tc_errmsg(rc));
    uv_loop_close(&r->loop);
    return 2;
  }
  return 0;
}

static void run_done(struct grpc_client_call *k, int code, const char *msg,
                     void *data) {
  struct run *r = data;
  r->code = code;
  r->msg = xstrdup(msg ? msg : "");
  r->done = 1;
}

/* Runs one call to completion; returns the exit code (0, or 1 with the
 * status printed). */
static int run_call(struct run *r, const char *cmd, const char *path,
                    const ProtobufCMessage *req, int64_t timeout_ms,
                    grpc_client_msg_fn *on_msg) {
  free(r->msg);
  r->msg = NULL;
  r->done = 0;
  int rc = grpc_client_call_startm(r->cl, path, req, timeout_ms, on_msg,
                                   run_done, r, NULL);
  if (rc) {
    fprintf(stderr, "%s: error: %s\n", cmd, tc_errmsg(rc));
    return 1;
  }
  while (!r->done)
    uv_run(&r->loop, UV_RUN_ONCE);
  return r->code ? 1 : 0;
}

static int run_close(struct run *r, const char *cmd, int ex) {
  if (ex && r->msg)
    fprintf(stderr, "%s: error: rpc error: code = %s desc = %s\n", cmd,
            grpc_code_name(r->code), r->msg);
  grpc_client_free(r->cl);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_loop_close(&r->loop);
  free(r->msg);
  return ex;
}

/* ----------------------------------------------------------- helpers */

/* Parses a selector into protobuf matchers (which borrow from ms). */
static int parse_match(const char *cmd, const char *sel, struct matchers *ms,
                       Thanos__LabelMatcher ***v, size_t *n) {
  int rc = selector_parse(sel, ms);
  if (rc) {
    fprintf(stderr, "%s: error: %s\n", cmd, tc_errmsg(rc));
    matchers_release(ms);
    return 2;
  }
  storepb_matchers_from(ms, v, n);
  return 0;
}

static void print_labels(FILE *f, Thanos__Label **l, size_t n) {
  struct labels ls;
  struct tc_buf b = TC_BUF_INIT;
  storepb_labels_borrow(l, n, &ls);
  labels_format(&ls, &b);
  fwrite(b.data ? b.data : "{}", 1, b.data ? b.len : 2, f);
  tc_buf_release(&b);
  labels_release(&ls);
}

/* ------------------------------------------------------------- info */

static int info_msg(struct grpc_client_call *k, const uint8_t *p, size_t n,
                    void *data) {
  struct run *r = data;
  Thanos__Info__InfoResponse *m =
      thanos__info__info_response__unpack(NULL, n, p);
  if (!m)
    return 1;
  printf("component: %s\n", m->componenttype);
  for (size_t i = 0; i < m->n_label_sets; i++) {
    printf("label_set: ");
    print_labels(stdout, m->label_sets[i]->labels, m->label_sets[i]->n_labels);
    printf("\n");
  }
  if (m->store) {
    printf("store: min_time=%" PRId64 " max_time=%" PRId64
           " supports_sharding=%d supports_without_replica_labels=%d\n",
           m->store->min_time, m->store->max_time, m->store->supports_sharding,
           m->store->supports_without_replica_labels);
    for (size_t i = 0; i < m->store->n_tsdb_infos; i++) {
      Thanos__Info__TSDBInfo *t = m->store->tsdb_infos[i];
      printf("tsdb: ");
      if (t->labels)
        print_labels(stdout, t->labels->labels, t->labels->n_labels);
      printf(" min_time=%" PRId64 " max_time=%" PRId64 "\n", t->min_time,
             t->max_time);
    }
  }
  printf("apis:%s%s%s%s%s%s%s\n", m->store ? " store" : "",
         m->rules ? " rules" : "", m->metric_metadata ? " metadata" : "",
         m->targets ? " targets" : "", m->exemplars ? " exemplars" : "",
         m->query ? " query" : "", m->status ? " status" : "");
  thanos__info__info_response__free_unpacked(m, NULL);
  r->state = r;
  return 0;
}

static const char *const store_types[] = {
    "UNKNOWN", "QUERY", "RULE", "SIDECAR", "STORE", "RECEIVE", "DEBUG"};

static int legacy_info_msg(struct grpc_client_call *k, const uint8_t *p,
                           size_t n, void *data) {
  Thanos__InfoResponse *m = thanos__info_response__unpack(NULL, n, p);
  if (!m)
    return 1;
  printf("component: %s (legacy thanos.Store/Info)\n",
         (size_t)m->storetype < TC_ARRAY_SIZE(store_types)
             ? store_types[m->storetype]
             : "UNKNOWN");
  for (size_t i = 0; i < m->n_label_sets; i++) {
    printf("label_set: ");
    print_labels(stdout, m->label_sets[i]->labels, m->label_sets[i]->n_labels);
    printf("\n");
  }
  printf("store: min_time=%" PRId64 " max_time=%" PRId64 "\n", m->min_time,
         m->max_time);
  thanos__info_response__free_unpacked(m, NULL);
  return 0;
}

static int info_run(const char *cmd, struct client_flags *f);

int cmd_tools_store_info(int argc, char **argv) {
  static const char *cmd = "thanosc tools store info";
  struct client_flags f = {0};
  const struct flag_def defs[] = {CLIENT_FLAGS(f), {0}};
  const struct flag_def *tables[] = {defs, NULL};
  int rc = flags_parse(tables, cmd,
                       "show what a StoreAPI endpoint says about itself", argc,
                       argv, NULL);
  if (rc == 1)
    rc = 0; /* --help */
  else if (rc == 0)
    rc = info_run(cmd, &f);
  cmd_flags_release(tables);
  return rc;
}

static int info_run(const char *cmd, struct client_flags *f) {
  struct run r;
  int rc;
  if ((rc = run_open(&r, f, cmd)))
    return rc;
  Thanos__Info__InfoRequest req = THANOS__INFO__INFO_REQUEST__INIT;
  int ex = run_call(&r, cmd, "/thanos.info.Info/Info", &req.base, f->timeout_ms,
                    info_msg);
  if (ex && r.code == GRPC_UNIMPLEMENTED) {
    Thanos__InfoRequest lreq = THANOS__INFO_REQUEST__INIT;
    ex = run_call(&r, cmd, "/thanos.Store/Info", &lreq.base, f->timeout_ms,
                  legacy_info_msg);
  }
  return run_close(&r, cmd, ex);
}

/* ------------------------------------------------------------ series */

struct series_state {
  int64_t nseries, nchunks, nsamples, nwarn;
  int skip_chunks;
  int samples; /* print each sample in [mint, maxt] */
  int64_t mint, maxt;
  struct tc_buf line;
  struct storepb_series_peek peek; /* reused from message to message */
};

/* Prints the samples of s's raw chunks as `{labels} value ts` lines, as
 * `tools block dump` does. */
static int print_samples(struct series_state *st, Thanos__Series *s) {
  struct labels ls;
  struct tc_buf lbl = TC_BUF_INIT;
  storepb_labels_borrow(s->labels, s->n_labels, &ls);
  labels_format(&ls, &lbl);
  labels_release(&ls);
  int rc = 0;
  for (size_t i = 0; i < s->n_chunks && !rc; i++) {
    Thanos__Chunk *c = s->chunks[i]->raw;
    if (!c)
      continue;
    struct chunk_iter it;
    if ((rc = chunk_iter_init(&it, (uint8_t)(c->type + 1), c->data.data,
                              c->data.len)))
      break;
    while (chunk_iter_next(&it)) {
      int64_t t;
      double v;
      chunk_iter_at(&it, &t, &v);
      if (t < st->mint || t > st->maxt)
        continue;
      tc_buf_reset(&st->line);
      tc_buf_add(&st->line, lbl.data, lbl.len);
      tc_buf_addc(&st->line, ' ');
      tc_format_float(&st->line, v);
      tc_buf_addf(&st->line, " %" PRId64 "\n", t);
      fwrite(st->line.data, 1, st->line.len, stdout);
    }
    rc = chunk_iter_err(&it);
  }
  if (rc)
    fprintf(stderr, "series %s: %s\n", lbl.data, tc_errmsg(rc));
  tc_buf_release(&lbl);
  return rc;
}

/* Any SeriesResponse, through protobuf-c. */
static int series_unpacked(struct series_state *st, const uint8_t *p,
                           size_t n) {
  Thanos__SeriesResponse *m = thanos__series_response__unpack(NULL, n, p);
  if (!m) {
    fprintf(stderr, "bad SeriesResponse message (%zu bytes)\n", n);
    return 1;
  }
  if (m->result_case == THANOS__SERIES_RESPONSE__RESULT_WARNING) {
    st->nwarn++;
    fprintf(stderr, "warning: %.200s\n", m->warning);
  } else if (m->result_case == THANOS__SERIES_RESPONSE__RESULT_SERIES) {
    Thanos__Series *s = m->series;
    int64_t samples = 0;
    for (size_t i = 0; i < s->n_chunks; i++) {
      Thanos__Chunk *c = s->chunks[i]->raw;
      if (c && c->type == THANOS__CHUNK__ENCODING__XOR && c->data.len >= 2)
        samples += c->data.data[0] << 8 | c->data.data[1];
    }
    if (st->samples) {
      if (print_samples(st, s)) {
        thanos__series_response__free_unpacked(m, NULL);
        return 1;
      }
    } else {
      print_labels(stdout, s->labels, s->n_labels);
      if (!st->skip_chunks)
        printf(" chunks=%zu samples=%" PRId64, s->n_chunks, samples);
      printf("\n");
    }
    st->nseries++;
    st->nchunks += (int64_t)s->n_chunks;
    st->nsamples += samples;
  }
  thanos__series_response__free_unpacked(m, NULL);
  return 0;
}

/* The common message, walked on the wire (storepb_series_peek): printed
 * as series_unpacked() would; 1 (nothing printed) for any other. */
static int series_walked(struct series_state *st, const uint8_t *p, size_t n) {
  struct storepb_series_peek *w = &st->peek;
  if (storepb_series_peek(w, p, n))
    return 1;
  tc_buf_reset(&st->line);
  labels_format(&w->ls, &st->line);
  if (!st->skip_chunks)
    tc_buf_addf(&st->line, " chunks=%" PRId64 " samples=%" PRId64, w->nchunks,
                w->samples);
  tc_buf_addc(&st->line, '\n');
  fwrite(st->line.data, 1, st->line.len, stdout);
  st->nseries++;
  st->nchunks += w->nchunks;
  st->nsamples += w->samples;
  return 0;
}

static int series_msg(struct grpc_client_call *k, const uint8_t *p, size_t n,
                      void *data) {
  struct run *r = data;
  struct series_state *st = r->state;
  if (!st->samples && series_walked(st, p, n) == 0)
    return 0;
  return series_unpacked(st, p, n);
}

static int series_run(const char *cmd, struct client_flags *f,
                      const char *match, struct series_state *st);

int cmd_tools_store_series(int argc, char **argv) {
  static const char *cmd = "thanosc tools store series";
  struct client_flags f = {0};
  char *match = NULL;
  int64_t mint = 0, maxt = 0;
  int skip_chunks = 0, samples = 0;
  const struct flag_def defs[] = {
      CLIENT_FLAGS(f),
      {"match", FLAG_STRING, &match, "{__name__=~\".+\"}", "Series selector."},
      {"min-time", FLAG_TIME, &mint, "0000-01-01T00:00:00Z",
       "Start of the time range (RFC3339 or relative)."},
      {"max-time", FLAG_TIME, &maxt, "9999-12-31T23:59:59Z",
       "End of the time range (RFC3339 or relative)."},
      {"skip-chunks", FLAG_BOOL, &skip_chunks, "false", "Ask for labels only."},
      {"samples", FLAG_BOOL, &samples, "false",
       "Print every sample as `{labels} value timestamp_ms`."},
      {0}};
  const struct flag_def *tables[] = {defs, NULL};
  int rc =
      flags_parse(tables, cmd, "print the series a StoreAPI endpoint serves",
                  argc, argv, NULL);
  if (rc == 1)
    rc = 0; /* --help */
  else if (rc == 0) {
    struct series_state st = {.skip_chunks = skip_chunks,
                              .samples = samples,
                              .mint = mint,
                              .maxt = maxt};
    rc = series_run(cmd, &f, match, &st);
  }
  cmd_flags_release(tables);
  return rc;
}

static int series_run(const char *cmd, struct client_flags *f,
                      const char *match, struct series_state *st) {
  int rc;
  Thanos__SeriesRequest req = THANOS__SERIES_REQUEST__INIT;
  struct matchers ms = {0};
  if ((rc = parse_match(cmd, match, &ms, &req.matchers, &req.n_matchers)))
    return rc;
  req.min_time = st->mint;
  req.max_time = st->maxt;
  req.skip_chunks = st->skip_chunks;
  req.partial_response_strategy = THANOS__PARTIAL_RESPONSE_STRATEGY__ABORT;
  struct run r;
  int ex = 2;
  tc_buf_init(&st->line, 0);
  storepb_series_peek_init(&st->peek);
  if (!(rc = run_open(&r, f, cmd))) {
    r.state = st;
    ex = run_call(&r, cmd, "/thanos.Store/Series", &req.base, f->timeout_ms,
                  series_msg);
  }
  storepb_matchers_free(req.matchers, req.n_matchers);
  matchers_release(&ms);
  tc_buf_release(&st->line);
  storepb_series_peek_release(&st->peek);
  if (rc)
    return rc;
  fflush(stdout);
  fprintf(stderr,
          "series=%" PRId64 " chunks=%" PRId64 " samples=%" PRId64
          " warnings=%" PRId64 "\n",
          st->nseries, st->nchunks, st->nsamples, st->nwarn);
  return run_close(&r, cmd, ex);
}

/* ------------------------------------------------------------ labels */

static int names_msg(struct grpc_client_call *k, const uint8_t *p, size_t n,
                     void *data) {
  Thanos__LabelNamesResponse *m =
      thanos__label_names_response__unpack(NULL, n, p);
  if (!m)
    return 1;
  for (size_t i = 0; i < m->n_names; i++)
    printf("%s\n", m->names[i]);
  for (size_t i = 0; i < m->n_warnings; i++)
    fprintf(stderr, "warning: %s\n", m->warnings[i]);
  thanos__label_names_response__free_unpacked(m, NULL);
  return 0;
}

static int values_msg(struct grpc_client_call *k, const uint8_t *p, size_t n,
                      void *data) {
  Thanos__LabelValuesResponse *m =
      thanos__label_values_response__unpack(NULL, n, p);
  if (!m)
    return 1;
  for (size_t i = 0; i < m->n_values; i++)
    printf("%s\n", m->values[i]);
  for (size_t i = 0; i < m->n_warnings; i++)
    fprintf(stderr, "warning: %s\n", m->warnings[i]);
  thanos__label_values_response__free_unpacked(m, NULL);
  return 0;
}

static int label_run(const char *cmd, struct client_flags *f, const char *match,
                     const char *label, int64_t mint, int64_t maxt);

static int label_cmd(int argc, char **argv, int values) {
  const char *cmd = values ? "thanosc tools store label-values"
                           : "thanosc tools store label-names";
  struct client_flags f = {0};
  char *match = NULL, *label = NULL;
  int64_t mint = 0, maxt = 0;
  const struct flag_def defs[] = {
      CLIENT_FLAGS(f),
      {"match", FLAG_STRING, &match, NULL, "Optional series selector."},
      {"label", FLAG_STRING, &label, NULL, "Label name (label-values).", NULL,
       values ? FLAG_REQUIRED : FLAG_HIDDEN},
      {"min-time", FLAG_TIME, &mint, "0000-01-01T00:00:00Z",
       "Start of the time range (RFC3339 or relative)."},
      {"max-time", FLAG_TIME, &maxt, "9999-12-31T23:59:59Z",
       "End of the time range (RFC3339 or relative)."},
      {0}};
  const struct flag_def *tables[] = {defs, NULL};
  int rc = flags_parse(tables, cmd,
                       values ? "print the values of one label"
                              : "print the label names",
                       argc, argv, NULL);
  if (rc == 1)
    rc = 0; /* --help */
  else if (rc == 0)
    rc = label_run(cmd, &f, match, values ? label : NULL, mint, maxt);
  cmd_flags_release(tables);
  return rc;
}

/* Label values of label, or label names when label is NULL. */
static int label_run(const char *cmd, struct client_flags *f, const char *match,
                     const char *label, int64_t mint, int64_t maxt) {
  int rc;
  Thanos__LabelMatcher **ms = NULL;
  size_t nms = 0;
  struct matchers sel = {0};
  if (match && (rc = parse_match(cmd, match, &sel, &ms, &nms)))
    return rc;
  struct run r;
  if ((rc = run_open(&r, f, cmd))) {
    storepb_matchers_free(ms, nms);
    matchers_release(&sel);
    return rc;
  }
  int ex;
  if (label) {
    Thanos__LabelValuesRequest req = THANOS__LABEL_VALUES_REQUEST__INIT;
    req.label = (char *)label;
    req.start = mint, req.end = maxt;
    req.matchers = ms, req.n_matchers = nms;
    ex = run_call(&r, cmd, "/thanos.Store/LabelValues", &req.base,
                  f->timeout_ms, values_msg);
  } else {
    Thanos__LabelNamesRequest req = THANOS__LABEL_NAMES_REQUEST__INIT;
    req.start = mint, req.end = maxt;
    req.matchers = ms, req.n_matchers = nms;
    ex = run_call(&r, cmd, "/thanos.Store/LabelNames", &req.base, f->timeout_ms,
                  names_msg);
  }
  storepb_matchers_free(ms, nms);
  matchers_release(&sel);
  return run_close(&r, cmd, ex);
}

int cmd_tools_store_label_names(int argc, char **argv) {
  return label_cmd(argc, argv, 0);
}

int cmd_tools_store_label_values(int argc, char **argv) {
  return label_cmd(argc, argv, 1);
}

/* -------------------------------------------------------- serve-test */

int cmd_tools_store_serve_test(int argc, char **argv) {
  static const char *cmd = "thanosc tools store serve-test";
  struct server_opts so = {0};
  int64_t nseries = 0;
  uint64_t max_recv = 0;
  char *ext = NULL;
  struct flag_def common[CMD_SERVER_FLAGS_MAX + 1];
  cmd_server_flags(common, &so, CMD_FLAGS_GRPC | CMD_FLAGS_LOG, NULL,
                   "0.0.0.0:10901");
  const struct flag_def defs[] = {
      {"series", FLAG_INT, &nseries, "1000", "Number of synthetic series."},
      {"external-label", FLAG_STRING, &ext, "", "name=value external label."},
      {"max-recv-msg-size", FLAG_BYTES, &max_recv, "0",
       "Largest request message accepted (0 = 2GiB-1).", NULL, FLAG_HIDDEN},
      {0}};
  const struct flag_def *tables[] = {common, defs, NULL};
  int rc = flags_parse(tables, cmd, "serve a synthetic StoreAPI (tests)", argc,
                       argv, NULL);
  if (rc)
    return rc == 1 ? 0 : rc;
  if ((rc = cmd_server_opts_check(&so, cmd)))
    return rc;
  struct grpc_teststore ts = {.nseries = nseries,
                              .min_time = 1700000000000LL,
                              .max_time = 1700000000000LL,
                              .ext_label = ext && *ext ? ext : NULL};
  struct grpc_server_opts o = {.address = so.grpc_address,
                               .tls_cert = so.grpc_tls_cert,
                               .tls_key = so.grpc_tls_key,
                               .tls_client_ca = so.grpc_tls_client_ca,
                               .max_recv_msg = (size_t)max_recv,
                               .grace_ms = so.grpc_grace_ms};
  struct runtime rt;
  if ((rc = runtime_init(&rt))) {
    fprintf(stderr, "%s: error: %s\n", cmd, tc_errmsg(rc));
    return 1;
  }
  struct grpc_service gs;
  grpc_service_init(&gs, grpc_teststore_methods(&ts), &o);
  runtime_add(&rt, &gs.svc);
  int code = runtime_run(&rt); /* start errors are logged by the runtime */
  runtime_release(&rt);
  return code;
}
