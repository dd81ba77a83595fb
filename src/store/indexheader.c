/*
 * indexheader.c - Thanos's binary index-header (format v1, spec
 * thanos-formats.md section 3) for the store gateway: built from three
 * ranged reads of a block's index in the bucket (TOC, symbol table,
 * postings offset table + TOC), written to <data-dir>/<ULID>/index-header
 * and mmapped. The opened file is presented as a tsdb_bytes source shaped
 * like the whole index object, so the TSDB index reader (src/tsdb/index)
 * runs unchanged: its header, symbols, postings offset table and TOC come
 * from the mmap, series entries and postings lists from ranged reads of
 * the bucket (or from ranges preloaded in one go for a query).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/store.h"

static inline uint32_t be32_at(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t be64_at(const uint8_t *p) {
  return ((uint64_t)be32_at(p) << 32) | be32_at(p + 4);
}

static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Reads exactly len bytes at off of an object into out (appended). */
static int read_exact(struct objstore *bkt, const char *name, uint64_t off,
                      size_t len, struct tc_buf *out) {
  size_t before = out->len;
  int rc = objstore_get_range(bkt, name, off, (int64_t)len, 0,
                              (objstore_write_fn *)tc_buf_add, out);
  if (rc)
    return rc;
  if (out->len - before != len)
    return tc_error(TC_ECORRUPT, "index '%s': short read at %llu (%zu of %zu)",
                    name, (unsigned long long)off, out->len - before, len);
  return 0;
}

struct fd_sink {
  int fd;
  uint64_t n;
};

static int fd_write(void *data, const void *p, size_t n) {
  struct fd_sink *s = data;
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(s->fd, c, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return tc_error(-errno, "index-header: write: %s", strerror(errno));
    }
    c += w, n -= (size_t)w;
    s->n += (uint64_t)w;
  }
  return 0;
}

/* Copies [off, off+len) of the object to the file. */
static int copy_range(struct objstore *bkt, const char *name, uint64_t off,
                      uint64_t len, struct fd_sink *s) {
  uint64_t before = s->n;
  int rc = objstore_get_range(bkt, name, off, (int64_t)len, 0, fd_write, s);
  if (!rc && s->n - before != len)
    rc = tc_error(TC_ECORRUPT, "index '%s': short read at %llu", name,
                  (unsigned long long)off);
  return rc;
}

int indexheader_build(struct objstore *bkt, const char *index_name,
                      const char *path) {
  struct tc_buf b = TC_BUF_INIT;
  struct objstore_attrs at;
  char *tmp = xasprintf("%s.tmp", path);
  int fd = -1;
  int rc = objstore_attributes(bkt, index_name, 0, &at);
  if (rc)
    goto out;
  uint64_t size = (uint64_t)at.size;
  if (at.size < 5 + INDEX_TOC_LEN) {
    rc = tc_error(TC_ECORRUPT, "index '%s': %llu bytes is too short",
                  index_name, (unsigned long long)size);
    goto out;
  }
  rc = read_exact(bkt, index_name, 0, 5, &b);
  if (!rc)
    rc = read_exact(bkt, index_name, size - INDEX_TOC_LEN, INDEX_TOC_LEN, &b);
  if (rc)
    goto out;
  const uint8_t *h = (const uint8_t *)b.data;
  if (be32_at(h) != INDEX_MAGIC) {
    rc = tc_error(TC_ECORRUPT, "index '%s': bad magic", index_name);
    goto out;
  }
  int version = h[4];
  if (version != 1 && version != 2) {
    rc = tc_error(TC_ENOTSUP, "index '%s': unsupported version %d",
                  index_name, version);
    goto out;
  }
  const uint8_t *toc = h + 5;
  if (tc_crc32c(0, toc, 48) != be32_at(toc + 48)) {
    rc = tc_error(TC_ECHECKSUM, "index '%s': TOC: checksum mismatch",
                  index_name);
    goto out;
  }
  uint64_t sym = be64_at(toc), series = be64_at(toc + 8);
  uint64_t ptab = be64_at(toc + 40);
  if (sym < 5 || series < sym || series > size - INDEX_TOC_LEN ||
      ptab < series || ptab > size - INDEX_TOC_LEN) {
    rc = tc_error(TC_ECORRUPT, "index '%s': TOC: section offsets out of order",
                  index_name);
    goto out;
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    rc = tc_error(-errno, "index-header '%s': %s", tmp, strerror(errno));
    goto out;
  }
  struct fd_sink sink = {.fd = fd};
  uint8_t hdr[INDEXHEADER_HEADER_LEN];
  hdr[0] = 0xba, hdr[1] = 0xaa, hdr[2] = 0xd7, hdr[3] = 0x92;
  hdr[4] = INDEXHEADER_V1;
  hdr[5] = (uint8_t)version;
  put_be64(hdr + 6, ptab);
  rc = fd_write(&sink, hdr, sizeof hdr);
  if (!rc)
    rc = copy_range(bkt, index_name, sym, series - sym, &sink);
  uint64_t ptab_at = sink.n;
  if (!rc)
    rc = copy_range(bkt, index_name, ptab, size - ptab, &sink);
  if (rc)
    goto out;
  uint8_t trailer[INDEXHEADER_TOC_LEN];
  put_be64(trailer, INDEXHEADER_HEADER_LEN);
  put_be64(trailer + 8, ptab_at);
  uint32_t crc = tc_crc32c(0, trailer, 16);
  trailer[16] = (uint8_t)(crc >> 24), trailer[17] = (uint8_t)(crc >> 16);
  trailer[18] = (uint8_t)(crc >> 8), trailer[19] = (uint8_t)crc;
  rc = fd_write(&sink, trailer, sizeof trailer);
  if (!rc && fsync(fd) < 0)
    rc = tc_error(-errno, "index-header '%s': fsync: %s", tmp,
                  strerror(errno));
  if (rc)
    goto out;
  close(fd);
  fd = -1;
  if (rename(tmp, path) < 0)
    rc = tc_error(-errno, "index-header '%s': rename: %s", path,
                  strerror(errno));
out:
  if (fd >= 0)
    close(fd);
  if (rc)
    unlink(tmp);
  free(tmp);
  tc_buf_release(&b);
  return rc;
}

/* ---- the virtual index source ---- */

struct preload_range {
  uint64_t off;
  size_t len;
  uint8_t *data; /* owned */
};

struct ih_source {
  uint8_t *map;          /* the index-header file */
  size_t maplen;
  uint8_t head[5];       /* index magic + version */
  uint64_t sym_off, sym_len;   /* in the index */
  uint64_t ptab_off, ptab_len; /* in the index; runs to its end */
  const uint8_t *sym_map, *ptab_map;
  struct objstore *bkt;  /* borrowed */
  char *index_name;      /* owned */
  struct index_cache *cache; /* borrowed, may be NULL */
  char ulid[TSDB_ULID_LEN + 1];
  uint64_t postings_off; /* the index's postings section: item type */
  struct preload_range *pre; /* sorted by off, disjoint */
  size_t npre, precap;
};

static int bucket_read(struct ih_source *s, uint64_t off, size_t len,
                       struct tc_buf *scratch, const uint8_t **out) {
  tc_buf_reset(scratch);
  int rc = read_exact(s->bkt, s->index_name, off, len, scratch);
  if (rc)
    return rc;
  *out = (const uint8_t *)scratch->data;
  return 0;
}

static int ih_read(void *ctx, uint64_t off, size_t len, struct tc_buf *scratch,
                   const uint8_t **out) {
  struct ih_source *s = ctx;
  uint64_t end = off + len;
  if (end <= 5) {
    *out = s->head + off;
    return 0;
  }
  if (off >= s->sym_off && end <= s->sym_off + s->sym_len) {
    *out = s->sym_map + (off - s->sym_off);
    return 0;
  }
  if (off >= s->ptab_off && end <= s->ptab_off + s->ptab_len) {
    *out = s->ptab_map + (off - s->ptab_off);
    return 0;
  }
  int type = off >= s->postings_off ? INDEX_CACHE_POSTINGS
                                     : INDEX_CACHE_SERIES;
  bool cacheable = s->cache && len <= UINT32_MAX;
  if (cacheable) {
    tc_buf_reset(scratch);
    if (tc_buf_reserve(scratch, len) == 0 &&
        index_cache_get(s->cache, type, s->ulid, off, (uint32_t)len,
                        (uint8_t *)scratch->data)) {
      scratch->len = len;
      *out = (const uint8_t *)scratch->data;
      return 0;
    }
  }
  /* Preloaded ranges: the last one starting at or before off. */
  size_t lo = 0, hi = s->npre;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->pre[mid].off <= off)
      lo = mid + 1;
    else
      hi = mid;
  }
  int rc = 1;
  if (lo > 0) {
    struct preload_range *p = &s->pre[lo - 1];
    if (end <= p->off + p->len) {
      *out = p->data + (off - p->off);
      rc = 0;
    }
  }
  if (rc)
    rc = bucket_read(s, off, len, scratch, out);
  if (!rc && cacheable)
    index_cache_put(s->cache, type, s->ulid, off, (uint32_t)len, *out);
  return rc;
}

static void ih_close(void *ctx) {
  struct ih_source *s = ctx;
  indexheader_preload_clear(&(struct tsdb_bytes){.ctx = s});
  free(s->pre);
  if (s->map)
    munmap(s->map, s->maplen);
  free(s->index_name);
  free(s);
}

static const struct tsdb_bytes_ops ih_ops = {.read = ih_read,
                                             .close = ih_close};

int indexheader_open(const char *path, struct objstore *bkt,
                     const char *index_name, struct index_cache *cache,
                     const char *ulid, struct tsdb_bytes *src) {
  memset(src, 0, sizeof(*src));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tc_error(errno == ENOENT ? TC_ENOTFOUND : -errno,
                    "index-header '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return tc_error(-e, "index-header '%s': %s", path, strerror(e));
  }
  size_t n = (size_t)st.st_size;
  if (n < INDEXHEADER_HEADER_LEN + INDEXHEADER_TOC_LEN + INDEX_TOC_LEN) {
    close(fd);
    return tc_error(TC_ECORRUPT, "index-header '%s': too short", path);
  }
  void *map = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED)
    return tc_error(-errno, "index-header '%s': mmap: %s", path,
                    strerror(errno));
  const uint8_t *m = map;
  int rc = 0;
  const uint8_t *t = m + n - INDEXHEADER_TOC_LEN;
  if (be32_at(m) != INDEXHEADER_MAGIC || m[4] != INDEXHEADER_V1) {
    rc = tc_error(TC_ECORRUPT, "index-header '%s': bad magic or version",
                  path);
    goto fail;
  }
  if (m[5] != 2) {
    rc = tc_error(TC_ENOTSUP, "index-header '%s': index version %d", path,
                  m[5]);
    goto fail;
  }
  if (tc_crc32c(0, t, 16) != be32_at(t + 16)) {
    rc = tc_error(TC_ECHECKSUM, "index-header '%s': TOC checksum mismatch",
                  path);
    goto fail;
  }
  uint64_t sym_at = be64_at(t), ptab_at = be64_at(t + 8);
  uint64_t body_end = n - INDEXHEADER_TOC_LEN;
  if (sym_at != INDEXHEADER_HEADER_LEN || ptab_at < sym_at ||
      ptab_at + INDEX_TOC_LEN > body_end) {
    rc = tc_error(TC_ECORRUPT, "index-header '%s': bad section offsets",
                  path);
    goto fail;
  }
  /* The index's own TOC ends the copied postings region. */
  const uint8_t *toc = m + body_end - INDEX_TOC_LEN;
  if (tc_crc32c(0, toc, 48) != be32_at(toc + 48)) {
    rc = tc_error(TC_ECHECKSUM, "index-header '%s': index TOC checksum "
                  "mismatch", path);
    goto fail;
  }
  struct ih_source *s = xcalloc(1, sizeof(*s));
  s->map = map;
  s->maplen = n;
  s->head[0] = 0xba, s->head[1] = 0xaa, s->head[2] = 0xd7, s->head[3] = 0x00;
  s->head[4] = m[5];
  s->sym_off = be64_at(toc);
  s->sym_len = ptab_at - sym_at;
  s->ptab_off = be64_at(toc + 40);
  s->ptab_len = body_end - ptab_at;
  s->sym_map = m + sym_at;
  s->ptab_map = m + ptab_at;
  if (be64_at(m + 6) != s->ptab_off || s->sym_off < 5 ||
      s->sym_off + s->sym_len > s->ptab_off) {
    free(s);
    rc = tc_error(TC_ECORRUPT, "index-header '%s': sections disagree with "
                  "the index TOC", path);
    goto fail;
  }
  s->bkt = bkt;
  s->index_name = xstrdup(index_name);
  s->cache = cache;
  snprintf(s->ulid, sizeof s->ulid, "%s", ulid ? ulid : "");
  s->postings_off = be64_at(toc + 32);
  src->ops = &ih_ops;
  src->ctx = s;
  src->size = s->ptab_off + s->ptab_len;
  src->name = xstrdup(index_name);
  return 0;
fail:
  munmap(map, n);
  return rc;
}

static int cmp_u64pair(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Ranges closer than this are read as one. */
#define PRELOAD_GAP (64 * 1024)

int indexheader_preload(struct tsdb_bytes *src, const uint64_t *offs,
                        const uint64_t *lens, size_t n) {
  struct ih_source *s = src->ctx;
  indexheader_preload_clear(src);
  if (n == 0)
    return 0;
  uint64_t *r = xmalloc(n * 2 * sizeof(uint64_t));
  for (size_t i = 0; i < n; i++) {
    r[2 * i] = offs[i];
    uint64_t e = offs[i] + lens[i];
    r[2 * i + 1] = e > src->size ? src->size : e;
  }
  qsort(r, n, 2 * sizeof(uint64_t), cmp_u64pair);
  int rc = 0;
  struct tc_buf b = TC_BUF_INIT;
  for (size_t i = 0; i < n && !rc;) {
    uint64_t start = r[2 * i], end = r[2 * i + 1];
    size_t j = i + 1;
    while (j < n && r[2 * j] <= end + PRELOAD_GAP) {
      if (r[2 * j + 1] > end)
        end = r[2 * j + 1];
      j++;
    }
    i = j;
    if (end <= start)
      continue;
    tc_buf_init(&b, 0);
    rc = read_exact(s->bkt, s->index_name, start, (size_t)(end - start), &b);
    if (rc) {
      tc_buf_release(&b);
      break;
    }
    TC_GROW(s->pre, s->precap, s->npre + 1);
    s->pre[s->npre++] = (struct preload_range){
        .off = start, .len = (size_t)(end - start),
        .data = (uint8_t *)tc_buf_detach(&b, NULL)};
  }
  free(r);
  return rc;
}

void indexheader_preload_clear(struct tsdb_bytes *src) {
  struct ih_source *s = src->ctx;
  for (size_t i = 0; i < s->npre; i++)
    free(s->pre[i].data);
  s->npre = 0;
}

void indexheader_drop_pages(struct tsdb_bytes *src) {
  struct ih_source *s = src->ctx;
  if (s && s->map)
    madvise(s->map, s->maplen, MADV_DONTNEED);
}
