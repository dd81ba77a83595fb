/* Unit tests of src/net: one TEST_ENTRY(name) per test. */
TEST_ENTRY(http_unescape_cases)
TEST_ENTRY(http_params_repeated_and_empty)
TEST_ENTRY(http_params_errors)
TEST_ENTRY(http_router_match_rules)
