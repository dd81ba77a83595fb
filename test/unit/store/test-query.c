/*
 * test-query.c - src/store/query.c over blocks written with the TSDB block
 * writer into a memory bucket: a raw block and a 5m-downsampled block
 * (AggrChunk, encoding 0xff) of the same external labels. Checks the
 * resolution choice (max_resolution_window; gaps filled from raw data),
 * the aggregates returned (and the error for a missing one), and Info.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/objstore.h"
#include "thanosc/store.h"
#include "thanosc/tsdb/block.h"

#define H 3600000LL

/* An XOR chunk of two samples. */
static void xor2(struct tc_buf *out, int64_t t, double v) {
  struct xor_enc e;
  xor_enc_init(&e);
  xor_enc_append(&e, t, v);
  xor_enc_append(&e, t + 300000, v + 1);
  size_t n;
  const uint8_t *p = xor_enc_bytes(&e, &n);
  tc_buf_add(out, p, n);
  xor_enc_release(&e);
}

/* count, sum, min, max present; counter absent (as a writer could). */
static void aggr_chunk(struct tc_buf *out, int64_t t) {
  for (int a = 0; a < 5; a++) {
    if (a == 4) {
      tc_buf_put_uvarint(out, 0);
      continue;
    }
    struct tc_buf x = TC_BUF_INIT;
    xor2(&x, t, 10.0 * (a + 1));
    tc_buf_put_uvarint(out, x.len);
    tc_buf_addc(out, 1);
    tc_buf_add(out, x.data, x.len);
    tc_buf_release(&x);
  }
}

static void upload_dir(struct objstore *os, const char *dir,
                       const char *prefix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char *p = xasprintf("%s/%s", dir, e->d_name);
    char *n = xasprintf("%s/%s", prefix, e->d_name);
    if (!strcmp(e->d_name, "chunks"))
      upload_dir(os, p, n);
    else if (strcmp(e->d_name, "tombstones") != 0)
      ASSERT_OK(objstore_upload_file(os, n, p));
    free(p);
    free(n);
  }
  closedir(d);
}

/* Writes one block of series up{i="0".."2"} into os. */
static void make_block(struct objstore *os, const char *tmp, int64_t mint,
                       int64_t maxt, int64_t res) {
  struct block_writer w;
  ASSERT_OK(block_writer_open(&w, tmp, mint + res + 1));
  for (int i = 0; i < 3; i++) {
    struct labels ls = LABELS_INIT;
    char v[4];
    snprintf(v, sizeof v, "%d", i);
    labels_add(&ls, "__name__", "up");
    labels_add(&ls, "i", v);
    struct tc_buf b = TC_BUF_INIT;
    struct chunk_data cd;
    struct chunk_meta cm = {.mint = mint, .maxt = mint + 300000};
    if (res) {
      aggr_chunk(&b, mint);
      cd = (struct chunk_data){.enc = 0xff, .data = (uint8_t *)b.data,
                               .len = b.len};
    } else {
      xor2(&b, mint, 1.0);
      cd = (struct chunk_data){.enc = 1, .data = (uint8_t *)b.data,
                               .len = b.len};
    }
    ASSERT_OK(block_writer_add_chunks(&w, &ls, &cd, &cm, 1));
    tc_buf_release(&b);
    labels_release(&ls);
  }
  struct block_meta m;
  block_meta_init(&m);
  m.min_time = mint;
  m.max_time = maxt;
  m.has_thanos = true;
  labels_add(&m.thanos.labels, "cluster", "a");
  m.thanos.resolution = res;
  m.thanos.source = xstrdup("compactor");
  char *dir;
  ASSERT_OK(block_writer_finish(&w, &m, &dir));
  block_meta_release(&m);
  const char *ulid = strrchr(dir, '/') + 1;
  upload_dir(os, dir, ulid);
  free(dir);
}

struct got {
  int series, raw, count, sum, max;
  int64_t first_mint;
};

static int run(struct bucket_store *s, int64_t mint, int64_t maxt,
               int64_t maxres, const Thanos__Aggr *aggrs, size_t naggrs,
               struct got *g) {
  Thanos__LabelMatcher m = THANOS__LABEL_MATCHER__INIT;
  m.name = "__name__";
  m.value = "up";
  Thanos__LabelMatcher *mp = &m;
  Thanos__SeriesRequest req = THANOS__SERIES_REQUEST__INIT;
  req.min_time = mint;
  req.max_time = maxt;
  req.n_matchers = 1;
  req.matchers = &mp;
  req.max_resolution_window = maxres;
  req.n_aggregates = naggrs;
  req.aggregates = (Thanos__Aggr *)aggrs;
  memset(g, 0, sizeof(*g));
  g->first_mint = INT64_MAX;
  struct store_query *q;
  int rc = store_series_start(s, &req, NULL, NULL, &q);
  if (rc)
    return rc;
  struct tc_buf out = TC_BUF_INIT;
  bool done = false;
  while (!rc && !done)
    rc = store_series_next(q, &out, 1 << 20, &done);
  store_query_free(q);
  const uint8_t *p = (const uint8_t *)out.data, *end = p + out.len;
  while (!rc && p < end) {
    uint64_t n = 0;
    int shift = 0;
    while (*p & 0x80)
      n |= (uint64_t)(*p++ & 0x7f) << shift, shift += 7;
    n |= (uint64_t)*p++ << shift;
    Thanos__SeriesResponse *r = thanos__series_response__unpack(NULL, n, p);
    p += n;
    if (r->result_case == THANOS__SERIES_RESPONSE__RESULT_SERIES) {
      g->series++;
      for (size_t i = 0; i < r->series->n_chunks; i++) {
        Thanos__AggrChunk *c = r->series->chunks[i];
        g->raw += c->raw != NULL;
        g->count += c->count != NULL;
        g->sum += c->sum != NULL;
        g->max += c->max != NULL;
        if (c->min_time < g->first_mint)
          g->first_mint = c->min_time;
      }
    }
    thanos__series_response__free_unpacked(r, NULL);
  }
  tc_buf_release(&out);
  return rc;
}

TEST(store_query_downsampled_blocks) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/tmp/thanosc-sq-%d", (int)getpid());
  struct objstore *os = objstore_mem_new();
  int64_t t0 = 1700000000000LL - 1700000000000LL % (2 * H);
  make_block(os, tmp, t0, t0 + 2 * H, 0);                 /* raw, 0-2h */
  make_block(os, tmp, t0 + 2 * H, t0 + 4 * H, 0);         /* raw, 2-4h */
  make_block(os, tmp, t0 + 2 * H, t0 + 4 * H, 300000);    /* 5m, 2-4h */
  char *data = xasprintf("%s/data", tmp);
  struct bucket_store s;
  struct bucket_store_opts o = {.data_dir = data, .min_time = INT64_MIN,
                                .max_time = INT64_MAX,
                                .ignore_deletion_marks_delay_ms = 0,
                                .block_sync_concurrency = 2};
  ASSERT_OK(bucket_store_init(&s, os, &o));
  ASSERT_OK(bucket_store_sync(&s));
  struct got g;
  const Thanos__Aggr cs[] = {THANOS__AGGR__COUNT, THANOS__AGGR__SUM};

  /* Raw only: both raw blocks, no aggregates. */
  ASSERT_OK(run(&s, t0, t0 + 4 * H, 0, cs, 2, &g));
  ASSERT_EQ(g.series, 3);
  ASSERT_EQ(g.raw, 6);
  ASSERT_EQ(g.count, 0);
  /* 5m allowed: the downsampled block for 2-4h, the gap before it from
   * raw data. */
  ASSERT_OK(run(&s, t0, t0 + 4 * H, 300000, cs, 2, &g));
  ASSERT_EQ(g.series, 3);
  ASSERT_EQ(g.raw, 3);
  ASSERT_EQ(g.count, 3);
  ASSERT_EQ(g.sum, 3);
  ASSERT_EQ(g.max, 0);
  ASSERT_EQ(g.first_mint, t0);
  /* Only the downsampled range. */
  ASSERT_OK(run(&s, t0 + 2 * H, t0 + 4 * H, 3600000, cs, 2, &g));
  ASSERT_EQ(g.raw, 0);
  ASSERT_EQ(g.count, 3);
  /* A missing aggregate fails the request clearly. */
  const Thanos__Aggr ctr[] = {THANOS__AGGR__COUNTER};
  int rc = run(&s, t0 + 2 * H, t0 + 4 * H, 300000, ctr, 1, &g);
  ASSERT_EQ(rc, TC_ENOTFOUND);
  ASSERT(strstr(tc_errmsg(rc), "aggregate counter does not exist"));

  /* Info: one label set, the whole range. */
  struct store_info in;
  store_info_get(&s, &in);
  ASSERT_EQ(in.nsets, 1);
  ASSERT_STREQ(labels_get(&in.sets[0], "cluster"), "a");
  ASSERT_EQ(in.ntsdbs, 3);
  ASSERT_EQ(in.min_time, t0);
  ASSERT_EQ(in.max_time, t0 + 4 * H);
  store_info_release(&in);

  bucket_store_release(&s);
  objstore_close(os);
  char *cmd = xasprintf("rm -rf %s", tmp);
  ASSERT_EQ(system(cmd), 0);
  free(cmd);
  free(data);
}
