/*
 * crc-tool.c - `test-tool bench-crc`: CRC32C throughput (GB/s per core,
 * thread CPU time) over buffers of the sizes the readers meet: chunk
 * records (tens to hundreds of bytes), index sections and remote-read
 * frames (kilobytes to a megabyte).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "test-tool.h"
#include "thanosc/common.h"
#include "thanosc/tsdb/encoding.h"

/* CPU time of this thread: the machine is shared. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Where results go so the calls cannot be optimised away. */
static volatile uint32_t sink;

/* GB/s of fn over buf[0..size), repeated to about total bytes; the best
 * of three tries, as neighbours' builds only ever slow a try down. */
static double rate(uint32_t (*fn)(uint32_t, const void *, size_t),
                   const uint8_t *buf, size_t size, size_t total) {
  size_t reps = total / size ? total / size : 1;
  double best = 0;
  for (int t = 0; t < 3; t++) {
    double t0 = cpu_s();
    uint32_t c = 0;
    /* Offsets cycle through 0..7 so unaligned starts are measured too. */
    for (size_t i = 0; i < reps; i++)
      c = fn(c, buf + (i & 7), size);
    double d = cpu_s() - t0;
    sink ^= c;
    double r = d > 0 ? (double)reps * (double)size / d / 1e9 : 0;
    if (r > best)
      best = r;
  }
  return best;
}

int tt_bench_crc(int argc, char **argv) {
  (void)argc, (void)argv;
  static const size_t sizes[] = {64, 256, 1024, 4096, 65536, 1 << 20};
  size_t max = 1 << 20;
  uint8_t *buf = xmalloc(max + 8);
  uint64_t r = 1;
  for (size_t i = 0; i < max + 8; i++) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    buf[i] = (uint8_t)(r >> 56);
  }
  printf("crc32c_hw %d\n", tc_crc32c_hw());
  for (size_t i = 0; i < TC_ARRAY_SIZE(sizes); i++)
    printf("crc32c_%zu_gb_per_sec %.2f\n", sizes[i],
           rate(tc_crc32c, buf, sizes[i], (size_t)1 << 30));
  printf("crc32c_soft_%zu_gb_per_sec %.2f\n", max,
         rate(tc_crc32c_soft, buf, max, (size_t)1 << 28));
  free(buf);
  return 0;
}
