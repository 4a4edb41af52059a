// The one shape of a storage conformance suite (after Trillian's
// storage/testonly): a gtest fixture parameterised by a backend factory, so
// every backend of a store (the in-memory fake, SQLite, PostgreSQL) runs the
// same tests. The audit log, consent and records suites all use it
// (tests/audit/log_storage_conformance.h, tests/consent/consent_conformance.h,
// tests/records/records_conformance.h). Header-only.
//
// Example:
//   using RecordsBackend = kinex::testing::StorageBackend<RecordsStorage>;
//   class RecordsConformanceTest
//       : public kinex::testing::StorageConformanceTest<RecordsStorage> {};
//   TEST_P(RecordsConformanceTest, ...) { auto storage = MakeStore(); ... }
//   INSTANTIATE_TEST_SUITE_P(Backends, RecordsConformanceTest,
//       ::testing::Values(RecordsBackend{"Fake", &MakeFake}), BackendName);
#ifndef KINEX_TESTS_TESTING_STORAGE_CONFORMANCE_H_
#define KINEX_TESTS_TESTING_STORAGE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace kinex::testing {

// One backend of `Store`: its name (in gtest and ctest test names) and how
// to make a fresh, empty store of it.
template <typename Store>
struct StorageBackend {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<Store>>()> make;
};

template <typename Store>
void PrintTo(const StorageBackend<Store>& backend, std::ostream* os) {
  *os << backend.name;
}

// A SQL database engine, for the tests of a SQL schema and its migrations:
// makes fresh, empty databases and connects to them (more than once, to
// look at the tables beside the store or to reopen it). `Db` is the SQL
// layer's connection type.
template <typename Db>
struct SqlBackend {
  std::string name;
  // Creates a fresh, empty database; returns what `connect` needs to reach it.
  std::function<absl::StatusOr<std::string>()> create_database;
  std::function<absl::StatusOr<std::unique_ptr<Db>>(const std::string&)> connect;
};

template <typename Db>
void PrintTo(const SqlBackend<Db>& backend, std::ostream* os) {
  *os << backend.name;
}

// The test-name generator for INSTANTIATE_TEST_SUITE_P over either.
inline constexpr auto BackendName = [](const auto& info) { return info.param.name; };

// The fixture of a conformance suite over `Store`'s backends.
template <typename Store>
class StorageConformanceTest : public ::testing::TestWithParam<StorageBackend<Store>> {
 protected:
  // A fresh, empty store of this test's backend; null (with a failure
  // recorded) when it cannot be made.
  std::unique_ptr<Store> MakeStore() {
    absl::StatusOr<std::unique_ptr<Store>> store = this->GetParam().make();
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
};

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_STORAGE_CONFORMANCE_H_
