/*
 * mem.c - the MEM backend: objects in a hash-free sorted array under one
 * mutex, for unit tests and as the reference the other backends must match
 * (the acceptance suite runs here first). Iteration collects the names
 * under the lock and calls back without it, so a callback may use the
 * bucket.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objstore/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

struct mem_obj {
  char *name;
  char *data;
  size_t len;
  int64_t mtime_ms;
};

struct mem_bucket {
  struct objstore base;
  pthread_mutex_t lock;
  struct mem_obj *objs; /* sorted by name */
  size_t n, cap;
};

static struct mem_bucket *mem(struct objstore *os) {
  return objstore__downcast(os, &objstore_mem_ops);
}

/* Index of name, or of where it would go (*found = 0). Lock held. */
static size_t find(struct mem_bucket *m, const char *name, int *found) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(m->objs[mid].name, name);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  return lo;
}

static int mem_open(struct objstore *os, struct objstore_cfg *cfg) {
  struct mem_bucket *m = mem(os);
  pthread_mutex_init(&m->lock, NULL);
  os->bucket = xstrdup("mem");
  return 0;
}

static void mem_close(struct objstore *os) {
  struct mem_bucket *m = mem(os);
  for (size_t i = 0; i < m->n; i++) {
    free(m->objs[i].name);
    free(m->objs[i].data);
  }
  free(m->objs);
  pthread_mutex_destroy(&m->lock);
}

static int mem_iter(struct objstore *os, const char *dir, unsigned flags,
                    objstore_iter_fn *fn, void *data) {
  struct mem_bucket *m = mem(os);
  struct objstore__names names = {0};
  size_t dl = strlen(dir);
  int found;

  pthread_mutex_lock(&m->lock);
  for (size_t i = find(m, dir, &found); i < m->n; i++) {
    const char *k = m->objs[i].name;
    if (strncmp(k, dir, dl))
      break;
    const char *slash = strchr(k + dl, '/');
    if (slash && !(flags & OBJSTORE_RECURSIVE)) {
      char *d = xstrndup(k, (size_t)(slash - k) + 1);
      objstore__names_add(&names, d);
      free(d);
    } else {
      objstore__names_add(&names, k);
    }
  }
  pthread_mutex_unlock(&m->lock);
  objstore__names_sort(&names);
  int rc = objstore__names_each(&names, fn, data);
  objstore__names_release(&names);
  return rc;
}

static int mem_get_range(struct objstore *os, const char *name, uint64_t off,
                         int64_t len, objstore_write_fn *fn, void *data) {
  struct mem_bucket *m = mem(os);
  int found;
  char *copy = NULL;
  size_t n = 0;

  pthread_mutex_lock(&m->lock);
  size_t i = find(m, name, &found);
  if (found && off < m->objs[i].len) {
    n = m->objs[i].len - off;
    if (len >= 0 && (uint64_t)len < n)
      n = (size_t)len;
    copy = xmalloc(n ? n : 1);
    memcpy(copy, m->objs[i].data + off, n);
  }
  pthread_mutex_unlock(&m->lock);
  if (!found)
    return tc_error(TC_ENOTFOUND, "get '%s': no such object", name);
  int rc = n ? fn(data, copy, n) : 0;
  free(copy);
  return rc;
}

static int mem_attributes(struct objstore *os, const char *name,
                          struct objstore_attrs *out) {
  struct mem_bucket *m = mem(os);
  int found;
  pthread_mutex_lock(&m->lock);
  size_t i = find(m, name, &found);
  if (found) {
    out->size = (int64_t)m->objs[i].len;
    out->last_modified_ms = m->objs[i].mtime_ms;
  }
  pthread_mutex_unlock(&m->lock);
  if (!found)
    return tc_error(TC_ENOTFOUND, "attributes '%s': no such object", name);
  return 0;
}

static int mem_upload(struct objstore *os, const char *name,
                      const struct objstore_src *src) {
  struct mem_bucket *m = mem(os);
  struct timespec ts;
  int found;
  char *p = xmalloc(src->size ? src->size : 1);
  int rc = src->size ? src->read_at(src->data, p, src->size, 0) : 0;
  if (rc < 0) {
    free(p);
    return tc_error_wrap(rc, "upload '%s'", name);
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  pthread_mutex_lock(&m->lock);
  size_t i = find(m, name, &found);
  if (found) {
    free(m->objs[i].data);
  } else {
    TC_GROW(m->objs, m->cap, m->n + 1);
    memmove(&m->objs[i + 1], &m->objs[i], (m->n - i) * sizeof *m->objs);
    m->n++;
    m->objs[i].name = xstrdup(name);
  }
  m->objs[i].data = p;
  m->objs[i].len = src->size;
  m->objs[i].mtime_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  pthread_mutex_unlock(&m->lock);
  return 0;
}

static int mem_delete(struct objstore *os, const char *name) {
  struct mem_bucket *m = mem(os);
  int found;
  pthread_mutex_lock(&m->lock);
  size_t i = find(m, name, &found);
  if (found) {
    free(m->objs[i].name);
    free(m->objs[i].data);
    memmove(&m->objs[i], &m->objs[i + 1], (m->n - i - 1) * sizeof *m->objs);
    m->n--;
  }
  pthread_mutex_unlock(&m->lock);
  return 0;
}

const struct objstore_ops objstore_mem_ops = {
    .name = "MEM",
    .caps = OBJSTORE_CAP_RANGE,
    .instance_size = sizeof(struct mem_bucket),
    .open = mem_open,
    .close = mem_close,
    .iter = mem_iter,
    .get_range = mem_get_range,
    .attributes = mem_attributes,
    .upload = mem_upload,
    .del = mem_delete,
};
