/* Unit tests of src/net/http_params.c and src/net/http_router.c. */
#include "test.h"
#include "thanosc/http.h"

TEST(http_unescape_cases) {
  char *s;
  size_t n;
  ASSERT_OK(http_unescape("a%20b+c", 7, 1, &s, &n));
  ASSERT_STREQ(s, "a b c");
  ASSERT_EQ(n, 5);
  free(s);
  ASSERT_OK(http_unescape("a%2Fb+c", 7, 0, &s, NULL));
  ASSERT_STREQ(s, "a/b+c");
  free(s);
  ASSERT_OK(http_unescape("%e2%82%AC", 9, 1, &s, &n));
  ASSERT_STREQ(s, "\xe2\x82\xac");
  free(s);
  ASSERT_OK(http_unescape("x%00y", 5, 1, &s, &n));
  ASSERT_EQ(n, 3);
  free(s);
  ASSERT_EQ(http_unescape("bad%zzescape", 12, 1, &s, NULL), TC_EPARSE);
  ASSERT(strstr(tc_errmsg(TC_EPARSE), "%zz"));
  ASSERT_EQ(http_unescape("trailing%", 9, 1, &s, NULL), TC_EPARSE);
  ASSERT_EQ(http_unescape("trailing%4", 10, 1, &s, NULL), TC_EPARSE);
}

TEST(http_params_repeated_and_empty) {
  struct http_params p = HTTP_PARAMS_INIT;
  const char *q = "match[]=up&match%5B%5D=%7Bjob%3D%22a%22%7D&&start=1&flag&"
                  "empty=&query=sum+by+(job)+(rate(x[5m]))";
  ASSERT_OK(http_params_parse(&p, q, strlen(q)));
  ASSERT_EQ(p.n, 6);
  ASSERT_EQ(http_params_count(&p, "match[]"), 2);
  size_t pos = 0;
  ASSERT_STREQ(http_params_next(&p, "match[]", &pos), "up");
  ASSERT_STREQ(http_params_next(&p, "match[]", &pos), "{job=\"a\"}");
  ASSERT(http_params_next(&p, "match[]", &pos) == NULL);
  ASSERT_STREQ(http_params_get(&p, "start"), "1");
  ASSERT_STREQ(http_params_get(&p, "flag"), "");
  ASSERT_STREQ(http_params_get(&p, "empty"), "");
  ASSERT_STREQ(http_params_get(&p, "query"), "sum by (job) (rate(x[5m]))");
  ASSERT(http_params_get(&p, "end") == NULL);
  http_params_release(&p);
  ASSERT_EQ(p.n, 0);
  ASSERT_OK(http_params_parse(&p, "", 0));
  ASSERT_EQ(p.n, 0);
  ASSERT_OK(http_params_parse(&p, "a=1=2", 5));
  ASSERT_STREQ(http_params_get(&p, "a"), "1=2");
  http_params_release(&p);
}

TEST(http_params_errors) {
  struct http_params p = HTTP_PARAMS_INIT;
  ASSERT_EQ(http_params_parse(&p, "a=1;b=2", 7), TC_EPARSE);
  ASSERT(strstr(tc_errmsg(TC_EPARSE), "semicolon"));
  http_params_release(&p);
  ASSERT_EQ(http_params_parse(&p, "a=%G1", 5), TC_EPARSE);
  http_params_release(&p);
  ASSERT_EQ(http_params_parse(&p, "%=1", 3), TC_EPARSE);
  http_params_release(&p);
}

static void nop(struct http_req *req, void *data) {
  (void)req;
  (void)data;
}

TEST(http_router_match_rules) {
  struct http_router r;
  http_router_init(&r);
  ASSERT_OK(http_router_add(
      &r, &(struct http_route){.methods = HTTP_M_GET | HTTP_M_POST,
                               .path = "/api/v1/query",
                               .fn = nop}));
  ASSERT_OK(http_router_add(&r, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "/api/v1/label/",
                                                     .flags = HTTP_ROUTE_PREFIX,
                                                     .fn = nop}));
  ASSERT_OK(http_router_add(&r, &(struct http_route){.methods = HTTP_M_DELETE,
                                                     .path = "/api/v1/label/x/",
                                                     .flags = HTTP_ROUTE_PREFIX,
                                                     .fn = nop}));
  ASSERT_OK(http_router_add(&r, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "/",
                                                     .flags = HTTP_ROUTE_PREFIX,
                                                     .fn = nop}));
  ASSERT_EQ(http_router_add(&r, &(struct http_route){.methods = HTTP_M_POST,
                                                     .path = "/api/v1/query",
                                                     .fn = nop}),
            TC_EEXIST);
  ASSERT_EQ(http_router_add(&r, &(struct http_route){.methods = HTTP_M_GET,
                                                     .path = "noslash",
                                                     .fn = nop}),
            TC_EINVAL);

  const struct http_route *rt = NULL;
  const char *rest = NULL;
  unsigned allow = 0;
  ASSERT_EQ(
      http_router_match(&r, HTTP_M_POST, "/api/v1/query", &rt, &rest, &allow),
      200);
  ASSERT_STREQ(rt->path, "/api/v1/query");
  ASSERT_STREQ(rest, "");
  ASSERT_EQ(
      http_router_match(&r, HTTP_M_HEAD, "/api/v1/query", &rt, &rest, &allow),
      200);
  ASSERT_EQ(
      http_router_match(&r, HTTP_M_DELETE, "/api/v1/query", &rt, &rest, &allow),
      405);
  ASSERT_EQ(allow, HTTP_M_GET | HTTP_M_HEAD | HTTP_M_POST);
  char a[64];
  http_methods_allow(allow, a, sizeof a);
  ASSERT_STREQ(a, "GET, HEAD, POST");

  ASSERT_EQ(http_router_match(&r, HTTP_M_GET, "/api/v1/label/job/values", &rt,
                              &rest, &allow),
            200);
  ASSERT_STREQ(rt->path, "/api/v1/label/");
  ASSERT_STREQ(rest, "job/values");
  /* The longer prefix owns its paths: GET there is 405, not the shorter. */
  ASSERT_EQ(http_router_match(&r, HTTP_M_GET, "/api/v1/label/x/values", &rt,
                              &rest, &allow),
            405);
  ASSERT_EQ(allow, HTTP_M_DELETE);
  ASSERT_EQ(http_router_match(&r, HTTP_M_DELETE, "/api/v1/label/x/y", &rt,
                              &rest, &allow),
            200);
  ASSERT_STREQ(rest, "y");
  ASSERT_EQ(http_router_match(&r, HTTP_M_GET, "/anything", &rt, &rest, &allow),
            200);
  ASSERT_STREQ(rest, "anything");
  http_router_release(&r);

  http_router_init(&r);
  ASSERT_EQ(http_router_match(&r, HTTP_M_GET, "/", &rt, &rest, &allow), 404);
  ASSERT_EQ(http_method_bit("PATCH"), HTTP_M_PATCH);
  ASSERT_EQ(http_method_bit("BREW"), 0);
  http_router_release(&r);
}

TEST(http_accepts_gzip_values) {
  ASSERT_TRUE(http_accepts_gzip("gzip"));
  ASSERT_TRUE(http_accepts_gzip("deflate, gzip;q=0.5"));
  ASSERT_TRUE(http_accepts_gzip("br;q=1.0, GZIP"));
  ASSERT_TRUE(http_accepts_gzip("*"));
  ASSERT_TRUE(http_accepts_gzip("identity, * ; q=0.1"));
  ASSERT_FALSE(http_accepts_gzip(NULL));
  ASSERT_FALSE(http_accepts_gzip(""));
  ASSERT_FALSE(http_accepts_gzip("identity"));
  ASSERT_FALSE(http_accepts_gzip("gzip;q=0"));
  ASSERT_FALSE(http_accepts_gzip("gzip; q=0.000, br"));
  ASSERT_FALSE(http_accepts_gzip("x-gzip2, gzipx"));
}
