/* Unit tests of src/grpc: one TEST_ENTRY(name) per test. */
