/*
 * tools-upload.c - `thanosc tools bucket upload-blocks`: flags and wiring
 * only. One shipper round (src/sidecar/shipper.c) over a local directory
 * of blocks, every compaction level, with the external labels given by
 * --label, for migrating existing Prometheus data into a bucket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "thanosc/common.h"
#include "thanosc/error.h"
#include "thanosc/labels.h"
#include "thanosc/log.h"
#include "thanosc/objstore.h"
#include "thanosc/shipper.h"

#define UPLOAD_CMD "thanosc tools bucket upload-blocks"

/* `name="value"` (value quoted, \" and \\ escapes) into ls. */
static int parse_label(const char *s, struct labels *ls) {
  const char *eq = strchr(s, '=');
  if (!eq || eq == s)
    return tc_error(TC_EINVAL, "unrecognized label %s", s);
  for (const char *p = s; p < eq; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          *p == '_' || (p > s && *p >= '0' && *p <= '9')))
      return tc_error(TC_EINVAL, "unsupported format for label %s", s);
  const char *v = eq + 1;
  size_t n = strlen(v);
  if (n < 2 || v[0] != '"' || v[n - 1] != '"')
    return tc_error(TC_EINVAL, "unrecognized label %s: the value must be "
                               "quoted, as name=\"value\"", s);
  char *val = xmalloc(n);
  size_t k = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    if (v[i] == '\\' && i + 2 < n)
      i++;
    val[k++] = v[i];
  }
  val[k] = '\0';
  char *name = xstrndup(s, (size_t)(eq - s));
  labels_add(ls, name, val);
  free(name);
  free(val);
  return 0;
}

int cmd_tools_bucket_upload_blocks(int argc, char **argv) {
  struct server_opts srv = {0};
  struct flag_def shared[CMD_SERVER_FLAGS_MAX + 1];
  char *path = NULL;
  struct strlist lflags = {0};
  int64_t concurrency = 0;
  struct labels ext = LABELS_INIT;
  struct objstore *bkt = NULL;
  char *yaml = NULL;
  cmd_server_flags(shared, &srv, CMD_FLAGS_LOG | CMD_FLAGS_OBJSTORE, NULL,
                   NULL);
  struct flag_def own[] = {
      {"path", FLAG_STRING, &path, "./data",
       "Path to the directory containing blocks to upload."},
      {"label", FLAG_STRINGS, &lflags, NULL,
       "External labels to add to the uploaded blocks (repeated)."},
      {"shipper.upload-concurrency", FLAG_INT, &concurrency, "0",
       "Number of goroutines to use when uploading block files to object "
       "storage."},
      {0}};
  const struct flag_def *tables[] = {shared, own, NULL};
  int rc = flags_parse(tables, UPLOAD_CMD,
                       "Upload blocks push blocks from the provided path to "
                       "the object storage.",
                       argc, argv, NULL);
  int code = rc == 1 ? 0 : rc;
  if (rc == 0)
    code = cmd_server_opts_check(&srv, UPLOAD_CMD);
  if (rc || code)
    goto out;
  for (size_t i = 0; i < lflags.n; i++) {
    if ((rc = parse_label(lflags.v[i], &ext))) {
      fprintf(stderr, UPLOAD_CMD ": error: %s\n", tc_errmsg(rc));
      code = 2;
      goto out;
    }
  }
  if ((rc = labels_sort(&ext))) {
    fprintf(stderr, UPLOAD_CMD ": error: %s\n", tc_errmsg(rc));
    code = 2;
    goto out;
  }
  if (!ext.n) {
    fprintf(stderr, UPLOAD_CMD ": error: no external labels: give at least "
                               "one --label='name=\"value\"' so that queriers "
                               "can tell these blocks from others\n");
    code = 2;
    goto out;
  }
  if (!(yaml = cmd_objstore_yaml(&srv, UPLOAD_CMD))) {
    code = 2;
    goto out;
  }
  if ((rc = objstore_open(yaml, &bkt))) {
    LOG_ERROR("opening the bucket failed", "err", tc_errmsg(rc));
    code = 1;
    goto out;
  }
  struct shipper s = {.dir = path, .bkt = bkt, .source = "bucket.upload",
                      .upload_compacted = 1};
  struct shipper_stats st;
  rc = shipper_sync(&s, &ext, &st);
  if (rc) {
    LOG_ERROR("upload failed", "err", tc_errmsg(rc));
    code = 1;
    goto out;
  }
  char up[24], ex[24];
  snprintf(up, sizeof up, "%d", st.uploaded);
  snprintf(ex, sizeof ex, "%d", st.existing);
  LOG_INFO("upload done", "uploaded", up, "already_in_bucket", ex);
  code = 0;
out:
  objstore_close(bkt);
  labels_release(&ext);
  free(yaml);
  cmd_flags_release(tables);
  return code;
}
