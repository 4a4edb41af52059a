// A minimal SQL connection used by the records and consent stores, so one
// SQL storage implementation serves both SQLite (default, embedded) and
// PostgreSQL (microservices mode). Statements use PostgreSQL-style numbered
// parameters ($1, $2, ...) on both backends; DDL may use the placeholders
// {BLOB} (BLOB / BYTEA) and {CTEXT} (text compared byte by byte: TEXT /
// TEXT COLLATE "C"), so ORDER BY on ids pages identically on both.
//
// Error messages never include parameter values (they may be child
// identifiers): constraint violations become ABORTED ("concurrent update;
// retry"), a lost or busy database UNAVAILABLE, anything else INTERNAL.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(std::unique_ptr<sql::Db> db, sql::OpenSqlite(path));
//   KINEX_RETURN_IF_ERROR(db->Transaction([&]() -> absl::Status {
//     KINEX_ASSIGN_OR_RETURN(auto rows,
//                            db->Query("SELECT v FROM t WHERE k = $1", {key}));
//     return absl::OkStatus();
//   }));
//
// NOTE for the lead: this is storage plumbing shared by two services; it
// belongs in services/common once that is convenient.
#ifndef KINEX_SERVICES_RECORDS_SQL_DB_H_
#define KINEX_SERVICES_RECORDS_SQL_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

// One database connection. Not thread-safe: callers serialise access (the
// stores hold a mutex around every transaction).
class Db {
 public:
  virtual ~Db() = default;

  // The dialect, for the few statements that differ.
  virtual Dialect dialect() const = 0;

  // Runs one statement and returns its rows.
  virtual absl::StatusOr<std::vector<Row>> Query(
      absl::string_view sql, const std::vector<Value>& params = {}) = 0;

  // Runs one statement; returns the number of rows it changed.
  virtual absl::StatusOr<int64_t> Exec(absl::string_view sql,
                                       const std::vector<Value>& params = {}) = 0;

  // Runs statements separated by ';' with no parameters (schema set-up).
  // {BLOB} and {CTEXT} are replaced per dialect.
  virtual absl::Status ExecScript(absl::string_view sql) = 0;

  // Bulk load: inserts `rows` (each as many values as `columns`) into
  // `table` as fast as the backend allows (COPY on PostgreSQL, a prepared
  // statement on SQLite). Must be called inside Transaction.
  virtual absl::Status BulkInsert(absl::string_view table,
                                  const std::vector<std::string>& columns,
                                  const std::vector<std::vector<Value>>& rows) = 0;

  // Runs `fn` in a transaction: commits when it returns OK, rolls back
  // otherwise (and on a failed commit), so a failed request leaves nothing
  // behind. Not reentrant.
  absl::Status Transaction(const std::function<absl::Status()>& fn);

 protected:
  virtual absl::Status Begin() = 0;
  virtual absl::Status Commit() = 0;
  virtual absl::Status Rollback() = 0;
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
// binary must not write a newer schema). Not thread-safe (call at open).
absl::Status Migrate(Db& db, absl::string_view component,
                     const std::vector<Migration>& migrations);

// The schema version recorded for `component` (0 if none). For tests and
// operators.
absl::StatusOr<int64_t> SchemaVersion(Db& db, absl::string_view component);

// Opens (creating if needed) an SQLite database file with WAL journaling,
// synchronous=FULL and foreign keys on. ":memory:" gives a private in-memory
// database.
absl::StatusOr<std::unique_ptr<Db>> OpenSqlite(const std::string& path);

// Connects to PostgreSQL with a libpq conninfo string. UNAVAILABLE naming
// nothing secret when the server cannot be reached.
absl::StatusOr<std::unique_ptr<Db>> OpenPostgres(const std::string& conninfo);

}  // namespace kinex::sql

#endif  // KINEX_SERVICES_RECORDS_SQL_DB_H_
