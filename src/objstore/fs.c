/*
 * fs.c - the FILESYSTEM backend (`config.directory`): one file per object
 * under the directory, the layout Thanos's filesystem bucket uses, so the
 * two can share a directory. Uploads are atomic: a temporary file in the
 * target directory, fsync, rename. Names with "." or ".." components (that
 * could leave the directory) are refused. Empty directories are invisible
 * to iteration and removed when their last object is deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objstore/internal.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

#define TMP_PREFIX ".thanosc-upload-"
#define CHUNK (256 * 1024)

struct fs_bucket {
  struct objstore base;
  char *root; /* absolute, no trailing "/" */
};

static struct fs_bucket *fsb(struct objstore *os) {
  return objstore__downcast(os, &objstore_fs_ops);
}

static int fs_open(struct objstore *os, struct objstore_cfg *cfg) {
  struct fs_bucket *b = fsb(os);
  const char *dir = objstore_cfg_str(cfg, "directory", NULL);
  if (!dir || !*dir)
    return tc_error(TC_EINVAL, "missing directory for filesystem bucket");
  if (dir[0] == '/') {
    b->root = xstrdup(dir);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
      return tc_error(-errno, "filesystem bucket: getcwd: %s", strerror(errno));
    b->root = xasprintf("%s/%s", cwd, dir);
  }
  size_t n = strlen(b->root);
  while (n > 1 && b->root[n - 1] == '/')
    b->root[--n] = '\0';
  os->bucket = xasprintf("fs: %s", b->root);
  return 0;
}

static void fs_close(struct objstore *os) { free(fsb(os)->root); }

/* Refuses names that are not plain relative paths. */
static int check_path(const char *op, const char *name) {
  const char *p = name;
  while (*p) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
        (n == 0 && slash))
      return tc_error(TC_EINVAL, "%s '%s': object name leaves the directory "
                      "or has an empty component", op, name);
    if (!slash)
      break;
    p = slash + 1;
  }
  return 0;
}

static char *path_of(struct fs_bucket *b, const char *name) {
  return xasprintf("%s/%s", b->root, name);
}

/* 1 when dir has an entry, 0 when empty or missing. */
static int dir_has_entries(const char *path) {
  DIR *d = opendir(path);
  if (!d)
    return 0;
  struct dirent *e;
  int any = 0;
  while (!any && (e = readdir(d)))
    any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return any;
}

static int walk(struct fs_bucket *b, const char *dir, int recursive,
                struct objstore__names *out) {
  char *path = xasprintf("%s/%s", b->root, dir);
  DIR *d = opendir(path);
  int rc = 0;
  if (!d) {
    int e = errno;
    free(path);
    if (e == ENOENT || e == ENOTDIR)
      return 0;
    return tc_error(-e, "open dir '%s': %s", dir, strerror(e));
  }
  struct dirent *e;
  while (!rc && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
        !strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
      continue;
    char *full = xasprintf("%s/%s", path, e->d_name);
    struct stat st;
    if (stat(full, &st) < 0) {
      free(full);
      continue; /* deleted meanwhile */
    }
    char *name = xasprintf("%s%s", dir, e->d_name);
    if (S_ISDIR(st.st_mode)) {
      if (dir_has_entries(full)) {
        char *sub = xasprintf("%s/", name);
        if (recursive)
          rc = walk(b, sub, 1, out);
        else
          objstore__names_add(out, sub);
        free(sub);
      }
    } else if (S_ISREG(st.st_mode)) {
      objstore__names_add(out, name);
    }
    free(name);
    free(full);
  }
  closedir(d);
  free(path);
  return rc;
}

static int fs_iter(struct objstore *os, const char *dir, unsigned flags,
                   objstore_iter_fn *fn, void *data) {
  struct fs_bucket *b = fsb(os);
  struct objstore__names names = {0};
  int rc = *dir ? check_path("iter", dir) : 0;
  if (!rc)
    rc = walk(b, dir, !!(flags & OBJSTORE_RECURSIVE), &names);
  if (!rc) {
    objstore__names_sort(&names);
    rc = objstore__names_each(&names, fn, data);
  }
  objstore__names_release(&names);
  return rc;
}

static int open_object(struct fs_bucket *b, const char *op, const char *name,
                       int *fd, struct stat *st) {
  int rc = check_path(op, name);
  if (rc < 0)
    return rc;
  char *path = path_of(b, name);
  *fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  if (*fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return tc_error(TC_ENOTFOUND, "%s '%s': no such object", op, name);
    return tc_error(-errno, "%s '%s': %s", op, name, strerror(errno));
  }
  if (fstat(*fd, st) < 0 || !S_ISREG(st->st_mode)) {
    close(*fd);
    return tc_error(TC_ENOTFOUND, "%s '%s': no such object", op, name);
  }
  return 0;
}

static int fs_get_range(struct objstore *os, const char *name, uint64_t off,
                        int64_t len, objstore_write_fn *fn, void *data) {
  struct fs_bucket *b = fsb(os);
  struct stat st;
  int fd, rc = open_object(b, "get", name, &fd, &st);
  if (rc < 0)
    return rc;
  uint64_t size = (uint64_t)st.st_size;
  uint64_t left = off >= size ? 0 : size - off;
  if (len >= 0 && (uint64_t)len < left)
    left = (uint64_t)len;
  char *buf = xmalloc(CHUNK);
  while (!rc && left) {
    size_t want = left < CHUNK ? (size_t)left : CHUNK;
    ssize_t r = pread(fd, buf, want, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = tc_error(-errno, "get '%s': read: %s", name, strerror(errno));
      break;
    }
    if (r == 0)
      break; /* truncated meanwhile: what there is */
    rc = fn(data, buf, (size_t)r);
    off += (uint64_t)r;
    left -= (uint64_t)r;
  }
  free(buf);
  close(fd);
  return rc;
}

static int fs_attributes(struct objstore *os, const char *name,
                         struct objstore_attrs *out) {
  struct fs_bucket *b = fsb(os);
  struct stat st;
  int fd, rc = open_object(b, "attributes", name, &fd, &st);
  if (rc < 0)
    return rc;
  close(fd);
  out->size = st.st_size;
  out->last_modified_ms =
      (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
  return 0;
}

/* mkdir -p of the directory part of path, the root included. */
static int mkdirs(const char *path) {
  char *p = xstrdup(path);
  int rc = 0;
  for (char *s = p + 1; (s = strchr(s, '/')); s++) {
    *s = '\0';
    if (mkdir(p, 0777) < 0 && errno != EEXIST) {
      rc = -errno;
      *s = '/';
      break;
    }
    *s = '/';
  }
  free(p);
  return rc;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int fs_upload(struct objstore *os, const char *name,
                     const struct objstore_src *src) {
  struct fs_bucket *b = fsb(os);
  int rc = check_path("upload", name);
  if (rc < 0)
    return rc;
  char *path = path_of(b, name);
  const char *slash = strrchr(path, '/');
  char *tmp = xasprintf("%.*s/" TMP_PREFIX "XXXXXX", (int)(slash - path), path);
  char *buf = NULL;
  int fd = -1;
  /* A concurrent delete may remove the fresh parent: try again. */
  for (int tries = 0; fd < 0 && tries < 5; tries++) {
    if ((rc = mkdirs(path)) < 0)
      break;
    memcpy(tmp + strlen(tmp) - 6, "XXXXXX", 6);
    fd = mkostemp(tmp, O_CLOEXEC);
    rc = fd < 0 ? -errno : 0;
    if (fd < 0 && errno != ENOENT)
      break;
  }
  if (rc < 0) {
    rc = tc_error(rc, "upload '%s': create: %s", name, strerror(-rc));
    goto out;
  }
  buf = xmalloc(CHUNK);
  for (uint64_t off = 0; off < src->size;) {
    size_t n = src->size - off < CHUNK ? (size_t)(src->size - off) : CHUNK;
    if ((rc = src->read_at(src->data, buf, n, off)) < 0) {
      rc = tc_error_wrap(rc, "upload '%s'", name);
      goto out;
    }
    if ((rc = write_all(fd, buf, n)) < 0) {
      rc = tc_error(rc, "upload '%s': write: %s", name, strerror(-rc));
      goto out;
    }
    off += n;
  }
  if (fsync(fd) < 0) {
    rc = tc_error(-errno, "upload '%s': fsync: %s", name, strerror(errno));
    goto out;
  }
  if (close(fd) < 0) {
    fd = -1;
    rc = tc_error(-errno, "upload '%s': close: %s", name, strerror(errno));
    goto out;
  }
  fd = -1;
  if (rename(tmp, path) < 0) {
    rc = tc_error(-errno, "upload '%s': rename: %s", name, strerror(errno));
    goto out;
  }
out:
  if (fd >= 0)
    close(fd);
  if (rc < 0)
    unlink(tmp);
  free(buf);
  free(tmp);
  free(path);
  return rc;
}

static int fs_delete(struct objstore *os, const char *name) {
  struct fs_bucket *b = fsb(os);
  int rc = check_path("delete", name);
  if (rc < 0)
    return rc;
  char *path = path_of(b, name);
  if (unlink(path) < 0 && errno != ENOENT) {
    rc = tc_error(-errno, "delete '%s': %s", name, strerror(errno));
    goto out;
  }
  /* Remove the parents the object leaves empty, never the root. */
  size_t root_len = strlen(b->root);
  char *s;
  while ((s = strrchr(path, '/')) && (size_t)(s - path) > root_len) {
    *s = '\0';
    if (rmdir(path) < 0)
      break;
  }
out:
  free(path);
  return rc;
}

const struct objstore_ops objstore_fs_ops = {
    .name = "FILESYSTEM",
    .caps = OBJSTORE_CAP_RANGE,
    .instance_size = sizeof(struct fs_bucket),
    .open = fs_open,
    .close = fs_close,
    .iter = fs_iter,
    .get_range = fs_get_range,
    .attributes = fs_attributes,
    .upload = fs_upload,
    .del = fs_delete,
};
