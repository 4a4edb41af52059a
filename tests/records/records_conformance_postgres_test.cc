// Runs the records conformance suite and the schema migration tests against
// a real PostgreSQL server (one server per test process, a fresh database per
// test). Labelled `postgres`;
// fails (never skips) when PostgreSQL is not installed.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "services/kinex/config.h"
#include "services/records/records_target.h"
#include "services/records/sql_records_storage.h"
#include "tests/records/records_conformance.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::records::testing {
namespace {

RecordsBackend PostgresBackend() {
  return {"Postgres", []() -> absl::StatusOr<std::unique_ptr<RecordsStorage>> {
            static std::atomic<int> n{0};
            auto server = kinex::testing::SharedPostgresServer();
            if (!server.ok()) return server.status();
            auto conninfo = (*server)->CreateDatabase(absl::StrCat("records_", n++));
            if (!conninfo.ok()) return conninfo.status();
            auto db = sql::OpenPostgres(*conninfo);
            if (!db.ok()) return db.status();
            // Reads on their own connections, as the service opens the store.
            auto storage = SqlRecordsStorage::Create(
                std::move(*db), [conninfo = *conninfo] { return sql::OpenPostgres(conninfo); });
            if (!storage.ok()) return storage.status();
            return std::unique_ptr<RecordsStorage>(std::move(*storage));
          }};
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsConformanceTest, ::testing::Values(PostgresBackend()),
                         BackendName);

SqlBackend PostgresDatabase() {
  return {"Postgres",
          []() -> absl::StatusOr<std::string> {
            static std::atomic<int> n{0};
            auto server = kinex::testing::SharedPostgresServer();
            if (!server.ok()) return server.status();
            return (*server)->CreateDatabase(absl::StrCat("records_migration_", n++));
          },
          [](const std::string& conninfo) { return sql::OpenPostgres(conninfo); }};
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsMigrationTest, ::testing::Values(PostgresDatabase()),
                         BackendName);

TEST(RecordsTargetPostgresTest, OpensTheConfiguredDatabase) {
  auto server = kinex::testing::SharedPostgresServer();
  ASSERT_TRUE(server.ok()) << server.status();
  auto conninfo = (*server)->CreateDatabase("records_target");
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  FakeClock clock;
  kinex::testing::RecordingAuditSink audit;
  kinex::config::v1::KinexConfig config;
  config.mutable_records()->mutable_storage()->set_postgres_conninfo(*conninfo);
  ApplyConfigDefaults(config);
  auto target = MakeRecordsTarget(config, clock, audit);
  ASSERT_TRUE(target.ok()) << target.status();
  auto put = target->core->PutPart(Put(kLa, LaRef("E09000033", "P1"), LaPart("P1")));
  ASSERT_TRUE(put.ok()) << put.status();
  // A server that is not there: UNAVAILABLE, without echoing the conninfo.
  config.mutable_records()->mutable_storage()->set_postgres_conninfo(
      "host=127.0.0.1 port=1 dbname=nope password=secret connect_timeout=2");
  absl::Status s = MakeRecordsTarget(config, clock, audit).status();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot connect to PostgreSQL")));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(::testing::HasSubstr("secret")));
}

}  // namespace
}  // namespace kinex::records::testing
