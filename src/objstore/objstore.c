/*
 * objstore.c - the choke point of object storage (SQLite's os.c): the
 * registry of backends searched by the YAML `type:`, opening, and the
 * objstore_*() wrappers that alone call the vtable. The wrappers validate
 * names, count every operation in the thanos_objstore_bucket_* metrics and
 * keep a not-found on an optional object out of the failure count. The
 * backends live in mem.c, fs.c and s3.c; decorators in prefix.c and
 * faulty.c; the YAML tree in config.c.
 */
#include "thanosc/objstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "objstore/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/metrics.h"

static const struct objstore_ops *const objstore_backends[] = {
    &objstore_s3_ops,
    &objstore_fs_ops,
    &objstore_mem_ops,
    NULL,
};

/* Operation names as Thanos labels them. */
enum op { OP_GET, OP_GET_RANGE, OP_ITER, OP_EXISTS, OP_ATTRIBUTES, OP_UPLOAD,
          OP_DELETE, OP__N };
static const char *const op_names[OP__N] = {
    "get", "get_range", "iter", "exists", "attributes", "upload", "delete",
};

struct objstore_metrics {
  struct metric_child *ops[OP__N];
  struct metric_child *failures[OP__N];
  struct metric_child *duration[OP__N];
  struct metric_child *last_upload;
};

static const double duration_buckets[] = {0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9,
                                          20, 30, 60, 90, 120};

static struct objstore_metrics *metrics_new(const char *bucket) {
  struct metric *ops = metric_counter(
      "thanos_objstore_bucket_operations_total",
      "Total number of all attempted operations against a bucket.",
      "bucket,operation");
  struct metric *fail = metric_counter(
      "thanos_objstore_bucket_operation_failures_total",
      "Total number of operations against a bucket that failed, but were not "
      "expected to fail in certain way from caller perspective. Those errors "
      "have to be investigated.",
      "bucket,operation");
  struct metric *dur = metric_histogram(
      "thanos_objstore_bucket_operation_duration_seconds",
      "Duration of successful operations against the bucket",
      "bucket,operation", duration_buckets, TC_ARRAY_SIZE(duration_buckets));
  struct metric *last = metric_gauge(
      "thanos_objstore_bucket_last_successful_upload_time",
      "Second timestamp of the last successful upload to the bucket.",
      "bucket");
  struct objstore_metrics *m = xcalloc(1, sizeof *m);
  for (int i = 0; i < OP__N; i++) {
    m->ops[i] = metric_with(ops, bucket, op_names[i]);
    m->failures[i] = metric_with(fail, bucket, op_names[i]);
    m->duration[i] = metric_with(dur, bucket, op_names[i]);
  }
  m->last_upload = metric_with(last, bucket);
  return m;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double op_start(struct objstore *os, enum op op) {
  if (os->metrics)
    metric_inc(os->metrics->ops[op]);
  return now_s();
}

static int op_end(struct objstore *os, enum op op, double start, int rc,
                  unsigned flags) {
  struct objstore_metrics *m = os->metrics;
  if (!m)
    return rc;
  if (rc == 0)
    metric_observe(m->duration[op], now_s() - start);
  else if (!(rc == TC_ENOTFOUND && (flags & OBJSTORE_OPTIONAL)))
    metric_inc(m->failures[op]);
  if (rc == 0 && op == OP_UPLOAD)
    metric_set_now(m->last_upload);
  return rc;
}

void *objstore__downcast(struct objstore *os, const struct objstore_ops *ops) {
  if (!os || os->ops != ops)
    TC_BUG("objstore: %s used as %s", os ? os->ops->name : "NULL", ops->name);
  return os;
}

/* --- names --------------------------------------------------------------- */

#define NAME_MAX_LEN 1024

static int check_name(const char *op, const char *name) {
  if (!name || !*name)
    return tc_error(TC_EINVAL, "%s: empty object name", op);
  if (strlen(name) > NAME_MAX_LEN)
    return tc_error(TC_EINVAL, "%s '%.64s...': object name too long", op,
                    name);
  if (name[0] == '/')
    return tc_error(TC_EINVAL, "%s '%s': object name starts with '/'", op,
                    name);
  return 0;
}

/* dir as the backends want it: "" or ending in "/". Caller frees. */
static char *norm_dir(const char *dir) {
  size_t n = dir ? strlen(dir) : 0;
  while (n && dir[n - 1] == '/')
    n--;
  if (!n)
    return xstrdup("");
  return xasprintf("%.*s/", (int)n, dir);
}

/* --- opening ------------------------------------------------------------- */

int objstore_open_ops(const struct objstore_ops *ops, struct objstore_cfg *cfg,
                      struct objstore **out) {
  struct objstore *os = xcalloc(1, ops->instance_size);
  os->ops = ops;
  int rc = ops->open(os, cfg);
  int cerr = objstore__cfg_err(cfg);
  if (cerr < 0)
    rc = cerr;
  if (rc < 0) {
    /* close() copes with a half-opened backend. */
    if (ops->close)
      ops->close(os);
    free(os->bucket);
    free(os);
    *out = NULL;
    return rc;
  }
  if (!os->bucket)
    os->bucket = xstrdup(ops->name);
  *out = os;
  return 0;
}

/* Gives os its metrics; only the outermost bucket counts. */
static void attach_metrics(struct objstore *os) {
  if (!os->metrics)
    os->metrics = metrics_new(os->bucket);
}

int objstore_open(const char *yaml, struct objstore **out) {
  struct objstore_cfg *cfg = NULL;
  struct objstore *os = NULL;
  const struct objstore_ops *ops = NULL;
  char *type = NULL, *prefix = NULL;
  int rc;

  *out = NULL;
  if ((rc = objstore__cfg_parse(yaml, &cfg)) < 0)
    return rc;
  const char *t = objstore_cfg_str(cfg, "type", NULL);
  const char *p = objstore_cfg_str(cfg, "prefix", "");
  if ((rc = objstore__cfg_err(cfg)) < 0)
    goto out;
  if (!t) {
    rc = tc_error(TC_EINVAL, "objstore config: no 'type' given");
    goto out;
  }
  type = xstrdup(t);
  prefix = xstrdup(p ? p : "");
  for (int i = 0; objstore_backends[i]; i++)
    if (!strcasecmp(objstore_backends[i]->name, type))
      ops = objstore_backends[i];
  if (!ops) {
    rc = tc_error(TC_EINVAL, "objstore config: unsupported type '%s'", type);
    goto out;
  }
  objstore__cfg_enter(cfg, "config");
  if ((rc = objstore_open_ops(ops, cfg, &os)) < 0)
    goto out;
  if ((rc = objstore__cfg_check_unused(cfg)) < 0)
    goto out;
  if (*prefix)
    os = objstore_prefix_new(os, prefix);
  attach_metrics(os);
  *out = os;
  os = NULL;
out:
  objstore_close(os);
  objstore__cfg_free(cfg);
  free(type);
  free(prefix);
  return rc;
}

struct objstore *objstore_mem_new(void) {
  struct objstore *os;
  if (objstore_open_ops(&objstore_mem_ops, NULL, &os) < 0)
    TC_BUG("mem bucket: %s", tc_errmsg(TC_EINVAL));
  attach_metrics(os);
  return os;
}

void objstore_close(struct objstore *os) {
  if (!os)
    return;
  if (os->ops->close)
    os->ops->close(os);
  objstore_close(os->inner);
  free(os->metrics);
  free(os->bucket);
  free(os);
}

/* --- the wrappers ---------------------------------------------------------- */

/* A backend without the slot: objstore's ErrOptionNotSupported. */
static int no_slot(struct objstore *os, const char *op) {
  return tc_error(TC_ENOTSUP, "%s: not supported by the %s bucket", op,
                  os->ops->name);
}

int objstore_iter(struct objstore *os, const char *dir, unsigned flags,
                  objstore_iter_fn *fn, void *data) {
  double t = op_start(os, OP_ITER);
  char *d = norm_dir(dir);
  int rc = os->ops->iter ? os->ops->iter(os, d, flags, fn, data)
                         : no_slot(os, "iter");
  if (rc < 0)
    rc = tc_error_wrap(rc, "iter '%s'", d);
  free(d);
  return op_end(os, OP_ITER, t, rc, flags);
}

int objstore_get_range(struct objstore *os, const char *name, uint64_t off,
                       int64_t len, unsigned flags, objstore_write_fn *fn,
                       void *data) {
  enum op op = (off == 0 && len < 0) ? OP_GET : OP_GET_RANGE;
  double t = op_start(os, op);
  int rc = check_name(op_names[op], name);
  if (!rc && len < -1)
    rc = tc_error(TC_EINVAL, "get_range '%s': length %lld", name,
                  (long long)len);
  if (!rc && (!os->ops->get_range || !os->ops->attributes)) {
    rc = no_slot(os, op_names[op]);
  } else if (!rc && len == 0) {
    struct objstore_attrs a;
    rc = os->ops->attributes(os, name, &a);
  } else if (!rc) {
    rc = os->ops->get_range(os, name, off, len, fn, data);
  }
  return op_end(os, op, t, rc, flags);
}

int objstore_get(struct objstore *os, const char *name, unsigned flags,
                 objstore_write_fn *fn, void *data) {
  return objstore_get_range(os, name, 0, -1, flags, fn, data);
}

static int buf_write(void *data, const void *p, size_t n) {
  return tc_buf_add(data, p, n);
}

int objstore_get_buf(struct objstore *os, const char *name, unsigned flags,
                     struct tc_buf *out) {
  int rc = objstore_get(os, name, flags, buf_write, out);
  if (rc == TC_ELIMIT)
    rc = tc_error(TC_ELIMIT, "get '%s': larger than %zu bytes", name,
                  out->max);
  return rc;
}

int objstore_get_range_buf(struct objstore *os, const char *name, uint64_t off,
                           int64_t len, unsigned flags, struct tc_buf *out) {
  int rc = objstore_get_range(os, name, off, len, flags, buf_write, out);
  if (rc == TC_ELIMIT)
    rc = tc_error(TC_ELIMIT, "get_range '%s': larger than %zu bytes", name,
                  out->max);
  return rc;
}

void objstore_reader_open(struct objstore_reader *r, struct objstore *os,
                          const char *name, uint64_t off, int64_t len,
                          size_t window, unsigned flags) {
  memset(r, 0, sizeof *r);
  r->os = os;
  r->name = xstrdup(name);
  r->pos = off;
  r->end = len < 0 ? UINT64_MAX : off + (uint64_t)len;
  r->window = window ? window : 8 << 20;
  r->flags = flags;
  tc_buf_init(&r->buf, r->window);
}

ssize_t objstore_reader_read(struct objstore_reader *r, void *p, size_t n) {
  if (r->off == r->buf.len && !r->eof) {
    uint64_t want = TC_MIN((uint64_t)r->window, r->end - r->pos);
    tc_buf_reset(&r->buf);
    r->off = 0;
    if (want) {
      int rc = objstore_get_range_buf(r->os, r->name, r->pos, (int64_t)want,
                                      r->flags, &r->buf);
      if (rc < 0)
        return rc;
    }
    r->pos += r->buf.len;
    /* A short window means the object ended. */
    if (r->buf.len < want || r->pos >= r->end)
      r->eof = 1;
  }
  size_t k = TC_MIN(n, r->buf.len - r->off);
  if (k)
    memcpy(p, r->buf.data + r->off, k);
  r->off += k;
  return (ssize_t)k;
}

void objstore_reader_close(struct objstore_reader *r) {
  free(r->name);
  tc_buf_release(&r->buf);
  memset(r, 0, sizeof *r);
}

struct file_sink {
  int fd;
};

static int file_write(void *data, const void *p, size_t n) {
  struct file_sink *f = data;
  while (n) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return tc_error(-errno, "write: %s", strerror(errno));
    p = (const char *)p + w;
    n -= (size_t)w;
  }
  return 0;
}

int objstore_download(struct objstore *os, const char *name, unsigned flags,
                      const char *path) {
  char *tmp = xasprintf("%s.tmp-XXXXXX", path);
  struct file_sink f = {mkostemp(tmp, O_CLOEXEC)};
  int rc;
  if (f.fd < 0) {
    rc = tc_error(-errno, "download '%s' to '%s': %s", name, path,
                  strerror(errno));
    free(tmp);
    return rc;
  }
  rc = objstore_get(os, name, flags, file_write, &f);
  if (rc == 0 && fsync(f.fd) < 0)
    rc = tc_error(-errno, "download '%s': fsync: %s", name, strerror(errno));
  if (close(f.fd) < 0 && rc == 0)
    rc = tc_error(-errno, "download '%s': close: %s", name, strerror(errno));
  if (rc == 0 && rename(tmp, path) < 0)
    rc = tc_error(-errno, "download '%s': rename: %s", name, strerror(errno));
  if (rc < 0)
    unlink(tmp);
  free(tmp);
  return rc;
}

int objstore_exists(struct objstore *os, const char *name) {
  double t = op_start(os, OP_EXISTS);
  struct objstore_attrs a;
  int rc = check_name("exists", name);
  if (!rc)
    rc = os->ops->attributes ? os->ops->attributes(os, name, &a)
                             : no_slot(os, "exists");
  if (rc == TC_ENOTFOUND) {
    tc_error_clear();
    return op_end(os, OP_EXISTS, t, 0, 0);
  }
  rc = op_end(os, OP_EXISTS, t, rc, 0);
  return rc < 0 ? rc : 1;
}

int objstore_attributes(struct objstore *os, const char *name, unsigned flags,
                        struct objstore_attrs *out) {
  double t = op_start(os, OP_ATTRIBUTES);
  int rc = check_name("attributes", name);
  if (!rc)
    rc = os->ops->attributes ? os->ops->attributes(os, name, out)
                             : no_slot(os, "attributes");
  return op_end(os, OP_ATTRIBUTES, t, rc, flags);
}

int objstore_upload(struct objstore *os, const char *name,
                    const struct objstore_src *src) {
  double t = op_start(os, OP_UPLOAD);
  int rc = check_name("upload", name);
  if (!rc && name[strlen(name) - 1] == '/')
    rc = tc_error(TC_EINVAL, "upload '%s': object name ends with '/'", name);
  if (!rc)
    rc = os->ops->upload ? os->ops->upload(os, name, src)
                         : no_slot(os, "upload");
  return op_end(os, OP_UPLOAD, t, rc, 0);
}

int objstore_delete(struct objstore *os, const char *name) {
  double t = op_start(os, OP_DELETE);
  int rc = check_name("delete", name);
  if (!rc)
    rc = os->ops->del ? os->ops->del(os, name) : no_slot(os, "delete");
  return op_end(os, OP_DELETE, t, rc, 0);
}

/* --- upload sources -------------------------------------------------------- */

static int buf_read_at(void *data, void *p, size_t n, uint64_t off) {
  memcpy(p, (const char *)data + off, n);
  return 0;
}

void objstore_src_buf(struct objstore_src *s, const void *p, size_t n) {
  s->read_at = buf_read_at;
  s->data = (void *)p;
  s->size = n;
}

static int fd_read_at(void *data, void *p, size_t n, uint64_t off) {
  int fd = (int)(intptr_t)data;
  while (n) {
    ssize_t r = pread(fd, p, n, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return tc_error(-errno, "read: %s", strerror(errno));
    if (r == 0)
      return tc_error(TC_EIO, "read: file shrank during upload");
    p = (char *)p + r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

int objstore_src_fd(struct objstore_src *s, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return tc_error(-errno, "stat: %s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    return tc_error(TC_EINVAL, "upload source is not a regular file");
  s->read_at = fd_read_at;
  s->data = (void *)(intptr_t)fd;
  s->size = (uint64_t)st.st_size;
  return 0;
}

int objstore_upload_buf(struct objstore *os, const char *name, const void *p,
                        size_t n) {
  struct objstore_src s;
  objstore_src_buf(&s, p, n);
  return objstore_upload(os, name, &s);
}

int objstore_upload_file(struct objstore *os, const char *name,
                         const char *path) {
  struct objstore_src s;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tc_error(-errno, "upload '%s': open '%s': %s", name, path,
                    strerror(errno));
  int rc = objstore_src_fd(&s, fd);
  if (rc < 0)
    rc = tc_error_wrap(rc, "upload '%s' from '%s'", name, path);
  else
    rc = objstore_upload(os, name, &s);
  close(fd);
  return rc;
}
