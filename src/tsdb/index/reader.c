/*
 * reader.c - the index v2 reader: TOC, symbol table and postings offset
 * table are loaded at open (all CRC-checked); series entries and postings
 * lists are read on demand through the "bytes at offset" source, so the
 * same code serves a local mmap and ranged reads from a bucket. Also the
 * translation of label matchers into postings (Prometheus's
 * PostingsForMatchers). Layout: spec tsdb-block.md section 6, FORMAT.md.
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

static inline uint32_t be32_at(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

/* Reads a `be32 len | len bytes | be32 crc` section at off and checks the
 * CRC; body and len get the section bytes. */
static int read_section(struct index_reader *r, uint64_t off,
                        const char *section, const uint8_t **body,
                        uint32_t *len) {
  const uint8_t *p;
  int rc = tsdb_bytes_read(&r->src, off, 4, &r->scratch, &p);
  if (rc)
    return corrupt(r, section, "offset past the end of the file");
  uint32_t n = be32_at(p);
  if ((uint64_t)n + 8 > r->src.size - off)
    return corrupt(r, section, "length runs past the end of the file");
  rc = tsdb_bytes_read(&r->src, off + 4, (size_t)n + 4, &r->scratch, &p);
  if (rc)
    return rc;
  uint32_t want = be32_at(p + n), got = tc_crc32c(0, p, n);
  if (want != got)
    return tc_error(TC_ECHECKSUM,
                    "index '%s': %s: checksum mismatch (stored %08x, "
                    "computed %08x)",
                    r->src.name, section, want, got);
  *body = p;
  *len = n;
  return 0;
}

static int read_toc(struct index_reader *r) {
  const uint8_t *p;
  if (r->src.size < 5 + INDEX_TOC_LEN)
    return corrupt(r, "header", "file too short");
  int rc = tsdb_bytes_read(&r->src, 0, 5, &r->scratch, &p);
  if (rc)
    return rc;
  if (be32_at(p) != INDEX_MAGIC)
    return corrupt(r, "header", "bad magic");
  r->version = p[4];
  if (r->version != 1 && r->version != 2)
    return tc_error(TC_ECORRUPT, "index '%s': header: unsupported version %d",
                    r->src.name, r->version);
  rc = tsdb_bytes_read(&r->src, r->src.size - INDEX_TOC_LEN, INDEX_TOC_LEN,
                       &r->scratch, &p);
  if (rc)
    return rc;
  if (tc_crc32c(0, p, 48) != be32_at(p + 48))
    return tc_error(TC_ECHECKSUM, "index '%s': TOC: checksum mismatch",
                    r->src.name);
  struct decbuf d = decbuf_make(p, 48);
  r->toc.symbols = decbuf_be64(&d);
  r->toc.series = decbuf_be64(&d);
  r->toc.label_indices = decbuf_be64(&d);
  r->toc.label_indices_table = decbuf_be64(&d);
  r->toc.postings = decbuf_be64(&d);
  r->toc.postings_table = decbuf_be64(&d);
  uint64_t end = r->src.size - INDEX_TOC_LEN;
  if (r->toc.symbols > end || r->toc.series > end ||
      r->toc.postings > end || r->toc.postings_table > end ||
      r->toc.label_indices > end || r->toc.label_indices_table > end)
    return corrupt(r, "TOC", "section offset past the end of the file");
  return 0;
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
  int rc = read_toc(r);
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

void index_series_release(struct index_series *s) {
  labels_release(&s->lset);
  free(s->chunks);
  memset(s, 0, sizeof(*s));
}

int index_reader_series(struct index_reader *r, uint64_t id,
                        struct index_series *s) {
  /* v2 series are 16-byte aligned and referenced by offset / 16. */
  uint64_t off = r->version == 1 ? id : id * 16;
  const uint8_t *p;
  char sect[48];
  snprintf(sect, sizeof(sect), "series %llu", (unsigned long long)id);
  if ((r->version != 1 && id > UINT32_MAX) || off >= r->src.size)
    return corrupt(r, sect, "reference past the end of the file");
  size_t hl = (size_t)TC_MIN((uint64_t)10, r->src.size - off);
  int rc = tsdb_bytes_read(&r->src, off, hl, &r->scratch, &p);
  if (rc)
    return rc;
  struct decbuf d = decbuf_make(p, hl);
  uint64_t len = decbuf_uvarint(&d);
  size_t vl = hl - decbuf_len(&d);
  uint64_t room = r->src.size - off - vl; /* vl <= hl <= size - off */
  if (d.err || room < 4 || len > room - 4)
    return corrupt(r, sect, "length runs past the end of the file");
  rc = tsdb_bytes_read(&r->src, off + vl, (size_t)len + 4, &r->scratch, &p);
  if (rc)
    return rc;
  uint32_t want = be32_at(p + len), got = tc_crc32c(0, p, (size_t)len);
  if (want != got)
    return tc_error(TC_ECHECKSUM,
                    "index '%s': %s: checksum mismatch (stored %08x, "
                    "computed %08x)",
                    r->src.name, sect, want, got);
  d = decbuf_make(p, (size_t)len);
  labels_reset(&s->lset);
  s->lset.flags = LABELS_BORROWED;
  s->nchunks = 0;
  uint64_t nl = decbuf_uvarint(&d);
  if (nl > len)
    return corrupt(r, sect, "bad label count");
  for (uint64_t i = 0; i < nl; i++) {
    uint64_t nr = decbuf_uvarint(&d), vr = decbuf_uvarint(&d);
    if (d.err)
      return corrupt(r, sect, "truncated labels");
    const char *ns = sym_at(r, nr), *vs = sym_at(r, vr);
    if (!ns || !vs)
      return corrupt(r, sect, "symbol reference out of range");
    labels_add_borrowed(&s->lset, ns, vs);
  }
  uint64_t nc = decbuf_uvarint(&d);
  if (d.err || nc > len)
    return corrupt(r, sect, "bad chunk count");
  if (nc > s->cap) {
    s->chunks = xrealloc(s->chunks, nc * sizeof(s->chunks[0]));
    s->cap = nc;
  }
  int64_t prev_maxt = 0;
  uint64_t prev_ref = 0;
  for (uint64_t i = 0; i < nc; i++) {
    struct chunk_meta *c = &s->chunks[i];
    if (i == 0) {
      c->mint = decbuf_varint(&d);
      c->maxt = (int64_t)((uint64_t)c->mint + decbuf_uvarint(&d));
      c->ref = decbuf_uvarint(&d);
    } else {
      c->mint = (int64_t)((uint64_t)prev_maxt + decbuf_uvarint(&d));
      c->maxt = (int64_t)((uint64_t)c->mint + decbuf_uvarint(&d));
      c->ref = prev_ref + (uint64_t)decbuf_varint(&d);
    }
    prev_maxt = c->maxt;
    prev_ref = c->ref;
  }
  if (d.err)
    return corrupt(r, sect, "truncated chunk metas");
  s->nchunks = (size_t)nc;
  return 0;
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
  const uint8_t *p;
  uint32_t len;
  int rc = read_section(r, off, "postings list", &p, &len);
  if (rc)
    return postings_error(rc);
  uint32_t n = len >= 4 ? be32_at(p) : 0;
  if (len < 4 || (uint64_t)n * 4 + 4 != len)
    return postings_error(corrupt(r, "postings list", "bad entry count"));
  /* Memory of the source stays valid; the scratch buffer does not. */
  if (r->scratch.data && (const char *)p >= r->scratch.data &&
      (const char *)p < r->scratch.data + r->scratch.cap) {
    uint64_t *ids = xmalloc(((size_t)n + 1) * sizeof(uint64_t));
    for (uint32_t i = 0; i < n; i++)
      ids[i] = be32_at(p + 4 + 4 * i);
    struct postings *it = postings_from_ids(ids, n);
    free(ids);
    return it;
  }
  return postings_from_be32(p + 4, n);
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

struct postings *index_reader_postings(struct index_reader *r,
                                       const char *name, const char *value) {
  const struct index_pname *pn = find_name(r, name);
  const struct index_pvalue *pv = pn ? find_value(pn, value) : NULL;
  if (!pv)
    return postings_empty();
  return postings_at_off(r, pv->off);
}

/* Merged postings of the values of m->name that match m (or, with
 * invert, that do not). */
static struct postings *postings_for_values(struct index_reader *r,
                                            const struct matcher *m,
                                            bool invert) {
  const struct index_pname *pn = find_name(r, m->name);
  if (!pn)
    return postings_empty();
  struct postings **its = NULL;
  size_t n = 0, cap = 0;
  const char *const *set;
  size_t nset = invert ? 0 : matcher_set_values(m, &set);
  if (nset) {
    for (size_t i = 0; i < nset; i++) {
      const struct index_pvalue *pv = find_value(pn, set[i]);
      if (!pv)
        continue;
      TC_GROW(its, cap, n + 1);
      its[n++] = postings_at_off(r, pv->off);
    }
  } else {
    for (size_t i = 0; i < pn->n; i++) {
      const char *v = pn->v[i].value;
      if (matcher_matches(m, v, strlen(v)) == invert)
        continue;
      TC_GROW(its, cap, n + 1);
      its[n++] = postings_at_off(r, pn->v[i].off);
    }
  }
  return postings_merge(its, n);
}

static struct postings *all_postings(struct index_reader *r) {
  return index_reader_postings(r, "", "");
}

/* The matcher with the opposite type (= vs !=, =~ vs !~). */
static int matcher_inverse(const struct matcher *m, struct matcher *out) {
  static const enum matcher_type inv[] = {MATCH_NEQ, MATCH_EQ, MATCH_NRE,
                                          MATCH_RE};
  return matcher_init(out, inv[m->type], m->name, m->value);
}

struct postings *index_reader_select(struct index_reader *r,
                                     const struct matchers *ms) {
  struct postings **its = NULL, **nots = NULL;
  size_t nits = 0, capits = 0, nnots = 0, capnots = 0;
  for (size_t i = 0; i < ms->n; i++) {
    const struct matcher *m = &ms->v[i];
    bool matches_empty = matcher_matches(m, "", 0);
    bool is_not = m->type == MATCH_NEQ || m->type == MATCH_NRE;
    bool must_be_set = false;
    for (size_t j = 0; j < ms->n; j++)
      if (!strcmp(ms->v[j].name, m->name) &&
          !matcher_matches(&ms->v[j], "", 0))
        must_be_set = true;
    if (m->type == MATCH_RE && !strcmp(m->value, ".*"))
      continue;
    struct postings *p;
    bool to_nots;
    if (must_be_set && is_not && matches_empty) {
      /* l!="foo": subtract the series that have foo. */
      struct matcher inv;
      if (matcher_inverse(m, &inv)) {
        p = postings_error(TC_EINVAL);
      } else {
        p = postings_for_values(r, &inv, false);
        matcher_release(&inv);
      }
      to_nots = true;
    } else if (must_be_set && is_not) {
      /* l!="" or l!~"": series having any value the inner one rejects. */
      p = postings_for_values(r, m, false);
      to_nots = false;
    } else if (must_be_set) {
      p = postings_for_values(r, m, false);
      to_nots = false;
    } else {
      /* Matches "": everything but the series with a non-matching value. */
      p = postings_for_values(r, m, true);
      to_nots = true;
    }
    if (to_nots) {
      TC_GROW(nots, capnots, nnots + 1);
      nots[nnots++] = p;
    } else {
      TC_GROW(its, capits, nits + 1);
      its[nits++] = p;
    }
  }
  if (nits == 0) {
    TC_GROW(its, capits, 1);
    its[nits++] = all_postings(r);
  }
  struct postings *it = postings_intersect(its, nits);
  for (size_t i = 0; i < nnots; i++)
    it = postings_without(it, nots[i]);
  free(nots);
  return it;
}
