// Runs the consent conformance suite against a real PostgreSQL server (one
// server per test process, a fresh database per test). Labelled `postgres`;
// fails (never skips) when PostgreSQL is not installed.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "services/consent/sql_consent_storage.h"
#include "tests/consent/consent_conformance.h"
#include "tests/testing/postgres_server.h"

namespace kinex::consent::testing {
namespace {

ConsentBackend PostgresBackend() {
  return {"Postgres", []() -> absl::StatusOr<std::unique_ptr<ConsentStorage>> {
            static std::atomic<int> n{0};
            auto server = kinex::testing::SharedPostgresServer();
            if (!server.ok()) return server.status();
            auto conninfo = (*server)->CreateDatabase(absl::StrCat("consent_", n++));
            if (!conninfo.ok()) return conninfo.status();
            auto db = sql::OpenPostgres(*conninfo);
            if (!db.ok()) return db.status();
            auto storage = SqlConsentStorage::Create(std::move(*db));
            if (!storage.ok()) return storage.status();
            return std::unique_ptr<ConsentStorage>(std::move(*storage));
          }};
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentConformanceTest,
                         ::testing::Values(PostgresBackend()), BackendName);

}  // namespace
}  // namespace kinex::consent::testing
