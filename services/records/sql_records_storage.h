// RecordsStorage on an SQL database: SQLite (the embedded default) or
// PostgreSQL, through sql::Db. The same statements run on both.
//
// Tables: children, child_identifiers (unique (kind, value)), part_versions
// (every version ever published: the history), part_heads (the latest version
// per (child, owner kind, owner code): optimistic concurrency is a
// conditional UPDATE of the head), scope_links (indexed by (agency kind,
// code, kinex id) for ListChildren), child_responsibility, agency_links,
// audit_outbox (schema version 2), sharing_decisions (version 3).
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto db, sql::OpenSqlite("/var/lib/kinex/records.db"));
//   KINEX_ASSIGN_OR_RETURN(auto storage, SqlRecordsStorage::Create(std::move(db)));
#ifndef KINEX_SERVICES_RECORDS_SQL_RECORDS_STORAGE_H_
#define KINEX_SERVICES_RECORDS_SQL_RECORDS_STORAGE_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/common/sql/sql_db.h"
#include "services/records/records_storage.h"

namespace kinex::records {

// Thread-safe: transactions are serialised on the one connection.
class SqlRecordsStorage final : public RecordsStorage {
 public:
  // Creates the schema if absent. Fails UNAVAILABLE/INTERNAL if it cannot.
  static absl::StatusOr<std::unique_ptr<SqlRecordsStorage>> Create(std::unique_ptr<sql::Db> db);

  absl::Status Transact(const std::function<absl::Status(RecordsTxn&)>& fn) override;
  // Autocommit reads: no BEGIN/COMMIT round trips.
  absl::Status Read(const std::function<absl::Status(RecordsTxn&)>& fn) override;

 private:
  explicit SqlRecordsStorage(std::unique_ptr<sql::Db> db) : db_(std::move(db)) {}

  absl::Mutex mu_;
  std::unique_ptr<sql::Db> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_SQL_RECORDS_STORAGE_H_
