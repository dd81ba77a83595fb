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

/*
 * The Block Viewer of `compact` and `tools bucket web`: the blocks of a
 * bucket on a time line, from Thanos's blocks API. Two views, "global"
 * (every block with a readable meta.json) and "loaded" (the blocks the
 * compactor works on), each set by the thread that syncs the bucket and
 * read by the loop. ui_blocks_register_routes() adds, under route_prefix:
 *   /               302 to home ("loaded" or "blocks", relative)
 *   /loaded /global /blocks   the page (its script picks the view)
 *   /static/...     its script and style
 *   /api/v1/blocks  ?view=global|loaded: {"status":"success","data":
 *                   {"label":...,"blocks":[meta.json...],"refreshedAt":
 *                   RFC3339Nano,"err":null|"..."}}
 */
enum ui_blocks_view { UI_BLOCKS_GLOBAL, UI_BLOCKS_LOADED };

struct ui_blocks;

/* label: the external label that titles the time lines (may be NULL). */
struct ui_blocks *ui_blocks_new(const char *label);
void ui_blocks_free(struct ui_blocks *b);

/* Sets view v to the blocks whose meta.json documents metas (owned by the
 * call; NULL for none) holds, one after the other separated by commas,
 * or, with err, records a failed refresh and keeps the blocks, as Thanos
 * does. Any thread. */
void ui_blocks_set(struct ui_blocks *b, enum ui_blocks_view v, char *metas,
                   const char *err);

int ui_blocks_register_routes(struct http_server *srv,
                              const char *route_prefix, struct ui_blocks *b,
                              const char *home);

#endif
