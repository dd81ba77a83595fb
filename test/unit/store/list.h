/* Unit tests of src/store: one TEST_ENTRY(name) per test. */
