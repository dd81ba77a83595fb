/*
 * fuzz-bucketyaml.c - libFuzzer target for the objstore YAML (src/objstore/
 * config.c): parsing, ${VAR} expansion, typed lookups, string maps and the
 * unknown-key check take any bytes without crashing or leaking. No backend
 * is opened, so no file or network is touched.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/internal.h"
#include "thanosc/common.h"

static int kv(void *data, const char *k, const char *v) {
  (void)data;
  (void)k;
  (void)v;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct objstore_cfg *c = NULL;
  char *yaml = xstrndup((const char *)data, size);
  int64_t i;
  int b;
  if (objstore__cfg_parse(yaml, &c) == 0) {
    objstore_cfg_str(c, "type", NULL);
    objstore_cfg_str(c, "prefix", "");
    objstore__cfg_enter(c, "config");
    objstore_cfg_str(c, "bucket", "");
    objstore_cfg_str(c, "http_config.tls_config.ca_file", "");
    objstore_cfg_bool(c, "insecure", 0, &b);
    objstore_cfg_int(c, "part_size", 0, &i);
    objstore_cfg_duration(c, "http_config.idle_conn_timeout", "90s", &i);
    objstore_cfg_map(c, "put_user_metadata", kv, NULL);
    objstore_cfg_accept(c, "trace");
    objstore__cfg_err(c);
    objstore__cfg_check_unused(c);
    objstore__cfg_free(c);
  }
  char *out = NULL;
  if (objstore__expand_env(yaml, &out) == 0)
    free(out);
  free(yaml);
  return 0;
}
