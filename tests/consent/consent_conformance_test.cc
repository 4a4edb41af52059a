// Runs the consent conformance suite against the in-memory fake and SQLite.
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "services/consent/fake_consent_storage.h"
#include "tests/consent/consent_conformance.h"

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
            std::string dir = absl::StrCat(::testing::TempDir(), "/consent_XXXXXX");
            if (mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp");
            return dir + "/consent.db";
          },
          sql::OpenSqlite};
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentConformanceTest,
                         ::testing::Values(FakeBackend(), SqlConsentBackend(Sqlite())),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, SqlConsentStorageTest, ::testing::Values(Sqlite()),
                         SqlBackendName);

}  // namespace
}  // namespace kinex::consent::testing
