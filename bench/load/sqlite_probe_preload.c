/* A bench-only LD_PRELOAD library that lets kinex-bench read back, from the
 * running `kinex` processes, how durable their SQLite stores are: the
 * audit log's `synchronous` and `journal_mode` as its own connections report
 * them, and how often the log's files are synced. kinex-bench refuses to
 * report a Kinex/baseline ratio unless the audit log runs exactly as in
 * production (synchronous=FULL, WAL); the config has no knob for either, so
 * this is the only way to see what the process under test really does.
 *
 * Two interpositions, both cheap next to what they wrap:
 *   sqlite3_exec   after a script holding "PRAGMA" (sql_db.cc opens every
 *                  connection with one), asks the same connection
 *                  `PRAGMA synchronous` and `PRAGMA journal_mode` and appends
 *                  "db=<file> conn=<handle> synchronous=<0-3> journal_mode=<m>"
 *                  to $KINEX_BENCH_PROBE_DIR/pragmas.<pid>.
 *   fsync, fdatasync  counts syncs of the audit store's files in
 *                  $KINEX_BENCH_PROBE_DIR/syncs.<pid> (three little-endian
 *                  uint64, updated in place through a shared mapping):
 *                  [0] the -wal file of $KINEX_BENCH_PROBE_AUDIT_DB (default
 *                  "audit.db"), [1] the database file, [2] any other file.
 *                  With synchronous=FULL in WAL mode every commit syncs the
 *                  -wal file; with NORMAL only checkpoints do.
 * The sync path allocates nothing and calls the kernel directly.
 *
 * Example:
 *   KINEX_BENCH_PROBE_DIR=/tmp/probe LD_PRELOAD=build/lib/libkinex_bench_sqlite_probe.so \
 *     build/bin/kinex --config=kinex.textproto
 *   cat /tmp/probe/pragmas.*   # db=/data/audit.db conn=0x... synchronous=2 journal_mode=wal
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { kWal = 0, kDb = 1, kOther = 2, kCounters = 3 };

static _Atomic uint64_t* counters = NULL;
static char audit_db[256] = "audit.db";
static size_t audit_db_len = 8;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void) {
  const char* name = getenv("KINEX_BENCH_PROBE_AUDIT_DB");
  if (name != NULL && name[0] != '\0' && strlen(name) < sizeof(audit_db)) {
    strcpy(audit_db, name);
    audit_db_len = strlen(audit_db);
  }
  const char* dir = getenv("KINEX_BENCH_PROBE_DIR");
  if (dir == NULL || dir[0] == '\0') return;
  char path[4096];
  if (snprintf(path, sizeof(path), "%s/syncs.%d", dir, (int)getpid()) >= (int)sizeof(path)) return;
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (ftruncate(fd, 4096) == 0) {
    void* map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) counters = (_Atomic uint64_t*)map;
  }
  close(fd);
}

/* Whether `path` ends with "/" + name + suffix. */
static int ends_with(const char* path, size_t len, const char* name, size_t name_len,
                     const char* suffix) {
  const size_t suffix_len = strlen(suffix);
  const size_t want = name_len + suffix_len + 1;
  if (len < want) return 0;
  const char* at = path + len - want;
  return at[0] == '/' && memcmp(at + 1, name, name_len) == 0 &&
         memcmp(at + 1 + name_len, suffix, suffix_len) == 0;
}

static void count_sync(int fd) {
  pthread_once(&init_once, init);
  if (counters == NULL) return;
  char link[64];
  char path[4096];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof(path) - 1);
  int which = kOther;
  if (n > 0) {
    path[n] = '\0';
    if (ends_with(path, (size_t)n, audit_db, audit_db_len, "-wal")) {
      which = kWal;
    } else if (ends_with(path, (size_t)n, audit_db, audit_db_len, "")) {
      which = kDb;
    }
  }
  atomic_fetch_add(&counters[which], 1);
}

int fsync(int fd) {
  count_sync(fd);
  return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd) {
  count_sync(fd);
  return (int)syscall(SYS_fdatasync, fd);
}

typedef int (*exec_fn)(sqlite3*, const char*, int (*)(void*, int, char**, char**), void*, char**);

/* Reads back one connection's durability settings into the pragmas file. */
static void report(sqlite3* db) {
  const char* dir = getenv("KINEX_BENCH_PROBE_DIR");
  if (dir == NULL || dir[0] == '\0') return;
  int synchronous = -1;
  char journal[32] = "?";
  sqlite3_stmt* stmt = NULL;
  if (sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    synchronous = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  stmt = NULL;
  if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* mode = sqlite3_column_text(stmt, 0);
    if (mode != NULL) snprintf(journal, sizeof(journal), "%s", (const char*)mode);
  }
  sqlite3_finalize(stmt);
  const char* file = sqlite3_db_filename(db, "main");
  char path[4096];
  char line[4096 + 160];
  if (snprintf(path, sizeof(path), "%s/pragmas.%d", dir, (int)getpid()) >= (int)sizeof(path)) {
    return;
  }
  const int len = snprintf(line, sizeof(line), "db=%s conn=%p synchronous=%d journal_mode=%s\n",
                           file == NULL ? "" : file, (void*)db, synchronous, journal);
  if (len <= 0 || len >= (int)sizeof(line)) return;
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ssize_t written = write(fd, line, (size_t)len); /* one line: appended whole */
  (void)written;
  close(fd);
}

int sqlite3_exec(sqlite3* db, const char* sql, int (*callback)(void*, int, char**, char**),
                 void* arg, char** errmsg) {
  static exec_fn real = NULL;
  if (real == NULL) real = (exec_fn)dlsym(RTLD_NEXT, "sqlite3_exec");
  if (real == NULL) return SQLITE_ERROR;
  const int rc = real(db, sql, callback, arg, errmsg);
  if (rc == SQLITE_OK && sql != NULL && strstr(sql, "PRAGMA") != NULL) report(db);
  return rc;
}
