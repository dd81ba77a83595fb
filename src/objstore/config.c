/*
 * config.c - the objstore YAML (type, config, prefix) as a tree read by
 * dotted paths. libyaml loads the document; each lookup marks the node it
 * reaches, so that objstore_open() can refuse keys no backend read, as
 * Thanos's strict decoding does. Values are expanded from the environment
 * (${VAR} and $(VAR)) when read. Also the sorted name list the backends
 * share for iteration.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "objstore/internal.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/flags.h"

struct objstore_cfg {
  yaml_document_t doc;
  int root;            /* node id of the current root; 0 = none */
  unsigned char *used; /* per node id */
  size_t nnodes;
  char **strs;         /* expanded values handed out, freed with the tree */
  size_t nstrs, capstrs;
  int err;             /* first error of a lookup; sticky */
  char *errmsg;
};

/* Records the first lookup error with its message; returns rc. */
static int cfg_fail(struct objstore_cfg *c, int rc) {
  if (!c->err) {
    c->err = rc;
    c->errmsg = xstrdup(tc_errmsg(rc));
  }
  return rc;
}

int objstore__cfg_err(struct objstore_cfg *c) {
  if (!c || !c->err)
    return 0;
  return tc_error(c->err, "%s", c->errmsg);
}

int objstore__expand_env(const char *s, char **out) {
  struct tc_buf b = TC_BUF_INIT;
  *out = NULL;
  tc_buf_adds(&b, "");
  while (*s) {
    char close = 0;
    if (s[0] == '$' && s[1] == '{')
      close = '}';
    else if (s[0] == '$' && s[1] == '(')
      close = ')';
    if (!close) {
      tc_buf_addc(&b, *s++);
      continue;
    }
    const char *end = strchr(s + 2, close);
    if (!end) {
      tc_buf_release(&b);
      return tc_error(TC_EINVAL, "unterminated '%.2s' in config value", s);
    }
    char *var = xstrndup(s + 2, (size_t)(end - s - 2));
    const char *val = getenv(var);
    if (!val) {
      int rc = tc_error(TC_EINVAL,
                        "environment variable '%s' used in config is not set",
                        var);
      free(var);
      tc_buf_release(&b);
      return rc;
    }
    free(var);
    tc_buf_adds(&b, val);
    s = end + 1;
  }
  *out = tc_buf_detach(&b, NULL);
  return 0;
}

static yaml_node_t *node(struct objstore_cfg *c, int id) {
  return id ? yaml_document_get_node(&c->doc, id) : NULL;
}

static int is_null_scalar(yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return 0;
  const char *v = (const char *)n->data.scalar.value;
  return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
         !strcmp(v, "NULL");
}

int objstore__cfg_parse(const char *yaml, struct objstore_cfg **out) {
  yaml_parser_t p;
  struct objstore_cfg *c = xcalloc(1, sizeof *c);
  int rc = 0;
  *out = NULL;
  if (!yaml_parser_initialize(&p))
    TC_BUG("yaml parser: out of memory");
  yaml_parser_set_input_string(&p, (const unsigned char *)yaml, strlen(yaml));
  if (!yaml_parser_load(&p, &c->doc)) {
    rc = tc_error(TC_EPARSE, "objstore config: yaml line %zu: %s",
                  p.problem_mark.line + 1, p.problem ? p.problem : "bad yaml");
    yaml_parser_delete(&p);
    free(c);
    return rc;
  }
  yaml_parser_delete(&p);
  c->nnodes = (size_t)(c->doc.nodes.top - c->doc.nodes.start);
  c->used = xcalloc(c->nnodes + 1, 1);
  yaml_node_t *r = yaml_document_get_root_node(&c->doc);
  if (r && r->type == YAML_MAPPING_NODE) {
    c->root = 1;
  } else if (r && !is_null_scalar(r)) {
    yaml_document_delete(&c->doc);
    free(c->used);
    free(c);
    return tc_error(TC_EPARSE, "objstore config: not a yaml map");
  }
  if (c->root)
    c->used[c->root] = 1;
  *out = c;
  return 0;
}

void objstore__cfg_free(struct objstore_cfg *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->nstrs; i++)
    free(c->strs[i]);
  free(c->strs);
  free(c->errmsg);
  free(c->used);
  yaml_document_delete(&c->doc);
  free(c);
}

/* Looks up one key in map node id; 0 when absent. Marks it used. */
static int map_get(struct objstore_cfg *c, int id, const char *key,
                   size_t klen) {
  yaml_node_t *m = node(c, id);
  if (!m || m->type != YAML_MAPPING_NODE)
    return 0;
  for (yaml_node_pair_t *pr = m->data.mapping.pairs.start;
       pr < m->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = node(c, pr->key);
    if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == klen &&
        !memcmp(k->data.scalar.value, key, klen)) {
      c->used[pr->value] = 1;
      return pr->value;
    }
  }
  return 0;
}

static int lookup(struct objstore_cfg *c, const char *path) {
  int id = c ? c->root : 0;
  while (id && *path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    id = map_get(c, id, path, n);
    path += n + (dot != NULL);
  }
  return id;
}

void objstore__cfg_enter(struct objstore_cfg *c, const char *key) {
  int id = lookup(c, key);
  yaml_node_t *n = node(c, id);
  c->root = n && n->type == YAML_MAPPING_NODE ? id : 0;
}

static void mark_all(struct objstore_cfg *c, int id) {
  yaml_node_t *n = node(c, id);
  if (!n)
    return;
  c->used[id] = 1;
  if (n->type == YAML_MAPPING_NODE)
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++)
      mark_all(c, pr->value);
  else if (n->type == YAML_SEQUENCE_NODE)
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++)
      mark_all(c, *it);
}

void objstore_cfg_accept(struct objstore_cfg *c, const char *path) {
  if (c)
    mark_all(c, lookup(c, path));
}

int objstore__cfg_check_unused(struct objstore_cfg *c) {
  for (size_t id = 1; id <= c->nnodes; id++) {
    yaml_node_t *m = node(c, (int)id);
    if (!c->used[id] || m->type != YAML_MAPPING_NODE)
      continue;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start;
         pr < m->data.mapping.pairs.top; pr++) {
      yaml_node_t *k = node(c, pr->key);
      if (!c->used[pr->value] && k->type == YAML_SCALAR_NODE)
        return tc_error(TC_EINVAL, "objstore config: unknown field '%s'",
                        (const char *)k->data.scalar.value);
    }
  }
  return 0;
}

/* The scalar at path, expanded; NULL when absent or null; errors stick in
 * *rc. */
static const char *scalar(struct objstore_cfg *c, const char *path, int *rc) {
  yaml_node_t *n = node(c, lookup(c, path));
  if (!n || is_null_scalar(n))
    return NULL;
  if (n->type != YAML_SCALAR_NODE) {
    *rc = cfg_fail(c, tc_error(TC_EINVAL,
                   "objstore config: '%s' is not a single value", path));
    return NULL;
  }
  char *v;
  int r = objstore__expand_env((const char *)n->data.scalar.value, &v);
  if (r < 0) {
    *rc = cfg_fail(c, tc_error_wrap(r, "objstore config '%s'", path));
    return NULL;
  }
  TC_GROW(c->strs, c->capstrs, c->nstrs + 1);
  c->strs[c->nstrs++] = v;
  return v;
}

const char *objstore_cfg_str(struct objstore_cfg *c, const char *path,
                             const char *def) {
  int rc = 0;
  const char *v = scalar(c, path, &rc);
  return rc < 0 || !v ? def : v;
}

int objstore_cfg_bool(struct objstore_cfg *c, const char *path, int def,
                      int *out) {
  int rc = 0;
  const char *v = scalar(c, path, &rc);
  *out = def;
  if (rc < 0 || !v)
    return rc;
  if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
    *out = 1;
  else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
           !strcasecmp(v, "off"))
    *out = 0;
  else
    return cfg_fail(c, tc_error(TC_EINVAL,
                    "objstore config '%s': not a boolean: '%s'", path, v));
  return 0;
}

int objstore_cfg_int(struct objstore_cfg *c, const char *path, int64_t def,
                     int64_t *out) {
  int rc = 0;
  const char *v = scalar(c, path, &rc);
  *out = def;
  if (rc < 0 || !v)
    return rc;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end)
    return cfg_fail(c, tc_error(TC_EINVAL,
                    "objstore config '%s': not an integer: '%s'", path, v));
  *out = x;
  return 0;
}

int objstore_cfg_duration(struct objstore_cfg *c, const char *path,
                          const char *def, int64_t *ms) {
  int rc = 0;
  const char *v = scalar(c, path, &rc);
  if (rc < 0)
    return rc;
  if (!v)
    v = def;
  if ((rc = parse_duration_ms(v, ms)) < 0)
    return cfg_fail(c, tc_error(rc,
                    "objstore config '%s': not a duration: '%s'", path, v));
  return 0;
}

int objstore_cfg_map(struct objstore_cfg *c, const char *path,
                     objstore_cfg_kv_fn *fn, void *data) {
  int id = lookup(c, path);
  yaml_node_t *m = node(c, id);
  if (!m || is_null_scalar(m))
    return 0;
  if (m->type != YAML_MAPPING_NODE)
    return cfg_fail(c, tc_error(TC_EINVAL, "objstore config: '%s' is not a map",
                                path));
  for (yaml_node_pair_t *pr = m->data.mapping.pairs.start;
       pr < m->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
    c->used[pr->value] = 1;
    if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
      return cfg_fail(c, tc_error(TC_EINVAL,
                      "objstore config: '%s' must map strings to strings", path));
    char *val;
    int rc = objstore__expand_env((const char *)v->data.scalar.value, &val);
    if (rc < 0)
      return cfg_fail(c, tc_error_wrap(rc, "objstore config '%s'", path));
    rc = fn(data, (const char *)k->data.scalar.value, val);
    free(val);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* --- sorted names ---------------------------------------------------------- */

void objstore__names_add(struct objstore__names *l, const char *s) {
  TC_GROW(l->v, l->cap, l->n + 1);
  l->v[l->n++] = xstrdup(s);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void objstore__names_sort(struct objstore__names *l) {
  if (l->n)
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

int objstore__names_each(struct objstore__names *l, objstore_iter_fn *fn,
                         void *data) {
  for (size_t i = 0; i < l->n; i++) {
    if (i && !strcmp(l->v[i], l->v[i - 1]))
      continue;
    int rc = fn(data, l->v[i]);
    if (rc)
      return rc;
  }
  return 0;
}

void objstore__names_release(struct objstore__names *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}
