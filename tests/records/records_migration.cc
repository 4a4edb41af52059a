// Schema migration of the records store (SqlRecordsStorage): a store made by
// the version-1 code (no responsibility, links or outbox) is upgraded in
// place, in one transaction, when it is opened. Instantiated for SQLite in
// records_conformance_test and for PostgreSQL in
// records_conformance_postgres_test.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/common/status_macros.h"
#include "services/records/records_core.h"
#include "services/records/sql_records_storage.h"
#include "tests/records/records_conformance.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::records::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace rv1 = kinex::records::v1;
namespace cv1 = kinex::common::v1;

// The schema exactly as the version-1 code created it
// (services/records/sql_records_storage.cc before schema versions).
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE IF NOT EXISTS children (
  kinex_id {CTEXT} PRIMARY KEY,
  create_time_us BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS child_identifiers (
  id_kind INTEGER NOT NULL,
  id_value {CTEXT} NOT NULL,
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  PRIMARY KEY (id_kind, id_value));
CREATE INDEX IF NOT EXISTS child_identifiers_by_child
  ON child_identifiers (kinex_id);
CREATE TABLE IF NOT EXISTS part_versions (
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  owner_kind INTEGER NOT NULL,
  owner_code {CTEXT} NOT NULL,
  version BIGINT NOT NULL,
  etag TEXT NOT NULL,
  publish_time_us BIGINT NOT NULL,
  principal TEXT NOT NULL,
  actor TEXT NOT NULL,
  payload {BLOB} NOT NULL,
  PRIMARY KEY (kinex_id, owner_kind, owner_code, version));
CREATE TABLE IF NOT EXISTS part_heads (
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  owner_kind INTEGER NOT NULL,
  owner_code {CTEXT} NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (kinex_id, owner_kind, owner_code));
CREATE TABLE IF NOT EXISTS scope_links (
  agency_kind INTEGER NOT NULL,
  code {CTEXT} NOT NULL,
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  PRIMARY KEY (agency_kind, code, kinex_id));
CREATE INDEX IF NOT EXISTS scope_links_by_child ON scope_links (kinex_id);
)sql";

constexpr char kOldChild[] = "kx_OLD1";
constexpr char kOldSchoolOnly[] = "kx_OLD2";

absl::StatusOr<std::unique_ptr<sql::Db>> Open(const SqlBackend& backend, const std::string& where) {
  return backend.connect(where);
}

absl::Status InsertPart(sql::Db& db, const StoredPart& p) {
  KINEX_RETURN_IF_ERROR(
      db.Exec("INSERT INTO part_versions (kinex_id, owner_kind, owner_code, version, etag, "
              "publish_time_us, principal, actor, payload) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
              {p.kinex_id, static_cast<int64_t>(p.owner_kind), p.owner_code, p.version, p.etag,
               absl::ToUnixMicros(p.publish_time), p.principal, p.actor, sql::Blob{p.payload}})
          .status());
  return db
      .Exec(
          "INSERT INTO part_heads (kinex_id, owner_kind, owner_code, version) "
          "VALUES ($1, $2, $3, $4)",
          {p.kinex_id, static_cast<int64_t>(p.owner_kind), p.owner_code, p.version})
      .status();
}

StoredPart MakePart(const std::string& kid, int kind, const std::string& code,
                    const std::string& principal, absl::Time t,
                    const kinex::record::v1::ChildRecord& record) {
  StoredPart p;
  p.kinex_id = kid;
  p.owner_kind = kind;
  p.owner_code = code;
  p.version = 1;
  p.publish_time = t;
  p.principal = principal;
  p.actor = "old-actor";
  record.SerializeToString(&p.payload);
  p.etag = PartEtag(p);
  return p;
}

// A version-1 store as the old code left it: child kx_OLD1 published by the
// LA (scope link LOCAL_AUTHORITY/E09000033) and school 100001 (scope link
// SCHOOL/100001); child kx_OLD2 published only by school 100002 (the old
// code let a school create a child).
absl::Status MakeVersion1Store(sql::Db& db, absl::Time t) {
  KINEX_RETURN_IF_ERROR(db.ExecScript(kSchemaV1));
  return db.Transaction([&]() -> absl::Status {
    for (const char* kid : {kOldChild, kOldSchoolOnly}) {
      KINEX_RETURN_IF_ERROR(
          db.Exec("INSERT INTO children (kinex_id, create_time_us) VALUES ($1, $2)",
                  {std::string(kid), absl::ToUnixMicros(t)})
              .status());
    }
    const std::vector<std::tuple<int64_t, std::string, std::string>> ids = {
        {static_cast<int64_t>(IdentifierKind::kLaChildId), "E09000033/OLD-1", kOldChild},
        {static_cast<int64_t>(IdentifierKind::kUpn), Upn(1), kOldChild},
        {static_cast<int64_t>(IdentifierKind::kUpn), Upn(2), kOldSchoolOnly},
    };
    for (const auto& [kind, value, kid] : ids) {
      KINEX_RETURN_IF_ERROR(db.Exec("INSERT INTO child_identifiers (id_kind, id_value, kinex_id) "
                                    "VALUES ($1, $2, $3)",
                                    {kind, value, kid})
                                .status());
    }
    KINEX_RETURN_IF_ERROR(InsertPart(
        db, MakePart(kOldChild, cv1::LOCAL_AUTHORITY, "E09000033", kLa, t, LaPart("OLD-1"))));
    KINEX_RETURN_IF_ERROR(InsertPart(db, MakePart(kOldChild, cv1::SCHOOL, "100001", kSchool,
                                                  t + absl::Seconds(1), SchoolPart(Upn(1)))));
    KINEX_RETURN_IF_ERROR(
        InsertPart(db, MakePart(kOldSchoolOnly, cv1::SCHOOL, "100002", kSchool2,
                                t + absl::Seconds(2), SchoolPart(Upn(2), "100002"))));
    const std::vector<std::tuple<int64_t, std::string, std::string>> links = {
        {cv1::LOCAL_AUTHORITY, "E09000033", kOldChild},
        {cv1::SCHOOL, "100001", kOldChild},
        {cv1::SCHOOL, "100002", kOldSchoolOnly},
    };
    for (const auto& [kind, code, kid] : links) {
      KINEX_RETURN_IF_ERROR(
          db.Exec("INSERT INTO scope_links (agency_kind, code, kinex_id) VALUES ($1, $2, $3)",
                  {kind, code, kid})
              .status());
    }
    return absl::OkStatus();
  });
}

TEST_P(RecordsMigrationTest, UpgradesAVersion1StoreInPlace) {
  FakeClock clock;
  const absl::Time t = clock.Now() - absl::Hours(24 * 30);
  auto where = GetParam().create_database();
  ASSERT_TRUE(where.ok()) << where.status();
  {
    auto db = Open(GetParam(), *where);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(MakeVersion1Store(**db, t).ok());
  }
  auto db = Open(GetParam(), *where);
  ASSERT_TRUE(db.ok()) << db.status();
  auto storage = SqlRecordsStorage::Create(std::move(*db));
  ASSERT_TRUE(storage.ok()) << storage.status();
  {
    auto check = Open(GetParam(), *where);
    ASSERT_TRUE(check.ok()) << check.status();
    auto version = sql::SchemaVersion(**check, "records");
    ASSERT_TRUE(version.ok()) << version.status();
    // Every migration in one go: version 2 (links), 3 (sharing decisions),
    // 4 (published school calendars) and 5 (view generations).
    EXPECT_EQ(*version, 5);
    auto generations = (*check)->Query("SELECT kinex_id, view_generation FROM children");
    ASSERT_TRUE(generations.ok()) << generations.status();
    ASSERT_EQ(generations->size(), 2u);
    for (const sql::Row& row : *generations) EXPECT_EQ(row.Int(1), 0) << row.Str(0);
    auto decisions = (*check)->Query("SELECT COUNT(*) FROM sharing_decisions");
    ASSERT_TRUE(decisions.ok()) << decisions.status();
    EXPECT_EQ((*decisions)[0].Int(0), 0);
  }
  // Responsibility from the old LA link; every agency that had published a
  // part keeps a confirmed link, confirmed by the migration.
  std::optional<std::string> la, orphan_la;
  std::vector<StoredLink> links, orphan_links;
  ASSERT_TRUE((*storage)
                  ->Transact([&](RecordsTxn& txn) -> absl::Status {
                    KINEX_ASSIGN_OR_RETURN(la, txn.ResponsibleLa(kOldChild));
                    KINEX_ASSIGN_OR_RETURN(orphan_la, txn.ResponsibleLa(kOldSchoolOnly));
                    KINEX_ASSIGN_OR_RETURN(links, txn.Links(kOldChild));
                    KINEX_ASSIGN_OR_RETURN(orphan_links, txn.Links(kOldSchoolOnly));
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(la, std::optional<std::string>("E09000033"));
  EXPECT_EQ(orphan_la, std::nullopt);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].agency_kind, cv1::SCHOOL);
  EXPECT_EQ(links[0].agency_code, "100001");
  EXPECT_EQ(links[0].state, LinkState::kConfirmed);
  EXPECT_EQ(links[0].updated_by, "schema-migration-v2");
  EXPECT_EQ(links[0].update_time, t);
  ASSERT_EQ(orphan_links.size(), 1u);
  EXPECT_EQ(orphan_links[0].state, LinkState::kConfirmed);

  // The records core reads and writes the migrated store.
  kinex::testing::RecordingAuditSink audit;
  auto core = RecordsCore::Create({.storage = storage->get(), .clock = &clock, .audit = &audit});
  ASSERT_TRUE(core.ok()) << core.status();
  rv1::GetRecordRequest get;
  *get.mutable_child() = UpnRef(Upn(1));
  auto got = (*core)->GetRecord(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), kOldChild);
  EXPECT_EQ(got->record().identity().given_name(), "Amy");
  EXPECT_EQ(got->record().education().attendance_summary().attended_sessions(), 91);
  EXPECT_EQ(got->record().scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(got->record().scope().current_school_urn(), "100001");
  ASSERT_EQ(got->parts_size(), 2);
  EXPECT_EQ(got->parts(0).owner_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(got->parts(1).owner_code(), "100001");
  // Old etags continue the version history.
  auto put =
      (*core)->PutPart(Put(kSchool, UpnRef(Upn(1)), SchoolPart(Upn(1)), got->parts(1).etag()));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->version(), 2);
  EXPECT_EQ(put->link_state(), kinex::record::v1::CONFIRMED);
  auto la_put = (*core)->PutPart(
      Put(kLa, LaRef("E09000033", "OLD-1"), LaPart("OLD-1"), got->parts(0).etag()));
  ASSERT_TRUE(la_put.ok()) << la_put.status();
  EXPECT_EQ(audit.Events().size(), 2u);
  // Reopening a current store changes nothing.
  storage->reset();
  auto again = Open(GetParam(), *where);
  ASSERT_TRUE(again.ok()) << again.status();
  auto reopened = SqlRecordsStorage::Create(std::move(*again));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
}

TEST_P(RecordsMigrationTest, RefusesAStoreFromANewerVersion) {
  auto where = GetParam().create_database();
  ASSERT_TRUE(where.ok()) << where.status();
  {
    auto db = Open(GetParam(), *where);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(SqlRecordsStorage::Create(std::move(*db)).ok());
  }
  {
    auto db = Open(GetParam(), *where);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(
        (*db)->Exec("UPDATE schema_version SET version = 99 WHERE component = 'records'").ok());
  }
  auto db = Open(GetParam(), *where);
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string dialect(sql::DialectName((*db)->dialect()));
  const absl::Status refused = SqlRecordsStorage::Create(std::move(*db)).status();
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "records store is at schema version 99, newer than this binary knows (5); "
                       "run a newer kinex"));
  EXPECT_THAT(refused, HasErrorReason("SCHEMA_TOO_NEW"));
  EXPECT_THAT(refused, HasErrorMetadata("store", "records"));
  EXPECT_THAT(refused, HasErrorMetadata("dialect", dialect));
}

TEST_P(RecordsMigrationTest, AFailedMigrationLeavesTheStoreAsItWas) {
  FakeClock clock;
  auto where = GetParam().create_database();
  ASSERT_TRUE(where.ok()) << where.status();
  {
    auto db = Open(GetParam(), *where);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(MakeVersion1Store(**db, clock.Now()).ok());
    // A stray table in the way of version 2 makes its backfill fail after
    // its first tables and rows were made.
    ASSERT_TRUE((*db)->ExecScript("CREATE TABLE agency_links (unrelated INTEGER)").ok());
  }
  {
    auto db = Open(GetParam(), *where);
    ASSERT_TRUE(db.ok()) << db.status();
    absl::Status s = SqlRecordsStorage::Create(std::move(*db)).status();
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal,
                            HasSubstr("records: schema migration to version 2 failed: ")));
    // The backfill's INSERT into the stray table failed in the database.
    EXPECT_THAT(s, HasErrorReason("SCHEMA_MIGRATION_FAILED"));
    EXPECT_THAT(s, HasErrorMetadata("cause", "STORAGE_FAILED"));
    EXPECT_THAT(s, HasErrorMetadata("store", "records"));
  }
  {
    auto db = Open(GetParam(), *where);
    ASSERT_TRUE(db.ok()) << db.status();
    auto version = sql::SchemaVersion(**db, "records");
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(*version, 0);
    // Nothing of version 2 was left behind.
    EXPECT_FALSE((*db)->Query("SELECT 1 FROM child_responsibility").ok());
    EXPECT_FALSE((*db)->Query("SELECT 1 FROM audit_outbox").ok());
    EXPECT_FALSE((*db)->Query("SELECT 1 FROM sharing_decisions").ok());
    auto parts = (*db)->Query("SELECT kinex_id FROM part_heads");
    ASSERT_TRUE(parts.ok()) << parts.status();
    EXPECT_EQ(parts->size(), 3u);
    // Without the stray table the upgrade then succeeds.
    ASSERT_TRUE((*db)->ExecScript("DROP TABLE agency_links").ok());
  }
  auto db = Open(GetParam(), *where);
  ASSERT_TRUE(db.ok()) << db.status();
  auto storage = SqlRecordsStorage::Create(std::move(*db));
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::optional<std::string> la;
  ASSERT_TRUE((*storage)
                  ->Transact([&](RecordsTxn& txn) -> absl::Status {
                    KINEX_ASSIGN_OR_RETURN(la, txn.ResponsibleLa(kOldChild));
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(la, std::optional<std::string>("E09000033"));
}

}  // namespace
}  // namespace kinex::records::testing
