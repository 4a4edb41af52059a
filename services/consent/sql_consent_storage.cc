#include "services/consent/sql_consent_storage.h"

#include <utility>

#include "services/common/status_macros.h"

namespace kinex::consent {
namespace {

namespace cv1 = kinex::consent::v1;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS consent_entries (
  consent_id {CTEXT} PRIMARY KEY,
  kinex_id {CTEXT} NOT NULL,
  payload {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS consent_entries_by_child
  ON consent_entries (kinex_id, consent_id);
CREATE TABLE IF NOT EXISTS sharing_agreements (
  agreement_id {CTEXT} PRIMARY KEY,
  payload {BLOB} NOT NULL);
)sql";

template <typename M>
absl::StatusOr<M> Parse(const std::string& bytes) {
  M m;
  if (!m.ParseFromString(bytes)) return absl::DataLossError("stored entry does not parse");
  return m;
}

class SqlTxn final : public ConsentTxn {
 public:
  explicit SqlTxn(sql::Db& db) : db_(db) {}

  absl::Status InsertEntry(const cv1::ConsentEntry& e) override {
    return db_
        .Exec("INSERT INTO consent_entries (consent_id, kinex_id, payload) "
              "VALUES ($1, $2, $3)",
              {e.consent_id(), e.kinex_id(), sql::Blob{e.SerializeAsString()}})
        .status();
  }

  absl::Status UpdateEntry(const cv1::ConsentEntry& e) override {
    KINEX_ASSIGN_OR_RETURN(
        int64_t changed,
        db_.Exec("UPDATE consent_entries SET payload = $2 WHERE consent_id = $1",
                 {e.consent_id(), sql::Blob{e.SerializeAsString()}}));
    if (changed != 1) return absl::NotFoundError("no consent entry with that consent_id");
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<cv1::ConsentEntry>> GetEntry(
      const std::string& consent_id) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query("SELECT payload FROM consent_entries WHERE consent_id = $1",
                  {consent_id}));
    if (rows.empty()) return std::nullopt;
    KINEX_ASSIGN_OR_RETURN(cv1::ConsentEntry e, Parse<cv1::ConsentEntry>(rows[0].Str(0)));
    return e;
  }

  absl::StatusOr<std::vector<cv1::ConsentEntry>> ListEntries(const std::string& kinex_id,
                                                             const std::string& after_id,
                                                             int limit) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query("SELECT payload FROM consent_entries WHERE kinex_id = $1 AND "
                  "consent_id > $2 ORDER BY consent_id LIMIT $3",
                  {kinex_id, after_id, static_cast<int64_t>(limit)}));
    std::vector<cv1::ConsentEntry> out;
    for (const auto& row : rows) {
      KINEX_ASSIGN_OR_RETURN(cv1::ConsentEntry e, Parse<cv1::ConsentEntry>(row.Str(0)));
      out.push_back(std::move(e));
    }
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
        auto rows,
        db_.Query("SELECT payload FROM sharing_agreements ORDER BY agreement_id"));
    std::vector<cv1::SharingAgreement> out;
    for (const auto& row : rows) {
      KINEX_ASSIGN_OR_RETURN(cv1::SharingAgreement a,
                             Parse<cv1::SharingAgreement>(row.Str(0)));
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  sql::Db& db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlConsentStorage>> SqlConsentStorage::Create(
    std::unique_ptr<sql::Db> db) {
  if (db == nullptr) return absl::InvalidArgumentError("db must not be null");
  KINEX_RETURN_IF_ERROR(db->ExecScript(kSchema));
  return std::unique_ptr<SqlConsentStorage>(new SqlConsentStorage(std::move(db)));
}

absl::Status SqlConsentStorage::Transact(
    const std::function<absl::Status(ConsentTxn&)>& fn) {
  absl::MutexLock lock(&mu_);
  sql::Db& db = *db_;
  return db.Transaction([&]() -> absl::Status {
    SqlTxn txn(db);
    return fn(txn);
  });
}

}  // namespace kinex::consent
