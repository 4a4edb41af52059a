// The LogStorage conformance suite against a real PostgreSQL server started
// by the test harness (kinex::testing::PostgresServer). Fails, never skips,
// when PostgreSQL is missing.
#include "services/audit/postgres_log_storage.h"
#include "tests/audit/log_storage_conformance.h"
#include "tests/testing/postgres_server.h"

namespace kinex::audit::testing {
namespace {

class PostgresBackend final : public ReopenableLogStorage {
 public:
  explicit PostgresBackend(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  absl::StatusOr<LogStorage*> Reopen() override {
    storage_.reset();
    auto s = PostgresLogStorage::Open({.conninfo = conninfo_});
    if (!s.ok()) return s.status();
    storage_ = *std::move(s);
    return storage_.get();
  }

 private:
  std::string conninfo_;
  std::unique_ptr<PostgresLogStorage> storage_;
};

absl::StatusOr<std::unique_ptr<ReopenableLogStorage>> MakePostgres() {
  static int counter = 0;
  auto server = kinex::testing::SharedPostgresServer();  // one per binary
  if (!server.ok()) return server.status();
  auto conninfo = (*server)->CreateDatabase(absl::StrCat("audit_conf_", counter++));
  if (!conninfo.ok()) return conninfo.status();
  return std::make_unique<PostgresBackend>(*conninfo);
}

INSTANTIATE_TEST_SUITE_P(Backends, LogStorageConformanceTest,
                         ::testing::Values(LogStorageBackend{"postgres", &MakePostgres}),
                         BackendName);

}  // namespace
}  // namespace kinex::audit::testing
