/*
 * shipper.c - Thanos's shipper (shipper.h): one round scans the TSDB
 * directory, picks the blocks to ship, stages each in thanos/upload/<ULID>
 * by hard links (Prometheus may delete or compact the original meanwhile),
 * writes the Thanos meta.json there and uploads it with block_upload()
 * (chunks, index, then meta.json). The shipper file records what is in the bucket.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "thanosc/buf.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/log.h"
#include "thanosc/metrics.h"
#include "thanosc/shipper.h"
#include "thanosc/tsdb/bucket.h"
#include "thanosc/tsdb/meta.h"

static struct metric *m_syncs, *m_sync_failures, *m_uploads,
    *m_upload_failures, *m_compacted_done;

void shipper_metrics_register(void) {
  m_syncs = metric_counter("thanos_shipper_dir_syncs_total",
                           "Total number of dir syncs", NULL);
  m_sync_failures = metric_counter("thanos_shipper_dir_sync_failures_total",
                                   "Total number of failed dir syncs", NULL);
  m_uploads = metric_counter("thanos_shipper_uploads_total",
                             "Total number of uploaded blocks", NULL);
  m_upload_failures =
      metric_counter("thanos_shipper_upload_failures_total",
                     "Total number of block upload failures", NULL);
  m_compacted_done = metric_gauge(
      "thanos_shipper_upload_compacted_done",
      "If 1 it means shipper uploaded all compacted blocks from the "
      "filesystem.", NULL);
}

/* ------------------------------------------------------- shipper file */

int shipper_meta_read(const char *path, struct strlist *uploaded) {
  char *text;
  size_t n;
  int rc = tc_read_file(path, 64u << 20, &text, &n);
  if (rc == -ENOENT || rc == TC_ENOTFOUND)
    return 0;
  if (rc)
    return rc;
  json_error_t e;
  json_t *root = json_loadb(text, n, 0, &e);
  free(text);
  if (!root)
    return tc_error(TC_EPARSE, "%s: bad JSON: %s", path, e.text);
  json_t *v = json_object_get(root, "version");
  if (!json_is_integer(v) || json_integer_value(v) != 1) {
    json_decref(root);
    return tc_error(TC_ENOTSUP, "%s: unexpected meta file version", path);
  }
  json_t *arr = json_object_get(root, "uploaded");
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) {
    const char *s = json_string_value(x);
    if (s && tsdb_ulid_parse(s, NULL))
      strlist_push(uploaded, s);
  }
  json_decref(root);
  return 0;
}

int shipper_meta_write(const char *path, const struct strlist *uploaded) {
  struct tc_buf b = TC_BUF_INIT;
  tc_buf_adds(&b, "{\n\t\"version\": 1,\n\t\"uploaded\": ");
  if (!uploaded->n) {
    tc_buf_adds(&b, "null");
  } else {
    tc_buf_adds(&b, "[\n");
    for (size_t i = 0; i < uploaded->n; i++)
      tc_buf_addf(&b, "\t\t\"%s\"%s\n", uploaded->v[i],
                  i + 1 < uploaded->n ? "," : "");
    tc_buf_adds(&b, "\t]");
  }
  tc_buf_adds(&b, "\n}\n");
  int rc = tsdb_write_file_atomic(path, b.data, b.len);
  tc_buf_release(&b);
  return rc;
}

/* ------------------------------------------------------------ helpers */

static int in_list(const struct strlist *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->v[i], s))
      return 1;
  return 0;
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of dir, sorted, into out. */
static int list_files(const char *dir, struct strlist *out) {
  DIR *d = opendir(dir);
  if (!d)
    return tc_error(-errno, "open %s: %s", dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    strlist_push(out, e->d_name);
  }
  closedir(d);
  qsort(out->v, out->n, sizeof *out->v, str_cmp);
  return 0;
}

/* rm -r of a staging directory (two levels: files and chunks/). */
static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    char *p = xasprintf("%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      remove_tree(p);
    else
      unlink(p);
    free(p);
  }
  closedir(d);
  rmdir(dir);
}

static int mkdir_p(const char *path) {
  char *p = xstrdup(path);
  int rc = 0;
  for (char *s = p + 1;; s++) {
    if (*s == '/' || !*s) {
      char c = *s;
      *s = '\0';
      if (mkdir(p, 0777) && errno != EEXIST) {
        rc = tc_error(-errno, "mkdir %s: %s", p, strerror(errno));
        break;
      }
      *s = c;
      if (!c)
        break;
    }
  }
  free(p);
  return rc;
}

/* Hard link (or copy when linking is impossible) src to dst. */
static int link_file(const char *src, const char *dst) {
  if (link(src, dst) == 0)
    return 0;
  if (errno != EXDEV && errno != EPERM)
    return tc_error(-errno, "link %s: %s", src, strerror(errno));
  char *buf;
  size_t n;
  int rc = tc_read_file(src, (size_t)1 << 40, &buf, &n);
  if (rc)
    return rc;
  rc = tsdb_write_file_atomic(dst, buf, n);
  free(buf);
  return rc;
}

/* -------------------------------------------------------------- upload */

struct local_block {
  struct block_meta meta;
  char *dir;
};

static int block_cmp(const void *a, const void *b) {
  const struct local_block *x = a, *y = b;
  if (x->meta.min_time != y->meta.min_time)
    return x->meta.min_time < y->meta.min_time ? -1 : 1;
  return strcmp(x->meta.ulid, y->meta.ulid);
}

/* Stages blk into up (hard links) and uploads it. */
static int upload_block(const struct shipper *s, const struct labels *ext,
                        struct local_block *blk, const char *up) {
  struct strlist chunks = {0};
  struct block_meta *m = &blk->meta;
  char *src = NULL, *dst = NULL, *cdir = NULL;
  int rc;
  remove_tree(up);
  cdir = xasprintf("%s/chunks", up);
  if ((rc = mkdir_p(cdir)))
    goto out;
  src = xasprintf("%s/chunks", blk->dir);
  if ((rc = list_files(src, &chunks)))
    goto out;
  free(src), src = NULL;
  for (size_t i = 0; i < chunks.n; i++) {
    src = xasprintf("%s/chunks/%s", blk->dir, chunks.v[i]);
    dst = xasprintf("%s/%s", cdir, chunks.v[i]);
    rc = link_file(src, dst);
    free(src), free(dst), src = dst = NULL;
    if (rc)
      goto out;
  }
  src = xasprintf("%s/index", blk->dir);
  dst = xasprintf("%s/index", up);
  rc = link_file(src, dst);
  free(src), free(dst), src = dst = NULL;
  if (rc)
    goto out;

  /* The Thanos section; block_upload() adds the files, the upload time
   * and sends meta.json last. */
  m->has_thanos = true;
  labels_release(&m->thanos.labels);
  labels_copy(&m->thanos.labels, ext);
  m->thanos.resolution = 0;
  free(m->thanos.source);
  m->thanos.source = xstrdup(s->source);
  if (!(rc = block_meta_write(m, up)))
    rc = block_upload(s->bkt, up, s->hash_func);
out:
  free(src), free(dst), free(cdir);
  strlist_release(&chunks);
  remove_tree(up);
  return rc;
}

/* Bucket metas, for the overlap check of compacted blocks. */
struct bucket_scan {
  struct objstore *bkt;
  struct block_desc *v;
  size_t n, cap;
  int rc;
};

static int scan_one(void *data, const char *name) {
  struct bucket_scan *b = data;
  char id[TSDB_ULID_LEN + 1];
  size_t n = strlen(name);
  if (n != TSDB_ULID_LEN + 1 || name[n - 1] != '/')
    return 0;
  memcpy(id, name, TSDB_ULID_LEN);
  id[TSDB_ULID_LEN] = '\0';
  if (!tsdb_ulid_parse(id, NULL))
    return 0;
  struct tc_buf buf;
  tc_buf_init(&buf, 16u << 20);
  char *key = xasprintf("%s/meta.json", id);
  int rc = objstore_get_buf(b->bkt, key, OBJSTORE_OPTIONAL, &buf);
  free(key);
  if (rc == 0) {
    struct block_meta m;
    if (block_meta_parse(&m, buf.data, buf.len, id) == 0) {
      TC_GROW(b->v, b->cap, b->n + 1);
      memcpy(b->v[b->n].ulid, id, sizeof id);
      b->v[b->n].min_time = m.min_time;
      b->v[b->n].max_time = m.max_time;
      b->n++;
    }
    block_meta_release(&m);
  } else if (rc != TC_ENOTFOUND) {
    tc_buf_release(&buf);
    return rc;
  }
  tc_buf_release(&buf);
  return 0;
}

static int check_overlap(struct bucket_scan *b, const struct block_meta *m) {
  for (size_t i = 0; i < b->n; i++)
    if (b->v[i].min_time < m->max_time && m->min_time < b->v[i].max_time)
      return tc_error(TC_EINVAL,
                      "found overlap or error during sync, cannot upload "
                      "compacted block %s: it overlaps %s in the bucket "
                      "[%" PRId64 ", %" PRId64 ")",
                      m->ulid, b->v[i].ulid, b->v[i].min_time,
                      b->v[i].max_time);
  return 0;
}

int shipper_sync(const struct shipper *s, const struct labels *ext,
                 struct shipper_stats *st) {
  struct strlist done = {0}, keep = {0}, names = {0};
  struct local_block *blocks = NULL;
  size_t nblocks = 0, cap = 0;
  struct bucket_scan scan = {.bkt = s->bkt};
  int scanned = 0, rc;
  const char *mf = s->meta_file ? s->meta_file : SHIPPER_META_FILE;
  char *mpath = xasprintf("%s/%s", s->dir, mf);
  memset(st, 0, sizeof *st);
  if (m_syncs)
    metric_inc(metric_child(m_syncs));
  if (!ext->n) {
    rc = tc_error(TC_EINVAL, "empty external labels are not allowed for "
                             "Thanos block");
    goto out;
  }
  if ((rc = shipper_meta_read(mpath, &done))) {
    LOG_WARN("reading meta file failed, will override it", "err",
             tc_errmsg(rc));
    strlist_release(&done);
  }
  if ((rc = list_files(s->dir, &names)))
    goto out;
  for (size_t i = 0; i < names.n; i++) {
    if (!tsdb_ulid_parse(names.v[i], NULL))
      continue;
    char *dir = xasprintf("%s/%s", s->dir, names.v[i]);
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
      free(dir);
      continue;
    }
    TC_GROW(blocks, cap, nblocks + 1);
    struct local_block *b = &blocks[nblocks];
    rc = block_meta_read(&b->meta, dir);
    if (rc) {
      /* Prometheus writes meta.json last: a block without it is still
       * being written. */
      block_meta_release(&b->meta);
      free(dir);
      rc = 0;
      continue;
    }
    b->dir = dir;
    nblocks++;
  }
  qsort(blocks, nblocks, sizeof *blocks, block_cmp);
  int compacted_left = 0;
  for (size_t i = 0; i < nblocks; i++) {
    struct block_meta *m = &blocks[i].meta;
    if (in_list(&done, m->ulid)) {
      strlist_push(&keep, m->ulid);
      continue;
    }
    if (m->stats.num_samples == 0)
      continue;
    if (m->compaction.level > 1 && !s->upload_compacted)
      continue;
    char *key = xasprintf("%s/meta.json", m->ulid);
    rc = objstore_exists(s->bkt, key);
    free(key);
    if (rc < 0)
      goto fail;
    if (rc == 1) {
      strlist_push(&keep, m->ulid);
      st->existing++;
      rc = 0;
      continue;
    }
    if (m->compaction.level > 1) {
      if (!scanned) {
        rc = objstore_iter(s->bkt, "", 0, scan_one, &scan);
        if (rc < 0)
          goto fail;
        scanned = 1;
      }
      if ((rc = check_overlap(&scan, m))) {
        compacted_left = 1;
        goto fail;
      }
    }
    char *up = xasprintf("%s/thanos/upload/%s", s->dir, m->ulid);
    rc = upload_block(s, ext, &blocks[i], up);
    free(up);
    if (rc) {
      rc = tc_error_wrap(rc, "upload block %s", m->ulid);
      goto fail;
    }
    LOG_INFO("upload new block", "id", m->ulid);
    if (m_uploads)
      metric_inc(metric_child(m_uploads));
    strlist_push(&keep, m->ulid);
    st->uploaded++;
    if (m->compaction.level > 1 && scanned) {
      TC_GROW(scan.v, scan.cap, scan.n + 1);
      memcpy(scan.v[scan.n].ulid, m->ulid, sizeof m->ulid);
      scan.v[scan.n].min_time = m->min_time;
      scan.v[scan.n].max_time = m->max_time;
      scan.n++;
    }
  }
  if (s->upload_compacted && m_compacted_done && !compacted_left)
    metric_set(metric_child(m_compacted_done), 1);
  goto write;
fail:
  st->failed = 1;
  LOG_ERROR("shipping failed", "err", tc_errmsg(rc));
  if (m_upload_failures)
    metric_inc(metric_child(m_upload_failures));
write:;
  int wrc = shipper_meta_write(mpath, &keep);
  if (wrc && !rc)
    rc = wrc;
out:
  if (rc && m_sync_failures)
    metric_inc(metric_child(m_sync_failures));
  for (size_t i = 0; i < nblocks; i++) {
    block_meta_release(&blocks[i].meta);
    free(blocks[i].dir);
  }
  free(blocks);
  free(scan.v);
  strlist_release(&done);
  strlist_release(&keep);
  strlist_release(&names);
  free(mpath);
  return rc;
}
