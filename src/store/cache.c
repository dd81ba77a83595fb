/*
 * cache.c - the store gateway's in-memory index cache: an LRU of byte
 * ranges of blocks' index objects (postings lists and series entries),
 * keyed by block ULID, offset and length, bounded by --index-cache-size.
 * The virtual index source (indexheader.c) asks it before a ranged read
 * and fills it after one, so repeated queries do not go back to the
 * bucket. Values are copied in and out: an eviction never invalidates
 * memory a reader holds. Thread-safe (one mutex); counts in Thanos's
 * thanos_store_index_cache_* metrics with item_type Postings or Series.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/metrics.h"
#include "thanosc/store.h"

struct centry {
  struct centry *hnext;       /* hash chain */
  struct centry *prev, *next; /* LRU: head is most recent */
  char ulid[TSDB_ULID_LEN + 1];
  uint64_t off;
  uint32_t len;
  int type;
  uint64_t hash;
  uint8_t data[];
};

struct index_cache {
  pthread_mutex_t mu;
  struct centry **tab;
  size_t nbuckets, n;
  struct centry *head, *tail;
  uint64_t size, max, max_item;
  uint64_t type_size[2], type_n[2];
};

static const char *const type_names[] = {"Postings", "Series"};
static struct metric *m_added, *m_evicted, *m_requests, *m_hits, *m_overflow;
static struct metric *m_items, *m_item_bytes, *m_total_bytes, *m_max_bytes;
static struct metric *m_max_item;

static void cmetrics_init(void) {
  if (m_added)
    return;
  m_evicted = metric_counter("thanos_store_index_cache_items_evicted_total",
                             "Total number of items that were evicted from "
                             "the index cache.", "item_type");
  m_added = metric_counter("thanos_store_index_cache_items_added_total",
                           "Total number of items that were added to the "
                           "index cache.", "item_type");
  m_requests = metric_counter("thanos_store_index_cache_requests_total",
                              "Total number of requests to the cache.",
                              "item_type");
  m_overflow = metric_counter(
      "thanos_store_index_cache_items_overflowed_total",
      "Total number of items that could not be added to the cache due to "
      "being too big.", "item_type");
  m_hits = metric_counter("thanos_store_index_cache_hits_total",
                          "Total number of requests to the cache that were a "
                          "hit.", "item_type");
  m_items = metric_gauge("thanos_store_index_cache_items",
                         "Current number of items in the index cache.",
                         "item_type");
  m_item_bytes = metric_gauge("thanos_store_index_cache_items_size_bytes",
                              "Current byte size of items in the index "
                              "cache.", "item_type");
  m_total_bytes = metric_gauge("thanos_store_index_cache_total_size_bytes",
                               "Current byte size of items (both value and "
                               "key) in the index cache.", "item_type");
  m_max_bytes = metric_gauge("thanos_store_index_cache_max_size_bytes",
                             "Maximum number of bytes to be held in the "
                             "index cache.", "");
  m_max_item = metric_gauge("thanos_store_index_cache_max_item_size_bytes",
                            "Maximum number of bytes for single entry to be "
                            "held in the index cache.", "");
  for (int t = 0; t < 2; t++) {
    metric_add(metric_with(m_evicted, type_names[t]), 0);
    metric_add(metric_with(m_added, type_names[t]), 0);
    metric_add(metric_with(m_requests, type_names[t]), 0);
    metric_add(metric_with(m_overflow, type_names[t]), 0);
    metric_add(metric_with(m_hits, type_names[t]), 0);
    metric_set(metric_with(m_items, type_names[t]), 0);
    metric_set(metric_with(m_item_bytes, type_names[t]), 0);
    metric_set(metric_with(m_total_bytes, type_names[t]), 0);
  }
}

struct index_cache *index_cache_new(uint64_t max_bytes) {
  cmetrics_init();
  struct index_cache *c = xcalloc(1, sizeof(*c));
  pthread_mutex_init(&c->mu, NULL);
  c->nbuckets = 4096;
  c->tab = xcalloc(c->nbuckets, sizeof(*c->tab));
  c->max = max_bytes;
  c->max_item = max_bytes / 2;
  metric_set(metric_child(m_max_bytes), (double)c->max);
  metric_set(metric_child(m_max_item), (double)c->max_item);
  return c;
}

void index_cache_free(struct index_cache *c) {
  if (!c)
    return;
  for (struct centry *e = c->head, *n; e; e = n) {
    n = e->next;
    free(e);
  }
  free(c->tab);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static uint64_t key_hash(const char *ulid, uint64_t off, uint32_t len) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = ulid; *p; p++)
    h = (h ^ (uint8_t)*p) * 1099511628211ull;
  h = (h ^ off) * 1099511628211ull;
  h = (h ^ len) * 1099511628211ull;
  return h ^ (h >> 29);
}

static size_t entry_cost(const struct centry *e) {
  return sizeof(*e) + e->len;
}

static void lru_unlink(struct index_cache *c, struct centry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void lru_push(struct index_cache *c, struct centry *e) {
  e->next = c->head;
  e->prev = NULL;
  if (c->head)
    c->head->prev = e;
  c->head = e;
  if (!c->tail)
    c->tail = e;
}

static struct centry **find(struct index_cache *c, uint64_t h,
                            const char *ulid, uint64_t off, uint32_t len) {
  struct centry **pp = &c->tab[h % c->nbuckets];
  for (; *pp; pp = &(*pp)->hnext) {
    struct centry *e = *pp;
    if (e->hash == h && e->off == off && e->len == len &&
        !strcmp(e->ulid, ulid))
      return pp;
  }
  return pp;
}

static void gauges(struct index_cache *c, int t) {
  metric_set(metric_with(m_items, type_names[t]), (double)c->type_n[t]);
  metric_set(metric_with(m_item_bytes, type_names[t]),
             (double)c->type_size[t]);
  metric_set(metric_with(m_total_bytes, type_names[t]),
             (double)c->type_size[t]);
}

static void evict_one(struct index_cache *c) {
  struct centry *e = c->tail;
  struct centry **pp = find(c, e->hash, e->ulid, e->off, e->len);
  *pp = e->hnext;
  lru_unlink(c, e);
  c->size -= entry_cost(e);
  c->type_size[e->type] -= entry_cost(e);
  c->type_n[e->type]--;
  c->n--;
  metric_inc(metric_with(m_evicted, type_names[e->type]));
  gauges(c, e->type);
  free(e);
}

/* Doubles the hash table. */
static void rehash(struct index_cache *c) {
  size_t nb = c->nbuckets * 2;
  struct centry **tab = xcalloc(nb, sizeof(*tab));
  for (size_t i = 0; i < c->nbuckets; i++) {
    for (struct centry *e = c->tab[i], *n; e; e = n) {
      n = e->hnext;
      e->hnext = tab[e->hash % nb];
      tab[e->hash % nb] = e;
    }
  }
  free(c->tab);
  c->tab = tab;
  c->nbuckets = nb;
}

bool index_cache_get(struct index_cache *c, int type, const char *ulid,
                     uint64_t off, uint32_t len, uint8_t *out) {
  if (!c || c->max == 0)
    return false;
  uint64_t h = key_hash(ulid, off, len);
  metric_inc(metric_with(m_requests, type_names[type]));
  pthread_mutex_lock(&c->mu);
  struct centry *e = *find(c, h, ulid, off, len);
  if (e) {
    memcpy(out, e->data, len);
    lru_unlink(c, e);
    lru_push(c, e);
  }
  pthread_mutex_unlock(&c->mu);
  if (e)
    metric_inc(metric_with(m_hits, type_names[type]));
  return e != NULL;
}

bool index_cache_has(struct index_cache *c, const char *ulid, uint64_t off,
                     uint32_t len) {
  if (!c || c->max == 0)
    return false;
  uint64_t h = key_hash(ulid, off, len);
  pthread_mutex_lock(&c->mu);
  bool have = *find(c, h, ulid, off, len) != NULL;
  pthread_mutex_unlock(&c->mu);
  return have;
}

void index_cache_put(struct index_cache *c, int type, const char *ulid,
                     uint64_t off, uint32_t len, const uint8_t *data) {
  if (!c || c->max == 0)
    return;
  if (sizeof(struct centry) + len > c->max_item) {
    metric_inc(metric_with(m_overflow, type_names[type]));
    return;
  }
  uint64_t h = key_hash(ulid, off, len);
  pthread_mutex_lock(&c->mu);
  struct centry **pp = find(c, h, ulid, off, len);
  if (*pp) {
    pthread_mutex_unlock(&c->mu);
    return;
  }
  struct centry *e = xmalloc(sizeof(*e) + len);
  memset(e, 0, sizeof(*e));
  snprintf(e->ulid, sizeof e->ulid, "%s", ulid);
  e->off = off;
  e->len = len;
  e->type = type;
  e->hash = h;
  memcpy(e->data, data, len);
  while (c->tail && c->size + entry_cost(e) > c->max)
    evict_one(c);
  if (c->n + 1 > c->nbuckets * 2)
    rehash(c);
  pp = find(c, h, ulid, off, len);
  *pp = e;
  lru_push(c, e);
  c->size += entry_cost(e);
  c->type_size[type] += entry_cost(e);
  c->type_n[type]++;
  c->n++;
  metric_inc(metric_with(m_added, type_names[type]));
  gauges(c, type);
  pthread_mutex_unlock(&c->mu);
}
