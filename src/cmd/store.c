/*
 * store.c - the `thanosc store` role: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_store(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("store");
}
