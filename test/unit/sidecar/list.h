/* Unit tests of src/sidecar: one TEST_ENTRY(name) per test. */
