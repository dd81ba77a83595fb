/*
 * fmtfloat.h - doubles as text the way Go's strconv.FormatFloat(v, fmt, -1,
 * 64) writes them: the shortest decimal that reads back as the same double
 * (the closest such one when several have that length), laid out as 'e'
 * ("1.5e+07", "1e-07", "0e+00"), 'f' ("15000000", "0.0000001") or 'g' ('e'
 * when the decimal exponent is below -4 or from 6 up, else 'f').
 *
 * Non-finite values are "NaN", "+Inf" and "-Inf" in every layout; negative
 * zero keeps its sign ("-0"). Every float the project prints for Prometheus
 * or Thanos compatibility goes through here: HTTP API sample values, the
 * text exposition, label values made from numbers, PromQL printing.
 */
#ifndef THANOSC_FMTFLOAT_H
#define THANOSC_FMTFLOAT_H

#include <stddef.h>
#include <stdint.h>

#include "thanosc/buf.h"

/* Bytes fmtfloat_write() may need, the '\0' included ('f' of 5e-324 is
 * "0." and 323 zeros and "5"). */
#define FMTFLOAT_MAX 400

/* Writes v in layout fmt ('e', 'f' or 'g') and a '\0' to out (at least
 * FMTFLOAT_MAX bytes); returns the length. */
size_t fmtfloat_write(char *out, double v, char fmt);

/* Appends v in layout fmt to b. */
int fmtfloat_add(struct tc_buf *b, double v, char fmt);

/* Writes the decimal digits of u to out (no '\0'); returns their count. */
size_t fmtfloat_uint(char *out, uint64_t u);

#endif
