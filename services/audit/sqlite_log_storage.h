// SQLite LogStorage: the embedded default. The log's SQL storage
// (sql_log_storage.h) on an SQLite file: WAL journal with synchronous=FULL,
// so a committed Append survives power loss; one writer connection (the
// log's sequencer) and a pool of reader connections (WAL readers do not
// block the writer).
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto storage,
//                          SqliteLogStorage::Open({.path = "data/audit.db"}));
#ifndef KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_
#define KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_

#include <memory>
#include <string>

#include "services/audit/sql_log_storage.h"

namespace kinex::audit {

// SQLite-backed log storage. Thread-safe.
class SqliteLogStorage final : public SqlLogStorage {
 public:
  struct Options {
    // Required. Database file; created (with its schema) when missing.
    std::string path;
    // Default true. synchronous=FULL; false (synchronous=NORMAL) only for
    // tests that do not care about power loss.
    bool synchronous_full = true;
  };

  // Opens (creating if needed) the database and brings its schema up to
  // date. UNAVAILABLE naming the path when it cannot be opened or its
  // schema cannot be created.
  static absl::StatusOr<std::unique_ptr<SqliteLogStorage>> Open(Options options);

 private:
  using SqlLogStorage::SqlLogStorage;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_
