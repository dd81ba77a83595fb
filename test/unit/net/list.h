/* Unit tests of src/net: one TEST_ENTRY(name) per test. */
