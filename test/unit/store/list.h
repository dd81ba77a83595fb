/* Unit tests of src/store: one TEST_ENTRY(name) per test. */
TEST_ENTRY(store_indexheader_golden_bytes)
TEST_ENTRY(store_indexheader_refuses_damage)
TEST_ENTRY(store_index_cache_lru_bound)
