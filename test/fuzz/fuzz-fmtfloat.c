/*
 * fuzz-fmtfloat.c - libFuzzer target for the shortest float formatter
 * (src/core/fmtfloat.c).
 *
 * Each 8 bytes of the input are a double's bits, and the whole input read
 * as text by strtod is one more double (so decimal-looking inputs reach
 * the short-decimal path). For every finite one, all three layouts must
 * read back as the double, 'g' must be 'e' or 'f', and no printf %e with
 * one digit fewer may read back (the digits are the fewest).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thanosc/fmtfloat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(double v) {
  char e[FMTFLOAT_MAX], f[FMTFLOAT_MAX], g[FMTFLOAT_MAX], fewer[64];
  if (!isfinite(v))
    return;
  fmtfloat_write(e, v, 'e');
  fmtfloat_write(f, v, 'f');
  fmtfloat_write(g, v, 'g');
  if (strtod(e, NULL) != v || strtod(f, NULL) != v)
    abort();
  if (strcmp(g, e) != 0 && strcmp(g, f) != 0)
    abort();
  int digits = 0;
  for (const char *p = e; *p && *p != 'e'; p++)
    digits += *p >= '0' && *p <= '9';
  if (digits > 1) {
    snprintf(fewer, sizeof(fewer), "%.*e", digits - 2, v);
    if (strtod(fewer, NULL) == v)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (size_t off = 0; off + 8 <= size; off += 8) {
    double v;
    memcpy(&v, data + off, 8);
    check(v);
  }
  char text[64];
  size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
  memcpy(text, data, n);
  text[n] = '\0';
  check(strtod(text, NULL));
  return 0;
}
