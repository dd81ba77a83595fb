/*
 * strtab.c - string -> uint32 hash table behind the TSDB writers' symbol
 * handling (see strtab.h).
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "thanosc/common.h"
#include "tsdb/encoding/strtab.h"

void tsdb_strtab_init(struct tsdb_strtab *t, size_t expect) {
  size_t cap = 16;
  while (cap < 2 * expect)
    cap <<= 1;
  t->keys = xcalloc(cap, sizeof(*t->keys));
  t->vals = xcalloc(cap, sizeof(*t->vals));
  t->cap = cap;
  t->n = 0;
}

void tsdb_strtab_release(struct tsdb_strtab *t) {
  free(t->keys);
  free(t->vals);
  memset(t, 0, sizeof(*t));
}

static size_t slot_of(const struct tsdb_strtab *t, const char *key) {
  size_t mask = t->cap - 1;
  size_t i = (size_t)XXH3_64bits(key, strlen(key)) & mask;
  while (t->keys[i] && strcmp(t->keys[i], key))
    i = (i + 1) & mask;
  return i;
}

static void grow(struct tsdb_strtab *t) {
  struct tsdb_strtab big;
  tsdb_strtab_init(&big, t->cap);
  for (size_t i = 0; i < t->cap; i++)
    if (t->keys[i]) {
      size_t s = slot_of(&big, t->keys[i]);
      big.keys[s] = t->keys[i];
      big.vals[s] = t->vals[i];
      big.n++;
    }
  tsdb_strtab_release(t);
  *t = big;
}

int tsdb_strtab_put(struct tsdb_strtab *t, const char *key, uint32_t val) {
  if (2 * (t->n + 1) > t->cap)
    grow(t);
  size_t s = slot_of(t, key);
  if (t->keys[s])
    return 0;
  t->keys[s] = key;
  t->vals[s] = val;
  t->n++;
  return 1;
}

int64_t tsdb_strtab_get(const struct tsdb_strtab *t, const char *key) {
  if (!t->cap)
    return -1;
  size_t s = slot_of(t, key);
  return t->keys[s] ? (int64_t)t->vals[s] : -1;
}
