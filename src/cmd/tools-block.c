/*
 * tools-block.c - `thanosc tools block ...`: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_tools_block_dump(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools block dump");
}
