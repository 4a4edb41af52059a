// The LogStorage conformance suite against the fake and SQLite backends.
#include <filesystem>

#include "services/audit/fake_log_storage.h"
#include "services/audit/sqlite_log_storage.h"
#include "tests/audit/log_storage_conformance.h"

namespace kinex::audit::testing {
namespace {

class FakeBackend final : public StorageBackend {
 public:
  absl::StatusOr<LogStorage*> Reopen() override { return &storage_; }

 private:
  FakeLogStorage storage_;
};

class SqliteBackend final : public StorageBackend {
 public:
  SqliteBackend() {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("kinex_audit_conf_", ::getpid(), "_", counter++);
    std::filesystem::create_directories(dir_);
  }
  ~SqliteBackend() override {
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }
  absl::StatusOr<LogStorage*> Reopen() override {
    storage_.reset();
    auto s = SqliteLogStorage::Open({.path = (dir_ / "audit.db").string()});
    if (!s.ok()) return s.status();
    storage_ = *std::move(s);
    return storage_.get();
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteLogStorage> storage_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends, LogStorageConformanceTest,
    ::testing::Values(
        BackendParam{"fake",
                     []() -> absl::StatusOr<std::unique_ptr<StorageBackend>> {
                       return std::make_unique<FakeBackend>();
                     }},
        BackendParam{"sqlite",
                     []() -> absl::StatusOr<std::unique_ptr<StorageBackend>> {
                       return std::make_unique<SqliteBackend>();
                     }}),
    BackendName);

}  // namespace
}  // namespace kinex::audit::testing
