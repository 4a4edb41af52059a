// Runs the consent conformance suite against the in-memory fake and SQLite.
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "tests/consent/consent_conformance.h"
#include "tests/testing/fake_consent_storage.h"
#include "tests/testing/temp_dir.h"

namespace kinex::consent::testing {
namespace {

ConsentBackend FakeBackend() {
  return {"Fake", []() -> absl::StatusOr<std::unique_ptr<ConsentStorage>> {
            return std::make_unique<FakeConsentStorage>();
          }};
}

SqlBackend Sqlite() {
  return {"Sqlite",
          []() -> absl::StatusOr<std::string> {
            return kinex::testing::MakeUniqueTempDir("consent") + "/consent.db";
          },
          [](const std::string& path) { return sql::OpenSqlite(path); }};
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentConformanceTest,
                         ::testing::Values(FakeBackend(), SqlConsentBackend(Sqlite())),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, SqlConsentStorageTest, ::testing::Values(Sqlite()), BackendName);

}  // namespace
}  // namespace kinex::consent::testing
