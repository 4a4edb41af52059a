// Runs the consent conformance suite against a real PostgreSQL server (one
// server per test process, a fresh database per test). Labelled `postgres`;
// fails (never skips) when PostgreSQL is not installed.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "tests/consent/consent_conformance.h"
#include "tests/testing/postgres_server.h"

namespace kinex::consent::testing {
namespace {

SqlBackend Postgres() {
  return {"Postgres",
          []() -> absl::StatusOr<std::string> {
            static std::atomic<int> n{0};
            auto server = kinex::testing::SharedPostgresServer();
            if (!server.ok()) return server.status();
            return (*server)->CreateDatabase(absl::StrCat("consent_", n++));
          },
          sql::OpenPostgres};
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentConformanceTest,
                         ::testing::Values(SqlConsentBackend(Postgres())), BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, SqlConsentStorageTest, ::testing::Values(Postgres()),
                         BackendName);

}  // namespace
}  // namespace kinex::consent::testing
