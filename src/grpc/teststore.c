/*
 * teststore.c - the synthetic StoreAPI behind `thanosc tools store
 * serve-test` (see teststore.h). Series shows the handler pattern the store
 * gateway and sidecar follow: decode the request on the loop, compute a
 * batch of responses on the libuv worker pool (checking for cancellation),
 * send it back on the loop, and ask for the next batch only while the call
 * is writable - otherwise wait for the on_writable callback.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/teststore.h"
#include "info.pb-c.h"
#include "storepb_rpc.pb-c.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/loop.h"

#define BATCH 512
#define T0 1700000000000LL

struct series_job {
  struct grpc_teststore *ts;
  struct grpc_call *call;
  struct tc_work work;
  int64_t next, end;
  int busy; /* work queued */
  int cancelled;
  struct tc_buf batch; /* framed messages (grpc_call_send_framed) */
  uv_timer_t *slow;
};

/* A one-sample XOR chunk: be16 count, varint t, be64 value bits. */
static size_t xor_one(uint8_t *out, int64_t t, double v) {
  size_t n = 0;
  out[n++] = 0, out[n++] = 1;
  uint64_t zz = ((uint64_t)t << 1) ^ (uint64_t)(t >> 63);
  while (zz >= 0x80) {
    out[n++] = (uint8_t)(zz | 0x80);
    zz >>= 7;
  }
  out[n++] = (uint8_t)zz;
  uint64_t bits;
  memcpy(&bits, &v, 8);
  for (int i = 7; i >= 0; i--)
    out[n++] = (uint8_t)(bits >> (i * 8));
  return n;
}

/* Packs series i as a SeriesResponse into b, framed as on the wire. */
static void pack_series(struct tc_buf *b, int64_t i) {
  char idx[24];
  snprintf(idx, sizeof idx, "%08" PRId64, i);
  Thanos__Label l[3] = {THANOS__LABEL__INIT, THANOS__LABEL__INIT,
                        THANOS__LABEL__INIT};
  l[0].name = "__name__", l[0].value = "test_metric";
  l[1].name = "i", l[1].value = idx;
  l[2].name = "job", l[2].value = "serve-test";
  Thanos__Label *lp[3] = {&l[0], &l[1], &l[2]};
  uint8_t data[32];
  Thanos__Chunk raw = THANOS__CHUNK__INIT;
  raw.data.data = data;
  raw.data.len = xor_one(data, T0, (double)i);
  Thanos__AggrChunk ac = THANOS__AGGR_CHUNK__INIT;
  ac.min_time = ac.max_time = T0;
  ac.raw = &raw;
  Thanos__AggrChunk *acp = &ac;
  Thanos__Series s = THANOS__SERIES__INIT;
  s.n_labels = 3, s.labels = lp;
  s.n_chunks = 1, s.chunks = &acp;
  Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
  r.result_case = THANOS__SERIES_RESPONSE__RESULT_SERIES;
  r.series = &s;
  size_t n = protobuf_c_message_get_packed_size(&r.base);
  tc_buf_addc(b, 0);
  tc_buf_put_be32(b, (uint32_t)n);
  tc_buf_reserve(b, n);
  protobuf_c_message_pack(&r.base, (uint8_t *)b->data + b->len);
  b->len += n;
}

static void job_free(struct series_job *j) {
  tc_buf_release(&j->batch);
  free(j);
}

static void slow_closed(uv_handle_t *h) {
  struct series_job *j = h->data;
  free(h);
  job_free(j);
}

static void job_end(struct series_job *j, int code, const char *msg) {
  grpc_call_finish(j->call, code, msg ? "%s" : NULL, msg);
  if (j->slow) {
    uv_timer_stop(j->slow);
    uv_close((uv_handle_t *)j->slow, slow_closed);
    return;
  }
  job_free(j);
}

static void work_cb(struct tc_work *w) {
  struct series_job *j = w->data;
  tc_buf_reset(&j->batch);
  tc_buf_reserve(&j->batch, BATCH * 128); /* sent batches are not reused */
  int64_t stop = j->next + BATCH < j->end ? j->next + BATCH : j->end;
  /* Worker thread: only the thread-safe cancellation check is allowed. */
  for (; j->next < stop && !grpc_call_cancelled(j->call); j->next++)
    pack_series(&j->batch, j->next);
}

static void job_queue(struct series_job *j);

static void on_writable(struct grpc_call *c) {
  job_queue(grpc_call_data(c));
}

static void after_work(struct tc_work *w, int status) {
  struct series_job *j = w->data;
  j->busy = 0;
  if (j->cancelled || grpc_call_cancelled(j->call)) {
    j->ts->series_cancelled++;
    job_end(j, GRPC_CANCELLED, "context canceled");
    return;
  }
  int rc = grpc_call_send_framed(j->call, &j->batch);
  if (rc == TC_ECANCELED) {
    j->ts->series_cancelled++;
    job_end(j, GRPC_CANCELLED, "context canceled");
    return;
  }
  if (rc) {
    job_end(j, grpc_code_from_tc(rc), tc_errmsg(rc));
    return;
  }
  if (j->next >= j->end) {
    job_end(j, GRPC_OK, NULL);
    return;
  }
  if (grpc_call_writable(j->call))
    job_queue(j);
  else
    grpc_call_on_writable(j->call, on_writable);
}

static void job_queue(struct series_job *j) {
  j->busy = 1;
  if (tc_work_submit(grpc_call_loop(j->call), &j->work, work_cb, after_work,
                     j) < 0) {
    j->busy = 0;
    job_end(j, GRPC_UNAVAILABLE, "worker pool refused the job");
  }
}

static void on_cancel(struct grpc_call *c) {
  struct series_job *j = grpc_call_data(c);
  j->cancelled = 1;
  if (j->busy)
    tc_work_cancel(&j->work); /* after_work ends the call */
  else {                      /* waiting for writable, or slow: end now */
    j->ts->series_cancelled++;
    job_end(j, GRPC_CANCELLED, "context canceled");
  }
}


static void big_send(struct grpc_call *c) {
  size_t n = 8u << 20;
  Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
  r.result_case = THANOS__SERIES_RESPONSE__RESULT_WARNING;
  char *w = xmalloc(n + 1);
  memset(w, 'w', n);
  w[n] = '\0';
  r.warning = w;
  grpc_call_reply(c, &r.base);
  free(w);
}

static void series(struct grpc_call *c, const uint8_t *req, size_t len,
                   void *data) {
  struct grpc_teststore *ts = data;
  Thanos__SeriesRequest *r =
      grpc_call_unpack(c, &thanos__series_request__descriptor, req, len);
  if (!r)
    return;
  const char *name = NULL;
  for (size_t i = 0; i < r->n_matchers; i++)
    if (!strcmp(r->matchers[i]->name, "__name__") &&
        r->matchers[i]->type == THANOS__LABEL_MATCHER__TYPE__EQ)
      name = r->matchers[i]->value;
  int slow = name && !strcmp(name, "slow");
  int err = name && !strcmp(name, "error");
  int big = name && !strcmp(name, "big");
  thanos__series_request__free_unpacked(r, NULL);
  ts->series_started++;
  if (err) {
    grpc_call_finish(c, GRPC_INVALID_ARGUMENT, "test error: %s", "requested");
    return;
  }
  if (big) {
    big_send(c);
    return;
  }
  struct series_job *j = xcalloc(1, sizeof *j);
  j->ts = ts;
  j->call = c;
  j->end = ts->nseries;
  tc_buf_init(&j->batch, 0);
  grpc_call_set_data(c, j);
  grpc_call_on_cancel(c, on_cancel);
  if (slow) {
    /* Never answers: only cancellation or the deadline ends it. */
    j->slow = xmalloc(sizeof *j->slow);
    uv_timer_init(grpc_call_loop(c), j->slow);
    j->slow->data = j;
    return;
  }
  job_queue(j);
}

/* A unary answer: one message, then the status. */

static void label_names(struct grpc_call *c, const uint8_t *req, size_t len,
                        void *data) {
  Thanos__LabelNamesRequest *r =
      grpc_call_unpack(c, &thanos__label_names_request__descriptor, req, len);
  if (!r)
    return;
  thanos__label_names_request__free_unpacked(r, NULL);
  char *names[] = {"__name__", "i", "job"};
  Thanos__LabelNamesResponse resp = THANOS__LABEL_NAMES_RESPONSE__INIT;
  resp.n_names = 3;
  resp.names = names;
  grpc_call_reply(c, &resp.base);
}

static void label_values(struct grpc_call *c, const uint8_t *req, size_t len,
                         void *data) {
  struct grpc_teststore *ts = data;
  Thanos__LabelValuesRequest *r =
      grpc_call_unpack(c, &thanos__label_values_request__descriptor, req, len);
  if (!r)
    return;
  Thanos__LabelValuesResponse resp = THANOS__LABEL_VALUES_RESPONSE__INIT;
  char *one[1];
  char **many = NULL;
  int code = GRPC_OK;
  if (!*r->label) {
    code = GRPC_INVALID_ARGUMENT;
  } else if (!strcmp(r->label, "__name__")) {
    one[0] = "test_metric";
    resp.n_values = 1, resp.values = one;
  } else if (!strcmp(r->label, "job")) {
    one[0] = "serve-test";
    resp.n_values = 1, resp.values = one;
  } else if (!strcmp(r->label, "i")) {
    size_t n = ts->nseries < 1000 ? (size_t)ts->nseries : 1000;
    many = xcalloc(n ? n : 1, sizeof *many);
    for (size_t i = 0; i < n; i++)
      many[i] = xasprintf("%08zu", i);
    resp.n_values = n, resp.values = many;
  }
  thanos__label_values_request__free_unpacked(r, NULL);
  if (code) {
    grpc_call_finish(c, code, "label name parameter cannot be empty");
    return;
  }
  grpc_call_reply(c, &resp.base);
  for (size_t i = 0; many && i < resp.n_values; i++)
    free(many[i]);
  free(many);
}

/* The external label set of the test store, built on the stack. */
struct ext {
  char name[128], value[128];
  Thanos__Label l, *lp;
  Thanos__ZLabelSet ls, *lsp;
};

static void ext_init(struct ext *e, const struct grpc_teststore *ts) {
  const char *eq = ts->ext_label ? strchr(ts->ext_label, '=') : NULL;
  snprintf(e->name, sizeof e->name, "%.*s", eq ? (int)(eq - ts->ext_label) : 0,
           eq ? ts->ext_label : "");
  snprintf(e->value, sizeof e->value, "%s", eq ? eq + 1 : "");
  thanos__label__init(&e->l);
  e->l.name = e->name, e->l.value = e->value;
  e->lp = &e->l;
  thanos__zlabel_set__init(&e->ls);
  e->ls.n_labels = *e->name ? 1 : 0, e->ls.labels = &e->lp;
  e->lsp = &e->ls;
}

static void info(struct grpc_call *c, const uint8_t *req, size_t len,
                 void *data) {
  struct grpc_teststore *ts = data;
  struct ext e;
  ext_init(&e, ts);
  Thanos__Info__TSDBInfo ti = THANOS__INFO__TSDBINFO__INIT;
  ti.labels = &e.ls, ti.min_time = ts->min_time, ti.max_time = ts->max_time;
  Thanos__Info__TSDBInfo *tip = &ti;
  Thanos__Info__StoreInfo si = THANOS__INFO__STORE_INFO__INIT;
  si.min_time = ts->min_time, si.max_time = ts->max_time;
  si.supports_sharding = 1, si.supports_without_replica_labels = 1;
  si.n_tsdb_infos = 1, si.tsdb_infos = &tip;
  Thanos__Info__InfoResponse r = THANOS__INFO__INFO_RESPONSE__INIT;
  r.n_label_sets = 1, r.label_sets = &e.lsp;
  r.componenttype = "store";
  r.store = &si;
  grpc_call_reply(c, &r.base);
}

static void legacy_info(struct grpc_call *c, const uint8_t *req, size_t len,
                        void *data) {
  struct grpc_teststore *ts = data;
  struct ext e;
  ext_init(&e, ts);
  Thanos__InfoResponse r = THANOS__INFO_RESPONSE__INIT;
  r.n_labels = e.ls.n_labels, r.labels = &e.lp;
  r.min_time = ts->min_time, r.max_time = ts->max_time;
  r.storetype = THANOS__STORE_TYPE__STORE;
  r.n_label_sets = 1, r.label_sets = &e.lsp;
  grpc_call_reply(c, &r.base);
}

const struct grpc_method *grpc_teststore_methods(struct grpc_teststore *ts) {
  static struct grpc_method table[6];
  table[0] = (struct grpc_method){"/thanos.Store/Series", GRPC_SERVER_STREAM,
                                  series, ts};
  table[1] = (struct grpc_method){"/thanos.Store/LabelNames", GRPC_UNARY,
                                  label_names, ts};
  table[2] = (struct grpc_method){"/thanos.Store/LabelValues", GRPC_UNARY,
                                  label_values, ts};
  table[3] =
      (struct grpc_method){"/thanos.Store/Info", GRPC_UNARY, legacy_info, ts};
  table[4] =
      (struct grpc_method){"/thanos.info.Info/Info", GRPC_UNARY, info, ts};
  table[5] = (struct grpc_method){0};
  return table;
}
