/* Unit tests of src/core: one TEST_ENTRY(name) per test. */
TEST_ENTRY(buf_append_and_cap)
TEST_ENTRY(buf_varints_roundtrip)
TEST_ENTRY(decbuf_sticky_error)
TEST_ENTRY(error_message_and_wrap)
TEST_ENTRY(flags_forms)
TEST_ENTRY(flags_errors)
TEST_ENTRY(flags_durations_bytes_times)
TEST_ENTRY(metrics_exposition)
