/*
 * strtab.h - a string -> uint32 open-addressing hash table (XXH3 keys,
 * linear probing) for the block and index writers: deduplicating symbols
 * and finding a symbol's reference without a binary search. Keys are
 * borrowed and must outlive the table. Internal to src/tsdb.
 */
#ifndef THANOSC_TSDB_STRTAB_H
#define THANOSC_TSDB_STRTAB_H

#include <stddef.h>
#include <stdint.h>

struct tsdb_strtab {
  const char **keys; /* owned array of borrowed keys, NULL = empty slot */
  uint32_t *vals;
  size_t cap, n;     /* cap is a power of two */
};

void tsdb_strtab_init(struct tsdb_strtab *t, size_t expect);
void tsdb_strtab_release(struct tsdb_strtab *t);
/* Inserts key with val unless present; returns 1 when inserted. */
int tsdb_strtab_put(struct tsdb_strtab *t, const char *key, uint32_t val);
/* Value of key, or -1 when absent. */
int64_t tsdb_strtab_get(const struct tsdb_strtab *t, const char *key);

#endif
