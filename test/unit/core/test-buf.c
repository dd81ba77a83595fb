/* Tests of src/core/buf.c, include/thanosc/decbuf.h and src/core/error.c. */
#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/decbuf.h"

TEST(buf_append_and_cap) {
  struct tc_buf b;
  tc_buf_init(&b, 8);
  ASSERT_OK(tc_buf_adds(&b, "abc"));
  ASSERT_OK(tc_buf_addf(&b, "%d", 12345));
  ASSERT_STREQ(b.data, "abc12345");
  ASSERT_EQ(tc_buf_addc(&b, 'x'), TC_ELIMIT);
  ASSERT_EQ(b.len, 8);
  size_t n;
  char *p = tc_buf_detach(&b, &n);
  ASSERT_EQ(n, 8);
  ASSERT_NULL(b.data);
  free(p);
}

TEST(buf_varints_roundtrip) {
  struct tc_buf b = TC_BUF_INIT;
  uint64_t u[] = {0, 1, 127, 128, 300, UINT64_MAX};
  int64_t s[] = {0, -1, 1, -64, 64, INT64_MIN, INT64_MAX};
  for (size_t i = 0; i < 6; i++)
    ASSERT_OK(tc_buf_put_uvarint(&b, u[i]));
  for (size_t i = 0; i < 7; i++)
    ASSERT_OK(tc_buf_put_varint(&b, s[i]));
  ASSERT_OK(tc_buf_put_be32(&b, 0xdeadbeef));
  ASSERT_OK(tc_buf_put_be64(&b, 0x0102030405060708ULL));
  struct decbuf d = decbuf_make(b.data, b.len);
  for (size_t i = 0; i < 6; i++)
    ASSERT_UEQ(decbuf_uvarint(&d), u[i]);
  for (size_t i = 0; i < 7; i++)
    ASSERT_EQ(decbuf_varint(&d), s[i]);
  ASSERT_UEQ(decbuf_be32(&d), 0xdeadbeef);
  ASSERT_UEQ(decbuf_be64(&d), 0x0102030405060708ULL);
  ASSERT_EQ(d.err, 0);
  ASSERT_EQ(decbuf_len(&d), 0);
  tc_buf_release(&b);
}

TEST(decbuf_sticky_error) {
  uint8_t raw[] = {0x00, 0x01, 0xff, 0xff};
  struct decbuf d = decbuf_make(raw, sizeof raw);
  ASSERT_EQ(decbuf_be16(&d), 1);
  ASSERT_EQ(decbuf_uvarint(&d), 0); /* runs off the end */
  ASSERT_EQ(d.err, TC_ECORRUPT);
  ASSERT_EQ(decbuf_byte(&d), 0); /* sticky: nothing more is read */
  size_t n;
  ASSERT_NULL(decbuf_uvarint_str(&d, &n));
}

TEST(error_message_and_wrap) {
  int rc = tc_error(TC_ECORRUPT, "index '%s': bad TOC crc", "x");
  ASSERT_EQ(rc, TC_ECORRUPT);
  ASSERT_STREQ(tc_errmsg(rc), "index 'x': bad TOC crc");
  tc_error_wrap(rc, "block %d", 7);
  ASSERT_STREQ(tc_errmsg(rc), "block 7: index 'x': bad TOC crc");
  ASSERT_STREQ(tc_err_name(TC_ENOTFOUND), "ENOTFOUND");
  tc_error_clear();
  ASSERT_STREQ(tc_errmsg(-ENOENT), "No such file or directory");
}
