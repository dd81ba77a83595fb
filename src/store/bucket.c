/*
 * bucket.c - the store gateway's view of the bucket: which blocks are
 * served. A sync lists the top level of the bucket, fetches each block's
 * meta.json once (metas are immutable, so they are cached by ULID), applies
 * Thanos's meta filters in its order (time range, selector relabelling,
 * consistency delay, deletion marks older than the delay, duplicates whose
 * sources another block covers), then loads new blocks in parallel
 * (index-header built or reused, index reader opened, chunk objects
 * listed) and drops blocks that are gone. Every outcome is counted in the
 * thanos_blocks_meta_synced{state} gauge and the
 * thanos_bucket_store_block_* metrics. Runs on a worker thread; queries
 * take referenced snapshots under the lock.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/flags.h"
#include "thanosc/log.h"
#include "thanosc/metrics.h"
#include "thanosc/store.h"

#define META_MAX (16u << 20)

struct bucket_store__meta_cache {
  char ulid[TSDB_ULID_LEN + 1];
  struct block_meta meta;
  int bad;  /* meta.json could not be parsed */
  int seen; /* in the current listing */
};

static struct metric *m_synced, *m_syncs, *m_sync_failures, *m_sync_secs;
static struct metric *m_loaded, *m_loads, *m_load_failures, *m_drops;
static struct metric *m_drop_failures;

static const char *const sync_states[] = {
    "corrupted-meta-json", "no-meta-json", "loaded", "failed",
    "label-excluded", "time-excluded", "too-fresh", "duplicate",
    "marked-for-deletion", "marked-for-no-compact", NULL};

static void metrics_init(void) {
  if (m_synced)
    return;
  m_synced = metric_gauge("thanos_blocks_meta_synced",
                          "Number of block metadata synced", "state");
  m_syncs = metric_counter("thanos_blocks_meta_syncs_total",
                           "Total blocks metadata synchronization attempts",
                           "");
  m_sync_failures = metric_counter(
      "thanos_blocks_meta_sync_failures_total",
      "Total blocks metadata synchronization failures", "");
  static const double b[] = {0.01, 1, 10, 100, 300, 600, 1000};
  m_sync_secs = metric_histogram(
      "thanos_blocks_meta_sync_duration_seconds",
      "Duration of the blocks metadata synchronization in seconds", "", b,
      TC_ARRAY_SIZE(b));
  m_loaded = metric_gauge("thanos_bucket_store_blocks_loaded",
                          "Number of currently loaded blocks.", "");
  m_loads = metric_counter("thanos_bucket_store_block_loads_total",
                           "Total number of remote block loading attempts.",
                           "");
  m_load_failures = metric_counter(
      "thanos_bucket_store_block_load_failures_total",
      "Total number of failed remote block loading attempts.", "");
  m_drops = metric_counter("thanos_bucket_store_block_drops_total",
                           "Total number of local blocks that were dropped.",
                           "");
  m_drop_failures = metric_counter(
      "thanos_bucket_store_block_drop_failures_total",
      "Total number of local blocks that failed to be dropped.", "");
  for (size_t i = 0; sync_states[i]; i++)
    metric_set(metric_with(m_synced, sync_states[i]), 0);
  metric_set(metric_child(m_loaded), 0);
  metric_add(metric_child(m_loads), 0);
  metric_add(metric_child(m_load_failures), 0);
  metric_add(metric_child(m_drops), 0);
  metric_add(metric_child(m_drop_failures), 0);
  metric_add(metric_child(m_syncs), 0);
  metric_add(metric_child(m_sync_failures), 0);
}

/* ---- blocks ---- */

void store_block_ref(struct store_block *b) {
  atomic_fetch_add(&b->refs, 1);
}

static void block_free(struct store_block *b) {
  lazy_index_close(&b->index);
  for (size_t i = 0; i < b->nsegs; i++)
    free(b->segs[i]);
  free(b->segs);
  labels_release(&b->ext);
  block_meta_release(&b->meta);
  pthread_mutex_destroy(&b->lock);
  free(b->dir);
  free(b);
}

void store_block_unref(struct store_block *b) {
  if (b && atomic_fetch_sub(&b->refs, 1) == 1)
    block_free(b);
}

struct seg_list {
  char **v;
  size_t n, cap;
  const char *prefix;
};

static int seg_add(void *data, const char *name) {
  struct seg_list *l = data;
  size_t pl = strlen(l->prefix);
  if (strncmp(name, l->prefix, pl) != 0)
    return 0;
  const char *base = name + pl;
  if (!*base || strchr(base, '/'))
    return 0;
  for (const char *c = base; *c; c++)
    if (*c < '0' || *c > '9')
      return 0;
  TC_GROW(l->v, l->cap, l->n + 1);
  l->v[l->n++] = xstrdup(name);
  return 0;
}

static int mkdir_p1(const char *dir) {
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return tc_error(-errno, "mkdir '%s': %s", dir, strerror(errno));
  return 0;
}

/* Loads one block whose meta is known: index-header (reused when valid),
 * index reader, chunk objects. meta is moved into the block. */
static int block_load(struct bucket_store *s, struct block_meta *meta,
                      struct store_block **out) {
  struct store_block *b = xcalloc(1, sizeof(*b));
  atomic_init(&b->refs, 1);
  pthread_mutex_init(&b->lock, NULL);
  b->meta = *meta;
  block_meta_init(meta);
  b->bkt = s->bkt;
  b->index_cache = s->o.cache;
  const char *id = b->meta.ulid;
  b->dir = xasprintf("%s/%s", s->data_dir, id);
  char *ih = xasprintf("%s/index-header", b->dir);
  char *index_name = xasprintf("%s/index", id);
  struct tsdb_bytes src;
  int rc = mkdir_p1(b->dir);
  if (rc)
    goto out;
  rc = indexheader_open(ih, s->bkt, index_name, s->o.cache, id, &src);
  if (rc) {
    if (rc != TC_ENOTFOUND)
      LOG_WARN("index-header unusable, rebuilding", "id", id, "err",
               tc_errmsg(rc));
    rc = indexheader_build(s->bkt, index_name, ih);
    if (!rc)
      rc = indexheader_open(ih, s->bkt, index_name, s->o.cache, id, &src);
  }
  if (rc)
    goto out;
  rc = lazy_index_open(&b->index, &src);
  if (rc)
    goto out;
  indexheader_drop_pages(&b->index.src);
  if (b->meta.thanos.nsegment_files > 0) {
    b->segs = xcalloc(b->meta.thanos.nsegment_files, sizeof(char *));
    for (size_t i = 0; i < b->meta.thanos.nsegment_files; i++)
      b->segs[i] = xasprintf("%s/chunks/%s", id,
                             b->meta.thanos.segment_files[i]);
    b->nsegs = b->meta.thanos.nsegment_files;
  } else {
    char *prefix = xasprintf("%s/chunks/", id);
    struct seg_list l = {.prefix = prefix};
    rc = objstore_iter(s->bkt, prefix, 0, seg_add, &l);
    free(prefix);
    b->segs = l.v;
    b->nsegs = l.n;
    if (rc)
      goto out;
  }
  if (b->meta.thanos.labels.n)
    labels_copy(&b->ext, &b->meta.thanos.labels);
out:
  free(ih);
  free(index_name);
  if (rc) {
    block_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

/* ---- the store ---- */

int bucket_store_init(struct bucket_store *s, struct objstore *bkt,
                      const struct bucket_store_opts *o) {
  memset(s, 0, sizeof(*s));
  metrics_init();
  s->bkt = bkt;
  s->o = *o;
  s->data_dir = xstrdup(o->data_dir && *o->data_dir ? o->data_dir : "./data");
  s->o.data_dir = s->data_dir;
  if (s->o.block_sync_concurrency < 1)
    s->o.block_sync_concurrency = 1;
  pthread_mutex_init(&s->lock, NULL);
  /* mkdir -p */
  char *d = xstrdup(s->data_dir);
  int rc = 0;
  for (char *p = d + 1; *p && !rc; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    rc = mkdir_p1(d);
    *p = '/';
  }
  if (!rc)
    rc = mkdir_p1(d);
  free(d);
  return rc;
}

void bucket_store_release(struct bucket_store *s) {
  for (size_t i = 0; i < s->nblocks; i++)
    store_block_unref(s->blocks[i]);
  free(s->blocks);
  for (size_t i = 0; i < s->nmetas; i++)
    block_meta_release(&s->metas[i].meta);
  free(s->metas);
  pthread_mutex_destroy(&s->lock);
  free(s->data_dir);
  memset(s, 0, sizeof(*s));
}

void bucket_store_snapshot(struct bucket_store *s, struct store_block ***out,
                           size_t *n) {
  pthread_mutex_lock(&s->lock);
  struct store_block **v = xcalloc(s->nblocks + 1, sizeof(*v));
  for (size_t i = 0; i < s->nblocks; i++) {
    v[i] = s->blocks[i];
    store_block_ref(v[i]);
  }
  *n = s->nblocks;
  pthread_mutex_unlock(&s->lock);
  *out = v;
}

struct listing {
  char **ids;
  size_t n, cap;
};

static int list_add(void *data, const char *name) {
  struct listing *l = data;
  size_t len = strlen(name);
  if (len != TSDB_ULID_LEN + 1 || name[TSDB_ULID_LEN] != '/')
    return 0;
  char id[TSDB_ULID_LEN + 1];
  memcpy(id, name, TSDB_ULID_LEN);
  id[TSDB_ULID_LEN] = '\0';
  if (!tsdb_ulid_parse(id, NULL))
    return 0;
  TC_GROW(l->ids, l->cap, l->n + 1);
  l->ids[l->n++] = xstrdup(id);
  return 0;
}

static struct bucket_store__meta_cache *meta_find(struct bucket_store *s,
                                                  const char *id) {
  for (size_t i = 0; i < s->nmetas; i++)
    if (!strcmp(s->metas[i].ulid, id))
      return &s->metas[i];
  return NULL;
}

/* ---- a small parallel for over the sync's object-storage calls ---- */

typedef void par_fn(void *ctx, size_t i);

struct par {
  par_fn *fn;
  void *ctx;
  size_t n;
  atomic_size_t next;
};

static void *par_worker(void *arg) {
  struct par *p = arg;
  for (;;) {
    size_t i = atomic_fetch_add(&p->next, 1);
    if (i >= p->n)
      break;
    p->fn(p->ctx, i);
  }
  return NULL;
}

/* fn(ctx, i) for i in [0, n) on up to conc threads; returns when done. */
static void parallel_for(size_t n, int conc, par_fn *fn, void *ctx) {
  struct par p = {.fn = fn, .ctx = ctx, .n = n};
  atomic_init(&p.next, 0);
  size_t nth = TC_MIN((size_t)(conc > 0 ? conc : 1), n);
  pthread_t *th = xcalloc(nth + 1, sizeof(*th));
  size_t started = 0;
  for (size_t i = 0; i < nth; i++)
    if (pthread_create(&th[i], NULL, par_worker, &p) == 0)
      started++;
  par_worker(&p); /* this thread helps (and copes with no threads) */
  for (size_t i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  free(th);
}

/* meta.json bodies fetched ahead, in parallel, for blocks not cached. */
struct prefetch {
  struct bucket_store *s;
  char **ids;
  struct tc_buf *bufs;
  int *rcs;
};

static void prefetch_one(void *ctx, size_t i) {
  struct prefetch *p = ctx;
  char *name = xasprintf("%s/meta.json", p->ids[i]);
  tc_buf_init(&p->bufs[i], META_MAX);
  p->rcs[i] = objstore_get_buf(p->s->bkt, name, OBJSTORE_OPTIONAL,
                               &p->bufs[i]);
  if (p->rcs[i] && p->rcs[i] != TC_ENOTFOUND)
    LOG_WARN("meta.json fetch failed", "id", p->ids[i], "err",
             tc_errmsg(p->rcs[i]));
  free(name);
}

/* The cached meta of id, fetched when new. NULL with *state set when the
 * block has none (yet) or it is corrupt. */
static struct bucket_store__meta_cache *
meta_get(struct bucket_store *s, const char *id, struct tc_buf *b, int rc,
         const char **state) {
  struct bucket_store__meta_cache *c = meta_find(s, id);
  if (c) {
    c->seen = 1;
    if (c->bad)
      *state = "corrupted-meta-json";
    return c->bad ? NULL : c;
  }
  if (rc == TC_ENOTFOUND) {
    *state = "no-meta-json";
    return NULL;
  }
  if (rc) {
    *state = "failed";
    return NULL;
  }
  char *name = xasprintf("%s/meta.json", id);
  TC_GROW(s->metas, s->metascap, s->nmetas + 1);
  c = &s->metas[s->nmetas++];
  memset(c, 0, sizeof(*c));
  snprintf(c->ulid, sizeof c->ulid, "%s", id);
  c->seen = 1;
  rc = block_meta_parse(&c->meta, b->data, b->len, name);
  if (!rc && strcmp(c->meta.ulid, id) != 0)
    rc = tc_error(TC_ECORRUPT, "'%s': ulid %s does not match the directory",
                  name, c->meta.ulid);
  if (rc) {
    LOG_WARN("block has corrupted meta.json, skipping", "id", id, "err",
             tc_errmsg(rc));
    c->bad = 1;
    *state = "corrupted-meta-json";
    c = NULL;
  }
  free(name);
  return c;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when the block has a deletion mark older than the delay. */
static int marked_deleted(struct bucket_store *s, const char *id,
                          int64_t now) {
  struct tc_buf b;
  tc_buf_init(&b, 1u << 20);
  char *name = xasprintf("%s/%s", id, marker_filename(MARKER_DELETION));
  int rc = objstore_get_buf(s->bkt, name, OBJSTORE_OPTIONAL, &b);
  int out = 0;
  if (!rc) {
    struct block_marker mk = {0};
    rc = block_marker_parse(&mk, MARKER_DELETION, b.data, b.len);
    if (rc)
      LOG_WARN("bad deletion mark, ignoring", "id", id, "err",
               tc_errmsg(rc));
    else if (now / 1000 - mk.time > s->o.ignore_deletion_marks_delay_ms / 1000)
      out = 1;
    block_marker_release(&mk);
  }
  free(name);
  tc_buf_release(&b);
  return out;
}

struct marks {
  struct bucket_store *s;
  struct bucket_store__meta_cache **c;
  int *marked;
  int64_t now;
};

static void mark_one(void *ctx, size_t i) {
  struct marks *m = ctx;
  m->marked[i] = marked_deleted(m->s, m->c[i]->ulid, m->now);
}

struct load_job {
  struct bucket_store *s;
  struct block_meta **metas; /* borrowed from the cache */
  struct store_block **out;  /* one per meta, NULL on failure */
  size_t n;
};

static void load_one(void *ctx, size_t i) {
  struct load_job *j = ctx;
  struct block_meta copy;
  /* The block owns a copy of the meta (formatted and parsed back). */
  struct tc_buf b = TC_BUF_INIT;
  int rc = block_meta_format(j->metas[i], &b);
  if (!rc)
    rc = block_meta_parse(&copy, b.data, b.len, j->metas[i]->ulid);
  tc_buf_release(&b);
  metric_inc(metric_child(m_loads));
  if (!rc)
    rc = block_load(j->s, &copy, &j->out[i]);
  block_meta_release(&copy);
  if (rc) {
    metric_inc(metric_child(m_load_failures));
    LOG_WARN("loading block failed", "id", j->metas[i]->ulid, "err",
             tc_errmsg(rc));
    j->out[i] = NULL;
  }
}

static int cmp_block(const void *a, const void *b) {
  const struct store_block *x = *(struct store_block *const *)a;
  const struct store_block *y = *(struct store_block *const *)b;
  return strcmp(x->meta.ulid, y->meta.ulid);
}

/* Removes <data-dir>/<id> with its index-header. */
static void remove_local(struct bucket_store *s, const char *id) {
  char *ih = xasprintf("%s/%s/index-header", s->data_dir, id);
  char *dir = xasprintf("%s/%s", s->data_dir, id);
  unlink(ih);
  if (rmdir(dir) < 0 && errno != ENOENT)
    metric_inc(metric_child(m_drop_failures));
  free(ih);
  free(dir);
}

int bucket_store_sync(struct bucket_store *s) {
  int64_t t0 = now_ms();
  struct listing l = {0};
  metric_inc(metric_child(m_syncs));
  int rc = objstore_iter(s->bkt, "", 0, list_add, &l);
  if (rc) {
    metric_inc(metric_child(m_sync_failures));
    LOG_WARN("listing the bucket failed", "err", tc_errmsg(rc));
    for (size_t i = 0; i < l.n; i++)
      free(l.ids[i]);
    free(l.ids);
    return rc;
  }
  for (size_t i = 0; i < s->nmetas; i++)
    s->metas[i].seen = 0;
  size_t counts[TC_ARRAY_SIZE(sync_states)] = {0};
  /* meta.json of new blocks, fetched in parallel. */
  struct prefetch pf = {.s = s};
  size_t npf = 0;
  pf.ids = xcalloc(l.n + 1, sizeof(char *));
  for (size_t i = 0; i < l.n; i++)
    if (!meta_find(s, l.ids[i]))
      pf.ids[npf++] = l.ids[i];
  pf.bufs = xcalloc(npf + 1, sizeof(struct tc_buf));
  pf.rcs = xcalloc(npf + 1, sizeof(int));
  parallel_for(npf, s->o.meta_fetch_concurrency, prefetch_one, &pf);
  /* Indices first: meta_get() may grow (move) the cache. */
  size_t *keepi = xcalloc(l.n + 1, sizeof(*keepi));
  size_t nkeep = 0, pk = 0;
  int64_t now = now_ms();
  for (size_t i = 0; i < l.n; i++) {
    const char *state = NULL;
    bool fetched = pk < npf && pf.ids[pk] == l.ids[i];
    struct bucket_store__meta_cache *c =
        meta_get(s, l.ids[i], fetched ? &pf.bufs[pk] : NULL,
                 fetched ? pf.rcs[pk] : 0, &state);
    if (fetched)
      pk++;
    if (c) {
      const struct block_meta *m = &c->meta;
      if (m->max_time <= s->o.min_time || m->min_time > s->o.max_time) {
        state = "time-excluded";
      } else if (s->o.relabel) {
        struct labels ls;
        labels_copy(&ls, &m->thanos.labels);
        labels_add(&ls, "__block_id", m->ulid);
        labels_sort(&ls);
        if (!store_relabel_keep(s->o.relabel, &ls))
          state = "label-excluded";
        labels_release(&ls);
      }
      if (!state &&
          block_meta_too_fresh(m, s->o.consistency_delay_ms, now))
        state = "too-fresh";
    }
    if (state) {
      for (size_t x = 0; sync_states[x]; x++)
        if (!strcmp(sync_states[x], state))
          counts[x]++;
      continue;
    }
    keepi[nkeep++] = (size_t)(c - s->metas);
  }
  for (size_t i = 0; i < npf; i++)
    tc_buf_release(&pf.bufs[i]);
  free(pf.bufs);
  free(pf.rcs);
  free(pf.ids);
  struct bucket_store__meta_cache **keep = xcalloc(nkeep + 1, sizeof(*keep));
  for (size_t i = 0; i < nkeep; i++)
    keep[i] = &s->metas[keepi[i]];
  free(keepi);
  /* Deletion marks, fetched in parallel; marked blocks older than the
   * delay are left out. */
  struct marks mk = {.s = s, .c = keep, .now = now};
  mk.marked = xcalloc(nkeep + 1, sizeof(int));
  parallel_for(nkeep, s->o.meta_fetch_concurrency, mark_one, &mk);
  size_t nk = 0;
  for (size_t i = 0; i < nkeep; i++) {
    if (mk.marked[i])
      counts[8]++; /* marked-for-deletion */
    else
      keep[nk++] = keep[i];
  }
  nkeep = nk;
  free(mk.marked);
  /* Duplicates: a block whose sources another block of the same
   * resolution covers entirely (larger set, or equal set and later
   * ULID) is left out. */
  size_t nfinal = 0;
  for (size_t i = 0; i < nkeep; i++) {
    const struct block_meta *a = &keep[i]->meta;
    bool dup = false;
    for (size_t j = 0; j < nkeep && !dup; j++) {
      const struct block_meta *b = &keep[j]->meta;
      dup = i != j && block_meta_covered_by(a, b);
    }
    if (dup)
      counts[7]++;
    else
      keep[nfinal++] = keep[i];
  }
  /* New blocks to load; loaded blocks to drop. */
  struct block_meta **toload = xcalloc(nfinal + 1, sizeof(*toload));
  size_t nload = 0;
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < nfinal; i++) {
    bool have = false;
    for (size_t j = 0; j < s->nblocks && !have; j++)
      have = !strcmp(s->blocks[j]->meta.ulid, keep[i]->ulid);
    if (!have)
      toload[nload++] = &keep[i]->meta;
  }
  pthread_mutex_unlock(&s->lock);

  struct load_job job = {.s = s, .metas = toload, .n = nload};
  job.out = xcalloc(nload + 1, sizeof(*job.out));
  parallel_for(nload, s->o.block_sync_concurrency, load_one, &job);

  struct store_block **dropped = NULL;
  size_t ndropped = 0, dcap = 0;
  pthread_mutex_lock(&s->lock);
  size_t w = 0;
  for (size_t j = 0; j < s->nblocks; j++) {
    bool want = false;
    for (size_t i = 0; i < nfinal && !want; i++)
      want = !strcmp(s->blocks[j]->meta.ulid, keep[i]->ulid);
    if (want) {
      s->blocks[w++] = s->blocks[j];
    } else {
      TC_GROW(dropped, dcap, ndropped + 1);
      dropped[ndropped++] = s->blocks[j];
    }
  }
  s->nblocks = w;
  size_t nloaded_now = 0;
  for (size_t i = 0; i < nload; i++) {
    if (!job.out[i])
      continue;
    TC_GROW(s->blocks, s->cap, s->nblocks + 1);
    s->blocks[s->nblocks++] = job.out[i];
    nloaded_now++;
  }
  if (s->nblocks > 1)
    qsort(s->blocks, s->nblocks, sizeof(*s->blocks), cmp_block);
  size_t total = s->nblocks;
  pthread_mutex_unlock(&s->lock);
  counts[2] = total;
  counts[3] += nload - nloaded_now;
  for (size_t i = 0; i < ndropped; i++) {
    char id[TSDB_ULID_LEN + 1];
    snprintf(id, sizeof id, "%s", dropped[i]->meta.ulid);
    store_block_unref(dropped[i]);
    remove_local(s, id);
    metric_inc(metric_child(m_drops));
    LOG_INFO("dropped outdated block", "block", id);
  }
  free(dropped);
  for (size_t k = 0; sync_states[k]; k++)
    metric_set(metric_with(m_synced, sync_states[k]), (double)counts[k]);
  metric_set(metric_child(m_loaded), (double)total);
  /* Forget metas of blocks gone from the bucket. */
  w = 0;
  for (size_t i = 0; i < s->nmetas; i++) {
    if (s->metas[i].seen)
      s->metas[w++] = s->metas[i];
    else
      block_meta_release(&s->metas[i].meta);
  }
  s->nmetas = w;
  free(job.out);
  free(toload);
  free(keep);
  for (size_t i = 0; i < l.n; i++)
    free(l.ids[i]);
  free(l.ids);
  metric_observe(metric_child(m_sync_secs), (double)(now_ms() - t0) / 1000.0);
  if (nloaded_now || ndropped) {
    char a[24], b[24];
    snprintf(a, sizeof a, "%zu", nloaded_now);
    snprintf(b, sizeof b, "%zu", ndropped);
    LOG_INFO("blocks synced", "loaded", a, "dropped", b);
  }
  /* Loads freed their temporary buffers: give the memory back. */
  malloc_trim(0);
  atomic_store(&s->synced, 1);
  return 0;
}
