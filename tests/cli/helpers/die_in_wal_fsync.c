/* LD_PRELOAD shim for tests/cli/test_killed_commit.sh: a process that loads
 * it SIGKILLs itself in its first fsync of a SQLite WAL file. By then the
 * commit's frames are written (to the page cache, which a killed process
 * does not lose) but the WAL index in blk.db-shm is not updated: the widest
 * moment a commit can be cut at, hit every time instead of by chance. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int is_wal(int fd) {
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n < 4) return 0;
  path[n] = '\0';
  return strcmp(path + n - 4, "-wal") == 0;
}

int fsync(int fd) {
  if (is_wal(fd)) raise(SIGKILL);
  int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  return real(fd);
}

int fdatasync(int fd) {
  if (is_wal(fd)) raise(SIGKILL);
  int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  return real(fd);
}
