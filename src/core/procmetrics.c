/*
 * procmetrics.c - the process_* metrics every Prometheus client exposes
 * (read from /proc/self before each scrape) and thanos_build_info, so that
 * dashboards and alerts written for Thanos work unchanged on thanosc.
 * Implements metrics_register_process() of metrics.h.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "thanosc/metrics.h"

struct proc_metrics {
  struct metric_child *cpu, *rss, *vsize, *vmax, *open_fds, *max_fds, *start;
};

static struct proc_metrics pm;

/* Reads a small /proc file into buf; returns its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "re");
  if (!f)
    return -1;
  size_t len = fread(buf, 1, n - 1, f);
  fclose(f);
  buf[len] = '\0';
  return (ssize_t)len;
}

static double boot_time_seconds(void) {
  char buf[8192];
  if (read_small("/proc/stat", buf, sizeof buf) < 0)
    return 0;
  const char *p = strstr(buf, "\nbtime ");
  return p ? strtod(p + 7, NULL) : 0;
}

static int count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory stream's own descriptor */
}

static void collect(void *data) {
  (void)data;
  char buf[4096];
  if (read_small("/proc/self/stat", buf, sizeof buf) > 0) {
    /* Fields after "pid (comm) ": state is field 3; comm may hold spaces
     * and parentheses, so start after the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long f[24] = {0};
    int n = 0;
    if (p) {
      p += 2;
      char *save = NULL;
      for (char *t = strtok_r(p, " ", &save); t && n < 24;
           t = strtok_r(NULL, " ", &save))
        f[n++] = strtoull(t, NULL, 10);
    }
    if (n >= 22) {
      /* f[0] is field 3 (state): field k is f[k - 3]. */
      double tck = (double)sysconf(_SC_CLK_TCK);
      metric_set(pm.cpu, (double)(f[14 - 3] + f[15 - 3]) / tck);
      metric_set(pm.vsize, (double)f[23 - 3]);
      metric_set(pm.rss, (double)f[24 - 3] * (double)sysconf(_SC_PAGESIZE));
      static double start; /* constant: read /proc/stat once */
      if (start == 0)
        start = boot_time_seconds() + (double)f[22 - 3] / tck;
      metric_set(pm.start, start);
    }
  }
  int fds = count_open_fds();
  if (fds >= 0)
    metric_set(pm.open_fds, fds);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    metric_set(pm.max_fds, rl.rlim_cur == RLIM_INFINITY ? 1.8446744073709552e19
                                                        : (double)rl.rlim_cur);
  if (getrlimit(RLIMIT_AS, &rl) == 0)
    metric_set(pm.vmax, rl.rlim_cur == RLIM_INFINITY ? 1.8446744073709552e19
                                                     : (double)rl.rlim_cur);
}

static const char *arch(void) {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#else
  return "unknown";
#endif
}

static void register_once(void) {
  pm.cpu = metric_child(
      metric_counter("process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds.", NULL));
  pm.rss = metric_child(metric_gauge("process_resident_memory_bytes",
                                     "Resident memory size in bytes.", NULL));
  pm.vsize = metric_child(metric_gauge("process_virtual_memory_bytes",
                                       "Virtual memory size in bytes.", NULL));
  pm.vmax = metric_child(metric_gauge(
      "process_virtual_memory_max_bytes",
      "Maximum amount of virtual memory available in bytes.", NULL));
  pm.open_fds = metric_child(metric_gauge(
      "process_open_fds", "Number of open file descriptors.", NULL));
  pm.max_fds = metric_child(metric_gauge(
      "process_max_fds", "Maximum number of open file descriptors.", NULL));
  pm.start = metric_child(metric_gauge(
      "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.", NULL));
  struct metric *bi = metric_gauge(
      "thanos_build_info",
      "A metric with a constant '1' value labeled by version, revision, "
      "branch, goversion from which thanos was built, and the goos and "
      "goarch for the build.",
      "branch,goarch,goos,goversion,revision,tags,version");
  metric_set(metric_with(bi, "", arch(), "linux", "c11-" __VERSION__,
                         TC_GIT_REV, "", TC_VERSION),
             1);
  metrics_add_collector(collect, NULL);
  collect(NULL);
}

void metrics_register_process(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_once);
}
