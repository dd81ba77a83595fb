/*
 * aggr.c - the Thanos aggregate chunk of downsampled blocks (encoding
 * 0xff): five optional sub-chunks (count, sum, min, max, counter), each
 * length-prefixed. The store gateway hands the sub-chunks to queriers and
 * the compactor writes them; both go through these two functions.
 */
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/chunkenc.h"

static const char *const aggr_names[AGGR_NUM] = {"count", "sum", "min", "max",
                                                 "counter"};

int aggr_chunk_parse(struct aggr_chunk *a, const uint8_t *data, size_t n) {
  struct decbuf d = decbuf_make(data, n);
  memset(a, 0, sizeof(*a));
  for (int i = 0; i < AGGR_NUM; i++) {
    uint64_t len = decbuf_uvarint(&d);
    if (d.err)
      return tc_error(TC_ECORRUPT, "aggregate chunk: %s: truncated length",
                      aggr_names[i]);
    if (len == 0)
      continue;
    if (len > decbuf_len(&d) || decbuf_len(&d) - (size_t)len < 1)
      return tc_error(TC_ECORRUPT,
                      "aggregate chunk: %s: length %llu runs past the end",
                      aggr_names[i], (unsigned long long)len);
    a->sub[i].present = true;
    a->sub[i].enc = decbuf_byte(&d);
    a->sub[i].len = (size_t)len;
    a->sub[i].data = decbuf_bytes(&d, (size_t)len);
  }
  if (decbuf_len(&d))
    return tc_error(TC_ECORRUPT, "aggregate chunk: %zu trailing bytes",
                    decbuf_len(&d));
  return 0;
}

int aggr_chunk_encode(struct tc_buf *out, const struct aggr_chunk *a) {
  int rc = 0;
  for (int i = 0; i < AGGR_NUM && !rc; i++) {
    if (!a->sub[i].present) {
      rc = tc_buf_put_uvarint(out, 0);
      continue;
    }
    rc = tc_buf_put_uvarint(out, a->sub[i].len);
    if (!rc)
      rc = tc_buf_addc(out, (char)a->sub[i].enc);
    if (!rc)
      rc = tc_buf_add(out, a->sub[i].data, a->sub[i].len);
  }
  return rc;
}
