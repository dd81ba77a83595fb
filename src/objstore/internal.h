/*
 * internal.h - what the files of src/objstore share and nobody else sees:
 * the YAML config tree's lifecycle and a sorted list of names.
 */
#ifndef THANOSC_OBJSTORE_INTERNAL_H
#define THANOSC_OBJSTORE_INTERNAL_H

#include <stddef.h>

#include "thanosc/objstore.h"

/* Parses yaml into a tree rooted at the document; *out owned, free with
 * objstore__cfg_free(). An empty document is an empty map. */
int objstore__cfg_parse(const char *yaml, struct objstore_cfg **out /* OUT */);
/* Makes key (a map, or nothing) the root of later lookups. */
void objstore__cfg_enter(struct objstore_cfg *c, const char *key);
/* The first error a lookup met (its message restored), or 0. */
int objstore__cfg_err(struct objstore_cfg *c);
/* TC_EINVAL naming the first key nobody looked up. */
int objstore__cfg_check_unused(struct objstore_cfg *c);
void objstore__cfg_free(struct objstore_cfg *c);
/* Replaces ${VAR} and $(VAR) from the environment; *out owned. */
int objstore__expand_env(const char *s, char **out /* OUT */);

/* A growable list of owned strings, sorted on demand. */
struct objstore__names {
  char **v;
  size_t n, cap;
};
void objstore__names_add(struct objstore__names *l, const char *s);
void objstore__names_sort(struct objstore__names *l);
/* Calls fn for each name in order, skipping repeats; stops at non-zero. */
int objstore__names_each(struct objstore__names *l, objstore_iter_fn *fn,
                         void *data);
void objstore__names_release(struct objstore__names *l);

#endif
