/*
 * storesrv.c - the querier's own gRPC StoreAPI, so that queriers stack:
 * thanos.info.Info/Info (component "query", the union of the endpoints'
 * label sets and time ranges), thanos.Store/Info (legacy), and
 * thanos.Store/Series, LabelNames, LabelValues proxied to the endpoints
 * with the same fan-out as the HTTP API, merged (and with
 * without_replica_labels deduplicated by label set) before sending.
 */
#include <stdlib.h>
#include <string.h>

#include "info.pb-c.h"
#include "internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/promql.h"
#include "thanosc/storepb.h"

/* What the querier announces: the endpoints' label sets, each extended
 * with the --selector-label labels (Thanos ProxyStore.LabelSet), without
 * duplicates, and the union of their time ranges. */
struct info_sets {
  Thanos__ZLabelSet **sets; /* strings borrowed from ls */
  struct labels *ls;        /* owned */
  size_t n;
  int64_t mint, maxt;
};

static void info_sets_build(struct querier *q, struct info_sets *r) {
  size_t cap = 0;
  for (struct qep *e = q->eps; e; e = e->next)
    if (e->healthy)
      cap += e->nlsets;
  memset(r, 0, sizeof(*r));
  r->ls = xcalloc(cap ? cap : 1, sizeof(*r->ls));
  r->mint = INT64_MAX;
  r->maxt = INT64_MIN;
  for (struct qep *e = q->eps; e; e = e->next) {
    if (!e->healthy || e->mint > e->maxt)
      continue;
    if (e->mint < r->mint)
      r->mint = e->mint;
    if (e->maxt > r->maxt)
      r->maxt = e->maxt;
    for (size_t i = 0; i < e->nlsets; i++) {
      struct labels *l = &r->ls[r->n];
      labels_copy(l, &e->lsets[i]);
      for (size_t m = 0; m < q->selector_labels.n; m++)
        promql_labels_set(l, q->selector_labels.v[m].name,
                          q->selector_labels.v[m].value);
      int dup = 0;
      for (size_t j = 0; j < r->n && !dup; j++)
        dup = labels_equal(&r->ls[j], l);
      if (dup)
        labels_release(l);
      else
        r->n++;
    }
  }
  if (r->mint > r->maxt) {
    r->mint = 0;
    r->maxt = 0;
  }
  r->sets = xcalloc(r->n ? r->n : 1, sizeof(*r->sets));
  for (size_t i = 0; i < r->n; i++) {
    Thanos__ZLabelSet *z = xcalloc(1, sizeof(*z));
    thanos__zlabel_set__init(z);
    z->n_labels = r->ls[i].n;
    z->labels = xcalloc(z->n_labels ? z->n_labels : 1, sizeof(void *));
    for (size_t m = 0; m < z->n_labels; m++) {
      Thanos__Label *lb = xcalloc(1, sizeof(*lb));
      thanos__label__init(lb);
      lb->name = (char *)r->ls[i].v[m].name;
      lb->value = (char *)r->ls[i].v[m].value;
      z->labels[m] = lb;
    }
    r->sets[i] = z;
  }
}

static void info_sets_release(struct info_sets *r) {
  for (size_t i = 0; i < r->n; i++) {
    for (size_t m = 0; m < r->sets[i]->n_labels; m++)
      free(r->sets[i]->labels[m]);
    free(r->sets[i]->labels);
    free(r->sets[i]);
    labels_release(&r->ls[i]);
  }
  free(r->sets);
  free(r->ls);
}

static void h_info(struct grpc_call *c, const uint8_t *req, size_t len,
                   void *data) {
  (void)req;
  (void)len;
  struct info_sets is;
  info_sets_build(data, &is);
  Thanos__Info__InfoResponse r = THANOS__INFO__INFO_RESPONSE__INIT;
  Thanos__Info__StoreInfo si = THANOS__INFO__STORE_INFO__INIT;
  Thanos__Info__QueryAPIInfo qi = THANOS__INFO__QUERY_APIINFO__INIT;
  r.label_sets = is.sets;
  r.n_label_sets = is.n;
  r.componenttype = "query";
  si.min_time = is.mint;
  si.max_time = is.maxt;
  si.supports_without_replica_labels = 1;
  r.store = &si;
  r.query = &qi;
  grpc_call_reply(c, &r.base);
  info_sets_release(&is);
}

static void h_legacy_info(struct grpc_call *c, const uint8_t *req, size_t len,
                          void *data) {
  (void)req;
  (void)len;
  struct info_sets is;
  info_sets_build(data, &is);
  Thanos__InfoResponse r = THANOS__INFO_RESPONSE__INIT;
  r.label_sets = is.sets;
  r.n_label_sets = is.n;
  r.storetype = THANOS__STORE_TYPE__QUERY;
  r.min_time = is.mint;
  r.max_time = is.maxt;
  grpc_call_reply(c, &r.base);
  info_sets_release(&is);
}

/* One proxied call. */
struct proxy {
  struct querier_fan fan;
  struct grpc_call *call;
  void *req; /* unpacked request */
  struct matchers ms;
  struct qstrs wrl;
  int cancelled; /* the client went away while the fan-out ran */
  int sending;   /* fan-out done; streaming the merge */
  struct qmerge *m;
  struct qseries_set **sets;
};

static void proxy_free(struct proxy *p) {
  if (p->m)
    qmerge_free(p->m);
  free(p->sets);
  qfan_release(&p->fan);
  matchers_release(&p->ms);
  free(p->wrl.v);
  if (p->req)
    protobuf_c_message_free_unpacked(p->req, NULL);
  free(p);
}

static void send_warnings(struct grpc_call *c, struct querier_fan *f) {
  for (size_t i = 0; i < f->nwarnings; i++) {
    Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
    r.result_case = THANOS__SERIES_RESPONSE__RESULT_WARNING;
    r.warning = f->warnings[i];
    grpc_call_send(c, &r.base);
  }
}

/* Sends one merged series; < 0 when the call is gone. */
static int send_series(struct grpc_call *c, const struct qmerged *s) {
  Thanos__Series ser = THANOS__SERIES__INIT;
  Thanos__Label *lv = xcalloc(s->nlabels ? s->nlabels : 1, sizeof(*lv));
  Thanos__Label **lp = xcalloc(s->nlabels ? s->nlabels : 1, sizeof(*lp));
  for (size_t i = 0; i < s->nlabels; i++) {
    thanos__label__init(&lv[i]);
    lv[i].name = (char *)s->labels[i].name;
    lv[i].value = (char *)s->labels[i].value;
    lp[i] = &lv[i];
  }
  size_t nc = s->nchunks ? s->nchunks : 1;
  Thanos__AggrChunk *cv = xcalloc(nc, sizeof(*cv));
  Thanos__AggrChunk **cp = xcalloc(nc, sizeof(*cp));
  /* per chunk: raw, then the QAGGR_N aggregate parts */
  Thanos__Chunk *rv = xcalloc(nc * (1 + QAGGR_N), sizeof(*rv));
  for (size_t i = 0; i < s->nchunks; i++) {
    const struct qchunk *qc = &s->chunks[i];
    Thanos__Chunk *ch = &rv[i * (1 + QAGGR_N)];
    Thanos__Chunk **slot[1 + QAGGR_N] = {&cv[i].raw, &cv[i].count,
                                         &cv[i].sum, &cv[i].min,
                                         &cv[i].max, &cv[i].counter};
    thanos__aggr_chunk__init(&cv[i]);
    cv[i].min_time = qc->min_time;
    cv[i].max_time = qc->max_time;
    for (int k = 0; k < 1 + QAGGR_N; k++) {
      const uint8_t *d = k == 0 ? qc->data
                         : qc->aggr ? qc->aggr[k - 1].data
                                    : NULL;
      if (!d)
        continue;
      thanos__chunk__init(&ch[k]);
      ch[k].type = k == 0 ? qc->encoding : qc->aggr[k - 1].encoding;
      ch[k].data.data = (uint8_t *)d;
      ch[k].data.len = k == 0 ? qc->len : qc->aggr[k - 1].len;
      *slot[k] = &ch[k];
    }
    cp[i] = &cv[i];
  }
  ser.labels = lp;
  ser.n_labels = s->nlabels;
  ser.chunks = cp;
  ser.n_chunks = s->nchunks;
  Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
  r.result_case = THANOS__SERIES_RESPONSE__RESULT_SERIES;
  r.series = &ser;
  int rc = grpc_call_send(c, &r.base);
  free(lv);
  free(lp);
  free(cv);
  free(rv);
  free(cp);
  return rc;
}

/* Streams the merge under backpressure (also the on_writable callback). */
static void pump(struct grpc_call *c) {
  struct proxy *p = grpc_call_data(c);
  const struct qmerged *s;
  int rc;
  for (;;) {
    if (!grpc_call_writable(c)) {
      grpc_call_on_writable(c, pump);
      return;
    }
    if ((rc = qmerge_next(p->m, &s)) <= 0)
      break;
    if ((rc = send_series(c, s)) < 0)
      break;
  }
  if (rc < 0 && rc != TC_ECANCELED)
    grpc_call_finish(c, grpc_code_from_tc(rc), "%s", tc_errmsg(rc));
  else
    grpc_call_finish(c, rc < 0 ? GRPC_CANCELLED : GRPC_OK, NULL);
  proxy_free(p);
}

static void proxy_cancel(struct grpc_call *c) {
  struct proxy *p = grpc_call_data(c);
  if (!p->sending) {
    p->cancelled = 1; /* series_done ends the call */
    return;
  }
  grpc_call_finish(c, GRPC_CANCELLED, "context canceled");
  proxy_free(p);
}

static void series_done(struct querier_fan *f) {
  struct proxy *p = f->data;
  struct grpc_call *c = p->call;
  if (p->cancelled) {
    grpc_call_finish(c, GRPC_CANCELLED, "context canceled");
    proxy_free(p);
    return;
  }
  if (f->err) {
    grpc_call_finish(c, GRPC_UNAVAILABLE, "%s", f->errmsg);
    proxy_free(p);
    return;
  }
  send_warnings(c, f);
  p->sets = qfan_sets(f);
  p->m = qmerge_new(p->sets, f->nstreams, p->wrl.v, p->wrl.n);
  for (size_t i = 0; i < f->nstreams; i++)
    if (f->streams[i].stripped)
      qmerge_input_stripped(p->m, i);
  p->sending = 1;
  pump(c);
}

static int proxy_matchers(struct proxy *p, Thanos__LabelMatcher **v,
                          size_t n) {
  int rc = storepb_matchers_to(v, n, &p->ms);
  p->fan.ms = p->ms.v;
  p->fan.nms = p->ms.n;
  return rc;
}

static void h_series(struct grpc_call *c, const uint8_t *req, size_t len,
                     void *data) {
  struct querier *q = data;
  Thanos__SeriesRequest *r =
      grpc_call_unpack(c, &thanos__series_request__descriptor, req, len);
  if (!r)
    return;
  struct proxy *p = xcalloc(1, sizeof(*p));
  p->req = r;
  p->call = c;
  qfan_init(&p->fan, q, QFAN_SERIES);
  if (proxy_matchers(p, r->matchers, r->n_matchers) < 0) {
    grpc_call_finish(c, GRPC_INVALID_ARGUMENT, "%s", tc_errmsg(TC_EINVAL));
    proxy_free(p);
    return;
  }
  p->fan.mint = r->min_time;
  p->fan.maxt = r->max_time;
  p->fan.skip_chunks = r->skip_chunks;
  p->fan.partial_response =
      !r->partial_response_disabled &&
      r->partial_response_strategy != THANOS__PARTIAL_RESPONSE_STRATEGY__ABORT;
  p->fan.step_ms = r->step;
  p->fan.range_ms = r->range;
  p->fan.max_resolution_ms = r->max_resolution_window;
  int64_t left = grpc_call_time_left_ms(c);
  p->fan.timeout_ms = left == INT64_MAX ? 0 : left;
  if (r->n_without_replica_labels) {
    p->wrl.v = xcalloc(r->n_without_replica_labels, sizeof(char *));
    for (size_t i = 0; i < r->n_without_replica_labels; i++)
      p->wrl.v[i] = r->without_replica_labels[i];
    p->wrl.n = r->n_without_replica_labels;
    p->fan.without_replica = &p->wrl;
  }
  p->fan.on_done = series_done;
  p->fan.data = p;
  grpc_call_set_data(c, p);
  grpc_call_on_cancel(c, proxy_cancel);
  qfan_start(&p->fan);
}

static void strings_done(struct querier_fan *f) {
  struct proxy *p = f->data;
  struct grpc_call *c = p->call;
  if (f->err) {
    grpc_call_finish(c, GRPC_UNAVAILABLE, "%s", f->errmsg);
    proxy_free(p);
    return;
  }
  const char *const **lists = xcalloc(f->nstreams + 1, sizeof(*lists));
  size_t *lens = xcalloc(f->nstreams + 1, sizeof(*lens));
  for (size_t i = 0; i < f->nstreams; i++) {
    lists[i] = (const char *const *)f->streams[i].strs;
    lens[i] = f->streams[i].nstrs;
  }
  const char **out = NULL;
  size_t n = qmerge_strings(lists, lens, f->nstreams,
                            f->limit > 0 ? (size_t)f->limit : 0, &out);
  if (f->kind == QFAN_LABEL_NAMES) {
    Thanos__LabelNamesResponse r = THANOS__LABEL_NAMES_RESPONSE__INIT;
    r.names = (char **)out;
    r.n_names = n;
    r.warnings = f->warnings;
    r.n_warnings = f->nwarnings;
    grpc_call_reply(c, &r.base);
  } else {
    Thanos__LabelValuesResponse r = THANOS__LABEL_VALUES_RESPONSE__INIT;
    r.values = (char **)out;
    r.n_values = n;
    r.warnings = f->warnings;
    r.n_warnings = f->nwarnings;
    grpc_call_reply(c, &r.base);
  }
  free(out);
  free(lists);
  free(lens);
  proxy_free(p);
}

/* LabelNames and LabelValues requests share their fields but not types. */
struct strings_req {
  int64_t start, end, limit;
  int partial_disabled;
  Thanos__LabelMatcher **matchers;
  size_t n_matchers;
  const char *label;
};

static void strings_start(struct grpc_call *c, struct querier *q, void *msg,
                          enum qfan_kind kind, const struct strings_req *r) {
  struct proxy *p = xcalloc(1, sizeof(*p));
  p->req = msg;
  p->call = c;
  qfan_init(&p->fan, q, kind);
  if (proxy_matchers(p, r->matchers, r->n_matchers) < 0) {
    grpc_call_finish(c, GRPC_INVALID_ARGUMENT, "bad matchers");
    proxy_free(p);
    return;
  }
  p->fan.label_name = r->label;
  p->fan.mint = r->start;
  p->fan.maxt = r->end;
  p->fan.limit = r->limit;
  p->fan.partial_response = !r->partial_disabled;
  p->fan.on_done = strings_done;
  p->fan.data = p;
  qfan_start(&p->fan);
}

static void h_names(struct grpc_call *c, const uint8_t *req, size_t len,
                    void *data) {
  Thanos__LabelNamesRequest *r =
      grpc_call_unpack(c, &thanos__label_names_request__descriptor, req, len);
  if (!r)
    return;
  strings_start(c, data, r, QFAN_LABEL_NAMES,
                &(struct strings_req){r->start, r->end, r->limit,
                                      r->partial_response_disabled,
                                      r->matchers, r->n_matchers, NULL});
}

static void h_values(struct grpc_call *c, const uint8_t *req, size_t len,
                     void *data) {
  Thanos__LabelValuesRequest *r =
      grpc_call_unpack(c, &thanos__label_values_request__descriptor, req, len);
  if (!r)
    return;
  strings_start(c, data, r, QFAN_LABEL_VALUES,
                &(struct strings_req){r->start, r->end, r->limit,
                                      r->partial_response_disabled,
                                      r->matchers, r->n_matchers, r->label});
}

struct grpc_method *qstore_methods(struct querier *q) {
  const struct grpc_method t[] = {
      {"/thanos.info.Info/Info", GRPC_UNARY, h_info, q},
      {"/thanos.Store/Info", GRPC_UNARY, h_legacy_info, q},
      {"/thanos.Store/Series", GRPC_SERVER_STREAM, h_series, q},
      {"/thanos.Store/LabelNames", GRPC_UNARY, h_names, q},
      {"/thanos.Store/LabelValues", GRPC_UNARY, h_values, q},
      {0},
  };
  struct grpc_method *m = xcalloc(TC_ARRAY_SIZE(t), sizeof(*m));
  memcpy(m, t, sizeof t);
  return m;
}
