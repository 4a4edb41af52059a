#include "services/consent/sql_consent_storage.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>

#include "embedded_sql/consent_schema.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::consent {
namespace {

namespace cv1 = kinex::consent::v1;

constexpr absl::string_view kStore = "consent";

// An error this store makes, with its reason and the stable metadata.
absl::Status Failure(absl::Status status, absl::string_view reason, sql::Dialect dialect) {
  return WithErrorReason(
      std::move(status), reason,
      {{"store", std::string(kStore)}, {"dialect", std::string(sql::DialectName(dialect))}});
}

// The schema is in services/consent/schema/, embedded at build time
// (embedded_sql/consent_schema.h): version 1 the tables
// (0001_consent_entries.sql); version 2 the in-force columns
// (0002_in_force_columns.sql, then a backfill from the payloads, below) and
// their index (0002_in_force_index.sql).
//
// in_force_from_us / in_force_until_us hold the payload's InForceFrom and
// InForceUntil in microseconds since the epoch, so that the store, not its
// caller, skips the withdrawn and expired entries piling up in a child's
// history. No end is kForEver rather than NULL: SQLite cannot use an index
// range for "IS NULL OR > now", and would read the whole history again.
// Both bounds default to the widest (the column defaults in
// 0002_in_force_columns.sql are kSinceEver and kForEver), so that a row
// inserted by a release without the columns (a rolling upgrade) is always
// read; InForce settles it.
constexpr int64_t kSinceEver = std::numeric_limits<int64_t>::min();
constexpr int64_t kForEver = std::numeric_limits<int64_t>::max();

// Whether `sql` holds `text`, at compile time.
constexpr bool Contains(absl::string_view sql, std::string_view text) {
  return std::string_view(sql.data(), sql.size()).find(text) != std::string_view::npos;
}
// The column defaults in the schema file are these two (the smallest and the
// largest BIGINT).
static_assert(kSinceEver == -9223372036854775807 - 1 &&
                  Contains(schema::k0002InForceColumns,
                           "in_force_from_us BIGINT NOT NULL DEFAULT -9223372036854775808;"),
              "0002_in_force_columns.sql: in_force_from_us must default to kSinceEver");
static_assert(kForEver == 9223372036854775807 &&
                  Contains(schema::k0002InForceColumns,
                           "in_force_until_us BIGINT NOT NULL DEFAULT 9223372036854775807;"),
              "0002_in_force_columns.sql: in_force_until_us must default to kForEver");

constexpr int kMigrationBatch = 1000;

// Microseconds lose precision, so `from` is rounded down and `until` up, and
// ListEntriesInForce compares them with `now` rounded down: the query may
// keep an entry within a microsecond of a bound too many, never one too few,
// and InForce settles it.
int64_t InForceFromMicros(const cv1::ConsentEntry& e) {
  return absl::ToUnixMicros(InForceFrom(e));  // saturates at kSinceEver
}

int64_t InForceUntilMicros(const cv1::ConsentEntry& e) {
  const std::optional<absl::Time> until = InForceUntil(e);
  if (!until.has_value()) return kForEver;
  const int64_t floor = absl::ToUnixMicros(*until);  // saturates at kForEver
  return floor == kForEver || absl::FromUnixMicros(floor) == *until ? floor : floor + 1;
}

template <typename M>
absl::StatusOr<M> Parse(const std::string& bytes, sql::Dialect dialect) {
  M m;
  if (!m.ParseFromString(bytes)) {
    return Failure(absl::DataLossError("stored entry does not parse"), reason::kStorageCorrupt,
                   dialect);
  }
  return m;
}

class SqlTxn final : public ConsentTxn {
 public:
  explicit SqlTxn(sql::Db& db) : db_(db) {}

  absl::Status InsertEntry(const cv1::ConsentEntry& e) override {
    return db_
        .Exec(
            "INSERT INTO consent_entries (consent_id, kinex_id, payload, "
            "in_force_from_us, in_force_until_us) VALUES ($1, $2, $3, $4, $5)",
            {e.consent_id(), e.kinex_id(), sql::Blob{e.SerializeAsString()}, InForceFromMicros(e),
             InForceUntilMicros(e)})
        .status();
  }

  absl::Status UpdateEntry(const cv1::ConsentEntry& e) override {
    KINEX_ASSIGN_OR_RETURN(
        int64_t changed, db_.Exec("UPDATE consent_entries SET payload = $2, in_force_from_us = $3, "
                                  "in_force_until_us = $4 WHERE consent_id = $1",
                                  {e.consent_id(), sql::Blob{e.SerializeAsString()},
                                   InForceFromMicros(e), InForceUntilMicros(e)}));
    if (changed != 1) {
      return Failure(absl::NotFoundError("no consent entry with that consent_id"),
                     reason::kStorageRowNotFound, db_.dialect());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<cv1::ConsentEntry>> GetEntry(
      const std::string& consent_id) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query("SELECT payload FROM consent_entries WHERE consent_id = $1", {consent_id}));
    if (rows.empty()) return std::nullopt;
    KINEX_ASSIGN_OR_RETURN(cv1::ConsentEntry e,
                           Parse<cv1::ConsentEntry>(rows[0].Str(0), db_.dialect()));
    return e;
  }

  absl::StatusOr<std::vector<cv1::ConsentEntry>> ListEntries(const std::string& kinex_id,
                                                             const std::string& after_id,
                                                             int limit) override {
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query("SELECT payload FROM consent_entries WHERE kinex_id = $1 AND "
                                     "consent_id > $2 ORDER BY consent_id LIMIT $3",
                                     {kinex_id, after_id, static_cast<int64_t>(limit)}));
    std::vector<cv1::ConsentEntry> out;
    for (const auto& row : rows) {
      KINEX_ASSIGN_OR_RETURN(cv1::ConsentEntry e,
                             Parse<cv1::ConsentEntry>(row.Str(0), db_.dialect()));
      out.push_back(std::move(e));
    }
    return out;
  }

  absl::StatusOr<std::vector<cv1::ConsentEntry>> ListEntriesInForce(const std::string& kinex_id,
                                                                    absl::Time now) override {
    // Sorted here, not by ORDER BY: for the order, a planner may prefer
    // walking consent_entries_by_child, the whole history, to the range of
    // consent_entries_in_force.
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query("SELECT payload FROM consent_entries WHERE kinex_id = $1 AND "
                                     "in_force_until_us > $2 AND in_force_from_us <= $2",
                                     {kinex_id, absl::ToUnixMicros(now)}));
    std::vector<cv1::ConsentEntry> out;
    for (const auto& row : rows) {
      KINEX_ASSIGN_OR_RETURN(cv1::ConsentEntry e,
                             Parse<cv1::ConsentEntry>(row.Str(0), db_.dialect()));
      if (InForce(e, now)) out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.consent_id() < b.consent_id(); });
    return out;
  }

  absl::Status InsertAgreement(const cv1::SharingAgreement& a) override {
    return db_
        .Exec("INSERT INTO sharing_agreements (agreement_id, payload) VALUES ($1, $2)",
              {a.agreement_id(), sql::Blob{a.SerializeAsString()}})
        .status();
  }

  absl::StatusOr<std::vector<cv1::SharingAgreement>> ListAgreements() override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows, db_.Query("SELECT payload FROM sharing_agreements ORDER BY agreement_id"));
    std::vector<cv1::SharingAgreement> out;
    for (const auto& row : rows) {
      KINEX_ASSIGN_OR_RETURN(cv1::SharingAgreement a,
                             Parse<cv1::SharingAgreement>(row.Str(0), db_.dialect()));
      out.push_back(std::move(a));
    }
    return out;
  }

  absl::Status InsertPendingEvent(const PendingAuditEvent& e) override {
    return db_
        .Exec(
            "INSERT INTO consent_audit_outbox (idempotency_key, enqueue_us, payload) "
            "VALUES ($1, $2, $3)",
            {e.idempotency_key, absl::ToUnixMicros(e.enqueue_time), sql::Blob{e.payload}})
        .status();
  }

  absl::StatusOr<std::vector<PendingAuditEvent>> ListPendingEvents(int limit) override {
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query("SELECT idempotency_key, enqueue_us, payload FROM "
                                     "consent_audit_outbox ORDER BY enqueue_us, idempotency_key "
                                     "LIMIT $1",
                                     {static_cast<int64_t>(std::max(limit, 0))}));
    std::vector<PendingAuditEvent> out;
    for (const auto& row : rows) {
      out.push_back({row.Str(0), row.Str(2), absl::FromUnixMicros(row.Int(1))});
    }
    return out;
  }

  absl::Status DeletePendingEvent(const std::string& key) override {
    return db_.Exec("DELETE FROM consent_audit_outbox WHERE idempotency_key = $1", {key}).status();
  }

 private:
  sql::Db& db_;
};

// Whether consent_entries has the in-force columns (added together, so one
// stands for both).
absl::StatusOr<bool> HasInForceColumns(sql::Db& db) {
  std::vector<sql::Row> rows;
  if (db.dialect() == sql::Dialect::kPostgres) {
    KINEX_ASSIGN_OR_RETURN(
        rows, db.Query("SELECT 1 FROM information_schema.columns WHERE "
                       "table_schema = current_schema() AND table_name = 'consent_entries' "
                       "AND column_name = 'in_force_until_us'"));
  } else {
    KINEX_ASSIGN_OR_RETURN(rows, db.Query("SELECT 1 FROM pragma_table_info('consent_entries') "
                                          "WHERE name = 'in_force_until_us'"));
  }
  return !rows.empty();
}

// Adds the in-force columns and their index to a consent_entries table
// without them (new, or from an older release), filling them from the
// payloads. Schema version 2, run by sql::Migrate in one transaction: a
// failure leaves the table as it was.
absl::Status AddInForceColumns(sql::Db& db) {
  if (db.dialect() == sql::Dialect::kPostgres) {
    // Instances starting together take turns, so the second finds the
    // columns instead of failing to add them again. (SQLite's transactions
    // take the write lock from the start.)
    KINEX_RETURN_IF_ERROR(
        db.Exec("LOCK TABLE consent_entries IN SHARE ROW EXCLUSIVE MODE").status());
  }
  KINEX_ASSIGN_OR_RETURN(bool present, HasInForceColumns(db));
  if (!present) {
    KINEX_RETURN_IF_ERROR(db.ExecScript(schema::k0002InForceColumns));
    std::string after;
    while (true) {
      KINEX_ASSIGN_OR_RETURN(auto rows,
                             db.Query("SELECT consent_id, payload FROM consent_entries WHERE "
                                      "consent_id > $1 ORDER BY consent_id LIMIT $2",
                                      {after, static_cast<int64_t>(kMigrationBatch)}));
      for (const auto& row : rows) {
        KINEX_ASSIGN_OR_RETURN(cv1::ConsentEntry e,
                               Parse<cv1::ConsentEntry>(row.Str(1), db.dialect()));
        KINEX_RETURN_IF_ERROR(db.Exec("UPDATE consent_entries SET in_force_from_us = $2, "
                                      "in_force_until_us = $3 WHERE consent_id = $1",
                                      {row.Str(0), InForceFromMicros(e), InForceUntilMicros(e)})
                                  .status());
      }
      if (static_cast<int>(rows.size()) < kMigrationBatch) break;
      after = rows.back().Str(0);
    }
  }
  return db.ExecScript(schema::k0002InForceIndex);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqlConsentStorage>> SqlConsentStorage::Create(
    std::unique_ptr<sql::Db> db, sql::Pool::Opener open_reader) {
  if (db == nullptr) {
    return WithErrorReason(absl::InvalidArgumentError("db must not be null"),
                           reason::kStorageCallInvalid, {{"store", std::string(kStore)}});
  }
  // Version 1 is 0001_consent_entries.sql as first released; version 2 adds
  // the in-force columns (to a table from before schema versions too: it
  // checks).
  KINEX_RETURN_IF_ERROR(sql::WithStore(
      sql::Migrate(*db, kStore,
                   {{1, [](sql::Db& d) { return d.ExecScript(schema::k0001ConsentEntries); }},
                    {2, AddInForceColumns}}),
      kStore));
  return std::unique_ptr<SqlConsentStorage>(
      new SqlConsentStorage(std::move(db), std::move(open_reader)));
}

absl::Status SqlConsentStorage::Transact(const std::function<absl::Status(ConsentTxn&)>& fn) {
  return sql::WithStore(connections_.Write([&](sql::Db& db) {
    SqlTxn txn(db);
    return fn(txn);
  }),
                        kStore);
}

absl::Status SqlConsentStorage::Read(const std::function<absl::Status(ConsentTxn&)>& fn) {
  return sql::WithStore(connections_.Read([&](sql::Db& db) {
    SqlTxn txn(db);
    return fn(txn);
  }),
                        kStore);
}

}  // namespace kinex::consent
