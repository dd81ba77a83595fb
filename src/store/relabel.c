/*
 * relabel.c - --selector.relabel-config for the store gateway: a list of
 * Prometheus relabel rules applied to each block's external labels (plus
 * __block_id) to decide whether this store serves it. The actions that
 * sharding uses are supported: keep, drop, hashmod (MD5 of the joined
 * source values, low 8 bytes big-endian, modulo), and replace for plain
 * copies into a target label. The block is served when its label set is
 * not empty after the rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/store.h"

enum rl_action { RL_REPLACE, RL_KEEP, RL_DROP, RL_HASHMOD };

struct rl_rule {
  enum rl_action action;
  char **src;
  size_t nsrc;
  char *sep;
  struct matcher re; /* anchored */
  uint64_t modulus;
  char *target;
  char *replacement;
};

struct store_relabel {
  struct rl_rule *v;
  size_t n;
};

static void rule_release(struct rl_rule *r) {
  for (size_t i = 0; i < r->nsrc; i++)
    free(r->src[i]);
  free(r->src);
  free(r->sep);
  matcher_release(&r->re);
  free(r->target);
  free(r->replacement);
}

void store_relabel_free(struct store_relabel *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++)
    rule_release(&r->v[i]);
  free(r->v);
  free(r);
}

static const char *scalar(yaml_document_t *d, int id) {
  yaml_node_t *n = yaml_document_get_node(d, id);
  if (!n || n->type != YAML_SCALAR_NODE)
    return NULL;
  return (const char *)n->data.scalar.value;
}

static int parse_rule(yaml_document_t *d, yaml_node_t *m, struct rl_rule *r) {
  const char *action = "replace", *regex = "(.*)";
  r->sep = xstrdup(";");
  r->replacement = xstrdup("$1");
  if (m->type != YAML_MAPPING_NODE)
    return tc_error(TC_EPARSE, "relabel config: a rule is not a mapping");
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
       p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(d, p->key);
    yaml_node_t *vn = yaml_document_get_node(d, p->value);
    const char *v = scalar(d, p->value);
    if (!k)
      return tc_error(TC_EPARSE, "relabel config: bad key");
    if (!strcmp(k, "source_labels")) {
      if (!vn || vn->type != YAML_SEQUENCE_NODE)
        return tc_error(TC_EPARSE, "relabel config: source_labels is not "
                        "a list");
      for (yaml_node_item_t *it = vn->data.sequence.items.start;
           it < vn->data.sequence.items.top; it++) {
        const char *s = scalar(d, *it);
        if (!s)
          return tc_error(TC_EPARSE, "relabel config: bad source label");
        r->src = xrealloc(r->src, (r->nsrc + 1) * sizeof(char *));
        r->src[r->nsrc++] = xstrdup(s);
      }
    } else if (!v) {
      return tc_error(TC_EPARSE, "relabel config: '%s' is not a scalar", k);
    } else if (!strcmp(k, "separator")) {
      free(r->sep);
      r->sep = xstrdup(v);
    } else if (!strcmp(k, "regex")) {
      regex = v;
    } else if (!strcmp(k, "modulus")) {
      char *end;
      r->modulus = strtoull(v, &end, 10);
      if (*end || !*v)
        return tc_error(TC_EPARSE, "relabel config: bad modulus '%s'", v);
    } else if (!strcmp(k, "target_label")) {
      free(r->target);
      r->target = xstrdup(v);
    } else if (!strcmp(k, "replacement")) {
      free(r->replacement);
      r->replacement = xstrdup(v);
    } else if (!strcmp(k, "action")) {
      action = v;
    } else {
      return tc_error(TC_EPARSE, "relabel config: unknown field '%s'", k);
    }
  }
  if (!strcasecmp(action, "keep"))
    r->action = RL_KEEP;
  else if (!strcasecmp(action, "drop"))
    r->action = RL_DROP;
  else if (!strcasecmp(action, "hashmod"))
    r->action = RL_HASHMOD;
  else if (!strcasecmp(action, "replace"))
    r->action = RL_REPLACE;
  else
    return tc_error(TC_ENOTSUP, "relabel config: action '%s' is not "
                    "supported (keep, drop, hashmod, replace)", action);
  if (r->action == RL_HASHMOD && (r->modulus == 0 || !r->target))
    return tc_error(TC_EPARSE, "relabel configuration for hashmod requires "
                    "non-zero modulus and a target_label");
  if (r->action == RL_REPLACE && !r->target)
    return tc_error(TC_EPARSE, "relabel configuration for replace action "
                    "requires 'target_label' value");
  int rc = matcher_init(&r->re, MATCH_RE, "", regex);
  if (rc)
    return tc_error(TC_EPARSE, "relabel config: regex '%s': %s", regex,
                    tc_errmsg(rc));
  return 0;
}

int store_relabel_parse(const char *yaml, struct store_relabel **out) {
  *out = NULL;
  yaml_parser_t p;
  yaml_document_t d;
  if (!yaml_parser_initialize(&p))
    return tc_error(TC_ENOMEM, "yaml parser");
  yaml_parser_set_input_string(&p, (const unsigned char *)yaml, strlen(yaml));
  if (!yaml_parser_load(&p, &d)) {
    int rc = tc_error(TC_EPARSE, "relabel config: %s at line %zu",
                      p.problem ? p.problem : "bad YAML",
                      p.problem_mark.line + 1);
    yaml_parser_delete(&p);
    return rc;
  }
  yaml_parser_delete(&p);
  struct store_relabel *r = xcalloc(1, sizeof(*r));
  yaml_node_t *root = yaml_document_get_root_node(&d);
  int rc = 0;
  if (root && root->type == YAML_SEQUENCE_NODE) {
    for (yaml_node_item_t *it = root->data.sequence.items.start;
         it < root->data.sequence.items.top && !rc; it++) {
      r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
      memset(&r->v[r->n], 0, sizeof(r->v[0]));
      rc = parse_rule(&d, yaml_document_get_node(&d, *it), &r->v[r->n]);
      r->n++;
    }
  } else if (root && !(root->type == YAML_SCALAR_NODE &&
                       !*(const char *)root->data.scalar.value)) {
    rc = tc_error(TC_EPARSE, "relabel config: expected a list of rules");
  }
  yaml_document_delete(&d);
  if (rc) {
    store_relabel_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

static uint64_t hashmod(const char *s, uint64_t mod) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s, strlen(s), md, &n, EVP_md5(), NULL);
  uint64_t v = 0;
  for (int i = 8; i < 16; i++)
    v = (v << 8) | md[i];
  return v % mod;
}

static void set_label(struct labels *ls, const char *name, const char *value) {
  struct labels n = LABELS_INIT;
  for (size_t i = 0; i < ls->n; i++)
    if (strcmp(ls->v[i].name, name) != 0)
      labels_add(&n, ls->v[i].name, ls->v[i].value);
  labels_add(&n, name, value);
  labels_sort(&n);
  labels_release(ls);
  *ls = n;
}

bool store_relabel_keep(const struct store_relabel *r,
                        const struct labels *in) {
  if (!r)
    return true;
  struct labels ls;
  labels_copy(&ls, in);
  bool keep = true;
  struct tc_buf b = TC_BUF_INIT;
  for (size_t i = 0; i < r->n && keep; i++) {
    const struct rl_rule *x = &r->v[i];
    tc_buf_reset(&b);
    for (size_t k = 0; k < x->nsrc; k++) {
      const char *v = labels_get(&ls, x->src[k]);
      if (k)
        tc_buf_adds(&b, x->sep);
      tc_buf_adds(&b, v ? v : "");
    }
    tc_buf_addc(&b, '\0');
    const char *val = b.data;
    switch (x->action) {
    case RL_KEEP:
      keep = matcher_matches_str(&x->re, val);
      break;
    case RL_DROP:
      keep = !matcher_matches_str(&x->re, val);
      break;
    case RL_HASHMOD: {
      char num[24];
      snprintf(num, sizeof num, "%llu",
               (unsigned long long)hashmod(val, x->modulus));
      set_label(&ls, x->target, num);
      break;
    }
    case RL_REPLACE:
      /* Only whole-value copies ("$1" over "(.*)") and literals. */
      if (matcher_matches_str(&x->re, val))
        set_label(&ls, x->target,
                  !strcmp(x->replacement, "$1") ? val : x->replacement);
      break;
    }
  }
  if (ls.n == 0)
    keep = false;
  tc_buf_release(&b);
  labels_release(&ls);
  return keep;
}
