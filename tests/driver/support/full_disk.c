/* A full disk for tests, without test hooks in the program: loaded with
 * LD_PRELOAD, this makes the program's writes to files under one folder fail
 * with ENOSPC once a byte budget is spent, as a file system that fills up
 * does (the write that crosses the budget writes the part that fits).
 *
 *   LR_FULL_DISK_DIR    the folder (absolute, as /proc/self/fd shows it)
 *   LR_FULL_DISK_BYTES  the budget: bytes that may still be written under it
 *   LR_FULL_DISK_LOG    a file outside it: one line per write under the folder,
 *                       "BYTES_BEFORE BYTES PATH" (to place budgets in a run)
 *   LR_FULL_DISK_LATE   1: the writes succeed and fsync fails with ENOSPC
 *                       once the budget is spent (space found missing only
 *                       when the data is flushed: delayed allocation, NFS)
 *
 * Chosen over a small tmpfs or loop file system (they need root) and over
 * RLIMIT_FSIZE (a limit per file, not on the disk). It catches the write
 * system calls the program makes through the dynamic linker: write, writev,
 * pwrite, pwritev, sendfile and copy_file_range, which is every path of the
 * driver's own writers, libstdc++'s file streams and std::filesystem's copies;
 * and fwrite, through which gnuplot (cairo, libpng) writes the report's plots.
 * glibc's stdio flushes through an internal alias it does not see, so a
 * stream's bytes are counted when fwrite takes them (the driver's best-effort
 * run log, written with fprintf, is not counted). The budget is the process
 * tree's: the bytes written are counted in a memory file the children
 * (gnuplot) inherit (LR_FULL_DISK_SHARED_FD, set by the first process).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long long budget = -1; /* -1: no budget (count only) */
static long long own_written = 0;
static long long* written = &own_written; /* the process tree's count, once shared */
static char dir[PATH_MAX];
static size_t dir_len = 0;

static int log_fd = -1;
static int late = 0;

/* The count shared with the children: the parent's memory file when this
 * process inherited it, else a new one its own children inherit. */
static void share_written(void) {
  const char* inherited = getenv("LR_FULL_DISK_SHARED_FD");
  int fd = inherited ? atoi(inherited) : -1;
  char link[64], target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = fd >= 0 ? readlink(link, target, sizeof target - 1) : -1;
  if (n >= 0) target[n] = '\0';
  if (n < 0 || strncmp(target, "/memfd:lr_full_disk", 19) != 0) {
    fd = memfd_create("lr_full_disk", 0); /* no close-on-exec: the children get it */
    if (fd < 0 || ftruncate(fd, sizeof(long long)) != 0) return;
    char text[16];
    snprintf(text, sizeof text, "%d", fd);
    setenv("LR_FULL_DISK_SHARED_FD", text, 1); /* before any thread: the constructor */
  }
  void* p = mmap(NULL, sizeof(long long), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p != MAP_FAILED) written = (long long*)p;
}

__attribute__((constructor)) static void full_disk_init(void) {
  const char* d = getenv("LR_FULL_DISK_DIR");
  const char* b = getenv("LR_FULL_DISK_BYTES");
  const char* log = getenv("LR_FULL_DISK_LOG");
  if (d && *d && strlen(d) + 2 < sizeof dir) {
    strcpy(dir, d);
    dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/') dir[--dir_len] = '\0';
  }
  if (b && *b) budget = atoll(b);
  late = getenv("LR_FULL_DISK_LATE") && atoi(getenv("LR_FULL_DISK_LATE")) == 1;
  if (log && *log) log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (dir_len > 0) share_written();
}

/* Whether fd is a regular file under the folder; its path in `path` then. */
static int watched_path(int fd, char path[PATH_MAX]) {
  if (dir_len == 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, PATH_MAX - 1);
  if (n < 0) return 0;
  path[n] = '\0';
  return strncmp(path, dir, dir_len) == 0 && path[dir_len] == '/';
}

static int watched(int fd) {
  char path[PATH_MAX];
  return watched_path(fd, path);
}

/* How many of n bytes the disk takes now (0: full, errno set to ENOSPC). */
static size_t allowed(int fd, size_t n) {
  if (n == 0 || budget < 0 || late || !watched(fd)) return n;
  long long left = budget - __atomic_load_n(written, __ATOMIC_SEQ_CST);
  if (left <= 0) {
    errno = ENOSPC;
    return 0;
  }
  return (unsigned long long)left < n ? (size_t)left : n;
}

static ssize_t write_to_log(const char* text, size_t n);

static void count(int fd, ssize_t done) {
  char path[PATH_MAX];
  if (done <= 0 || !watched_path(fd, path)) return;
  const long long before = __atomic_fetch_add(written, (long long)done, __ATOMIC_SEQ_CST);
  if (log_fd < 0) return;
  char line[PATH_MAX + 64];
  const int n = snprintf(line, sizeof line, "%lld %zd %s\n", before, done, path);
  if (n > 0) (void)write_to_log(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The C library's function `name`, found once. */
#define REAL(name)                      \
  static __typeof__(&name) real_##name; \
  if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void* buf, size_t n) {
  REAL(write);
  const size_t ok = allowed(fd, n);
  if (n > 0 && ok == 0) return -1;
  const ssize_t r = real_write(fd, buf, ok);
  count(fd, r);
  return r;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  REAL(pwrite);
  const size_t ok = allowed(fd, n);
  if (n > 0 && ok == 0) return -1;
  const ssize_t r = real_pwrite(fd, buf, ok, off);
  count(fd, r);
  return r;
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

/* The vectors cut to `ok` bytes (at most 64 of them: more pass through whole
 * up to the budget's cut in the first 64). */
static int cut_iov(const struct iovec* iov, int cnt, size_t ok, struct iovec* out) {
  int k = 0;
  for (int i = 0; i < cnt && k < 64 && ok > 0; ++i) {
    out[k] = iov[i];
    if (out[k].iov_len > ok) out[k].iov_len = ok;
    ok -= out[k].iov_len;
    ++k;
  }
  return k;
}

static size_t iov_total(const struct iovec* iov, int cnt) {
  size_t n = 0;
  for (int i = 0; i < cnt; ++i) n += iov[i].iov_len;
  return n;
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  REAL(writev);
  const size_t n = iov_total(iov, cnt);
  const size_t ok = allowed(fd, n);
  if (n > 0 && ok == 0) return -1;
  struct iovec cut[64];
  const ssize_t r = ok == n ? real_writev(fd, iov, cnt) : real_writev(fd, cut, cut_iov(iov, cnt, ok, cut));
  count(fd, r);
  return r;
}

ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(pwritev);
  const size_t n = iov_total(iov, cnt);
  const size_t ok = allowed(fd, n);
  if (n > 0 && ok == 0) return -1;
  struct iovec cut[64];
  const ssize_t r = ok == n ? real_pwritev(fd, iov, cnt, off) : real_pwritev(fd, cut, cut_iov(iov, cnt, ok, cut), off);
  count(fd, r);
  return r;
}

ssize_t sendfile(int out, int in, off_t* off, size_t n) {
  REAL(sendfile);
  const size_t ok = allowed(out, n);
  if (n > 0 && ok == 0) return -1;
  const ssize_t r = real_sendfile(out, in, off, ok);
  count(out, r);
  return r;
}

ssize_t sendfile64(int out, int in, off_t* off, size_t n) { return sendfile(out, in, off, n); }

ssize_t copy_file_range(int in, off_t* in_off, int out, off_t* out_off, size_t n, unsigned flags) {
  REAL(copy_file_range);
  const size_t ok = allowed(out, n);
  if (n > 0 && ok == 0) return -1;
  const ssize_t r = real_copy_file_range(in, in_off, out, out_off, ok, flags);
  count(out, r);
  return r;
}

/* Whole items only, as a full disk under stdio's buffer would leave them. */
size_t fwrite(const void* buf, size_t size, size_t n, FILE* f) {
  REAL(fwrite);
  const int fd = fileno(f);
  const size_t bytes = size * n, ok = size ? allowed(fd, bytes) / size : n;
  if (ok < n) {
    const size_t r = ok ? real_fwrite(buf, size, ok, f) : 0;
    count(fd, (ssize_t)(r * size));
    errno = ENOSPC;
    return r;
  }
  const size_t r = real_fwrite(buf, size, n, f);
  count(fd, (ssize_t)(r * size));
  return r;
}

static ssize_t write_to_log(const char* text, size_t n) { return write(log_fd, text, n); }

/* Late mode: the flush finds the disk full. */
static int flush_fails(int fd) {
  if (!late || budget < 0 || __atomic_load_n(written, __ATOMIC_SEQ_CST) <= budget || !watched(fd)) return 0;
  errno = ENOSPC;
  return 1;
}

int fsync(int fd) {
  REAL(fsync);
  return flush_fails(fd) ? -1 : real_fsync(fd);
}

int fdatasync(int fd) {
  REAL(fdatasync);
  return flush_fails(fd) ? -1 : real_fdatasync(fd);
}
