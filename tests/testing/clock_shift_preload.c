/* A test-only LD_PRELOAD library that moves a process's wall clock: every
 * CLOCK_REALTIME reading (clock_gettime, gettimeofday, time) is shifted by
 * the whole seconds written in the file $KINEX_CLOCK_SHIFT_FILE ("+86400"),
 * re-read at most once a second. CLOCK_MONOTONIC is left alone, so timers
 * and timeouts behave. The real-process notification deadline test runs
 * `kinex` under it to pass an Operation Encompass deadline
 * (tests/integration/notifications_e2e_test.cc, EncompassDeadlineE2E).
 *
 * Why not libfaketime: its initialisation recurses into clock_gettime
 * through jemalloc (which the serving binaries link) and the process never
 * starts. This shim allocates nothing and reads the kernel's clocks by
 * system call, so it cannot recurse.
 *
 * Example:
 *   echo +90000 > /tmp/shift
 *   KINEX_CLOCK_SHIFT_FILE=/tmp/shift LD_PRELOAD=build/lib/libkinex_clock_shift.so date
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic long long shift_seconds = 0;
static _Atomic long long last_read = -1; /* CLOCK_MONOTONIC second of the last read */

/* A system call made directly (x86-64), so that neither this library's own
 * syscall() below nor an allocator is involved. Returns -errno on failure. */
static long raw_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static int kernel_clock_gettime(clockid_t id, struct timespec* ts) {
  return (int)raw_syscall(SYS_clock_gettime, id, (long)ts, 0, 0, 0, 0);
}

static long long shift(void) {
  struct timespec now;
  if (kernel_clock_gettime(CLOCK_MONOTONIC, &now) == 0 &&
      atomic_exchange(&last_read, (long long)now.tv_sec) != (long long)now.tv_sec) {
    const char* path = getenv("KINEX_CLOCK_SHIFT_FILE");
    const int fd = path == NULL ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char text[32];
      const ssize_t n = read(fd, text, sizeof(text) - 1);
      close(fd);
      if (n > 0) {
        text[n] = '\0';
        atomic_store(&shift_seconds, strtoll(text, NULL, 10));
      }
    }
  }
  return atomic_load(&shift_seconds);
}

int clock_gettime(clockid_t id, struct timespec* ts) {
  const int rc = kernel_clock_gettime(id, ts);
  if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += shift();
  return rc;
}

int gettimeofday(struct timeval* tv, void* tz) {
  struct timespec ts;
  (void)tz;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec; /* glibc declares tv nonnull */
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}

/* Clock reads by system call are shifted like clock_gettime. Absolute
 * CLOCK_REALTIME futex waits (Abseil's Mutex and CondVar time
 * out this way) carry a deadline computed from the shifted clock: shift it
 * back so the kernel, which keeps the real clock, wakes the waiter on
 * time. Every other call goes straight to the kernel. */
long syscall(long n, ...) {
  va_list ap;
  va_start(ap, n);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  struct timespec shifted;
  if (n == SYS_futex && a[3] != 0 && (a[1] & FUTEX_CLOCK_REALTIME) &&
      (a[1] & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET) {
    shifted = *(const struct timespec*)a[3];
    shifted.tv_sec -= shift();
    a[3] = (long)&shifted;
  }
  if (n == SYS_clock_gettime) {
    /* Some libraries read the clock this way (libstdc++ may). */
    return clock_gettime((clockid_t)a[0], (struct timespec*)a[1]) == 0 ? 0 : -1;
  }
  const long ret = raw_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}

time_t time(time_t* out) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}
