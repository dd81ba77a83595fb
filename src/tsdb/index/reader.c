/*
 * reader.c - the index v2 reader: TOC, symbol table and postings offset
 * table are loaded at open (all CRC-checked); series entries and postings
 * lists are read on demand through the "bytes at offset" source, so the
 * same code serves a local mmap and ranged reads from a bucket. Sections,
 * series entries and matcher selection are format.c's; this file holds the
 * tables. Layout: spec tsdb-block.md section 6, FORMAT.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/tsdb/index.h"

static int corrupt(struct index_reader *r, const char *section,
                   const char *what) {
  return tc_error(TC_ECORRUPT, "index '%s': %s: %s", r->src.name, section,
                  what);
}

static int read_section(struct index_reader *r, uint64_t off,
                        const char *section, const uint8_t **body,
                        uint32_t *len) {
  return index_read_section(&r->src, &r->scratch, off, section, body, len);
}

static int read_symbols(struct index_reader *r) {
  const uint8_t *p;
  uint32_t len;
  int rc = read_section(r, r->toc.symbols, "symbol table", &p, &len);
  if (rc)
    return rc;
  struct decbuf d = decbuf_make(p, len);
  uint32_t n = decbuf_be32(&d);
  if (d.err || n > len)
    return corrupt(r, "symbol table", "bad symbol count");
  r->symarena = xmalloc((size_t)len + n + 1);
  r->symbols = xcalloc(n ? n : 1, sizeof(char *));
  if (r->version == 1)
    r->symoffs = xcalloc(n ? n : 1, sizeof(uint64_t));
  char *a = r->symarena;
  for (uint32_t i = 0; i < n; i++) {
    size_t sl;
    if (r->symoffs) /* v1 references: file offset of the entry */
      r->symoffs[i] = r->toc.symbols + 4 + (uint64_t)(d.p - p);
    const char *s = decbuf_uvarint_str(&d, &sl);
    if (d.err)
      return corrupt(r, "symbol table", "truncated symbol");
    memcpy(a, s, sl);
    a[sl] = '\0';
    r->symbols[i] = a;
    a += sl + 1;
    if (i > 0 && strcmp(r->symbols[i - 1], r->symbols[i]) >= 0)
      return corrupt(r, "symbol table", "symbols not sorted");
  }
  r->nsymbols = n;
  return 0;
}

/* Symbol of a reference from a series entry: its position (v2) or its
 * file offset (v1); NULL when there is none. */
static const char *sym_at(const struct index_reader *r, uint64_t ref) {
  if (!r->symoffs)
    return ref < r->nsymbols ? r->symbols[ref] : NULL;
  size_t lo = 0, hi = r->nsymbols;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->symoffs[mid] < ref)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->nsymbols && r->symoffs[lo] == ref ? r->symbols[lo] : NULL;
}

/* The symbol equal to [s, s+n) (borrowed), or NULL. */
static const char *sym_find(struct index_reader *r, const char *s, size_t n) {
  size_t lo = 0, hi = r->nsymbols;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *m = r->symbols[mid];
    int c = strncmp(m, s, n);
    if (c == 0)
      c = m[n] ? 1 : 0;
    if (c < 0)
      lo = mid + 1;
    else if (c > 0)
      hi = mid;
    else
      return m;
  }
  return NULL;
}

struct ptab_entry {
  const char *name, *value;
  uint64_t off;
};

static int cmp_ptab(const void *a, const void *b) {
  const struct ptab_entry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

static int read_postings_table(struct index_reader *r) {
  const uint8_t *p;
  uint32_t len;
  const char *sect = "postings offset table";
  int rc = read_section(r, r->toc.postings_table, sect, &p, &len);
  if (rc)
    return rc;
  struct decbuf d = decbuf_make(p, len);
  uint32_t n = decbuf_be32(&d);
  if (d.err || n > len)
    return corrupt(r, sect, "bad entry count");
  struct ptab_entry *e = xcalloc(n ? n : 1, sizeof(*e));
  for (uint32_t i = 0; i < n; i++) {
    uint64_t k = decbuf_uvarint(&d);
    size_t nl, vl;
    const char *name = decbuf_uvarint_str(&d, &nl);
    const char *value = decbuf_uvarint_str(&d, &vl);
    e[i].off = decbuf_uvarint(&d);
    if (d.err) {
      rc = corrupt(r, sect, "truncated entry");
      goto out;
    }
    if (k != 2) {
      rc = corrupt(r, sect, "entry without 2 keys");
      goto out;
    }
    if (e[i].off >= r->src.size) {
      rc = corrupt(r, sect, "postings offset past the end of the file");
      goto out;
    }
    e[i].name = nl ? sym_find(r, name, nl) : "";
    e[i].value = vl ? sym_find(r, value, vl) : "";
    if (!e[i].name || !e[i].value) {
      rc = corrupt(r, sect, "label not in the symbol table");
      goto out;
    }
  }
  if (decbuf_len(&d) != 0) {
    rc = corrupt(r, sect, "trailing bytes");
    goto out;
  }
  /* v2 tables are sorted (checked below); early v1 ones may not be. */
  if (r->version == 1 && n > 1)
    qsort(e, n, sizeof(*e), cmp_ptab);
  size_t cap = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i && cmp_ptab(&e[i - 1], &e[i]) >= 0) {
      rc = corrupt(r, sect, "entries not sorted");
      goto out;
    }
    struct index_pname *pn = r->nnames ? &r->names[r->nnames - 1] : NULL;
    if (!pn || strcmp(pn->name, e[i].name) != 0) {
      TC_GROW(r->names, cap, r->nnames + 1);
      pn = &r->names[r->nnames++];
      memset(pn, 0, sizeof(*pn));
      pn->name = e[i].name;
    }
    TC_GROW(pn->v, pn->cap, pn->n + 1);
    pn->v[pn->n].value = e[i].value;
    pn->v[pn->n].off = e[i].off;
    pn->n++;
  }
out:
  free(e);
  return rc;
}

int index_reader_open_file(struct index_reader *r, const char *path) {
  struct tsdb_bytes src;
  memset(r, 0, sizeof(*r));
  int rc = tsdb_bytes_open_file(&src, path);
  if (rc)
    return rc;
  return index_reader_open(r, &src);
}

int index_reader_open(struct index_reader *r, struct tsdb_bytes *src) {
  memset(r, 0, sizeof(*r));
  r->src = *src;
  memset(src, 0, sizeof(*src));
  tc_buf_init(&r->scratch, 0);
  int rc = index_read_toc(&r->src, &r->scratch, &r->version, &r->toc);
  if (!rc)
    rc = read_symbols(r);
  if (!rc)
    rc = read_postings_table(r);
  if (rc)
    index_reader_close(r);
  return rc;
}

void index_reader_close(struct index_reader *r) {
  for (size_t i = 0; i < r->nnames; i++)
    free(r->names[i].v);
  free(r->names);
  free(r->symbols);
  free(r->symoffs);
  free(r->symarena);
  tc_buf_release(&r->scratch);
  tsdb_bytes_close(&r->src);
  memset(r, 0, sizeof(*r));
}

int index_reader_symbol(struct index_reader *r, uint64_t ref, const char **s) {
  *s = sym_at(r, ref);
  if (!*s)
    return tc_error(TC_ECORRUPT, "index '%s': unknown symbol reference %llu",
                    r->src.name, (unsigned long long)ref);
  return 0;
}

static const char *series_sym(void *ctx, uint64_t ref) {
  return sym_at(ctx, ref);
}

int index_reader_series(struct index_reader *r, uint64_t id,
                        struct index_series *s) {
  return index_read_series(&r->src, &r->scratch, r->version, id, series_sym, r,
                           s);
}

static const struct index_pname *find_name(struct index_reader *r,
                                           const char *name) {
  size_t lo = 0, hi = r->nnames;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->names[mid].name, name);
    if (c < 0)
      lo = mid + 1;
    else if (c > 0)
      hi = mid;
    else
      return &r->names[mid];
  }
  return NULL;
}

const struct index_pname *index_reader_label_values(struct index_reader *r,
                                                    const char *name) {
  return find_name(r, name);
}

void index_reader_label_names(struct index_reader *r, const char ***names,
                              size_t *n) {
  const char **v = xcalloc(r->nnames + 1, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < r->nnames; i++)
    if (r->names[i].name[0])
      v[k++] = r->names[i].name;
  *names = v;
  *n = k;
}

static struct postings *postings_at_off(struct index_reader *r, uint64_t off) {
  return index_read_postings(&r->src, &r->scratch, off, true);
}

static const struct index_pvalue *find_value(const struct index_pname *pn,
                                             const char *value) {
  size_t lo = 0, hi = pn->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(pn->v[mid].value, value);
    if (c < 0)
      lo = mid + 1;
    else if (c > 0)
      hi = mid;
    else
      return &pn->v[mid];
  }
  return NULL;
}

static bool lookup_find(void *ctx, const char *name, const char *value,
                        uint64_t *off) {
  const struct index_pname *pn = find_name(ctx, name);
  const struct index_pvalue *pv = pn ? find_value(pn, value) : NULL;
  if (pv)
    *off = pv->off;
  return pv != NULL;
}

struct postings *index_reader_postings(struct index_reader *r, const char *name,
                                       const char *value) {
  uint64_t off;
  if (!lookup_find(r, name, value, &off))
    return postings_empty();
  return postings_at_off(r, off);
}

static int lookup_each_value(void *ctx, const char *name, index_value_fn *fn,
                             void *data) {
  const struct index_pname *pn = find_name(ctx, name);
  int rc = 0;
  for (size_t i = 0; pn && i < pn->n && !rc; i++)
    rc = fn(data, pn->v[i].value, strlen(pn->v[i].value), pn->v[i].off);
  return rc;
}

static struct postings *lookup_postings_at(void *ctx, uint64_t off) {
  return postings_at_off(ctx, off);
}

struct postings *index_reader_select(struct index_reader *r,
                                     const struct matchers *ms) {
  struct index_lookup l = {r, lookup_find, lookup_each_value,
                           lookup_postings_at};
  return index_select(&l, ms);
}
