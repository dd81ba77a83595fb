/* Unit tests of src/compact: one TEST_ENTRY(name) per test. */
TEST_ENTRY(compact_plan_full_range)
TEST_ENTRY(compact_plan_gaps_and_newest)
TEST_ENTRY(compact_plan_overlap_first)
TEST_ENTRY(compact_plan_no_compact_and_failed)
TEST_ENTRY(compact_plan_higher_ranges)
TEST_ENTRY(compact_target_chunks_like_thanos)
TEST_ENTRY(compact_merge_copies_and_dedups)
TEST_ENTRY(compact_downsample_spec_example)
