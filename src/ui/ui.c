/*
 * ui.c - serves the web UIs from the files of web/ that the build embedded
 * (ui_assets[], see assets.h): the querier's (/graph and /stores both
 * answer index.html, whose script picks the view from the path) and the
 * Block Viewer (blocks.html, with the blocks API it reads); /static/ holds
 * the scripts and style sheets. Assets carry a content ETag and
 * "Cache-Control: no-cache", so browsers revalidate cheaply (304) and never
 * run a stale script after an upgrade. Routes live under the route prefix,
 * and the pages themselves only use relative URLs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/fmttime.h"
#include "thanosc/http.h"
#include "thanosc/json.h"
#include "thanosc/ui.h"
#include "ui/assets.h"


static const struct ui_asset *ui_find(const char *path) {
  for (size_t i = 0; i < ui_nassets; i++)
    if (strcmp(ui_assets[i].path, path) == 0)
      return &ui_assets[i];
  return NULL;
}

static const char *ui_content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
  };
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < TC_ARRAY_SIZE(types); i++)
    if (strcmp(dot, types[i].ext) == 0)
      return types[i].type;
  return "application/octet-stream";
}

/* Whether an If-None-Match value lists etag (or is "*"). */
static int ui_etag_matches(const char *inm, const char *etag) {
  if (!inm)
    return 0;
  if (strcmp(inm, "*") == 0)
    return 1;
  size_t n = strlen(etag);
  for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
    char after = p[n];
    if (after == '\0' || after == ',' || after == ' ')
      return 1;
  }
  return 0;
}

static void ui_send(struct http_req *req, const struct ui_asset *a) {
  http_set_header(req, "ETag", a->etag);
  http_set_header(req, "Cache-Control", "no-cache");
  http_set_header(req, "X-Content-Type-Options", "nosniff");
  if (ui_etag_matches(http_req_header(req, "If-None-Match"), a->etag)) {
    http_respond(req, 304, NULL, NULL, 0);
    return;
  }
  http_respond(req, 200, ui_content_type(a->path), a->data, a->len);
}

/* The page data names (index.html when NULL). */
static void ui_page(struct http_req *req, void *data) {
  const struct ui_asset *a = ui_find(data ? data : "index.html");
  if (!a) {
    http_respond_error(req, 404, "404 page not found");
    return;
  }
  ui_send(req, a);
}

static void ui_static(struct http_req *req, void *data) {
  const char *rest = http_req_rest(req);
  struct tc_buf path = TC_BUF_INIT;
  tc_buf_adds(&path, "static/");
  tc_buf_adds(&path, rest);
  const struct ui_asset *a =
      strstr(rest, "..") || !path.data ? NULL : ui_find(path.data);
  tc_buf_release(&path);
  if (!a) {
    http_respond_error(req, 404, "404 page not found");
    return;
  }
  ui_send(req, a);
}

/*
 * "/" and "<prefix>" answer 302 to the home page data names. The Location
 * is relative to the request ("graph" from ".../", "<last segment>/graph"
 * otherwise), so it stays right behind a proxy that adds a prefix
 * (--web.external-prefix) the server never sees.
 */
static void ui_redirect(struct http_req *req, void *data) {
  const char *path = http_req_path(req);
  const char *seg = strrchr(path, '/');
  seg = seg ? seg + 1 : path;
  struct tc_buf loc = TC_BUF_INIT;
  if (*seg) {
    tc_buf_adds(&loc, seg);
    tc_buf_addc(&loc, '/');
  }
  tc_buf_adds(&loc, data);
  if (!loc.data) {
    http_respond_error(req, 500, "out of memory");
    return;
  }
  http_set_header(req, "Location", loc.data);
  tc_buf_release(&loc);
  static const char body[] = "Found.\n";
  http_respond(req, 302, "text/plain; charset=utf-8", body, sizeof body - 1);
}

/* Registers prefix + path. */
static int ui_route(struct http_server *srv, const char *prefix, size_t plen,
                    const char *path, unsigned flags, const char *name,
                    http_handler_fn *fn, void *data) {
  struct tc_buf full = TC_BUF_INIT;
  tc_buf_add(&full, prefix, plen);
  tc_buf_adds(&full, path);
  int rc = full.data ? 0 : TC_ENOMEM;
  if (rc == 0)
    rc = http_server_route(
        srv, &(struct http_route){.methods = HTTP_M_GET,
                                  .path = full.data,
                                  .flags = flags,
                                  .name = name,
                                  .fn = fn,
                                  .data = data});
  tc_buf_release(&full);
  return rc;
}

int ui_register_routes(struct http_server *srv, const char *route_prefix) {
  const char *prefix = route_prefix ? route_prefix : "";
  size_t plen = strlen(prefix);
  while (plen && prefix[plen - 1] == '/')
    plen--;
  const unsigned gz = HTTP_ROUTE_GZIP;
  int rc = ui_route(srv, prefix, plen, "/", 0, NULL, ui_redirect, "graph");
  if (rc == 0 && plen)
    rc = ui_route(srv, prefix, plen, "", 0, NULL, ui_redirect, "graph");
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/graph", gz, "graph", ui_page, NULL);
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/stores", gz, "stores", ui_page, NULL);
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/static/", gz | HTTP_ROUTE_PREFIX,
                  "static", ui_static, NULL);
  return rc;
}

/* ---- the Block Viewer ---- */

struct ui_blocks {
  pthread_mutex_t mu;
  char *label;
  struct {
    char *metas; /* comma-separated meta.json documents */
    char *err;
    int64_t refreshed_ns; /* 0: never */
  } v[2];
};

struct ui_blocks *ui_blocks_new(const char *label) {
  struct ui_blocks *b = xcalloc(1, sizeof *b);
  pthread_mutex_init(&b->mu, NULL);
  b->label = xstrdup(label ? label : "");
  return b;
}

void ui_blocks_free(struct ui_blocks *b) {
  if (!b)
    return;
  for (int i = 0; i < 2; i++) {
    free(b->v[i].metas);
    free(b->v[i].err);
  }
  free(b->label);
  pthread_mutex_destroy(&b->mu);
  free(b);
}

void ui_blocks_set(struct ui_blocks *b, enum ui_blocks_view v, char *metas,
                   const char *err) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char *e = err ? xstrdup(err) : NULL;
  pthread_mutex_lock(&b->mu);
  if (!err) {
    free(b->v[v].metas);
    b->v[v].metas = metas;
    metas = NULL;
  }
  free(b->v[v].err);
  b->v[v].err = e;
  b->v[v].refreshed_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  pthread_mutex_unlock(&b->mu);
  free(metas); /* a failed refresh keeps the blocks it had */
}

/* GET api/v1/blocks?view=loaded (else global). */
static void ui_blocks_api(struct http_req *req, void *data) {
  struct ui_blocks *b = data;
  struct http_params p = {0};
  enum ui_blocks_view v = UI_BLOCKS_GLOBAL;
  if (http_req_params(req, &p) == 0) {
    const char *view = http_params_get(&p, "view");
    if (view && !strcmp(view, "loaded"))
      v = UI_BLOCKS_LOADED;
    http_params_release(&p);
  }
  struct tc_buf out = TC_BUF_INIT;
  struct jsonw w;
  jsonw_init(&w, &out);
  jsonw_obj_begin(&w);
  jsonw_key(&w, "status");
  jsonw_cstr(&w, "success");
  jsonw_key(&w, "data");
  jsonw_obj_begin(&w);
  jsonw_key(&w, "label");
  jsonw_cstr(&w, b->label);
  pthread_mutex_lock(&b->mu);
  jsonw_key(&w, "blocks");
  jsonw_arr_begin(&w);
  if (b->v[v].metas && *b->v[v].metas)
    jsonw_raw(&w, b->v[v].metas, strlen(b->v[v].metas));
  jsonw_arr_end(&w);
  /* Go's zero time when the view was never refreshed. */
  char when[FMTTIME_MAX] = "0001-01-01T00:00:00Z";
  if (b->v[v].refreshed_ns)
    fmttime_rfc3339nano(when, b->v[v].refreshed_ns);
  jsonw_key(&w, "refreshedAt");
  jsonw_cstr(&w, when);
  jsonw_key(&w, "err");
  if (b->v[v].err)
    jsonw_cstr(&w, b->v[v].err);
  else
    jsonw_null(&w);
  pthread_mutex_unlock(&b->mu);
  jsonw_obj_end(&w);
  jsonw_obj_end(&w);
  if (jsonw_finish(&w) < 0 || !out.data)
    http_respond_error(req, 500, "out of memory");
  else
    http_respond(req, 200, "application/json", out.data, out.len);
  tc_buf_release(&out);
}

int ui_blocks_register_routes(struct http_server *srv,
                              const char *route_prefix, struct ui_blocks *b,
                              const char *home) {
  const char *prefix = route_prefix ? route_prefix : "";
  size_t plen = strlen(prefix);
  while (plen && prefix[plen - 1] == '/')
    plen--;
  const unsigned gz = HTTP_ROUTE_GZIP;
  static const char *const pages[] = {"/loaded", "/global", "/blocks"};
  int rc = ui_route(srv, prefix, plen, "/", 0, NULL, ui_redirect, (void *)home);
  if (rc == 0 && plen)
    rc = ui_route(srv, prefix, plen, "", 0, NULL, ui_redirect, (void *)home);
  for (size_t i = 0; rc == 0 && i < TC_ARRAY_SIZE(pages); i++)
    rc = ui_route(srv, prefix, plen, pages[i], gz, pages[i] + 1, ui_page,
                  "blocks.html");
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/static/", gz | HTTP_ROUTE_PREFIX,
                  "static", ui_static, NULL);
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/api/v1/blocks", gz, "blocks",
                  ui_blocks_api, b);
  return rc;
}
