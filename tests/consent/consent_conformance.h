// The consent storage conformance suite: the consent core's behaviour and the
// storage primitives against every ConsentStorage backend. Each test binary
// instantiates ConsentConformanceTest with its backends, and
// SqlConsentStorageTest (the SQL schema itself) with its SQL databases.
#ifndef KINEX_TESTS_CONSENT_CONSENT_CONFORMANCE_H_
#define KINEX_TESTS_CONSENT_CONSENT_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "services/consent/consent_storage.h"
#include "services/records/sql_db.h"

namespace kinex::consent::testing {

// A way to make a fresh, empty storage.
struct ConsentBackend {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<ConsentStorage>>()> make;
};

// Prints the backend's name (gtest and ctest test names).
inline void PrintTo(const ConsentBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string BackendName(const ::testing::TestParamInfo<ConsentBackend>& info) {
  return info.param.name;
}

// An SQL database engine: makes fresh databases and connects to them (more
// than once, for tests that look at the tables beside the store).
struct SqlBackend {
  std::string name;
  // Creates a fresh, empty database; returns what `connect` needs to reach it.
  std::function<absl::StatusOr<std::string>()> create_database;
  std::function<absl::StatusOr<std::unique_ptr<sql::Db>>(const std::string&)> connect;
};

inline void PrintTo(const SqlBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string SqlBackendName(const ::testing::TestParamInfo<SqlBackend>& info) {
  return info.param.name;
}

// SqlConsentStorage on a fresh database of `backend`, named after it.
ConsentBackend SqlConsentBackend(SqlBackend backend);

class SqlConsentStorageTest : public ::testing::TestWithParam<SqlBackend> {};

class ConsentConformanceTest : public ::testing::TestWithParam<ConsentBackend> {
 protected:
  std::unique_ptr<ConsentStorage> MakeStorage() {
    auto s = GetParam().make();
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
};

}  // namespace kinex::consent::testing

#endif  // KINEX_TESTS_CONSENT_CONSENT_CONFORMANCE_H_
