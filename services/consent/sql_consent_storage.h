// ConsentStorage on an SQL database (SQLite or PostgreSQL via sql::Db).
// Tables: consent_entries (id, child, payload, and the payload's in-force
// window; indexed by child, and by child and end of the window),
// sharing_agreements (id, payload) and consent_audit_outbox (idempotency
// key, enqueue time, serialized audit event), all created at open.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto db, sql::OpenSqlite("consent.db"));
//   KINEX_ASSIGN_OR_RETURN(auto storage, SqlConsentStorage::Create(std::move(db)));
#ifndef KINEX_SERVICES_CONSENT_SQL_CONSENT_STORAGE_H_
#define KINEX_SERVICES_CONSENT_SQL_CONSENT_STORAGE_H_

#include <memory>

#include "services/common/sql/sql_db.h"
#include "services/consent/consent_storage.h"

namespace kinex::consent {

// Thread-safe: transactions are serialised on the writer connection; with
// `open_reader`, reads run on their own connections, each a snapshot, beside
// each other and beside a write (sql::Connections).
class SqlConsentStorage final : public ConsentStorage {
 public:
  // Creates the schema if absent, and adds what an older schema lacks (the
  // in-force window, filled from the payloads in one transaction), on `db`
  // (the writer). `open_reader` opens a further connection to the same
  // database (sql::ReaderOpener); null for a private in-memory one.
  static absl::StatusOr<std::unique_ptr<SqlConsentStorage>> Create(
      std::unique_ptr<sql::Db> db, sql::Pool::Opener open_reader = nullptr);

  absl::Status Transact(const std::function<absl::Status(ConsentTxn&)>& fn) override;
  absl::Status Read(const std::function<absl::Status(ConsentTxn&)>& fn) override;

 private:
  SqlConsentStorage(std::unique_ptr<sql::Db> db, sql::Pool::Opener open_reader)
      : connections_(std::move(db), std::move(open_reader)) {}

  sql::Connections connections_;
};

}  // namespace kinex::consent

#endif  // KINEX_SERVICES_CONSENT_SQL_CONSENT_STORAGE_H_
