/*
 * runner.c - run-tests: runs every unit test (or those named on the command
 * line, or whose names start with a given prefix followed by '*'), each in a
 * forked child with a timeout, and ends with "unit: N passed, M failed".
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define TEST_ENTRY(name) void test_##name(void);
#include "test-list.h"
#undef TEST_ENTRY

struct test_case {
  const char *name;
  void (*fn)(void);
};

static const struct test_case tests[] = {
#define TEST_ENTRY(name) {#name, test_##name},
#include "test-list.h"
#undef TEST_ENTRY
    {NULL, NULL}};

static char tmpdir[PATH_MAX];

const char *test_srcdir(void) {
  const char *s = getenv("THANOSC_SRCDIR");
  return s ? s : TC_SRCDIR;
}

const char *test_tmpdir(void) { return tmpdir; }

static void rmtree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      char p[PATH_MAX];
      snprintf(p, sizeof p, "%s/%s", path, e->d_name);
      struct stat st;
      if (!lstat(p, &st) && S_ISDIR(st.st_mode))
        rmtree(p);
      else
        unlink(p);
    }
    closedir(d);
  }
  rmdir(path);
}

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2)
    return 1;
  for (int i = 1; i < argc; i++) {
    size_t n = strlen(argv[i]);
    if (n && argv[i][n - 1] == '*' ? !strncmp(name, argv[i], n - 1)
                                   : !strcmp(name, argv[i]))
      return 1;
  }
  return 0;
}

static int run_one(const struct test_case *t, int timeout_s) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/thanosc-test-%d-XXXXXX", getpid());
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    alarm((unsigned)timeout_s);
    t->fn();
    fflush(NULL);
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  rmtree(tmpdir);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    return 0;
  if (WIFSIGNALED(st))
    fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(st),
            WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
  return 1;
}

int main(int argc, char **argv) {
  int passed = 0, failed = 0;
  const char *to = getenv("THANOSC_TEST_TIMEOUT");
  int timeout_s = to ? (int)strtol(to, NULL, 10) : 120;
  if (argc == 2 && !strcmp(argv[1], "--list")) {
    for (const struct test_case *t = tests; t->name; t++)
      printf("%s\n", t->name);
    return 0;
  }
  for (const struct test_case *t = tests; t->name; t++) {
    if (!selected(t->name, argc, argv))
      continue;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = run_one(t, timeout_s);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    printf("%s %d - %s (%.0f ms)\n", rc ? "not ok" : "ok", passed + failed + 1,
           t->name, ms);
    fflush(stdout);
    if (rc)
      failed++;
    else
      passed++;
  }
  printf("unit: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
