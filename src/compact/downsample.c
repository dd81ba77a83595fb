/*
 * downsample.c - Thanos's downsampling (thanos-formats.md section 4): a
 * raw block becomes a 5m block and a 5m block a 1h block of AggrChunks
 * (count, sum, min, max, counter), with the same batching, window
 * timestamps and counter-reset handling as Thanos so that both produce
 * the same aggregates.
 *
 * Raw data: a series' samples (stale markers dropped) are cut into about
 * compact_target_chunks() batches, each extended to a whole window; each
 * batch is one AggrChunk whose counter sub-chunk also carries the batch's
 * first raw sample and, at the last window's timestamp, its last raw
 * value, so that later levels and queries see the true counter values at
 * chunk edges. 5m data: whole input chunks are combined, each aggregate
 * recomputed from the input aggregate (counts summed), counters with
 * resets between chunks applied.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/block.h"

#define RAW_RES_GUESS (60 * 1000LL) /* Thanos assumes 1m raw resolution */
#define MAX_AGGR_PER_CHUNK 140

struct sample {
  int64_t t;
  double v;
};

struct samples {
  struct sample *v;
  size_t n, cap;
};

static void samples_add(struct samples *s, int64_t t, double v) {
  TC_GROW(s->v, s->cap, s->n + 1);
  s->v[s->n++] = (struct sample){t, v};
}

/* Running statistics: per window (count, sum, min, max) and over the whole
 * batch (counter, with resets removed). */
struct aggregator {
  size_t total, count;
  double sum, min, max, counter, last;
};

static void aggr_reset(struct aggregator *a) {
  a->count = 0;
  a->sum = 0;
  a->min = DBL_MAX;
  a->max = -DBL_MAX;
}

static void aggr_add(struct aggregator *a, double v) {
  if (a->total > 0)
    a->counter += v < a->last ? v : v - a->last; /* v < last: a reset */
  else
    a->counter = v;
  a->last = v;
  a->sum += v;
  a->count++;
  a->total++;
  if (v < a->min)
    a->min = v;
  if (v > a->max)
    a->max = v;
}

/* End timestamp of the window of resolution r holding t. */
static int64_t window_end(int64_t t, int64_t r) {
  return t - (t % r) + r - 1;
}

int compact_target_chunks(int64_t mint, int64_t maxt, int64_t in_res,
                          int64_t out_res, size_t count) {
  double max_samples = (double)((maxt - mint) / out_res);
  double full = (double)count / ((double)(maxt - mint) / (double)in_res);
  if (full > 1 || isnan(full))
    full = 1;
  long exp = (long)(max_samples * full) + 1;
  int x = 1;
  while (exp / x > MAX_AGGR_PER_CHUNK)
    x++;
  return x;
}

/* One AggrChunk under construction. */
struct builder {
  struct xor_enc e[AGGR_NUM];
  bool used[AGGR_NUM];
  int64_t mint, maxt;
};

static void builder_init(struct builder *b, bool used) {
  for (int i = 0; i < AGGR_NUM; i++) {
    xor_enc_init(&b->e[i]);
    b->used[i] = used;
  }
  b->mint = INT64_MAX;
  b->maxt = INT64_MIN;
}

static void builder_span(struct builder *b, int64_t t) {
  if (t < b->mint)
    b->mint = t;
  if (t > b->maxt)
    b->maxt = t;
}

/* The series' finished chunks. */
struct out {
  struct tc_buf *data;
  struct chunk_meta *metas;
  size_t n, cap, mcap;
};

static int builder_finish(struct builder *b, struct out *o) {
  struct aggr_chunk a;
  memset(&a, 0, sizeof a);
  for (int i = 0; i < AGGR_NUM; i++)
    if (b->used[i]) {
      a.sub[i].present = true;
      a.sub[i].enc = CHUNK_ENC_XOR;
      a.sub[i].data = xor_enc_bytes(&b->e[i], &a.sub[i].len);
    }
  TC_GROW(o->data, o->cap, o->n + 1);
  TC_GROW(o->metas, o->mcap, o->n + 1);
  tc_buf_init(&o->data[o->n], 0);
  int rc = aggr_chunk_encode(&o->data[o->n], &a);
  o->metas[o->n] = (struct chunk_meta){0, b->mint, b->maxt};
  o->n++;
  for (int i = 0; i < AGGR_NUM; i++)
    xor_enc_release(&b->e[i]);
  return rc;
}

static void out_release(struct out *o) {
  for (size_t i = 0; i < o->n; i++)
    tc_buf_release(&o->data[i]);
  o->n = 0;
}

static void out_free(struct out *o) {
  out_release(o);
  free(o->data);
  free(o->metas);
}

/*
 * Aggregates d[0..n) into windows of resolution r, calling add once per
 * window with its timestamp (capped at the last sample's, so that batches
 * never overlap) and the aggregator. Returns the last window's timestamp.
 */
typedef void add_fn(void *ctx, int64_t t, const struct aggregator *a);

static int64_t downsample_batch(const struct sample *d, size_t n, int64_t r,
                                add_fn *add, void *ctx) {
  struct aggregator a = {0};
  int64_t next = -1, last = d[n - 1].t;
  for (size_t i = 0; i < n; i++) {
    if (tsdb_is_stale_nan(d[i].v))
      continue;
    if (d[i].t > next) {
      if (next != -1)
        add(ctx, next, &a);
      aggr_reset(&a);
      next = window_end(d[i].t, r);
      if (next > last)
        next = last;
    }
    aggr_add(&a, d[i].v);
  }
  add(ctx, next, &a);
  return next;
}

/* ---- raw -> 5m ---- */

static void raw_add(void *ctx, int64_t t, const struct aggregator *a) {
  struct builder *b = ctx;
  builder_span(b, t);
  xor_enc_append(&b->e[AGGR_COUNT], t, (double)a->count);
  xor_enc_append(&b->e[AGGR_SUM], t, a->sum);
  xor_enc_append(&b->e[AGGR_MIN], t, a->min);
  xor_enc_append(&b->e[AGGR_MAX], t, a->max);
  xor_enc_append(&b->e[AGGR_COUNTER], t, a->counter);
}

static int downsample_raw(const struct samples *s, int64_t r, struct out *o) {
  if (!s->n)
    return 0;
  const struct sample *d = s->v;
  size_t n = s->n;
  int nch = compact_target_chunks(d[0].t, d[n - 1].t, RAW_RES_GUESS, r, n);
  size_t batch = n / (size_t)nch + 1, pos = 0;
  struct sample *b = xcalloc(n, sizeof *b);
  int rc = 0;
  while (pos < n && !rc) {
    size_t j = TC_MIN(batch, n - pos);
    /* Extend the batch to the end of its last window. */
    int64_t w = window_end(d[pos + j - 1].t, r);
    while (pos + j < n && d[pos + j].t <= w)
      j++;
    size_t nb = 0;
    for (size_t i = pos; i < pos + j; i++)
      if (!isnan(d[i].v))
        b[nb++] = d[i];
    pos += j;
    if (!nb)
      continue;
    struct builder ab;
    builder_init(&ab, true);
    xor_enc_append(&ab.e[AGGR_COUNTER], b[0].t, b[0].v);
    int64_t last = downsample_batch(b, nb, r, raw_add, &ab);
    xor_enc_append(&ab.e[AGGR_COUNTER], last, b[nb - 1].v);
    rc = builder_finish(&ab, o);
  }
  free(b);
  return rc;
}

/* Appends the samples of an XOR chunk to s, as Thanos expands them: stale
 * markers dropped, and samples going back in time (before the chunk's
 * previous one, or before 0) skipped. */
static int expand_xor(uint8_t enc, const uint8_t *p, size_t n,
                      struct samples *s) {
  struct chunk_iter it;
  int rc = chunk_iter_init(&it, enc, p, n);
  int64_t last = 0;
  while (!rc && chunk_iter_next(&it)) {
    int64_t t;
    double v;
    chunk_iter_at(&it, &t, &v);
    if (tsdb_is_stale_nan(v) || t < last)
      continue;
    samples_add(s, t, v);
    last = t;
  }
  return rc ? rc : chunk_iter_err(&it);
}

/* ---- 5m -> 1h ---- */

struct aggr_add_ctx {
  struct builder *b;
  int type;
};

static void aggr_type_add(void *ctx, int64_t t, const struct aggregator *a) {
  struct aggr_add_ctx *c = ctx;
  double v = c->type == AGGR_MIN       ? a->min
             : c->type == AGGR_MAX     ? a->max
             : c->type == AGGR_COUNTER ? a->counter
                                       : a->sum; /* counts are summed */
  builder_span(c->b, t);
  xor_enc_append(&c->b->e[c->type], t, v);
}

/* The counter samples of chunks c[0..n) with resets between and within
 * them removed (Thanos's ApplyCounterResetsSeriesIterator); *last_v gets
 * the series' true last value. */
static int counter_series(const struct aggr_chunk *c, size_t n,
                          struct samples *s, double *last_v) {
  size_t total = 0;
  int64_t last_t = 0;
  double lastv = 0, sum = 0;
  int64_t floor_t = 0; /* what Thanos's expansion lets through: t >= it */
  for (size_t i = 0; i < n; i++) {
    if (!c[i].sub[AGGR_COUNTER].present)
      continue;
    struct chunk_iter it;
    int rc = chunk_iter_init(&it, c[i].sub[AGGR_COUNTER].enc,
                             c[i].sub[AGGR_COUNTER].data,
                             c[i].sub[AGGR_COUNTER].len);
    while (!rc && chunk_iter_next(&it)) {
      int64_t t;
      double v;
      chunk_iter_at(&it, &t, &v);
      if (isnan(v))
        continue;
      if (total == 0) {
        sum = v;
      } else if (t > last_t) {
        sum += v >= lastv ? v - lastv : v;
      } else {
        if (t == last_t) /* the chunk's true last value */
          lastv = v;
        continue;
      }
      total++;
      last_t = t, lastv = v;
      if (t >= floor_t) {
        samples_add(s, t, sum);
        floor_t = t;
      }
    }
    if (!rc)
      rc = chunk_iter_err(&it);
    if (rc)
      return rc;
  }
  *last_v = lastv;
  return 0;
}

static int downsample_aggr_batch(const struct aggr_chunk *c, size_t n,
                                 int64_t r, struct out *o) {
  struct builder ab;
  struct samples s = {0};
  int rc = 0;
  builder_init(&ab, false);
  for (int at = AGGR_COUNT; at <= AGGR_MAX && !rc; at++) {
    s.n = 0;
    for (size_t i = 0; i < n && !rc; i++)
      if (c[i].sub[at].present)
        rc = expand_xor(c[i].sub[at].enc, c[i].sub[at].data, c[i].sub[at].len,
                        &s);
    if (rc || !s.n)
      continue;
    ab.used[at] = true;
    struct aggr_add_ctx ctx = {&ab, at};
    downsample_batch(s.v, s.n, r, aggr_type_add, &ctx);
  }
  s.n = 0;
  double last_v = 0;
  if (!rc)
    rc = counter_series(c, n, &s, &last_v);
  if (!rc && s.n) {
    ab.used[AGGR_COUNTER] = true;
    xor_enc_append(&ab.e[AGGR_COUNTER], s.v[0].t, s.v[0].v);
    struct aggr_add_ctx ctx = {&ab, AGGR_COUNTER};
    int64_t last = downsample_batch(s.v, s.n, r, aggr_type_add, &ctx);
    xor_enc_append(&ab.e[AGGR_COUNTER], last, last_v);
  }
  if (!rc)
    rc = builder_finish(&ab, o);
  else
    for (int i = 0; i < AGGR_NUM; i++)
      xor_enc_release(&ab.e[i]);
  free(s.v);
  return rc;
}

static int downsample_aggr(const struct aggr_chunk *c, size_t n, int64_t mint,
                           int64_t maxt, int64_t in_res, int64_t r,
                           struct out *o) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    if (c[i].sub[AGGR_COUNT].present)
      count +=
          chunk_num_samples(c[i].sub[AGGR_COUNT].enc, c[i].sub[AGGR_COUNT].data,
                            c[i].sub[AGGR_COUNT].len);
  int nch = compact_target_chunks(mint, maxt, in_res, r, count);
  size_t batch = TC_MAX(n / (size_t)nch, 1);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i += batch)
    rc = downsample_aggr_batch(c + i, TC_MIN(batch, n - i), r, o);
  return rc;
}

/* ---- blocks ---- */

/* Downsamples the current series of ss into o. */
static int downsample_series(struct block_reader *br,
                             const struct block_series_set *ss, int64_t from,
                             int64_t r, struct out *o) {
  struct samples s = {0};
  struct tc_buf *copies = xcalloc(ss->nchunks + 1, sizeof *copies);
  struct aggr_chunk *ac = xcalloc(ss->nchunks + 1, sizeof *ac);
  size_t nac = 0;
  int rc = 0;
  for (size_t i = 1; i < ss->nchunks && !rc; i++)
    if (ss->chunks[i - 1].maxt >= ss->chunks[i].mint)
      rc = tc_error(TC_ECORRUPT, "found overlapping chunks within series");
  for (size_t i = 0; i < ss->nchunks && !rc; i++) {
    uint8_t enc;
    const uint8_t *p;
    size_t len;
    rc = chunks_reader_chunk(&br->chunks, ss->chunks[i].ref, &enc, &p, &len);
    if (rc)
      break;
    if (from == COMPACT_RES_RAW) {
      rc = expand_xor(enc, p, len, &s);
    } else if (enc == CHUNK_ENC_AGGR) {
      tc_buf_init(&copies[nac], 0);
      tc_buf_add(&copies[nac], p, len);
      rc = aggr_chunk_parse(&ac[nac], (const uint8_t *)copies[nac].data, len);
      nac++;
    } else if (chunk_num_samples(enc, p, len) != 0) {
      rc = tc_error(TC_ENOTSUP, "a %s chunk in a downsampled block",
                    chunk_encoding_name(enc));
    }
  }
  if (!rc && from == COMPACT_RES_RAW)
    rc = downsample_raw(&s, r, o);
  else if (!rc && nac)
    rc = downsample_aggr(ac, nac, ss->chunks[0].mint,
                         ss->chunks[ss->nchunks - 1].maxt, from, r, o);
  for (size_t i = 0; i < nac; i++)
    tc_buf_release(&copies[i]);
  free(copies);
  free(ac);
  free(s.v);
  return rc;
}

int compact_downsample(const char *dir, int64_t r, const char *parent,
                       char **dir_out) {
  struct block_reader br;
  struct block_series_set ss;
  struct block_writer w;
  struct out o = {0};
  *dir_out = NULL;
  int rc = block_reader_open(&br, dir);
  if (rc)
    return tc_error_wrap(rc, "open block %s", dir);
  int64_t from = br.meta.thanos.resolution;
  if (!((from == COMPACT_RES_RAW && r == COMPACT_RES_5M) ||
        (from == COMPACT_RES_5M && r == COMPACT_RES_1H))) {
    block_reader_close(&br);
    return tc_error(TC_EINVAL,
                    "cannot downsample a block of resolution %lld "
                    "to %lld",
                    (long long)from, (long long)r);
  }
  struct postings *all = index_reader_postings(&br.index, "", "");
  rc = block_select_postings(&br, all, INT64_MIN, INT64_MAX, &ss);
  if (rc) {
    block_reader_close(&br);
    return rc;
  }
  rc = block_writer_open(&w, parent, 0);
  if (rc)
    goto out;
  while (!rc && block_series_set_next(&ss)) {
    out_release(&o);
    rc = downsample_series(&br, &ss, from, r, &o);
    if (rc) {
      struct tc_buf b = TC_BUF_INIT;
      labels_format(block_series_set_labels(&ss), &b);
      tc_buf_addc(&b, '\0');
      rc = tc_error_wrap(rc, "downsample series %s", b.data);
      tc_buf_release(&b);
      break;
    }
    if (!o.n)
      continue; /* nothing left of it (Thanos skips such series too) */
    struct chunk_data *cd = xcalloc(o.n, sizeof *cd);
    for (size_t i = 0; i < o.n; i++)
      cd[i] = (struct chunk_data){
          CHUNK_ENC_AGGR, (const uint8_t *)o.data[i].data, o.data[i].len};
    rc = block_writer_add_chunks(&w, block_series_set_labels(&ss), cd, o.metas,
                                 o.n);
    free(cd);
  }
  if (!rc)
    rc = block_series_set_err(&ss);
  if (rc || w.nseries == 0) {
    block_writer_abort(&w);
  } else {
    struct block_meta *m = &br.meta;
    m->has_thanos = true;
    m->thanos.resolution = r;
    free(m->thanos.source);
    m->thanos.source = xstrdup("compactor");
    rc = block_writer_finish(&w, m, dir_out);
  }
out:
  out_free(&o);
  block_series_set_release(&ss);
  block_reader_close(&br);
  return rc;
}
