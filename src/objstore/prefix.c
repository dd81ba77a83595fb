/*
 * prefix.c - the decorator behind the YAML `prefix:` (Thanos's
 * PrefixedBucket): every name is stored under "<prefix>/", and iteration
 * hides the prefix again. It calls the wrapped bucket through the
 * objstore_*() wrappers; metrics are counted once, on the outermost bucket.
 */
#include <stdlib.h>
#include <string.h>

#include "objstore/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

struct prefix_bucket {
  struct objstore base;
  char *prefix; /* "a/b/" */
};

static const struct objstore_ops prefix_ops;

static struct prefix_bucket *pb(struct objstore *os) {
  return objstore__downcast(os, &prefix_ops);
}

static char *full(struct objstore *os, const char *name) {
  return xasprintf("%s%s", pb(os)->prefix, name);
}

struct strip {
  objstore_iter_fn *fn;
  void *data;
  size_t n;
};

static int strip_cb(void *data, const char *name) {
  struct strip *s = data;
  return s->fn(s->data, strlen(name) >= s->n ? name + s->n : name);
}

static int prefix_iter(struct objstore *os, const char *dir, unsigned flags,
                       objstore_iter_fn *fn, void *data) {
  struct strip s = {fn, data, strlen(pb(os)->prefix)};
  char *d = full(os, dir);
  int rc = objstore_iter(os->inner, d, flags, strip_cb, &s);
  free(d);
  return rc;
}

static int prefix_get_range(struct objstore *os, const char *name,
                            uint64_t off, int64_t len, objstore_write_fn *fn,
                            void *data) {
  char *n = full(os, name);
  int rc = objstore_get_range(os->inner, n, off, len, OBJSTORE_OPTIONAL, fn,
                              data);
  free(n);
  return rc;
}

static int prefix_attributes(struct objstore *os, const char *name,
                             struct objstore_attrs *out) {
  char *n = full(os, name);
  int rc = objstore_attributes(os->inner, n, OBJSTORE_OPTIONAL, out);
  free(n);
  return rc;
}

static int prefix_upload(struct objstore *os, const char *name,
                         const struct objstore_src *src) {
  char *n = full(os, name);
  int rc = objstore_upload(os->inner, n, src);
  free(n);
  return rc;
}

static int prefix_delete(struct objstore *os, const char *name) {
  char *n = full(os, name);
  int rc = objstore_delete(os->inner, n);
  free(n);
  return rc;
}

static void prefix_close(struct objstore *os) { free(pb(os)->prefix); }

static const struct objstore_ops prefix_ops = {
    .name = "PREFIX",
    .caps = OBJSTORE_CAP_RANGE | OBJSTORE_CAP_MULTIPART,
    .instance_size = sizeof(struct prefix_bucket),
    .close = prefix_close,
    .iter = prefix_iter,
    .get_range = prefix_get_range,
    .attributes = prefix_attributes,
    .upload = prefix_upload,
    .del = prefix_delete,
};

struct objstore *objstore_prefix_new(struct objstore *inner,
                                     const char *prefix) {
  struct prefix_bucket *b = xcalloc(1, sizeof *b);
  size_t s = 0, n = strlen(prefix);
  while (s < n && prefix[s] == '/')
    s++;
  while (n > s && prefix[n - 1] == '/')
    n--;
  b->base.ops = &prefix_ops;
  b->base.inner = inner;
  b->base.bucket = xstrdup(inner->bucket);
  b->prefix = n > s ? xasprintf("%.*s/", (int)(n - s), prefix + s) : xstrdup("");
  return &b->base;
}
