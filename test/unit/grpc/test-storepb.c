/* Tests of src/grpc/storepb.c. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "thanosc/buf.h"
#include "thanosc/error.h"
#include "thanosc/storepb.h"

TEST(grpc_storepb_matchers_roundtrip) {
  struct matchers ms = {0}, back = {0};
  ASSERT_OK(selector_parse("up{job=~\"a|b\", x!=\"1\", y!~\"z.*\"}", &ms));
  Thanos__LabelMatcher **v;
  size_t n;
  storepb_matchers_from(&ms, &v, &n);
  ASSERT_EQ(n, 4);
  ASSERT_STREQ(v[0]->name, "__name__");
  ASSERT_EQ(v[0]->type, THANOS__LABEL_MATCHER__TYPE__EQ);
  ASSERT_EQ(v[1]->type, THANOS__LABEL_MATCHER__TYPE__RE);
  ASSERT_EQ(v[2]->type, THANOS__LABEL_MATCHER__TYPE__NEQ);
  ASSERT_EQ(v[3]->type, THANOS__LABEL_MATCHER__TYPE__NRE);
  ASSERT_OK(storepb_matchers_to(v, n, &back));
  ASSERT_EQ(back.n, 4);
  for (size_t i = 0; i < n; i++) {
    ASSERT_EQ(back.v[i].type, ms.v[i].type);
    ASSERT_STREQ(back.v[i].name, ms.v[i].name);
    ASSERT_STREQ(back.v[i].value, ms.v[i].value);
  }
  ASSERT(matcher_matches_str(&back.v[1], "b"));
  /* bad input from the wire */
  struct matchers bad = {0};
  v[1]->value = "(";
  ASSERT_EQ(storepb_matchers_to(v, n, &bad), TC_EPARSE);
  matchers_release(&bad);
  v[1]->type = 7;
  ASSERT_EQ(storepb_matchers_to(v, n, &bad), TC_EINVAL);
  matchers_release(&bad);
  storepb_matchers_free(v, n);
  matchers_release(&ms);
  matchers_release(&back);
}

TEST(grpc_storepb_labels_borrow) {
  Thanos__Label a = THANOS__LABEL__INIT, b = THANOS__LABEL__INIT;
  a.name = "__name__", a.value = "up";
  b.name = "job", b.value = "x\"y";
  Thanos__Label *v[2] = {&a, &b};
  struct labels ls;
  storepb_labels_borrow(v, 2, &ls);
  ASSERT_EQ(ls.n, 2);
  ASSERT(ls.v[1].value == b.value); /* borrowed, not copied */
  struct tc_buf out = TC_BUF_INIT;
  labels_format(&ls, &out);
  ASSERT_STREQ(out.data, "{__name__=\"up\", job=\"x\\\"y\"}");
  tc_buf_release(&out);
  labels_release(&ls);
}
