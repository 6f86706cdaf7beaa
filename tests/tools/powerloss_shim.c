/* tests/tools/powerloss_shim.c: an LD_PRELOAD library that records every
 * write and flush esd makes to its journal and to LMDB's data.mdb, so that
 * powerloss_check can rebuild the files as a power loss at any moment
 * could have left them.
 *
 *   POWERLOSS_DIR=DATA_DIR POWERLOSS_LOG=FILE LD_PRELOAD=libpowerloss_shim.so esd ...
 *
 * Log records, in the order the calls returned (under one lock):
 *   "PLW1" kind:u8 file:u8 0:u16 offset:u64 length:u64 data[length]
 * kind 1: a write that returned (its bytes, where they went), durable only
 * after a later flush of its file; kind 2: a flush of the file (fsync,
 * fdatasync); kind 3: a write to a descriptor opened with O_DSYNC or
 * O_SYNC, durable when it returned (and nothing else with it).
 * file 0: DATA_DIR/journal, 1: DATA_DIR/data.mdb. Other files pass through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

enum { kMaxFd = 4096, kWrite = 1, kFlush = 2, kDurableWrite = 3 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static signed char tracked[kMaxFd]; /* -1: no; 0: journal; 1: data.mdb (+2: synchronous) */
static int log_fd = -1;

static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static ssize_t (*real_pwritev)(int, const struct iovec*, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_openat)(int, const char*, int, ...);
static int (*real_close)(int);

__attribute__((constructor)) static void init(void) {
  for (int i = 0; i < kMaxFd; i++) tracked[i] = -1;
    /* (a data pointer copied into a function pointer: ISO C has no cast) */
#define LOAD(f, name)                  \
  do {                                 \
    void* p_ = dlsym(RTLD_NEXT, name); \
    memcpy(&(f), &p_, sizeof p_);      \
  } while (0)
  LOAD(real_write, "write");
  LOAD(real_pwrite, "pwrite64");
  LOAD(real_writev, "writev");
  LOAD(real_pwritev, "pwritev64");
  LOAD(real_fsync, "fsync");
  LOAD(real_fdatasync, "fdatasync");
  LOAD(real_openat, "openat64");
  LOAD(real_close, "close");
#undef LOAD
  const char* path = getenv("POWERLOSS_LOG");
  if (path != NULL)
    log_fd = real_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static void log_bytes(const void* p, size_t n) {
  const char* c = p;
  while (n > 0) {
    ssize_t w = real_write(log_fd, c, n);
    if (w <= 0) abort(); /* a lost record would make every check meaningless */
    c += w;
    n -= (size_t)w;
  }
}

static void record(int kind, int file, uint64_t off, const struct iovec* iov, int n, size_t len) {
  unsigned char h[24];
  memcpy(h, "PLW1", 4);
  h[4] = (unsigned char)kind;
  h[5] = (unsigned char)file;
  h[6] = h[7] = 0;
  uint64_t l = kind == kFlush ? 0 : len;
  memcpy(h + 8, &off, 8);
  memcpy(h + 16, &l, 8);
  log_bytes(h, sizeof h);
  size_t left = l;
  for (int i = 0; i < n && left > 0; i++) {
    size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;
    log_bytes(iov[i].iov_base, take);
    left -= take;
  }
}

static int file_of(int fd) { return fd >= 0 && fd < kMaxFd ? tracked[fd] : -1; }

static void track(int fd, const char* path, int flags) {
  const char* dir = getenv("POWERLOSS_DIR");
  if (fd < 0 || fd >= kMaxFd || dir == NULL || log_fd < 0) return;
  size_t n = strlen(dir);
  if (strncmp(path, dir, n) != 0 || path[n] != '/') return;
  const char* name = path + n + 1;
  int file = strcmp(name, "journal") == 0 ? 0 : strcmp(name, "data.mdb") == 0 ? 1 : -1;
  if (file < 0) return;
  int sync = (flags & (O_DSYNC | O_SYNC)) != 0;
  tracked[fd] = (signed char)(file + (sync ? 2 : 0));
}

/* Logs a write that returned `w` bytes at `off`, and its flush when the
 * descriptor is synchronous. */
static void wrote(int fd, uint64_t off, const struct iovec* iov, int n, ssize_t w) {
  int t = file_of(fd);
  if (t < 0 || w <= 0) return;
  pthread_mutex_lock(&mu);
  record(t >= 2 ? kDurableWrite : kWrite, t % 2, off, iov, n, (size_t)w);
  pthread_mutex_unlock(&mu);
}

/* Opens through openat (open's own path: dirfd AT_FDCWD), and tracks the
 * file when its path is absolute. `ap` holds the mode when one is given. */
static int opened(int dirfd, const char* path, int flags, va_list ap) {
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  int fd = real_openat(dirfd, path, flags, mode);
  if (path[0] == '/') track(fd, path, flags);
  return fd;
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int fd = opened(AT_FDCWD, path, flags, ap);
  va_end(ap);
  return fd;
}
int open(const char* path, int flags, ...) __attribute__((alias("open64")));

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int fd = opened(dirfd, path, flags, ap);
  va_end(ap);
  return fd;
}
int openat(int dirfd, const char* path, int flags, ...) __attribute__((alias("openat64")));

int close(int fd) {
  if (fd >= 0 && fd < kMaxFd) tracked[fd] = -1;
  return real_close(fd);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  ssize_t w = real_pwrite(fd, buf, n, off);
  struct iovec v = {(void*)buf, n};
  wrote(fd, (uint64_t)off, &v, 1, w);
  return w;
}
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) __attribute__((alias("pwrite64")));

ssize_t write(int fd, const void* buf, size_t n) {
  off_t off = file_of(fd) >= 0 ? lseek(fd, 0, SEEK_CUR) : 0;
  ssize_t w = real_write(fd, buf, n);
  struct iovec v = {(void*)buf, n};
  wrote(fd, (uint64_t)off, &v, 1, w);
  return w;
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
  off_t off = file_of(fd) >= 0 ? lseek(fd, 0, SEEK_CUR) : 0;
  ssize_t w = real_writev(fd, iov, n);
  wrote(fd, (uint64_t)off, iov, n, w);
  return w;
}

ssize_t pwritev64(int fd, const struct iovec* iov, int n, off_t off) {
  ssize_t w = real_pwritev(fd, iov, n, off);
  wrote(fd, (uint64_t)off, iov, n, w);
  return w;
}
ssize_t pwritev(int fd, const struct iovec* iov, int n, off_t off)
    __attribute__((alias("pwritev64")));

static int flushed(int fd, int rc) {
  int t = file_of(fd);
  if (t >= 0 && rc == 0) {
    pthread_mutex_lock(&mu);
    record(kFlush, t % 2, 0, NULL, 0, 0);
    pthread_mutex_unlock(&mu);
  }
  return rc;
}
int fsync(int fd) { return flushed(fd, real_fsync(fd)); }
int fdatasync(int fd) { return flushed(fd, real_fdatasync(fd)); }
