// Runs the records conformance suite against the in-memory fake and SQLite,
// and the schema migration tests against SQLite.
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "services/records/sql_records_storage.h"
#include "tests/records/records_conformance.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/temp_dir.h"

namespace kinex::records::testing {
namespace {

RecordsBackend FakeBackend() {
  return {"Fake", []() -> absl::StatusOr<std::unique_ptr<RecordsStorage>> {
            return std::make_unique<FakeRecordsStorage>();
          }};
}

RecordsBackend SqliteBackend() {
  return {"Sqlite", []() -> absl::StatusOr<std::unique_ptr<RecordsStorage>> {
            const std::string path = kinex::testing::MakeUniqueTempDir("records") + "/records.db";
            auto db = sql::OpenSqlite(path);
            if (!db.ok()) return db.status();
            // Reads on their own connections, as the service opens the store.
            auto storage = SqlRecordsStorage::Create(std::move(*db), [path] {
              return sql::OpenSqlite({.path = path, .create = false});
            });
            if (!storage.ok()) return storage.status();
            return std::unique_ptr<RecordsStorage>(std::move(*storage));
          }};
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsConformanceTest,
                         ::testing::Values(FakeBackend(), SqliteBackend()), BackendName);

SqlBackend SqliteFile() {
  return {"Sqlite",
          []() -> absl::StatusOr<std::string> {
            return kinex::testing::MakeUniqueTempDir("records-migration") + "/records.db";
          },
          [](const std::string& path) { return sql::OpenSqlite(path); }};
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsMigrationTest, ::testing::Values(SqliteFile()),
                         BackendName);

}  // namespace
}  // namespace kinex::records::testing
