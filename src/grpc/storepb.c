/*
 * storepb.c - conversions between labels.h types and StoreAPI protobuf
 * messages (storepb.h), and a light reading of the common SeriesResponse.
 * Matcher type numbers are the same on both sides of the wire mapping:
 * EQ 0, NEQ 1, RE 2, NRE 3.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/decbuf.h"
#include "thanosc/error.h"
#include "thanosc/storepb.h"

static const Thanos__LabelMatcher__Type pb_type[] = {
    [MATCH_EQ] = THANOS__LABEL_MATCHER__TYPE__EQ,
    [MATCH_NEQ] = THANOS__LABEL_MATCHER__TYPE__NEQ,
    [MATCH_RE] = THANOS__LABEL_MATCHER__TYPE__RE,
    [MATCH_NRE] = THANOS__LABEL_MATCHER__TYPE__NRE,
};

void storepb_matchers_from(const struct matchers *ms,
                           Thanos__LabelMatcher ***out, size_t *n) {
  Thanos__LabelMatcher **v = xcalloc(ms->n ? ms->n : 1, sizeof *v);
  for (size_t i = 0; i < ms->n; i++) {
    v[i] = xmalloc(sizeof *v[i]);
    thanos__label_matcher__init(v[i]);
    v[i]->type = pb_type[ms->v[i].type];
    v[i]->name = ms->v[i].name;
    v[i]->value = ms->v[i].value;
  }
  *out = v;
  *n = ms->n;
}

void storepb_matchers_free(Thanos__LabelMatcher **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

int storepb_matchers_to(Thanos__LabelMatcher *const *v, size_t n,
                        struct matchers *ms) {
  for (size_t i = 0; i < n; i++) {
    enum matcher_type t;
    switch (v[i]->type) {
    case THANOS__LABEL_MATCHER__TYPE__EQ:
      t = MATCH_EQ;
      break;
    case THANOS__LABEL_MATCHER__TYPE__NEQ:
      t = MATCH_NEQ;
      break;
    case THANOS__LABEL_MATCHER__TYPE__RE:
      t = MATCH_RE;
      break;
    case THANOS__LABEL_MATCHER__TYPE__NRE:
      t = MATCH_NRE;
      break;
    default:
      return tc_error(TC_EINVAL, "matcher on '%s': unknown type %d", v[i]->name,
                      (int)v[i]->type);
    }
    int rc = matchers_add(ms, t, v[i]->name, v[i]->value);
    if (rc)
      return rc;
  }
  return 0;
}

void storepb_labels_borrow(Thanos__Label *const *v, size_t n,
                           struct labels *ls) {
  labels_init(ls);
  ls->flags = LABELS_BORROWED;
  for (size_t i = 0; i < n; i++)
    labels_add_borrowed(ls, v[i]->name, v[i]->value);
}

/* ---- the light reading of a SeriesResponse (storepb_series_peek) ----
 *
 * Canonical encoding only: one-byte tags, each singular field at most
 * once, lengths in at most 5 bytes. Anything else is left to protobuf-c,
 * so what is accepted here is what it accepts, and reads the same. */
#define WIRE_OTHER (-1) /* not for the walk: unpack instead */

/* Reads the next field: returns its one-byte tag (field << 3 | wire
 * type), 0 at the end, or WIRE_OTHER. A varint's value goes to *v, a
 * length-delimited field's bytes to *sub. */
static int wire_field(struct decbuf *d, uint64_t *v, struct decbuf *sub) {
  if (!decbuf_len(d))
    return 0;
  uint8_t tag = decbuf_byte(d);
  if (tag >= 0x80 || tag < 8)
    return WIRE_OTHER;
  if ((tag & 7) == 0) {
    *v = decbuf_uvarint(d);
  } else if ((tag & 7) == 2) {
    const uint8_t *at = d->p;
    uint64_t n = decbuf_uvarint(d);
    if (d->err || d->p - at > 5 || n > decbuf_len(d))
      return WIRE_OTHER;
    *sub = decbuf_make(decbuf_bytes(d, (size_t)n), (size_t)n);
  } else {
    return WIRE_OTHER;
  }
  return d->err ? WIRE_OTHER : tag;
}

/* thanos.Chunk: 1 type, 2 data, 3 hash; each at most once. */
static int wire_chunk(struct decbuf *d, uint64_t *type, struct decbuf *data) {
  unsigned seen = 0;
  uint64_t v;
  struct decbuf b;
  int tag;
  *type = 0;
  *data = decbuf_make("", 0);
  while ((tag = wire_field(d, &v, &b)) > 0) {
    if (tag != 0x08 && tag != 0x12 && tag != 0x18)
      return WIRE_OTHER;
    if (seen & 1u << (tag >> 3))
      return WIRE_OTHER;
    seen |= 1u << (tag >> 3);
    if (tag == 0x08)
      *type = v;
    else if (tag == 0x12)
      *data = b;
  }
  return tag;
}

/* thanos.AggrChunk: 1 min_time, 2 max_time, 3 raw, 4-8 aggregates; each
 * at most once. Adds the samples of an XOR raw chunk (its header). */
static int wire_aggr(struct decbuf *d, int64_t *samples) {
  unsigned seen = 0;
  uint64_t v, type;
  struct decbuf b, data;
  int tag;
  while ((tag = wire_field(d, &v, &b)) > 0) {
    int f = tag >> 3;
    if (f > 8 || (tag & 7) != (f <= 2 ? 0 : 2) || seen & 1u << f)
      return WIRE_OTHER;
    seen |= 1u << f;
    if (f >= 3 && wire_chunk(&b, &type, &data) < 0)
      return WIRE_OTHER;
    if (f == 3 && (uint32_t)type == THANOS__CHUNK__ENCODING__XOR &&
        decbuf_len(&data) >= 2)
      *samples += data.p[0] << 8 | data.p[1];
  }
  return tag;
}

/* Copies a label string into st->strs, NUL-terminated as protobuf-c's
 * are (so an embedded NUL ends it the same way). */
static void wire_str(struct storepb_series_peek *st, const struct decbuf *s) {
  TC_GROW(st->offs, st->ncap, st->noffs + 1);
  st->offs[st->noffs++] = st->strs.len;
  tc_buf_add(&st->strs, s->p, decbuf_len(s));
  tc_buf_addc(&st->strs, '\0');
}

/* thanos.Label: 1 name, 2 value; each at most once. */
static int wire_label(struct storepb_series_peek *st, struct decbuf *d) {
  struct decbuf name = decbuf_make("", 0), value = decbuf_make("", 0), b;
  unsigned seen = 0;
  uint64_t v;
  int tag;
  while ((tag = wire_field(d, &v, &b)) > 0) {
    if ((tag != 0x0a && tag != 0x12) || seen & 1u << (tag >> 3))
      return WIRE_OTHER;
    seen |= 1u << (tag >> 3);
    *(tag == 0x0a ? &name : &value) = b;
  }
  if (tag == 0) {
    wire_str(st, &name);
    wire_str(st, &value);
  }
  return tag;
}

void storepb_series_peek_init(struct storepb_series_peek *w) {
  memset(w, 0, sizeof(*w));
  tc_buf_init(&w->strs, 0);
  labels_init(&w->ls);
  w->ls.flags = LABELS_BORROWED;
}

void storepb_series_peek_release(struct storepb_series_peek *w) {
  tc_buf_release(&w->strs);
  labels_release(&w->ls);
  free(w->offs);
  memset(w, 0, sizeof(*w));
}

int storepb_series_peek(struct storepb_series_peek *w, const uint8_t *p,
                        size_t n) {
  struct decbuf d = decbuf_make(p, n), s, b;
  uint64_t v;
  if (wire_field(&d, &v, &s) != 0x0a || decbuf_len(&d))
    return 1;
  tc_buf_reset(&w->strs);
  w->noffs = 0;
  w->nchunks = w->samples = 0;
  int tag;
  while ((tag = wire_field(&s, &v, &b)) > 0) {
    int rc = tag == 0x0a   ? wire_label(w, &b)
             : tag == 0x12 ? wire_aggr(&b, &w->samples)
                           : WIRE_OTHER;
    if (rc < 0)
      return 1;
    w->nchunks += tag == 0x12;
  }
  if (tag < 0)
    return 1;
  labels_reset(&w->ls);
  for (size_t i = 0; i < w->noffs; i += 2)
    labels_add_borrowed(&w->ls, w->strs.data + w->offs[i],
                        w->strs.data + w->offs[i + 1]);
  return 0;
}
