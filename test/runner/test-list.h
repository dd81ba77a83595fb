/*
 * test-list.h - every unit test, as an X-macro over the per-module lists.
 * Each module owns its list.h; add a test by adding a TEST_ENTRY line there.
 */
#include "unit/core/list.h"
#include "unit/tsdb/list.h"
#include "unit/objstore/list.h"
#include "unit/net/list.h"
#include "unit/grpc/list.h"
#include "unit/promql/list.h"
#include "unit/store/list.h"
#include "unit/query/list.h"
#include "unit/sidecar/list.h"
#include "unit/compact/list.h"
#include "unit/querier/list.h"
