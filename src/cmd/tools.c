/*
 * tools.c - `thanosc tools <group> <command>`: nested command tables.
 */
#include "cmd/cmd.h"

static const struct cmd bucket[] = {
    {"ls", cmd_tools_bucket_ls, "list the blocks of a bucket"},
    {"inspect", cmd_tools_bucket_inspect, "show the blocks of a bucket as a table"},
    {"upload-blocks", cmd_tools_bucket_upload_blocks, "upload local Prometheus blocks to a bucket"},
    {"verify", cmd_tools_bucket_verify, "verify the blocks of a bucket for overlaps and index issues"},
    {"mark", cmd_tools_bucket_mark, "put or remove a deletion, no-compact or no-downsample marker"},
    {"cleanup", cmd_tools_bucket_cleanup, "delete blocks marked for deletion and old partial uploads"},
    {"retention", cmd_tools_bucket_retention, "mark blocks past their resolution's retention for deletion"},
    {"downsample", cmd_tools_bucket_downsample, "continuously downsample the blocks of a bucket"},
    {"web", cmd_tools_bucket_web, "serve the Block Viewer: the blocks of a bucket on a time line"},
    /* Hidden (no summary): object-level helpers for tests and debugging. */
    {"acceptance", cmd_tools_bucket_acceptance, NULL},
    {"get", cmd_tools_bucket_get, NULL},
    {"put", cmd_tools_bucket_put, NULL},
    {"rm", cmd_tools_bucket_rm, NULL},
    {"iter", cmd_tools_bucket_iter, NULL},
    {"stat", cmd_tools_bucket_stat, NULL},
    {"sign", cmd_tools_bucket_sign, NULL},
    {NULL, NULL, NULL},
};

static const struct cmd block[] = {
    {"dump", cmd_tools_block_dump, "print every sample of a local block"},
    {NULL, NULL, NULL},
};

static const struct cmd store[] = {
    {"info", cmd_tools_store_info, "show what a StoreAPI endpoint says about itself"},
    {"series", cmd_tools_store_series, "print the series (or samples) a StoreAPI endpoint serves"},
    {"label-names", cmd_tools_store_label_names, "print the label names of a StoreAPI endpoint"},
    {"label-values", cmd_tools_store_label_values, "print the values of one label of a StoreAPI endpoint"},
    {"serve-test", cmd_tools_store_serve_test, "serve a synthetic StoreAPI (tests and benchmarks)"},
    {NULL, NULL, NULL},
};

static const struct cmd promql[] = {
    {"parse", cmd_tools_promql_parse, "parse a PromQL expression and print it normalised"},
    {"test", cmd_tools_promql_test, "run PromQL .test conformance scripts"},
    {"bench", cmd_tools_promql_bench, "time heavy PromQL range queries in memory"},
    {"eval", cmd_tools_promql_eval, "evaluate PromQL over text-format samples, print API JSON"},
    {NULL, NULL, NULL},
};

static int tools_bucket(int argc, char **argv) {
  return cmd_dispatch(bucket, "thanosc tools bucket", argc, argv);
}
static int tools_block(int argc, char **argv) {
  return cmd_dispatch(block, "thanosc tools block", argc, argv);
}
static int tools_store(int argc, char **argv) {
  return cmd_dispatch(store, "thanosc tools store", argc, argv);
}
static int tools_promql(int argc, char **argv) {
  return cmd_dispatch(promql, "thanosc tools promql", argc, argv);
}

static const struct cmd groups[] = {
    {"bucket", tools_bucket, "object-storage bucket tools"},
    {"block", tools_block, "local TSDB block tools"},
    {"store", tools_store, "StoreAPI client tools"},
    {"promql", tools_promql, "PromQL tools"},
    {NULL, NULL, NULL},
};

int cmd_tools(int argc, char **argv) {
  return cmd_dispatch(groups, "thanosc tools", argc, argv);
}
