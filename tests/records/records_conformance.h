// The records storage conformance suite: the records core's behaviour and the
// storage primitives, run against every RecordsStorage backend. Each test
// binary instantiates it for its backends:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, RecordsConformanceTest,
//                            ::testing::Values(SqliteBackend()), BackendName);
#ifndef KINEX_TESTS_RECORDS_RECORDS_CONFORMANCE_H_
#define KINEX_TESTS_RECORDS_RECORDS_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "services/records/records_storage.h"
#include "services/records/sql_db.h"

namespace kinex::records::testing {

// A way to make a fresh, empty storage.
struct RecordsBackend {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<RecordsStorage>>()> make;
};

// Prints the backend's name (gtest and ctest test names).
inline void PrintTo(const RecordsBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string BackendName(const ::testing::TestParamInfo<RecordsBackend>& info) {
  return info.param.name;
}

class RecordsConformanceTest : public ::testing::TestWithParam<RecordsBackend> {};

// A SQL database the schema migration tests (records_migration.cc) open more
// than once: `create` makes a fresh, empty one and returns where it is;
// `open` opens a connection to it.
struct SqlBackend {
  std::string name;
  std::function<absl::StatusOr<std::string>()> create;
  std::function<absl::StatusOr<std::unique_ptr<sql::Db>>(const std::string&)> open;
};

inline void PrintTo(const SqlBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string SqlBackendName(const ::testing::TestParamInfo<SqlBackend>& info) {
  return info.param.name;
}

class RecordsMigrationTest : public ::testing::TestWithParam<SqlBackend> {};

}  // namespace kinex::records::testing

#endif  // KINEX_TESTS_RECORDS_RECORDS_CONFORMANCE_H_
