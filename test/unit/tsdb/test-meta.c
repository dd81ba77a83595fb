#include "test.h"
#include "thanosc/tsdb/meta.h"

static const char prom_meta[] =
    "{\n"
    "\t\"ulid\": \"01BKGV7JBM69T2G1BGBGM6KB12\",\n"
    "\t\"minTime\": 1602237600000,\n"
    "\t\"maxTime\": 1602244800000,\n"
    "\t\"stats\": {\n"
    "\t\t\"numSamples\": 553673232,\n"
    "\t\t\"numSeries\": 1346066,\n"
    "\t\t\"numChunks\": 4440437\n"
    "\t},\n"
    "\t\"compaction\": {\n"
    "\t\t\"level\": 1,\n"
    "\t\t\"sources\": [\n"
    "\t\t\t\"01BKGV7JBM69T2G1BGBGM6KB12\"\n"
    "\t\t]\n"
    "\t},\n"
    "\t\"version\": 1\n"
    "}";

static const char thanos_meta[] =
    "{\n"
    "\t\"ulid\": \"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\",\n"
    "\t\"minTime\": 1725000000000,\n"
    "\t\"maxTime\": 1725007200000,\n"
    "\t\"stats\": {\n"
    "\t\t\"numSamples\": 1200,\n"
    "\t\t\"numSeries\": 10,\n"
    "\t\t\"numChunks\": 10\n"
    "\t},\n"
    "\t\"compaction\": {\n"
    "\t\t\"level\": 1,\n"
    "\t\t\"sources\": [\n"
    "\t\t\t\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\"\n"
    "\t\t]\n"
    "\t},\n"
    "\t\"version\": 1,\n"
    "\t\"thanos\": {\n"
    "\t\t\"labels\": {\n"
    "\t\t\t\"cluster\": \"eu1\",\n"
    "\t\t\t\"replica\": \"0\"\n"
    "\t\t},\n"
    "\t\t\"downsample\": {\n"
    "\t\t\t\"resolution\": 0\n"
    "\t\t},\n"
    "\t\t\"source\": \"sidecar\",\n"
    "\t\t\"segment_files\": [\n"
    "\t\t\t\"000001\"\n"
    "\t\t],\n"
    "\t\t\"files\": [\n"
    "\t\t\t{\n"
    "\t\t\t\t\"rel_path\": \"chunks/000001\",\n"
    "\t\t\t\t\"size_bytes\": 4242\n"
    "\t\t\t},\n"
    "\t\t\t{\n"
    "\t\t\t\t\"rel_path\": \"index\",\n"
    "\t\t\t\t\"size_bytes\": 2567\n"
    "\t\t\t},\n"
    "\t\t\t{\n"
    "\t\t\t\t\"rel_path\": \"meta.json\"\n"
    "\t\t\t}\n"
    "\t\t],\n"
    "\t\t\"index_stats\": {},\n"
    "\t\t\"upload_time\": \"2024-08-30T08:01:02.123456789Z\"\n"
    "\t}\n"
    "}\n";

static void roundtrip(const char *text) {
  struct block_meta m;
  ASSERT_OK(block_meta_parse(&m, text, strlen(text), "test"));
  struct tc_buf b;
  tc_buf_init(&b, 0);
  ASSERT_OK(block_meta_format(&m, &b));
  ASSERT_STREQ(b.data, text);
  tc_buf_release(&b);
  block_meta_release(&m);
}

TEST(meta_json_roundtrip_byte_exact) {
  roundtrip(prom_meta);
  roundtrip(thanos_meta);
  struct block_meta m;
  ASSERT_OK(block_meta_parse(&m, thanos_meta, strlen(thanos_meta), "t"));
  ASSERT_STREQ(labels_get(&m.thanos.labels, "cluster"), "eu1");
  ASSERT_EQ(m.thanos.nfiles, 3);
  ASSERT_EQ(m.thanos.files[0].size, 4242);
  ASSERT_UEQ(m.stats.num_samples, 1200);
  ASSERT_OK(block_meta_write(&m, test_tmpdir()));
  block_meta_release(&m);
  ASSERT_OK(block_meta_read(&m, test_tmpdir()));
  ASSERT_STREQ(m.ulid, "01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q");
  block_meta_release(&m);
}

/* Floats in a section kept as it is (extensions) come out as Go's
 * encoding/json writes them. */
TEST(meta_json_floats_like_go) {
  const char *in = "{\"ulid\":\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\",\"minTime\":0,"
                   "\"maxTime\":1,\"version\":1,\"thanos\":{\"labels\":{},"
                   "\"extensions\":{\"a\":0.1,\"b\":1e-07,\"c\":1.5e21,"
                   "\"d\":-100.25,\"e\":0.0,\"f\":1e20}}}";
  struct block_meta m;
  ASSERT_OK(block_meta_parse(&m, in, strlen(in), "t"));
  struct tc_buf b;
  tc_buf_init(&b, 0);
  ASSERT_OK(block_meta_format(&m, &b));
  ASSERT(strstr(b.data, "\t\t\t\"a\": 0.1,\n"
                        "\t\t\t\"b\": 1e-7,\n"
                        "\t\t\t\"c\": 1.5e+21,\n"
                        "\t\t\t\"d\": -100.25,\n"
                        "\t\t\t\"e\": 0,\n"
                        "\t\t\t\"f\": 100000000000000000000\n") != NULL);
  tc_buf_release(&b);
  block_meta_release(&m);
}

TEST(meta_json_errors) {
  const char *bad[] = {
      "", "{", "[]", "{\"version\":2,\"ulid\":\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\"}",
      "{\"version\":1}", "{\"version\":1,\"ulid\":\"nope\"}",
      "{\"version\":1,\"ulid\":\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\",\"minTime\":\"x\"}",
      "{\"version\":1,\"ulid\":\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\",\"thanos\":{\"version\":7}}",
      "{\"version\":1,\"ulid\":\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\",\"thanos\":{\"labels\":{\"a\":1}}}",
      "{\"version\":1,\"ulid\":\"01J7ZQ1M7W1Y3Y1Y8F4M4W7N1Q\",\"compaction\":{\"sources\":[1]}}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct block_meta m;
    int rc = block_meta_parse(&m, bad[i], strlen(bad[i]), "bad.json");
    if (rc == 0)
      TEST_FAIL_("accepted: %s", bad[i]);
    ASSERT(strstr(tc_errmsg(rc), "bad.json") != NULL);
    block_meta_release(&m);
  }
  struct block_meta m;
  ASSERT_EQ(block_meta_read(&m, "/nonexistent"), TC_ENOTFOUND);
  block_meta_release(&m);
}

TEST(meta_markers_and_ulid) {
  static const char del[] = "{\"id\":\"01DN3SK96XDAEKRB1AN30AAW6E\",\"version\":1,"
                            "\"details\":\"source of compacted block\","
                            "\"deletion_time\":1600000000}";
  struct block_marker mk;
  ASSERT_OK(block_marker_parse(&mk, MARKER_DELETION, del, strlen(del)));
  ASSERT_EQ(mk.time, 1600000000);
  struct tc_buf b;
  tc_buf_init(&b, 0);
  ASSERT_OK(block_marker_format(&mk, &b));
  ASSERT_STREQ(b.data, del);
  block_marker_release(&mk);
  tc_buf_reset(&b);
  mk = (struct block_marker){MARKER_NO_COMPACT, "01DN3SK96XDAEKRB1AN30AAW6E", 1,
                             NULL, 42, (char *)"manual"};
  ASSERT_OK(block_marker_format(&mk, &b));
  ASSERT_STREQ(b.data, "{\"id\":\"01DN3SK96XDAEKRB1AN30AAW6E\",\"version\":1,"
                       "\"no_compact_time\":42,\"reason\":\"manual\"}");
  ASSERT_STREQ(marker_filename(MARKER_NO_COMPACT), "no-compact-mark.json");
  const char *v2 = "{\"id\":\"01DN3SK96XDAEKRB1AN30AAW6E\",\"version\":2}";
  ASSERT_EQ(block_marker_parse(&mk, MARKER_DELETION, v2, strlen(v2)), TC_ENOTSUP);
  block_marker_release(&mk);
  ASSERT_EQ(block_marker_parse(&mk, MARKER_DELETION, "x", 1), TC_EPARSE);
  block_marker_release(&mk);
  tc_buf_release(&b);
  char u[27];
  tsdb_ulid_new(u, 1602237600000);
  int64_t ms;
  ASSERT(tsdb_ulid_parse(u, &ms));
  ASSERT_EQ(ms, 1602237600000);
  ASSERT(tsdb_ulid_parse("01BKGV7JBM69T2G1BGBGM6KB12", &ms));
  ASSERT(!tsdb_ulid_parse("01BKGV7JBM69T2G1BGBGM6KB1I", NULL));
  ASSERT(!tsdb_ulid_parse("81BKGV7JBM69T2G1BGBGM6KB12", NULL));
}

TEST(meta_tombstones) {
  static const uint8_t one[] = {0x01, 0x30, 0xba, 0x30, 0x01, 0x03, 0xd0,
                                0x0f, 0xa0, 0x1f, 0x9b, 0x87, 0x59, 0x38};
  static const uint8_t empty[] = {0x01, 0x30, 0xba, 0x30, 0x01, 0, 0, 0, 0};
  struct tombstones t;
  ASSERT_OK(tombstones_parse(&t, one, sizeof(one), "x"));
  ASSERT_EQ(t.n, 1);
  ASSERT_UEQ(t.v[0].ref, 3);
  ASSERT_EQ(t.v[0].mint, 1000);
  ASSERT_EQ(t.v[0].maxt, 2000);
  size_t first;
  ASSERT_EQ(tombstones_for(&t, 3, &first), 1);
  ASSERT_EQ(tombstones_for(&t, 4, &first), 0);
  ASSERT_OK(tombstones_write(&t, test_tmpdir()));
  tombstones_release(&t);
  char path[512];
  snprintf(path, sizeof(path), "%s/tombstones", test_tmpdir());
  FILE *f = fopen(path, "rb");
  uint8_t buf[64];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  ASSERT_EQ(n, sizeof(one));
  ASSERT_MEMEQ(buf, one, n);
  ASSERT_OK(tombstones_parse(&t, empty, sizeof(empty), "x"));
  ASSERT_EQ(t.n, 0);
  tombstones_release(&t);
  for (size_t cut = 0; cut < sizeof(one); cut++) {
    ASSERT_NE(tombstones_parse(&t, one, cut, "x"), 0);
    tombstones_release(&t);
  }
  uint8_t bad[sizeof(one)];
  memcpy(bad, one, sizeof(one));
  bad[6] ^= 1;
  ASSERT_EQ(tombstones_parse(&t, bad, sizeof(bad), "x"), TC_ECHECKSUM);
  ASSERT_OK(tombstones_read(&t, "/nonexistent"));
  ASSERT_EQ(t.n, 0);
}
