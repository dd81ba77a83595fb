/* Tests of src/objstore/{objstore,config,mem,fs,prefix,faulty,acceptance}.c */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/metrics.h"
#include "thanosc/objstore.h"

static void quiet(const char *line) { (void)line; }

TEST(objstore_acceptance_mem) {
  struct objstore *os = objstore_mem_new();
  ASSERT_OK(objstore_acceptance(os, 3 << 20, 1100, quiet));
  objstore_close(os);
}

TEST(objstore_acceptance_fs) {
  char *yaml = xasprintf("type: FILESYSTEM\nconfig:\n  directory: %s/b\n",
                         test_tmpdir());
  struct objstore *os;
  ASSERT_OK(objstore_open(yaml, &os));
  ASSERT_OK(objstore_acceptance(os, 3 << 20, 300, quiet));
  objstore_close(os);
  free(yaml);
}

TEST(objstore_acceptance_prefix) {
  char *yaml = xasprintf("type: filesystem\nprefix: /pre/fix/\nconfig:\n"
                         "  directory: %s/b\n", test_tmpdir());
  struct objstore *os;
  ASSERT_OK(objstore_open(yaml, &os));
  ASSERT_OK(objstore_acceptance(os, 1 << 20, 50, quiet));
  ASSERT_OK(objstore_upload_buf(os, "x/y", "z", 1));
  char *path = xasprintf("%s/b/pre/fix/x/y", test_tmpdir());
  struct stat st;
  ASSERT_EQ(stat(path, &st), 0);
  free(path);
  objstore_close(os);
  free(yaml);
}

TEST(objstore_config_errors) {
  struct objstore *os = NULL;
  ASSERT_EQ(objstore_open("type: NOPE\n", &os), TC_EINVAL);
  ASSERT(strstr(tc_errmsg(TC_EINVAL), "NOPE"));
  ASSERT_EQ(objstore_open("config: {}\n", &os), TC_EINVAL);
  ASSERT_EQ(objstore_open("type: [a\n", &os), TC_EPARSE);
  ASSERT_EQ(objstore_open("- a\n- b\n", &os), TC_EPARSE);
  ASSERT_EQ(objstore_open("type: FILESYSTEM\nconfig: {}\n", &os), TC_EINVAL);
  ASSERT(strstr(tc_errmsg(TC_EINVAL), "directory"));
  ASSERT_EQ(objstore_open("type: FILESYSTEM\nconfig:\n  directory: /tmp/x\n"
                          "  bogus: 1\n", &os), TC_EINVAL);
  ASSERT(strstr(tc_errmsg(TC_EINVAL), "'bogus'"));
  ASSERT_EQ(objstore_open("type: FILESYSTEM\nextra: 1\nconfig:\n"
                          "  directory: /tmp/x\n", &os), TC_EINVAL);
  ASSERT(strstr(tc_errmsg(TC_EINVAL), "'extra'"));
  unsetenv("TC_TEST_UNSET_VAR");
  ASSERT_EQ(objstore_open("type: FILESYSTEM\nconfig:\n"
                          "  directory: ${TC_TEST_UNSET_VAR}\n", &os),
            TC_EINVAL);
  ASSERT(strstr(tc_errmsg(TC_EINVAL), "'TC_TEST_UNSET_VAR'"));
  ASSERT_EQ(objstore_open("", &os), TC_EINVAL);
  ASSERT_NULL(os);
}

TEST(objstore_config_env) {
  setenv("TC_TEST_DIR", test_tmpdir(), 1);
  struct objstore *os;
  ASSERT_OK(objstore_open("type: FILESYSTEM\nconfig:\n"
                          "  directory: ${TC_TEST_DIR}/$(TC_TEST_SUB)x\n", &os) ==
            TC_EINVAL ? 0 : 1);
  setenv("TC_TEST_SUB", "s", 1);
  ASSERT_OK(objstore_open("type: FILESYSTEM\nconfig:\n"
                          "  directory: ${TC_TEST_DIR}/$(TC_TEST_SUB)x\n", &os));
  ASSERT_OK(objstore_upload_buf(os, "a", "1", 1));
  char *path = xasprintf("%s/sx/a", test_tmpdir());
  ASSERT_EQ(access(path, F_OK), 0);
  char *want = xasprintf("fs: %s/sx", test_tmpdir());
  ASSERT_STREQ(os->bucket, want);
  free(want);
  free(path);
  objstore_close(os);
}

TEST(objstore_bad_names) {
  char *yaml = xasprintf("type: FILESYSTEM\nconfig:\n  directory: %s/b\n",
                         test_tmpdir());
  struct objstore *os;
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(objstore_open(yaml, &os));
  ASSERT_EQ(objstore_upload_buf(os, "../escape", "x", 1), TC_EINVAL);
  ASSERT_EQ(objstore_upload_buf(os, "a/../../escape", "x", 1), TC_EINVAL);
  ASSERT_EQ(objstore_upload_buf(os, "a//b", "x", 1), TC_EINVAL);
  ASSERT_EQ(objstore_upload_buf(os, "/abs", "x", 1), TC_EINVAL);
  ASSERT_EQ(objstore_upload_buf(os, "", "x", 1), TC_EINVAL);
  ASSERT_EQ(objstore_upload_buf(os, "dir/", "x", 1), TC_EINVAL);
  ASSERT_EQ(objstore_get_buf(os, "../etc/passwd", 0, &b), TC_EINVAL);
  ASSERT_EQ(objstore_delete(os, "a/./b"), TC_EINVAL);
  char *esc = xasprintf("%s/escape", test_tmpdir());
  ASSERT_NE(access(esc, F_OK), 0);
  /* A directory is not an object. */
  ASSERT_OK(objstore_upload_buf(os, "d/x", "x", 1));
  ASSERT_EQ(objstore_get_buf(os, "d", 0, &b), TC_ENOTFOUND);
  ASSERT_EQ(objstore_exists(os, "d"), 0);
  free(esc);
  tc_buf_release(&b);
  objstore_close(os);
  free(yaml);
}

TEST(objstore_get_limit) {
  struct objstore *os = objstore_mem_new();
  struct tc_buf b;
  tc_buf_init(&b, 4);
  ASSERT_OK(objstore_upload_buf(os, "a", "0123456789", 10));
  ASSERT_EQ(objstore_get_buf(os, "a", 0, &b), TC_ELIMIT);
  tc_buf_release(&b);
  objstore_close(os);
}

TEST(objstore_faulty) {
  struct objstore *os = objstore_faulty_new(objstore_mem_new());
  struct tc_buf b = TC_BUF_INIT;
  ASSERT_OK(objstore_upload_buf(os, "a", "0123456789", 10));
  objstore_faulty_set(os, OBJSTORE_OP_UPLOAD, 2, 0, TC_EIO);
  ASSERT_OK(objstore_upload_buf(os, "b", "x", 1));
  ASSERT_EQ(objstore_upload_buf(os, "c", "x", 1), TC_EIO);
  ASSERT_EQ(objstore_exists(os, "c"), 0);
  ASSERT_OK(objstore_upload_buf(os, "c", "x", 1));
  objstore_faulty_set(os, OBJSTORE_OP_GET, 1, 1, TC_EUNAVAIL);
  ASSERT_EQ(objstore_get_buf(os, "a", 0, &b), TC_EUNAVAIL);
  ASSERT_EQ(b.len, 5); /* half delivered, then the failure */
  ASSERT_EQ(objstore_get_buf(os, "a", 0, &b), TC_EUNAVAIL);
  ASSERT_EQ(objstore_faulty_count(os), 3);
  objstore_faulty_set(os, 0, 0, 0, 0);
  tc_buf_reset(&b);
  ASSERT_OK(objstore_get_buf(os, "a", 0, &b));
  ASSERT_EQ(b.len, 10);
  tc_buf_release(&b);
  objstore_close(os);
}

/* Every single failure in a sweep leaves objects whole or absent. */
TEST(objstore_faulty_sweep) {
  for (int n = 1; n <= 6; n++) {
    struct objstore *os = objstore_faulty_new(objstore_mem_new());
    objstore_faulty_set(os, OBJSTORE_OP_ALL, n, 0, TC_EIO);
    int failed = 0;
    for (int i = 0; i < 3; i++) {
      char name[8];
      snprintf(name, sizeof name, "o%d", i);
      if (objstore_upload_buf(os, name, "abcdef", 6) < 0)
        failed++;
      else if (objstore_exists(os, name) < 0)
        failed++;
    }
    struct tc_buf b = TC_BUF_INIT;
    objstore_faulty_set(os, 0, 0, 0, 0);
    for (int i = 0; i < 3; i++) {
      char name[8];
      snprintf(name, sizeof name, "o%d", i);
      tc_buf_reset(&b);
      int rc = objstore_get_buf(os, name, OBJSTORE_OPTIONAL, &b);
      ASSERT(rc == TC_ENOTFOUND || (rc == 0 && b.len == 6));
    }
    ASSERT_EQ(failed, n <= 6 ? 1 : 0);
    tc_buf_release(&b);
    objstore_close(os);
  }
}

static double mval(const char *name, const char *bucket, const char *op) {
  struct metric *m = metric_counter(name, "", "bucket,operation");
  return metric_value(metric_with(m, bucket, op));
}

TEST(objstore_metrics) {
  struct objstore *os = objstore_mem_new();
  struct tc_buf b = TC_BUF_INIT;
  const char *ops = "thanos_objstore_bucket_operations_total";
  const char *fails = "thanos_objstore_bucket_operation_failures_total";
  ASSERT_OK(objstore_upload_buf(os, "a", "x", 1));
  ASSERT_EQ(objstore_get_buf(os, "missing", OBJSTORE_OPTIONAL, &b),
            TC_ENOTFOUND);
  ASSERT_EQ(objstore_get_buf(os, "missing", 0, &b), TC_ENOTFOUND);
  ASSERT_EQ(objstore_exists(os, "missing"), 0);
  ASSERT_DBL_EQ(mval(ops, "mem", "upload"), 1);
  ASSERT_DBL_EQ(mval(ops, "mem", "get"), 2);
  ASSERT_DBL_EQ(mval(fails, "mem", "get"), 1);
  ASSERT_DBL_EQ(mval(ops, "mem", "exists"), 1);
  ASSERT_DBL_EQ(mval(fails, "mem", "exists"), 0);
  struct tc_buf out = TC_BUF_INIT;
  ASSERT_OK(metrics_write(&out));
  ASSERT(strstr(out.data, "thanos_objstore_bucket_last_successful_upload_time"
                          "{bucket=\"mem\"}"));
  ASSERT(strstr(out.data, "thanos_objstore_bucket_operation_duration_seconds_"
                          "bucket{bucket=\"mem\",operation=\"upload\",le=\"0.01\"}"));
  tc_buf_release(&out);
  tc_buf_release(&b);
  objstore_close(os);
}

TEST(objstore_download_and_range_buf) {
  struct objstore *os = objstore_faulty_new(objstore_mem_new());
  struct tc_buf b = TC_BUF_INIT;
  char *path = xasprintf("%s/dl", test_tmpdir());
  ASSERT_OK(objstore_upload_buf(os, "a", "0123456789", 10));
  ASSERT_OK(objstore_get_range_buf(os, "a", 2, 3, 0, &b));
  ASSERT_EQ(b.len, 3);
  ASSERT_MEMEQ(b.data, "234", 3);
  ASSERT_OK(objstore_download(os, "a", 0, path));
  FILE *f = fopen(path, "rb");
  char got[16] = {0};
  ASSERT_EQ(fread(got, 1, sizeof got, f), 10);
  fclose(f);
  ASSERT_STREQ(got, "0123456789");
  /* A failed download leaves the old file whole and no temporary behind. */
  objstore_faulty_set(os, OBJSTORE_OP_GET, 1, 0, TC_EIO);
  ASSERT_OK(objstore_upload_buf(os, "a", "abcdefghijklmnop", 16));
  ASSERT_EQ(objstore_download(os, "a", 0, path), TC_EIO);
  f = fopen(path, "rb");
  memset(got, 0, sizeof got);
  ASSERT_EQ(fread(got, 1, sizeof got, f), 10);
  fclose(f);
  ASSERT_EQ(objstore_download(os, "missing", OBJSTORE_OPTIONAL, path),
            TC_ENOTFOUND);
  char *cmd = xasprintf("ls %s | grep -c tmp- >/dev/null", test_tmpdir());
  ASSERT_NE(system(cmd), 0);
  free(cmd);
  free(path);
  tc_buf_release(&b);
  objstore_close(os);
}

/* A backend that fills only some slots answers TC_ENOTSUP for the rest. */
static int ro_open(struct objstore *os, struct objstore_cfg *cfg) {
  (void)cfg;
  os->bucket = xstrdup("ro");
  return 0;
}

static const struct objstore_ops ro_ops = {
    .name = "RO",
    .instance_size = sizeof(struct objstore),
    .open = ro_open,
};

TEST(objstore_missing_slots) {
  struct objstore *os;
  struct tc_buf b = TC_BUF_INIT;
  struct objstore_attrs a;
  ASSERT_OK(objstore_open_ops(&ro_ops, NULL, &os));
  ASSERT_EQ(objstore_upload_buf(os, "a", "x", 1), TC_ENOTSUP);
  ASSERT(strstr(tc_errmsg(TC_ENOTSUP), "RO"));
  ASSERT_EQ(objstore_get_buf(os, "a", 0, &b), TC_ENOTSUP);
  ASSERT_EQ(objstore_exists(os, "a"), TC_ENOTSUP);
  ASSERT_EQ(objstore_attributes(os, "a", 0, &a), TC_ENOTSUP);
  ASSERT_EQ(objstore_delete(os, "a"), TC_ENOTSUP);
  ASSERT_EQ(objstore_iter(os, "", 0, NULL, NULL), TC_ENOTSUP);
  objstore_close(os);
}

TEST(objstore_reader) {
  struct objstore *os = objstore_mem_new();
  char data[1000], got[1100];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)(i * 7);
  ASSERT_OK(objstore_upload_buf(os, "a", data, sizeof data));
  /* Whole object through a 64-byte window, odd read sizes. */
  struct objstore_reader r;
  objstore_reader_open(&r, os, "a", 0, -1, 64, 0);
  size_t total = 0;
  ssize_t k;
  while ((k = objstore_reader_read(&r, got + total, 37)) > 0)
    total += (size_t)k;
  ASSERT_EQ(k, 0);
  ASSERT_EQ(total, sizeof data);
  ASSERT_MEMEQ(got, data, sizeof data);
  objstore_reader_close(&r);
  /* A range, exactly a multiple of the window. */
  objstore_reader_open(&r, os, "a", 100, 128, 64, 0);
  total = 0;
  while ((k = objstore_reader_read(&r, got + total, 1000)) > 0)
    total += (size_t)k;
  ASSERT_EQ(total, 128);
  ASSERT_MEMEQ(got, data + 100, 128);
  objstore_reader_close(&r);
  /* Missing object: the error, not an empty read. */
  objstore_reader_open(&r, os, "missing", 0, -1, 64, OBJSTORE_OPTIONAL);
  ASSERT_EQ(objstore_reader_read(&r, got, 10), TC_ENOTFOUND);
  objstore_reader_close(&r);
  objstore_close(os);
}
