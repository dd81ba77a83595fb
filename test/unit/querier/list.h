/* Unit tests of src/querier: one TEST_ENTRY(name) per test. */
TEST_ENTRY(querier_endpoints_info_and_selection)
TEST_ENTRY(querier_partial_response)
TEST_ENTRY(querier_response_timeout)
TEST_ENTRY(querier_dead_endpoint_dropped)
TEST_ENTRY(querier_dns_and_sd_config)
TEST_ENTRY(querier_sd_file_reload)
