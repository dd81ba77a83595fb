/* Tests of src/grpc/util.c and of our .proto files' wire bytes. */
#include <stdlib.h>
#include <string.h>

#include "grpc/internal.h"
#include "info.pb-c.h"
#include "storepb_rpc.pb-c.h"
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/error.h"
#include "thanosc/grpc.h"

TEST(grpc_code_names_and_mapping) {
  ASSERT_STREQ(grpc_code_name(GRPC_OK), "OK");
  ASSERT_STREQ(grpc_code_name(GRPC_CANCELLED), "Canceled");
  ASSERT_STREQ(grpc_code_name(GRPC_RESOURCE_EXHAUSTED), "ResourceExhausted");
  ASSERT_STREQ(grpc_code_name(GRPC_UNAUTHENTICATED), "Unauthenticated");
  ASSERT_STREQ(grpc_code_name(99), "Unknown");
  ASSERT_STREQ(grpc_code_name(-1), "Unknown");
  ASSERT_EQ(grpc_code_from_tc(TC_EINVAL), GRPC_INVALID_ARGUMENT);
  ASSERT_EQ(grpc_code_from_tc(TC_ELIMIT), GRPC_RESOURCE_EXHAUSTED);
  ASSERT_EQ(grpc_code_from_tc(TC_ENOTSUP), GRPC_UNIMPLEMENTED);
  ASSERT_EQ(grpc_code_from_tc(TC_EIO), GRPC_INTERNAL);
  ASSERT_EQ(grpc_code_to_tc(GRPC_UNAVAILABLE), TC_EUNAVAIL);
  ASSERT_EQ(grpc_code_to_tc(GRPC_DEADLINE_EXCEEDED), TC_ETIMEOUT);
}

TEST(grpc_percent_encoding) {
  char *e = grpc_percent_encode("a 100% \xc3\xa9\n");
  ASSERT_STREQ(e, "a 100%25 %C3%A9%0A");
  char *d = grpc_percent_decode(e);
  ASSERT_STREQ(d, "a 100% \xc3\xa9\n");
  free(e);
  free(d);
  d = grpc_percent_decode("bad %zz and %4");
  ASSERT_STREQ(d, "bad %zz and %4");
  free(d);
}

TEST(grpc_timeout_values) {
  int64_t ms;
  ASSERT_OK(grpc_timeout_parse("100m", &ms));
  ASSERT_EQ(ms, 100);
  ASSERT_OK(grpc_timeout_parse("5S", &ms));
  ASSERT_EQ(ms, 5000);
  ASSERT_OK(grpc_timeout_parse("2H", &ms));
  ASSERT_EQ(ms, 7200000);
  ASSERT_OK(grpc_timeout_parse("1500u", &ms));
  ASSERT_EQ(ms, 2);
  ASSERT_OK(grpc_timeout_parse("1n", &ms));
  ASSERT_EQ(ms, 1);
  ASSERT_EQ(grpc_timeout_parse("", &ms), TC_EPARSE);
  ASSERT_EQ(grpc_timeout_parse("10", &ms), TC_EPARSE);
  ASSERT_EQ(grpc_timeout_parse("1x", &ms), TC_EPARSE);
  ASSERT_EQ(grpc_timeout_parse("123456789S", &ms), TC_EPARSE);
  ASSERT_EQ(grpc_timeout_parse("-5S", &ms), TC_EPARSE);
  char buf[32];
  grpc_timeout_format(250, buf, sizeof buf);
  ASSERT_STREQ(buf, "250m");
  grpc_timeout_format(0, buf, sizeof buf);
  ASSERT_STREQ(buf, "1m");
  grpc_timeout_format(200000000, buf, sizeof buf);
  ASSERT_STREQ(buf, "200000S");
}

TEST(grpc_snappy_roundtrip) {
  size_t n = 300000;
  char *in = malloc(n);
  for (size_t i = 0; i < n; i++) /* half compressible, half noise */
    in[i] = i < n / 2 ? (char)(i % 7) : (char)(rand() & 0xff);
  struct tc_buf c = TC_BUF_INIT, d = TC_BUF_INIT;
  ASSERT_OK(grpc_snappy_compress(in, n, &c));
  ASSERT_MEMEQ(c.data, "\xff\x06\x00\x00sNaPpY", 10);
  ASSERT_OK(grpc_snappy_decompress(c.data, c.len, &d, 0));
  ASSERT_EQ(d.len, n);
  ASSERT_MEMEQ(d.data, in, n);
  tc_buf_reset(&d);
  ASSERT_EQ(grpc_snappy_decompress(c.data, c.len, &d, n - 1), TC_ELIMIT);
  /* Empty input: only the stream identifier. */
  tc_buf_reset(&c);
  tc_buf_reset(&d);
  ASSERT_OK(grpc_snappy_compress("", 0, &c));
  ASSERT_EQ(c.len, 10);
  ASSERT_OK(grpc_snappy_decompress(c.data, c.len, &d, 0));
  ASSERT_EQ(d.len, 0);
  tc_buf_release(&c);
  tc_buf_release(&d);
  free(in);
}

TEST(grpc_snappy_bad_input) {
  struct tc_buf c = TC_BUF_INIT, d = TC_BUF_INIT;
  ASSERT_OK(grpc_snappy_compress("hello hello hello hello", 23, &c));
  /* no stream identifier */
  ASSERT_EQ(grpc_snappy_decompress(c.data + 10, c.len - 10, &d, 0),
            TC_ECORRUPT);
  /* truncated chunk */
  ASSERT_EQ(grpc_snappy_decompress(c.data, c.len - 1, &d, 0), TC_ECORRUPT);
  ASSERT_EQ(grpc_snappy_decompress(c.data, 12, &d, 0), TC_ECORRUPT);
  /* flipped checksum */
  c.data[14] ^= 1;
  tc_buf_reset(&d);
  ASSERT_EQ(grpc_snappy_decompress(c.data, c.len, &d, 0), TC_ECHECKSUM);
  /* reserved unskippable chunk type; skippable ones are ignored */
  const char reserved[] = "\xff\x06\x00\x00sNaPpY\x02\x00\x00\x00";
  ASSERT_EQ(grpc_snappy_decompress(reserved, 14, &d, 0), TC_ECORRUPT);
  const char skip[] = "\xff\x06\x00\x00sNaPpY\x80\x01\x00\x00z";
  tc_buf_reset(&d);
  ASSERT_OK(grpc_snappy_decompress(skip, 15, &d, 0));
  ASSERT_EQ(d.len, 0);
  /* a chunk without room for its checksum */
  const char short_crc[] = "\xff\x06\x00\x00sNaPpY\x01\x02\x00\x00ab";
  ASSERT_EQ(grpc_snappy_decompress(short_crc, 16, &d, 0), TC_ECORRUPT);
  tc_buf_release(&c);
  tc_buf_release(&d);
}

TEST(grpc_frame_and_deframe) {
  struct tc_buf f = TC_BUF_INIT, scratch = TC_BUF_INIT;
  ASSERT_OK(grpc__frame_msg(&f, "abc", 3, 0, 100));
  ASSERT_OK(grpc__frame_msg(&f, "hello", 5, 1, 100));
  ASSERT_EQ(grpc__frame_msg(&f, "toolong", 7, 0, 6), TC_ELIMIT);
  ASSERT_MEMEQ(f.data,
               "\x00\x00\x00\x00\x03"
               "abc",
               8);
  const uint8_t *m;
  size_t n, used;
  const uint8_t *p = (const uint8_t *)f.data;
  ASSERT_EQ(grpc__deframe(p, 4, 0, 100, &scratch, &m, &n, &used), 1);
  ASSERT_EQ(grpc__deframe(p, 7, 0, 100, &scratch, &m, &n, &used), 1);
  ASSERT_OK(grpc__deframe(p, f.len, 0, 100, &scratch, &m, &n, &used));
  ASSERT_EQ(n, 3);
  ASSERT_EQ(used, 8);
  ASSERT_MEMEQ(m, "abc", 3);
  /* compressed message: needs the snappy encoding */
  ASSERT_EQ(grpc__deframe(p + 8, f.len - 8, 0, 100, &scratch, &m, &n, &used),
            TC_EPROTO);
  ASSERT_OK(grpc__deframe(p + 8, f.len - 8, 1, 100, &scratch, &m, &n, &used));
  ASSERT_EQ(n, 5);
  ASSERT_MEMEQ(m, "hello", 5);
  ASSERT_EQ(grpc__deframe(p + 8, f.len - 8, 1, 4, &scratch, &m, &n, &used),
            TC_ELIMIT);
  /* limits are checked on the prefix, before the body arrives */
  ASSERT_EQ(grpc__deframe((const uint8_t *)"\x00\x00\x01\x00\x00", 5, 0, 1000,
                          &scratch, &m, &n, &used),
            TC_ELIMIT);
  ASSERT_EQ(grpc__deframe((const uint8_t *)"\x02\x00\x00\x00\x00", 5, 0, 1000,
                          &scratch, &m, &n, &used),
            TC_EPROTO);
  tc_buf_release(&f);
  tc_buf_release(&scratch);
}

/* Byte-exact encodings from spec/storeapi.md section 9 and section 6. */
TEST(grpc_storeapi_wire_examples) {
  Thanos__LabelMatcher lm = THANOS__LABEL_MATCHER__INIT;
  lm.name = "__name__", lm.value = "up";
  Thanos__LabelMatcher *lmp = &lm;
  Thanos__SeriesRequest r = THANOS__SERIES_REQUEST__INIT;
  r.max_time = 1000;
  r.n_matchers = 1, r.matchers = &lmp;
  uint8_t buf[128];
  size_t n = thanos__series_request__pack(&r, buf);
  ASSERT_EQ(n, 19);
  ASSERT_MEMEQ(buf, "\x10\xe8\x07\x1a\x0e\x12\x08__name__\x1a\x02up", 19);

  Thanos__SeriesResponse w = THANOS__SERIES_RESPONSE__INIT;
  w.result_case = THANOS__SERIES_RESPONSE__RESULT_WARNING;
  w.warning = "";
  n = thanos__series_response__pack(&w, buf);
  ASSERT_EQ(n, 2);
  ASSERT_MEMEQ(buf, "\x12\x00", 2);

  Thanos__Label l = THANOS__LABEL__INIT;
  l.name = "replica", l.value = "0";
  Thanos__Label *lp = &l;
  Thanos__ZLabelSet ls = THANOS__ZLABEL_SET__INIT;
  ls.n_labels = 1, ls.labels = &lp;
  Thanos__ZLabelSet *lsp = &ls;
  Thanos__Info__TSDBInfo ti = THANOS__INFO__TSDBINFO__INIT;
  ti.labels = &ls, ti.min_time = 1000, ti.max_time = INT64_MAX;
  Thanos__Info__TSDBInfo *tip = &ti;
  Thanos__Info__StoreInfo si = THANOS__INFO__STORE_INFO__INIT;
  si.min_time = 1000, si.max_time = INT64_MAX;
  si.supports_sharding = 1, si.supports_without_replica_labels = 1;
  si.n_tsdb_infos = 1, si.tsdb_infos = &tip;
  Thanos__Info__RulesInfo ri = THANOS__INFO__RULES_INFO__INIT;
  Thanos__Info__MetricMetadataInfo mi =
      THANOS__INFO__METRIC_METADATA_INFO__INIT;
  Thanos__Info__TargetsInfo tgi = THANOS__INFO__TARGETS_INFO__INIT;
  Thanos__Info__ExemplarsInfo ei = THANOS__INFO__EXEMPLARS_INFO__INIT;
  Thanos__Info__StatusInfo sti = THANOS__INFO__STATUS_INFO__INIT;
  Thanos__Info__InfoResponse ir = THANOS__INFO__INFO_RESPONSE__INIT;
  ir.n_label_sets = 1, ir.label_sets = &lsp;
  ir.componenttype = "sidecar";
  ir.store = &si, ir.rules = &ri, ir.metric_metadata = &mi;
  ir.targets = &tgi, ir.exemplars = &ei, ir.status = &sti;
  n = thanos__info__info_response__pack(&ir, buf);
  ASSERT_EQ(n, 85);
  ASSERT_MEMEQ(buf,
               "\x0a\x0e\x0a\x0c\x0a\x07replica\x12\x01"
               "0",
               16);
  ASSERT_MEMEQ(buf + n - 10, "\x22\x00\x2a\x00\x32\x00\x3a\x00\x4a\x00", 10);
}
