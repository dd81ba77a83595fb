/* Unit tests of src/promql: one TEST_ENTRY(name) per test. */
TEST_ENTRY(promql_parse_print)
TEST_ENTRY(promql_parse_errors)
TEST_ENTRY(promql_duration_string)
TEST_ENTRY(promql_engine_instant)
TEST_ENTRY(promql_engine_range_rate)
TEST_ENTRY(promql_engine_max_samples)
