/*
 * tsdb/dump.h - `promtool tsdb dump`-compatible sample printing.
 */
#ifndef THANOSC_TSDB_DUMP_H
#define THANOSC_TSDB_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "thanosc/labels.h"

/*
 * Prints the samples in [mint, maxt] of the series matching any of the
 * nsels selectors, from the block at path or from every block (ULID-named
 * subdirectory) of the data directory at path. Series with the same labels
 * in several blocks are merged into one, in time order, as promtool does.
 * Errors name the file and section.
 */
int tsdb_dump(const char *path, const struct matchers *sels, size_t nsels,
              int64_t mint, int64_t maxt, FILE *out);

#endif
