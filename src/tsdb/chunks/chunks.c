/*
 * chunks.c - chunk segment files: the reader resolves chunk references
 * from the index into (encoding, bytes) with the CRC checked; the writer
 * appends records and cuts a new 512 MiB segment when the next series'
 * chunks would not fit. Layout: spec tsdb-block.md section 3.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/chunks.h"

static int name_is_seq(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int chunks_reader_open_dir(struct chunks_reader *r, const char *dir) {
  memset(r, 0, sizeof(*r));
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    return tc_error(e == ENOENT ? TC_ENOTFOUND : -e, "open '%s': %s", dir,
                    strerror(e));
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!name_is_seq(de->d_name))
      continue;
    TC_GROW(names, cap, n + 1);
    names[n++] = xstrdup(de->d_name);
  }
  closedir(d);
  if (n > 1)
    qsort(names, n, sizeof(char *), cmp_str);
  struct tsdb_bytes *segs = xcalloc(n ? n : 1, sizeof(*segs));
  int rc = 0;
  size_t opened = 0;
  for (; opened < n; opened++) {
    char *path = xasprintf("%s/%s", dir, names[opened]);
    rc = tsdb_bytes_open_file(&segs[opened], path);
    free(path);
    if (rc)
      break;
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  if (rc) {
    for (size_t i = 0; i < opened; i++)
      tsdb_bytes_close(&segs[i]);
    free(segs);
    return rc;
  }
  return chunks_reader_open(r, segs, n);
}

int chunks_reader_open(struct chunks_reader *r, struct tsdb_bytes *segs,
                       size_t n) {
  memset(r, 0, sizeof(*r));
  tc_buf_init(&r->scratch, 0);
  r->segs = segs;
  r->nsegs = n;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *h;
    int rc = tsdb_bytes_read(&segs[i], 0, CHUNKS_SEGMENT_HEADER, &r->scratch,
                             &h);
    if (rc) {
      rc = tc_error(TC_ECORRUPT, "chunk segment '%s': header truncated",
                    segs[i].name);
    } else {
      struct decbuf d = decbuf_make(h, CHUNKS_SEGMENT_HEADER);
      uint32_t magic = decbuf_be32(&d);
      uint8_t ver = decbuf_byte(&d);
      if (magic != CHUNKS_MAGIC)
        rc = tc_error(TC_ECORRUPT, "chunk segment '%s': bad magic %08x",
                      segs[i].name, magic);
      else if (ver != 1)
        rc = tc_error(TC_ECORRUPT, "chunk segment '%s': unknown version %u",
                      segs[i].name, ver);
    }
    if (rc) {
      chunks_reader_close(r);
      return rc;
    }
  }
  return 0;
}

void chunks_reader_close(struct chunks_reader *r) {
  for (size_t i = 0; i < r->nsegs; i++)
    tsdb_bytes_close(&r->segs[i]);
  free(r->segs);
  tc_buf_release(&r->scratch);
  memset(r, 0, sizeof(*r));
}

int chunks_reader_chunk(struct chunks_reader *r, uint64_t ref, uint8_t *enc,
                        const uint8_t **data, size_t *len) {
  uint32_t seg = (uint32_t)(ref >> 32);
  uint64_t off = (uint32_t)ref;
  if (seg >= r->nsegs)
    return tc_error(TC_ECORRUPT,
                    "chunk ref %llu: segment %u does not exist (%zu segments)",
                    (unsigned long long)ref, seg + 1, r->nsegs);
  struct tsdb_bytes *b = &r->segs[seg];
  if (off < CHUNKS_SEGMENT_HEADER || off >= b->size)
    return tc_error(TC_ECORRUPT,
                    "chunk segment '%s': offset %llu is outside the file "
                    "(size %llu)",
                    b->name, (unsigned long long)off,
                    (unsigned long long)b->size);
  /* The length varint is at most 5 bytes (Prometheus reads no more). */
  size_t hl = (size_t)TC_MIN((uint64_t)5, b->size - off);
  const uint8_t *p;
  int rc = tsdb_bytes_read(b, off, hl, &r->scratch, &p);
  if (rc)
    return rc;
  struct decbuf d = decbuf_make(p, hl);
  uint64_t n = decbuf_uvarint(&d);
  size_t vl = hl - decbuf_len(&d);
  char what[600];
  snprintf(what, sizeof(what), "chunk segment '%s' at offset %llu", b->name,
           (unsigned long long)off);
  if (d.err || vl > 5)
    return tc_error(TC_ECORRUPT, "%s: bad length", what);
  if (n > b->size - off - vl || b->size - off - vl - n < 5)
    return tc_error(TC_ECORRUPT, "%s: chunk of length %llu runs past the end",
                    what, (unsigned long long)n);
  rc = tsdb_bytes_read(b, off, vl + (size_t)n + 5, &r->scratch, &p);
  if (rc)
    return rc;
  return chunks_parse_record(p, vl + (size_t)n + 5, what, enc, data, len,
                             NULL);
}

int chunks_parse_record(const uint8_t *p, size_t n, const char *what,
                        uint8_t *enc, const uint8_t **data, size_t *len,
                        size_t *rec_len) {
  struct decbuf d = decbuf_make(p, TC_MIN(n, (size_t)5));
  uint64_t l = decbuf_uvarint(&d);
  size_t vl = (size_t)(d.p - p);
  if (d.err)
    return tc_error(TC_ECORRUPT, "%s: bad chunk length", what);
  if (l > n - vl || n - vl - l < 5)
    return tc_error(TC_ECORRUPT, "%s: chunk of length %llu runs past the end",
                    what, (unsigned long long)l);
  const uint8_t *q = p + vl;
  uint32_t want = ((uint32_t)q[l + 1] << 24) | ((uint32_t)q[l + 2] << 16) |
                  ((uint32_t)q[l + 3] << 8) | q[l + 4];
  uint32_t got = tc_crc32c(0, q, (size_t)l + 1);
  if (got != want)
    return tc_error(TC_ECHECKSUM,
                    "%s: checksum mismatch (stored %08x, computed %08x)", what,
                    want, got);
  *enc = q[0];
  *data = q + 1;
  *len = (size_t)l;
  if (rec_len)
    *rec_len = vl + (size_t)l + 5;
  return 0;
}

/* ---- writer ---- */

static int cw_flush(struct chunks_writer *w) {
  size_t done = 0;
  while (done < w->buf.len) {
    ssize_t k = write(w->fd, w->buf.data + done, w->buf.len - done);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      return tc_error(-e, "write chunk segment %06u in '%s': %s", w->seq,
                      w->dir, strerror(e));
    }
    done += (size_t)k;
  }
  tc_buf_reset(&w->buf);
  return 0;
}

static int cw_finish_segment(struct chunks_writer *w) {
  if (w->fd < 0)
    return 0;
  int rc = cw_flush(w);
  if (!rc && fsync(w->fd) < 0)
    rc = tc_error(-errno, "fsync chunk segment %06u in '%s'", w->seq, w->dir);
  close(w->fd);
  w->fd = -1;
  return rc;
}

static int cw_cut(struct chunks_writer *w) {
  int rc = cw_finish_segment(w);
  if (rc)
    return rc;
  w->seq++;
  char *path = xasprintf("%s/%06u", w->dir, w->seq);
  w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) {
    int e = errno;
    rc = tc_error(-e, "create '%s': %s", path, strerror(e));
    free(path);
    return rc;
  }
  free(path);
  tc_buf_put_be32(&w->buf, CHUNKS_MAGIC);
  tc_buf_add(&w->buf, "\x01\x00\x00\x00", 4);
  w->off = CHUNKS_SEGMENT_HEADER;
  return 0;
}

int chunks_writer_open(struct chunks_writer *w, const char *dir,
                       uint64_t seg_size) {
  memset(w, 0, sizeof(*w));
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    int e = errno;
    return tc_error(-e, "create '%s': %s", dir, strerror(e));
  }
  w->dir = xstrdup(dir);
  w->fd = -1;
  w->seg_size = seg_size ? seg_size : CHUNKS_DEFAULT_SEGMENT_SIZE;
  tc_buf_init(&w->buf, 0);
  return 0;
}

int chunks_writer_write(struct chunks_writer *w, const struct chunk_data *c,
                        size_t n, uint64_t *refs) {
  uint64_t batch = 0;
  int rc;
  for (size_t i = 0; i < n; i++)
    batch += 5 + 1 + c[i].len + 4;
  /* New segment when this series would overflow the current one. */
  if (w->fd < 0 || (w->off > CHUNKS_SEGMENT_HEADER &&
                    w->off + batch > w->seg_size)) {
    if ((rc = cw_cut(w)))
      return rc;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t rec = (uint64_t)tc_uvarint_size(c[i].len) + 1 + c[i].len + 4;
    if (w->off > CHUNKS_SEGMENT_HEADER && w->off + rec > w->seg_size)
      if ((rc = cw_cut(w)))
        return rc;
    if (w->off > UINT32_MAX)
      return tc_error(TC_ELIMIT, "chunk segment %06u in '%s' exceeds 4 GiB",
                      w->seq, w->dir);
    refs[i] = chunk_ref(w->seq - 1, (uint32_t)w->off);
    tc_buf_put_uvarint(&w->buf, c[i].len);
    size_t crc_from = w->buf.len;
    tc_buf_addc(&w->buf, (char)c[i].enc);
    tc_buf_add(&w->buf, c[i].data, c[i].len);
    uint32_t crc = tc_crc32c(0, w->buf.data + crc_from, c[i].len + 1);
    tc_buf_put_be32(&w->buf, crc);
    w->off += rec;
    if (w->buf.len >= (1u << 20) && (rc = cw_flush(w)))
      return rc;
  }
  return 0;
}

int chunks_writer_close(struct chunks_writer *w) {
  int rc = cw_finish_segment(w);
  tc_buf_release(&w->buf);
  free(w->dir);
  memset(w, 0, sizeof(*w));
  w->fd = -1;
  return rc;
}

void chunks_writer_abort(struct chunks_writer *w) {
  if (w->fd >= 0)
    close(w->fd);
  tc_buf_release(&w->buf);
  free(w->dir);
  memset(w, 0, sizeof(*w));
  w->fd = -1;
}
