/*
 * Tests of src/querier: the endpoint set and the StoreAPI fan-out against
 * two synthetic stores (src/grpc/teststore.c) on one loop: Info makes
 * endpoints healthy with their external labels and time ranges, requests
 * go only to endpoints whose labels and range fit, a failing endpoint is a
 * warning with partial response and the error without, a silent one is
 * cut by --store.response-timeout, and an endpoint that went away stops
 * being queried after the next Info round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grpc/teststore.h"
#include "querier/internal.h"
#include "test.h"
#include "thanosc/error.h"

struct qfix {
  uv_loop_t loop;
  struct grpc_teststore ts[2];
  struct grpc_server *srv[2];
  struct grpc_method methods[2][16]; /* the teststore's table is static */
  char addr[2][64];
  const char *eps[2];
  struct grpc_client_opts co;
  struct querier *q;
};

static void qfix_servers(struct qfix *f) {
  memset(f, 0, sizeof *f);
  ASSERT_OK(uv_loop_init(&f->loop));
  const char *ext[2] = {"replica=0", "replica=1"};
  for (int i = 0; i < 2; i++) {
    f->ts[i].nseries = 10;
    f->ts[i].min_time = i == 0 ? 0 : 1000000;
    f->ts[i].max_time = 2000000;
    f->ts[i].ext_label = ext[i];
    struct grpc_server_opts so = {.address = "127.0.0.1:0", .grace_ms = 100};
    const struct grpc_method *m = grpc_teststore_methods(&f->ts[i]);
    size_t n = 0;
    while (m[n].path)
      n++;
    ASSERT_LT(n, 16);
    memcpy(f->methods[i], m, (n + 1) * sizeof(*m));
    ASSERT_OK(grpc_server_new(&f->loop, f->methods[i], &so, &f->srv[i]));
    snprintf(f->addr[i], sizeof f->addr[i], "127.0.0.1:%d",
             grpc_server_port(f->srv[i]));
    f->eps[i] = f->addr[i];
  }
}

static void qfix_start(struct qfix *f, int64_t response_timeout_ms) {
  qfix_servers(f);
  struct querier_config cfg = {.endpoints = f->eps,
                               .nendpoints = 2,
                               .info_interval_ms = 100,
                               .response_timeout_ms = response_timeout_ms,
                               .client = &f->co,
                               .max_concurrent = 2};
  ASSERT_OK(querier_new(&f->loop, &cfg, &f->q));
}

static int healthy(struct qfix *f) {
  int n = 0;
  for (struct qep *e = f->q->eps; e; e = e->next)
    n += e->healthy;
  return n;
}

static void wait_healthy(struct qfix *f, int want) {
  for (int i = 0; i < 1000 && healthy(f) != want; i++)
    uv_run(&f->loop, UV_RUN_ONCE);
  ASSERT_EQ(healthy(f), want);
}

static void srv_stopped(struct grpc_server *s, void *data) {
  (void)s;
  (*(int *)data)++;
}

static void q_stopped(void *data) {
  (*(int *)data)++;
}

static void qfix_stop(struct qfix *f) {
  int done = 0, want = 1;
  querier_stop(f->q, q_stopped, &done);
  for (int i = 0; i < 2; i++) {
    if (f->srv[i]) {
      grpc_server_stop(f->srv[i], srv_stopped, &done);
      want++;
    }
  }
  while (done < want)
    uv_run(&f->loop, UV_RUN_ONCE);
  for (int i = 0; i < 2; i++)
    if (f->srv[i])
      grpc_server_free(f->srv[i]);
  querier_free(f->q);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&f->loop), 0);
}

static void fan_done(struct querier_fan *f) {
  *(int *)f->data = 1;
}

/* Runs one Series fan-out for __name__=name over [mint, maxt] with an
 * optional matcher on replica. */
static void fan_series(struct qfix *x, struct querier_fan *f, const char *name,
                       const char *replica, int64_t mint, int64_t maxt,
                       int partial) {
  static struct matchers ms;
  matchers_release(&ms);
  memset(&ms, 0, sizeof ms);
  ASSERT_OK(matchers_add(&ms, MATCH_EQ, "__name__", name));
  if (replica)
    ASSERT_OK(matchers_add(&ms, MATCH_EQ, "replica", replica));
  int done = 0;
  qfan_init(f, x->q, QFAN_SERIES);
  f->ms = ms.v;
  f->nms = ms.n;
  f->mint = mint;
  f->maxt = maxt;
  f->partial_response = partial;
  f->timeout_ms = 5000;
  f->on_done = fan_done;
  f->data = &done;
  qfan_start(f);
  while (!done)
    uv_run(&x->loop, UV_RUN_ONCE);
}

static size_t nseries(struct querier_fan *f) {
  size_t n = 0;
  for (size_t i = 0; i < f->nstreams; i++)
    n += f->streams[i].n;
  return n;
}

TEST(querier_endpoints_info_and_selection) {
  struct qfix x;
  struct querier_fan f;
  qfix_start(&x, 0);
  wait_healthy(&x, 2);
  for (struct qep *e = x.q->eps; e; e = e->next) {
    ASSERT_EQ(e->nlsets, 1);
    ASSERT_TRUE(labels_get(&e->lsets[0], "replica") != NULL);
  }
  /* both stores */
  fan_series(&x, &f, "test_metric", NULL, 1500000, 1600000, 1);
  ASSERT_EQ(f.nstreams, 2);
  ASSERT_EQ(nseries(&f), 20);
  ASSERT_EQ(f.nwarnings, 0);
  qfan_release(&f);
  /* the time range rules out the second store */
  fan_series(&x, &f, "test_metric", NULL, 0, 1000, 1);
  ASSERT_EQ(f.nstreams, 1);
  qfan_release(&f);
  /* an external-label matcher rules out the other replica */
  fan_series(&x, &f, "test_metric", "1", 0, 2000000, 1);
  ASSERT_EQ(f.nstreams, 1);
  ASSERT_EQ(nseries(&f), 10);
  qfan_release(&f);
  qfix_stop(&x);
}

TEST(querier_partial_response) {
  struct qfix x;
  struct querier_fan f;
  qfix_start(&x, 0);
  wait_healthy(&x, 2);
  /* teststore fails "error" with INVALID_ARGUMENT */
  fan_series(&x, &f, "error", NULL, 0, 2000000, 1);
  ASSERT_EQ(f.err, 0);
  ASSERT_EQ(f.nwarnings, 2);
  ASSERT_TRUE(strstr(f.warnings[0], "InvalidArgument") != NULL);
  qfan_release(&f);
  fan_series(&x, &f, "error", NULL, 0, 2000000, 0);
  ASSERT_NE(f.err, 0);
  ASSERT_TRUE(f.errmsg && strstr(f.errmsg, "fetch series") != NULL);
  qfan_release(&f);
  qfix_stop(&x);
}

TEST(querier_response_timeout) {
  struct qfix x;
  struct querier_fan f;
  qfix_start(&x, 200);
  wait_healthy(&x, 2);
  /* "slow" never answers: cut after 200 ms of silence */
  uint64_t t0 = uv_now(&x.loop);
  fan_series(&x, &f, "slow", NULL, 0, 2000000, 1);
  ASSERT_LT(uv_now(&x.loop) - t0, 3000);
  ASSERT_EQ(f.nwarnings, 2); /* one per endpoint */
  ASSERT_TRUE(strstr(f.warnings[0], "response timeout") != NULL);
  qfan_release(&f);
  qfix_stop(&x);
}

TEST(querier_dead_endpoint_dropped) {
  struct qfix x;
  struct querier_fan f;
  qfix_start(&x, 0);
  wait_healthy(&x, 2);
  int done = 0;
  grpc_server_stop(x.srv[1], srv_stopped, &done);
  while (!done)
    uv_run(&x.loop, UV_RUN_ONCE);
  grpc_server_free(x.srv[1]);
  x.srv[1] = NULL;
  wait_healthy(&x, 1);
  fan_series(&x, &f, "test_metric", NULL, 0, 2000000, 0);
  ASSERT_EQ(f.err, 0);
  ASSERT_EQ(f.nstreams, 1);
  ASSERT_EQ(nseries(&f), 10);
  qfan_release(&f);
  qfix_stop(&x);
}

TEST(querier_dns_and_sd_config) {
  struct qfix x;
  qfix_servers(&x);
  char dns[80], sd[200];
  snprintf(dns, sizeof dns, "dns+localhost:%s", strchr(x.addr[0], ':') + 1);
  snprintf(sd, sizeof sd,
           "endpoints:\n  - address: \"%s\"\n    strict: true\n", x.addr[1]);
  const char *eps[] = {dns};
  struct querier_config cfg = {.endpoints = eps,
                               .nendpoints = 1,
                               .sd_inline = sd,
                               .info_interval_ms = 100,
                               .client = &x.co,
                               .max_concurrent = 1};
  ASSERT_OK(querier_new(&x.loop, &cfg, &x.q));
  wait_healthy(&x, 2);
  int strict = 0, found = 0;
  for (struct qep *e = x.q->eps; e; e = e->next) {
    if (strcmp(e->addr, x.addr[0]) == 0)
      found++;
    if (strcmp(e->addr, x.addr[1]) == 0)
      strict = e->strict;
  }
  ASSERT_EQ(found, 1);
  ASSERT_EQ(strict, 1);
  qfix_stop(&x);
}

TEST(querier_sd_file_reload) {
  struct qfix x;
  qfix_servers(&x);
  char path[] = "/tmp/thanosc-querier-sd-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_TRUE(fd >= 0);
  close(fd);
  FILE *f = fopen(path, "w");
  fprintf(f, "endpoints:\n  - address: %s\n", x.addr[1]);
  fclose(f);
  struct querier_config cfg = {.sd_file = path,
                               .sd_reload_ms = 50,
                               .info_interval_ms = 100,
                               .client = &x.co,
                               .max_concurrent = 1};
  ASSERT_OK(querier_new(&x.loop, &cfg, &x.q));
  wait_healthy(&x, 1);
  ASSERT_STREQ(x.q->eps->addr, x.addr[1]);
  f = fopen(path, "w");
  fprintf(f, "endpoints:\n  - \"%s\"\n", x.addr[0]);
  fclose(f);
  for (int i = 0; i < 2000; i++) {
    if (x.q->eps && !x.q->eps->next && strcmp(x.q->eps->addr, x.addr[0]) == 0 &&
        x.q->eps->healthy)
      break;
    uv_run(&x.loop, UV_RUN_ONCE);
  }
  ASSERT_TRUE(x.q->eps && !x.q->eps->next);
  ASSERT_STREQ(x.q->eps->addr, x.addr[0]);
  unlink(path);
  qfix_stop(&x);
}
