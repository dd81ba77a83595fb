/*
 * tools-bucket.c - `thanosc tools bucket ...`: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_tools_bucket_ls(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools bucket ls");
}

int cmd_tools_bucket_inspect(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools bucket inspect");
}
