/*
 * objstore.h - object storage: one vtable, several backends, one set of
 * wrappers (STYLE.md lessons 3, 4 and 15).
 *
 * A bucket is opened from the YAML Thanos uses (--objstore.config):
 *
 *     type: S3            # or FILESYSTEM, or MEM for tests
 *     config: {...}       # the backend's keys
 *     prefix: some/dir    # optional: every name lives under it
 *
 * `${VAR}` (and Thanos's `$(VAR)`) in any value is replaced from the
 * environment; an unset variable is an error naming it. Unknown keys are
 * errors, as Thanos's strict YAML decoding makes them.
 *
 * The API is synchronous and thread-safe: callers run it on a worker
 * thread, and several threads may use one struct objstore at once. Callbacks
 * run on the calling thread, before the call returns.
 *
 * Names are object keys: "dir/sub/obj". Iteration is one level deep unless
 * OBJSTORE_RECURSIVE is given, yields names in byte order, and yields
 * "directories" (common prefixes) with a final "/", as Thanos does. A
 * missing object is TC_ENOTFOUND, never another code.
 *
 * Every operation goes through the objstore_*() wrappers below, the only
 * callers of the vtable: they check arguments, count the operation in the
 * thanos_objstore_bucket_* metrics (labels bucket and operation) and map
 * errors. A TC_ENOTFOUND on a call flagged OBJSTORE_OPTIONAL (a marker that
 * may or may not be there) is not counted as a failure.
 */
#ifndef THANOSC_OBJSTORE_H
#define THANOSC_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "thanosc/buf.h"

struct objstore;
struct objstore_cfg;

enum objstore_flags {
  OBJSTORE_OPTIONAL = 1 << 0,  /* not-found is expected, not a failure */
  OBJSTORE_RECURSIVE = 1 << 1, /* iter: every object under dir */
};

/* Capabilities of a backend (struct objstore_ops.caps). */
enum objstore_caps {
  OBJSTORE_CAP_RANGE = 1 << 0,     /* get_range without reading it all */
  OBJSTORE_CAP_MULTIPART = 1 << 1, /* large uploads in parts */
};

struct objstore_attrs {
  int64_t size;             /* bytes */
  int64_t last_modified_ms; /* unix time in milliseconds */
};

/*
 * Receives an object's bytes piece by piece, in order. A non-zero return
 * stops the transfer and becomes the operation's result. p is borrowed for
 * the call only.
 */
typedef int objstore_write_fn(void *data, const void *p, size_t n);

/*
 * Called for each name an iteration yields (borrowed for the call only).
 * A non-zero return stops the iteration and becomes its result.
 */
typedef int objstore_iter_fn(void *data, const char *name);

/*
 * An upload source of known size that can be read at any offset, so parts
 * and retries can re-read it. read_at fills p with exactly n bytes at off
 * (off + n <= size) and returns 0 or a negative code.
 */
struct objstore_src {
  int (*read_at)(void *data, void *p, size_t n, uint64_t off);
  void *data;
  uint64_t size;
};

/* A source over a buffer (borrowed, must outlive the upload). */
void objstore_src_buf(struct objstore_src *s, const void *p, size_t n);
/* A source over an open regular file (borrowed fd); size from fstat. */
int objstore_src_fd(struct objstore_src *s, int fd);

/* --- the vtable ------------------------------------------------------- */

/* Each operation's contract is the wrapper's below; name is validated and
 * dir is "" or ends in "/". Backends return TC_ENOTFOUND for a missing
 * object and set a message with tc_error(). */
typedef int objstore_open_fn(struct objstore *os, struct objstore_cfg *config);
typedef void objstore_close_fn(struct objstore *os);
typedef int objstore_iter_op(struct objstore *os, const char *dir,
                             unsigned flags, objstore_iter_fn *fn, void *data);
typedef int objstore_get_range_op(struct objstore *os, const char *name,
                                  uint64_t off, int64_t len,
                                  objstore_write_fn *fn, void *data);
typedef int objstore_attributes_op(struct objstore *os, const char *name,
                                   struct objstore_attrs *out /* OUT */);
typedef int objstore_upload_op(struct objstore *os, const char *name,
                               const struct objstore_src *src);
typedef int objstore_delete_op(struct objstore *os, const char *name);

struct objstore_ops {
  const char *name;     /* the YAML type: "S3", "FILESYSTEM", "MEM" */
  unsigned caps;        /* enum objstore_caps */
  size_t instance_size; /* sizeof the backend struct */
  objstore_open_fn *open;
  objstore_close_fn *close;
  objstore_iter_op *iter;
  objstore_get_range_op *get_range; /* len -1: to the end */
  objstore_attributes_op *attributes; /* also serves exists */
  objstore_upload_op *upload;
  objstore_delete_op *del;
};

/*
 * The base of every backend, its first member. bucket is the value of the
 * metrics' bucket label (Thanos's Bucket.Name()): owned, set by open.
 */
struct objstore {
  const struct objstore_ops *ops;
  char *bucket;
  struct objstore_metrics *metrics; /* owned; NULL before open succeeds */
  struct objstore *inner;           /* decorators: the wrapped bucket */
};

extern const struct objstore_ops objstore_mem_ops;
extern const struct objstore_ops objstore_fs_ops;
extern const struct objstore_ops objstore_s3_ops;

/* Checked downcast (git files_downcast): TC_BUG when os is not an ops. */
void *objstore__downcast(struct objstore *os, const struct objstore_ops *ops);

/* --- opening ---------------------------------------------------------- */

/*
 * Parses yaml (the whole --objstore.config content) and opens the bucket it
 * names. *out is owned by the caller: objstore_close() it.
 */
int objstore_open(const char *yaml, struct objstore **out /* OUT */);
/* Opens one backend directly with an already parsed config (may be NULL). */
int objstore_open_ops(const struct objstore_ops *ops, struct objstore_cfg *cfg,
                      struct objstore **out /* OUT */);
/* A fresh in-memory bucket (tests). */
struct objstore *objstore_mem_new(void);
/* Closes and frees os (NULL is fine). */
void objstore_close(struct objstore *os);

/* --- the operations --------------------------------------------------- */

/* Calls fn for every name under dir ("" = the top). Sorted; see above. */
int objstore_iter(struct objstore *os, const char *dir, unsigned flags,
                  objstore_iter_fn *fn, void *data);
/* Streams the whole object to fn. */
int objstore_get(struct objstore *os, const char *name, unsigned flags,
                 objstore_write_fn *fn, void *data);
/*
 * Streams len bytes from off (len -1: to the end). A range reaching past
 * the end yields what there is; an offset at or past the end yields nothing.
 */
int objstore_get_range(struct objstore *os, const char *name, uint64_t off,
                       int64_t len, unsigned flags, objstore_write_fn *fn,
                       void *data);
/* Whole object into out (appended; the tc_buf cap applies). */
int objstore_get_buf(struct objstore *os, const char *name, unsigned flags,
                     struct tc_buf *out);
/* A range into out (appended; the tc_buf cap applies). */
int objstore_get_range_buf(struct objstore *os, const char *name, uint64_t off,
                           int64_t len, unsigned flags, struct tc_buf *out);
/*
 * Downloads the whole object into path atomically (a temporary file next to
 * it, fsync, rename): path holds all of the object or is left untouched.
 */
int objstore_download(struct objstore *os, const char *name, unsigned flags,
                      const char *path);
/*
 * A pull reader over an object: reads come from ranged gets of `window`
 * bytes at a time, so a large object streams through a bounded buffer.
 * Not thread-safe (one reader, one thread); the bucket must outlive it.
 */
struct objstore_reader {
  struct objstore *os; /* borrowed */
  char *name;          /* owned */
  uint64_t pos;        /* next byte of the object to fetch */
  uint64_t end;        /* one past the last byte wanted (UINT64_MAX: EOF) */
  size_t window;
  unsigned flags;
  struct tc_buf buf;   /* fetched, not yet read: buf.data[off..len) */
  size_t off;
  int eof;
};

/* Opens a reader of len bytes from off (len -1: to the end). No I/O yet. */
void objstore_reader_open(struct objstore_reader *r, struct objstore *os,
                          const char *name, uint64_t off, int64_t len,
                          size_t window, unsigned flags);
/* Up to n bytes into p: the count, 0 at the end, or <0 (TC_ENOTFOUND...). */
ssize_t objstore_reader_read(struct objstore_reader *r, void *p, size_t n);
void objstore_reader_close(struct objstore_reader *r);

/* 1 when the object exists, 0 when not, <0 on error. */
int objstore_exists(struct objstore *os, const char *name);
int objstore_attributes(struct objstore *os, const char *name, unsigned flags,
                        struct objstore_attrs *out /* OUT */);
/* Writes the whole object; idempotent; readers see all of it or none. */
int objstore_upload(struct objstore *os, const char *name,
                    const struct objstore_src *src);
int objstore_upload_buf(struct objstore *os, const char *name, const void *p,
                        size_t n);
int objstore_upload_file(struct objstore *os, const char *name,
                         const char *path);
/* Deletes one object; deleting a missing object succeeds (as on S3). */
int objstore_delete(struct objstore *os, const char *name);

/* --- decorators ------------------------------------------------------- */

/*
 * Every name lives under prefix (no leading or trailing "/" needed). Takes
 * ownership of inner.
 */
struct objstore *objstore_prefix_new(struct objstore *inner,
                                     const char *prefix);

/* Operations a faulty bucket can fail (bit mask). */
enum objstore_op_bits {
  OBJSTORE_OP_ITER = 1 << 0,
  OBJSTORE_OP_GET = 1 << 1, /* get and get_range */
  OBJSTORE_OP_ATTRIBUTES = 1 << 2, /* attributes and exists */
  OBJSTORE_OP_UPLOAD = 1 << 3,
  OBJSTORE_OP_DELETE = 1 << 4,
  OBJSTORE_OP_ALL = 0x1f,
};

/*
 * A decorator for fault sweeps (SQLite's io_error_pending/persist): the
 * nth matching call from now fails with code (n = 1: the next one), and,
 * with persist, every matching call after it too. A failed get delivers
 * half of the data before failing. Takes ownership of inner.
 */
struct objstore *objstore_faulty_new(struct objstore *inner);
void objstore_faulty_set(struct objstore *faulty, unsigned ops, int n,
                         int persist, int code);
/* Number of calls the faulty bucket failed so far. */
int objstore_faulty_count(struct objstore *faulty);

/* --- config access for backends ---------------------------------------- */

/*
 * A parsed YAML subtree. Lookups take dotted paths ("http_config.tls_config
 * .ca_file") and mark what they read; objstore_open() rejects keys nobody
 * read. Values are already environment-expanded. Strings are borrowed
 * from the tree, valid during open.
 */
const char *objstore_cfg_str(struct objstore_cfg *c, const char *path,
                             const char *def);
int objstore_cfg_bool(struct objstore_cfg *c, const char *path, int def,
                      int *out /* OUT */);
int objstore_cfg_int(struct objstore_cfg *c, const char *path, int64_t def,
                     int64_t *out /* OUT */);
int objstore_cfg_duration(struct objstore_cfg *c, const char *path,
                          const char *def, int64_t *ms /* OUT */);
/* Calls fn for each key: value of the string map at path (absent: none). */
typedef int objstore_cfg_kv_fn(void *data, const char *key, const char *value);
int objstore_cfg_map(struct objstore_cfg *c, const char *path,
                     objstore_cfg_kv_fn *fn, void *data);
/* Marks a whole subtree read (keys accepted and ignored). */
void objstore_cfg_accept(struct objstore_cfg *c, const char *path);

/* --- the acceptance suite ------------------------------------------------ */

/*
 * Runs the same cases against any empty bucket (mem in unit tests,
 * FILESYSTEM and S3 from `thanosc tools bucket acceptance`): upload, get,
 * ranges, exists, attributes, iter (nested, prefix, paginated), delete,
 * a large (multipart) upload and concurrent uploads. big is the size of the
 * large object. Prints one line per case to log (may be NULL). 0 or the
 * first failure's code, with a message.
 */
int objstore_acceptance(struct objstore *os, size_t big, int nmany,
                        void (*log)(const char *line));

#endif
