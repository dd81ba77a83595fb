/*
 * store.c - the sidecar's StoreAPI on top of Prometheus (sidecar.h).
 *
 * Series: matchers on external labels are answered here (a mismatch is an
 * empty answer, a match drops the matcher); the rest goes to Prometheus by
 * remote read on a worker thread. The worker turns each series Prometheus
 * streams into a SeriesResponse (external labels added, winning on a name
 * clash, minus without_replica_labels) framed as gRPC sends it, into a
 * batch; batches go to the loop, woken by a uv_async, which hands them to
 * gRPC as they are (grpc_call_send_framed: no copy) while the call is
 * writable, and returns the emptied buffers to the worker. The worker
 * waits when the queue holds more than QUEUE_HWM bytes, so a slow client
 * slows the read from Prometheus instead of filling memory. Streamed frames
 * are rewritten at the wire level (frame_series), SAMPLES answers through
 * protobuf-c. Sharded requests keep the series whose final labels hash
 * into the shard (Thanos's ShardMatcher). skip_chunks requests use
 * /api/v1/series instead, LabelNames and LabelValues the label APIs; Info
 * reports the external labels and the lowest timestamp.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "info.pb-c.h"
#include "storepb_rpc.pb-c.h"
#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/loop.h"
#include "thanosc/sidecar.h"
#include "thanosc/tsdb/chunkenc.h"

#define QUEUE_HWM (4u << 20)
#define BATCH_MIN (128u << 10) /* fewer, larger hand-overs to the loop */
#define BATCH_MAX (512u << 10)

/* ---------------------------------------------------------- shared state */

void sidecar_init(struct sidecar *sc, const char *url) {
  memset(sc, 0, sizeof *sc);
  size_t n = strlen(url);
  while (n && url[n - 1] == '/')
    n--;
  sc->prom_url = xstrndup(url, n);
  sc->prom_timeout_ms = 30000;
  sc->flag_min_time = INT64_MIN;
  sc->min_time = INT64_MIN;
  pthread_mutex_init(&sc->mu, NULL);
  labels_init(&sc->ext);
}

void sidecar_release(struct sidecar *sc) {
  labels_release(&sc->ext);
  pthread_mutex_destroy(&sc->mu);
  free(sc->prom_url);
}

int sidecar_ext_labels(struct sidecar *sc, struct labels *out) {
  pthread_mutex_lock(&sc->mu);
  int have = sc->have_labels;
  if (have)
    labels_copy(out, &sc->ext);
  else
    labels_init(out);
  pthread_mutex_unlock(&sc->mu);
  if (!have)
    return tc_error(TC_EUNAVAIL, "Prometheus has not answered yet: external "
                                 "labels unknown");
  return 0;
}

int64_t sidecar_min_time(struct sidecar *sc) {
  pthread_mutex_lock(&sc->mu);
  int64_t t = sc->min_time;
  pthread_mutex_unlock(&sc->mu);
  return t;
}

void sidecar_update(struct sidecar *sc, struct labels *ls, int64_t lowest_ms) {
  pthread_mutex_lock(&sc->mu);
  labels_release(&sc->ext);
  sc->ext = *ls;
  labels_init(ls);
  sc->have_labels = 1;
  sc->min_time = TC_MAX(sc->flag_min_time, lowest_ms);
  pthread_mutex_unlock(&sc->mu);
}

int sidecar_match_external(const struct labels *ext,
                           Thanos__LabelMatcher *const *ms, size_t n,
                           struct prom_matcher *out, size_t *nout) {
  *nout = 0;
  int match = 1;
  for (size_t i = 0; i < n; i++) {
    const char *v = labels_get(ext, ms[i]->name);
    if (!v) {
      out[(*nout)++] = (struct prom_matcher){(int)ms[i]->type, ms[i]->name,
                                              ms[i]->value};
      continue;
    }
    struct matcher m;
    if ((unsigned)ms[i]->type > 3)
      return tc_error(TC_EINVAL, "unknown matcher type %d",
                      (int)ms[i]->type);
    int rc = matcher_init(&m, (enum matcher_type)ms[i]->type, ms[i]->name,
                          ms[i]->value);
    if (rc)
      return tc_error(TC_EINVAL, "bad matcher %s: %s", ms[i]->name,
                      tc_errmsg(rc));
    if (!matcher_matches_str(&m, v))
      match = 0;
    matcher_release(&m);
  }
  return match;
}

/* Checks the non-external matchers can compile (clear errors early). */
static int check_matchers(const struct prom_matcher *ms, size_t n) {
  for (size_t i = 0; i < n; i++) {
    struct matcher m;
    if ((unsigned)ms[i].type > 3)
      return tc_error(TC_EINVAL, "unknown matcher type %d", ms[i].type);
    int rc = matcher_init(&m, (enum matcher_type)ms[i].type, ms[i].name,
                          ms[i].value);
    if (rc)
      return tc_error(TC_EINVAL, "bad matcher %s: %s", ms[i].name,
                      tc_errmsg(rc));
    matcher_release(&m);
  }
  return 0;
}

/* The external labels minus those named in without (the final set). */
static void ext_without(struct labels *ext, char **without, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < ext->n; i++) {
    int drop = 0;
    for (size_t j = 0; j < n && !drop; j++)
      drop = !strcmp(ext->v[i].name, without[j]);
    if (drop) {
      free((char *)ext->v[i].name);
      free((char *)ext->v[i].value);
    } else {
      ext->v[k++] = ext->v[i];
    }
  }
  ext->n = k;
}

/* ------------------------------------------------------------- Series */

/* A label and a chunk of a streamed frame, pointing into the frame. */
struct raw_label {
  const uint8_t *raw; /* the whole Label message */
  size_t rawn;
  const char *name, *value;
  size_t namen, valuen;
};

struct raw_chunk {
  int64_t mint, maxt;
  uint64_t type;
  const uint8_t *data;
  size_t n;
};

/* Framed SeriesResponses handed from the worker to the loop. */
struct batch {
  struct batch *next;
  struct tc_buf b;
};

struct series_job {
  struct sidecar *sc;
  struct grpc_call *call;
  struct tc_work work;
  uv_async_t async;
  /* request, owned */
  Thanos__SeriesRequest *req;
  struct prom_matcher *ms;
  size_t nms;
  struct labels ext; /* final external labels */
  char **drop;       /* without_replica_labels that are external labels */
  size_t ndrop;
  int64_t mint, maxt;
  /* worker state */
  int64_t nseries, nchunks;
  int64_t chunk_limit;
  Prometheus__Label **prev; /* labels of the previous frame (for counting) */
  size_t nprev;
  struct tc_buf scratch;  /* batch being built (framed messages) */
  struct raw_label *rl;   /* frame decoding scratch */
  size_t rlcap;
  struct raw_chunk *rch;
  size_t rchcap;
  struct tc_buf labkey, prevkey; /* raw label bytes of this/last frame */
  struct tc_buf shardbuf; /* hashed labels of a sharded request */
  int rc;
  char *errmsg;
  /* shared queue */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct batch *q, *qtail; /* for the loop to send */
  size_t qbytes;
  struct batch *empty; /* sent, memory for the worker to reuse */
  atomic_int cancelled;
  /* loop side */
  int work_done, finished;
  /* for the debug log */
  uint64_t start_ns, read_ns, waits;
  uint64_t frames, bytes;
  int streamed;
};

static void job_closed(uv_handle_t *h) {
  struct series_job *j = h->data;
  thanos__series_request__free_unpacked(j->req, NULL);
  free(j->ms);
  free(j->drop);
  labels_release(&j->ext);
  tc_buf_release(&j->scratch);
  tc_buf_release(&j->labkey);
  tc_buf_release(&j->shardbuf);
  tc_buf_release(&j->prevkey);
  free(j->rl);
  free(j->rch);
  for (int i = 0; i < 2; i++) {
    struct batch *bt = i ? j->empty : j->q;
    while (bt) {
      struct batch *next = bt->next;
      tc_buf_release(&bt->b);
      free(bt);
      bt = next;
    }
  }
  free(j->errmsg);
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j);
}

/*
 * Worker: hands the batch in scratch to the loop once it holds BATCH_MIN
 * bytes when the loop is idle (empty queue), else once it holds BATCH_MAX,
 * waiting while the queue holds more than QUEUE_HWM. The memory moves
 * (scratch takes that of a sent batch), it is not copied. final hands over
 * whatever is there.
 */
static int flush_batch(struct series_job *j, int final) {
  if (!j->scratch.len || (!final && j->scratch.len < BATCH_MIN))
    return 0;
  pthread_mutex_lock(&j->mu);
  if (j->q && !final && j->scratch.len < BATCH_MAX) {
    pthread_mutex_unlock(&j->mu);
    return 0;
  }
  while (j->qbytes > QUEUE_HWM && !atomic_load(&j->cancelled)) {
    j->waits++;
    pthread_cond_wait(&j->cv, &j->mu);
  }
  if (atomic_load(&j->cancelled)) {
    pthread_mutex_unlock(&j->mu);
    return tc_error(TC_ECANCELED, "context canceled");
  }
  struct batch *bt = j->empty;
  if (bt)
    j->empty = bt->next;
  else
    bt = xcalloc(1, sizeof *bt);
  struct tc_buf t = bt->b;
  bt->b = j->scratch;
  j->scratch = t;
  tc_buf_reset(&j->scratch);
  bt->next = NULL;
  int wake = !j->q;
  if (j->qtail)
    j->qtail->next = bt;
  else
    j->q = bt;
  j->qtail = bt;
  j->qbytes += bt->b.len;
  pthread_mutex_unlock(&j->mu);
  if (wake)
    uv_async_send(&j->async);
  return 0;
}

/* Worker: room for a message of n bytes in the batch, after its gRPC
 * prefix (flag 0, big-endian length); returns where the message goes. */
static uint8_t *batch_msg(struct series_job *j, size_t n) {
  if (!j->scratch.cap) /* sized once, not grown by copies */
    tc_buf_reserve(&j->scratch, BATCH_MAX + (64u << 10));
  tc_buf_reserve(&j->scratch, 5 + n);
  uint8_t *h = (uint8_t *)j->scratch.data + j->scratch.len;
  h[0] = 0;
  h[1] = (uint8_t)(n >> 24), h[2] = (uint8_t)(n >> 16);
  h[3] = (uint8_t)(n >> 8), h[4] = (uint8_t)n;
  j->scratch.len += 5;
  return h + 5;
}

/* Worker: queues one packed message. */
static int queue_msg(struct series_job *j, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  protobuf_c_message_pack(m, batch_msg(j, n));
  j->scratch.len += n;
  return flush_batch(j, 0);
}

static int dropped(const struct series_job *j, const char *name) {
  for (size_t i = 0; i < j->ndrop; i++)
    if (!strcmp(j->drop[i], name))
      return 1;
  return 0;
}

/* Series labels merged with the external ones (external win), sorted,
 * without the replica labels the request names. */
static Thanos__Label *merge_labels(struct series_job *j,
                                   Prometheus__Label *const *sl, size_t sn,
                                   size_t *nout) {
  Thanos__Label *out = xcalloc(sn + j->ext.n + 1, sizeof *out);
  size_t a = 0, b = 0, k = 0;
  while (a < sn || b < j->ext.n) {
    int c = a >= sn        ? 1
            : b >= j->ext.n ? -1
                            : strcmp(sl[a]->name, j->ext.v[b].name);
    if (c < 0 && dropped(j, sl[a]->name)) {
      a++; /* Prometheus added the external label itself */
      continue;
    }
    thanos__label__init(&out[k]);
    if (c < 0) {
      out[k].name = sl[a]->name, out[k].value = sl[a]->value, a++;
    } else {
      out[k].name = (char *)j->ext.v[b].name;
      out[k].value = (char *)j->ext.v[b].value;
      b++;
      if (c == 0)
        a++;
    }
    k++;
  }
  *nout = k;
  return out;
}

static int same_labels(Prometheus__Label **a, size_t na,
                       Prometheus__Label *const *b, size_t nb) {
  if (na != nb)
    return 0;
  for (size_t i = 0; i < na; i++)
    if (strcmp(a[i]->name, b[i]->name) || strcmp(a[i]->value, b[i]->value))
      return 0;
  return 1;
}

static void free_prev(struct series_job *j) {
  for (size_t i = 0; i < j->nprev; i++) {
    free(j->prev[i]->name);
    free(j->prev[i]->value);
    free(j->prev[i]);
  }
  free(j->prev);
  j->prev = NULL;
  j->nprev = 0;
}

static void keep_prev(struct series_job *j, Prometheus__Label *const *l,
                      size_t n) {
  free_prev(j);
  j->prev = xcalloc(n ? n : 1, sizeof *j->prev);
  for (size_t i = 0; i < n; i++) {
    j->prev[i] = xcalloc(1, sizeof **j->prev);
    j->prev[i]->name = xstrdup(l[i]->name);
    j->prev[i]->value = xstrdup(l[i]->value);
  }
  j->nprev = n;
}

static int sharded(const struct series_job *j);
static int labels_in_shard(struct series_job *j, const Thanos__Label *lv,
                           size_t n);

/* Worker: one series (or one frame of a long one) from Prometheus. */
static int on_series(void *data, const Prometheus__ChunkedSeries *s) {
  struct series_job *j = data;
  if (atomic_load(&j->cancelled) || grpc_call_cancelled(j->call))
    return tc_error(TC_ECANCELED, "context canceled");
  if (sharded(j)) {
    size_t n0;
    Thanos__Label *l0 = merge_labels(j, s->labels, s->n_labels, &n0);
    int in = labels_in_shard(j, l0, n0);
    free(l0);
    if (!in)
      return 0;
  }
  if (!same_labels(j->prev, j->nprev, s->labels, s->n_labels)) {
    j->nseries++;
    if (j->sc->limit_series && j->nseries > j->sc->limit_series)
      return tc_error(TC_ELIMIT, "exceeded series limit: limit %" PRId64
                                 " violated (got %" PRId64 ")",
                      j->sc->limit_series, j->nseries);
    keep_prev(j, s->labels, s->n_labels);
  }
  j->nchunks += (int64_t)s->n_chunks;
  if (j->chunk_limit && j->nchunks > j->chunk_limit)
    return tc_error(TC_ELIMIT, "exceeded chunks limit: limit %" PRId64
                               " violated (got %" PRId64 ")",
                    j->chunk_limit, j->nchunks);
  size_t nl;
  Thanos__Label *lv = merge_labels(j, s->labels, s->n_labels, &nl);
  Thanos__Label **lp = xcalloc(nl ? nl : 1, sizeof *lp);
  for (size_t i = 0; i < nl; i++)
    lp[i] = &lv[i];
  size_t nc = s->n_chunks;
  Thanos__AggrChunk *ac = xcalloc(nc ? nc : 1, sizeof *ac);
  Thanos__AggrChunk **acp = xcalloc(nc ? nc : 1, sizeof *acp);
  Thanos__Chunk *raw = xcalloc(nc ? nc : 1, sizeof *raw);
  int rc = 0;
  for (size_t i = 0; i < nc; i++) {
    const Prometheus__Chunk *c = s->chunks[i];
    if (c->type < 1 || c->type > 3) {
      rc = tc_error(TC_ENOTSUP, "remote read: chunk encoding %d is not "
                                "supported", (int)c->type);
      goto out;
    }
    thanos__chunk__init(&raw[i]);
    raw[i].type = (Thanos__Chunk__Encoding)(c->type - 1);
    raw[i].data = c->data;
    thanos__aggr_chunk__init(&ac[i]);
    ac[i].min_time = c->min_time_ms;
    ac[i].max_time = c->max_time_ms;
    ac[i].raw = &raw[i];
    acp[i] = &ac[i];
  }
  Thanos__Series ser = THANOS__SERIES__INIT;
  ser.n_labels = nl, ser.labels = lp;
  ser.n_chunks = nc, ser.chunks = acp;
  Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
  r.result_case = THANOS__SERIES_RESPONSE__RESULT_SERIES;
  r.series = &ser;
  rc = queue_msg(j, &r.base);
out:
  free(raw);
  free(acp);
  free(ac);
  free(lp);
  free(lv);
  return rc;
}

/* Worker: a label set of /api/v1/series (skip_chunks). */
static int on_series_labels(void *data, const struct labels *ls) {
  struct series_job *j = data;
  if (atomic_load(&j->cancelled) || grpc_call_cancelled(j->call))
    return tc_error(TC_ECANCELED, "context canceled");
  Prometheus__Label *pv = xcalloc(ls->n ? ls->n : 1, sizeof *pv);
  Prometheus__Label **pp = xcalloc(ls->n ? ls->n : 1, sizeof *pp);
  for (size_t i = 0; i < ls->n; i++) {
    prometheus__label__init(&pv[i]);
    pv[i].name = (char *)ls->v[i].name;
    pv[i].value = (char *)ls->v[i].value;
    pp[i] = &pv[i];
  }
  size_t nl;
  Thanos__Label *lv = merge_labels(j, pp, ls->n, &nl);
  int rc = 0;
  if (sharded(j) && !labels_in_shard(j, lv, nl))
    goto out;
  j->nseries++;
  if (j->sc->limit_series && j->nseries > j->sc->limit_series) {
    rc = tc_error(TC_ELIMIT, "exceeded series limit: limit %" PRId64
                             " violated (got %" PRId64 ")",
                  j->sc->limit_series, j->nseries);
    goto out;
  }
  Thanos__Label **lp = xcalloc(nl ? nl : 1, sizeof *lp);
  for (size_t i = 0; i < nl; i++)
    lp[i] = &lv[i];
  Thanos__Series ser = THANOS__SERIES__INIT;
  ser.n_labels = nl, ser.labels = lp;
  Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
  r.result_case = THANOS__SERIES_RESPONSE__RESULT_SERIES;
  r.series = &ser;
  rc = queue_msg(j, &r.base);
  free(lp);
out:
  free(lv);
  free(pp);
  free(pv);
  return rc;
}

/* Wire decoding of one field: tag, then the value or the bytes. */
static int pb_field(struct decbuf *d, unsigned *field, unsigned *wt,
                    uint64_t *v, const uint8_t **b, size_t *n) {
  uint64_t tag = decbuf_uvarint(d);
  *field = (unsigned)(tag >> 3), *wt = (unsigned)(tag & 7);
  switch (*wt) {
  case 0: *v = decbuf_uvarint(d); break;
  case 1: decbuf_skip(d, 8); break;
  case 2:
    *n = (size_t)decbuf_uvarint(d);
    *b = decbuf_bytes(d, *n);
    break;
  case 5: decbuf_skip(d, 4); break;
  default: d->err = TC_ECORRUPT;
  }
  return d->err ? tc_error(TC_EPARSE, "remote read: bad protobuf in a "
                                      "frame") : 0;
}

static int name_cmp(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b);
  int c = memcmp(a, b, TC_MIN(an, bn));
  return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

static int dropped_n(const struct series_job *j, const char *name, size_t n) {
  for (size_t i = 0; i < j->ndrop; i++)
    if (!name_cmp(name, n, j->drop[i]))
      return 1;
  return 0;
}

static size_t uvs(uint64_t v) { return (size_t)tc_uvarint_size(v); }

static size_t encode_uvarint(uint8_t *o, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    o[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  o[n++] = (uint8_t)v;
  return n;
}

/* Worker: one streamed frame (a ChunkedReadResponse). */
static int frame_series(struct series_job *j, const uint8_t *p, size_t n);

static int on_frame(void *data, const uint8_t *msg, size_t n) {
  struct series_job *j = data;
  if (atomic_load(&j->cancelled) || grpc_call_cancelled(j->call))
    return tc_error(TC_ECANCELED, "context canceled");
  struct decbuf d = decbuf_make(msg, n);
  unsigned f, wt;
  uint64_t v;
  const uint8_t *b = NULL;
  size_t bn = 0;
  int rc;
  while (decbuf_len(&d) > 0) {
    if ((rc = pb_field(&d, &f, &wt, &v, &b, &bn)))
      return rc;
    if (f == 1 && wt == 2 && (rc = frame_series(j, b, bn)))
      return rc;
  }
  return flush_batch(j, 0);
}

/* Size of an ext label as a Label message (without its tag and length). */
static size_t ext_label_size(const struct label *l) {
  size_t a = strlen(l->name), b = strlen(l->value);
  return (a ? 1 + uvs(a) + a : 0) + (b ? 1 + uvs(b) + b : 0);
}

/*
 * Sharding as Thanos's ShardMatcher: XXH64 over name\xff value\xff of the
 * final labels that are (by) or are not (without) among the shard labels;
 * the series belongs to shard hash % total_shards.
 */
static void shard_add(struct series_job *j, const char *name, size_t nn,
                      const char *value, size_t vn) {
  const Thanos__ShardInfo *si = j->req->shard_info;
  int in = 0;
  for (size_t i = 0; i < si->n_labels && !in; i++)
    in = !name_cmp(name, nn, si->labels[i]);
  if (in != si->by)
    return;
  tc_buf_add(&j->shardbuf, name, nn);
  tc_buf_addc(&j->shardbuf, (char)0xff);
  tc_buf_add(&j->shardbuf, value, vn);
  tc_buf_addc(&j->shardbuf, (char)0xff);
}

static int shard_ok(struct series_job *j) {
  const Thanos__ShardInfo *si = j->req->shard_info;
  uint64_t h = XXH64(j->shardbuf.data ? j->shardbuf.data : "",
                     j->shardbuf.len, 0);
  j->shardbuf.len = 0;
  return h % (uint64_t)si->total_shards == (uint64_t)si->shard_index;
}

static int sharded(const struct series_job *j) {
  return j->req->shard_info && j->req->shard_info->total_shards >= 1;
}

/*
 * Walks the labels of a frame (rl[0..nl)) merged with the external ones,
 * which win on a name clash, skipping the replica labels dropped by the
 * request: each step sets either *sl (a series label) or *el (an external
 * one) and returns 1; 0 at the end.
 */
struct merge_it {
  size_t a, e;
};

static int merge_next(const struct series_job *j, size_t nl,
                      struct merge_it *it, const struct raw_label **sl,
                      const struct label **el) {
  *sl = NULL, *el = NULL;
  while (it->a < nl || it->e < j->ext.n) {
    int c = it->a >= nl         ? 1
            : it->e >= j->ext.n ? -1
                                : name_cmp(j->rl[it->a].name,
                                           j->rl[it->a].namen,
                                           j->ext.v[it->e].name);
    if (c < 0) {
      const struct raw_label *l = &j->rl[it->a++];
      if (dropped_n(j, l->name, l->namen))
        continue; /* Prometheus added the external label itself */
      *sl = l;
      return 1;
    }
    if (c == 0)
      it->a++;
    *el = &j->ext.v[it->e++];
    return 1;
  }
  return 0;
}

/* Whether the frame's merged labels fall into the requested shard. */
static int frame_in_shard(struct series_job *j, size_t nl) {
  struct merge_it it = {0};
  const struct raw_label *sl;
  const struct label *el;
  while (merge_next(j, nl, &it, &sl, &el)) {
    if (sl)
      shard_add(j, sl->name, sl->namen, sl->value, sl->valuen);
    else
      shard_add(j, el->name, strlen(el->name), el->value, strlen(el->value));
  }
  return shard_ok(j);
}

/* Same for labels already merged. */
static int labels_in_shard(struct series_job *j, const Thanos__Label *lv,
                           size_t n) {
  for (size_t i = 0; i < n; i++)
    shard_add(j, lv[i].name, strlen(lv[i].name), lv[i].value,
              strlen(lv[i].value));
  return shard_ok(j);
}

/*
 * One ChunkedSeries (p, n) straight into a SeriesResponse in the batch,
 * without decoding it into structs: Label messages are the same on both
 * sides and are copied as they are, external labels merged in by name
 * (they win), each Chunk rewrapped as AggrChunk{min, max, raw: Chunk{type
 * - 1, data}}.
 */
static int frame_series(struct series_job *j, const uint8_t *p, size_t n) {
  struct decbuf d = decbuf_make(p, n);
  size_t nl = 0, nc = 0;
  unsigned f, wt;
  uint64_t v = 0;
  const uint8_t *b = NULL;
  size_t bn = 0;
  int rc;
  tc_buf_reset(&j->labkey);
  while (decbuf_len(&d) > 0) {
    if ((rc = pb_field(&d, &f, &wt, &v, &b, &bn)))
      return rc;
    if (f == 1 && wt == 2) {
      TC_GROW(j->rl, j->rlcap, nl + 1);
      struct raw_label *l = &j->rl[nl++];
      *l = (struct raw_label){.raw = b, .rawn = bn, .name = "", .value = ""};
      struct decbuf ld = decbuf_make(b, bn);
      unsigned lf, lwt;
      uint64_t lv;
      const uint8_t *lb = NULL;
      size_t lbn = 0;
      while (decbuf_len(&ld) > 0) {
        if ((rc = pb_field(&ld, &lf, &lwt, &lv, &lb, &lbn)))
          return rc;
        if (lf == 1 && lwt == 2)
          l->name = (const char *)lb, l->namen = lbn;
        else if (lf == 2 && lwt == 2)
          l->value = (const char *)lb, l->valuen = lbn;
      }
      tc_buf_put_uvarint(&j->labkey, bn);
      tc_buf_add(&j->labkey, b, bn);
    } else if (f == 2 && wt == 2) {
      TC_GROW(j->rch, j->rchcap, nc + 1);
      struct raw_chunk *c = &j->rch[nc++];
      *c = (struct raw_chunk){0};
      struct decbuf cd = decbuf_make(b, bn);
      unsigned cf, cwt;
      uint64_t cv = 0;
      const uint8_t *cb = NULL;
      size_t cbn = 0;
      while (decbuf_len(&cd) > 0) {
        if ((rc = pb_field(&cd, &cf, &cwt, &cv, &cb, &cbn)))
          return rc;
        if (cf == 1 && cwt == 0)
          c->mint = (int64_t)cv;
        else if (cf == 2 && cwt == 0)
          c->maxt = (int64_t)cv;
        else if (cf == 3 && cwt == 0)
          c->type = cv;
        else if (cf == 4 && cwt == 2)
          c->data = cb, c->n = cbn;
      }
      if (c->type < 1 || c->type > 3)
        return tc_error(TC_ENOTSUP, "remote read: chunk encoding %d is not "
                                    "supported", (int)c->type);
    }
  }
  if (sharded(j) && !frame_in_shard(j, nl))
    return 0;
  /* Limits: a series split over frames repeats its labels. */
  if (j->labkey.len != j->prevkey.len ||
      memcmp(j->labkey.data, j->prevkey.data, j->labkey.len)) {
    j->nseries++;
    if (j->sc->limit_series && j->nseries > j->sc->limit_series)
      return tc_error(TC_ELIMIT, "exceeded series limit: limit %" PRId64
                                 " violated (got %" PRId64 ")",
                      j->sc->limit_series, j->nseries);
    struct tc_buf t = j->prevkey;
    j->prevkey = j->labkey;
    j->labkey = t;
  }
  j->nchunks += (int64_t)nc;
  if (j->chunk_limit && j->nchunks > j->chunk_limit)
    return tc_error(TC_ELIMIT, "exceeded chunks limit: limit %" PRId64
                               " violated (got %" PRId64 ")",
                    j->chunk_limit, j->nchunks);

  /* Pass 1: sizes. Pass 2: bytes. */
  size_t series = 0;
  for (int pass = 0; pass < 2; pass++) {
    size_t body = 0;
    uint8_t *o = NULL;
    if (pass) {
      o = batch_msg(j, 1 + uvs(series) + series);
      *o++ = 0x0a;
      o += encode_uvarint(o, series);
    }
    struct merge_it it = {0};
    const struct raw_label *sl;
    const struct label *l;
    while (merge_next(j, nl, &it, &sl, &l)) {
      if (sl) {
        size_t m = sl->rawn;
        body += 1 + uvs(m) + m;
        if (pass) {
          *o++ = 0x0a;
          o += encode_uvarint(o, m);
          memcpy(o, sl->raw, m);
          o += m;
        }
        continue;
      }
      size_t m = ext_label_size(l);
      body += 1 + uvs(m) + m;
      if (pass) {
        size_t x = strlen(l->name), y = strlen(l->value);
        *o++ = 0x0a;
        o += encode_uvarint(o, m);
        if (x) {
          *o++ = 0x0a;
          o += encode_uvarint(o, x);
          memcpy(o, l->name, x);
          o += x;
        }
        if (y) {
          *o++ = 0x12;
          o += encode_uvarint(o, y);
          memcpy(o, l->value, y);
          o += y;
        }
      }
    }
    for (size_t i = 0; i < nc; i++) {
      const struct raw_chunk *c = &j->rch[i];
      uint64_t type = c->type - 1;
      size_t raw = (type ? 1 + uvs(type) : 0) +
                   (c->n ? 1 + uvs(c->n) + c->n : 0);
      size_t aggr = (c->mint ? 1 + uvs((uint64_t)c->mint) : 0) +
                    (c->maxt ? 1 + uvs((uint64_t)c->maxt) : 0) + 1 +
                    uvs(raw) + raw;
      body += 1 + uvs(aggr) + aggr;
      if (!pass)
        continue;
      *o++ = 0x12;
      o += encode_uvarint(o, aggr);
      if (c->mint) {
        *o++ = 0x08;
        o += encode_uvarint(o, (uint64_t)c->mint);
      }
      if (c->maxt) {
        *o++ = 0x10;
        o += encode_uvarint(o, (uint64_t)c->maxt);
      }
      *o++ = 0x1a;
      o += encode_uvarint(o, raw);
      if (type) {
        *o++ = 0x08;
        o += encode_uvarint(o, type);
      }
      if (c->n) {
        *o++ = 0x12;
        o += encode_uvarint(o, c->n);
        memcpy(o, c->data, c->n);
        o += c->n;
      }
    }
    if (!pass)
      series = body;
    else
      j->scratch.len = (size_t)((char *)o - j->scratch.data);
  }
  return 0;
}
static void series_work(struct tc_work *w) {
  struct series_job *j = w->data;
  int rc;
  if (j->req->skip_chunks) {
    rc = prom_series(j->sc->prom_url, j->ms, j->nms, j->mint, j->maxt,
                     j->sc->prom_timeout_ms, on_series_labels, j);
  } else {
    struct prom_read r = {.url = j->sc->prom_url, .ms = j->ms, .n = j->nms,
                          .start = j->mint, .end = j->maxt,
                          .force_samples = j->sc->force_samples,
                          .fn = on_series, .frame_fn = on_frame,
                          .data = j};
    int64_t left = grpc_call_time_left_ms(j->call);
    r.timeout_ms = left == INT64_MAX ? 0 : (long)TC_MAX(left, 1);
    rc = prom_remote_read(&r);
    j->frames = r.frames, j->bytes = r.bytes, j->streamed = r.streamed;
  }
  if (!rc)
    rc = flush_batch(j, 1);
  j->read_ns = uv_hrtime() - j->start_ns;
  free_prev(j);
  j->rc = rc;
  if (rc)
    j->errmsg = xstrdup(tc_errmsg(rc));
}

static void drain(struct series_job *j);

static void on_writable(struct grpc_call *c) { drain(grpc_call_data(c)); }

static void finish(struct series_job *j, int code, const char *msg) {
  if (j->finished)
    return;
  j->finished = 1;
  if (tc_log_enabled(TC_LOG_DEBUG) && j->start_ns) {
    char v[6][32];
    snprintf(v[0], sizeof v[0], "%.3f",
             (double)(uv_hrtime() - j->start_ns) / 1e9);
    snprintf(v[1], sizeof v[1], "%.3f", (double)j->read_ns / 1e9);
    snprintf(v[2], sizeof v[2], "%" PRId64, j->nseries);
    snprintf(v[3], sizeof v[3], "%" PRIu64, j->frames);
    snprintf(v[4], sizeof v[4], "%" PRIu64, j->bytes);
    snprintf(v[5], sizeof v[5], "%" PRIu64, j->waits);
    LOG_DEBUG("series done", "code", grpc_code_name(code), "secs", v[0],
              "read_secs", v[1], "series", v[2], "frames", v[3], "bytes",
              v[4], "queue_waits", v[5], "streamed",
              j->streamed ? "true" : "false");
  }
  grpc_call_finish(j->call, code, msg ? "%s" : NULL, msg);
  uv_close((uv_handle_t *)&j->async, job_closed);
}

/* Loop: sends what the worker queued while the call is writable. */
static void drain(struct series_job *j) {
  if (j->finished)
    return;
  if (grpc_call_cancelled(j->call) || atomic_load(&j->cancelled)) {
    atomic_store(&j->cancelled, 1);
    pthread_mutex_lock(&j->mu);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (j->work_done)
      finish(j, GRPC_CANCELLED, "context canceled");
    return;
  }
  for (;;) {
    if (!grpc_call_writable(j->call)) {
      grpc_call_on_writable(j->call, on_writable);
      return;
    }
    pthread_mutex_lock(&j->mu);
    struct batch *bt = j->q;
    if (bt) {
      j->q = bt->next;
      if (!j->q)
        j->qtail = NULL;
      j->qbytes -= bt->b.len;
      pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    if (!bt)
      break;
    int rc = grpc_call_send_framed(j->call, &bt->b);
    tc_buf_reset(&bt->b); /* now the memory of an earlier batch, if any */
    pthread_mutex_lock(&j->mu);
    bt->next = j->empty;
    j->empty = bt;
    pthread_mutex_unlock(&j->mu);
    if (rc) {
      atomic_store(&j->cancelled, 1);
      pthread_mutex_lock(&j->mu);
      pthread_cond_broadcast(&j->cv);
      pthread_mutex_unlock(&j->mu);
      if (j->work_done)
        finish(j, rc == TC_ECANCELED ? GRPC_CANCELLED : grpc_code_from_tc(rc),
               tc_errmsg(rc));
      return;
    }
  }
  if (!j->work_done)
    return;
  if (j->rc == TC_ECANCELED || atomic_load(&j->cancelled))
    finish(j, GRPC_CANCELLED, "context canceled");
  else if (j->rc)
    finish(j, grpc_code_from_tc(j->rc), j->errmsg);
  else
    finish(j, GRPC_OK, NULL);
}

static void on_async(uv_async_t *a) { drain(a->data); }

static void series_done(struct tc_work *w, int status) {
  struct series_job *j = w->data;
  j->work_done = 1;
  if (status == TC_ECANCELED && !j->rc)
    j->rc = TC_ECANCELED;
  drain(j);
}

static void series_cancel(struct grpc_call *c) {
  struct series_job *j = grpc_call_data(c);
  atomic_store(&j->cancelled, 1);
  pthread_mutex_lock(&j->mu);
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  tc_work_cancel(&j->work);
}

static void series(struct grpc_call *c, const uint8_t *req, size_t len,
                   void *data) {
  struct sidecar *sc = data;
  Thanos__SeriesRequest *r =
      grpc_call_unpack(c, &thanos__series_request__descriptor, req, len);
  if (!r)
    return;
  struct series_job *j = xcalloc(1, sizeof *j);
  j->sc = sc;
  j->call = c;
  j->req = r;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  tc_buf_init(&j->scratch, 0);
  int rc = sidecar_ext_labels(sc, &j->ext);
  int code = GRPC_OK;
  const char *msg = NULL;
  if (rc) {
    code = GRPC_UNAVAILABLE, msg = tc_errmsg(rc);
    goto early;
  }
  j->ms = xcalloc(r->n_matchers ? r->n_matchers : 1, sizeof *j->ms);
  rc = sidecar_match_external(&j->ext, r->matchers, r->n_matchers, j->ms,
                              &j->nms);
  int crc = rc < 0 ? rc : check_matchers(j->ms, j->nms);
  if (crc < 0) {
    code = GRPC_INVALID_ARGUMENT, msg = tc_errmsg(crc);
    goto early;
  }
  if (rc == 0) /* an external label does not match: nothing here */
    goto early;
  if (j->nms == 0) {
    code = GRPC_INVALID_ARGUMENT;
    msg = "no matchers specified (excluding external labels)";
    goto early;
  }
  j->mint = TC_MAX(r->min_time, sidecar_min_time(sc));
  j->maxt = r->max_time;
  if (j->mint > j->maxt)
    goto early;
  j->drop = xcalloc(r->n_without_replica_labels + 1, sizeof *j->drop);
  for (size_t i = 0; i < r->n_without_replica_labels; i++)
    if (labels_get(&j->ext, r->without_replica_labels[i]))
      j->drop[j->ndrop++] = r->without_replica_labels[i];
  ext_without(&j->ext, r->without_replica_labels, r->n_without_replica_labels);
  j->chunk_limit = sc->limit_samples ? sc->limit_samples / XOR_SAMPLES_PER_CHUNK
                                     : 0;
  if (sc->limit_samples && !j->chunk_limit)
    j->chunk_limit = 1;
  j->start_ns = uv_hrtime();
  uv_async_init(grpc_call_loop(c), &j->async, on_async);
  j->async.data = j;
  grpc_call_set_data(c, j);
  grpc_call_on_cancel(c, series_cancel);
  rc = tc_work_submit(grpc_call_loop(c), &j->work, series_work, series_done,
                      j);
  if (rc < 0) {
    j->work_done = 1;
    j->rc = rc;
    j->errmsg = xstrdup(tc_errmsg(rc));
    drain(j);
  }
  return;
early:
  grpc_call_finish(c, code, msg ? "%s" : NULL, msg);
  j->async.data = j;
  job_closed((uv_handle_t *)&j->async);
}

/* ----------------------------------------------------- labels, unary */

struct label_job {
  struct sidecar *sc;
  struct grpc_call *call;
  struct tc_work work;
  char *name; /* LabelValues: the label; NULL for LabelNames */
  struct prom_matcher *ms;
  size_t nms;
  int64_t start, end;
  void *req; /* the unpacked request (owns what ms borrows) */
  int names;
  struct labels ext;
  char **without;
  size_t nwithout;
  struct strlist out;
  int rc;
  char *errmsg;
};

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void label_work(struct tc_work *w) {
  struct label_job *j = w->data;
  j->rc = prom_label_api(j->sc->prom_url, j->name, j->ms, j->nms, j->start,
                         j->end, j->sc->prom_timeout_ms, &j->out);
  if (j->rc)
    j->errmsg = xstrdup(tc_errmsg(j->rc));
}

static void label_job_free(struct label_job *j) {
  if (j->names)
    thanos__label_names_request__free_unpacked(j->req, NULL);
  else
    thanos__label_values_request__free_unpacked(j->req, NULL);
  free(j->ms);
  labels_release(&j->ext);
  strlist_release(&j->out);
  free(j->errmsg);
  free(j);
}

static void label_reply(struct label_job *j) {
  if (j->rc) {
    int code = j->rc == TC_ECANCELED ? GRPC_CANCELLED
                                     : grpc_code_from_tc(j->rc);
    grpc_call_finish(j->call, code, "%s", j->errmsg ? j->errmsg : "failed");
    label_job_free(j);
    return;
  }
  int rc;
  if (j->names) {
    /* Prometheus's names plus the external ones, sorted, unique. */
    for (size_t i = 0; i < j->ext.n; i++)
      strlist_push(&j->out, j->ext.v[i].name);
    qsort(j->out.v, j->out.n, sizeof *j->out.v, str_cmp);
    size_t k = 0;
    for (size_t i = 0; i < j->out.n; i++) {
      if (k && !strcmp(j->out.v[k - 1], j->out.v[i])) {
        free(j->out.v[i]);
        continue;
      }
      j->out.v[k++] = j->out.v[i];
    }
    j->out.n = k;
    Thanos__LabelNamesResponse r = THANOS__LABEL_NAMES_RESPONSE__INIT;
    r.n_names = j->out.n, r.names = j->out.v;
    rc = grpc_call_send(j->call, &r.base);
  } else {
    Thanos__LabelValuesResponse r = THANOS__LABEL_VALUES_RESPONSE__INIT;
    r.n_values = j->out.n, r.values = j->out.v;
    rc = grpc_call_send(j->call, &r.base);
  }
  if (rc)
    grpc_call_finish(j->call, grpc_code_from_tc(rc), "%s", tc_errmsg(rc));
  else
    grpc_call_finish(j->call, GRPC_OK, NULL);
  label_job_free(j);
}

static void label_done(struct tc_work *w, int status) {
  struct label_job *j = w->data;
  if (status == TC_ECANCELED && !j->rc)
    j->rc = TC_ECANCELED;
  label_reply(j);
}

/* Common part of LabelNames and LabelValues once the request is read. */
static void label_start(struct label_job *j, Thanos__LabelMatcher **ms,
                        size_t n) {
  int rc = sidecar_ext_labels(j->sc, &j->ext);
  if (rc) {
    grpc_call_finish(j->call, GRPC_UNAVAILABLE, "%s", tc_errmsg(rc));
    label_job_free(j);
    return;
  }
  ext_without(&j->ext, j->without, j->nwithout);
  j->ms = xcalloc(n ? n : 1, sizeof *j->ms);
  rc = sidecar_match_external(&j->ext, ms, n, j->ms, &j->nms);
  int crc = rc < 0 ? rc : check_matchers(j->ms, j->nms);
  if (crc < 0) {
    grpc_call_finish(j->call, GRPC_INVALID_ARGUMENT, "%s", tc_errmsg(crc));
    label_job_free(j);
    return;
  }
  if (rc == 0) { /* external labels do not match: empty */
    labels_reset(&j->ext);
    label_reply(j);
    return;
  }
  j->start = TC_MAX(j->start, sidecar_min_time(j->sc));
  if (!j->names) {
    const char *v = labels_get(&j->ext, j->name);
    if (v) { /* an external label: its one value */
      strlist_push(&j->out, v);
      label_reply(j);
      return;
    }
  }
  rc = tc_work_submit(grpc_call_loop(j->call), &j->work, label_work,
                      label_done, j);
  if (rc < 0) {
    j->rc = rc;
    j->errmsg = xstrdup(tc_errmsg(rc));
    label_reply(j);
  }
}

static void label_names(struct grpc_call *c, const uint8_t *req, size_t len,
                        void *data) {
  Thanos__LabelNamesRequest *r =
      grpc_call_unpack(c, &thanos__label_names_request__descriptor, req, len);
  if (!r)
    return;
  struct label_job *j = xcalloc(1, sizeof *j);
  j->sc = data, j->call = c, j->req = r, j->names = 1;
  j->start = r->start, j->end = r->end;
  j->without = r->without_replica_labels;
  j->nwithout = r->n_without_replica_labels;
  label_start(j, r->matchers, r->n_matchers);
}

static void label_values(struct grpc_call *c, const uint8_t *req, size_t len,
                         void *data) {
  Thanos__LabelValuesRequest *r =
      grpc_call_unpack(c, &thanos__label_values_request__descriptor, req, len);
  if (!r)
    return;
  if (!*r->label) {
    thanos__label_values_request__free_unpacked(r, NULL);
    grpc_call_finish(c, GRPC_INVALID_ARGUMENT,
                     "label name parameter cannot be empty");
    return;
  }
  struct label_job *j = xcalloc(1, sizeof *j);
  j->sc = data, j->call = c, j->req = r, j->name = r->label;
  j->start = r->start, j->end = r->end;
  j->without = r->without_replica_labels;
  j->nwithout = r->n_without_replica_labels;
  label_start(j, r->matchers, r->n_matchers);
}

/* ---------------------------------------------------------------- Info */

struct ext_pb {
  Thanos__Label *lv;
  Thanos__Label **lp;
  Thanos__ZLabelSet ls, *lsp;
};

static void ext_pb_init(struct ext_pb *e, const struct labels *ext) {
  e->lv = xcalloc(ext->n ? ext->n : 1, sizeof *e->lv);
  e->lp = xcalloc(ext->n ? ext->n : 1, sizeof *e->lp);
  for (size_t i = 0; i < ext->n; i++) {
    thanos__label__init(&e->lv[i]);
    e->lv[i].name = (char *)ext->v[i].name;
    e->lv[i].value = (char *)ext->v[i].value;
    e->lp[i] = &e->lv[i];
  }
  thanos__zlabel_set__init(&e->ls);
  e->ls.n_labels = ext->n, e->ls.labels = e->lp;
  e->lsp = &e->ls;
}

static void ext_pb_release(struct ext_pb *e) {
  free(e->lv);
  free(e->lp);
}


/* Loads the external labels for an Info answer; 0 or the call is
 * finished with UNAVAILABLE. */
static int info_prologue(struct grpc_call *c, struct sidecar *sc,
                         struct labels *ext, struct ext_pb *e) {
  int rc = sidecar_ext_labels(sc, ext);
  if (rc) {
    labels_release(ext);
    grpc_call_finish(c, GRPC_UNAVAILABLE, "Not ready: %s", tc_errmsg(rc));
    return rc;
  }
  ext_pb_init(e, ext);
  return 0;
}

static void info(struct grpc_call *c, const uint8_t *req, size_t len,
                 void *data) {
  struct sidecar *sc = data;
  struct labels ext;
  struct ext_pb e;
  if (info_prologue(c, sc, &ext, &e))
    return;
  int64_t mint = sidecar_min_time(sc), maxt = INT64_MAX;
  Thanos__Info__TSDBInfo ti = THANOS__INFO__TSDBINFO__INIT;
  ti.labels = &e.ls, ti.min_time = mint, ti.max_time = maxt;
  Thanos__Info__TSDBInfo *tip = &ti;
  Thanos__Info__StoreInfo si = THANOS__INFO__STORE_INFO__INIT;
  si.min_time = mint, si.max_time = maxt;
  si.supports_sharding = 1, si.supports_without_replica_labels = 1;
  si.n_tsdb_infos = 1, si.tsdb_infos = &tip;
  Thanos__Info__InfoResponse r = THANOS__INFO__INFO_RESPONSE__INIT;
  r.n_label_sets = 1, r.label_sets = &e.lsp;
  r.componenttype = "sidecar";
  r.store = &si;
  grpc_call_reply(c, &r.base);
  ext_pb_release(&e);
  labels_release(&ext);
}

static void legacy_info(struct grpc_call *c, const uint8_t *req, size_t len,
                        void *data) {
  struct sidecar *sc = data;
  struct labels ext;
  struct ext_pb e;
  if (info_prologue(c, sc, &ext, &e))
    return;
  Thanos__InfoResponse r = THANOS__INFO_RESPONSE__INIT;
  r.n_labels = e.ls.n_labels, r.labels = e.lp;
  r.min_time = sidecar_min_time(sc), r.max_time = INT64_MAX;
  r.storetype = THANOS__STORE_TYPE__SIDECAR;
  r.n_label_sets = 1, r.label_sets = &e.lsp;
  grpc_call_reply(c, &r.base);
  ext_pb_release(&e);
  labels_release(&ext);
}

const struct grpc_method *sidecar_store_methods(struct sidecar *sc) {
  static struct grpc_method table[6];
  table[0] = (struct grpc_method){"/thanos.Store/Series", GRPC_SERVER_STREAM,
                                  series, sc};
  table[1] = (struct grpc_method){"/thanos.Store/LabelNames", GRPC_UNARY,
                                  label_names, sc};
  table[2] = (struct grpc_method){"/thanos.Store/LabelValues", GRPC_UNARY,
                                  label_values, sc};
  table[3] = (struct grpc_method){"/thanos.Store/Info", GRPC_UNARY,
                                  legacy_info, sc};
  table[4] = (struct grpc_method){"/thanos.info.Info/Info", GRPC_UNARY, info,
                                  sc};
  table[5] = (struct grpc_method){0};
  return table;
}
