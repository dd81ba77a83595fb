/*
 * metrics.c - the metrics registry (see metrics.h). Placeholder until the
 * registry lands.
 */
#include "thanosc/metrics.h"
