// One conformance suite for every LogStorage backend, in the shared shape
// (tests/testing/storage_conformance.h; Trillian's storage/testonly
// pattern). A test binary instantiates it per backend:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, LogStorageConformanceTest,
//       ::testing::Values(LogStorageBackend{"sqlite", &MakeSqliteBackend}),
//       BackendName);
#ifndef KINEX_TESTS_AUDIT_LOG_STORAGE_CONFORMANCE_H_
#define KINEX_TESTS_AUDIT_LOG_STORAGE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "services/audit/log_storage.h"
#include "tests/testing/storage_conformance.h"

namespace kinex::audit::testing {

// A fresh, empty store of one backend that a test can close and reopen.
class ReopenableLogStorage {
 public:
  virtual ~ReopenableLogStorage() = default;
  // Closes any open handle and opens the store again (same data). The
  // returned pointer stays valid until the next Reopen or destruction.
  virtual absl::StatusOr<LogStorage*> Reopen() = 0;
};

using LogStorageBackend = kinex::testing::StorageBackend<ReopenableLogStorage>;
using kinex::testing::BackendName;

class LogStorageConformanceTest
    : public kinex::testing::StorageConformanceTest<ReopenableLogStorage> {
 protected:
  void SetUp() override {
    backend_ = MakeStore();
    ASSERT_NE(backend_, nullptr);
    auto storage = backend_->Reopen();
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *storage;
  }
  std::unique_ptr<ReopenableLogStorage> backend_;
  LogStorage* storage_ = nullptr;
};

}  // namespace kinex::audit::testing

#endif  // KINEX_TESTS_AUDIT_LOG_STORAGE_CONFORMANCE_H_
