/*
 * bucket.c - blocks in a bucket (tsdb/bucket.h): upload with meta.json
 * last, download, deletion in Thanos's order, and markers. The compactor
 * uses all of it; the shipper's upload (src/sidecar/shipper.c) does the
 * same steps after staging and can move onto block_upload().
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/flags.h"
#include "thanosc/fmttime.h"
#include "thanosc/tsdb/bucket.h"

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir (no dot files), sorted. */
static int list_dir(const char *dir, struct strlist *out) {
  DIR *d = opendir(dir);
  if (!d)
    return tc_error(-errno, "open %s: %s", dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      strlist_push(out, e->d_name);
  closedir(d);
  if (out->n)
    qsort(out->v, out->n, sizeof *out->v, str_cmp);
  return 0;
}

static int sha256_file(const char *path, char out[65]) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return tc_error(-errno, "open %s: %s", path, strerror(errno));
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  unsigned char buf[65536], md[32];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    EVP_DigestUpdate(ctx, buf, n);
  int err = ferror(f);
  fclose(f);
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (err)
    return tc_error(TC_EIO, "read %s failed", path);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

static void meta_files_clear(struct block_meta *m) {
  for (size_t i = 0; i < m->thanos.nsegment_files; i++)
    free(m->thanos.segment_files[i]);
  free(m->thanos.segment_files);
  m->thanos.segment_files = NULL;
  m->thanos.nsegment_files = 0;
  for (size_t i = 0; i < m->thanos.nfiles; i++) {
    free(m->thanos.files[i].rel_path);
    free(m->thanos.files[i].hash_func);
    free(m->thanos.files[i].hash_value);
  }
  free(m->thanos.files);
  m->thanos.files = NULL;
  m->thanos.nfiles = 0;
}

/* Fills segment_files and files (sorted by rel_path: chunks/..., index,
 * meta.json) from the block directory. */
static int meta_gather_files(struct block_meta *m, const char *dir,
                             const struct strlist *chunks,
                             const char *hash_func) {
  meta_files_clear(m);
  m->thanos.segment_files = xcalloc(chunks->n + 1, sizeof(char *));
  for (size_t i = 0; i < chunks->n; i++)
    m->thanos.segment_files[i] = xstrdup(chunks->v[i]);
  m->thanos.nsegment_files = chunks->n;
  m->thanos.files = xcalloc(chunks->n + 2, sizeof *m->thanos.files);
  for (size_t i = 0; i < chunks->n + 1; i++) {
    struct meta_file *f = &m->thanos.files[m->thanos.nfiles++];
    f->rel_path =
        i < chunks->n ? xasprintf("chunks/%s", chunks->v[i]) : xstrdup("index");
    char *p = xasprintf("%s/%s", dir, f->rel_path);
    struct stat st;
    int rc = 0;
    if (stat(p, &st))
      rc = tc_error(-errno, "stat %s: %s", p, strerror(errno));
    else
      f->size = st.st_size;
    if (!rc && hash_func && !strcmp(hash_func, "SHA256")) {
      char hex[65];
      rc = sha256_file(p, hex);
      if (!rc) {
        f->hash_func = xstrdup("SHA256");
        f->hash_value = xstrdup(hex);
      }
    }
    free(p);
    if (rc)
      return rc;
  }
  m->thanos.files[m->thanos.nfiles++].rel_path = xstrdup("meta.json");
  return 0;
}

int block_upload(struct objstore *bkt, const char *dir, const char *hash_func) {
  struct block_meta m;
  struct strlist chunks = {0};
  char *cdir = xasprintf("%s/chunks", dir);
  int rc = block_meta_read(&m, dir);
  if (!rc)
    rc = list_dir(cdir, &chunks);
  if (!rc)
    rc = meta_gather_files(&m, dir, &chunks, hash_func);
  /* Every file but meta.json, then meta.json: its presence in the bucket
   * says the block is complete. */
  for (size_t i = 0; !rc && i + 1 < m.thanos.nfiles; i++) {
    char *src = xasprintf("%s/%s", dir, m.thanos.files[i].rel_path);
    char *name = xasprintf("%s/%s", m.ulid, m.thanos.files[i].rel_path);
    rc = objstore_upload_file(bkt, name, src);
    free(src);
    free(name);
  }
  if (!rc) {
    char now[FMTTIME_MAX];
    fmttime_rfc3339nano_now(now);
    free(m.thanos.upload_time);
    m.thanos.upload_time = xstrdup(now);
    m.has_thanos = true;
    rc = block_meta_write(&m, dir);
  }
  if (!rc) {
    char *src = xasprintf("%s/meta.json", dir);
    char *name = xasprintf("%s/meta.json", m.ulid);
    rc = objstore_upload_file(bkt, name, src);
    free(src);
    free(name);
  }
  if (rc)
    rc = tc_error_wrap(rc, "upload block %s", dir);
  block_meta_release(&m);
  strlist_release(&chunks);
  free(cdir);
  return rc;
}

static int mkdir_1(const char *dir) {
  if (mkdir(dir, 0755) && errno != EEXIST)
    return tc_error(-errno, "mkdir %s: %s", dir, strerror(errno));
  return 0;
}

static int collect(void *data, const char *name) {
  strlist_push(data, name);
  return 0;
}

int block_download(struct objstore *bkt, const char *id, const char *dir) {
  struct strlist all = {0};
  char *prefix = xasprintf("%s/", id);
  char *cdir = xasprintf("%s/chunks", dir);
  int rc = mkdir_1(dir);
  if (!rc)
    rc = mkdir_1(cdir);
  if (!rc)
    rc = objstore_iter(bkt, prefix, OBJSTORE_RECURSIVE, collect, &all);
  size_t plen = strlen(prefix);
  for (size_t i = 0; !rc && i < all.n; i++) {
    const char *rel = all.v[i] + plen;
    /* The block's own files; markers and unknown files stay behind. */
    if (strcmp(rel, "meta.json") && strcmp(rel, "index") &&
        strncmp(rel, "chunks/", 7))
      continue;
    char *path = xasprintf("%s/%s", dir, rel);
    rc = objstore_download(bkt, all.v[i], 0, path);
    free(path);
  }
  if (rc)
    rc = tc_error_wrap(rc, "download block %s", id);
  strlist_release(&all);
  free(prefix);
  free(cdir);
  return rc;
}

int block_delete(struct objstore *bkt, const char *id) {
  struct strlist all = {0};
  char *prefix = xasprintf("%s/", id);
  char *meta = xasprintf("%s/meta.json", id);
  char *mark = xasprintf("%s/%s", id, marker_filename(MARKER_DELETION));
  /* meta.json first: a half-deleted block then reads as a partial upload,
   * never as a complete block with files missing. */
  int rc = objstore_delete(bkt, meta);
  if (!rc)
    rc = objstore_iter(bkt, prefix, OBJSTORE_RECURSIVE, collect, &all);
  for (size_t i = 0; !rc && i < all.n; i++)
    if (strcmp(all.v[i], mark) && strcmp(all.v[i], meta))
      rc = objstore_delete(bkt, all.v[i]);
  if (!rc)
    rc = objstore_delete(bkt, mark);
  if (rc)
    rc = tc_error_wrap(rc, "delete block %s", id);
  strlist_release(&all);
  free(prefix);
  free(meta);
  free(mark);
  return rc;
}

int block_mark(struct objstore *bkt, enum marker_kind kind, const char *id,
               const char *details, const char *reason) {
  struct block_marker mk = {
      .kind = kind, .version = 1, .time = (int64_t)time(NULL)};
  snprintf(mk.id, sizeof mk.id, "%s", id);
  mk.details = details ? xstrdup(details) : NULL;
  mk.reason = reason ? xstrdup(reason) : NULL;
  struct tc_buf b = TC_BUF_INIT;
  int rc = block_marker_format(&mk, &b);
  char *name = xasprintf("%s/%s", id, marker_filename(kind));
  if (!rc)
    rc = objstore_upload_buf(bkt, name, b.data, b.len);
  free(name);
  tc_buf_release(&b);
  block_marker_release(&mk);
  return rc;
}

int block_marker_get(struct objstore *bkt, enum marker_kind kind,
                     const char *id, struct block_marker *mk) {
  struct tc_buf b;
  tc_buf_init(&b, 1u << 20);
  char *name = xasprintf("%s/%s", id, marker_filename(kind));
  memset(mk, 0, sizeof *mk);
  int rc = objstore_get_buf(bkt, name, OBJSTORE_OPTIONAL, &b);
  if (!rc)
    rc = block_marker_parse(mk, kind, b.data, b.len);
  free(name);
  tc_buf_release(&b);
  return rc;
}
