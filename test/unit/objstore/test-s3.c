/* Tests of src/objstore/{sigv4,s3xml,s3creds}.c: pure functions. */
#include <stdlib.h>
#include <unistd.h>

#include "objstore/s3.h"
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/objstore.h"

TEST(s3_sigv4_get_vanilla) {
  const struct s3_kv h[] = {{"Host", "example.amazonaws.com"},
                            {"X-Amz-Date", "20150830T123600Z"}};
  char hash[65];
  s3_sha256_hex("", 0, hash);
  struct s3_sign_req r = {
      .method = "GET", .path = "/", .headers = h, .nheaders = 2,
      .payload_hash = hash, .amz_date = "20150830T123600Z",
      .region = "us-east-1", .service = "service", .access_key = "AKIDEXAMPLE",
      .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
  struct tc_buf out = TC_BUF_INIT;
  ASSERT_OK(s3_sign(&r, &out));
  ASSERT_STREQ(out.data,
               "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
               "service/aws4_request, SignedHeaders=host;x-amz-date, "
               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8a"
               "ae1d763fbf31");
  r.amz_date = "2015";
  ASSERT_EQ(s3_sign(&r, &out), TC_EINVAL);
  tc_buf_release(&out);
}

TEST(s3_uri_encode) {
  struct tc_buf b = TC_BUF_INIT;
  tc_buf_adds(&b, "");
  s3_uri_encode(&b, "a b/\xc3\xa9+~_.-*", 1);
  ASSERT_STREQ(b.data, "a%20b/%C3%A9%2B~_.-%2A");
  tc_buf_reset(&b);
  tc_buf_adds(&b, "");
  s3_uri_encode(&b, "x/y=", 0);
  ASSERT_STREQ(b.data, "x%2Fy%3D");
  tc_buf_release(&b);
}

static const char list_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>b</Name><Prefix>d/</Prefix><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>tok+/=</NextContinuationToken>"
    "<Contents><Key>d/a&amp;b</Key><Size>3</Size></Contents>"
    "<Contents><Key>d/c</Key></Contents>"
    "<CommonPrefixes><Prefix>d/sub/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

TEST(s3_xml_list) {
  struct s3_list_page pg;
  ASSERT_OK(s3xml_list(list_xml, strlen(list_xml), &pg));
  ASSERT_EQ(pg.nkeys, 2);
  ASSERT_STREQ(pg.keys[0], "d/a&b");
  ASSERT_EQ(pg.nprefixes, 1);
  ASSERT_STREQ(pg.prefixes[0], "d/sub/");
  ASSERT_EQ(pg.truncated, 1);
  ASSERT_STREQ(pg.next_token, "tok+/=");
  s3_list_page_release(&pg);
}

TEST(s3_xml_errors) {
  struct s3_list_page pg;
  struct s3_error e;
  ASSERT_EQ(s3xml_list("<ListBucketResult><Contents>", 28, &pg), TC_EPARSE);
  ASSERT_EQ(s3xml_list("not xml", 7, &pg), TC_EPARSE);
  ASSERT_EQ(s3xml_list("", 0, &pg), TC_EPARSE);
  struct tc_buf deep = TC_BUF_INIT;
  for (int i = 0; i < 40; i++)
    tc_buf_adds(&deep, "<a>");
  for (int i = 0; i < 40; i++)
    tc_buf_adds(&deep, "</a>");
  ASSERT_EQ(s3xml_list(deep.data, deep.len, &pg), TC_EPARSE);
  tc_buf_release(&deep);
  /* Entity expansion bombs are refused by expat, not expanded. */
  static const char bomb[] =
      "<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;"
      "&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
      "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>"
      "<ListBucketResult><Contents><Key>&d;&d;&d;&d;&d;&d;&d;&d;</Key>"
      "</Contents></ListBucketResult>";
  int rc = s3xml_list(bomb, strlen(bomb), &pg);
  if (rc == 0)
    s3_list_page_release(&pg);
  static const char err[] = "<?xml version=\"1.0\"?><Error><Code>AccessDenied"
                            "</Code><Message>Access Denied</Message></Error>";
  s3xml_error(err, strlen(err), &e);
  ASSERT_STREQ(e.code, "AccessDenied");
  ASSERT_STREQ(e.message, "Access Denied");
  s3xml_error("<Error><Code>", 13, &e);
  ASSERT_STREQ(e.code, "");
  s3xml_error(NULL, 0, &e);
  ASSERT_STREQ(e.code, "");
}

TEST(s3_dates) {
  time_t t;
  ASSERT_OK(s3_parse_iso8601("2026-11-24T02:00:00Z", &t));
  ASSERT_EQ(t, 1795485600);
  ASSERT_OK(s3_parse_iso8601("2026-11-24T02:00:00.123Z", &t));
  ASSERT_EQ(t, 1795485600);
  ASSERT_EQ(s3_parse_iso8601("2026-11-24T02:00:00+02:00", &t), TC_EPARSE);
  ASSERT_EQ(s3_parse_iso8601("yesterday", &t), TC_EPARSE);
  ASSERT_OK(s3_parse_http_date("Tue, 24 Nov 2026 02:00:00 GMT", &t));
  ASSERT_EQ(t, 1795485600);
  ASSERT_EQ(s3_parse_http_date("", &t), TC_EPARSE);
}

TEST(s3_config_errors) {
  static const char *const bad[][2] = {
      {"type: S3\nconfig:\n  endpoint: h:1\n", "missing bucket"},
      {"type: S3\nconfig:\n  bucket: b\n", "missing endpoint"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: http://h:1\n", "scheme"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  access_key: a\n",
       "without secret_key"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  signature_version2: true\n", "signature_version2"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  list_objects_version: v3\n", "v3"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  bucket_lookup_type: dns\n", "dns"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  part_size: 1000\n", "part_size"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  sse_config:\n    type: SSE-X\n", "SSE-X"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  sse_config:\n    type: SSE-KMS\n", "kms_key_id"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  sse_config:\n    type: SSE-C\n    encryption_key: /nonexistent\n",
       "32 bytes"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  insecure: maybe\n", "insecure"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  http_config:\n    idle_conn_timeout: soon\n", "idle_conn_timeout"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  http_config:\n    nope: 1\n", "'nope'"},
      {"type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  region: r\n"
       "  put_user_metadata:\n    \"bad key\": v\n", "bad key"},
  };
  for (size_t i = 0; i < TC_ARRAY_SIZE(bad); i++) {
    struct objstore *os = NULL;
    int rc = objstore_open(bad[i][0], &os);
    ASSERT(rc < 0);
    ASSERT_NULL(os);
    if (!strstr(tc_errmsg(rc), bad[i][1]))
      TEST_FAIL_("case %zu: '%s' lacks '%s'", i, tc_errmsg(rc), bad[i][1]);
  }
}

TEST(s3_config_ok_no_network) {
  /* A full config opens without I/O when the region is given. */
  char *keyfile = xasprintf("%s/ssec.key", test_tmpdir());
  FILE *f = fopen(keyfile, "wb");
  fwrite("0123456789abcdef0123456789abcdef", 1, 32, f);
  fclose(f);
  char *yaml = xasprintf(
      "type: s3\nprefix: p\nconfig:\n  bucket: b\n  endpoint: 127.0.0.1:1\n"
      "  region: eu-west-1\n  access_key: a\n  secret_key: s\n"
      "  session_token: t\n  insecure: true\n  put_user_metadata:\n"
      "    team: obs\n  http_config:\n    idle_conn_timeout: 1m30s\n"
      "    response_header_timeout: 2m\n    insecure_skip_verify: false\n"
      "    tls_handshake_timeout: 10s\n    max_idle_conns: 100\n"
      "    tls_config:\n      ca_file: ''\n      server_name: ''\n"
      "  trace:\n    enable: false\n  list_objects_version: v1\n"
      "  bucket_lookup_type: virtual-hosted\n  send_content_md5: true\n"
      "  disable_multipart: false\n  part_size: 67108864\n"
      "  sse_config:\n    type: SSE-C\n    encryption_key: %s\n"
      "  max_retries: 3\n", keyfile);
  struct objstore *os = NULL;
  ASSERT_OK(objstore_open(yaml, &os));
  ASSERT_STREQ(os->bucket, "b");
  objstore_close(os);
  free(yaml);
  free(keyfile);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  struct tc_buf b = TC_BUF_INIT;
  char tmp[4096];
  size_t n;
  ASSERT_NOT_NULL(f);
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    tc_buf_add(&b, tmp, n);
  fclose(f);
  return tc_buf_detach(&b, NULL);
}

TEST(objstore_examples_open) {
  static const char *const names[] = {"objstore-s3.yaml", "objstore-s3rver.yaml",
                                      "objstore-fs.yaml"};
  setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  for (size_t i = 0; i < TC_ARRAY_SIZE(names); i++) {
    char *path = xasprintf("%s/examples/%s", test_srcdir(), names[i]);
    char *yaml = slurp(path);
    struct objstore *os = NULL;
    int rc = objstore_open(yaml, &os);
    if (rc < 0)
      TEST_FAIL_("%s: %s", names[i], tc_errmsg(rc));
    objstore_close(os);
    free(yaml);
    free(path);
  }
}
