// Runs the consent conformance suite against the in-memory fake and SQLite.
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "services/consent/fake_consent_storage.h"
#include "services/consent/sql_consent_storage.h"
#include "tests/consent/consent_conformance.h"

namespace kinex::consent::testing {
namespace {

ConsentBackend FakeBackend() {
  return {"Fake", []() -> absl::StatusOr<std::unique_ptr<ConsentStorage>> {
            return std::make_unique<FakeConsentStorage>();
          }};
}

ConsentBackend SqliteBackend() {
  return {"Sqlite", []() -> absl::StatusOr<std::unique_ptr<ConsentStorage>> {
            std::string dir = absl::StrCat(::testing::TempDir(), "/consent_XXXXXX");
            if (mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp");
            auto db = sql::OpenSqlite(dir + "/consent.db");
            if (!db.ok()) return db.status();
            auto storage = SqlConsentStorage::Create(std::move(*db));
            if (!storage.ok()) return storage.status();
            return std::unique_ptr<ConsentStorage>(std::move(*storage));
          }};
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentConformanceTest,
                         ::testing::Values(FakeBackend(), SqliteBackend()), BackendName);

}  // namespace
}  // namespace kinex::consent::testing
