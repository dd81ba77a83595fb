/*
 * fanout.c - one request to every matching endpoint, as Thanos's proxy
 * store (pkg/store/proxy.go) sends it: the endpoints whose time range and
 * external labels fit the request (and storeMatch[]), called concurrently
 * over their multiplexed gRPC connections, each answer buffered into a
 * qseries set (Series) or a string list (LabelNames/LabelValues).
 *
 * A failed endpoint, one that stays silent longer than
 * --store.response-timeout, and warnings sent in a stream are partial
 * response: a warning when the request allows it, the request's error
 * otherwise.
 *
 * The calls run on the loop. Evaluation threads use qfan_run_wait(), which
 * posts the fan-out to the loop and sleeps until every call has ended;
 * loop code uses qfan_start() with an on_done callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/query_select.h"
#include "thanosc/storepb.h"

void qfan_init(struct querier_fan *f, struct querier *q, enum qfan_kind kind) {
  memset(f, 0, sizeof(*f));
  f->q = q;
  f->kind = kind;
  f->mint = INT64_MIN;
  f->maxt = INT64_MAX;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
}

static void add_warning(struct querier_fan *f, const char *msg) {
  for (size_t i = 0; i < f->nwarnings; i++)
    if (strcmp(f->warnings[i], msg) == 0)
      return;
  f->warnings = xrealloc(f->warnings, (f->nwarnings + 1) * sizeof(char *));
  f->warnings[f->nwarnings++] = xstrdup(msg);
}

/* A problem with one endpoint: a warning or the error of the request. */
static void partial(struct querier_fan *f, struct qfan_stream *s, int code,
                    const char *msg) {
  struct tc_buf b = TC_BUF_INIT;
  const char *what = f->kind == QFAN_SERIES        ? "fetch series"
                     : f->kind == QFAN_LABEL_NAMES ? "fetch label names"
                                                   : "fetch label values";
  tc_buf_addf(&b, "%s for %s %s: %s", what, s->lsets_str ? s->lsets_str : "[]",
              s->addr, msg);
  if (f->partial_response) {
    add_warning(f, b.data);
  } else if (!f->err) {
    f->err = code;
    f->errmsg = tc_buf_detach(&b, NULL);
  }
  tc_buf_release(&b);
}

static void keep_msg(struct qfan_stream *s, void *m) {
  if (s->nmsgs == s->msgcap) {
    s->msgcap = s->msgcap ? s->msgcap * 2 : 16;
    s->msgs = xrealloc(s->msgs, s->msgcap * sizeof(void *));
  }
  s->msgs[s->nmsgs++] = m;
}

static void set_part(struct qchunk_part *p, const Thanos__Chunk *c) {
  if (c) {
    p->encoding = (int)c->type;
    p->data = c->data.data ? c->data.data : (const uint8_t *)"";
    p->len = c->data.len;
  }
}

static void add_series(struct qfan_stream *s, Thanos__Series *m) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->series = xrealloc(s->series, s->cap * sizeof(*s->series));
  }
  struct label *ls = xcalloc(m->n_labels ? m->n_labels : 1, sizeof(*ls));
  for (size_t i = 0; i < m->n_labels; i++) {
    ls[i].name = m->labels[i]->name;
    ls[i].value = m->labels[i]->value;
  }
  /* one allocation: the chunks, then QAGGR_N parts per downsampled one */
  size_t nagg = 0;
  for (size_t i = 0; i < m->n_chunks; i++) {
    Thanos__AggrChunk *a = m->chunks[i];
    nagg += a->count || a->sum || a->min || a->max || a->counter;
  }
  size_t n = m->n_chunks ? m->n_chunks : 1;
  struct qchunk *cs =
      xcalloc(1, n * sizeof(*cs) + nagg * QAGGR_N * sizeof(struct qchunk_part));
  struct qchunk_part *parts = (struct qchunk_part *)(cs + n);
  for (size_t i = 0; i < m->n_chunks; i++) {
    Thanos__AggrChunk *a = m->chunks[i];
    struct qchunk *c = &cs[i];
    c->min_time = a->min_time;
    c->max_time = a->max_time;
    if (a->raw) {
      c->encoding = (int)a->raw->type;
      c->data = a->raw->data.data ? a->raw->data.data : (const uint8_t *)"";
      c->len = a->raw->data.len;
    }
    if (a->count || a->sum || a->min || a->max || a->counter) {
      set_part(&parts[QAGGR_COUNT], a->count);
      set_part(&parts[QAGGR_SUM], a->sum);
      set_part(&parts[QAGGR_MIN], a->min);
      set_part(&parts[QAGGR_MAX], a->max);
      set_part(&parts[QAGGR_COUNTER], a->counter);
      c->aggr = parts;
      parts += QAGGR_N;
    }
  }
  s->series[s->n++] = (struct qseries){ls, m->n_labels, cs, m->n_chunks};
}

static void add_strs(struct qfan_stream *s, char **v, size_t n) {
  if (s->nstrs + n > s->strcap) {
    s->strcap = s->nstrs + n + 16;
    s->strs = xrealloc(s->strs, s->strcap * sizeof(char *));
  }
  for (size_t i = 0; i < n; i++)
    s->strs[s->nstrs++] = v[i];
}

static void rearm(struct qfan_stream *s);

static int on_msg(struct grpc_client_call *k, const uint8_t *p, size_t n,
                  void *data) {
  (void)k;
  struct qfan_stream *s = data;
  struct querier_fan *f = s->fan;
  rearm(s);
  if (f->kind == QFAN_SERIES) {
    Thanos__SeriesResponse *m = thanos__series_response__unpack(NULL, n, p);
    if (!m)
      return 1;
    if (m->result_case == THANOS__SERIES_RESPONSE__RESULT_SERIES) {
      add_series(s, m->series);
      keep_msg(s, m);
      return 0;
    }
    if (m->result_case == THANOS__SERIES_RESPONSE__RESULT_WARNING)
      partial(f, s, TC_EUNAVAIL, m->warning);
    thanos__series_response__free_unpacked(m, NULL);
  } else if (f->kind == QFAN_LABEL_NAMES) {
    Thanos__LabelNamesResponse *m =
        thanos__label_names_response__unpack(NULL, n, p);
    if (!m)
      return 1;
    for (size_t i = 0; i < m->n_warnings; i++)
      partial(f, s, TC_EUNAVAIL, m->warnings[i]);
    add_strs(s, m->names, m->n_names);
    keep_msg(s, m);
  } else {
    Thanos__LabelValuesResponse *m =
        thanos__label_values_response__unpack(NULL, n, p);
    if (!m)
      return 1;
    for (size_t i = 0; i < m->n_warnings; i++)
      partial(f, s, TC_EUNAVAIL, m->warnings[i]);
    add_strs(s, m->values, m->n_values);
    keep_msg(s, m);
  }
  return 0;
}

static void fan_finish(struct querier_fan *f) {
  if (f->on_done) {
    f->on_done(f);
    return;
  }
  pthread_mutex_lock(&f->mu);
  f->finished = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static void timer_closed(uv_handle_t *h) {
  free(h);
}

static void stream_end(struct qfan_stream *s) {
  s->done = 1;
  s->call = NULL;
  if (s->timer) {
    uv_close((uv_handle_t *)s->timer, timer_closed);
    s->timer = NULL;
  }
  struct querier_fan *f = s->fan;
  if (--f->pending == 0)
    fan_finish(f);
}

static void on_done(struct grpc_client_call *k, int code, const char *msg,
                    void *data) {
  (void)k;
  struct qfan_stream *s = data;
  struct querier_fan *f = s->fan;
  if (code != GRPC_OK) {
    char text[1024];
    if (s->timer && code == GRPC_CANCELLED && s->timer->data == NULL)
      snprintf(text, sizeof text,
               "rpc error: code = DeadlineExceeded desc = no data received "
               "within the response timeout");
    else
      snprintf(text, sizeof text, "rpc error: code = %s desc = %s",
               grpc_code_name(code), msg ? msg : "");
    if (code == GRPC_DEADLINE_EXCEEDED)
      f->deadline_hit = 1;
    partial(f, s, code == GRPC_DEADLINE_EXCEEDED ? TC_ETIMEOUT : TC_EUNAVAIL,
            text);
  }
  stream_end(s);
}

static void silent(uv_timer_t *t) {
  struct qfan_stream *s = t->data;
  t->data = NULL; /* marks the cancellation as a response timeout */
  if (s->call)
    grpc_client_call_cancel(s->call);
}

static void rearm(struct qfan_stream *s) {
  if (s->timer && s->timer->data)
    uv_timer_again(s->timer);
}

static char *lsets_string(const struct qep *e) {
  struct tc_buf b = TC_BUF_INIT;
  tc_buf_addc(&b, '[');
  for (size_t i = 0; i < e->nlsets; i++) {
    if (i)
      tc_buf_adds(&b, " ");
    labels_format(&e->lsets[i], &b);
  }
  tc_buf_addc(&b, ']');
  return tc_buf_detach(&b, NULL);
}

static int start_call(struct querier_fan *f, struct qfan_stream *s,
                      struct grpc_client *cl, int wrl) {
  struct matchers ms = {(struct matcher *)f->ms, f->nms, f->nms};
  Thanos__LabelMatcher **pm = NULL;
  size_t npm = 0;
  storepb_matchers_from(&ms, &pm, &npm);
  int strategy = f->partial_response ? THANOS__PARTIAL_RESPONSE_STRATEGY__WARN
                                     : THANOS__PARTIAL_RESPONSE_STRATEGY__ABORT;
  char **wrl_v = NULL;
  size_t wrl_n = 0;
  if (f->without_replica && wrl) {
    wrl_v = (char **)f->without_replica->v;
    wrl_n = f->without_replica->n;
    s->stripped = f->kind == QFAN_SERIES;
  }
  int rc;
  if (f->kind == QFAN_SERIES) {
    Thanos__SeriesRequest r = THANOS__SERIES_REQUEST__INIT;
    r.min_time = f->mint;
    r.max_time = f->maxt;
    r.matchers = pm;
    r.n_matchers = npm;
    r.max_resolution_window = f->max_resolution_ms;
    int ag[2];
    Thanos__Aggr aggrs[2];
    r.n_aggregates = qselect_aggrs_from_func(f->func, ag);
    for (size_t i = 0; i < r.n_aggregates; i++)
      aggrs[i] = (Thanos__Aggr)ag[i];
    r.aggregates = aggrs;
    r.partial_response_disabled = !f->partial_response;
    r.partial_response_strategy = strategy;
    r.skip_chunks = f->skip_chunks;
    r.step = f->step_ms;
    r.range = f->range_ms;
    r.without_replica_labels = wrl_v;
    r.n_without_replica_labels = wrl_n;
    /* Thanos's storeHintsFromPromHints: step, function, range */
    Thanos__QueryHints qh = THANOS__QUERY_HINTS__INIT;
    Thanos__Func fn = THANOS__FUNC__INIT;
    Thanos__Grouping gr = THANOS__GROUPING__INIT;
    Thanos__Range rg = THANOS__RANGE__INIT;
    fn.name = (char *)(f->func ? f->func : "");
    rg.millis = f->range_ms;
    qh.step_millis = f->step_ms;
    qh.func = &fn;
    qh.grouping = &gr;
    qh.range = &rg;
    if (!f->skip_chunks)
      r.query_hints = &qh;
    rc = grpc_client_call_startm(cl, "/thanos.Store/Series", &r.base,
                                 f->timeout_ms, on_msg, on_done, s, &s->call);
  } else if (f->kind == QFAN_LABEL_NAMES) {
    Thanos__LabelNamesRequest r = THANOS__LABEL_NAMES_REQUEST__INIT;
    r.partial_response_disabled = !f->partial_response;
    r.partial_response_strategy = strategy;
    r.start = f->mint;
    r.end = f->maxt;
    r.matchers = pm;
    r.n_matchers = npm;
    r.limit = f->limit;
    rc = grpc_client_call_startm(cl, "/thanos.Store/LabelNames", &r.base,
                                 f->timeout_ms, on_msg, on_done, s, &s->call);
  } else {
    /* same fields as LabelNamesRequest plus the label */
    Thanos__LabelValuesRequest r = THANOS__LABEL_VALUES_REQUEST__INIT;
    r.label = (char *)f->label_name;
    r.partial_response_disabled = !f->partial_response;
    r.partial_response_strategy = strategy;
    r.start = f->mint;
    r.end = f->maxt;
    r.matchers = pm;
    r.n_matchers = npm;
    r.limit = f->limit;
    rc = grpc_client_call_startm(cl, "/thanos.Store/LabelValues", &r.base,
                                 f->timeout_ms, on_msg, on_done, s, &s->call);
  }
  storepb_matchers_free(pm, npm);
  return rc;
}

void qfan_start(struct querier_fan *f) {
  struct querier *q = f->q;
  size_t n = 0;
  for (struct qep *e = q->eps; e; e = e->next)
    n++;
  f->streams = xcalloc(n ? n : 1, sizeof(*f->streams));
  f->pending = 1; /* held until every call is started */
  if (!q->stopping) {
    for (struct qep *e = q->eps; e; e = e->next) {
      if (!qep_matches(e, f->mint, f->maxt, f->ms, f->nms, f->store_ms,
                       f->nstore_ms))
        continue;
      /* the querier's own API asks only endpoints with a StoreAPI */
      if (e->have_info && e->mint > e->maxt)
        continue;
      struct qfan_stream *s = &f->streams[f->nstreams++];
      s->fan = f;
      s->addr = xstrdup(e->addr);
      s->lsets_str = lsets_string(e);
      if (q->cfg.response_timeout_ms > 0) {
        s->timer = xcalloc(1, sizeof(*s->timer));
        uv_timer_init(q->loop, s->timer);
        s->timer->data = s;
        uv_timer_start(s->timer, silent, (uint64_t)q->cfg.response_timeout_ms,
                       (uint64_t)q->cfg.response_timeout_ms);
      }
      f->pending++;
      int rc = start_call(f, s, e->cl, e->supports_wrl);
      if (rc < 0) {
        partial(f, s, TC_EUNAVAIL, tc_errmsg(rc));
        stream_end(s);
      }
    }
  } else if (!f->err) {
    f->err = TC_ECANCELED;
    f->errmsg = xstrdup("querier is shutting down");
  }
  if (--f->pending == 0)
    fan_finish(f);
}

static void post_start(struct querier_post *p) {
  qfan_start((struct querier_fan *)p);
}

void qfan_run_wait(struct querier_fan *f) {
  f->on_done = NULL;
  f->post.fn = post_start;
  if (querier_post(f->q, &f->post) < 0) {
    f->err = TC_ECANCELED;
    f->errmsg = xstrdup("querier is shutting down");
    return;
  }
  pthread_mutex_lock(&f->mu);
  while (!f->finished)
    pthread_cond_wait(&f->cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
}

struct qseries_set **qfan_sets(struct querier_fan *f) {
  struct qseries_set **v = xcalloc(f->nstreams ? f->nstreams : 1, sizeof(*v));
  for (size_t i = 0; i < f->nstreams; i++) {
    struct qfan_stream *s = &f->streams[i];
    qseries_array_set_init(&s->set, s->series, s->n);
    v[i] = &s->set.base;
  }
  return v;
}

unsigned char *qfan_stripped(struct querier_fan *f) {
  unsigned char *v = xcalloc(f->nstreams ? f->nstreams : 1, 1);
  for (size_t i = 0; i < f->nstreams; i++)
    v[i] = f->streams[i].stripped;
  return v;
}

void qfan_release(struct querier_fan *f) {
  for (size_t i = 0; i < f->nstreams; i++) {
    struct qfan_stream *s = &f->streams[i];
    for (size_t j = 0; j < s->n; j++) {
      free((void *)s->series[j].labels);
      free((void *)s->series[j].chunks);
    }
    free(s->series);
    for (size_t j = 0; j < s->nmsgs; j++)
      protobuf_c_message_free_unpacked(s->msgs[j], NULL);
    free(s->msgs);
    free(s->strs);
    free(s->addr);
    free(s->lsets_str);
  }
  free(f->streams);
  for (size_t i = 0; i < f->nwarnings; i++)
    free(f->warnings[i]);
  free(f->warnings);
  free(f->errmsg);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  memset(f, 0, sizeof(*f));
}
