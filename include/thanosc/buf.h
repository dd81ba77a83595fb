/*
 * buf.h - growable byte buffers with a hard size cap (curl's dynbuf).
 *
 * Invariants: b->data is NULL or points to b->cap bytes of which b->len are
 * used, and data[len] is always '\0' once anything was appended, so a buffer
 * of text can be used as a C string. b->max is the hard cap: an append past
 * it returns TC_ELIMIT and leaves the buffer unchanged. max 0 means no cap.
 *
 * Lifecycle words follow git: tc_buf_init() allocates nothing,
 * tc_buf_release() frees the contents, tc_buf_reset() keeps the memory but
 * empties the buffer, tc_buf_detach() hands the bytes to the caller.
 */
#ifndef THANOSC_BUF_H
#define THANOSC_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct tc_buf {
  char *data;
  size_t len;
  size_t cap;
  size_t max;
};

#define TC_BUF_INIT {0}

void tc_buf_init(struct tc_buf *b, size_t max);
void tc_buf_release(struct tc_buf *b);
void tc_buf_reset(struct tc_buf *b);
/* Returns the bytes (owned by the caller, '\0'-terminated) and re-inits b. */
char *tc_buf_detach(struct tc_buf *b, size_t *len /* OUT, may be NULL */);
/* Makes room for n more bytes; TC_ELIMIT past max. */
int tc_buf_reserve(struct tc_buf *b, size_t n);

/* Reads the whole file at path into an owned, NUL-terminated buffer of at
 * most max bytes (0: no cap); n (may be NULL) gets its length. Errors name
 * the path: TC_ENOTFOUND, TC_ELIMIT or -errno. */
int tc_read_file(const char *path, size_t max, char **out /* OUT */,
                 size_t *n /* OUT */);
int tc_buf_add(struct tc_buf *b, const void *p, size_t n);
int tc_buf_addc(struct tc_buf *b, char c);
int tc_buf_adds(struct tc_buf *b, const char *s);
int tc_buf_addf(struct tc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int tc_buf_vaddf(struct tc_buf *b, const char *fmt, va_list ap);
void tc_buf_truncate(struct tc_buf *b, size_t len);

/* Binary encoders used by the TSDB and protobuf writers. */
int tc_buf_put_be16(struct tc_buf *b, uint16_t v);
int tc_buf_put_be32(struct tc_buf *b, uint32_t v);
int tc_buf_put_be64(struct tc_buf *b, uint64_t v);
int tc_buf_put_uvarint(struct tc_buf *b, uint64_t v);
int tc_buf_put_varint(struct tc_buf *b, int64_t v);
/* uvarint length followed by the bytes. */
int tc_buf_put_uvarint_str(struct tc_buf *b, const char *s, size_t n);

/* Number of bytes tc_buf_put_uvarint() writes for v. */
static inline int tc_uvarint_size(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

#endif
