/*
 * compact.c - the `thanosc compact` role: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_compact(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("compact");
}
