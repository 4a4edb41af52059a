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

// Owns the one server of this process; stops it after the last test.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { server_.reset(); }
  absl::StatusOr<kinex::testing::PostgresServer*> Get() {
    if (server_ == nullptr) {
      auto started = kinex::testing::PostgresServer::Start();
      if (!started.ok()) return started.status();
      server_ = std::move(*started);
    }
    return server_.get();
  }

 private:
  std::unique_ptr<kinex::testing::PostgresServer> server_;
};

PostgresEnvironment* const kEnvironment = static_cast<PostgresEnvironment*>(
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment));

ConsentBackend PostgresBackend() {
  return {"Postgres", []() -> absl::StatusOr<std::unique_ptr<ConsentStorage>> {
            static std::atomic<int> n{0};
            auto server = kEnvironment->Get();
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
