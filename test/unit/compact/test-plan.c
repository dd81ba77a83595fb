/*
 * test-plan.c - the compactor's planner (compact_plan): full ranges, the
 * newest block left alone, gaps, overlaps, no-compact marks, failed
 * compactions and the higher ranges; compact_target_chunks(); and the
 * garbage collection and consistency-delay tests of block metas.
 */
#include "test.h"

#include "thanosc/common.h"
#include "thanosc/compact.h"
#include "thanosc/tsdb/meta.h"

#define H (3600 * 1000LL)

static size_t plan(const struct plan_block *b, size_t n, size_t *out,
                   bool *overlap) {
  return compact_plan(b, n, compact_default_ranges, 4, out, overlap);
}

TEST(compact_plan_full_range) {
  /* Four 2h blocks fill [0, 8h); a fifth is the newest. */
  struct plan_block b[5];
  for (int i = 0; i < 5; i++)
    b[i] = (struct plan_block){i * 2 * H, (i + 1) * 2 * H, false, false};
  size_t out[5];
  bool ov = true;
  ASSERT_EQ(plan(b, 5, out, &ov), 4);
  ASSERT_FALSE(ov);
  for (size_t i = 0; i < 4; i++)
    ASSERT_EQ(out[i], i);
  /* Without the fifth, the fourth is the newest and the range is not
   * full: nothing yet. */
  ASSERT_EQ(plan(b, 4, out, &ov), 0);
  ASSERT_EQ(plan(b, 1, out, &ov), 0);
  ASSERT_EQ(plan(b, 0, out, &ov), 0);
}

TEST(compact_plan_gaps_and_newest) {
  /* [0,2h) [4h,6h) and the newest at [8h,10h): the range [0,8h) is not
   * full and ends after the last considered block's start: wait. */
  struct plan_block b[4] = {{0, 2 * H, false, false},
                            {4 * H, 6 * H, false, false},
                            {8 * H, 10 * H, false, false},
                            {16 * H, 18 * H, false, false}};
  size_t out[4];
  ASSERT_EQ(plan(b, 3, out, NULL), 0);
  /* With a block at 16h the one at 8h is no longer the newest, so the
   * gapped range before it is compacted. */
  ASSERT_EQ(plan(b, 4, out, NULL), 2);
  ASSERT_EQ(out[0], 0);
  ASSERT_EQ(out[1], 1);
}

TEST(compact_plan_overlap_first) {
  struct plan_block b[4] = {{0, 2 * H, false, false},
                            {2 * H, 4 * H, false, false},
                            {3 * H, 5 * H, false, false},
                            {10 * H, 12 * H, false, false}};
  size_t out[4];
  bool ov = false;
  ASSERT_EQ(plan(b, 4, out, &ov), 2);
  ASSERT_TRUE(ov);
  ASSERT_EQ(out[0], 1);
  ASSERT_EQ(out[1], 2);
  /* A no-compact mark takes a block out of the overlap check. */
  b[2].no_compact = true;
  ASSERT_EQ(plan(b, 4, out, &ov), 0);
  ASSERT_FALSE(ov);
}

TEST(compact_plan_no_compact_and_failed) {
  struct plan_block b[5];
  for (int i = 0; i < 5; i++)
    b[i] = (struct plan_block){i * 2 * H, (i + 1) * 2 * H, false, false};
  b[1].no_compact = true;
  size_t out[5];
  /* [0] alone before the mark is skipped; [2,3] after it are picked. */
  ASSERT_EQ(plan(b, 5, out, NULL), 2);
  ASSERT_EQ(out[0], 2);
  ASSERT_EQ(out[1], 3);
  b[1].no_compact = false;
  b[3].failed = true;
  ASSERT_EQ(plan(b, 5, out, NULL), 0);
}

TEST(compact_plan_higher_ranges) {
  /* Six 8h blocks fill [0, 48h); the 2d range comes after the 8h one. */
  struct plan_block b[7];
  for (int i = 0; i < 7; i++)
    b[i] = (struct plan_block){i * 8 * H, (i + 1) * 8 * H, false, false};
  size_t out[7];
  ASSERT_EQ(plan(b, 7, out, NULL), 6);
  ASSERT_EQ(out[5], 5);
  /* Limited to the first two ranges (--debug.max-compaction-level=2). */
  ASSERT_EQ(compact_plan(b, 7, compact_default_ranges, 2, out, NULL), 0);
  /* A block straddling 8h ranges waits for a 2d range ending before the
   * newest block's start. */
  struct plan_block m[3] = {{7 * H, 9 * H, false, false},
                            {9 * H, 11 * H, false, false},
                            {100 * H, 102 * H, false, false}};
  ASSERT_EQ(plan(m, 3, out, NULL), 0);
}

TEST(compact_target_chunks_like_thanos) {
  /* 48h of 1m samples at 5m: 576 windows, 5 chunks of <= 140. */
  ASSERT_EQ(compact_target_chunks(0, 48 * H - 60000, 60000, 300000, 2880), 5);
  /* Sparse data: fewer expected windows, fewer chunks. */
  ASSERT_EQ(compact_target_chunks(0, 48 * H, 60000, 300000, 100), 1);
  ASSERT_EQ(compact_target_chunks(5, 5, 60000, 300000, 1), 1);
}

/* A meta with the given ULID, sources and resolution. */
static void meta(struct block_meta *m, const char *id, const char *const *src,
                 size_t n, int64_t res) {
  block_meta_init(m);
  snprintf(m->ulid, sizeof m->ulid, "%s", id);
  for (size_t i = 0; i < n; i++)
    block_meta_add_source(m, src[i]);
  m->thanos.resolution = res;
}

TEST(compact_garbage_and_freshness) {
  const char *ab[] = {"01AAAAAAAAAAAAAAAAAAAAAAAA",
                      "01BBBBBBBBBBBBBBBBBBBBBBBB"};
  struct block_meta a, b, c, d;
  meta(&a, ab[0], ab, 1, 0);                             /* an input ... */
  meta(&b, "01CCCCCCCCCCCCCCCCCCCCCCCC", ab, 2, 0);      /* ... compacted */
  meta(&c, "01DDDDDDDDDDDDDDDDDDDDDDDD", ab, 2, 300000); /* downsampled */
  meta(&d, "01EEEEEEEEEEEEEEEEEEEEEEEE", ab, 2, 0);      /* a second upload */
  ASSERT_TRUE(block_meta_covered_by(&a, &b));
  ASSERT_FALSE(block_meta_covered_by(&b, &a));
  ASSERT_FALSE(block_meta_covered_by(&a, &c)); /* other resolution */
  ASSERT_TRUE(block_meta_covered_by(&b, &d));  /* same sources: newer wins */
  ASSERT_FALSE(block_meta_covered_by(&d, &b));
  ASSERT_FALSE(block_meta_covered_by(&b, &b));
  /* Consistency delay: from the ULID, from upload_time when set, never
   * for the compactor's blocks. */
  int64_t ulid_ms;
  ASSERT_TRUE(tsdb_ulid_parse(a.ulid, &ulid_ms));
  ASSERT_TRUE(block_meta_too_fresh(&a, 1000, ulid_ms + 500));
  ASSERT_FALSE(block_meta_too_fresh(&a, 1000, ulid_ms + 1000));
  a.thanos.upload_time = xstrdup("2026-01-10T00:00:00Z");
  ASSERT_TRUE(block_meta_too_fresh(&a, 60000, 1768003200000 + 59999));
  ASSERT_FALSE(block_meta_too_fresh(&a, 60000, 1768003200000 + 60000));
  a.thanos.source = xstrdup("compactor");
  ASSERT_FALSE(block_meta_too_fresh(&a, 60000, 1768003200000));
  block_meta_release(&a);
  block_meta_release(&b);
  block_meta_release(&c);
  block_meta_release(&d);
}
