/*
 * acceptance.c - one conformance suite for every backend (Thanos's
 * AcceptanceTest): the unit tests run it against MEM, and the hidden
 * `thanosc tools bucket acceptance` runs it against FILESYSTEM and against
 * S3 (s3rver) from the integration tests, so all backends answer the same
 * cases the same way. It lives in the library, not the tests, for that
 * reason.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objstore/internal.h"
#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

struct acc {
  struct objstore *os;
  void (*log)(const char *line);
  const char *cas; /* current case */
};

#define FAIL(...)                                                            \
  do {                                                                       \
    rc = tc_error(TC_EEXEC, __VA_ARGS__);                                     \
    goto out;                                                                \
  } while (0)
/* Runs an objstore call that must succeed. */
#define OK(call)                                                             \
  do {                                                                       \
    if ((rc = (call)) < 0) {                                                 \
      rc = tc_error_wrap(rc, "%s: line %d", a->cas, __LINE__);               \
      goto out;                                                              \
    }                                                                        \
  } while (0)

static void pass(struct acc *a) {
  if (a->log) {
    char line[256];
    snprintf(line, sizeof line, "ok - %s", a->cas);
    a->log(line);
  }
}

static int collect(void *data, const char *name) {
  struct tc_buf *b = data;
  tc_buf_adds(b, name);
  tc_buf_addc(b, '\n');
  return 0;
}

/* The names iter yields, one per line. */
static int list(struct objstore *os, const char *dir, unsigned flags,
                struct tc_buf *out) {
  tc_buf_reset(out);
  tc_buf_adds(out, "");
  return objstore_iter(os, dir, flags, collect, out);
}

static int add_cb(void *data, const void *p, size_t n) {
  return tc_buf_add(data, p, n);
}

static int get_range_str(struct objstore *os, const char *name, uint64_t off,
                         int64_t len, struct tc_buf *out) {
  tc_buf_reset(out);
  tc_buf_adds(out, "");
  return objstore_get_range(os, name, off, len, 0, add_cb, out);
}

/* Deterministic bytes for the large object. */
static uint8_t pattern(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ULL;
  return (uint8_t)(x >> 56 ^ x >> 17);
}

struct verify {
  uint64_t off;
  int bad;
};

static int verify_cb(void *data, const void *p, size_t n) {
  struct verify *v = data;
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pattern(v->off + i))
      v->bad = 1;
  v->off += n;
  return 0;
}

struct many {
  struct objstore *os;
  int from, to, step;
  int rc;
  char msg[256];
};

static void *many_upload(void *arg) {
  struct many *m = arg;
  for (int i = m->from; i < m->to && !m->rc; i += m->step) {
    char name[64], body[32];
    snprintf(name, sizeof name, "many/k%05d", i);
    snprintf(body, sizeof body, "v%d", i);
    m->rc = objstore_upload_buf(m->os, name, body, strlen(body));
    if (m->rc < 0)
      snprintf(m->msg, sizeof m->msg, "%s", tc_errmsg(m->rc));
  }
  return NULL;
}

static void *many_delete(void *arg) {
  struct many *m = arg;
  for (int i = m->from; i < m->to && !m->rc; i += m->step) {
    char name[64];
    snprintf(name, sizeof name, "many/k%05d", i);
    m->rc = objstore_delete(m->os, name);
    if (m->rc < 0)
      snprintf(m->msg, sizeof m->msg, "%s", tc_errmsg(m->rc));
  }
  return NULL;
}

#define NTHREADS 8

static int run_many(struct objstore *os, int n, void *(*fn)(void *)) {
  pthread_t t[NTHREADS];
  struct many m[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    m[i] = (struct many){os, i, n, NTHREADS, 0, ""};
    pthread_create(&t[i], NULL, fn, &m[i]);
  }
  int rc = 0;
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(t[i], NULL);
    if (m[i].rc < 0 && !rc)
      rc = tc_error(m[i].rc, "%s", m[i].msg);
  }
  return rc;
}

static int count_lines(const struct tc_buf *b) {
  int n = 0;
  for (size_t i = 0; i < b->len; i++)
    n += b->data[i] == '\n';
  return n;
}

/* Deletes every name of a list() result. */
static int delete_listed(struct objstore *os, struct tc_buf *b) {
  char *save = NULL;
  for (char *n = strtok_r(b->data, "\n", &save); n;
       n = strtok_r(NULL, "\n", &save)) {
    int rc = objstore_delete(os, n);
    if (rc < 0)
      return rc;
  }
  return 0;
}

int objstore_acceptance(struct objstore *os, size_t big, int nmany,
                        void (*log)(const char *line)) {
  struct acc acc = {os, log, ""}, *a = &acc;
  struct tc_buf b = TC_BUF_INIT;
  struct objstore_attrs at;
  uint8_t *bigbuf = NULL;
  int rc = 0;
  static const char data[] = "@test-data@";
  time_t now = time(NULL);

  a->cas = "empty bucket";
  OK(list(os, "", OBJSTORE_RECURSIVE, &b));
  if (b.len)
    FAIL("bucket not empty: %.200s", b.data);
  OK(objstore_exists(os, "id1/obj_1.some"));
  if (rc != 0)
    FAIL("exists on an empty bucket: %d", rc);
  if ((rc = objstore_get_buf(os, "id1/obj_1.some", OBJSTORE_OPTIONAL, &b)) !=
      TC_ENOTFOUND)
    FAIL("get of a missing object: %s, want ENOTFOUND", tc_err_name(rc));
  if ((rc = objstore_attributes(os, "id1/obj_1.some", OBJSTORE_OPTIONAL,
                                &at)) != TC_ENOTFOUND)
    FAIL("attributes of a missing object: %s", tc_err_name(rc));
  if ((rc = get_range_str(os, "missing", 1, 2, &b)) != TC_ENOTFOUND)
    FAIL("get_range of a missing object: %s", tc_err_name(rc));
  tc_error_clear();
  pass(a);

  a->cas = "upload and get";
  OK(objstore_upload_buf(os, "id1/obj_1.some", data, strlen(data)));
  OK(get_range_str(os, "id1/obj_1.some", 0, -1, &b));
  if (strcmp(b.data, data))
    FAIL("get: '%s'", b.data);
  OK(objstore_exists(os, "id1/obj_1.some"));
  if (rc != 1)
    FAIL("exists after upload: %d", rc);
  OK(objstore_attributes(os, "id1/obj_1.some", 0, &at));
  if (at.size != 11)
    FAIL("attributes size %lld", (long long)at.size);
  if (at.last_modified_ms / 1000 < now - 86400 ||
      at.last_modified_ms / 1000 > now + 86400)
    FAIL("attributes last modified %lld", (long long)at.last_modified_ms);
  pass(a);

  a->cas = "get_range";
  static const struct {
    uint64_t off;
    int64_t len;
    const char *want;
  } ranges[] = {
      {0, -1, "@test-data@"}, {0, 1, "@"}, {10, 1, "@"}, {10, -1, "@"},
      {3, 9999, "st-data@"}, {3, 4, "st-d"}, {11, -1, ""}, {11, 5, ""},
      {20, 3, ""}, {0, 0, ""},
  };
  for (size_t i = 0; i < TC_ARRAY_SIZE(ranges); i++) {
    OK(get_range_str(os, "id1/obj_1.some", ranges[i].off, ranges[i].len, &b));
    if (strcmp(b.data, ranges[i].want))
      FAIL("get_range(%llu, %lld): '%s', want '%s'",
           (unsigned long long)ranges[i].off, (long long)ranges[i].len, b.data,
           ranges[i].want);
  }
  pass(a);

  a->cas = "iter nested and by prefix";
  OK(objstore_upload_buf(os, "id1/obj_2.some", "2", 1));
  OK(objstore_upload_buf(os, "id1/obj_3.some", "3", 1));
  OK(objstore_upload_buf(os, "id1/sub/obj_6.some", "6", 1));
  OK(objstore_upload_buf(os, "id2/obj_4.some", "4", 1));
  OK(objstore_upload_buf(os, "obj_5.some", "5", 1));
  OK(list(os, "", 0, &b));
  if (strcmp(b.data, "id1/\nid2/\nobj_5.some\n"))
    FAIL("iter '': '%s'", b.data);
  static const char id1[] =
      "id1/obj_1.some\nid1/obj_2.some\nid1/obj_3.some\nid1/sub/\n";
  OK(list(os, "id1", 0, &b));
  if (strcmp(b.data, id1))
    FAIL("iter 'id1': '%s'", b.data);
  OK(list(os, "id1/", 0, &b));
  if (strcmp(b.data, id1))
    FAIL("iter 'id1/': '%s'", b.data);
  OK(list(os, "", OBJSTORE_RECURSIVE, &b));
  if (strcmp(b.data, "id1/obj_1.some\nid1/obj_2.some\nid1/obj_3.some\n"
                     "id1/sub/obj_6.some\nid2/obj_4.some\nobj_5.some\n"))
    FAIL("iter '' recursive: '%s'", b.data);
  OK(list(os, "id1/", OBJSTORE_RECURSIVE, &b));
  if (strcmp(b.data, "id1/obj_1.some\nid1/obj_2.some\nid1/obj_3.some\n"
                     "id1/sub/obj_6.some\n"))
    FAIL("iter 'id1/' recursive: '%s'", b.data);
  OK(list(os, "nonexistent/", 0, &b));
  if (b.len)
    FAIL("iter 'nonexistent/': '%s'", b.data);
  pass(a);

  a->cas = "upload is idempotent and overwrites";
  OK(objstore_upload_buf(os, "obj_5.some", "five", 4));
  OK(objstore_upload_buf(os, "obj_5.some", "five", 4));
  OK(get_range_str(os, "obj_5.some", 0, -1, &b));
  if (strcmp(b.data, "five"))
    FAIL("get after overwrite: '%s'", b.data);
  pass(a);

  a->cas = "empty object";
  OK(objstore_upload_buf(os, "empty", "", 0));
  OK(get_range_str(os, "empty", 0, -1, &b));
  OK(objstore_attributes(os, "empty", 0, &at));
  if (b.len || at.size != 0)
    FAIL("empty object: %zu bytes, size %lld", b.len, (long long)at.size);
  OK(objstore_delete(os, "empty"));
  pass(a);

  a->cas = "names with spaces and unicode";
  static const char odd[] = "odd dir/obj \xc3\xa9+%&=?.txt";
  OK(objstore_upload_buf(os, odd, "odd", 3));
  OK(get_range_str(os, odd, 0, -1, &b));
  if (strcmp(b.data, "odd"))
    FAIL("get '%s': '%s'", odd, b.data);
  OK(list(os, "odd dir", 0, &b));
  if (strncmp(b.data, odd, strlen(odd)))
    FAIL("iter 'odd dir': '%s'", b.data);
  OK(objstore_delete(os, odd));
  pass(a);

  a->cas = "delete";
  OK(objstore_delete(os, "id1/obj_2.some"));
  OK(objstore_exists(os, "id1/obj_2.some"));
  if (rc != 0)
    FAIL("exists after delete: %d", rc);
  OK(objstore_delete(os, "id1/obj_2.some"));
  OK(list(os, "id1/", 0, &b));
  if (strcmp(b.data, "id1/obj_1.some\nid1/obj_3.some\nid1/sub/\n"))
    FAIL("iter after delete: '%s'", b.data);
  OK(objstore_delete(os, "id1/sub/obj_6.some"));
  OK(list(os, "id1/", 0, &b));
  if (strcmp(b.data, "id1/obj_1.some\nid1/obj_3.some\n"))
    FAIL("iter after deleting the last of a dir: '%s'", b.data);
  pass(a);

  if (nmany > 0) {
    a->cas = "concurrent uploads and a paginated listing";
    OK(run_many(os, nmany, many_upload));
    OK(list(os, "many/", 0, &b));
    if (count_lines(&b) != nmany)
      FAIL("iter 'many/': %d names, want %d", count_lines(&b), nmany);
    for (size_t i = 0, line = 0; i < b.len; line++) {
      char want[64];
      snprintf(want, sizeof want, "many/k%05zu\n", line);
      if (strncmp(b.data + i, want, strlen(want)))
        FAIL("iter 'many/': line %zu is not %s", line, want);
      i += strlen(want);
    }
    OK(get_range_str(os, "many/k00007", 0, -1, &b));
    if (strcmp(b.data, "v7"))
      FAIL("get many/k00007: '%s'", b.data);
    OK(run_many(os, nmany, many_delete));
    OK(list(os, "many/", OBJSTORE_RECURSIVE, &b));
    if (b.len)
      FAIL("many/ not empty after deletes");
    pass(a);
  }

  if (big > 0) {
    a->cas = "large upload";
    bigbuf = xmalloc(big);
    for (size_t i = 0; i < big; i++)
      bigbuf[i] = pattern(i);
    OK(objstore_upload_buf(os, "big/object", bigbuf, big));
    OK(objstore_attributes(os, "big/object", 0, &at));
    if ((size_t)at.size != big)
      FAIL("large object size %lld, want %zu", (long long)at.size, big);
    struct verify v = {0, 0};
    OK(objstore_get(os, "big/object", 0, verify_cb, &v));
    if (v.bad || v.off != big)
      FAIL("large object read back wrong (%llu bytes, bad=%d)",
           (unsigned long long)v.off, v.bad);
    v = (struct verify){big / 3, 0};
    OK(objstore_get_range(os, "big/object", big / 3, (int64_t)(big / 3), 0,
                          verify_cb, &v));
    if (v.bad || v.off != big / 3 * 2)
      FAIL("large object range read back wrong");
    OK(objstore_delete(os, "big/object"));
    pass(a);
  }

  a->cas = "delete everything";
  OK(list(os, "", OBJSTORE_RECURSIVE, &b));
  if (b.len)
    OK(delete_listed(os, &b));
  OK(list(os, "", OBJSTORE_RECURSIVE, &b));
  if (b.len)
    FAIL("bucket not empty at the end: '%.200s'", b.data);
  pass(a);
  rc = 0;
out:
  if (rc < 0)
    rc = tc_error_wrap(rc, "acceptance '%s'", a->cas);
  free(bigbuf);
  tc_buf_release(&b);
  return rc;
}
