/*
 * query.c - Series, LabelNames and LabelValues over the loaded blocks, as
 * Thanos's bucket store answers them. Runs on worker threads.
 *
 * A Series request goes in two phases. Selection (store_series_start):
 * blocks are chosen by time range, external labels (matchers naming an
 * external label are decided per block and never reach its index) and
 * resolution (the coarsest level allowed by max_resolution_window, gaps
 * filled from finer levels); each block's postings are intersected, its
 * series entries read (one ranged read for near entries), chunk metas cut
 * to the time range, labels completed with the external labels (which win)
 * and stripped of without_replica_labels. The series of all blocks are
 * sorted and equal label sets merged: only labels (borrowed from the
 * blocks' symbol tables) and chunk references are held, so memory follows
 * the number of series, not samples. Streaming (store_series_next): a
 * batch of series at a time, their chunks fetched with near ranges merged
 * into one read per segment, CRC-checked, packed as SeriesResponse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hintspb.pb-c.h"
#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/metrics.h"
#include "thanosc/store.h"

#define EST_SERIES_SIZE 4096   /* when meta has no index_stats */
#define EST_CHUNK_SIZE 16000   /* as Thanos's estimate */
#define CHUNK_GAP (64 * 1024)  /* chunk ranges closer than this: one read */
#define AGGR_ENC 0xff

struct qchunk {
  struct store_block *b; /* borrowed from the query's snapshot */
  uint64_t ref;
  int64_t mint, maxt;
  uint8_t enc;
  const uint8_t *data; /* during a batch */
  size_t len;
};

struct qseries {
  struct labels ls; /* LABELS_BORROWED: strings from blocks */
  struct qchunk *c; /* owned */
  size_t nc;
};

struct store_query {
  struct bucket_store *s;      /* borrowed */
  uint64_t pool_held;          /* bytes of the chunk pool this batch holds */
  store_cancelled_fn *cancelled; /* may be NULL */
  void *cancel_arg;
  struct store_block **blocks; /* referenced snapshot */
  size_t nblocks;
  struct store_block **used; /* queried blocks (borrowed) */
  size_t nused;
  struct qseries *v;
  size_t n, cap, next;
  int64_t mint, maxt;
  int skip_chunks;
  int aggrs[6]; /* requested Thanos__Aggr values */
  size_t naggrs;
  int hints_sent;
  struct lazy_arena arena; /* label strings of the selected series */
  struct tc_buf *bufs; /* range buffers of the current batch */
  size_t nbufs, bufcap;
};

static void pool_give_back(struct store_query *q);

static struct metric *m_series_req, *m_chunks_fetched, *m_series_fetched;

static void qmetrics_init(void) {
  if (m_series_req)
    return;
  m_series_req = metric_counter("thanosc_store_series_requests_total",
                                "Total number of Series requests (thanosc).",
                                "");
  m_series_fetched = metric_counter(
      "thanosc_store_series_entries_read_total",
      "Total number of series entries read from the bucket (thanosc).", "");
  m_chunks_fetched = metric_counter(
      "thanosc_store_chunks_fetched_total",
      "Total number of chunks fetched from the bucket (thanosc).", "");
}

/* ---- matchers ---- */

static int matchers_from_pb(Thanos__LabelMatcher **pm, size_t n,
                            struct matchers *ms) {
  for (size_t i = 0; i < n; i++) {
    int t = pm[i]->type;
    if (t < 0 || t > 3)
      return tc_error(TC_EINVAL, "unknown matcher type %d", t);
    int rc = matchers_add(ms, (enum matcher_type)t, pm[i]->name,
                          pm[i]->value);
    if (rc)
      return tc_error(TC_EINVAL, "bad matcher %s: %s", pm[i]->name,
                      tc_errmsg(rc));
  }
  return 0;
}

/*
 * Splits ms for block b: false when an external-label matcher rejects the
 * block; otherwise idx gets a shallow view of the matchers for its index
 * (free only idx->v).
 */
static bool block_matchers(const struct store_block *b,
                           const struct matchers *ms, struct matchers *idx) {
  idx->v = xcalloc(ms->n + 1, sizeof(struct matcher));
  idx->n = 0;
  idx->cap = ms->n + 1;
  for (size_t i = 0; i < ms->n; i++) {
    const char *ev = labels_get(&b->ext, ms->v[i].name);
    if (ev) {
      if (!matcher_matches_str(&ms->v[i], ev)) {
        free(idx->v);
        idx->v = NULL;
        return false;
      }
      continue;
    }
    idx->v[idx->n++] = ms->v[i];
  }
  return true;
}

/* Whether the block's external labels pass hint block matchers. */
static bool ext_matches(const struct store_block *b,
                        const struct matchers *ms) {
  for (size_t i = 0; i < ms->n; i++) {
    const char *ev = labels_get(&b->ext, ms->v[i].name);
    if (!matcher_matches_str(&ms->v[i], ev ? ev : ""))
      return false;
  }
  return true;
}

static int hint_matchers(const Google__Protobuf__Any *h, int kind,
                         struct matchers *ms) {
  if (!h || !h->value.len)
    return 0;
  int rc = 0;
  if (kind == 0) {
    Hintspb__SeriesRequestHints *r = hintspb__series_request_hints__unpack(
        NULL, h->value.len, h->value.data);
    if (!r)
      return tc_error(TC_EINVAL, "unmarshal series request hints");
    rc = matchers_from_pb(r->block_matchers, r->n_block_matchers, ms);
    hintspb__series_request_hints__free_unpacked(r, NULL);
  } else {
    Hintspb__LabelNamesRequestHints *r =
        hintspb__label_names_request_hints__unpack(NULL, h->value.len,
                                                   h->value.data);
    if (!r)
      return tc_error(TC_EINVAL, "unmarshal label request hints");
    rc = matchers_from_pb(r->block_matchers, r->n_block_matchers, ms);
    hintspb__label_names_request_hints__free_unpacked(r, NULL);
  }
  return rc;
}

/* ---- block choice ---- */

static int cmp_mint(const void *a, const void *b) {
  const struct store_block *x = *(struct store_block *const *)a;
  const struct store_block *y = *(struct store_block *const *)b;
  return x->meta.min_time < y->meta.min_time
             ? -1
             : x->meta.min_time > y->meta.min_time;
}

struct bset {
  struct store_block **v;
  size_t n, cap;
};

/* Blocks of group g at resolution levels[li] covering [mint, maxt], gaps
 * filled from finer levels (Thanos's bucketBlockSet.getFor). */
static void get_for(struct store_block **g, size_t ng, const int64_t *levels,
                    int li, int64_t mint, int64_t maxt, struct bset *out) {
  if (mint > maxt || li < 0)
    return;
  struct store_block **v = xcalloc(ng + 1, sizeof(*v));
  size_t n = 0;
  for (size_t i = 0; i < ng; i++)
    if (g[i]->meta.thanos.resolution == levels[li] &&
        g[i]->meta.min_time <= maxt && g[i]->meta.max_time > mint)
      v[n++] = g[i];
  qsort(v, n, sizeof(*v), cmp_mint);
  int64_t cur = mint;
  for (size_t i = 0; i < n; i++) {
    if (v[i]->meta.min_time > cur)
      get_for(g, ng, levels, li - 1, cur, v[i]->meta.min_time - 1, out);
    TC_GROW(out->v, out->cap, out->n + 1);
    out->v[out->n++] = v[i];
    if (v[i]->meta.max_time > cur)
      cur = v[i]->meta.max_time;
  }
  if (cur <= maxt)
    get_for(g, ng, levels, li - 1, cur, maxt, out);
  free(v);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The blocks to query, grouped by external labels. */
static void choose_blocks(struct store_block **all, size_t n, int64_t mint,
                          int64_t maxt, int64_t maxres,
                          const struct matchers *hint, struct bset *out) {
  bool *done = xcalloc(n + 1, sizeof(bool));
  struct store_block **g = xcalloc(n + 1, sizeof(*g));
  int64_t *levels = xcalloc(n + 1, sizeof(int64_t));
  for (size_t i = 0; i < n; i++) {
    if (done[i])
      continue;
    size_t ng = 0, nl = 0;
    for (size_t j = i; j < n; j++) {
      if (done[j] || !labels_equal(&all[i]->ext, &all[j]->ext))
        continue;
      done[j] = true;
      g[ng++] = all[j];
    }
    if (!ext_matches(all[i], hint))
      continue;
    for (size_t j = 0; j < ng; j++) {
      int64_t r = g[j]->meta.thanos.resolution;
      bool have = false;
      for (size_t k = 0; k < nl && !have; k++)
        have = levels[k] == r;
      if (!have && r <= maxres)
        levels[nl++] = r;
    }
    qsort(levels, nl, sizeof(int64_t), cmp_i64);
    get_for(g, ng, levels, (int)nl - 1, mint, maxt, out);
  }
  free(levels);
  free(g);
  free(done);
}

/* ---- selection ---- */

static bool name_dropped(const char *name, char **without, size_t nw) {
  for (size_t i = 0; i < nw; i++)
    if (!strcmp(without[i], name))
      return true;
  return false;
}

/* out = series labels + external labels (which win) - without. */
static void final_labels(const struct labels *ls, const struct labels *ext,
                         char **without, size_t nw, struct labels *out) {
  labels_init(out);
  out->flags = LABELS_BORROWED;
  size_t i = 0, j = 0;
  while (i < ls->n || j < ext->n) {
    const struct label *l;
    int c = i >= ls->n   ? 1
            : j >= ext->n ? -1
                          : strcmp(ls->v[i].name, ext->v[j].name);
    if (c < 0) {
      l = &ls->v[i++];
    } else {
      l = &ext->v[j++];
      if (c == 0)
        i++;
    }
    if (!name_dropped(l->name, without, nw))
      labels_add_borrowed(out, l->name, l->value);
  }
}

static int cmp_qseries(const void *a, const void *b) {
  const struct qseries *x = a, *y = b;
  return labels_compare(&x->ls, &y->ls);
}

static int cmp_qchunk(const void *a, const void *b) {
  const struct qchunk *x = a, *y = b;
  if (x->mint != y->mint)
    return x->mint < y->mint ? -1 : 1;
  return x->maxt < y->maxt ? -1 : x->maxt > y->maxt;
}

/* The postings of ms in block b (lock held), expanded. */
static int block_ids(struct store_block *b, const struct matchers *ms,
                     uint64_t **ids, size_t *n) {
  struct postings *p = lazy_index_select(&b->index, ms);
  return postings_expand(p, ids, n);
}

/* Reads the series entries of ids ahead in one go (lock held). */
static int preload_series(struct store_block *b, const uint64_t *ids,
                          size_t n) {
  if (n == 0)
    return 0;
  uint64_t est = b->meta.thanos.series_max_size > 0
                     ? (uint64_t)b->meta.thanos.series_max_size + 16
                     : EST_SERIES_SIZE;
  uint64_t *offs = xmalloc(n * sizeof(uint64_t));
  uint64_t *lens = xmalloc(n * sizeof(uint64_t));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    /* Entries the index cache holds need no read. */
    if (index_cache_has(b->index_cache, b->meta.ulid, ids[i] * 16, 10))
      continue;
    offs[k] = ids[i] * 16;
    lens[k] = est;
    /* The next entry bounds this one. */
    if (i + 1 < n && ids[i + 1] * 16 - offs[k] < est)
      lens[k] = ids[i + 1] * 16 - offs[k];
    k++;
  }
  int rc = indexheader_preload(&b->index.src, offs, lens, k);
  free(offs);
  free(lens);
  return rc;
}

struct limits {
  uint64_t series, chunks;
  uint64_t nseries, nchunks;
};

static int block_select(struct store_query *q, struct store_block *b,
                        const struct matchers *ms, char **without, size_t nw,
                        struct limits *lim) {
  struct matchers idx;
  if (!block_matchers(b, ms, &idx))
    return 0;
  uint64_t *ids = NULL;
  size_t nids = 0;
  struct index_series s = {0};
  pthread_mutex_lock(&b->lock);
  int rc = block_ids(b, &idx, &ids, &nids);
  if (!rc)
    rc = preload_series(b, ids, nids);
  for (size_t i = 0; i < nids && !rc; i++) {
    if (i % 1024 == 0 && q->cancelled && q->cancelled(q->cancel_arg)) {
      rc = tc_error(TC_ECANCELED, "context canceled");
      break;
    }
    rc = lazy_index_series(&b->index, ids[i], &q->arena, &s);
    if (rc)
      break;
    size_t keep = 0;
    for (size_t k = 0; k < s.nchunks; k++)
      if (s.chunks[k].maxt >= q->mint && s.chunks[k].mint <= q->maxt)
        keep++;
    if (keep == 0)
      continue;
    if (lim->series && ++lim->nseries > lim->series) {
      rc = tc_error(TC_ELIMIT, "exceeded series limit: limit %llu violated "
                    "(got %llu)", (unsigned long long)lim->series,
                    (unsigned long long)lim->nseries);
      break;
    }
    lim->nchunks += keep;
    if (lim->chunks && !q->skip_chunks && lim->nchunks > lim->chunks) {
      rc = tc_error(TC_ELIMIT, "exceeded chunks limit: limit %llu violated "
                    "(got %llu)", (unsigned long long)lim->chunks,
                    (unsigned long long)lim->nchunks);
      break;
    }
    TC_GROW(q->v, q->cap, q->n + 1);
    struct qseries *o = &q->v[q->n++];
    final_labels(&s.lset, &b->ext, without, nw, &o->ls);
    o->nc = q->skip_chunks ? 0 : keep;
    o->c = q->skip_chunks ? NULL : xcalloc(keep, sizeof(struct qchunk));
    for (size_t k = 0, w = 0; k < s.nchunks && !q->skip_chunks; k++)
      if (s.chunks[k].maxt >= q->mint && s.chunks[k].mint <= q->maxt)
        o->c[w++] = (struct qchunk){.b = b, .ref = s.chunks[k].ref,
                                    .mint = s.chunks[k].mint,
                                    .maxt = s.chunks[k].maxt};
  }
  metric_add(metric_child(m_series_fetched), (double)nids);
  indexheader_preload_clear(&b->index.src);
  pthread_mutex_unlock(&b->lock);
  index_series_release(&s);
  free(ids);
  free(idx.v);
  if (rc && rc != TC_ELIMIT && rc != TC_ECANCELED)
    rc = tc_error(rc, "block %s: %s", b->meta.ulid, tc_errmsg(rc));
  return rc;
}

void store_query_free(struct store_query *q) {
  if (!q)
    return;
  pool_give_back(q);
  for (size_t i = 0; i < q->n; i++) {
    labels_release(&q->v[i].ls);
    free(q->v[i].c);
  }
  free(q->v);
  for (size_t i = 0; i < q->nbufs; i++)
    tc_buf_release(&q->bufs[i]);
  free(q->bufs);
  for (size_t i = 0; i < q->nblocks; i++)
    store_block_unref(q->blocks[i]);
  free(q->blocks);
  free(q->used);
  lazy_arena_release(&q->arena);
  free(q);
}

int store_series_start(struct bucket_store *s, const Thanos__SeriesRequest *req,
                       store_cancelled_fn *cancelled, void *arg,
                       struct store_query **out) {
  qmetrics_init();
  metric_inc(metric_child(m_series_req));
  struct store_query *q = xcalloc(1, sizeof(*q));
  q->s = s;
  q->cancelled = cancelled;
  q->cancel_arg = arg;
  struct matchers ms = {0}, hint = {0};
  struct bset bs = {0};
  q->mint = req->min_time;
  q->maxt = req->max_time;
  q->skip_chunks = req->skip_chunks;
  for (size_t i = 0; i < req->n_aggregates && q->naggrs < 6; i++)
    q->aggrs[q->naggrs++] = req->aggregates[i];
  int rc = matchers_from_pb(req->matchers, req->n_matchers, &ms);
  if (!rc)
    rc = hint_matchers(req->hints, 0, &hint);
  if (rc)
    goto out;
  if (q->mint > q->maxt) {
    rc = tc_error(TC_EINVAL, "min_time %lld is after max_time %lld",
                  (long long)q->mint, (long long)q->maxt);
    goto out;
  }
  /* --min-time/--max-time also cut chunks, as Thanos does. */
  q->mint = TC_MAX(q->mint, s->o.min_time);
  q->maxt = TC_MIN(q->maxt, s->o.max_time);
  bucket_store_snapshot(s, &q->blocks, &q->nblocks);
  choose_blocks(q->blocks, q->nblocks, q->mint, q->maxt,
                req->max_resolution_window, &hint, &bs);
  struct limits lim = {.series = s->o.series_limit,
                       .chunks = s->o.samples_limit
                                     ? (s->o.samples_limit + 119) / 120
                                     : 0};
  /* Blocks whose external labels the matchers reject are not queried. */
  q->used = bs.v;
  q->nused = 0;
  for (size_t i = 0; i < bs.n; i++) {
    struct matchers idx;
    if (block_matchers(bs.v[i], &ms, &idx))
      q->used[q->nused++] = bs.v[i];
    free(idx.v);
  }
  bs.v = NULL;
  for (size_t i = 0; i < q->nused && !rc; i++)
    rc = block_select(q, q->used[i], &ms, req->without_replica_labels,
                      req->n_without_replica_labels, &lim);
  if (rc)
    goto out;
  /* Sort, then merge equal label sets (same series in several blocks). */
  if (q->n > 1)
    qsort(q->v, q->n, sizeof(*q->v), cmp_qseries);
  size_t w = 0;
  for (size_t i = 0; i < q->n; i++) {
    if (w > 0 && labels_equal(&q->v[w - 1].ls, &q->v[i].ls)) {
      struct qseries *d = &q->v[w - 1];
      d->c = xrealloc(d->c, (d->nc + q->v[i].nc + 1) * sizeof(*d->c));
      if (q->v[i].nc)
        memcpy(d->c + d->nc, q->v[i].c, q->v[i].nc * sizeof(*d->c));
      d->nc += q->v[i].nc;
      labels_release(&q->v[i].ls);
      free(q->v[i].c);
      continue;
    }
    q->v[w++] = q->v[i];
  }
  q->n = w;
  if (req->limit > 0 && (uint64_t)req->limit < q->n) {
    for (size_t i = (size_t)req->limit; i < q->n; i++) {
      labels_release(&q->v[i].ls);
      free(q->v[i].c);
    }
    q->n = (size_t)req->limit;
  }
  for (size_t i = 0; i < q->n; i++)
    if (q->v[i].nc > 1)
      qsort(q->v[i].c, q->v[i].nc, sizeof(struct qchunk), cmp_qchunk);
out:
  matchers_release(&ms);
  matchers_release(&hint);
  free(bs.v);
  if (rc) {
    store_query_free(q);
    return rc;
  }
  *out = q;
  return 0;
}

/* ---- chunk fetching ---- */

struct cref {
  struct qchunk *c;
  struct store_block *b;
  uint32_t seg, off;
};

static int cmp_cref(const void *a, const void *b) {
  const struct cref *x = a, *y = b;
  if (x->b != y->b)
    return x->b < y->b ? -1 : 1;
  if (x->seg != y->seg)
    return x->seg < y->seg ? -1 : 1;
  return x->off < y->off ? -1 : x->off > y->off;
}

static struct tc_buf *new_buf(struct store_query *q) {
  TC_GROW(q->bufs, q->bufcap, q->nbufs + 1);
  struct tc_buf *b = &q->bufs[q->nbufs++];
  tc_buf_init(b, 0);
  return b;
}

static int fetch(struct store_block *b, uint32_t seg, uint64_t off,
                 uint64_t len, struct tc_buf *out) {
  if (seg >= b->nsegs)
    return tc_error(TC_ECORRUPT, "block %s: chunk segment %u of %zu",
                    b->meta.ulid, seg, b->nsegs);
  return objstore_get_range(b->bkt, b->segs[seg], off, (int64_t)len, 0,
                            (objstore_write_fn *)tc_buf_add, out);
}

/* Parses the chunk record at p (avail bytes); 1 when it needs more. */
static int parse_chunk(struct qchunk *c, const uint8_t *p, size_t avail,
                       uint64_t *need) {
  struct decbuf d = decbuf_make(p, avail);
  uint64_t len = decbuf_uvarint(&d);
  size_t vl = avail - decbuf_len(&d);
  if (d.err) {
    *need = 16;
    return avail >= 10 ? tc_error(TC_ECORRUPT, "bad chunk length") : 1;
  }
  if (len > (1u << 30))
    return tc_error(TC_ECORRUPT, "chunk length %llu", (unsigned long long)len);
  if (vl + 1 + len + 4 > avail) {
    *need = vl + 1 + len + 4;
    return 1;
  }
  const uint8_t *e = p + vl;
  uint32_t want = ((uint32_t)e[1 + len] << 24) | ((uint32_t)e[2 + len] << 16) |
                  ((uint32_t)e[3 + len] << 8) | e[4 + len];
  if (tc_crc32c(0, e, 1 + len) != want)
    return tc_error(TC_ECHECKSUM, "chunk checksum mismatch");
  c->enc = e[0];
  c->data = e + 1;
  c->len = (size_t)len;
  return 0;
}

/* A chunk that did not fit its range: read it alone. */
static int fetch_one(struct store_query *q, struct cref *r) {
  uint64_t need = 16;
  for (int tries = 0; tries < 3; tries++) {
    struct tc_buf *b = new_buf(q);
    int rc = fetch(r->b, r->seg, r->off, need, b);
    if (rc)
      return rc;
    rc = parse_chunk(r->c, (const uint8_t *)b->data, b->len, &need);
    if (rc <= 0)
      return rc;
    if (b->len < need && tries > 0)
      break;
  }
  return tc_error(TC_ECORRUPT, "chunk at %u:%u runs past the segment end",
                  r->seg, r->off);
}

/* Reserves n bytes of --chunk-pool-size for this batch's reads. */
static int pool_take(struct store_query *q, uint64_t n) {
  uint64_t max = q->s->o.chunk_pool_size;
  uint64_t now = atomic_fetch_add(&q->s->chunk_bytes, n) + n;
  q->pool_held += n;
  if (max && now > max)
    return tc_error(TC_ELIMIT, "chunk pool exhausted: %llu bytes of chunk "
                    "reads in flight exceed --chunk-pool-size=%llu",
                    (unsigned long long)now, (unsigned long long)max);
  return 0;
}

static void pool_give_back(struct store_query *q) {
  atomic_fetch_sub(&q->s->chunk_bytes, q->pool_held);
  q->pool_held = 0;
}

static int fetch_chunks(struct store_query *q, size_t from, size_t to) {
  size_t n = 0;
  for (size_t i = from; i < to; i++)
    n += q->v[i].nc;
  if (n == 0)
    return 0;
  struct cref *r = xcalloc(n, sizeof(*r));
  size_t k = 0;
  for (size_t i = from; i < to; i++)
    for (size_t j = 0; j < q->v[i].nc; j++) {
      struct qchunk *c = &q->v[i].c[j];
      r[k++] = (struct cref){.c = c, .b = c->b, .seg = (uint32_t)(c->ref >> 32),
                             .off = (uint32_t)c->ref};
    }
  qsort(r, n, sizeof(*r), cmp_cref);
  int rc = 0;
  for (size_t i = 0; i < n && !rc;) {
    uint64_t start = r[i].off, end = (uint64_t)r[i].off + EST_CHUNK_SIZE;
    size_t j = i + 1;
    while (j < n && r[j].b == r[i].b && r[j].seg == r[i].seg &&
           r[j].off <= end + CHUNK_GAP) {
      if ((uint64_t)r[j].off + EST_CHUNK_SIZE > end)
        end = (uint64_t)r[j].off + EST_CHUNK_SIZE;
      j++;
    }
    rc = pool_take(q, end - start);
    if (rc)
      break;
    struct tc_buf *b = new_buf(q);
    rc = fetch(r[i].b, r[i].seg, start, end - start, b);
    for (size_t x = i; x < j && !rc; x++) {
      uint64_t at = r[x].off - start, need;
      int p = at <= b->len
                  ? parse_chunk(r[x].c, (const uint8_t *)b->data + at,
                                b->len - at, &need)
                  : 1;
      if (p == 1)
        p = fetch_one(q, &r[x]);
      if (p < 0)
        rc = tc_error(p, "block %s: chunk %u:%u: %s", r[x].b->meta.ulid,
                      r[x].seg, r[x].off, tc_errmsg(p));
    }
    i = j;
  }
  metric_add(metric_child(m_chunks_fetched), (double)n);
  free(r);
  return rc;
}

/* ---- packing ---- */

static const char *const aggr_names[] = {"raw", "count", "sum", "min", "max",
                                         "counter"};

/* Sub-chunk i (AggrType order count..counter) of an AggrChunk. */
static int aggr_get(const struct qchunk *c, int i, Thanos__Chunk *out) {
  struct decbuf d = decbuf_make(c->data, c->len);
  for (int k = 0; k <= i; k++) {
    uint64_t len = decbuf_uvarint(&d);
    if (d.err)
      return tc_error(TC_ECORRUPT, "aggregate chunk: truncated");
    if (len == 0) {
      if (k == i)
        return TC_ENOTFOUND;
      continue;
    }
    const uint8_t *enc = decbuf_bytes(&d, 1);
    const uint8_t *p = decbuf_bytes(&d, len);
    if (d.err)
      return tc_error(TC_ECORRUPT, "aggregate chunk: truncated");
    if (k == i) {
      if (*enc < 1 || *enc > 3)
        return tc_error(TC_ECORRUPT, "aggregate chunk: encoding %d", *enc);
      out->type = (Thanos__Chunk__Encoding)(*enc - 1);
      out->data.data = (uint8_t *)p;
      out->data.len = len;
    }
  }
  return 0;
}

/* Appends m as uvarint length + bytes. */
static void pack_msg(struct tc_buf *out, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  tc_buf_put_uvarint(out, n);
  tc_buf_reserve(out, n);
  protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
  out->len += n;
}

static int pack_series(struct store_query *q, struct qseries *s,
                       struct tc_buf *out) {
  size_t nl = s->ls.n, nc = s->nc;
  Thanos__Label *l = xcalloc(nl + 1, sizeof(*l));
  Thanos__Label **lp = xcalloc(nl + 1, sizeof(*lp));
  for (size_t i = 0; i < nl; i++) {
    thanos__label__init(&l[i]);
    l[i].name = (char *)s->ls.v[i].name;
    l[i].value = (char *)s->ls.v[i].value;
    lp[i] = &l[i];
  }
  Thanos__AggrChunk *ac = xcalloc(nc + 1, sizeof(*ac));
  Thanos__AggrChunk **acp = xcalloc(nc + 1, sizeof(*acp));
  Thanos__Chunk *ch = xcalloc(nc * 5 + 1, sizeof(*ch));
  int rc = 0;
  for (size_t i = 0; i < nc && !rc; i++) {
    struct qchunk *c = &s->c[i];
    thanos__aggr_chunk__init(&ac[i]);
    ac[i].min_time = c->mint;
    ac[i].max_time = c->maxt;
    acp[i] = &ac[i];
    if (c->enc != AGGR_ENC) {
      if (c->enc < 1 || c->enc > 3) {
        rc = tc_error(TC_ECORRUPT, "block %s: unknown chunk encoding %d",
                      c->b->meta.ulid, c->enc);
        break;
      }
      Thanos__Chunk *x = &ch[i * 5];
      thanos__chunk__init(x);
      x->type = (Thanos__Chunk__Encoding)(c->enc - 1);
      x->data.data = (uint8_t *)c->data;
      x->data.len = c->len;
      ac[i].raw = x;
      continue;
    }
    for (size_t a = 0; a < q->naggrs && !rc; a++) {
      int ag = q->aggrs[a];
      if (ag < 1 || ag > 5)
        continue;
      Thanos__Chunk *x = &ch[i * 5 + (size_t)(ag - 1)];
      thanos__chunk__init(x);
      rc = aggr_get(c, ag - 1, x);
      if (rc == TC_ENOTFOUND)
        rc = tc_error(TC_ENOTFOUND, "aggregate %s does not exist",
                      aggr_names[ag]);
      if (rc)
        break;
      switch (ag) {
      case 1: ac[i].count = x; break;
      case 2: ac[i].sum = x; break;
      case 3: ac[i].min = x; break;
      case 4: ac[i].max = x; break;
      default: ac[i].counter = x; break;
      }
    }
  }
  if (!rc) {
    Thanos__Series se = THANOS__SERIES__INIT;
    se.n_labels = nl;
    se.labels = lp;
    se.n_chunks = nc;
    se.chunks = acp;
    Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
    r.result_case = THANOS__SERIES_RESPONSE__RESULT_SERIES;
    r.series = &se;
    pack_msg(out, &r.base);
  }
  free(ch);
  free(acp);
  free(ac);
  free(lp);
  free(l);
  return rc;
}

static void pack_hints(struct store_query *q, struct tc_buf *out) {
  Hintspb__Block *bl = xcalloc(q->nused + 1, sizeof(*bl));
  Hintspb__Block **blp = xcalloc(q->nused + 1, sizeof(*blp));
  for (size_t i = 0; i < q->nused; i++) {
    hintspb__block__init(&bl[i]);
    bl[i].id = q->used[i]->meta.ulid;
    blp[i] = &bl[i];
  }
  Hintspb__SeriesResponseHints h = HINTSPB__SERIES_RESPONSE_HINTS__INIT;
  h.n_queried_blocks = q->nused;
  h.queried_blocks = blp;
  size_t hn = hintspb__series_response_hints__get_packed_size(&h);
  uint8_t *hb = xmalloc(hn + 1);
  hintspb__series_response_hints__pack(&h, hb);
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  any.type_url = "type.googleapis.com/hintspb.SeriesResponseHints";
  any.value.data = hb;
  any.value.len = hn;
  Thanos__SeriesResponse r = THANOS__SERIES_RESPONSE__INIT;
  r.result_case = THANOS__SERIES_RESPONSE__RESULT_HINTS;
  r.hints = &any;
  pack_msg(out, &r.base);
  free(hb);
  free(blp);
  free(bl);
}

#define BATCH_SERIES 256
#define BATCH_CHUNKS 4096

int store_series_next(struct store_query *q, struct tc_buf *out,
                      size_t max_bytes, bool *done) {
  *done = false;
  int rc = 0;
  while (!rc && q->next < q->n && out->len < max_bytes) {
    size_t from = q->next, to = from, nch = 0;
    while (to < q->n && to - from < BATCH_SERIES && nch < BATCH_CHUNKS)
      nch += q->v[to++].nc;
    rc = fetch_chunks(q, from, to);
    for (size_t i = from; i < to && !rc; i++)
      rc = pack_series(q, &q->v[i], out);
    for (size_t i = 0; i < q->nbufs; i++)
      tc_buf_release(&q->bufs[i]);
    q->nbufs = 0;
    pool_give_back(q);
    q->next = to;
  }
  if (!rc && q->next >= q->n) {
    if (!q->hints_sent) {
      pack_hints(q, out);
      q->hints_sent = 1;
    }
    *done = true;
  }
  return rc;
}

/* ---- labels ---- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts l and removes duplicates; keeps the first limit (0 = all). */
static void strlist_sort_uniq(struct strlist *l, int64_t limit) {
  if (l->n > 1)
    qsort(l->v, l->n, sizeof(char *), cmp_str);
  size_t w = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (w > 0 && !strcmp(l->v[w - 1], l->v[i])) {
      free(l->v[i]);
      continue;
    }
    l->v[w++] = l->v[i];
  }
  l->n = w;
  if (limit > 0 && (uint64_t)limit < l->n) {
    for (size_t i = (size_t)limit; i < l->n; i++)
      free(l->v[i]);
    l->n = (size_t)limit;
  }
}

static int push_value(void *data, const char *v, size_t n, uint64_t off) {
  (void)off;
  char *s = xstrndup(v, n);
  strlist_push(data, s);
  free(s);
  return 0;
}

/* label != NULL: values of label; else names. */
static int labels_query(struct bucket_store *s, int64_t start, int64_t end,
                        Thanos__LabelMatcher **pm, size_t npm,
                        const Google__Protobuf__Any *hints, char **without,
                        size_t nw, const char *label, int64_t limit,
                        struct strlist *out) {
  struct matchers ms = {0}, hint = {0};
  struct store_block **blocks = NULL;
  size_t nblocks = 0;
  struct index_series se = {0};
  struct lazy_arena arena = {0};
  int rc = matchers_from_pb(pm, npm, &ms);
  if (!rc)
    rc = hint_matchers(hints, 1, &hint);
  if (rc)
    goto out;
  if (start == 0 && end == 0)
    start = INT64_MIN, end = INT64_MAX;
  bucket_store_snapshot(s, &blocks, &nblocks);
  for (size_t bi = 0; bi < nblocks && !rc; bi++) {
    struct store_block *b = blocks[bi];
    if (b->meta.min_time > end || b->meta.max_time <= start ||
        !ext_matches(b, &hint))
      continue;
    struct matchers idx;
    if (!block_matchers(b, &ms, &idx))
      continue;
    const char *ev = label ? labels_get(&b->ext, label) : NULL;
    bool any = false; /* a series matched (with matchers) */
    pthread_mutex_lock(&b->lock);
    if (idx.n == 0 && !ev) {
      /* No series filter: straight from the postings offset table. */
      if (label) {
        const struct lazy_name *ln = lazy_index_name(&b->index, label);
        if (ln)
          rc = lazy_index_values(&b->index, ln, push_value, out);
      } else {
        for (size_t i = 0; i < b->index.nnames; i++) {
          const char *nm = b->index.names[i].name;
          if (*nm && !labels_get(&b->ext, nm))
            strlist_push(out, nm);
        }
      }
    } else {
      uint64_t *ids = NULL;
      size_t nids = 0;
      rc = block_ids(b, &idx, &ids, &nids);
      if (!rc && ev) {
        if (nids > 0)
          strlist_push(out, ev);
        nids = 0;
      }
      if (!rc)
        rc = preload_series(b, ids, nids);
      for (size_t i = 0; i < nids && !rc; i++) {
        rc = lazy_index_series(&b->index, ids[i], &arena, &se);
        bool inrange = false;
        for (size_t k = 0; k < se.nchunks && !rc && !inrange; k++)
          inrange = se.chunks[k].maxt >= start && se.chunks[k].mint <= end;
        if (rc || !inrange)
          continue;
        any = true;
        if (label) {
          const char *v = labels_get(&se.lset, label);
          if (v)
            strlist_push(out, v);
        } else {
          for (size_t k = 0; k < se.lset.n; k++)
            strlist_push(out, se.lset.v[k].name);
        }
      }
      indexheader_preload_clear(&b->index.src);
      free(ids);
    }
    pthread_mutex_unlock(&b->lock);
    /* External label names count when the block has matching series. */
    if (!label && (idx.n == 0 || any))
      for (size_t k = 0; k < b->ext.n; k++)
        strlist_push(out, b->ext.v[k].name);
    if (label && idx.n == 0 && ev)
      strlist_push(out, ev);
    free(idx.v);
  }
  if (!rc && !label) {
    size_t w = 0;
    for (size_t i = 0; i < out->n; i++) {
      if (name_dropped(out->v[i], without, nw))
        free(out->v[i]);
      else
        out->v[w++] = out->v[i];
    }
    out->n = w;
  }
  if (!rc)
    strlist_sort_uniq(out, limit);
out:
  index_series_release(&se);
  lazy_arena_release(&arena);
  for (size_t i = 0; i < nblocks; i++)
    store_block_unref(blocks[i]);
  free(blocks);
  matchers_release(&ms);
  matchers_release(&hint);
  return rc;
}

int store_label_names(struct bucket_store *s,
                      const Thanos__LabelNamesRequest *req,
                      struct strlist *out) {
  return labels_query(s, req->start, req->end, req->matchers, req->n_matchers,
                      req->hints, req->without_replica_labels,
                      req->n_without_replica_labels, NULL, req->limit, out);
}

int store_label_values(struct bucket_store *s,
                       const Thanos__LabelValuesRequest *req,
                       struct strlist *out) {
  if (!req->label || !*req->label)
    return tc_error(TC_EINVAL, "label name parameter cannot be empty");
  if (name_dropped(req->label, req->without_replica_labels,
                   req->n_without_replica_labels))
    return 0;
  return labels_query(s, req->start, req->end, req->matchers, req->n_matchers,
                      req->hints, NULL, 0, req->label, req->limit, out);
}

/* ---- info ---- */

void store_info_get(struct bucket_store *s, struct store_info *out) {
  memset(out, 0, sizeof(*out));
  struct store_block **blocks;
  size_t n;
  bucket_store_snapshot(s, &blocks, &n);
  out->min_time = INT64_MAX;
  out->max_time = INT64_MIN;
  out->tsdbs = xcalloc(n + 1, sizeof(*out->tsdbs));
  out->sets = xcalloc(n + 1, sizeof(*out->sets));
  for (size_t i = 0; i < n; i++) {
    struct store_block *b = blocks[i];
    size_t k = 0;
    while (k < out->nsets && !labels_equal(&out->sets[k], &b->ext))
      k++;
    if (k == out->nsets)
      labels_copy(&out->sets[out->nsets++], &b->ext);
    out->tsdbs[out->ntsdbs++] = (struct store_info__tsdb){
        .set = k, .min_time = b->meta.min_time, .max_time = b->meta.max_time};
    out->min_time = TC_MIN(out->min_time, b->meta.min_time);
    out->max_time = TC_MAX(out->max_time, b->meta.max_time);
    store_block_unref(b);
  }
  free(blocks);
  if (n == 0) {
    /* Nothing loaded: advertise an empty range as Thanos does. */
    out->min_time = INT64_MAX;
    out->max_time = INT64_MIN;
  }
  if (s->o.min_time > out->min_time)
    out->min_time = s->o.min_time;
  if (s->o.max_time < out->max_time)
    out->max_time = s->o.max_time;
}

void store_info_release(struct store_info *i) {
  for (size_t k = 0; k < i->nsets; k++)
    labels_release(&i->sets[k]);
  free(i->sets);
  free(i->tsdbs);
  memset(i, 0, sizeof(*i));
}
