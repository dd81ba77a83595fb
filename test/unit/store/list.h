/* Unit tests of src/store: one TEST_ENTRY(name) per test. */
TEST_ENTRY(store_indexheader_golden_bytes)
TEST_ENTRY(store_indexheader_refuses_damage)
TEST_ENTRY(store_index_cache_lru_bound)
TEST_ENTRY(store_query_downsampled_blocks)
TEST_ENTRY(store_lazy_index_many_values)
