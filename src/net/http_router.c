/*
 * http_router.c - method + path routing for the HTTP server (see http.h):
 * exact paths win over prefixes, the longest prefix wins among prefixes,
 * and a path known under other methods answers 405 with their Allow list.
 * Tables are small (tens of routes) so a linear scan is enough.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/http.h"

static const struct {
  const char *name;
  unsigned bit;
} methods[] = {
    {"GET", HTTP_M_GET},       {"HEAD", HTTP_M_HEAD},
    {"POST", HTTP_M_POST},     {"PUT", HTTP_M_PUT},
    {"DELETE", HTTP_M_DELETE}, {"OPTIONS", HTTP_M_OPTIONS},
    {"PATCH", HTTP_M_PATCH},
};

unsigned http_method_bit(const char *name) {
  for (size_t i = 0; i < TC_ARRAY_SIZE(methods); i++)
    if (!strcmp(methods[i].name, name))
      return methods[i].bit;
  return 0;
}

void http_methods_allow(unsigned mask, char *out, size_t n) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < TC_ARRAY_SIZE(methods); i++) {
    if (!(mask & methods[i].bit))
      continue;
    int w =
        snprintf(out + len, n - len, "%s%s", len ? ", " : "", methods[i].name);
    if (w < 0 || (size_t)w >= n - len)
      break;
    len += (size_t)w;
  }
}

void http_router_init(struct http_router *r) {
  *r = (struct http_router){0};
}

void http_router_release(struct http_router *r) {
  for (size_t i = 0; i < r->n; i++)
    free((char *)r->routes[i].path);
  free(r->routes);
  http_router_init(r);
}

static unsigned route_methods(const struct http_route *rt) {
  /* GET implies HEAD, as Go's servers answer HEAD for GET handlers. */
  return rt->methods & HTTP_M_GET ? rt->methods | HTTP_M_HEAD : rt->methods;
}

int http_router_add(struct http_router *r, const struct http_route *route) {
  if (!route->path || route->path[0] != '/' || !route->fn || !route->methods)
    return tc_error(TC_EINVAL,
                    "route '%s': needs a path, methods and a handler",
                    route->path ? route->path : "");
  for (size_t i = 0; i < r->n; i++) {
    const struct http_route *o = &r->routes[i];
    if (!strcmp(o->path, route->path) &&
        (o->flags & HTTP_ROUTE_PREFIX) == (route->flags & HTTP_ROUTE_PREFIX) &&
        (route_methods(o) & route_methods(route)))
      return tc_error(TC_EEXIST, "route '%s': already registered", route->path);
  }
  TC_GROW(r->routes, r->cap, r->n + 1);
  r->routes[r->n] = *route;
  r->routes[r->n].path = xstrdup(route->path);
  r->n++;
  return 0;
}

int http_router_match(const struct http_router *r, unsigned method,
                      const char *path, const struct http_route **out,
                      const char **rest, unsigned *allow) {
  const struct http_route *best = NULL;
  size_t best_len = 0;
  unsigned allowed = 0;
  int exact_path = 0;
  /* Exact routes first: any exact route owning the path decides it. */
  for (size_t i = 0; i < r->n; i++) {
    const struct http_route *rt = &r->routes[i];
    if ((rt->flags & HTTP_ROUTE_PREFIX) || strcmp(rt->path, path))
      continue;
    exact_path = 1;
    allowed |= route_methods(rt);
    if (!best && (route_methods(rt) & method))
      best = rt;
  }
  if (!exact_path) {
    for (size_t i = 0; i < r->n; i++) {
      const struct http_route *rt = &r->routes[i];
      size_t len = strlen(rt->path);
      if (!(rt->flags & HTTP_ROUTE_PREFIX) || strncmp(rt->path, path, len))
        continue;
      if (len > best_len) {
        /* A longer prefix shadows shorter ones, for methods too. */
        best_len = len;
        allowed = 0;
        best = NULL;
      }
      if (len == best_len) {
        allowed |= route_methods(rt);
        if (!best && (route_methods(rt) & method))
          best = rt;
      }
    }
  }
  if (allow)
    *allow = allowed;
  if (best) {
    *out = best;
    *rest = path + (exact_path ? strlen(path) : best_len);
    return 200;
  }
  return allowed ? 405 : 404;
}
