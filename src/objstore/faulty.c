/*
 * faulty.c - a decorator that fails chosen operations, for fault sweeps
 * (SQLite's io_error_pending/persist at the os.c choke point): the nth
 * matching call fails with a given code, and with persist every matching
 * call after it. A failing get first delivers half of the object, as a
 * connection dropped mid-body would. Everything else passes through the
 * objstore_*() wrappers of the inner bucket.
 */
#include <pthread.h>
#include <stdlib.h>

#include "objstore/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

struct faulty_bucket {
  struct objstore base;
  pthread_mutex_t lock;
  unsigned ops;
  int n, persist, code, failed;
};

static const struct objstore_ops faulty_ops;

static struct faulty_bucket *fb(struct objstore *os) {
  return objstore__downcast(os, &faulty_ops);
}

/* 1 when this call must fail. */
static int trip(struct objstore *os, unsigned op) {
  struct faulty_bucket *f = fb(os);
  int fail = 0;
  pthread_mutex_lock(&f->lock);
  if (f->ops & op) {
    if (f->n > 0 && --f->n == 0)
      fail = 1;
    else if (f->n == 0 && f->persist)
      fail = 1;
    if (fail)
      f->failed++;
  }
  pthread_mutex_unlock(&f->lock);
  return fail;
}

static int fault(struct objstore *os, const char *op, const char *name) {
  int code = fb(os)->code;
  return tc_error(code, "%s '%s': injected fault (%s)", op, name,
                  tc_err_name(code));
}

static int faulty_iter(struct objstore *os, const char *dir, unsigned flags,
                       objstore_iter_fn *fn, void *data) {
  if (trip(os, OBJSTORE_OP_ITER))
    return fault(os, "iter", dir);
  return objstore_iter(os->inner, dir, flags, fn, data);
}

struct half {
  objstore_write_fn *fn;
  void *data;
  size_t left;
};

static int half_cb(void *data, const void *p, size_t n) {
  struct half *h = data;
  size_t k = n < h->left ? n : h->left;
  h->left -= k;
  return k ? h->fn(h->data, p, k) : 0;
}

static int faulty_get_range(struct objstore *os, const char *name,
                            uint64_t off, int64_t len, objstore_write_fn *fn,
                            void *data) {
  if (!trip(os, OBJSTORE_OP_GET))
    return objstore_get_range(os->inner, name, off, len, OBJSTORE_OPTIONAL, fn,
                              data);
  struct objstore_attrs a;
  if (objstore_attributes(os->inner, name, OBJSTORE_OPTIONAL, &a) == 0 &&
      (int64_t)off < a.size) {
    struct half h = {fn, data, (size_t)(a.size - (int64_t)off) / 2};
    int rc = objstore_get_range(os->inner, name, off, len, OBJSTORE_OPTIONAL,
                                half_cb, &h);
    if (rc < 0)
      return rc;
  }
  return fault(os, "get", name);
}

static int faulty_attributes(struct objstore *os, const char *name,
                             struct objstore_attrs *out) {
  if (trip(os, OBJSTORE_OP_ATTRIBUTES))
    return fault(os, "attributes", name);
  return objstore_attributes(os->inner, name, OBJSTORE_OPTIONAL, out);
}

static int faulty_upload(struct objstore *os, const char *name,
                         const struct objstore_src *src) {
  if (trip(os, OBJSTORE_OP_UPLOAD))
    return fault(os, "upload", name);
  return objstore_upload(os->inner, name, src);
}

static int faulty_delete(struct objstore *os, const char *name) {
  if (trip(os, OBJSTORE_OP_DELETE))
    return fault(os, "delete", name);
  return objstore_delete(os->inner, name);
}

static void faulty_close(struct objstore *os) {
  pthread_mutex_destroy(&fb(os)->lock);
}

static const struct objstore_ops faulty_ops = {
    .name = "FAULTY",
    .caps = OBJSTORE_CAP_RANGE,
    .instance_size = sizeof(struct faulty_bucket),
    .close = faulty_close,
    .iter = faulty_iter,
    .get_range = faulty_get_range,
    .attributes = faulty_attributes,
    .upload = faulty_upload,
    .del = faulty_delete,
};

struct objstore *objstore_faulty_new(struct objstore *inner) {
  struct faulty_bucket *f = xcalloc(1, sizeof *f);
  pthread_mutex_init(&f->lock, NULL);
  f->base.ops = &faulty_ops;
  f->base.inner = inner;
  f->base.bucket = xstrdup(inner->bucket);
  f->code = TC_EIO;
  return &f->base;
}

void objstore_faulty_set(struct objstore *faulty, unsigned ops, int n,
                         int persist, int code) {
  struct faulty_bucket *f = fb(faulty);
  pthread_mutex_lock(&f->lock);
  f->ops = ops;
  f->n = n;
  f->persist = persist;
  f->code = code ? code : TC_EIO;
  pthread_mutex_unlock(&f->lock);
}

int objstore_faulty_count(struct objstore *faulty) {
  struct faulty_bucket *f = fb(faulty);
  pthread_mutex_lock(&f->lock);
  int n = f->failed;
  pthread_mutex_unlock(&f->lock);
  return n;
}
