/*
 * storepb.c - conversions between labels.h types and StoreAPI protobuf
 * messages (storepb.h). Matcher type numbers are the same on both sides of
 * the wire mapping: EQ 0, NEQ 1, RE 2, NRE 3.
 */
#include <stdlib.h>

#include "thanosc/common.h"
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
