// The LogStorage conformance suite against the fake and SQLite backends.
#include "services/audit/sqlite_log_storage.h"
#include "tests/audit/log_storage_conformance.h"
#include "tests/testing/fake_log_storage.h"
#include "tests/testing/temp_dir.h"

namespace kinex::audit::testing {
namespace {

class FakeBackend final : public ReopenableLogStorage {
 public:
  absl::StatusOr<LogStorage*> Reopen() override { return &storage_; }

 private:
  FakeLogStorage storage_;
};

class SqliteBackend final : public ReopenableLogStorage {
 public:
  ~SqliteBackend() override { storage_.reset(); }  // before the directory goes
  absl::StatusOr<LogStorage*> Reopen() override {
    storage_.reset();
    auto s = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
    if (!s.ok()) return s.status();
    storage_ = *std::move(s);
    return storage_.get();
  }

 private:
  kinex::testing::ScopedTempDir dir_{"audit-conformance"};
  std::unique_ptr<SqliteLogStorage> storage_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends, LogStorageConformanceTest,
    ::testing::Values(
        LogStorageBackend{"fake",
                          []() -> absl::StatusOr<std::unique_ptr<ReopenableLogStorage>> {
                            return std::make_unique<FakeBackend>();
                          }},
        LogStorageBackend{"sqlite",
                          []() -> absl::StatusOr<std::unique_ptr<ReopenableLogStorage>> {
                            return std::make_unique<SqliteBackend>();
                          }}),
    BackendName);

}  // namespace
}  // namespace kinex::audit::testing
