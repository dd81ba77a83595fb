/*
 * query.c - the `thanosc query` role: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_query(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("query");
}
