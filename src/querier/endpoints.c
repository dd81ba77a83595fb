/*
 * endpoints.c - the querier's endpoint set, as Thanos's pkg/query
 * endpointset: the addresses come from --endpoint / --endpoint-strict
 * (dns+ names resolved every --store.sd-dns-interval) and from the
 * --endpoint.sd-config(-file) file (re-read every
 * --endpoint.sd-config-reload-interval). Every 5 s each endpoint is asked
 * for its Info (thanos.info.Info/Info, falling back to the legacy
 * thanos.Store/Info when that is Unimplemented): external label sets, time
 * range, component type, without_replica_labels support. An endpoint whose
 * Info fails is not queried (unless strict) and disappears from
 * /api/v1/stores after --store.unhealthy-timeout. Everything here runs on
 * the loop thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include "info.pb-c.h"
#include "internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/flags.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/metrics.h"
#include "thanosc/storepb.h"

/* thanos_store_nodes_grpc_connections: healthy endpoints by external
 * label sets and component. Children cannot be removed, so the ones seen
 * before are set to 0 first. */
static struct metric *conns;
static struct metric_child **conn_seen;
static size_t nconn_seen;
static struct querier *conn_q; /* the live querier, NULL after its stop */

static void conns_collect(void *data) {
  (void)data;
  struct querier *q = conn_q;
  if (!q)
    return;
  for (size_t i = 0; i < nconn_seen; i++)
    metric_set(conn_seen[i], 0);
  for (struct qep *e = q->eps; e; e = e->next) {
    if (!e->healthy)
      continue;
    struct tc_buf b = TC_BUF_INIT;
    for (size_t i = 0; i < e->nlsets; i++) {
      if (i)
        tc_buf_addc(&b, ',');
      labels_format(&e->lsets[i], &b);
    }
    const char *comp = e->component ? e->component : "";
    struct metric_child *c = metric_with(conns, b.data ? b.data : "", comp);
    int known = 0;
    for (size_t i = 0; i < nconn_seen && !known; i++)
      known = conn_seen[i] == c;
    if (!known) {
      conn_seen = xrealloc(conn_seen, (nconn_seen + 1) * sizeof(*conn_seen));
      conn_seen[nconn_seen++] = c;
    }
    metric_add(c, 1);
    tc_buf_release(&b);
  }
}

static int64_t now_unix_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct qep *ep_find(struct querier *q, const char *addr) {
  for (struct qep *e = q->eps; e; e = e->next)
    if (strcmp(e->addr, addr) == 0)
      return e;
  return NULL;
}

static void ep_clear_info(struct qep *e) {
  for (size_t i = 0; i < e->nlsets; i++)
    labels_release(&e->lsets[i]);
  free(e->lsets);
  e->lsets = NULL;
  e->nlsets = 0;
  free(e->component);
  e->component = NULL;
}

static void ep_free(struct qep *e) {
  ep_clear_info(e);
  if (e->cl)
    grpc_client_free(e->cl);
  free(e->last_error);
  free(e->addr);
  free(e);
}

static void ep_add(struct querier *q, const char *addr, unsigned src,
                   int strict) {
  struct qep *e = ep_find(q, addr);
  if (e) {
    e->src |= src;
    e->strict |= strict;
    return;
  }
  e = xcalloc(1, sizeof(*e));
  e->addr = xstrdup(addr);
  e->src = src;
  e->strict = strict;
  e->mint = INT64_MIN;
  e->maxt = INT64_MAX;
  int rc = grpc_client_new(q->loop, addr, q->cfg.client, &e->cl);
  if (rc < 0) {
    LOG_WARN("cannot create client for endpoint", "address", addr, "err",
             tc_errmsg(rc));
    e->last_error = xstrdup(tc_errmsg(rc));
    e->cl = NULL;
  }
  e->next = q->eps;
  q->eps = e;
  LOG_INFO("adding new endpoint to query endpoint set", "address", addr);
}

/* Drops eps no longer named by any source (src bits cleared by callers). */
static void ep_prune(struct querier *q) {
  for (struct qep **pp = &q->eps; *pp;) {
    struct qep *e = *pp;
    if (e->src == 0) {
      LOG_INFO("removing endpoint because it's unhealthy or does not exist",
               "address", e->addr);
      *pp = e->next;
      ep_free(e);
    } else {
      pp = &e->next;
    }
  }
}

/* ------------------------------------------------------------ Info */

struct info_ctx {
  struct querier *q;
  char *addr;
  int legacy;
  int got;
  char *component;
  struct labels *lsets;
  size_t nlsets;
  int64_t mint, maxt;
  int has_store, wrl;
};

static void info_ctx_free(struct info_ctx *c) {
  for (size_t i = 0; i < c->nlsets; i++)
    labels_release(&c->lsets[i]);
  free(c->lsets);
  free(c->component);
  free(c->addr);
  free(c);
}

static void copy_lsets(struct info_ctx *c, size_t n,
                       Thanos__Label **(*get)(void *, size_t, size_t *),
                       void *msg) {
  c->lsets = xcalloc(n ? n : 1, sizeof(*c->lsets));
  c->nlsets = n;
  for (size_t i = 0; i < n; i++) {
    size_t nl = 0;
    Thanos__Label **ls = get(msg, i, &nl);
    labels_init(&c->lsets[i]);
    for (size_t j = 0; j < nl; j++)
      labels_add(&c->lsets[i], ls[j]->name, ls[j]->value);
    labels_sort(&c->lsets[i]);
  }
}

static Thanos__Label **zset_get(void *msg, size_t i, size_t *n) {
  Thanos__Info__InfoResponse *m = msg;
  *n = m->label_sets[i]->n_labels;
  return m->label_sets[i]->labels;
}

static Thanos__Label **lset_get(void *msg, size_t i, size_t *n) {
  Thanos__InfoResponse *m = msg;
  *n = m->label_sets[i]->n_labels;
  return m->label_sets[i]->labels;
}

static int info_msg(struct grpc_client_call *k, const uint8_t *p, size_t n,
                    void *data) {
  (void)k;
  struct info_ctx *c = data;
  if (c->got)
    return 0;
  if (!c->legacy) {
    Thanos__Info__InfoResponse *m =
        thanos__info__info_response__unpack(NULL, n, p);
    if (!m)
      return 1;
    c->component = xstrdup(m->componenttype);
    copy_lsets(c, m->n_label_sets, zset_get, m);
    if (m->store) {
      c->has_store = 1;
      c->mint = m->store->min_time;
      c->maxt = m->store->max_time;
      c->wrl = m->store->supports_without_replica_labels;
    }
    thanos__info__info_response__free_unpacked(m, NULL);
  } else {
    static const char *const types[] = {"", "query", "rule", "sidecar",
                                        "store", "receive", "debug"};
    Thanos__InfoResponse *m = thanos__info_response__unpack(NULL, n, p);
    if (!m)
      return 1;
    size_t t = (size_t)m->storetype;
    c->component = xstrdup(t < TC_ARRAY_SIZE(types) ? types[t] : "");
    copy_lsets(c, m->n_label_sets, lset_get, m);
    c->has_store = 1;
    c->mint = m->min_time;
    c->maxt = m->max_time;
    thanos__info_response__free_unpacked(m, NULL);
  }
  c->got = 1;
  return 0;
}

static void info_start(struct querier *q, struct qep *e, int legacy);

static int same_lsets(const struct labels *a, size_t na,
                      const struct labels *b, size_t nb) {
  if (na != nb)
    return 0;
  for (size_t i = 0; i < na; i++)
    if (!labels_equal(&a[i], &b[i]))
      return 0;
  return 1;
}

/* Thanos warns when two store endpoints announce the same external labels:
 * their data would be merged as if it were one source. */
static void warn_duplicates(struct querier *q, struct qep *e) {
  if (!e->nlsets || !e->component || strcmp(e->component, "query") == 0)
    return;
  for (struct qep *o = q->eps; o; o = o->next) {
    if (o == e || !o->healthy || !o->component ||
        strcmp(o->component, "query") == 0)
      continue;
    if (same_lsets(e->lsets, e->nlsets, o->lsets, o->nlsets)) {
      struct tc_buf b = TC_BUF_INIT;
      labels_format(&e->lsets[0], &b);
      LOG_WARN("found duplicate external label set among endpoints; their "
               "data will be merged as one source",
               "address", e->addr, "other", o->addr, "labelset",
               b.data ? b.data : "{}");
      tc_buf_release(&b);
      return;
    }
  }
}

static void info_done(struct grpc_client_call *k, int code, const char *msg,
                      void *data) {
  (void)k;
  struct info_ctx *c = data;
  struct querier *q = c->q;
  struct qep *e = q->stopping ? NULL : ep_find(q, c->addr);
  if (!e)
    goto out;
  if (code == GRPC_UNIMPLEMENTED && !c->legacy) {
    info_start(q, e, 1);
    goto out;
  }
  e->info_inflight = 0;
  e->last_check_ns = now_unix_ns();
  if (code == GRPC_OK && c->got) {
    int was_healthy = e->healthy;
    int changed = !same_lsets(e->lsets, e->nlsets, c->lsets, c->nlsets);
    ep_clear_info(e);
    e->lsets = c->lsets;
    e->nlsets = c->nlsets;
    c->lsets = NULL;
    c->nlsets = 0;
    e->component = c->component;
    c->component = NULL;
    e->mint = c->has_store ? c->mint : INT64_MAX;
    e->maxt = c->has_store ? c->maxt : INT64_MIN;
    e->supports_wrl = c->wrl;
    e->legacy = c->legacy;
    e->healthy = 1;
    e->have_info = 1;
    e->unhealthy_since_ms = 0;
    free(e->last_error);
    e->last_error = NULL;
    if (!was_healthy || changed)
      warn_duplicates(q, e);
  } else {
    if (e->healthy || !e->last_error)
      LOG_WARN("update of endpoint failed", "address", e->addr, "err",
               msg && *msg ? msg : grpc_code_name(code));
    e->healthy = 0;
    if (!e->unhealthy_since_ms)
      e->unhealthy_since_ms = uv_now(q->loop);
    free(e->last_error);
    struct tc_buf b = TC_BUF_INIT;
    tc_buf_addf(&b, "rpc error: code = %s desc = %s", grpc_code_name(code),
                msg ? msg : "");
    e->last_error = tc_buf_detach(&b, NULL);
  }
out:
  info_ctx_free(c);
}

static void info_start(struct querier *q, struct qep *e, int legacy) {
  if (!e->cl)
    return;
  struct info_ctx *c = xcalloc(1, sizeof(*c));
  c->q = q;
  c->addr = xstrdup(e->addr);
  c->legacy = legacy;
  int rc;
  if (!legacy) {
    Thanos__Info__InfoRequest req = THANOS__INFO__INFO_REQUEST__INIT;
    rc = grpc_client_call_startm(e->cl, "/thanos.info.Info/Info", &req.base,
                                 q->cfg.info_timeout_ms, info_msg, info_done,
                                 c, NULL);
  } else {
    Thanos__InfoRequest req = THANOS__INFO_REQUEST__INIT;
    rc = grpc_client_call_startm(e->cl, "/thanos.Store/Info", &req.base,
                                 q->cfg.info_timeout_ms, info_msg, info_done,
                                 c, NULL);
  }
  if (rc < 0) {
    info_ctx_free(c);
    return;
  }
  e->info_inflight = 1;
}

static void info_round(struct querier *q) {
  uint64_t now = uv_now(q->loop);
  for (struct qep **pp = &q->eps; *pp;) {
    struct qep *e = *pp;
    /* Dynamic endpoints unhealthy for longer than the timeout go away;
     * flag endpoints only leave the status page. */
    if (!e->healthy && e->unhealthy_since_ms && !(e->src & QEP_SRC_FLAG) &&
        q->cfg.unhealthy_timeout_ms > 0 &&
        now - e->unhealthy_since_ms > (uint64_t)q->cfg.unhealthy_timeout_ms &&
        !e->info_inflight) {
      *pp = e->next;
      LOG_INFO("removing endpoint because it's unhealthy or does not exist",
               "address", e->addr);
      ep_free(e);
      continue;
    }
    if (!e->info_inflight)
      info_start(q, e, e->legacy);
    pp = &e->next;
  }
}

static void info_tick(uv_timer_t *t) {
  info_round(t->data);
}

/* ------------------------------------------------------------ discovery */

/* A lookup in flight: on q->dns, and counted in q->open_handles so that
 * a stop waits for its callback (cancelled, if not yet started). */
struct dns_ctx {
  uv_getaddrinfo_t req;
  struct querier *q;
  size_t spec;
  char *port;
  struct dns_ctx *next;
};

static void spec_add(struct querier *q, const char *name, int strict,
                     unsigned src) {
  q->specs = xrealloc(q->specs, (q->nspecs + 1) * sizeof(*q->specs));
  struct qspec *s = &q->specs[q->nspecs++];
  s->strict = strict;
  s->src = src;
  if (strncmp(name, "dns+", 4) == 0) {
    s->kind = 1;
    name += 4;
  } else if (strncmp(name, "dnssrv+", 7) == 0) {
    s->kind = 2;
    name += 7;
  } else if (strncmp(name, "dnssrvnoa+", 10) == 0) {
    s->kind = 3;
    name += 10;
  } else {
    s->kind = 0;
  }
  s->name = xstrdup(name);
}

/* "ip:port" ("[ip6]:port") of a resolved address; -1 for other families. */
static int addr_format(const struct addrinfo *a, const char *port, char *out,
                       size_t n) {
  char ip[64];
  if (a->ai_family == AF_INET)
    uv_ip4_name((struct sockaddr_in *)a->ai_addr, ip, sizeof ip);
  else if (a->ai_family == AF_INET6)
    uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, ip, sizeof ip);
  else
    return -1;
  snprintf(out, n, a->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, port);
  return 0;
}

/* Adds (and starts asking) every address a dns+ name resolved to. Names
 * that stop resolving leave with --store.unhealthy-timeout. */
static void dns_done(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct dns_ctx *c = req->data;
  struct querier *q = c->q;
  if (!q->stopping && status == 0) {
    for (struct addrinfo *a = res; a; a = a->ai_next) {
      char addr[96];
      if (addr_format(a, c->port, addr, sizeof addr) < 0)
        continue;
      struct qep *e = ep_find(q, addr);
      int is_new = !e;
      ep_add(q, addr, QEP_SRC_DNS, q->specs[c->spec].strict);
      if (is_new)
        info_start(q, ep_find(q, addr), 0);
    }
  } else if (!q->stopping) {
    LOG_WARN("dns resolution failed", "addr", q->specs[c->spec].name, "err",
             uv_strerror(status));
  }
  if (res)
    uv_freeaddrinfo(res);
  struct dns_ctx **pp = &q->dns;
  while (*pp != c)
    pp = &(*pp)->next;
  *pp = c->next;
  free(c->port);
  free(c);
  querier_handle_gone(q);
}

/* ---- dnssrv+ / dnssrvnoa+: SRV records, looked up on the worker pool */

struct srv_job {
  struct tc_work work;
  struct querier *q;
  char *name;
  int noa, strict;
  struct strlist out; /* host:port */
};

static uint16_t be16(const unsigned char *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

/* Appends the A/AAAA addresses of host (or host itself with noa). */
static void srv_target(struct srv_job *j, const char *host, unsigned port) {
  char addr[300];
  if (j->noa) {
    snprintf(addr, sizeof addr, "%s:%u", host, port);
    strlist_push(&j->out, addr);
    return;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  if (getaddrinfo(host, NULL, &hints, &res) != 0)
    return;
  char ps[16];
  snprintf(ps, sizeof ps, "%u", port);
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    if (addr_format(a, ps, addr, sizeof addr) < 0)
      continue;
    int dup = 0;
    for (size_t i = 0; i < j->out.n && !dup; i++)
      dup = strcmp(j->out.v[i], addr) == 0;
    if (!dup)
      strlist_push(&j->out, addr);
  }
  freeaddrinfo(res);
}

static void srv_lookup(struct tc_work *w) {
  struct srv_job *j = w->data;
  unsigned char buf[8192];
  int n = res_search(j->name, C_IN, T_SRV, buf, sizeof buf);
  if (n < 12)
    return;
  const unsigned char *end = buf + n, *p = buf + 12;
  unsigned qd = be16(buf + 4), an = be16(buf + 6);
  for (unsigned i = 0; i < qd && p < end; i++) {
    int k = dn_skipname(p, end);
    if (k < 0)
      return;
    p += k + 4;
  }
  for (unsigned i = 0; i < an && p < end; i++) {
    int k = dn_skipname(p, end);
    if (k < 0 || p + k + 10 > end)
      return;
    p += k;
    unsigned type = be16(p), rdlen = be16(p + 8);
    p += 10;
    if (p + rdlen > end)
      return;
    if (type == T_SRV && rdlen > 6) {
      char host[256];
      if (dn_expand(buf, end, p + 6, host, sizeof host) >= 0)
        srv_target(j, host, be16(p + 4));
    }
    p += rdlen;
  }
}

static void srv_done(struct tc_work *w, int status) {
  (void)status;
  struct srv_job *j = w->data;
  struct querier *q = j->q;
  if (!q->stopping) {
    if (!j->out.n)
      LOG_WARN("dns SRV lookup found no endpoints", "addr", j->name);
    for (size_t i = 0; i < j->out.n; i++) {
      int is_new = !ep_find(q, j->out.v[i]);
      ep_add(q, j->out.v[i], QEP_SRC_DNS, j->strict);
      if (is_new)
        info_start(q, ep_find(q, j->out.v[i]), 0);
    }
  }
  strlist_release(&j->out);
  free(j->name);
  free(j);
}

static void dns_round(struct querier *q) {
  for (size_t i = 0; i < q->nspecs; i++) {
    struct qspec *s = &q->specs[i];
    if (s->kind == 0)
      continue;
    if (s->kind >= 2) {
      struct srv_job *j = xcalloc(1, sizeof(*j));
      j->q = q;
      j->name = xstrdup(s->name);
      j->noa = s->kind == 3;
      j->strict = s->strict;
      if (tc_work_submit(q->loop, &j->work, srv_lookup, srv_done, j) < 0) {
        free(j->name);
        free(j);
      }
      continue;
    }
    const char *colon = strrchr(s->name, ':');
    if (!colon) {
      LOG_WARN("dns+ address needs a port", "addr", s->name);
      continue;
    }
    struct dns_ctx *c = xcalloc(1, sizeof(*c));
    c->q = q;
    c->spec = i;
    c->port = xstrdup(colon + 1);
    char *host = xstrdup(s->name);
    host[colon - s->name] = '\0';
    c->req.data = c;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    if (uv_getaddrinfo(q->loop, &c->req, dns_done, host, NULL, &hints) < 0) {
      free(c->port);
      free(c);
    } else {
      c->next = q->dns;
      q->dns = c;
      q->open_handles++;
    }
    free(host);
  }
}

static void dns_tick(uv_timer_t *t) {
  dns_round(t->data);
}

/* The endpoint SD config: `endpoints:` with `- address: host:port` items
 * and optional `strict: true`. Also accepts bare `- host:port` items. */
static void sd_parse(struct querier *q, const char *text) {
  const char *p = text;
  int last = -1;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    char *line = xcalloc(1, n + 1);
    memcpy(line, p, n);
    char *s = line;
    while (*s == ' ' || *s == '\t')
      s++;
    char *hash = strchr(s, '#');
    if (hash)
      *hash = '\0';
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\r'))
      s[--len] = '\0';
    int item = 0;
    if (*s == '-') {
      item = 1;
      s++;
      while (*s == ' ')
        s++;
    }
    char *val = NULL;
    if (strncmp(s, "address:", 8) == 0) {
      val = s + 8;
    } else if (item && *s && !strchr(s, ' ') && strchr(s, ':') &&
               strncmp(s, "strict:", 7) != 0) {
      val = s;
    } else if (strncmp(s, "strict:", 7) == 0 && last >= 0) {
      if (strstr(s + 7, "true"))
        q->specs[last].strict = 1;
    }
    if (val) {
      while (*val == ' ')
        val++;
      size_t vl = strlen(val);
      if (vl >= 2 && (val[0] == '"' || val[0] == '\'')) {
        val[vl - 1] = '\0';
        val++;
      }
      if (*val) {
        spec_add(q, val, 0, QEP_SRC_FILE);
        last = (int)q->nspecs - 1;
      }
    }
    free(line);
    p = eol ? eol + 1 : p + n;
  }
}

/* Replaces the SD-file specs and reconciles the endpoints they name. */
static void sd_load(struct querier *q, const char *text) {
  for (size_t i = q->nflag_specs; i < q->nspecs; i++)
    free(q->specs[i].name);
  q->nspecs = q->nflag_specs;
  sd_parse(q, text);
  for (struct qep *e = q->eps; e; e = e->next)
    e->src &= ~(unsigned)QEP_SRC_FILE;
  for (size_t i = q->nflag_specs; i < q->nspecs; i++) {
    struct qspec *s = &q->specs[i];
    if (s->kind != 0)
      continue;
    int is_new = !ep_find(q, s->name);
    ep_add(q, s->name, QEP_SRC_FILE, s->strict);
    if (is_new)
      info_start(q, ep_find(q, s->name), 0);
  }
  ep_prune(q);
  dns_round(q);
}

static void sd_tick(uv_timer_t *t) {
  struct querier *q = t->data;
  if (!q->cfg.sd_file)
    return;
  char *text;
  int rc = tc_read_file(q->cfg.sd_file, 0, &text, NULL);
  if (rc) {
    LOG_WARN("cannot read endpoint SD config", "file", q->cfg.sd_file, "err",
             tc_errmsg(rc));
    return;
  }
  if (!q->sd_last || strcmp(q->sd_last, text) != 0) {
    LOG_INFO("endpoint SD config (re)loaded", "file", q->cfg.sd_file);
    free(q->sd_last);
    q->sd_last = text;
    sd_load(q, text);
  } else {
    free(text);
  }
}

static void timer_start(struct querier *q, uv_timer_t *t, uv_timer_cb cb,
                        int64_t every_ms) {
  uv_timer_init(q->loop, t);
  t->data = q;
  q->open_handles++;
  if (every_ms > 0)
    uv_timer_start(t, cb, (uint64_t)every_ms, (uint64_t)every_ms);
}

int qep_set_init(struct querier *q) {
  conns = metric_gauge("thanos_store_nodes_grpc_connections",
                       "Number of gRPC connection to Store APIs. Opened "
                       "connection means healthy store APIs available for "
                       "Querier.",
                       "external_labels,store_type");
  static int registered;
  if (!registered)
    metrics_add_collector(conns_collect, NULL);
  registered = 1;
  conn_q = q;
  for (size_t i = 0; i < q->cfg.nendpoints; i++)
    spec_add(q, q->cfg.endpoints[i], 0, QEP_SRC_FLAG);
  for (size_t i = 0; i < q->cfg.nstrict; i++)
    spec_add(q, q->cfg.strict[i], 1, QEP_SRC_FLAG);
  q->nflag_specs = q->nspecs;
  for (size_t i = 0; i < q->nspecs; i++) {
    struct qspec *s = &q->specs[i];
    if (s->kind == 0) {
      if (!strrchr(s->name, ':'))
        return tc_error(TC_EINVAL, "endpoint %s: address must be host:port",
                        s->name);
      ep_add(q, s->name, QEP_SRC_FLAG, s->strict);
    }
  }
  if (q->cfg.sd_inline)
    sd_load(q, q->cfg.sd_inline);
  timer_start(q, &q->info_timer, info_tick, q->cfg.info_interval_ms);
  timer_start(q, &q->dns_timer, dns_tick,
              q->cfg.dns_interval_ms > 0 ? q->cfg.dns_interval_ms : 30000);
  int64_t sd_every = q->cfg.sd_reload_ms > 0 ? q->cfg.sd_reload_ms : 300000;
  if (sd_every > 5000)
    sd_every = 5000; /* a changed file is noticed within 5 s */
  timer_start(q, &q->sd_timer, sd_tick, q->cfg.sd_file ? sd_every : 0);
  if (q->cfg.sd_file)
    sd_tick(&q->sd_timer);
  dns_round(q);
  info_round(q);
  return 0;
}

void qep_set_stop(struct querier *q) {
  if (conn_q == q)
    conn_q = NULL;
  uv_close((uv_handle_t *)&q->info_timer, querier_handle_closed);
  uv_close((uv_handle_t *)&q->dns_timer, querier_handle_closed);
  uv_close((uv_handle_t *)&q->sd_timer, querier_handle_closed);
  for (struct dns_ctx *c = q->dns; c; c = c->next)
    uv_cancel((uv_req_t *)&c->req);
  while (q->eps) {
    struct qep *e = q->eps;
    q->eps = e->next;
    ep_free(e);
  }
  for (size_t i = 0; i < q->nspecs; i++)
    free(q->specs[i].name);
  free(q->specs);
  q->specs = NULL;
  q->nspecs = 0;
  free(q->sd_last);
  q->sd_last = NULL;
}

const char *qep_component(const struct qep *e) {
  if (!e->have_info)
    return NULL;
  return e->component && *e->component ? e->component : NULL;
}

int qep_matches(const struct qep *e, int64_t mint, int64_t maxt,
                const struct matcher *ms, size_t nms,
                const struct matchers *store_ms, size_t nstore_ms) {
  if (!e->cl || (!e->healthy && !e->strict))
    return 0;
  if (e->have_info && (e->mint > maxt || e->maxt < mint))
    return 0;
  /* storeMatch[]: any of the selectors, matched on __address__ */
  if (nstore_ms) {
    int any = 0;
    for (size_t i = 0; i < nstore_ms && !any; i++) {
      int all = 1;
      for (size_t j = 0; j < store_ms[i].n && all; j++) {
        const struct matcher *m = &store_ms[i].v[j];
        if (strcmp(m->name, "__address__") == 0)
          all = matcher_matches_str(m, e->addr);
      }
      any = all;
    }
    if (!any)
      return 0;
  }
  /* external labels: some label set must not contradict the matchers */
  if (!e->nlsets)
    return 1;
  for (size_t i = 0; i < e->nlsets; i++) {
    int ok = 1;
    for (size_t j = 0; j < nms && ok; j++) {
      const char *v = labels_get(&e->lsets[i], ms[j].name);
      if (v)
        ok = matcher_matches_str(&ms[j], v);
    }
    if (ok)
      return 1;
  }
  return 0;
}
