/*
 * ui.h - the querier's web UI: a page for PromQL (table and graph) and one
 * for the store endpoints, served from files embedded at build time.
 *
 * ui_register_routes() adds, under route_prefix ("" or "/prefix"):
 *   /            302 to graph (relative; <prefix> itself too when non-empty)
 *   /graph       the UI page (the query panel)
 *   /stores      the UI page (the stores list)
 *   /static/...  scripts and styles, with Content-Type, ETag and
 *                Cache-Control; If-None-Match answers 304
 * The page uses relative URLs only, so it works behind
 * --web.external-prefix and --web.route-prefix.
 */
#ifndef THANOSC_UI_H
#define THANOSC_UI_H

struct http_server;

/* 0, or the error of http_server_route() (TC_EEXIST on a clash). */
int ui_register_routes(struct http_server *srv, const char *route_prefix);

#endif
