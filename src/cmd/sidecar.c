/*
 * sidecar.c - the `thanosc sidecar` role: flags and wiring only.
 */
#include "cmd/cmd.h"

int cmd_sidecar(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cmd_not_yet("sidecar");
}
