/*
 * tsdb/chunks.h - chunk segment files (`<block>/chunks/000001`, ...):
 * random access by chunk reference and a writer cutting 512 MiB segments.
 * A reference is (segment index << 32) | offset, segment index 0-based
 * (file 000001 is 0). Every record's CRC32C is checked on read.
 */
#ifndef THANOSC_TSDB_CHUNKS_H
#define THANOSC_TSDB_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "thanosc/buf.h"
#include "thanosc/tsdb/encoding.h"

#define CHUNKS_MAGIC 0x85BD40DDu
#define CHUNKS_SEGMENT_HEADER 8
#define CHUNKS_DEFAULT_SEGMENT_SIZE (512ull * 1024 * 1024)

/* A chunk as listed in the index: closed [mint, maxt]. */
struct chunk_meta {
  uint64_t ref;
  int64_t mint, maxt;
};

static inline uint64_t chunk_ref(uint32_t seg, uint32_t off) {
  return ((uint64_t)seg << 32) | off;
}

struct chunks_reader {
  struct tsdb_bytes *segs; /* owned */
  size_t nsegs;
  struct tc_buf scratch;
};

/* Opens every numerically named file of dir (the block's chunks/ folder)
 * and checks each header. Errors name the file. */
int chunks_reader_open_dir(struct chunks_reader *r, const char *dir);
/* Takes ownership of segs[0..n) (an array from xmalloc) and checks the
 * headers; on error the sources are closed. */
int chunks_reader_open(struct chunks_reader *r, struct tsdb_bytes *segs,
                       size_t n);
void chunks_reader_close(struct chunks_reader *r);
/*
 * The chunk at ref: its encoding and data (borrowed until the next call on
 * r or close). TC_ECORRUPT for a bad reference, length or header,
 * TC_ECHECKSUM for a CRC mismatch; messages name the segment and offset.
 */
int chunks_reader_chunk(struct chunks_reader *r, uint64_t ref,
                        uint8_t *enc /* OUT */, const uint8_t **data /* OUT */,
                        size_t *len /* OUT */);

/*
 * Parses one chunk record at the start of [p, p+n) (e.g. bytes a store
 * gateway fetched with a range read starting at a chunk reference): length
 * varint, encoding, data, CRC32C. On success enc, data and len describe the
 * chunk (data borrowed from p) and *rec_len (may be NULL) is the whole
 * record's size. TC_ECORRUPT when the record does not fit, TC_ECHECKSUM on a
 * CRC mismatch; the message starts with what (e.g. the object name).
 */
int chunks_parse_record(const uint8_t *p, size_t n, const char *what,
                        uint8_t *enc /* OUT */, const uint8_t **data /* OUT */,
                        size_t *len /* OUT */, size_t *rec_len /* OUT */);

/* One chunk handed to the writer (borrowed for the call). */
struct chunk_data {
  uint8_t enc;
  const uint8_t *data;
  size_t len;
};

struct chunks_writer {
  char *dir;   /* owned */
  int fd;      /* current segment, -1 before the first */
  uint32_t seq; /* 1-based number of the current segment file */
  uint64_t off; /* bytes written to the current segment */
  uint64_t seg_size;
  struct tc_buf buf;
};

/* Creates dir if needed. seg_size 0 means CHUNKS_DEFAULT_SEGMENT_SIZE. */
int chunks_writer_open(struct chunks_writer *w, const char *dir,
                       uint64_t seg_size);
/* Writes the chunks of one series, kept in one segment where they fit;
 * refs[i] gets each chunk's reference. */
int chunks_writer_write(struct chunks_writer *w, const struct chunk_data *c,
                        size_t n, uint64_t *refs /* OUT */);
/* Flushes, fsyncs and closes; the writer is released either way. */
int chunks_writer_close(struct chunks_writer *w);
/* Releases without finishing (after an error). */
void chunks_writer_abort(struct chunks_writer *w);

#endif
