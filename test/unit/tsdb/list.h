/* Unit tests of src/tsdb: one TEST_ENTRY(name) per test. */
