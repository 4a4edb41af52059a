// Runs the records conformance suite against the in-memory fake and SQLite,
// and the schema migration tests against SQLite.
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "services/records/fake_records_storage.h"
#include "services/records/sql_records_storage.h"
#include "tests/records/records_conformance.h"

namespace kinex::records::testing {
namespace {

RecordsBackend FakeBackend() {
  return {"Fake", []() -> absl::StatusOr<std::unique_ptr<RecordsStorage>> {
            return std::make_unique<FakeRecordsStorage>();
          }};
}

RecordsBackend SqliteBackend() {
  return {"Sqlite", []() -> absl::StatusOr<std::unique_ptr<RecordsStorage>> {
            std::string dir = absl::StrCat(::testing::TempDir(), "/records_XXXXXX");
            if (mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp");
            auto db = sql::OpenSqlite(dir + "/records.db");
            if (!db.ok()) return db.status();
            auto storage = SqlRecordsStorage::Create(std::move(*db));
            if (!storage.ok()) return storage.status();
            return std::unique_ptr<RecordsStorage>(std::move(*storage));
          }};
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsConformanceTest,
                         ::testing::Values(FakeBackend(), SqliteBackend()), BackendName);

SqlBackend SqliteFile() {
  return {"Sqlite",
          []() -> absl::StatusOr<std::string> {
            std::string dir = absl::StrCat(::testing::TempDir(), "/records_migration_XXXXXX");
            if (mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp");
            return dir + "/records.db";
          },
          [](const std::string& path) { return sql::OpenSqlite(path); }};
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsMigrationTest, ::testing::Values(SqliteFile()),
                         SqlBackendName);

}  // namespace
}  // namespace kinex::records::testing
