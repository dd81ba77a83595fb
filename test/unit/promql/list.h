/* Unit tests of src/promql: one TEST_ENTRY(name) per test. */
