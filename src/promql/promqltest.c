#include "thanosc/promql.h"
int promql_test_run(char **files, size_t nfiles,
                    const struct promql_test_opts *o) {
  (void)files; (void)nfiles; (void)o;
  return 1;
}
