/*
 * ui.c - serves the querier's web UI from the files of web/ that the build
 * embedded (ui_assets[], see assets.h). /graph and /stores both answer the
 * one HTML page, whose script picks the view from the path; /static/ holds
 * the script and the style sheet. Assets carry a content ETag and
 * "Cache-Control: no-cache", so browsers revalidate cheaply (304) and never
 * run a stale script after an upgrade. Routes live under the route prefix,
 * and the page itself only uses relative URLs.
 */
#include <stdlib.h>
#include <string.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/http.h"
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

static void ui_page(struct http_req *req, void *data) {
  const struct ui_asset *a = ui_find("index.html");
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
 * "/" and "<prefix>" answer 302 to the graph page. The Location is relative
 * to the request ("graph" from ".../", "<last segment>/graph" otherwise), so
 * it stays right behind a proxy that adds a prefix (--web.external-prefix)
 * the querier never sees.
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
  tc_buf_adds(&loc, "graph");
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
  int rc = ui_route(srv, prefix, plen, "/", 0, NULL, ui_redirect, NULL);
  if (rc == 0 && plen)
    rc = ui_route(srv, prefix, plen, "", 0, NULL, ui_redirect, NULL);
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/graph", gz, "graph", ui_page, NULL);
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/stores", gz, "stores", ui_page, NULL);
  if (rc == 0)
    rc = ui_route(srv, prefix, plen, "/static/", gz | HTTP_ROUTE_PREFIX,
                  "static", ui_static, NULL);
  return rc;
}
