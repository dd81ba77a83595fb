/*
 * bytes.c - the "bytes at offset" sources behind every TSDB reader: a
 * read-only mmap of a local file and a plain memory range. A bucket-backed
 * source (store gateway) implements the same two-slot vtable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/encoding.h"

struct mem_src {
  const uint8_t *p;
  size_t n;
  int mapped;
};

static int mem_read(void *ctx, uint64_t off, size_t len, struct tc_buf *scratch,
                    const uint8_t **out) {
  struct mem_src *m = ctx;
  (void)scratch;
  if (off > m->n || len > m->n - off)
    return TC_ECORRUPT;
  *out = m->p + off;
  return 0;
}

static void mem_close(void *ctx) {
  struct mem_src *m = ctx;
  if (m->mapped && m->n)
    munmap((void *)m->p, m->n);
  free(m);
}

static const struct tsdb_bytes_ops mem_ops = {mem_read, mem_close};

int tsdb_bytes_open_file(struct tsdb_bytes *b, const char *path) {
  memset(b, 0, sizeof(*b));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return tc_error(e == ENOENT ? TC_ENOTFOUND : -e, "open '%s': %s", path,
                    strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return tc_error(-e, "stat '%s': %s", path, strerror(e));
  }
  struct mem_src *m = xcalloc(1, sizeof(*m));
  m->n = (size_t)st.st_size;
  m->mapped = 1;
  if (m->n) {
    void *p = mmap(NULL, m->n, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      close(fd);
      free(m);
      return tc_error(-e, "mmap '%s': %s", path, strerror(e));
    }
    m->p = p;
  }
  close(fd);
  b->ops = &mem_ops;
  b->ctx = m;
  b->size = m->n;
  b->name = xstrdup(path);
  return 0;
}

void tsdb_bytes_open_mem(struct tsdb_bytes *b, const void *p, size_t n,
                         const char *name) {
  struct mem_src *m = xcalloc(1, sizeof(*m));
  m->p = p;
  m->n = n;
  b->ops = &mem_ops;
  b->ctx = m;
  b->size = n;
  b->name = xstrdup(name);
}

void tsdb_bytes_close(struct tsdb_bytes *b) {
  if (b->ops)
    b->ops->close(b->ctx);
  free(b->name);
  memset(b, 0, sizeof(*b));
}

int tsdb_bytes_read(struct tsdb_bytes *b, uint64_t off, size_t len,
                    struct tc_buf *scratch, const uint8_t **out) {
  if (off > b->size || len > b->size - off)
    return tc_error(TC_ECORRUPT,
                    "'%s': range %llu+%zu is past the end (size %llu)",
                    b->name, (unsigned long long)off, len,
                    (unsigned long long)b->size);
  int rc = b->ops->read(b->ctx, off, len, scratch, out);
  if (rc)
    return tc_error_wrap(rc, "'%s': read %llu+%zu", b->name,
                         (unsigned long long)off, len);
  return 0;
}
