/*
 * tools-store.c - `thanosc tools store ...`: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_tools_store_info(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools store info");
}

int cmd_tools_store_series(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools store series");
}

int cmd_tools_store_label_names(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools store label names");
}

int cmd_tools_store_label_values(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("tools store label values");
}
