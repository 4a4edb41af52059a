// PostgreSQL LogStorage (libpq), for the microservices deployment: the
// log's SQL storage (sql_log_storage.h) on PostgreSQL. Same tables and
// semantics as SqliteLogStorage: an Append is one transaction (durable on
// COMMIT with PostgreSQL's default synchronous_commit), taken under an
// EXCLUSIVE table lock so two audit replicas pointed at one database cannot
// interleave leaf indices.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto storage, PostgresLogStorage::Open(
//       {.conninfo = "host=db dbname=kinex user=kinex"}));
#ifndef KINEX_SERVICES_AUDIT_POSTGRES_LOG_STORAGE_H_
#define KINEX_SERVICES_AUDIT_POSTGRES_LOG_STORAGE_H_

#include <memory>
#include <string>

#include "services/audit/sql_log_storage.h"

namespace kinex::audit {

// PostgreSQL-backed log storage. Thread-safe (a writer connection plus a
// pool of reader connections).
class PostgresLogStorage final : public SqlLogStorage {
 public:
  struct Options {
    // Required. libpq connection string.
    std::string conninfo;
  };

  // Connects and brings the schema up to date. UNAVAILABLE when the server
  // cannot be reached (the message never echoes the conninfo, which may hold
  // credentials).
  static absl::StatusOr<std::unique_ptr<PostgresLogStorage>> Open(Options options);

 private:
  using SqlLogStorage::SqlLogStorage;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_POSTGRES_LOG_STORAGE_H_
