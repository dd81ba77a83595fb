/*
 * test-tools.c - what `tools bucket mark` and `verify` run (compact_mark,
 * compact_verify) over a FILESYSTEM bucket of blocks written here, and the
 * compactor's checks of its inputs' indexes (out-of-order chunks).
 */
#include <sys/stat.h>
#include <time.h>

#include "test.h"

#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/objstore.h"
#include "thanosc/tsdb/block.h"
#include "thanosc/tsdb/bucket.h"
#include "thanosc/tsdb/chunkenc.h"
#include "thanosc/tsdb/chunks.h"
#include "thanosc/tsdb/index.h"
#include "thanosc/tsdb/meta.h"

/* Uploads a block of up{} with samples every second in [from, to) s. */
static char *upload(struct objstore *bkt, const char *parent, int from,
                    int to) {
  int64_t ts[64];
  double vs[64];
  size_t n = 0;
  for (int s = from; s < to && n < 64; s++, n++)
    ts[n] = s * 1000LL, vs[n] = s;
  struct block_writer w;
  ASSERT_OK(block_writer_open(&w, parent, 0));
  struct labels ls = LABELS_INIT;
  labels_add(&ls, "__name__", "up");
  ASSERT_OK(block_writer_add_samples(&w, &ls, ts, vs, n));
  labels_release(&ls);
  char *dir;
  ASSERT_OK(block_writer_finish(&w, NULL, &dir));
  ASSERT_OK(block_upload(bkt, dir, NULL));
  char *id = xstrdup(strrchr(dir, '/') + 1);
  free(dir);
  return id;
}

static bool exists(struct objstore *bkt, const char *id, const char *file) {
  char *name = xasprintf("%s/%s", id, file);
  int rc = objstore_exists(bkt, name);
  free(name);
  ASSERT(rc >= 0);
  return rc == 1;
}

/* A FILESYSTEM bucket in tmp/bkt. */
static struct objstore *tmp_bucket(const char *tmp) {
  char *yaml = xasprintf("type: FILESYSTEM\nconfig:\n  directory: %s/bkt\n",
                         tmp);
  struct objstore *bkt;
  ASSERT_OK(objstore_open(yaml, &bkt));
  free(yaml);
  return bkt;
}

TEST(compact_tools_mark_and_verify) {
  const char *tmp = test_tmpdir();
  struct objstore *bkt = tmp_bucket(tmp);
  char *local = xasprintf("%s/local", tmp);
  char *a = upload(bkt, local, 0, 30), *b = upload(bkt, local, 40, 60);

  struct compact_opts o = {
      .data_dir = tmp, .min_time = INT64_MIN, .max_time = INT64_MAX};
  unsigned all = COMPACT_ISSUE_OVERLAPS | COMPACT_ISSUE_INDEX;
  size_t found = 99;
  ASSERT_OK(compact_verify(bkt, &o, all, NULL, &found));
  ASSERT_EQ(found, 0);
  /* [20, 50) overlaps both: one run of three blocks. */
  char *c = upload(bkt, local, 20, 50);
  ASSERT_OK(compact_verify(bkt, &o, all, NULL, &found));
  ASSERT_EQ(found, 1);
  /* Only c's index is read: nothing wrong with it. */
  struct strlist ids = {0};
  strlist_push(&ids, c);
  ASSERT_OK(compact_verify(bkt, &o, COMPACT_ISSUE_INDEX, &ids, &found));
  ASSERT_EQ(found, 0);
  strlist_release(&ids);
  strlist_push(&ids, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
  ASSERT_EQ(compact_verify(bkt, &o, all, &ids, &found), TC_ENOTFOUND);
  strlist_release(&ids);

  /* Marked for deletion, c no longer counts as overlapping. */
  ASSERT_OK(compact_mark(bkt, MARKER_DELETION, c, "test", false));
  ASSERT(exists(bkt, c, "deletion-mark.json"));
  ASSERT_OK(compact_verify(bkt, &o, COMPACT_ISSUE_OVERLAPS, NULL, &found));
  ASSERT_EQ(found, 0);

  /* Put twice and removed twice: warnings, not errors. */
  for (int i = 0; i < 2; i++) {
    ASSERT_OK(compact_mark(bkt, MARKER_NO_COMPACT, a, NULL, false));
    ASSERT(exists(bkt, a, "no-compact-mark.json"));
  }
  struct block_marker mk;
  ASSERT_OK(block_marker_get(bkt, MARKER_NO_COMPACT, a, &mk));
  ASSERT_STREQ(mk.reason, "manual");
  block_marker_release(&mk);
  for (int i = 0; i < 2; i++) {
    ASSERT_OK(compact_mark(bkt, MARKER_NO_COMPACT, a, NULL, true));
    ASSERT(!exists(bkt, a, "no-compact-mark.json"));
  }
  ASSERT_EQ(compact_mark(bkt, MARKER_NO_DOWNSAMPLE,
                         "01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL, false),
            TC_ENOTFOUND);
  ASSERT(!exists(bkt, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "no-downsample-mark.json"));
  objstore_close(bkt);
  free(a);
  free(b);
  free(c);
  free(local);
}

/* A block of up{} whose one series has two chunks in the wrong order,
 * [40, 50) s then [20, 30) s, as some Prometheus versions wrote them: put
 * together by hand, since the block writer refuses it. */
static char *upload_out_of_order(struct objstore *bkt, const char *parent) {
  struct xor_enc e[2];
  struct chunk_data cd[2];
  struct chunk_meta cm[2] = {{.mint = 40000, .maxt = 49000},
                             {.mint = 20000, .maxt = 29000}};
  uint64_t refs[2];
  for (int c = 0; c < 2; c++) {
    xor_enc_init(&e[c]);
    for (int64_t t = cm[c].mint; t <= cm[c].maxt; t += 1000)
      ASSERT_OK(xor_enc_append(&e[c], t, (double)t));
    cd[c].enc = CHUNK_ENC_XOR;
    cd[c].data = xor_enc_bytes(&e[c], &cd[c].len);
  }
  struct block_meta m;
  block_meta_init(&m);
  tsdb_ulid_new(m.ulid, (int64_t)time(NULL) * 1000);
  char *dir = xasprintf("%s/%s", parent, m.ulid);
  ASSERT(mkdir(dir, 0755) == 0);
  char *sub = xasprintf("%s/chunks", dir);
  struct chunks_writer cw;
  ASSERT_OK(chunks_writer_open(&cw, sub, 0));
  ASSERT_OK(chunks_writer_write(&cw, cd, 2, refs));
  ASSERT_OK(chunks_writer_close(&cw));
  free(sub);
  cm[0].ref = refs[0], cm[1].ref = refs[1];
  sub = xasprintf("%s/index", dir);
  struct index_writer iw;
  ASSERT_OK(index_writer_open(&iw, sub));
  index_writer_accept_any_chunk_order(&iw);
  ASSERT_OK(index_writer_add_symbol(&iw, "__name__"));
  ASSERT_OK(index_writer_add_symbol(&iw, "up"));
  struct labels ls = LABELS_INIT;
  labels_add(&ls, "__name__", "up");
  ASSERT_OK(index_writer_add_series(&iw, &ls, cm, 2));
  ASSERT_OK(index_writer_close(&iw));
  labels_release(&ls);
  free(sub);
  m.min_time = 20000;
  m.max_time = 49001;
  m.stats.num_samples = 20;
  m.stats.num_series = 1;
  m.stats.num_chunks = 2;
  m.compaction.level = 1;
  block_meta_add_source(&m, m.ulid);
  m.version = 1;
  ASSERT_OK(block_meta_write(&m, dir));
  ASSERT_OK(block_upload(bkt, dir, NULL));
  char *id = xstrdup(m.ulid);
  block_meta_release(&m);
  free(dir);
  xor_enc_release(&e[0]);
  xor_enc_release(&e[1]);
  return id;
}

TEST(compact_out_of_order_chunks) {
  const char *tmp = test_tmpdir();
  struct objstore *bkt = tmp_bucket(tmp);
  char *local = xasprintf("%s/local", tmp);
  /* Overlapping, so that vertical compaction plans both. */
  char *a = upload(bkt, local, 0, 30), *b = upload_out_of_order(bkt, local);
  struct compact_opts o = {.data_dir = tmp,
                           .min_time = INT64_MIN,
                           .max_time = INT64_MAX,
                           .vertical = true,
                           .downsampling_disable = true,
                           .max_level = 4};
  int rc = compact_iterate(bkt, &o);
  ASSERT_EQ(rc, TC_ECORRUPT); /* fails the run, does not halt it */
  ASSERT(strstr(tc_errmsg(rc), "out-of-order") != NULL);
  ASSERT(!exists(bkt, b, "no-compact-mark.json"));
  ASSERT(!exists(bkt, a, "deletion-mark.json"));
  o.skip_out_of_order = true;
  ASSERT_OK(compact_iterate(bkt, &o));
  struct block_marker mk;
  ASSERT_OK(block_marker_get(bkt, MARKER_NO_COMPACT, b, &mk));
  ASSERT_STREQ(mk.reason, "block-index-out-of-order-chunk");
  block_marker_release(&mk);
  ASSERT(!exists(bkt, a, "deletion-mark.json")); /* nothing to merge a with */
  objstore_close(bkt);
  free(a);
  free(b);
  free(local);
}
