/*
 * tools-promql.c - `thanosc tools promql ...`: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_tools_promql_parse(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools promql parse");
}
