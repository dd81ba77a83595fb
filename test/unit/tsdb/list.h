/* Unit tests of src/tsdb: one TEST_ENTRY(name) per test. */
TEST_ENTRY(labels_compare_hash_format)
TEST_ENTRY(labels_format_float_like_go)
TEST_ENTRY(labels_matchers)
TEST_ENTRY(labels_selector_parse)
TEST_ENTRY(chunkenc_xor_spec_vectors)
TEST_ENTRY(chunkenc_xor_roundtrip_random)
TEST_ENTRY(chunkenc_histogram_refused)
TEST_ENTRY(chunks_segment_write_read)
