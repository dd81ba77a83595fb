/*
 * crc32c.c - CRC-32C (Castagnoli), the checksum of every TSDB section and
 * chunk record. The SSE4.2 crc32 instruction handles 8 bytes per step, in
 * three interleaved lanes on large buffers, when the CPU has it (checked
 * once at runtime); otherwise slicing-by-8 tables built on first use.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "thanosc/tsdb/encoding.h"

#define POLY 0x82f63b78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int use_hw = -1;

static void table_build(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
    table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int s = 1; s < 8; s++)
      table[s][i] = (table[s - 1][i] >> 8) ^ table[0][table[s - 1][i] & 0xff];
}

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n) {
  pthread_once(&table_once, table_build);
  while (n >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
          table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
          table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
          table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--)
    crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
/*
 * The crc32 instruction takes 3 cycles but a new one can start every cycle,
 * so one dependent chain leaves two thirds of the unit idle. Large buffers
 * are cut into three equal lanes whose CRCs run side by side, then joined:
 * the state is linear over GF(2), so CRC(A B) = shift(CRC(A), |B|) ^
 * CRC(0; B), where shift(c, n) is c advanced over n zero bytes. shift over
 * a fixed lane length is a linear map of 32 bits, applied through four
 * 256-entry tables (one per byte of c) built on first use. Lanes of 8 KiB
 * make the join cost vanish on big sections and frames; the shorter ones
 * still pay off on chunk records of a few hundred bytes.
 */
static const size_t lane_len[] = {8192, 256, 64};
#define NLANE (sizeof lane_len / sizeof lane_len[0])
static uint32_t lane_shift[NLANE][4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

/* Raw state c advanced over n zero bytes (n a multiple of 8). */
__attribute__((target("sse4.2"))) static uint32_t zeros_hw(uint32_t c,
                                                           size_t n) {
  uint64_t x = c;
  for (; n; n -= 8)
    x = __builtin_ia32_crc32di(x, 0);
  return (uint32_t)x;
}

/* t[k][b] = shift(b << 8k, n), from the images of the 32 single bits. */
static void shift_table(uint32_t t[4][256], size_t n) {
  for (int k = 0; k < 4; k++) {
    t[k][0] = 0;
    for (int i = 0; i < 8; i++) {
      uint32_t bit = zeros_hw(1u << (8 * k + i), n);
      for (int b = 0; b < 1 << i; b++)
        t[k][1 << i | b] = t[k][b] ^ bit;
    }
  }
}

static void shift_build(void) {
  for (size_t i = 0; i < NLANE; i++)
    shift_table(lane_shift[i], lane_len[i]);
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t c) {
  return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^
         t[3][c >> 24];
}

/* Runs the CRC over the 3 * len bytes at *p as three lanes of len bytes,
 * advancing *p. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc_lanes(uint64_t c0, const uint8_t **p, size_t len,
          const uint32_t t[4][256]) {
  const uint8_t *a = *p, *end = a + len;
  uint64_t c1 = 0, c2 = 0;
  for (; a < end; a += 8) {
    uint64_t w0, w1, w2;
    memcpy(&w0, a, 8);
    memcpy(&w1, a + len, 8);
    memcpy(&w2, a + 2 * len, 8);
    c0 = __builtin_ia32_crc32di(c0, w0);
    c1 = __builtin_ia32_crc32di(c1, w1);
    c2 = __builtin_ia32_crc32di(c2, w2);
  }
  *p += 3 * len;
  uint32_t c = shift(t, (uint32_t)c0) ^ (uint32_t)c1;
  return shift(t, c) ^ (uint32_t)c2;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc,
                                                        const uint8_t *p,
                                                        size_t n) {
  uint64_t c = crc;
  if (n >= 3 * lane_len[NLANE - 1]) {
    pthread_once(&shift_once, shift_build);
    for (size_t i = 0; i < NLANE; i++)
      for (; n >= 3 * lane_len[i]; n -= 3 * lane_len[i])
        c = crc_lanes(c, &p, lane_len[i], lane_shift[i]);
  }
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
  }
  uint32_t c32 = (uint32_t)c;
  while (n--)
    c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
#endif

int tc_crc32c_hw(void) {
  if (use_hw < 0) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    use_hw = 0;
#endif
  }
  return use_hw;
}

uint32_t tc_crc32c(uint32_t crc, const void *p, size_t n) {
  crc = ~crc;
#if defined(__x86_64__)
  if (tc_crc32c_hw())
    return ~crc_hw(crc, p, n);
#endif
  return ~crc_sw(crc, p, n);
}

uint32_t tc_crc32c_soft(uint32_t crc, const void *p, size_t n) {
  return ~crc_sw(~crc, p, n);
}
