/* s3.c - placeholder */
#include "objstore/internal.h"
#include "thanosc/error.h"
static int s3_open(struct objstore *os, struct objstore_cfg *cfg) {
  return tc_error(TC_ENOTSUP, "s3: not yet");
}
const struct objstore_ops objstore_s3_ops = {
    .name = "S3", .instance_size = sizeof(struct objstore), .open = s3_open,
};
