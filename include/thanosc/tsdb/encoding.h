/*
 * tsdb/encoding.h - what every TSDB file reader shares: CRC32C and the
 * "bytes at offset" source the index, chunk and tombstone readers read
 * through, so one reader serves a local file (mmap) and ranges of an
 * object in a bucket alike.
 */
#ifndef THANOSC_TSDB_ENCODING_H
#define THANOSC_TSDB_ENCODING_H

#include <stddef.h>
#include <stdint.h>

struct tc_buf;

/* CRC-32C (Castagnoli) continuing from crc (0 to start), as Go's
 * crc32.Update with the Castagnoli table. Uses SSE4.2 when the CPU has it
 * (runtime check), a slicing table otherwise. */
uint32_t tc_crc32c(uint32_t crc, const void *p, size_t n);
/* Whether the hardware path is in use (for the benchmark's report). */
int tc_crc32c_hw(void);
/* The table-driven path alone, whatever the CPU: the reference the tests
 * and the benchmark hold the hardware path against. */
uint32_t tc_crc32c_soft(uint32_t crc, const void *p, size_t n);

/*
 * A source of bytes at offsets. read() hands back len bytes at off in *out:
 * either memory the source owns (valid until close) or scratch->data
 * (valid until scratch changes). It must fail with TC_ECORRUPT when
 * [off, off+len) is past the end, TC_EIO (or -errno) on I/O errors.
 */
struct tsdb_bytes_ops {
  int (*read)(void *ctx, uint64_t off, size_t len, struct tc_buf *scratch,
              const uint8_t **out);
  void (*close)(void *ctx);
};

struct tsdb_bytes {
  const struct tsdb_bytes_ops *ops;
  void *ctx;
  uint64_t size;
  char *name; /* owned: file path or object name, used in messages */
};

/* Maps a local file read-only. TC_ENOTFOUND or -errno with the path. */
int tsdb_bytes_open_file(struct tsdb_bytes *b, const char *path);
/* Wraps memory the caller keeps alive while b is open (borrowed). */
void tsdb_bytes_open_mem(struct tsdb_bytes *b, const void *p, size_t n,
                         const char *name);
void tsdb_bytes_close(struct tsdb_bytes *b);
/* Bounds-checked read; messages name the source. */
int tsdb_bytes_read(struct tsdb_bytes *b, uint64_t off, size_t len,
                    struct tc_buf *scratch, const uint8_t **out /* OUT */);

#endif
