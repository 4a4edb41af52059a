// Kinex's one SQL layer: the connection every store uses (audit, records,
// consent), so one storage implementation per service serves both SQLite
// (default, embedded) and PostgreSQL (microservices mode), plus a pool of
// connections for concurrent readers and the schema_version table with
// Migrate. Durability is set here, once: SQLite opens in WAL mode with
// synchronous=FULL (fsync at every commit) and one busy timeout; PostgreSQL
// commits with its default synchronous_commit. Statements use PostgreSQL-style numbered
// parameters ($1, $2, ...) on both backends; scripts (ExecScript: the
// stores' schema files, services/<svc>/schema/NNNN_*.sql, embedded at build
// time) may use the placeholders of ExpandPlaceholders, so one file serves
// both dialects.
//
// Error messages never include parameter values (they may be child
// identifiers): constraint violations become ABORTED ("concurrent update;
// retry"), a lost or busy database UNAVAILABLE, anything else INTERNAL.
// Each carries an explicit reason (services/common/error_reason.h:
// STORAGE_CONFLICT, STORAGE_UNAVAILABLE, STORAGE_FAILED; Migrate's
// SCHEMA_TOO_NEW and SCHEMA_MIGRATION_FAILED) with metadata `dialect`
// (sqlite, postgres); the stores add `store` (WithStore). Never a value.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(std::unique_ptr<sql::Db> db, sql::OpenSqlite(path));
//   KINEX_RETURN_IF_ERROR(db->Transaction([&]() -> absl::Status {
//     KINEX_ASSIGN_OR_RETURN(auto rows,
//                            db->Query("SELECT v FROM t WHERE k = $1", {key}));
//     return absl::OkStatus();
//   }));
//
// Readers on their own connections (Pool):
//   sql::Pool readers([&] { return sql::OpenSqlite({.path = path}); });
//   KINEX_ASSIGN_OR_RETURN(sql::Pool::Lease db, readers.Acquire());
//   KINEX_RETURN_IF_ERROR(db->ForEach("SELECT ...", {}, [&](const sql::Row& r) {
//     ...; return absl::OkStatus();
//   }));
#ifndef KINEX_SERVICES_COMMON_SQL_SQL_DB_H_
#define KINEX_SERVICES_COMMON_SQL_SQL_DB_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace kinex::sql {

// A binary parameter (BLOB / BYTEA).
struct Blob {
  std::string bytes;
};

// A statement parameter: NULL, integer, text or binary.
using Value = std::variant<std::monostate, int64_t, std::string, Blob>;

// One result row. Every column is its text form (integers in decimal), blobs
// as their raw bytes, NULL as nullopt.
struct Row {
  std::vector<std::optional<std::string>> cols;
  // Column `i` as an integer (0 for NULL or non-numeric text).
  int64_t Int(size_t i) const;
  // Column `i` as text/bytes ("" for NULL).
  const std::string& Str(size_t i) const;
  // Whether column `i` is NULL.
  bool IsNull(size_t i) const { return !cols[i].has_value(); }
};

// Which SQL dialect a Db speaks.
enum class Dialect { kSqlite, kPostgres };

// "sqlite" or "postgres": the `dialect` of an error's metadata.
absl::string_view DialectName(Dialect dialect);

// `script` with its placeholders replaced for `dialect` (what ExecScript
// runs), so one schema file serves both:
//   {BLOB}           BLOB / BYTEA
//   {CTEXT}          TEXT / TEXT COLLATE "C" (text compared byte by byte, so
//                    ORDER BY on ids pages identically on both)
//   {INT}            INTEGER / BIGINT (SQLite's rowid alias must be spelled
//                    INTEGER PRIMARY KEY)
//   {SERIAL}         INTEGER PRIMARY KEY AUTOINCREMENT / BIGSERIAL PRIMARY KEY
//   {WITHOUT_ROWID}  " WITHOUT ROWID" / "" (after a table's closing paren)
std::string ExpandPlaceholders(absl::string_view script, Dialect dialect);

// `status` with metadata `store` (records, consent, audit) added when it is
// an error of the SQL layer or of a store on it (one carrying metadata
// `dialect`); any other status unchanged. The stores apply it to what they
// return, so an operator sees which store failed.
absl::Status WithStore(absl::Status status, absl::string_view store);

// One database connection. Not thread-safe: callers serialise access (the
// stores hold a mutex around every transaction).
class Db {
 public:
  virtual ~Db() = default;

  // The dialect, for the few statements that differ.
  virtual Dialect dialect() const = 0;

  // Runs one statement and returns its rows.
  virtual absl::StatusOr<std::vector<Row>> Query(absl::string_view sql,
                                                 const std::vector<Value>& params = {}) = 0;

  // Runs one query and calls `fn` for each row, in order, stopping at the
  // first error `fn` returns. SQLite streams the rows (a large result is
  // never in memory at once); PostgreSQL reads the whole result first, so
  // callers page large reads with LIMIT.
  virtual absl::Status ForEach(absl::string_view sql, const std::vector<Value>& params,
                               const std::function<absl::Status(const Row&)>& fn);

  // Whether the connection is usable (PostgreSQL: still connected). A Pool
  // drops connections that are not.
  virtual bool Healthy() const { return true; }

  // Runs one statement; returns the number of rows it changed.
  virtual absl::StatusOr<int64_t> Exec(absl::string_view sql,
                                       const std::vector<Value>& params = {}) = 0;

  // Runs statements separated by ';' with no parameters (schema set-up,
  // the schema files). Placeholders are replaced per dialect first
  // (ExpandPlaceholders). PostgreSQL runs the script as one implicit
  // transaction unless inside Transaction, and passes dollar-quoted ($$)
  // bodies through untouched.
  absl::Status ExecScript(absl::string_view sql);

  // Bulk load: inserts `rows` (each as many values as `columns`) into
  // `table` as fast as the backend allows (COPY on PostgreSQL, a prepared
  // statement on SQLite). Must be called inside Transaction.
  virtual absl::Status BulkInsert(absl::string_view table, const std::vector<std::string>& columns,
                                  const std::vector<std::vector<Value>>& rows) = 0;

  // Runs `fn` in a transaction: commits when it returns OK, rolls back
  // otherwise (and on a failed commit), so a failed request leaves nothing
  // behind. Not reentrant.
  absl::Status Transaction(const std::function<absl::Status()>& fn);

  // Runs `fn`, which only reads, in a read-only transaction: every statement
  // sees the one snapshot its first statement saw (SQLite: a deferred BEGIN;
  // PostgreSQL: REPEATABLE READ, READ ONLY). Takes no write lock, so it
  // never waits for a writer on another connection, nor one for it.
  absl::Status ReadTransaction(const std::function<absl::Status()>& fn);

 protected:
  virtual absl::Status Begin() = 0;
  virtual absl::Status BeginRead() = 0;
  // Ends the transaction begun: commits if `status` is OK, rolls back
  // otherwise and on a failed commit. Returns `status` or the commit's error.
  absl::Status Finish(absl::Status status);
  virtual absl::Status Commit() = 0;
  virtual absl::Status Rollback() = 0;
  // Runs `script` as it is (placeholders already replaced).
  virtual absl::Status ExecExpandedScript(const std::string& script) = 0;
};

// One step of a store's schema: brings it from version `version - 1` to
// `version` (DDL and backfill), inside the transaction Migrate opens.
struct Migration {
  int64_t version = 0;
  std::function<absl::Status(Db&)> apply;
};

// Brings `component`'s schema up to the newest of `migrations` (ascending
// versions from 1): creates the table schema_version (component, version) if
// absent, then in ONE transaction applies every migration above the stored
// version, in order, and records the new version, so a failed upgrade
// leaves the store exactly as it was. A store whose recorded version is
// newer than any migration known here is FAILED_PRECONDITION (an older
// binary must not write a newer schema), reason SCHEMA_TOO_NEW; a failed
// step keeps its code, reason SCHEMA_MIGRATION_FAILED (metadata `cause`: the
// step's own reason). Both with metadata `store` (= `component`) and
// `dialect`. Not thread-safe (call at open).
absl::Status Migrate(Db& db, absl::string_view component, const std::vector<Migration>& migrations);

// The schema version recorded for `component` (0 if none). For tests and
// operators.
absl::StatusOr<int64_t> SchemaVersion(Db& db, absl::string_view component);

// How to open an SQLite database.
struct SqliteOptions {
  // Required. The database file, or ":memory:" for a private in-memory one.
  std::string path;
  // Default true: create the file when missing.
  bool create = true;
  // Default true: synchronous=FULL, so a committed transaction survives
  // power loss. false (synchronous=NORMAL) only for tests and benchmarks
  // that do not care about power loss.
  bool synchronous_full = true;
  // Default 0: SQLite's own page cache (2 MiB). Otherwise the cache in KiB,
  // per connection (the audit log uses 8 MiB: each commit then writes
  // little more than its new rows' pages).
  int cache_kib = 0;
  // Default 0: SQLite's own WAL checkpoint interval (1000 pages). Larger
  // means fewer checkpoints on an append-heavy store.
  int wal_autocheckpoint_pages = 0;
};

// How long a connection waits for another's write lock before UNAVAILABLE.
// One value for every store.
inline constexpr int kSqliteBusyTimeoutMs = 10000;

// Opens an SQLite database with WAL journaling, foreign keys on, the busy
// timeout above and `options`. UNAVAILABLE naming the path when it cannot be
// opened.
absl::StatusOr<std::unique_ptr<Db>> OpenSqlite(const SqliteOptions& options);
inline absl::StatusOr<std::unique_ptr<Db>> OpenSqlite(const std::string& path) {
  return OpenSqlite(SqliteOptions{.path = path});
}

// Connects to PostgreSQL with a libpq conninfo string. UNAVAILABLE naming
// nothing secret when the server cannot be reached.
absl::StatusOr<std::unique_ptr<Db>> OpenPostgres(const std::string& conninfo);

// A pool of connections to one database, opened on demand by `open` and
// kept (up to `max_idle`) for the next caller. Each caller leases one
// connection for as long as it needs it, so readers run concurrently
// (SQLite WAL readers do not block the writer). Thread-safe.
class Pool {
 public:
  using Opener = std::function<absl::StatusOr<std::unique_ptr<Db>>()>;

  // A leased connection; returned to the pool (if still Healthy) when the
  // lease is destroyed. Movable.
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), db_(std::move(other.db_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Db& operator*() const { return *db_; }
    Db* operator->() const { return db_.get(); }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Db> db) : pool_(pool), db_(std::move(db)) {}
    Pool* pool_;
    std::unique_ptr<Db> db_;
  };

  // `max_open` 0: no limit on connections leased at once. Otherwise Acquire
  // waits while `max_open` are leased (and max_idle is at most max_open).
  explicit Pool(Opener open, size_t max_idle = 8, size_t max_open = 0)
      : open_(std::move(open)),
        max_idle_(max_open == 0 ? max_idle : std::min(max_idle, max_open)),
        max_open_(max_open) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An idle healthy connection, or a new one from `open`.
  absl::StatusOr<Lease> Acquire();

 private:
  void Release(std::unique_ptr<Db> db);

  const Opener open_;
  const size_t max_idle_;
  const size_t max_open_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Db>> idle_ ABSL_GUARDED_BY(mu_);
  size_t leased_ ABSL_GUARDED_BY(mu_) = 0;
};

// One store's connections: the writer, whose transactions are serialised
// here, and, where the database allows a second connection, a pool of
// readers whose reads are snapshots of their own (ReadTransaction): they run
// beside each other and beside the writer, so a read never waits for a
// write's commit (its fsync), nor for the writer's mutex. A private in-memory
// SQLite database has no second connection: without an opener, reads take
// the writer's lock and run on it without a transaction (the lock already
// makes them one snapshot). Thread-safe.
//
// How many readers: at most one per core, at least 2 and at most 8
// (DefaultMaxReaders). More readers than cores only add connections, each
// with a cold page cache of its own; measured on a 2-core machine with 64
// callers, 8 readers cost about 15 % more CPU per call than 2, and a longer tail
// (bench/load/README.md).
//
// Example (SqlRecordsStorage):
//   sql::Connections db(std::move(writer), ConfiguredReaderOpener(storage, data_dir));
//   KINEX_RETURN_IF_ERROR(db.Read([&](sql::Db& d) { ...SELECTs...; }));
//   KINEX_RETURN_IF_ERROR(db.Write([&](sql::Db& d) { ...in one transaction...; }));
class Connections {
 public:
  // The cores this process may use, clamped to [2, 8].
  static size_t DefaultMaxReaders();

  // `open_reader` may be null (reads share the writer). `max_readers` 0:
  // DefaultMaxReaders().
  Connections(std::unique_ptr<Db> writer, Pool::Opener open_reader, size_t max_readers = 0);

  // Runs `fn` in one transaction on the writer.
  absl::Status Write(const std::function<absl::Status(Db&)>& fn);
  // Runs `fn`, which must only read, on a reader (or the writer, as above).
  absl::Status Read(const std::function<absl::Status(Db&)>& fn);

 private:
  absl::Mutex mu_;
  std::unique_ptr<Db> writer_ ABSL_GUARDED_BY(mu_);
  std::optional<Pool> readers_;
};

}  // namespace kinex::sql

#endif  // KINEX_SERVICES_COMMON_SQL_SQL_DB_H_
