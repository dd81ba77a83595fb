#include "test.h"
#include <sys/stat.h>

#include "thanosc/common.h"
#include "thanosc/tsdb/block.h"

static char *write_block(const char *parent) {
  struct block_writer w;
  ASSERT_OK(block_writer_open(&w, parent, 1700000000000));
  int64_t ts[300];
  double vs[300];
  for (int i = 0; i < 300; i++)
    ts[i] = 1000 * (int64_t)i, vs[i] = i;
  vs[299] = tsdb_stale_nan();
  const char *jobs[] = {"a", "b", "c"};
  for (int s = 0; s < 3; s++) {
    struct labels ls = LABELS_INIT;
    labels_add(&ls, "__name__", "up");
    labels_add(&ls, "job", jobs[s]);
    ASSERT_OK(block_writer_add_samples(&w, &ls, ts, vs, 300 - (size_t)s * 100));
    if (s == 2)
      ASSERT_EQ(block_writer_add_samples(&w, &ls, ts, vs, 1), TC_EINVAL);
    labels_release(&ls);
  }
  struct block_meta in;
  block_meta_init(&in);
  in.has_thanos = true;
  labels_add(&in.thanos.labels, "replica", "0");
  in.thanos.source = xstrdup("test");
  char *dir;
  ASSERT_OK(block_writer_finish(&w, &in, &dir));
  block_meta_release(&in);
  return dir;
}

static size_t count(struct block_reader *b, const char *sel, int64_t mint,
                    int64_t maxt, int64_t *first_t) {
  struct matchers ms = {0};
  ASSERT_OK(selector_parse(sel, &ms));
  struct block_series_set ss;
  ASSERT_OK(block_select(b, &ms, mint, maxt, &ss));
  size_t n = 0;
  *first_t = -1;
  while (block_series_set_next(&ss)) {
    struct series_iter it;
    block_series_set_iter(&ss, &it);
    while (series_iter_next(&it)) {
      int64_t t;
      double v;
      series_iter_at(&it, &t, &v);
      if (*first_t < 0)
        *first_t = t;
      n++;
    }
    ASSERT_OK(series_iter_err(&it));
  }
  ASSERT_OK(block_series_set_err(&ss));
  block_series_set_release(&ss);
  matchers_release(&ms);
  return n;
}

TEST(block_write_read_select) {
  char *dir = write_block(test_tmpdir());
  struct block_reader b;
  ASSERT_OK(block_reader_open(&b, dir));
  ASSERT_UEQ(b.meta.stats.num_samples, 600);
  ASSERT_UEQ(b.meta.stats.num_series, 3);
  ASSERT_UEQ(b.meta.stats.num_chunks, 3 + 2 + 1);
  ASSERT_EQ(b.meta.min_time, 0);
  ASSERT_EQ(b.meta.max_time, 299001);
  ASSERT(b.meta.has_thanos);
  ASSERT(b.meta.thanos.chunk_max_size > 0);
  int64_t ft;
  ASSERT_EQ(count(&b, "up", INT64_MIN, INT64_MAX, &ft), 600);
  ASSERT_EQ(count(&b, "{job=\"a\"}", 150000, 160000, &ft), 11);
  ASSERT_EQ(ft, 150000);
  ASSERT_EQ(count(&b, "{job!=\"a\"}", 250000, INT64_MAX, &ft), 0);
  ASSERT_EQ(count(&b, "{job=~\"b|c\"}", INT64_MIN, INT64_MAX, &ft), 300);
  /* Stale marker read back bit for bit, seek across chunks. */
  struct matchers ms = {0};
  ASSERT_OK(selector_parse("{job=\"a\"}", &ms));
  struct block_series_set ss;
  ASSERT_OK(block_select(&b, &ms, INT64_MIN, INT64_MAX, &ss));
  ASSERT(block_series_set_next(&ss));
  struct series_iter it;
  block_series_set_iter(&ss, &it);
  ASSERT(series_iter_seek(&it, 250500));
  int64_t t;
  double v;
  series_iter_at(&it, &t, &v);
  ASSERT_EQ(t, 251000);
  ASSERT(series_iter_seek(&it, 299000));
  series_iter_at(&it, &t, &v);
  ASSERT(tsdb_is_stale_nan(v));
  ASSERT(!series_iter_next(&it));
  ASSERT(!block_series_set_next(&ss));
  block_series_set_release(&ss);
  matchers_release(&ms);
  block_reader_close(&b);
  /* Tombstones: delete [10s, 19s] of series job="a" (the first ID). */
  struct index_reader ir;
  char *ip = xasprintf("%s/index", dir);
  ASSERT_OK(index_reader_open_file(&ir, ip));
  free(ip);
  uint64_t *ids;
  size_t n;
  ASSERT_OK(postings_expand(index_reader_postings(&ir, "job", "a"), &ids, &n));
  index_reader_close(&ir);
  struct tombstones tb = {0};
  tb.v = xcalloc(1, sizeof(*tb.v));
  tb.v[0] = (struct tombstone){ids[0], 10000, 19000};
  tb.n = tb.cap = 1;
  free(ids);
  ASSERT_OK(tombstones_write(&tb, dir));
  tombstones_release(&tb);
  ASSERT_OK(block_reader_open(&b, dir));
  ASSERT_EQ(count(&b, "{job=\"a\"}", INT64_MIN, INT64_MAX, &ft), 290);
  ASSERT_EQ(count(&b, "{job=\"b\"}", INT64_MIN, INT64_MAX, &ft), 200);
  block_reader_close(&b);
  free(dir);
}

TEST(block_empty_and_errors) {
  struct block_writer w;
  ASSERT_OK(block_writer_open(&w, test_tmpdir(), 0));
  struct block_meta in;
  block_meta_init(&in);
  in.min_time = 1000;
  in.max_time = 2000;
  char *dir;
  ASSERT_OK(block_writer_finish(&w, &in, &dir));
  struct block_reader b;
  ASSERT_OK(block_reader_open(&b, dir));
  ASSERT_EQ(b.meta.min_time, 1000);
  int64_t ft;
  ASSERT_EQ(count(&b, "{a=~\".*\"}", INT64_MIN, INT64_MAX, &ft), 0);
  block_reader_close(&b);
  free(dir);
  /* Out of order series are refused; abort removes the temporary dir. */
  ASSERT_OK(block_writer_open(&w, test_tmpdir(), 0));
  struct labels a = LABELS_INIT, z = LABELS_INIT;
  labels_add(&a, "x", "a");
  labels_add(&z, "x", "z");
  int64_t t = 1;
  double v = 1;
  ASSERT_OK(block_writer_add_samples(&w, &z, &t, &v, 1));
  ASSERT_EQ(block_writer_add_samples(&w, &a, &t, &v, 1), TC_EINVAL);
  char *tmp = xstrdup(w.tmpdir);
  block_writer_abort(&w);
  struct stat st;
  ASSERT(stat(tmp, &st) != 0);
  free(tmp);
  labels_release(&a);
  labels_release(&z);
  ASSERT_EQ(block_reader_open(&b, "/nonexistent"), TC_ENOTFOUND);
}
