/*
 * test-tools.c - what `tools bucket mark` and `verify` run (compact_mark,
 * compact_verify) over a FILESYSTEM bucket of blocks written here.
 */
#include "test.h"

#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/objstore.h"
#include "thanosc/tsdb/block.h"
#include "thanosc/tsdb/bucket.h"

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

TEST(compact_tools_mark_and_verify) {
  const char *tmp = test_tmpdir();
  char *yaml = xasprintf("type: FILESYSTEM\nconfig:\n  directory: %s/bkt\n",
                         tmp);
  struct objstore *bkt;
  ASSERT_OK(objstore_open(yaml, &bkt));
  free(yaml);
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
