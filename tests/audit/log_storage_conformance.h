// One conformance suite for every LogStorage backend (Trillian's
// storage/testonly pattern). A test binary instantiates it per backend:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, LogStorageConformanceTest,
//       ::testing::Values(BackendParam{"sqlite", &MakeSqliteBackend}),
//       BackendName);
#ifndef KINEX_TESTS_AUDIT_LOG_STORAGE_CONFORMANCE_H_
#define KINEX_TESTS_AUDIT_LOG_STORAGE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "services/audit/log_storage.h"

namespace kinex::audit::testing {

// A fresh, empty store of one backend that a test can close and reopen.
class StorageBackend {
 public:
  virtual ~StorageBackend() = default;
  // Closes any open handle and opens the store again (same data). The
  // returned pointer stays valid until the next Reopen or destruction.
  virtual absl::StatusOr<LogStorage*> Reopen() = 0;
};

struct BackendParam {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<StorageBackend>>()> make;
};

inline void PrintTo(const BackendParam& p, std::ostream* os) { *os << p.name; }

inline std::string BackendName(
    const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

class LogStorageConformanceTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    auto backend = GetParam().make();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    auto storage = backend_->Reopen();
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *storage;
  }
  std::unique_ptr<StorageBackend> backend_;
  LogStorage* storage_ = nullptr;
};

}  // namespace kinex::audit::testing

#endif  // KINEX_TESTS_AUDIT_LOG_STORAGE_CONFORMANCE_H_
