/* Unit tests of src/query: one TEST_ENTRY(name) per test. */
