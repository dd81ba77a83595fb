/*
 * test-merge.c - compact_merge() (chunks copied byte for byte side by
 * side, overlapping samples merged with the first block winning, HA
 * replicas deduplicated with the penalty algorithm) and
 * compact_downsample() on the worked example of thanos-formats.md 4.4.
 */
#include "test.h"

#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/query_dedup.h"
#include "thanosc/tsdb/block.h"

/* A block under parent with series up{job=<job>} for each job given,
 * samples at ts with values vs. */
static char *block(const char *parent, const char *const *jobs, size_t njobs,
                   const int64_t *ts, const double *vs, size_t n) {
  struct block_writer w;
  ASSERT_OK(block_writer_open(&w, parent, 0));
  for (size_t j = 0; j < njobs; j++) {
    struct labels ls = LABELS_INIT;
    labels_add(&ls, "__name__", "up");
    labels_add(&ls, "job", jobs[j]);
    ASSERT_OK(block_writer_add_samples(&w, &ls, ts, vs, n));
    labels_release(&ls);
  }
  char *dir;
  ASSERT_OK(block_writer_finish(&w, NULL, &dir));
  return dir;
}

/* Every sample of series job=<job> of the block at dir. */
static size_t samples(const char *dir, const char *job, int64_t *ts, double *vs,
                      size_t max, size_t *nchunks) {
  struct block_reader b;
  ASSERT_OK(block_reader_open(&b, dir));
  struct matchers ms = {0};
  char *sel = xasprintf("{job=\"%s\"}", job);
  ASSERT_OK(selector_parse(sel, &ms));
  free(sel);
  struct block_series_set ss;
  ASSERT_OK(block_select(&b, &ms, INT64_MIN, INT64_MAX, &ss));
  size_t n = 0;
  *nchunks = 0;
  while (block_series_set_next(&ss)) {
    *nchunks += ss.nchunks;
    struct series_iter it;
    block_series_set_iter(&ss, &it);
    while (series_iter_next(&it) && n < max) {
      series_iter_at(&it, &ts[n], &vs[n]);
      n++;
    }
    ASSERT_OK(series_iter_err(&it));
  }
  block_series_set_release(&ss);
  matchers_release(&ms);
  block_reader_close(&b);
  return n;
}

/* The meta of a level-2 block over [0, maxt). */
static void merged_meta(struct block_meta *m, int64_t maxt) {
  block_meta_init(m);
  m->min_time = 0;
  m->max_time = maxt;
  m->compaction.level = 2;
  block_meta_add_source(m, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
}

TEST(compact_merge_copies_and_dedups) {
  const char *tmp = test_tmpdir();
  int64_t ts[300];
  double vs[300];
  for (int i = 0; i < 300; i++)
    ts[i] = 1000 * (int64_t)i, vs[i] = i;
  const char *ab[] = {"a", "b"}, *ac[] = {"a", "c"};
  /* Side by side: [0, 150) and [150, 300) of job a; b only in the first,
   * c only in the second. */
  char *d1 = block(tmp, ab, 2, ts, vs, 150);
  char *d2 = block(tmp, ac, 2, ts + 150, vs + 150, 150);
  struct block_meta m;
  merged_meta(&m, 300000);
  char *out;
  const char *dirs[] = {d1, d2};
  ASSERT_OK(compact_merge(dirs, 2, tmp, &m, NULL, &out));
  ASSERT_NOT_NULL(out);
  int64_t gt[400];
  double gv[400];
  size_t nch;
  ASSERT_EQ(samples(out, "a", gt, gv, 400, &nch), 300);
  ASSERT_EQ(nch, 4); /* 120 + 30 and 120 + 30: copied, not re-cut */
  for (int i = 0; i < 300; i++)
    ASSERT_EQ(gt[i], ts[i]);
  ASSERT_EQ(samples(out, "b", gt, gv, 400, &nch), 150);
  ASSERT_EQ(samples(out, "c", gt, gv, 400, &nch), 150);
  struct block_meta got;
  ASSERT_OK(block_meta_read(&got, out));
  ASSERT_EQ(got.compaction.level, 2);
  ASSERT_EQ(got.max_time, 300000);
  ASSERT_UEQ(got.stats.num_samples, 600);
  block_meta_release(&got);
  free(out);

  /* Overlapping: the second block repeats [100, 200) with other values
   * and adds [200, 250); each timestamp once, the first block's value. */
  double other[300];
  for (int i = 0; i < 300; i++)
    other[i] = -1;
  char *d3 = block(tmp, ab, 1, ts + 100, other + 100, 150);
  const char *dirs2[] = {d1, d3};
  ASSERT_OK(compact_merge(dirs2, 2, tmp, &m, NULL, &out));
  ASSERT_EQ(samples(out, "a", gt, gv, 400, &nch), 250);
  for (int i = 0; i < 250; i++) {
    ASSERT_EQ(gt[i], ts[i]);
    ASSERT_DBL_EQ(gv[i], i < 150 ? vs[i] : -1);
  }
  ASSERT_EQ(nch, 3); /* re-encoded: 120 + 120 + 10 */
  free(out);
  block_meta_release(&m);
  free(d1);
  free(d2);
  free(d3);
}

TEST(compact_merge_penalty_dedup) {
  const char *tmp = test_tmpdir();
  const char *a[] = {"a"};
  /* Two HA replicas 5 s apart scraping every 15 s for 20 minutes; the
   * first misses minutes 5 to 8, and its second block holds minutes 10 to
   * 20 (side by side with its first). */
  static int64_t ta[200], tb[200];
  static double va[200], vb[200];
  size_t na = 0, nb = 0;
  for (int64_t t = 0; t < 1200000; t += 15000) {
    if (t < 300000 || t >= 480000)
      ta[na] = t, va[na++] = 1;
    tb[nb] = t + 5000, vb[nb++] = 2;
  }
  size_t half = 0;
  while (ta[half] < 600000)
    half++;
  char *a1 = block(tmp, a, 1, ta, va, half);
  char *a2 = block(tmp, a, 1, ta + half, va + half, na - half);
  char *b = block(tmp, a, 1, tb, vb, nb);
  struct block_meta m;
  merged_meta(&m, 1205001);
  const char *dirs[] = {a1, b, a2};
  const size_t replica[] = {0, 1, 0};
  char *out;
  ASSERT_OK(compact_merge(dirs, 3, tmp, &m, replica, &out));
  static int64_t gt[500];
  static double gv[500];
  size_t nch, n = samples(out, "a", gt, gv, 500, &nch);
  free(out);
  /* What the querier's penalty deduplication makes of the two. */
  struct qsample qa[200], qb[200];
  for (size_t i = 0; i < na; i++)
    qa[i] = (struct qsample){ta[i], va[i]};
  for (size_t i = 0; i < nb; i++)
    qb[i] = (struct qsample){tb[i], vb[i]};
  struct qslice_iter ia, ib;
  qslice_iter_init(&ia, qa, na);
  qslice_iter_init(&ib, qb, nb);
  struct promql_iter *reps[] = {&ia.base, &ib.base};
  struct promql_iter *d = qdedup_iter_new(QDEDUP_PENALTY, reps, 2, 0);
  size_t k = 0;
  for (; d->ops->next(d) != PROMQL_SAMPLE_NONE; k++) {
    int64_t t;
    double v;
    d->ops->at(d, &t, &v);
    ASSERT(k < n);
    ASSERT_EQ(gt[k], t);
    ASSERT_DBL_EQ(gv[k], v);
  }
  qdedup_iter_free(d);
  ASSERT_EQ(n, k);
  /* Replica a until its gap, then b: one sample a scrape, not two. */
  ASSERT(n < nb + 5);
  ASSERT_DBL_EQ(gv[0], 1);
  ASSERT_DBL_EQ(gv[n - 1], 2);
  /* Without replicas the two interleave (1:1 deduplication). */
  ASSERT_OK(compact_merge(dirs, 3, tmp, &m, NULL, &out));
  ASSERT_EQ(samples(out, "a", gt, gv, 500, &nch), na + nb);
  free(out);
  block_meta_release(&m);
  free(a1);
  free(a2);
  free(b);
}

/* Samples of one sub-chunk. */
static size_t sub_samples(const struct aggr_chunk *a, int type, int64_t *ts,
                          double *vs) {
  struct chunk_iter it;
  ASSERT(a->sub[type].present);
  ASSERT_OK(chunk_iter_init(&it, a->sub[type].enc, a->sub[type].data,
                            a->sub[type].len));
  size_t n = 0;
  while (chunk_iter_next(&it))
    chunk_iter_at(&it, &ts[n], &vs[n]), n++;
  ASSERT_OK(chunk_iter_err(&it));
  return n;
}

TEST(compact_downsample_spec_example) {
  const char *tmp = test_tmpdir();
  int64_t ts[] = {10000, 70000, 130000, 310000};
  double vs[] = {1, 2, 3, 5};
  const char *a[] = {"a"};
  char *raw = block(tmp, a, 1, ts, vs, 4);
  char *out;
  ASSERT_EQ(compact_downsample(raw, 3600000, tmp, &out), TC_EINVAL);
  ASSERT_OK(compact_downsample(raw, 300000, tmp, &out));
  ASSERT_NOT_NULL(out);
  struct block_reader b;
  ASSERT_OK(block_reader_open(&b, out));
  ASSERT_EQ(b.meta.thanos.resolution, 300000);
  ASSERT_STREQ(b.meta.thanos.source, "compactor");
  ASSERT_UEQ(b.meta.stats.num_samples, 2); /* windows */
  struct block_series_set ss;
  struct matchers ms = {0};
  ASSERT_OK(selector_parse("up", &ms));
  ASSERT_OK(block_select(&b, &ms, INT64_MIN, INT64_MAX, &ss));
  ASSERT(block_series_set_next(&ss));
  ASSERT_EQ(ss.nchunks, 1);
  ASSERT_EQ(ss.chunks[0].mint, 299999);
  ASSERT_EQ(ss.chunks[0].maxt, 310000);
  uint8_t enc;
  const uint8_t *p;
  size_t len;
  ASSERT_OK(chunks_reader_chunk(&b.chunks, ss.chunks[0].ref, &enc, &p, &len));
  ASSERT_EQ(enc, CHUNK_ENC_AGGR);
  struct aggr_chunk ac;
  ASSERT_OK(aggr_chunk_parse(&ac, p, len));
  static const double want[AGGR_NUM][4] = {
      {3, 1}, {6, 5}, {1, 5}, {3, 5}, {1, 3, 5, 5}};
  static const int64_t want_ts[4] = {299999, 310000};
  static const int64_t ctr_ts[4] = {10000, 299999, 310000, 310000};
  for (int k = 0; k < AGGR_NUM; k++) {
    int64_t gt[8];
    double gv[8];
    size_t n = sub_samples(&ac, k, gt, gv);
    ASSERT_EQ(n, k == AGGR_COUNTER ? 4 : 2);
    for (size_t i = 0; i < n; i++) {
      ASSERT_EQ(gt[i], k == AGGR_COUNTER ? ctr_ts[i] : want_ts[i]);
      ASSERT_DBL_EQ(gv[i], want[k][i]);
    }
  }
  block_series_set_release(&ss);
  matchers_release(&ms);
  block_reader_close(&b);
  free(out);
  free(raw);
}
