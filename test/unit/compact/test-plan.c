/*
 * test-plan.c - the compactor's planner (compact_plan): full ranges, the
 * newest block left alone, gaps, overlaps, no-compact marks, failed
 * compactions and the higher ranges; and compact_target_chunks().
 */
#include "test.h"

#include "thanosc/compact.h"

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
