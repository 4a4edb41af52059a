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

#include "absl/status/statusor.h"
#include "services/common/sql/sql_db.h"
#include "services/records/records_storage.h"

namespace kinex::records {

// Thread-safe: transactions are serialised on the writer connection; with
// `open_reader`, reads run on their own connections, each a snapshot, beside
// each other and beside a write (sql::Connections).
class SqlRecordsStorage final : public RecordsStorage {
 public:
  // Creates the schema if absent, on `db` (the writer). Fails
  // UNAVAILABLE/INTERNAL if it cannot. `open_reader` opens a further
  // connection to the same database (sql::ReaderOpener); null for a private
  // in-memory one, whose reads then share the writer.
  static absl::StatusOr<std::unique_ptr<SqlRecordsStorage>> Create(
      std::unique_ptr<sql::Db> db, sql::Pool::Opener open_reader = nullptr);

  absl::Status Transact(const std::function<absl::Status(RecordsTxn&)>& fn) override;
  absl::Status Read(const std::function<absl::Status(RecordsTxn&)>& fn) override;

 private:
  SqlRecordsStorage(std::unique_ptr<sql::Db> db, sql::Pool::Opener open_reader)
      : connections_(std::move(db), std::move(open_reader)) {}

  sql::Connections connections_;
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_SQL_RECORDS_STORAGE_H_
