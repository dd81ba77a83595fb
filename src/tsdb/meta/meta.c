/*
 * meta.c - meta.json and the Thanos marker files: parsed with jansson,
 * written through a small Go-compatible JSON printer (tab indentation,
 * Go's string escaping, Go struct field order and omitempty rules) so
 * files we write are byte-identical to what Prometheus and Thanos write.
 * Used by the block writer/reader, the shipper, the compactor and the
 * bucket tools.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/fmtfloat.h"
#include "thanosc/tsdb/meta.h"

/* ---- ULID ---- */

static const char ulid_alpha[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void tsdb_ulid_new(char out[TSDB_ULID_LEN + 1], int64_t ms) {
  uint8_t rnd[10] = {0};
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
    uint64_t x = (uint64_t)ms * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    memcpy(rnd, &x, 8);
  }
  uint64_t t = (uint64_t)ms;
  for (int i = 9; i >= 0; i--) {
    out[i] = ulid_alpha[t & 31];
    t >>= 5;
  }
  /* 80 random bits as 16 base32 digits. */
  for (int i = 0; i < 16; i++) {
    int bit = i * 5, v = 0;
    for (int k = 0; k < 5; k++, bit++)
      v = (v << 1) | ((rnd[bit / 8] >> (7 - bit % 8)) & 1);
    out[10 + i] = ulid_alpha[v];
  }
  out[TSDB_ULID_LEN] = '\0';
}

bool tsdb_ulid_parse(const char *s, int64_t *ms) {
  if (strlen(s) != TSDB_ULID_LEN)
    return false;
  uint64_t t = 0;
  for (int i = 0; i < TSDB_ULID_LEN; i++) {
    const char *p = strchr(ulid_alpha, s[i]);
    if (!p || !s[i])
      return false;
    if (i == 0 && p - ulid_alpha > 7)
      return false; /* overflows 128 bits */
    if (i < 10)
      t = t * 32 + (uint64_t)(p - ulid_alpha);
  }
  if (ms)
    *ms = (int64_t)t;
  return true;
}

/* ---- Go-compatible JSON printer ---- */

static void go_json_string(struct tc_buf *b, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  tc_buf_addc(b, '"');
  for (; *p; p++) {
    unsigned char c = *p;
    switch (c) {
    case '"': tc_buf_adds(b, "\\\""); continue;
    case '\\': tc_buf_adds(b, "\\\\"); continue;
    case '\n': tc_buf_adds(b, "\\n"); continue;
    case '\r': tc_buf_adds(b, "\\r"); continue;
    case '\t': tc_buf_adds(b, "\\t"); continue;
    case '<': case '>': case '&':
      tc_buf_addf(b, "\\u00%02x", c);
      continue;
    }
    if (c < 0x20) {
      tc_buf_addf(b, "\\u00%02x", c);
    } else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
      tc_buf_addf(b, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
      p += 2;
    } else {
      tc_buf_addc(b, (char)c);
    }
  }
  tc_buf_addc(b, '"');
}

static void go_indent(struct tc_buf *b, int indent, int depth) {
  if (indent < 0)
    return;
  tc_buf_addc(b, '\n');
  for (int i = 0; i < depth; i++)
    tc_buf_addc(b, '\t');
}

/* Prints v like Go's encoder: indent < 0 compact, else tab-indented. */
/* A float as encoding/json writes it: the shortest form, 'f' from 1e-6
 * up to 1e21, else 'e' with "e-07" shortened to "e-7". */
static void go_json_float(struct tc_buf *b, double f) {
  double a = fabs(f);
  char s[FMTFLOAT_MAX];
  char fmt = a != 0 && (a < 1e-6 || a >= 1e21) ? 'e' : 'f';
  size_t n = fmtfloat_write(s, f, fmt);
  if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
    s[n - 2] = s[n - 1];
    n--;
  }
  tc_buf_add(b, s, n);
}

static void go_json(struct tc_buf *b, json_t *v, int indent, int depth) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    if (json_object_size(v) == 0) {
      tc_buf_adds(b, "{}");
      return;
    }
    tc_buf_addc(b, '{');
    const char *k;
    json_t *x;
    int first = 1;
    json_object_foreach(v, k, x) {
      if (!first)
        tc_buf_addc(b, ',');
      first = 0;
      go_indent(b, indent, depth + 1);
      go_json_string(b, k);
      tc_buf_adds(b, indent < 0 ? ":" : ": ");
      go_json(b, x, indent, depth + 1);
    }
    go_indent(b, indent, depth);
    tc_buf_addc(b, '}');
    return;
  }
  case JSON_ARRAY: {
    if (json_array_size(v) == 0) {
      tc_buf_adds(b, "[]");
      return;
    }
    tc_buf_addc(b, '[');
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      if (i)
        tc_buf_addc(b, ',');
      go_indent(b, indent, depth + 1);
      go_json(b, x, indent, depth + 1);
    }
    go_indent(b, indent, depth);
    tc_buf_addc(b, ']');
    return;
  }
  case JSON_STRING:
    go_json_string(b, json_string_value(v));
    return;
  case JSON_INTEGER:
    tc_buf_addf(b, "%lld", (long long)json_integer_value(v));
    return;
  case JSON_REAL:
    go_json_float(b, json_real_value(v));
    return;
  case JSON_TRUE:
    tc_buf_adds(b, "true");
    return;
  case JSON_FALSE:
    tc_buf_adds(b, "false");
    return;
  case JSON_NULL:
    tc_buf_adds(b, "null");
    return;
  }
}

/* ---- meta.json ---- */

void block_meta_init(struct block_meta *m) {
  memset(m, 0, sizeof(*m));
  m->version = 1;
}

void block_meta_release(struct block_meta *m) {
  free(m->compaction.sources);
  free(m->compaction.parents);
  for (size_t i = 0; i < m->compaction.nhints; i++)
    free(m->compaction.hints[i]);
  free(m->compaction.hints);
  labels_release(&m->thanos.labels);
  free(m->thanos.source);
  for (size_t i = 0; i < m->thanos.nsegment_files; i++)
    free(m->thanos.segment_files[i]);
  free(m->thanos.segment_files);
  for (size_t i = 0; i < m->thanos.nfiles; i++) {
    free(m->thanos.files[i].rel_path);
    free(m->thanos.files[i].hash_func);
    free(m->thanos.files[i].hash_value);
  }
  free(m->thanos.files);
  if (m->thanos.rewrites)
    json_decref(m->thanos.rewrites);
  if (m->thanos.extensions)
    json_decref(m->thanos.extensions);
  free(m->thanos.upload_time);
  memset(m, 0, sizeof(*m));
}

void block_meta_add_source(struct block_meta *m, const char *ulid) {
  m->compaction.sources = xrealloc(m->compaction.sources,
      (m->compaction.nsources + 1) * sizeof(m->compaction.sources[0]));
  snprintf(m->compaction.sources[m->compaction.nsources++],
           TSDB_ULID_LEN + 1, "%s", ulid);
}

struct jctx {
  const char *name;
  int err;
};

static int jbad(struct jctx *c, const char *key, const char *what) {
  if (!c->err)
    c->err = tc_error(TC_EPARSE, "meta '%s': %s: %s", c->name, key, what);
  return c->err;
}

static int64_t jint(struct jctx *c, json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_integer(v)) {
    jbad(c, key, "not an integer");
    return 0;
  }
  return json_integer_value(v);
}

static bool jbool(struct jctx *c, json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v))
    return false;
  if (!json_is_boolean(v)) {
    jbad(c, key, "not a boolean");
    return false;
  }
  return json_is_true(v);
}

/* An owned copy of a string member, NULL when absent. */
static char *jstr(struct jctx *c, json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v))
    return NULL;
  if (!json_is_string(v)) {
    jbad(c, key, "not a string");
    return NULL;
  }
  return xstrdup(json_string_value(v));
}

static json_t *jobj(struct jctx *c, json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v))
    return NULL;
  if (!json_is_object(v)) {
    jbad(c, key, "not an object");
    return NULL;
  }
  return v;
}

static json_t *jarr(struct jctx *c, json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v))
    return NULL;
  if (!json_is_array(v)) {
    jbad(c, key, "not an array");
    return NULL;
  }
  return v;
}

static void julid(struct jctx *c, json_t *o, const char *key,
                  char out[TSDB_ULID_LEN + 1]) {
  char *s = jstr(c, o, key);
  if (s && !tsdb_ulid_parse(s, NULL))
    jbad(c, key, "not a ULID");
  else if (s)
    memcpy(out, s, TSDB_ULID_LEN + 1);
  free(s);
}

static char **jstrings(struct jctx *c, json_t *o, const char *key,
                       size_t *n) {
  json_t *a = jarr(c, o, key), *x;
  size_t i;
  *n = 0;
  if (!a || !json_array_size(a))
    return NULL;
  char **v = xcalloc(json_array_size(a), sizeof(char *));
  json_array_foreach(a, i, x) {
    if (!json_is_string(x)) {
      jbad(c, key, "not an array of strings");
      break;
    }
    v[(*n)++] = xstrdup(json_string_value(x));
  }
  return v;
}

static void parse_thanos(struct jctx *c, struct block_meta *m, json_t *t) {
  m->has_thanos = true;
  m->thanos.version = (int)jint(c, t, "version");
  if (m->thanos.version != 0 && m->thanos.version != 1 && !c->err)
    c->err = tc_error(TC_ENOTSUP, "meta '%s': unsupported thanos version %d",
                      c->name, m->thanos.version);
  json_t *ls = jobj(c, t, "labels"), *x;
  const char *k;
  if (ls) {
    json_object_foreach(ls, k, x) {
      if (!json_is_string(x)) {
        jbad(c, "thanos.labels", "value not a string");
        break;
      }
      labels_add(&m->thanos.labels, k, json_string_value(x));
    }
    if (labels_sort(&m->thanos.labels))
      jbad(c, "thanos.labels", "duplicate label");
  }
  json_t *ds = jobj(c, t, "downsample");
  if (ds)
    m->thanos.resolution = jint(c, ds, "resolution");
  m->thanos.source = jstr(c, t, "source");
  m->thanos.segment_files =
      jstrings(c, t, "segment_files", &m->thanos.nsegment_files);
  json_t *fs = jarr(c, t, "files");
  size_t i;
  if (fs && json_array_size(fs)) {
    m->thanos.files = xcalloc(json_array_size(fs), sizeof(struct meta_file));
    json_array_foreach(fs, i, x) {
      if (!json_is_object(x)) {
        jbad(c, "thanos.files", "entry not an object");
        break;
      }
      struct meta_file *f = &m->thanos.files[m->thanos.nfiles++];
      f->rel_path = jstr(c, x, "rel_path");
      f->size = jint(c, x, "size_bytes");
      json_t *h = jobj(c, x, "hash");
      if (h) {
        f->hash_func = jstr(c, h, "hashFunc");
        f->hash_value = jstr(c, h, "value");
      }
    }
  }
  json_t *is = jobj(c, t, "index_stats");
  if (is) {
    m->thanos.series_max_size = jint(c, is, "series_max_size");
    m->thanos.chunk_max_size = jint(c, is, "chunk_max_size");
  }
  if ((x = json_object_get(t, "rewrites")) && !json_is_null(x))
    m->thanos.rewrites = json_incref(x);
  if ((x = json_object_get(t, "extensions")) && !json_is_null(x))
    m->thanos.extensions = json_incref(x);
  m->thanos.upload_time = jstr(c, t, "upload_time");
}

int block_meta_parse(struct block_meta *m, const char *json, size_t n,
                     const char *name) {
  block_meta_init(m);
  json_error_t jerr;
  json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return tc_error(TC_EPARSE, "meta '%s': line %d: %s", name, jerr.line,
                    jerr.text);
  struct jctx c = {name, 0};
  if (!json_is_object(root)) {
    jbad(&c, "top level", "not an object");
    goto out;
  }
  json_t *v = json_object_get(root, "version");
  if (!v || !json_is_integer(v) || json_integer_value(v) != 1) {
    c.err = tc_error(TC_ENOTSUP, "meta '%s': unsupported version %lld", name,
                     v && json_is_integer(v) ? (long long)json_integer_value(v)
                                             : 0LL);
    goto out;
  }
  julid(&c, root, "ulid", m->ulid);
  if (!m->ulid[0])
    jbad(&c, "ulid", "missing");
  m->min_time = jint(&c, root, "minTime");
  m->max_time = jint(&c, root, "maxTime");
  json_t *st = jobj(&c, root, "stats");
  if (st) {
    m->stats.num_samples = (uint64_t)jint(&c, st, "numSamples");
    m->stats.num_float_samples = (uint64_t)jint(&c, st, "numFloatSamples");
    m->stats.num_histogram_samples =
        (uint64_t)jint(&c, st, "numHistogramSamples");
    m->stats.num_series = (uint64_t)jint(&c, st, "numSeries");
    m->stats.num_chunks = (uint64_t)jint(&c, st, "numChunks");
    m->stats.num_tombstones = (uint64_t)jint(&c, st, "numTombstones");
  }
  json_t *co = jobj(&c, root, "compaction");
  if (co) {
    m->compaction.level = (int)jint(&c, co, "level");
    json_t *a = jarr(&c, co, "sources"), *x;
    size_t i;
    if (a) {
      json_array_foreach(a, i, x) {
        if (!json_is_string(x) || !tsdb_ulid_parse(json_string_value(x), NULL)) {
          jbad(&c, "compaction.sources", "not a ULID");
          break;
        }
        block_meta_add_source(m, json_string_value(x));
      }
    }
    m->compaction.deletable = jbool(&c, co, "deletable");
    m->compaction.failed = jbool(&c, co, "failed");
    a = jarr(&c, co, "parents");
    if (a && json_array_size(a)) {
      m->compaction.parents = xcalloc(json_array_size(a),
                                      sizeof(struct block_desc));
      json_array_foreach(a, i, x) {
        if (!json_is_object(x)) {
          jbad(&c, "compaction.parents", "entry not an object");
          break;
        }
        struct block_desc *d = &m->compaction.parents[m->compaction.nparents++];
        julid(&c, x, "ulid", d->ulid);
        d->min_time = jint(&c, x, "minTime");
        d->max_time = jint(&c, x, "maxTime");
      }
    }
    m->compaction.hints = jstrings(&c, co, "hints", &m->compaction.nhints);
  }
  json_t *t = jobj(&c, root, "thanos");
  if (t)
    parse_thanos(&c, m, t);
out:
  json_decref(root);
  return c.err;
}

int tsdb_write_file_atomic(const char *path, const void *p, size_t n) {
  char *tmp = xasprintf("%s.tmp", path);
  int rc = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    rc = tc_error(-e, "create '%s': %s", tmp, strerror(e));
    goto out;
  }
  size_t done = 0;
  while (done < n) {
    ssize_t k = write(fd, (const char *)p + done, n - done);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0) {
      int e = errno;
      rc = tc_error(-e, "write '%s': %s", tmp, strerror(e));
      break;
    }
    done += (size_t)k;
  }
  if (!rc && fsync(fd) < 0)
    rc = tc_error(-errno, "fsync '%s': %s", tmp, strerror(errno));
  close(fd);
  if (!rc && rename(tmp, path) < 0)
    rc = tc_error(-errno, "rename '%s': %s", tmp, strerror(errno));
  if (rc)
    unlink(tmp);
out:
  free(tmp);
  return rc;
}

int block_meta_read(struct block_meta *m, const char *dir) {
  char *path = xasprintf("%s/meta.json", dir), *text;
  size_t n;
  int rc = tc_read_file(path, 64 << 20, &text, &n);
  if (rc) {
    block_meta_init(m);
    free(path);
    return rc;
  }
  rc = block_meta_parse(m, text, n, path);
  free(text);
  free(path);
  return rc;
}

static void jset_u(json_t *o, const char *k, uint64_t v) {
  if (v)
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *meta_json(const struct block_meta *m) {
  json_t *root = json_object();
  json_object_set_new(root, "ulid", json_string(m->ulid));
  json_object_set_new(root, "minTime", json_integer(m->min_time));
  json_object_set_new(root, "maxTime", json_integer(m->max_time));
  json_t *st = json_object();
  jset_u(st, "numSamples", m->stats.num_samples);
  jset_u(st, "numFloatSamples", m->stats.num_float_samples);
  jset_u(st, "numHistogramSamples", m->stats.num_histogram_samples);
  jset_u(st, "numSeries", m->stats.num_series);
  jset_u(st, "numChunks", m->stats.num_chunks);
  jset_u(st, "numTombstones", m->stats.num_tombstones);
  json_object_set_new(root, "stats", st);
  json_t *co = json_object();
  json_object_set_new(co, "level", json_integer(m->compaction.level));
  if (m->compaction.nsources) {
    json_t *a = json_array();
    for (size_t i = 0; i < m->compaction.nsources; i++)
      json_array_append_new(a, json_string(m->compaction.sources[i]));
    json_object_set_new(co, "sources", a);
  }
  if (m->compaction.deletable)
    json_object_set_new(co, "deletable", json_true());
  if (m->compaction.nparents) {
    json_t *a = json_array();
    for (size_t i = 0; i < m->compaction.nparents; i++) {
      const struct block_desc *d = &m->compaction.parents[i];
      json_t *o = json_object();
      json_object_set_new(o, "ulid", json_string(d->ulid));
      json_object_set_new(o, "minTime", json_integer(d->min_time));
      json_object_set_new(o, "maxTime", json_integer(d->max_time));
      json_array_append_new(a, o);
    }
    json_object_set_new(co, "parents", a);
  }
  if (m->compaction.failed)
    json_object_set_new(co, "failed", json_true());
  if (m->compaction.nhints) {
    json_t *a = json_array();
    for (size_t i = 0; i < m->compaction.nhints; i++)
      json_array_append_new(a, json_string(m->compaction.hints[i]));
    json_object_set_new(co, "hints", a);
  }
  json_object_set_new(root, "compaction", co);
  json_object_set_new(root, "version", json_integer(m->version));
  if (!m->has_thanos)
    return root;
  json_t *t = json_object();
  if (m->thanos.version)
    json_object_set_new(t, "version", json_integer(m->thanos.version));
  json_t *ls = json_object();
  for (size_t i = 0; i < m->thanos.labels.n; i++) /* sorted like Go maps */
    json_object_set_new(ls, m->thanos.labels.v[i].name,
                        json_string(m->thanos.labels.v[i].value));
  json_object_set_new(t, "labels", ls);
  json_t *ds = json_object();
  json_object_set_new(ds, "resolution", json_integer(m->thanos.resolution));
  json_object_set_new(t, "downsample", ds);
  json_object_set_new(t, "source",
                      json_string(m->thanos.source ? m->thanos.source : ""));
  if (m->thanos.nsegment_files) {
    json_t *a = json_array();
    for (size_t i = 0; i < m->thanos.nsegment_files; i++)
      json_array_append_new(a, json_string(m->thanos.segment_files[i]));
    json_object_set_new(t, "segment_files", a);
  }
  if (m->thanos.nfiles) {
    json_t *a = json_array();
    for (size_t i = 0; i < m->thanos.nfiles; i++) {
      const struct meta_file *f = &m->thanos.files[i];
      json_t *o = json_object();
      json_object_set_new(o, "rel_path", json_string(f->rel_path));
      if (f->size)
        json_object_set_new(o, "size_bytes", json_integer(f->size));
      if (f->hash_func) {
        json_t *h = json_object();
        json_object_set_new(h, "hashFunc", json_string(f->hash_func));
        json_object_set_new(h, "value",
                            json_string(f->hash_value ? f->hash_value : ""));
        json_object_set_new(o, "hash", h);
      }
      json_array_append_new(a, o);
    }
    json_object_set_new(t, "files", a);
  }
  if (m->thanos.rewrites)
    json_object_set(t, "rewrites", m->thanos.rewrites);
  json_t *is = json_object();
  jset_u(is, "series_max_size", (uint64_t)m->thanos.series_max_size);
  jset_u(is, "chunk_max_size", (uint64_t)m->thanos.chunk_max_size);
  json_object_set_new(t, "index_stats", is);
  if (m->thanos.extensions)
    json_object_set(t, "extensions", m->thanos.extensions);
  if (m->thanos.upload_time)
    json_object_set_new(t, "upload_time", json_string(m->thanos.upload_time));
  json_object_set_new(root, "thanos", t);
  return root;
}

int block_meta_format(const struct block_meta *m, struct tc_buf *out) {
  json_t *root = meta_json(m);
  go_json(out, root, 0, 0);
  json_decref(root);
  if (m->has_thanos)
    tc_buf_addc(out, '\n');
  return 0;
}

int block_meta_write(const struct block_meta *m, const char *dir) {
  struct tc_buf b;
  tc_buf_init(&b, 0);
  block_meta_format(m, &b);
  char *path = xasprintf("%s/meta.json", dir);
  int rc = tsdb_write_file_atomic(path, b.data, b.len);
  free(path);
  tc_buf_release(&b);
  return rc;
}

/* ---- markers ---- */

static const char *const marker_files[] = {
    "deletion-mark.json", "no-compact-mark.json", "no-downsample-mark.json"};
static const char *const marker_time_keys[] = {
    "deletion_time", "no_compact_time", "no_downsample_time"};

const char *marker_filename(enum marker_kind kind) {
  return marker_files[kind];
}

void block_marker_release(struct block_marker *mk) {
  free(mk->details);
  free(mk->reason);
  memset(mk, 0, sizeof(*mk));
}

int block_marker_parse(struct block_marker *mk, enum marker_kind kind,
                       const char *json, size_t n) {
  memset(mk, 0, sizeof(*mk));
  mk->kind = kind;
  json_error_t jerr;
  json_t *root = json_loadb(json, n, 0, &jerr);
  if (!root)
    return tc_error(TC_EPARSE, "marker '%s': line %d: %s", marker_files[kind],
                    jerr.line, jerr.text);
  struct jctx c = {marker_files[kind], 0};
  if (!json_is_object(root)) {
    jbad(&c, "top level", "not an object");
    goto out;
  }
  julid(&c, root, "id", mk->id);
  mk->version = (int)jint(&c, root, "version");
  if (!c.err && mk->version != 1)
    c.err = tc_error(TC_ENOTSUP, "marker '%s': unsupported version %d",
                     marker_files[kind], mk->version);
  mk->details = jstr(&c, root, "details");
  mk->time = jint(&c, root, marker_time_keys[kind]);
  if (kind != MARKER_DELETION)
    mk->reason = jstr(&c, root, "reason");
out:
  json_decref(root);
  return c.err;
}

int block_marker_format(const struct block_marker *mk, struct tc_buf *out) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(mk->id));
  json_object_set_new(o, "version", json_integer(mk->version));
  if (mk->details && *mk->details)
    json_object_set_new(o, "details", json_string(mk->details));
  json_object_set_new(o, marker_time_keys[mk->kind], json_integer(mk->time));
  if (mk->kind != MARKER_DELETION)
    json_object_set_new(o, "reason",
                        json_string(mk->reason ? mk->reason : ""));
  go_json(out, o, -1, 0);
  json_decref(o);
  return 0;
}
