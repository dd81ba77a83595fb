/*
 * tools-upload.c - `thanosc tools bucket upload-blocks`: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_tools_bucket_upload_blocks(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools bucket upload blocks");
}
