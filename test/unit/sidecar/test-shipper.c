/* Tests of src/sidecar/shipper.c on a memory bucket (with the faulty
 * decorator) and fake block directories: what is uploaded, in which order
 * blocks go, that nothing is uploaded twice, that a failure stops the
 * round and the next round completes the block, the shipper file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "thanosc/objstore.h"
#include "thanosc/shipper.h"
#include "thanosc/tsdb/meta.h"

/* A block dir with meta.json, index and two chunk segments. */
static void make_block(const char *dir, char *ulid, int64_t mint, int level,
                       uint64_t samples) {
  tsdb_ulid_new(ulid, mint);
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, ulid);
  mkdir(p, 0777);
  snprintf(p, sizeof p, "%s/%s/chunks", dir, ulid);
  mkdir(p, 0777);
  const char *files[] = {"index", "chunks/000001", "chunks/000002"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s/%s", dir, ulid, files[i]);
    FILE *f = fopen(p, "wb");
    for (int k = 0; k < 100 * (i + 1); k++)
      fputc('a' + (k + i) % 26, f);
    fclose(f);
  }
  struct block_meta m;
  block_meta_init(&m);
  memcpy(m.ulid, ulid, TSDB_ULID_LEN + 1);
  m.min_time = mint, m.max_time = mint + 7200000;
  m.stats.num_samples = samples;
  m.compaction.level = level;
  block_meta_add_source(&m, ulid);
  m.version = 1;
  snprintf(p, sizeof p, "%s/%s", dir, ulid);
  block_meta_write(&m, p);
  block_meta_release(&m);
}

static int has(struct objstore *b, const char *ulid, const char *f) {
  char k[128];
  snprintf(k, sizeof k, "%s/%s", ulid, f);
  return objstore_exists(b, k) == 1;
}

static void ext_labels(struct labels *ls) {
  labels_init(ls);
  labels_add(ls, "cluster", "eu1");
  labels_add(ls, "replica", "0");
}

TEST(shipper_meta_file_roundtrip) {
  char path[512];
  snprintf(path, sizeof path, "%s/thanos.shipper.json", test_tmpdir());
  struct strlist l = {0};
  ASSERT_OK(shipper_meta_read(path, &l)); /* missing: empty */
  ASSERT_EQ(l.n, 0);
  ASSERT_OK(shipper_meta_write(path, &l));
  char *text;
  size_t n;
  ASSERT_OK(tc_read_file(path, 1 << 20, &text, &n));
  ASSERT_STREQ(text, "{\n\t\"version\": 1,\n\t\"uploaded\": null\n}\n");
  free(text);
  strlist_push(&l, "01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q");
  strlist_push(&l, "01J7ZQ1M7W1Y3Y1Y8F4M4W7N1R");
  ASSERT_OK(shipper_meta_write(path, &l));
  ASSERT_OK(tc_read_file(path, 1 << 20, &text, &n));
  ASSERT_STREQ(text, "{\n\t\"version\": 1,\n\t\"uploaded\": [\n"
                     "\t\t\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\",\n"
                     "\t\t\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1R\"\n\t]\n}\n");
  free(text);
  struct strlist r = {0};
  ASSERT_OK(shipper_meta_read(path, &r));
  ASSERT_EQ(r.n, 2);
  ASSERT_STREQ(r.v[1], "01J7ZQ1M7W1Y3Y1Y8F4M4W7N1R");
  strlist_release(&r);
  strlist_release(&l);
  /* Garbage is an error, not a crash. */
  tsdb_write_file_atomic(path, "{\"version\": 2}", 14);
  ASSERT_EQ(shipper_meta_read(path, &r), TC_ENOTSUP);
  tsdb_write_file_atomic(path, "{", 1);
  ASSERT_EQ(shipper_meta_read(path, &r), TC_EPARSE);
  strlist_release(&r);
}

TEST(shipper_uploads_in_order_and_once) {
  const char *dir = test_tmpdir();
  char a[32], b[32], empty[32], l2[32];
  make_block(dir, b, 1700007200000, 1, 10);
  make_block(dir, a, 1700000000000, 1, 10);
  make_block(dir, empty, 1700014400000, 1, 0);
  make_block(dir, l2, 1700021600000, 2, 10);
  struct objstore *bkt = objstore_mem_new();
  struct shipper s = {.dir = dir, .bkt = bkt, .source = "sidecar"};
  struct labels ext;
  ext_labels(&ext);
  struct shipper_stats st;
  ASSERT_OK(shipper_sync(&s, &ext, &st));
  ASSERT_EQ(st.uploaded, 2);
  ASSERT(has(bkt, a, "meta.json") && has(bkt, a, "index") &&
         has(bkt, a, "chunks/000001") && has(bkt, a, "chunks/000002"));
  ASSERT(has(bkt, b, "meta.json"));
  ASSERT(!has(bkt, empty, "meta.json")); /* no samples */
  ASSERT(!has(bkt, l2, "meta.json"));    /* compacted, not asked for */

  /* The uploaded meta.json has the Thanos section. */
  struct tc_buf buf;
  tc_buf_init(&buf, 1 << 20);
  char key[64];
  snprintf(key, sizeof key, "%s/meta.json", a);
  ASSERT_OK(objstore_get_buf(bkt, key, 0, &buf));
  struct block_meta m;
  ASSERT_OK(block_meta_parse(&m, buf.data, buf.len, "meta"));
  ASSERT(m.has_thanos);
  ASSERT_STREQ(m.thanos.source, "sidecar");
  ASSERT_STREQ(labels_get(&m.thanos.labels, "cluster"), "eu1");
  ASSERT_EQ(m.thanos.nsegment_files, 2);
  ASSERT_STREQ(m.thanos.segment_files[1], "000002");
  ASSERT_EQ(m.thanos.nfiles, 4);
  ASSERT_STREQ(m.thanos.files[0].rel_path, "chunks/000001");
  ASSERT_EQ(m.thanos.files[0].size, 200);
  ASSERT_STREQ(m.thanos.files[2].rel_path, "index");
  ASSERT_EQ(m.thanos.files[2].size, 100);
  ASSERT_STREQ(m.thanos.files[3].rel_path, "meta.json");
  ASSERT_EQ(m.thanos.files[3].size, 0);
  ASSERT_NOT_NULL(m.thanos.upload_time);
  block_meta_release(&m);
  tc_buf_release(&buf);

  /* The shipper file lists both; the staging area is gone. */
  char path[512];
  snprintf(path, sizeof path, "%s/thanos.shipper.json", dir);
  struct strlist l = {0};
  ASSERT_OK(shipper_meta_read(path, &l));
  ASSERT_EQ(l.n, 2);
  ASSERT_STREQ(l.v[0], a); /* oldest first */
  strlist_release(&l);
  snprintf(path, sizeof path, "%s/thanos/upload/%s", dir, a);
  struct stat sb;
  ASSERT(stat(path, &sb) != 0);

  /* Again: nothing uploaded twice. */
  ASSERT_OK(shipper_sync(&s, &ext, &st));
  ASSERT_EQ(st.uploaded, 0);

  /* Shipper file lost, blocks in the bucket: recorded, not uploaded. */
  snprintf(path, sizeof path, "%s/thanos.shipper.json", dir);
  unlink(path);
  ASSERT_OK(shipper_sync(&s, &ext, &st));
  ASSERT_EQ(st.uploaded, 0);
  ASSERT_EQ(st.existing, 2);

  /* Empty external labels are refused. */
  struct labels none = LABELS_INIT;
  ASSERT_EQ(shipper_sync(&s, &none, &st), TC_EINVAL);
  labels_release(&ext);
  objstore_close(bkt);
}

TEST(shipper_failure_stops_round_and_retries) {
  const char *dir = test_tmpdir();
  char a[32], b[32];
  make_block(dir, a, 1700000000000, 1, 10);
  make_block(dir, b, 1700007200000, 1, 10);
  struct objstore *mem = objstore_mem_new();
  struct objstore *bkt = objstore_faulty_new(mem);
  struct shipper s = {.dir = dir, .bkt = bkt, .source = "sidecar"};
  struct labels ext;
  ext_labels(&ext);
  struct shipper_stats st;
  /* The third upload of the round (block a's index) fails. */
  objstore_faulty_set(bkt, OBJSTORE_OP_UPLOAD, 3, 0, TC_EIO);
  ASSERT_EQ(shipper_sync(&s, &ext, &st), TC_EIO);
  ASSERT_EQ(st.failed, 1);
  ASSERT_EQ(st.uploaded, 0);
  ASSERT(has(bkt, a, "chunks/000002"));
  ASSERT(!has(bkt, a, "index"));
  ASSERT(!has(bkt, a, "meta.json")); /* no meta.json without its files */
  ASSERT(!has(bkt, b, "chunks/000001")); /* the round stopped */
  ASSERT_OK(shipper_sync(&s, &ext, &st));
  ASSERT_EQ(st.uploaded, 2);
  ASSERT(has(bkt, a, "meta.json") && has(bkt, a, "index"));
  ASSERT(has(bkt, b, "meta.json"));
  labels_release(&ext);
  objstore_close(bkt);
}

TEST(shipper_compacted_blocks) {
  const char *dir = test_tmpdir();
  char a[32], c[32], d[32];
  make_block(dir, a, 1700000000000, 1, 10);
  make_block(dir, c, 1700007200000, 3, 10);
  struct objstore *bkt = objstore_mem_new();
  struct shipper s = {.dir = dir, .bkt = bkt, .source = "sidecar",
                      .upload_compacted = 1};
  struct labels ext;
  ext_labels(&ext);
  struct shipper_stats st;
  ASSERT_OK(shipper_sync(&s, &ext, &st));
  ASSERT_EQ(st.uploaded, 2);
  ASSERT(has(bkt, c, "meta.json"));
  /* A compacted block overlapping one in the bucket is refused. */
  make_block(dir, d, 1700007200000 + 3600000, 2, 10);
  ASSERT_EQ(shipper_sync(&s, &ext, &st), TC_EINVAL);
  ASSERT(!has(bkt, d, "meta.json"));
  labels_release(&ext);
  objstore_close(bkt);
}

TEST(shipper_hash_func_sha256) {
  const char *dir = test_tmpdir();
  char a[32];
  make_block(dir, a, 1700000000000, 1, 10);
  struct objstore *bkt = objstore_mem_new();
  struct shipper s = {.dir = dir, .bkt = bkt, .source = "sidecar",
                      .hash_func = "SHA256"};
  struct labels ext;
  ext_labels(&ext);
  struct shipper_stats st;
  ASSERT_OK(shipper_sync(&s, &ext, &st));
  struct tc_buf buf;
  tc_buf_init(&buf, 1 << 20);
  char key[64];
  snprintf(key, sizeof key, "%s/meta.json", a);
  ASSERT_OK(objstore_get_buf(bkt, key, 0, &buf));
  struct block_meta m;
  ASSERT_OK(block_meta_parse(&m, buf.data, buf.len, "meta"));
  ASSERT_STREQ(m.thanos.files[2].rel_path, "index");
  ASSERT_STREQ(m.thanos.files[2].hash_func, "SHA256");
  ASSERT_STREQ(m.thanos.files[2].hash_value,
               "2ac123dcd759eebabfa1b17c0332b88b3815ef3f95fbfcceb5fac07e233235bd");
  ASSERT_NULL(m.thanos.files[3].hash_func); /* meta.json: none */
  block_meta_release(&m);
  tc_buf_release(&buf);
  labels_release(&ext);
  objstore_close(bkt);
}
