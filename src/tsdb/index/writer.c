/*
 * writer.c - the index v2 writer, a stage machine as in Prometheus: all
 * symbols first (sorted), then series in label order (16-byte aligned),
 * then at close the label indices, postings lists, label offset table,
 * postings offset table and TOC. The output has the layout, padding and
 * TOC offsets Prometheus 2.x through 3.6 write (label indices included).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/index.h"
#include "tsdb/encoding/strtab.h"

enum { ST_SYMBOLS, ST_SERIES, ST_DONE };

static int iw_flush(struct index_writer *w) {
  size_t done = 0;
  while (done < w->buf.len) {
    ssize_t k = write(w->fd, w->buf.data + done, w->buf.len - done);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      return tc_error(-e, "write index '%s': %s", w->path, strerror(e));
    }
    done += (size_t)k;
  }
  tc_buf_reset(&w->buf);
  return 0;
}

static int iw_add(struct index_writer *w, const void *p, size_t n) {
  tc_buf_add(&w->buf, p, n);
  w->pos += n;
  return w->buf.len >= (1u << 20) ? iw_flush(w) : 0;
}

static int iw_pad(struct index_writer *w, unsigned align) {
  static const uint8_t zeros[16];
  size_t k = (size_t)((align - w->pos % align) % align);
  return k ? iw_add(w, zeros, k) : 0;
}

static int iw_be32(struct index_writer *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                  (uint8_t)v};
  return iw_add(w, b, 4);
}

/* Writes `be32 len | body | be32 crc(body)`. */
static int iw_section(struct index_writer *w, const struct tc_buf *body) {
  if (body->len > UINT32_MAX)
    return tc_error(TC_ELIMIT, "index '%s': section exceeds 4 GiB", w->path);
  int rc = iw_be32(w, (uint32_t)body->len);
  if (!rc)
    rc = iw_add(w, body->data, body->len);
  if (!rc)
    rc = iw_be32(w, tc_crc32c(0, body->data, body->len));
  return rc;
}

int index_writer_open(struct index_writer *w, const char *path) {
  memset(w, 0, sizeof(*w));
  w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) {
    int e = errno;
    return tc_error(-e, "create '%s': %s", path, strerror(e));
  }
  w->path = xstrdup(path);
  w->version = 2;
  tc_buf_init(&w->buf, 0);
  uint8_t hdr[5] = {0xba, 0xaa, 0xd7, 0x00, 2};
  iw_add(w, hdr, 5);
  w->toc.symbols = w->pos;
  return 0;
}

int index_writer_add_symbol(struct index_writer *w, const char *s) {
  if (w->stage != ST_SYMBOLS)
    return tc_error(TC_ESTATE, "index '%s': symbol '%s' added after series",
                    w->path, s);
  if (w->nsyms && strcmp(w->syms[w->nsyms - 1], s) >= 0)
    return tc_error(TC_EINVAL, "index '%s': symbol '%s' out of order",
                    w->path, s);
  TC_GROW(w->syms, w->symcap, w->nsyms + 1);
  w->syms[w->nsyms++] = xstrdup(s);
  return 0;
}

static int finish_symbols(struct index_writer *w) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  if (w->nsyms > UINT32_MAX)
    return tc_error(TC_ELIMIT, "index '%s': too many symbols", w->path);
  tc_buf_put_be32(&b, (uint32_t)w->nsyms);
  if (w->version == 1)
    w->symoffs = xcalloc(w->nsyms + 1, sizeof(uint64_t));
  for (size_t i = 0; i < w->nsyms; i++) {
    if (w->symoffs) /* after the section's be32 length */
      w->symoffs[i] = w->pos + 4 + b.len;
    tc_buf_put_uvarint_str(&b, w->syms[i], strlen(w->syms[i]));
  }
  int rc = iw_section(w, &b);
  tc_buf_release(&b);
  w->symtab = xcalloc(1, sizeof(*w->symtab));
  tsdb_strtab_init(w->symtab, w->nsyms);
  for (size_t i = 0; i < w->nsyms; i++)
    tsdb_strtab_put(w->symtab, w->syms[i], (uint32_t)i);
  w->stage = ST_SERIES;
  w->toc.series = w->pos;
  return rc;
}

/* Position of symbol s in the table, or -1. */
static int64_t sym_ref(const struct index_writer *w, const char *s) {
  return tsdb_strtab_get(w->symtab, s);
}

/* How symbol i is referenced in the file: its position (v2) or the file
 * offset of its entry (v1). */
static uint64_t sym_wire(const struct index_writer *w, uint32_t i) {
  return w->version == 1 ? w->symoffs[i] : i;
}

void index_writer_accept_any_chunk_order(struct index_writer *w) {
  w->any_chunk_order = true;
}

int index_writer_set_version(struct index_writer *w, int version) {
  if (version != 1 && version != 2)
    return tc_error(TC_EINVAL, "index '%s': no format version %d", w->path,
                    version);
  if (w->stage != ST_SYMBOLS || w->nsyms || w->buf.len != 5)
    return tc_error(TC_ESTATE, "index '%s': version set after writing",
                    w->path);
  w->version = version;
  w->buf.data[4] = (char)version;
  return 0;
}

int index_writer_add_series(struct index_writer *w, const struct labels *ls,
                            const struct chunk_meta *chunks, size_t n) {
  int rc;
  if (w->stage == ST_SYMBOLS && (rc = finish_symbols(w)))
    return rc;
  if (w->stage != ST_SERIES)
    return tc_error(TC_ESTATE, "index '%s': series added after close",
                    w->path);
  if (w->nseries && labels_compare(&w->last, ls) >= 0)
    return tc_error(TC_EINVAL, "index '%s': series out of order", w->path);
  struct tc_buf b;
  tc_buf_init(&b, 0);
  size_t pairs0 = w->npairs;
  if ((rc = iw_pad(w, 16)))
    goto out;
  uint64_t id64 = w->version == 1 ? w->pos : w->pos / 16;
  if (id64 > UINT32_MAX) {
    rc = tc_error(TC_ELIMIT, "index '%s': series section too large for "
                  "format v%d", w->path, w->version);
    goto out;
  }
  uint32_t id = (uint32_t)id64;
  tc_buf_put_uvarint(&b, ls->n);
  for (size_t i = 0; i < ls->n; i++) {
    int64_t nr = sym_ref(w, ls->v[i].name), vr = sym_ref(w, ls->v[i].value);
    if (nr < 0 || vr < 0) {
      rc = tc_error(TC_EINVAL, "index '%s': label %s=\"%s\" not a symbol",
                    w->path, ls->v[i].name, ls->v[i].value);
      goto out;
    }
    if (i && strcmp(ls->v[i - 1].name, ls->v[i].name) >= 0) {
      rc = tc_error(TC_EINVAL, "index '%s': labels not sorted", w->path);
      goto out;
    }
    tc_buf_put_uvarint(&b, sym_wire(w, (uint32_t)nr));
    tc_buf_put_uvarint(&b, sym_wire(w, (uint32_t)vr));
    if (w->npairs + 1 > w->pairscap / 3) {
      size_t c = w->pairscap;
      TC_GROW(w->pairs, c, (w->npairs + 1) * 3);
      w->pairscap = c;
    }
    w->pairs[w->npairs * 3] = (uint32_t)nr;
    w->pairs[w->npairs * 3 + 1] = (uint32_t)vr;
    w->pairs[w->npairs * 3 + 2] = id;
    w->npairs++;
  }
  tc_buf_put_uvarint(&b, n);
  for (size_t i = 0; i < n; i++) {
    const struct chunk_meta *c = &chunks[i];
    bool order = w->any_chunk_order || (i == 0 || c->mint > chunks[i - 1].maxt);
    if (c->maxt < c->mint || !order ||
        c->ref < (i ? chunks[i - 1].ref : w->last_ref)) {
      rc = tc_error(TC_EINVAL, "index '%s': chunk %zu of a series out of "
                    "order", w->path, i);
      goto out;
    }
    if (i == 0) {
      tc_buf_put_varint(&b, c->mint);
      tc_buf_put_uvarint(&b, (uint64_t)(c->maxt - c->mint));
      tc_buf_put_uvarint(&b, c->ref);
    } else {
      tc_buf_put_uvarint(&b, (uint64_t)(c->mint - chunks[i - 1].maxt));
      tc_buf_put_uvarint(&b, (uint64_t)(c->maxt - c->mint));
      tc_buf_put_varint(&b, (int64_t)(c->ref - chunks[i - 1].ref));
    }
  }
  uint8_t v[10];
  size_t vl = 0;
  for (uint64_t x = b.len; ; x >>= 7) {
    v[vl++] = (uint8_t)(x >= 0x80 ? (x & 0x7f) | 0x80 : x);
    if (x < 0x80)
      break;
  }
  if ((rc = iw_add(w, v, vl)) || (rc = iw_add(w, b.data, b.len)) ||
      (rc = iw_be32(w, tc_crc32c(0, b.data, b.len))))
    goto out;
  if (n)
    w->last_ref = chunks[n - 1].ref;
  TC_GROW(w->ids, w->idscap, w->nseries + 1);
  w->ids[w->nseries++] = id;
  labels_release(&w->last);
  labels_copy(&w->last, ls);
out:
  if (rc)
    w->npairs = pairs0;
  tc_buf_release(&b);
  return rc;
}

static int cmp_pair(const void *a, const void *b) {
  const uint32_t *x = a, *y = b;
  for (int i = 0; i < 3; i++)
    if (x[i] != y[i])
      return x[i] < y[i] ? -1 : 1;
  return 0;
}

static int write_postings_list(struct index_writer *w, const uint32_t *ids,
                               size_t stride, size_t n, uint64_t *off) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  int rc = iw_pad(w, 4);
  *off = w->pos;
  tc_buf_put_be32(&b, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    tc_buf_put_be32(&b, ids[i * stride]);
  if (!rc)
    rc = iw_section(w, &b);
  tc_buf_release(&b);
  return rc;
}

static int write_tables(struct index_writer *w) {
  int rc = 0;
  struct tc_buf b, tbl;
  tc_buf_init(&b, 0);
  tc_buf_init(&tbl, 0);
  if (w->npairs > 1)
    qsort(w->pairs, w->npairs, 3 * sizeof(uint32_t), cmp_pair);
  /* Label indices: one per name, values ascending (symbol order). */
  w->toc.label_indices = w->pos;
  uint64_t *lioff = xcalloc(w->nsyms + 1, sizeof(uint64_t));
  uint32_t *names = xcalloc(w->nsyms + 1, sizeof(uint32_t));
  size_t nnames = 0;
  for (size_t i = 0; i < w->npairs && !rc;) {
    uint32_t name = w->pairs[i * 3];
    tc_buf_reset(&b);
    tc_buf_put_be32(&b, 1);
    tc_buf_put_be32(&b, 0); /* count, patched below */
    uint32_t cnt = 0;
    size_t j = i;
    for (; j < w->npairs && w->pairs[j * 3] == name; j++)
      if (j == i || w->pairs[j * 3 + 1] != w->pairs[(j - 1) * 3 + 1]) {
        tc_buf_put_be32(&b, (uint32_t)sym_wire(w, w->pairs[j * 3 + 1]));
        cnt++;
      }
    b.data[4] = (char)(cnt >> 24), b.data[5] = (char)(cnt >> 16);
    b.data[6] = (char)(cnt >> 8), b.data[7] = (char)cnt;
    rc = iw_pad(w, 4);
    lioff[nnames] = w->pos;
    names[nnames++] = name;
    if (!rc)
      rc = iw_section(w, &b);
    i = j;
  }
  /* Postings: all series first, then every (name, value) pair. */
  w->toc.postings = w->pos;
  uint64_t off = 0;
  tc_buf_reset(&tbl);
  tc_buf_put_be32(&tbl, 0); /* entries, patched below */
  uint32_t nentries = 0;
  if (!rc)
    rc = write_postings_list(w, w->ids, 1, w->nseries, &off);
  tc_buf_put_uvarint(&tbl, 2);
  tc_buf_put_uvarint_str(&tbl, "", 0);
  tc_buf_put_uvarint_str(&tbl, "", 0);
  tc_buf_put_uvarint(&tbl, off);
  nentries++;
  for (size_t i = 0; i < w->npairs && !rc;) {
    size_t j = i;
    while (j < w->npairs && w->pairs[j * 3] == w->pairs[i * 3] &&
           w->pairs[j * 3 + 1] == w->pairs[i * 3 + 1])
      j++;
    rc = write_postings_list(w, w->pairs + i * 3 + 2, 3, j - i, &off);
    const char *n = w->syms[w->pairs[i * 3]], *v = w->syms[w->pairs[i * 3 + 1]];
    tc_buf_put_uvarint(&tbl, 2);
    tc_buf_put_uvarint_str(&tbl, n, strlen(n));
    tc_buf_put_uvarint_str(&tbl, v, strlen(v));
    tc_buf_put_uvarint(&tbl, off);
    nentries++;
    i = j;
  }
  tbl.data[0] = (char)(nentries >> 24), tbl.data[1] = (char)(nentries >> 16);
  tbl.data[2] = (char)(nentries >> 8), tbl.data[3] = (char)nentries;
  /* Label offset table (legacy). */
  w->toc.label_indices_table = w->pos;
  tc_buf_reset(&b);
  tc_buf_put_be32(&b, (uint32_t)nnames);
  for (size_t i = 0; i < nnames; i++) {
    const char *n = w->syms[names[i]];
    tc_buf_put_uvarint(&b, 1);
    tc_buf_put_uvarint_str(&b, n, strlen(n));
    tc_buf_put_uvarint(&b, lioff[i]);
  }
  if (!rc)
    rc = iw_section(w, &b);
  w->toc.postings_table = w->pos;
  if (!rc)
    rc = iw_section(w, &tbl);
  free(lioff);
  free(names);
  tc_buf_release(&b);
  tc_buf_release(&tbl);
  return rc;
}

static int write_toc(struct index_writer *w) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  tc_buf_put_be64(&b, w->toc.symbols);
  tc_buf_put_be64(&b, w->toc.series);
  tc_buf_put_be64(&b, w->toc.label_indices);
  tc_buf_put_be64(&b, w->toc.label_indices_table);
  tc_buf_put_be64(&b, w->toc.postings);
  tc_buf_put_be64(&b, w->toc.postings_table);
  tc_buf_put_be32(&b, tc_crc32c(0, b.data, 48));
  int rc = iw_add(w, b.data, b.len);
  tc_buf_release(&b);
  return rc;
}

static void iw_free(struct index_writer *w) {
  free(w->symoffs);
  if (w->symtab) {
    tsdb_strtab_release(w->symtab);
    free(w->symtab);
  }
  for (size_t i = 0; i < w->nsyms; i++)
    free(w->syms[i]);
  free(w->syms);
  free(w->pairs);
  free(w->ids);
  labels_release(&w->last);
  tc_buf_release(&w->buf);
  free(w->path);
}

int index_writer_close(struct index_writer *w) {
  int rc = 0;
  if (w->stage == ST_SYMBOLS)
    rc = finish_symbols(w);
  if (!rc && w->stage != ST_SERIES)
    rc = tc_error(TC_ESTATE, "index '%s': closed twice", w->path);
  if (!rc)
    rc = write_tables(w);
  if (!rc)
    rc = write_toc(w);
  if (!rc)
    rc = iw_flush(w);
  if (!rc && fsync(w->fd) < 0)
    rc = tc_error(-errno, "fsync index '%s'", w->path);
  close(w->fd);
  w->stage = ST_DONE;
  iw_free(w);
  memset(w, 0, sizeof(*w));
  w->fd = -1;
  return rc;
}

void index_writer_abort(struct index_writer *w) {
  if (w->fd >= 0)
    close(w->fd);
  iw_free(w);
  memset(w, 0, sizeof(*w));
  w->fd = -1;
}
