/* Unit tests of src/objstore: one TEST_ENTRY(name) per test. */
