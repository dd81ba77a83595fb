/*
 * test-crc32c.c - CRC32C: published check values, and the hardware path
 * (three interleaved lanes on large buffers) against the table path and a
 * bit-at-a-time reference over random lengths, alignments and splits.
 */
#include <stdlib.h>

#include "test.h"
#include "thanosc/tsdb/encoding.h"

/* One bit per step straight from the definition (reflected 0x1EDC6F41). */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return rnd_state;
}

TEST(crc32c_check_values) {
  uint8_t b[32];
  ASSERT_UEQ(tc_crc32c(0, "123456789", 9), 0xE3069283u);
  ASSERT_UEQ(tc_crc32c_soft(0, "123456789", 9), 0xE3069283u);
  ASSERT_UEQ(tc_crc32c(0, "", 0), 0);
  ASSERT_UEQ(tc_crc32c_soft(0, "", 0), 0);
  /* The iSCSI examples (RFC 3720 B.4). */
  memset(b, 0, sizeof b);
  ASSERT_UEQ(tc_crc32c(0, b, 32), 0x8A9136AAu);
  memset(b, 0xff, sizeof b);
  ASSERT_UEQ(tc_crc32c(0, b, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++)
    b[i] = (uint8_t)i;
  ASSERT_UEQ(tc_crc32c(0, b, 32), 0x46DD794Eu);
  ASSERT_UEQ(tc_crc32c_soft(0, b, 32), 0x46DD794Eu);
}

TEST(crc32c_random_lengths_and_alignments) {
  enum { MAX = 100000 };
  uint8_t *buf = malloc(MAX + 8);
  ASSERT_NOT_NULL(buf);
  for (size_t i = 0; i < MAX + 8; i++)
    buf[i] = (uint8_t)(rnd() >> 56);
  /* Every length around each lane size's thresholds, then random ones. */
  static const size_t lanes[] = {64, 256, 8192};
  for (size_t l = 0; l < sizeof lanes / sizeof lanes[0]; l++)
    for (size_t m = 1; m <= 4; m++)
      for (size_t d = 0; d < 18; d++) {
        size_t n = 3 * lanes[l] * m + d - 9, off = d & 7;
        uint32_t want = tc_crc32c_soft(0, buf + off, n);
        ASSERT_UEQ(tc_crc32c(0, buf + off, n), want);
        if (n < 4096)
          ASSERT_UEQ(crc_bitwise(0, buf + off, n), want);
      }
  for (int i = 0; i < 300; i++) {
    size_t n = rnd() % (MAX + 1), off = rnd() % 8;
    uint32_t seed = i % 3 ? (uint32_t)rnd() : 0;
    uint32_t want = tc_crc32c_soft(seed, buf + off, n);
    ASSERT_UEQ(tc_crc32c(seed, buf + off, n), want);
    if (i < 20)
      ASSERT_UEQ(crc_bitwise(seed, buf + off, n), want);
    /* Continuing across a split gives the CRC of the whole. */
    size_t k = n ? rnd() % n : 0;
    ASSERT_UEQ(tc_crc32c(tc_crc32c(seed, buf + off, k), buf + off + k, n - k),
               want);
  }
  free(buf);
}
