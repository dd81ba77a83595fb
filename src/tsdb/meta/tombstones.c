/*
 * tombstones.c - the block's tombstones file: deleted (series, [mint,
 * maxt]) intervals that readers drop from query results. Layout: magic,
 * version byte, (uvarint ref, varint mint, varint maxt) entries, CRC32C of
 * the entries (spec tsdb-block.md section 7).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/encoding.h"
#include "thanosc/tsdb/meta.h"

#define TOMBSTONES_MAGIC 0x0130BA30u

void tombstones_release(struct tombstones *t) {
  free(t->v);
  memset(t, 0, sizeof(*t));
}

static int cmp_tomb(const void *a, const void *b) {
  const struct tombstone *x = a, *y = b;
  if (x->ref != y->ref)
    return x->ref < y->ref ? -1 : 1;
  return x->mint < y->mint ? -1 : x->mint > y->mint;
}

int tombstones_parse(struct tombstones *t, const uint8_t *p, size_t n,
                     const char *name) {
  memset(t, 0, sizeof(*t));
  if (n < 9)
    return tc_error(TC_ECORRUPT, "tombstones '%s': %zu bytes, too short",
                    name, n);
  struct decbuf d = decbuf_make(p, n);
  if (decbuf_be32(&d) != TOMBSTONES_MAGIC)
    return tc_error(TC_ECORRUPT, "tombstones '%s': bad magic", name);
  if (decbuf_byte(&d) != 1)
    return tc_error(TC_ECORRUPT, "tombstones '%s': unknown version", name);
  const uint8_t *crcp = p + n - 4;
  uint32_t want = ((uint32_t)crcp[0] << 24) | ((uint32_t)crcp[1] << 16) |
                  ((uint32_t)crcp[2] << 8) | crcp[3];
  uint32_t got = tc_crc32c(0, p + 5, n - 9);
  if (want != got)
    return tc_error(TC_ECHECKSUM, "tombstones '%s': checksum mismatch", name);
  d = decbuf_make(p + 5, n - 9);
  while (decbuf_len(&d) && !d.err) {
    struct tombstone x;
    x.ref = decbuf_uvarint(&d);
    x.mint = decbuf_varint(&d);
    x.maxt = decbuf_varint(&d);
    if (d.err)
      break;
    TC_GROW(t->v, t->cap, t->n + 1);
    t->v[t->n++] = x;
  }
  if (d.err) {
    tombstones_release(t);
    return tc_error(TC_ECORRUPT, "tombstones '%s': truncated entry", name);
  }
  if (t->n > 1)
    qsort(t->v, t->n, sizeof(t->v[0]), cmp_tomb);
  return 0;
}

int tombstones_read(struct tombstones *t, const char *dir) {
  char *path = xasprintf("%s/tombstones", dir), *text = NULL;
  size_t n;
  memset(t, 0, sizeof(*t));
  int rc = tc_read_file(path, 1u << 30, &text, &n);
  if (rc == TC_ENOTFOUND) {
    tc_error_clear();
    rc = 0;
  } else if (!rc) {
    rc = tombstones_parse(t, (const uint8_t *)text, n, path);
  }
  free(text);
  free(path);
  return rc;
}

int tombstones_write(const struct tombstones *t, const char *dir) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  tc_buf_put_be32(&b, TOMBSTONES_MAGIC);
  tc_buf_addc(&b, 1);
  for (size_t i = 0; i < t->n; i++) {
    tc_buf_put_uvarint(&b, t->v[i].ref);
    tc_buf_put_varint(&b, t->v[i].mint);
    tc_buf_put_varint(&b, t->v[i].maxt);
  }
  tc_buf_put_be32(&b, tc_crc32c(0, b.data + 5, b.len - 5));
  char *path = xasprintf("%s/tombstones", dir);
  int rc = tsdb_write_file_atomic(path, b.data, b.len);
  free(path);
  tc_buf_release(&b);
  return rc;
}

size_t tombstones_for(const struct tombstones *t, uint64_t ref,
                      size_t *first) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->v[mid].ref < ref)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t k = lo;
  while (k < t->n && t->v[k].ref == ref)
    k++;
  *first = lo;
  return k - lo;
}
