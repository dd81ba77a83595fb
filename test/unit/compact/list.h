/* Unit tests of src/compact: one TEST_ENTRY(name) per test. */
