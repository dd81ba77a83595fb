/*
 * merge.c - merges local blocks into one (compact_merge): a k-way merge of
 * the blocks' series in label order. A series' chunks are copied byte for
 * byte when they do not overlap (the usual case: blocks side by side in
 * time); overlapping chunks (vertical compaction, replica deduplication)
 * are decoded, merged by timestamp with the first block winning a
 * duplicate timestamp, and re-encoded in chunks of 120 samples. With
 * --deduplication.func=penalty the blocks' HA replicas are merged that way
 * each, then deduplicated with the querier's penalty algorithm.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/error.h"
#include "thanosc/query_dedup.h"
#include "thanosc/tsdb/block.h"

struct src {
  struct block_reader r;
  struct block_series_set ss;
  bool opened, selected, has;
};

/* One chunk of the series being merged, with the block it comes from. */
struct mchunk {
  struct src *s;
  size_t order;   /* position among the series' chunks, for stable sorts */
  size_t replica; /* of its block (0 without replicas) */
  struct chunk_meta m;
};

static int mchunk_cmp(const void *a, const void *b) {
  const struct mchunk *x = a, *y = b;
  if (x->m.mint != y->m.mint)
    return x->m.mint < y->m.mint ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

struct msample {
  size_t replica;
  int64_t t;
  double v;
  size_t order; /* of its chunk among the series' chunks in block order */
};

static int msample_cmp(const void *a, const void *b) {
  const struct msample *x = a, *y = b;
  if (x->replica != y->replica)
    return x->replica < y->replica ? -1 : 1;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* Penalty deduplication of the replicas' samples v[0..n) (sorted by
 * replica, then time, each timestamp once a replica) into ts/vs; returns
 * how many. The replica that starts first leads, as the earliest chunk
 * does in Thanos's compactor. */
static size_t dedup_replicas(const struct msample *v, size_t n, int64_t *ts,
                             double *vs) {
  struct qsample *q = xcalloc(n, sizeof *q);
  struct qslice_iter *its = xcalloc(n, sizeof *its);
  struct promql_iter **lead = xcalloc(n, sizeof *lead);
  int64_t *first = xcalloc(n, sizeof *first); /* of lead[j] */
  size_t nr = 0;
  for (size_t i = 0, start = 0; i < n; i++) {
    q[i] = (struct qsample){v[i].t, v[i].v};
    if (i + 1 < n && v[i + 1].replica == v[i].replica)
      continue;
    qslice_iter_init(&its[nr], q + start, i + 1 - start);
    /* In order of first timestamp; a tie keeps block order. */
    size_t j = nr;
    for (; j > 0 && q[start].t < first[j - 1]; j--) {
      lead[j] = lead[j - 1];
      first[j] = first[j - 1];
    }
    lead[j] = &its[nr++].base;
    first[j] = q[start].t;
    start = i + 1;
  }
  struct promql_iter *d = qdedup_iter_new(QDEDUP_PENALTY, lead, nr, 0);
  size_t k = 0;
  while (d->ops->next(d) != PROMQL_SAMPLE_NONE)
    d->ops->at(d, &ts[k], &vs[k]), k++;
  qdedup_iter_free(d);
  free(first);
  free(lead);
  free(its);
  free(q);
  return k;
}

/* Decodes every chunk and writes the merged samples (overlap case). */
static int write_merged(struct block_writer *w, const struct labels *ls,
                        struct mchunk *c, size_t n, bool penalty) {
  struct msample *v = NULL;
  size_t nv = 0, cap = 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    uint8_t enc;
    const uint8_t *data;
    size_t len;
    rc = chunks_reader_chunk(&c[i].s->r.chunks, c[i].m.ref, &enc, &data, &len);
    if (rc)
      break;
    if (enc == CHUNK_ENC_AGGR) {
      rc = tc_error(TC_ENOTSUP, "overlapping downsampled chunks cannot be "
                                "merged");
      break;
    }
    struct chunk_iter it;
    rc = chunk_iter_init(&it, enc, data, len);
    while (!rc && chunk_iter_next(&it)) {
      TC_GROW(v, cap, nv + 1);
      chunk_iter_at(&it, &v[nv].t, &v[nv].v);
      v[nv].order = c[i].order;
      v[nv].replica = c[i].replica;
      nv++;
    }
    if (!rc)
      rc = chunk_iter_err(&it);
  }
  int64_t *ts = NULL;
  double *vs = NULL;
  size_t k = 0;
  if (!rc && nv) {
    qsort(v, nv, sizeof *v, msample_cmp);
    ts = xcalloc(nv, sizeof *ts);
    vs = xcalloc(nv, sizeof *vs);
    for (size_t i = 0; i < nv; i++) {
      if (k && ts[k - 1] == v[i].t && v[k - 1].replica == v[i].replica)
        continue; /* a duplicate: the earlier block's sample stays */
      v[k] = v[i];
      ts[k] = v[i].t, vs[k] = v[i].v, k++;
    }
    if (penalty)
      k = dedup_replicas(v, k, ts, vs);
    rc = block_writer_add_samples(w, ls, ts, vs, k);
  }
  free(v);
  free(ts);
  free(vs);
  return rc;
}

/* Copies the chunks as they are (no overlap). */
static int write_copied(struct block_writer *w, const struct labels *ls,
                        struct mchunk *c, size_t n) {
  struct chunk_data *cd = xcalloc(n ? n : 1, sizeof *cd);
  struct chunk_meta *cm = xcalloc(n ? n : 1, sizeof *cm);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const uint8_t *data;
    rc = chunks_reader_chunk(&c[i].s->r.chunks, c[i].m.ref, &cd[i].enc, &data,
                             &cd[i].len);
    if (rc)
      break;
    /* The reader lends the bytes until its next call: keep a copy. */
    uint8_t *copy = xmalloc(cd[i].len ? cd[i].len : 1);
    memcpy(copy, data, cd[i].len);
    cd[i].data = copy;
    cm[i] = c[i].m;
  }
  if (!rc)
    rc = block_writer_add_chunks(w, ls, cd, cm, n);
  for (size_t i = 0; i < n; i++)
    free((void *)cd[i].data);
  free(cd);
  free(cm);
  return rc;
}

static int src_next(struct src *s) {
  s->has = block_series_set_next(&s->ss);
  return s->has ? 0 : block_series_set_err(&s->ss);
}

int compact_merge(const char *const *dirs, size_t n, const char *parent,
                  const struct block_meta *meta, const size_t *replica,
                  char **dir_out) {
  struct src *srcs = xcalloc(n ? n : 1, sizeof *srcs);
  struct block_writer w;
  struct mchunk *c = NULL;
  size_t cap = 0;
  bool writing = false;
  int rc = 0;
  *dir_out = NULL;
  for (size_t i = 0; i < n && !rc; i++) {
    rc = block_reader_open(&srcs[i].r, dirs[i]);
    if (rc) {
      rc = tc_error_wrap(rc, "open block %s", dirs[i]);
      break;
    }
    srcs[i].opened = true;
    struct postings *all = index_reader_postings(&srcs[i].r.index, "", "");
    rc = block_select_postings(&srcs[i].r, all, INT64_MIN, INT64_MAX,
                               &srcs[i].ss);
    if (rc)
      break;
    srcs[i].selected = true;
    rc = src_next(&srcs[i]);
    if (rc)
      rc = tc_error_wrap(rc, "read block %s", dirs[i]);
  }
  if (!rc)
    rc = block_writer_open(&w, parent, 0);
  writing = !rc;
  while (!rc) {
    /* The smallest label set among the blocks' current series. */
    const struct labels *min = NULL;
    for (size_t i = 0; i < n; i++)
      if (srcs[i].has &&
          (!min ||
           labels_compare(block_series_set_labels(&srcs[i].ss), min) < 0))
        min = block_series_set_labels(&srcs[i].ss);
    if (!min)
      break;
    size_t nc = 0;
    bool overlap = false;
    for (size_t i = 0; i < n; i++) {
      struct src *s = &srcs[i];
      if (!s->has || labels_compare(block_series_set_labels(&s->ss), min))
        continue;
      for (size_t j = 0; j < s->ss.nchunks; j++) {
        TC_GROW(c, cap, nc + 1);
        c[nc] = (struct mchunk){s, nc, replica ? replica[i] : 0,
                                s->ss.chunks[j]};
        nc++;
      }
    }
    if (nc)
      qsort(c, nc, sizeof *c, mchunk_cmp);
    for (size_t j = 1; j < nc; j++)
      overlap |= c[j].m.mint <= c[j - 1].m.maxt;
    if (nc) /* a series without chunks is left out, as Prometheus does */
      rc = overlap ? write_merged(&w, min, c, nc, replica != NULL)
                   : write_copied(&w, min, c, nc);
    /* Advance every block that held this series; min points into one of
     * them, so compare against a copy. */
    struct labels cur;
    labels_copy(&cur, min);
    for (size_t i = 0; i < n && !rc; i++)
      if (srcs[i].has &&
          !labels_compare(block_series_set_labels(&srcs[i].ss), &cur))
        rc = src_next(&srcs[i]);
    labels_release(&cur);
  }
  if (writing) {
    if (rc || w.nseries == 0)
      block_writer_abort(&w);
    else
      rc = block_writer_finish(&w, meta, dir_out);
  }
  for (size_t i = 0; i < n; i++) {
    if (srcs[i].selected)
      block_series_set_release(&srcs[i].ss);
    if (srcs[i].opened)
      block_reader_close(&srcs[i].r);
  }
  free(srcs);
  free(c);
  return rc;
}
