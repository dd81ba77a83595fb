/*
 * api.c - the querier's Prometheus HTTP API v1 (shared/spec/http-api.md)
 * and Thanos's additions: query, query_range, series, labels, label
 * values, status/{buildinfo,flags,runtimeinfo}, metadata and stores.
 *
 * Parameters are parsed on the loop with the query engineer's parsers
 * (query_params.h); a bad request is answered there. The rest of a
 * request - fan-out waits, merge, PromQL evaluation, JSON encoding - runs
 * as a task on an evaluation thread, which posts the finished body back to
 * the loop for the response.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/fmttime.h"
#include "thanosc/http.h"
#include "thanosc/json.h"
#include "thanosc/log.h"
#include "thanosc/promql.h"
#include "thanosc/query_api.h"
#include "thanosc/query_queryable.h"

#define JSON_TYPE "application/json"

enum qjob_kind { QJ_INSTANT, QJ_RANGE, QJ_SERIES, QJ_LABELS, QJ_VALUES };

struct qjob {
  struct querier_task task;
  struct querier_post post;
  struct querier *q;
  struct http_req *req;
  enum qjob_kind kind;
  struct http_params hp;
  struct qparams p;
  struct query_defaults d;
  struct query_instant_req ir;
  struct query_range_req rr;
  struct query_meta_req mr;
  char *label_name;
  struct query_opts *o; /* &ir.o or &rr.o */
  struct matchers *store_ms;
  size_t nstore_ms;
  volatile int cancel;
  double queued_s; /* time waiting for an evaluation thread */
  uint64_t deadline_ns; /* uv_hrtime() of the request's timeout, or 0 */
  /* evaluation thread */
  char **warnings;
  size_t nwarnings;
  struct tc_buf body;
  int status;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void respond_error(struct http_req *req, enum api_error_type t,
                          const char *msg) {
  struct tc_buf b = TC_BUF_INIT;
  api_write_error(&b, t, msg);
  http_respond_buf(req, api_error_http_status(t, API_THANOS), JSON_TYPE, &b);
  tc_buf_release(&b);
}

static void job_free(struct qjob *j) {
  if (j->kind == QJ_INSTANT)
    query_opts_release(&j->ir.o);
  else if (j->kind == QJ_RANGE)
    query_opts_release(&j->rr.o);
  else
    query_meta_req_release(&j->mr);
  for (size_t i = 0; i < j->nstore_ms; i++)
    matchers_release(&j->store_ms[i]);
  free(j->store_ms);
  for (size_t i = 0; i < j->nwarnings; i++)
    free(j->warnings[i]);
  free(j->warnings);
  free(j->label_name);
  tc_buf_release(&j->body);
  http_params_release(&j->hp);
  free(j);
}

static void job_add_warnings(struct qjob *j, char **w, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int dup = 0;
    for (size_t k = 0; k < j->nwarnings && !dup; k++)
      dup = strcmp(j->warnings[k], w[i]) == 0;
    if (dup)
      continue;
    j->warnings = xrealloc(j->warnings, (j->nwarnings + 1) * sizeof(char *));
    j->warnings[j->nwarnings++] = xstrdup(w[i]);
  }
}

static void job_error(struct qjob *j, enum api_error_type t, const char *msg) {
  tc_buf_reset(&j->body);
  api_write_error(&j->body, t, msg);
  j->status = api_error_http_status(t, API_THANOS);
}

/* On the loop: the answer. */
static void job_respond(struct querier_post *p) {
  struct qjob *j = (struct qjob *)((char *)p - offsetof(struct qjob, post));
  http_respond_buf(j->req, j->status, JSON_TYPE, &j->body);
  job_free(j);
}

static void on_abort(struct http_req *req, void *data) {
  (void)req;
  struct qjob *j = data;
  j->cancel = 1;
}

/* --------------------------------------------------------------- fetch */

struct fetch {
  struct querier_fan fan;
  struct qseries_set **sets;
  unsigned char *stripped;
};

static void fetch_release(struct query_fetch *f) {
  struct fetch *x = f->data;
  free(x->sets);
  free(x->stripped);
  qfan_release(&x->fan);
  free(x);
}

static int64_t job_timeout_ms(struct qjob *j) {
  int64_t t = j->q->cfg.query_timeout_ms;
  if (j->o && j->o->timeout_ms > 0 && (t <= 0 || j->o->timeout_ms < t))
    t = j->o->timeout_ms;
  return t;
}

static void fan_from_job(struct querier_fan *f, struct qjob *j) {
  f->store_ms = j->store_ms;
  f->nstore_ms = j->nstore_ms;
  f->timeout_ms = job_timeout_ms(j);
  if (j->deadline_ns) { /* what is left of it, rounded up */
    uint64_t now = uv_hrtime();
    uint64_t left = j->deadline_ns > now ? j->deadline_ns - now : 0;
    f->timeout_ms = (int64_t)((left + 999999) / 1000000);
    if (f->timeout_ms < 1)
      f->timeout_ms = 1;
  }
}

static int job_fetch(void *ctx, const struct promql_select_hints *h,
                     const struct matcher *ms, size_t nms,
                     const struct qstrs *replica_labels,
                     struct query_fetch *out) {
  struct qjob *j = ctx;
  /* The request's deadline is the query's: past it a fetch is the
   * evaluation timing out, not a partial response. */
  if (j->deadline_ns && uv_hrtime() >= j->deadline_ns)
    return tc_error(TC_ETIMEOUT, "query timed out in expression evaluation");
  struct fetch *x = xcalloc(1, sizeof(*x));
  struct querier_fan *f = &x->fan;
  qfan_init(f, j->q, QFAN_SERIES);
  fan_from_job(f, j);
  f->mint = h->start_ms;
  f->maxt = h->end_ms;
  f->ms = ms;
  f->nms = nms;
  f->without_replica = replica_labels && replica_labels->n ? replica_labels
                                                           : NULL;
  f->partial_response = j->o->partial_response;
  f->step_ms = h->step_ms;
  f->range_ms = h->range_ms;
  f->func = h->func;
  f->max_resolution_ms = j->o->max_source_resolution_ms;
  qfan_run_wait(f);
  /* An endpoint's DeadlineExceeded near our deadline is that deadline
   * passing: the call's timer runs on loop time, a little behind ours. */
  uint64_t slack = f->deadline_hit ? 20 * 1000000 : 0;
  if (j->deadline_ns && uv_hrtime() + slack >= j->deadline_ns) {
    qfan_release(f);
    free(x);
    return tc_error(TC_ETIMEOUT, "query timed out in expression evaluation");
  }
  if (f->err) {
    int rc = tc_error(f->err, "%s", f->errmsg ? f->errmsg : "fetch failed");
    qfan_release(f);
    free(x);
    return rc;
  }
  job_add_warnings(j, f->warnings, f->nwarnings);
  x->sets = qfan_sets(f);
  x->stripped = qfan_stripped(f);
  out->sets = x->sets;
  out->nsets = f->nstreams;
  out->stripped = x->stripped;
  out->release = fetch_release;
  out->data = x;
  return 0;
}

/* ------------------------------------------------------------- queries */

static void run_query(struct qjob *j) {
  struct querier *q = j->q;
  struct query_queryable qq;
  query_queryable_init(&qq);
  qq.fetch = job_fetch;
  qq.fetch_ctx = j;
  qq.dedup = j->o->dedup;
  qq.algo = q->cfg.dedup_algo;
  qq.replica_labels = j->o->replica_labels;
  qq.raw_counters = q->cfg.raw_counters;
  struct promql_engine_opts eo;
  promql_engine_opts_default(&eo);
  if (q->cfg.lookback_ms > 0)
    eo.lookback_ms = q->cfg.lookback_ms;
  eo.max_samples = q->cfg.max_samples;
  eo.timeout_ms = job_timeout_ms(j);
  eo.experimental_functions = q->cfg.experimental_functions;
  struct promql_query pq = {0};
  if (j->kind == QJ_RANGE)
    pq = (struct promql_query){j->rr.query, j->rr.start_ms, j->rr.end_ms,
                               j->rr.step_ms, 0, &j->cancel};
  else
    pq = (struct promql_query){j->ir.query, j->ir.time_ms, j->ir.time_ms, 0, 0,
                               &j->cancel};
  pq.lookback_ms = j->o->lookback_delta_ms > 0
                      ? j->o->lookback_delta_ms
                      : query_lookback_delta(q->cfg.lookback_ms,
                                             q->cfg.dynamic_lookback,
                                             j->o->max_source_resolution_ms);
  if (j->o->timeout_ms < 0) {
    job_error(j, API_ERR_TIMEOUT, "query timed out in expression evaluation");
    return;
  }
  struct promql_result res = {0};
  char *err = NULL;
  uint64_t t0 = uv_hrtime();
  int rc = promql_exec(&eo, &qq.base, &pq, &res, &err);
  double took = (double)(uv_hrtime() - t0) / 1e9;
  if (rc < 0) {
    job_error(j, api_error_for_exec(rc, j->kind == QJ_RANGE),
              err ? err : tc_errmsg(rc));
    free(err);
    return;
  }
  struct api_query_stats st = {.eval_total = took,
                               .inner_eval = took,
                               .exec_total = took,
                               .exec_queue = j->queued_s};
  rc = api_write_query_result_stats(
      &j->body, &res, API_DATA_ANALYSIS, j->o->stats ? &st : NULL,
      (const char *const *)j->warnings, j->nwarnings, 0);
  promql_result_release(&res);
  if (rc < 0)
    job_error(j, API_ERR_INTERNAL, tc_errmsg(rc));
  else
    j->status = 200;
}

/* ------------------------------------------------------------- metadata */

/* One fan-out per match[] selector (or one without matchers). */
static int meta_fans(struct qjob *j, enum qfan_kind kind,
                     struct querier_fan **fans_out, size_t *nfans,
                     struct matchers **sel_out) {
  size_t n = j->mr.matchers.n ? j->mr.matchers.n : 1;
  struct querier_fan *fans = xcalloc(n, sizeof(*fans));
  struct matchers *sel = xcalloc(n, sizeof(*sel));
  int rc = 0;
  for (size_t i = 0; i < j->mr.matchers.n; i++) {
    if ((rc = query_selector_matchers(j->mr.matchers.v[i], &sel[i])) < 0)
      break;
  }
  for (size_t i = 0; i < n && rc == 0; i++) {
    struct querier_fan *f = &fans[i];
    qfan_init(f, j->q, kind);
    fan_from_job(f, j);
    f->mint = j->mr.start_ms;
    f->maxt = j->mr.end_ms;
    f->ms = sel[i].v;
    f->nms = sel[i].n;
    f->partial_response = j->mr.partial_response;
    f->skip_chunks = 1;
    f->label_name = j->label_name;
    f->limit = (int64_t)j->mr.limit;
    if (kind == QFAN_SERIES && j->mr.dedup && j->mr.replica_labels.n)
      f->without_replica = &j->mr.replica_labels;
    qfan_run_wait(f);
  }
  *fans_out = fans;
  *nfans = n;
  *sel_out = sel;
  return rc;
}

static void run_meta(struct qjob *j) {
  struct querier_fan *fans = NULL;
  struct matchers *sel = NULL;
  size_t nfans = 0;
  int rc = meta_fans(j, j->kind == QJ_SERIES   ? QFAN_SERIES
                        : j->kind == QJ_LABELS ? QFAN_LABEL_NAMES
                                               : QFAN_LABEL_VALUES,
                     &fans, &nfans, &sel);
  if (rc < 0) {
    job_error(j, API_ERR_BAD_DATA, tc_errmsg(rc));
    nfans = 0;
    goto out;
  }
  for (size_t i = 0; i < nfans; i++) {
    if (fans[i].err) {
      job_error(j, API_ERR_EXEC, fans[i].errmsg);
      goto out;
    }
    job_add_warnings(j, fans[i].warnings, fans[i].nwarnings);
  }
  struct jsonw w;
  tc_buf_reset(&j->body);
  jsonw_init(&w, &j->body);
  api_success_begin(&w);
  jsonw_key(&w, "data");
  int truncated = 0;
  if (j->kind == QJ_SERIES) {
    size_t nsets = 0;
    for (size_t i = 0; i < nfans; i++)
      nsets += fans[i].nstreams;
    struct qseries_set **sets = xcalloc(nsets ? nsets : 1, sizeof(*sets));
    size_t k = 0;
    for (size_t i = 0; i < nfans; i++) {
      struct qseries_set **s = qfan_sets(&fans[i]);
      for (size_t m = 0; m < fans[i].nstreams; m++)
        sets[k++] = s[m];
      free(s);
    }
    const char *const *rep = NULL;
    size_t nrep = 0;
    if (j->mr.dedup) {
      rep = j->mr.replica_labels.v;
      nrep = j->mr.replica_labels.n;
    }
    struct qmerge *m = qmerge_new(sets, nsets, rep, nrep);
    for (size_t i = 0, k2 = 0; i < nfans; i++)
      for (size_t n2 = 0; n2 < fans[i].nstreams; n2++, k2++)
        if (nrep && fans[i].streams[n2].stripped)
          qmerge_input_stripped(m, k2);
    const struct qmerged *s;
    size_t count = 0;
    jsonw_arr_begin(&w);
    while ((rc = qmerge_next(m, &s)) > 0) {
      if (j->mr.limit && count == j->mr.limit) {
        truncated = 1;
        break;
      }
      api_labels(&w, s->labels, s->nlabels);
      count++;
    }
    jsonw_arr_end(&w);
    qmerge_free(m);
    free(sets);
  } else {
    size_t nl = 0;
    for (size_t i = 0; i < nfans; i++)
      nl += fans[i].nstreams;
    const char *const **lists = xcalloc(nl ? nl : 1, sizeof(*lists));
    size_t *lens = xcalloc(nl ? nl : 1, sizeof(*lens));
    size_t k = 0;
    for (size_t i = 0; i < nfans; i++) {
      for (size_t m = 0; m < fans[i].nstreams; m++) {
        lists[k] = (const char *const *)fans[i].streams[m].strs;
        lens[k++] = fans[i].streams[m].nstrs;
      }
    }
    const char **out = NULL;
    size_t n = qmerge_strings(lists, lens, nl, 0, &out);
    if (j->mr.limit && n > j->mr.limit) {
      n = j->mr.limit;
      truncated = 1;
    }
    api_string_list(&w, out, n);
    free(out);
    free(lists);
    free(lens);
  }
  if (truncated) {
    char *t = "results truncated due to limit";
    job_add_warnings(j, &t, 1);
  }
  api_success_end(&w, (const char *const *)j->warnings, j->nwarnings, 0);
  if (jsonw_finish(&w) < 0)
    job_error(j, API_ERR_INTERNAL, "response too large");
  else
    j->status = 200;
out:
  for (size_t i = 0; i < nfans; i++)
    qfan_release(&fans[i]);
  size_t nsel = j->mr.matchers.n ? j->mr.matchers.n : 1;
  for (size_t i = 0; i < nsel; i++)
    matchers_release(&sel[i]);
  free(sel);
  free(fans);
}

static void job_run(struct querier_task *t) {
  struct qjob *j = (struct qjob *)t;
  j->queued_s = (double)(uv_hrtime() - t->queued_ns) / 1e9;
  if (j->kind == QJ_INSTANT || j->kind == QJ_RANGE)
    run_query(j);
  else
    run_meta(j);
  j->post.fn = job_respond;
  /* After the stop the HTTP server is gone: nobody to answer. */
  if (querier_post(j->q, &j->post) < 0)
    job_free(j);
}

/* ------------------------------------------------------------- handlers */

static struct qjob *job_new(struct querier *q, struct http_req *req,
                            enum qjob_kind kind) {
  struct qjob *j = xcalloc(1, sizeof(*j));
  j->q = q;
  j->req = req;
  j->kind = kind;
  j->d = q->cfg.defaults;
  j->d.now_ms = now_ms();
  j->d.check_selector = query_check_selector;
  tc_buf_init(&j->body, 0);
  return j;
}

static int parse_store_matchers(struct qjob *j, const struct qstrs *sm) {
  if (!sm->n)
    return 0;
  j->store_ms = xcalloc(sm->n, sizeof(*j->store_ms));
  j->nstore_ms = sm->n;
  for (size_t i = 0; i < sm->n; i++) {
    int rc = query_selector_matchers(sm->v[i], &j->store_ms[i]);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static void handle(struct http_req *req, void *data, enum qjob_kind kind) {
  struct querier *q = data;
  struct qjob *j = job_new(q, req, kind);
  int rc = http_req_params(req, &j->hp);
  if (rc < 0) {
    respond_error(req, API_ERR_BAD_DATA, tc_errmsg(rc));
    job_free(j);
    return;
  }
  j->p = (struct qparams){(const struct qparam *)j->hp.v, j->hp.n};
  const struct qstrs *sm = NULL;
  switch (kind) {
  case QJ_INSTANT:
    rc = query_parse_instant(&j->p, &j->d, &j->ir);
    j->o = &j->ir.o;
    break;
  case QJ_RANGE:
    rc = query_parse_range(&j->p, &j->d, &j->rr);
    j->o = &j->rr.o;
    break;
  case QJ_SERIES:
    rc = query_parse_series(&j->p, &j->d, &j->mr);
    break;
  case QJ_LABELS:
    rc = query_parse_labels(&j->p, &j->d, &j->mr);
    break;
  case QJ_VALUES: {
    const char *rest = http_req_rest(req);
    const char *slash = strchr(rest, '/');
    if (!slash || strcmp(slash, "/values") != 0) {
      http_respond_error(req, 404, "404 page not found");
      j->kind = QJ_INSTANT; /* nothing parsed: release nothing else */
      job_free(j);
      return;
    }
    j->label_name = xcalloc(1, (size_t)(slash - rest) + 1);
    memcpy(j->label_name, rest, (size_t)(slash - rest));
    rc = query_parse_label_values(&j->p, &j->d, j->label_name, &j->mr);
    break;
  }
  }
  if (rc < 0) {
    respond_error(req, API_ERR_BAD_DATA, tc_errmsg(rc));
    job_free(j);
    return;
  }
  sm = j->o ? &j->o->store_matchers : &j->mr.store_matchers;
  if ((rc = parse_store_matchers(j, sm)) < 0) {
    respond_error(req, API_ERR_BAD_DATA, tc_errmsg(rc));
    job_free(j);
    return;
  }
  int64_t tmo = job_timeout_ms(j);
  if (tmo > 0)
    j->deadline_ns = uv_hrtime() + (uint64_t)tmo * 1000000;
  http_req_on_abort(req, on_abort, j);
  j->task.run = job_run;
  querier_task_submit(q, &j->task);
}

static void h_query(struct http_req *r, void *d) {
  handle(r, d, QJ_INSTANT);
}
static void h_range(struct http_req *r, void *d) {
  handle(r, d, QJ_RANGE);
}
static void h_series(struct http_req *r, void *d) {
  handle(r, d, QJ_SERIES);
}
static void h_labels(struct http_req *r, void *d) {
  handle(r, d, QJ_LABELS);
}
static void h_values(struct http_req *r, void *d) {
  handle(r, d, QJ_VALUES);
}

static void respond_data(struct http_req *req, const char *data_json) {
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  api_success_begin(&w);
  if (data_json) {
    jsonw_key(&w, "data");
    jsonw_raw(&w, data_json, strlen(data_json));
  }
  api_success_end(&w, NULL, 0, 0);
  jsonw_finish(&w);
  http_respond_buf(req, 200, JSON_TYPE, &b);
  tc_buf_release(&b);
}

static void h_buildinfo(struct http_req *req, void *d) {
  (void)d;
  respond_data(req, "{\"version\":\"0.39.2\",\"revision\":\"thanosc\","
                    "\"branch\":\"main\",\"buildUser\":\"thanosc\","
                    "\"buildDate\":\"\",\"goVersion\":\"c11\"}");
}

static void h_flags(struct http_req *req, void *d) {
  struct querier *q = d;
  respond_data(req, q->cfg.flags_json ? q->cfg.flags_json : "{}");
}

static char start_time[FMTTIME_MAX];

static void h_runtimeinfo(struct http_req *req, void *d) {
  (void)d;
  char cwd[1024];
  if (!getcwd(cwd, sizeof cwd))
    cwd[0] = '\0';
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  jsonw_obj_begin(&w);
  jsonw_key(&w, "startTime");
  jsonw_cstr(&w, start_time);
  jsonw_key(&w, "CWD");
  jsonw_cstr(&w, cwd);
  jsonw_key(&w, "goroutineCount");
  jsonw_int(&w, 1);
  jsonw_key(&w, "GOMAXPROCS");
  jsonw_int(&w, sysconf(_SC_NPROCESSORS_ONLN));
  jsonw_key(&w, "GOGC");
  jsonw_cstr(&w, "");
  jsonw_key(&w, "GODEBUG");
  jsonw_cstr(&w, "");
  jsonw_obj_end(&w);
  jsonw_finish(&w);
  respond_data(req, b.data);
  tc_buf_release(&b);
}

static void h_metadata(struct http_req *req, void *d) {
  (void)d;
  respond_data(req, "{}");
}

/* APIs the querier federates from endpoint kinds it does not talk to yet
 * (rules, targets, exemplars): Prometheus's empty shapes. */
static void h_empty_list(struct http_req *req, void *d) {
  (void)d;
  respond_data(req, "[]");
}

static void h_rules(struct http_req *req, void *d) {
  (void)d;
  respond_data(req, "{\"groups\":[]}");
}

static void h_alerts(struct http_req *req, void *d) {
  (void)d;
  respond_data(req, "{\"alerts\":[]}");
}

static void h_targets(struct http_req *req, void *d) {
  (void)d;
  respond_data(req, "{\"activeTargets\":[],\"droppedTargets\":[]}");
}

static void h_stores(struct http_req *req, void *d) {
  struct querier *q = d;
  size_t n = 0;
  for (struct qep *e = q->eps; e; e = e->next)
    n++;
  struct api_store_status *st = xcalloc(n ? n : 1, sizeof(*st));
  const struct label **sets = NULL;
  size_t *lens = NULL;
  size_t nsets = 0;
  for (struct qep *e = q->eps; e; e = e->next)
    nsets += e->nlsets;
  sets = xcalloc(nsets ? nsets : 1, sizeof(*sets));
  lens = xcalloc(nsets ? nsets : 1, sizeof(*lens));
  size_t i = 0, k = 0;
  for (struct qep *e = q->eps; e; e = e->next, i++) {
    st[i].component = qep_component(e);
    st[i].name = e->addr;
    st[i].last_check_ns = e->last_check_ns;
    st[i].last_error = e->last_error;
    st[i].label_sets = sets + k;
    st[i].label_set_lens = lens + k;
    st[i].nsets = e->nlsets;
    for (size_t m = 0; m < e->nlsets; m++, k++) {
      sets[k] = e->lsets[m].v;
      lens[k] = e->lsets[m].n;
    }
    st[i].min_time = e->mint;
    st[i].max_time = e->maxt;
  }
  struct tc_buf b = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &b);
  api_success_begin(&w);
  jsonw_key(&w, "data");
  api_stores(&w, st, n);
  api_success_end(&w, NULL, 0, 0);
  jsonw_finish(&w);
  http_respond_buf(req, 200, JSON_TYPE, &b);
  tc_buf_release(&b);
  free(st);
  free(sets);
  free(lens);
}

int qapi_routes(struct querier *q, struct http_server *srv) {
  static const struct {
    const char *path;
    unsigned methods, flags;
    const char *name;
    http_handler_fn *fn;
  } routes[] = {
      {"/api/v1/query", HTTP_M_GET | HTTP_M_POST, 0, "query", h_query},
      {"/api/v1/query_range", HTTP_M_GET | HTTP_M_POST, 0, "query_range",
       h_range},
      {"/api/v1/series", HTTP_M_GET | HTTP_M_POST, 0, "series", h_series},
      {"/api/v1/labels", HTTP_M_GET | HTTP_M_POST, 0, "label_names",
       h_labels},
      {"/api/v1/label/", HTTP_M_GET, HTTP_ROUTE_PREFIX, "label_values",
       h_values},
      {"/api/v1/status/buildinfo", HTTP_M_GET, 0, "status_build",
       h_buildinfo},
      {"/api/v1/status/flags", HTTP_M_GET, 0, "status_flags", h_flags},
      {"/api/v1/status/runtimeinfo", HTTP_M_GET, 0, "status_runtime",
       h_runtimeinfo},
      {"/api/v1/metadata", HTTP_M_GET, 0, "metadata", h_metadata},
      {"/api/v1/stores", HTTP_M_GET, 0, "stores", h_stores},
      {"/api/v1/rules", HTTP_M_GET, 0, "rules", h_rules},
      {"/api/v1/alerts", HTTP_M_GET, 0, "alerts", h_alerts},
      {"/api/v1/targets", HTTP_M_GET, 0, "targets", h_targets},
      {"/api/v1/query_exemplars", HTTP_M_GET | HTTP_M_POST, 0, "exemplars",
       h_empty_list},
  };
  if (!start_time[0])
    fmttime_rfc3339nano(start_time, now_ms() * 1000000);
  const char *prefix = q->cfg.route_prefix ? q->cfg.route_prefix : "";
  size_t plen = strlen(prefix);
  while (plen && prefix[plen - 1] == '/')
    plen--;
  for (size_t i = 0; i < TC_ARRAY_SIZE(routes); i++) {
    struct tc_buf path = TC_BUF_INIT;
    tc_buf_add(&path, prefix, plen);
    tc_buf_adds(&path, routes[i].path);
    int rc = http_server_route(
        srv, &(struct http_route){.methods = routes[i].methods,
                                  .path = path.data,
                                  .flags = routes[i].flags | HTTP_ROUTE_GZIP,
                                  .name = routes[i].name,
                                  .fn = routes[i].fn,
                                  .data = q});
    tc_buf_release(&path);
    if (rc < 0)
      return rc;
  }
  return 0;
}
