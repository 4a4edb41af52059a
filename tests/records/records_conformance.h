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
#include "services/common/sql/sql_db.h"
#include "services/records/records_storage.h"
#include "tests/testing/storage_conformance.h"

namespace kinex::records::testing {

// The shared conformance shape (tests/testing/storage_conformance.h).
using RecordsBackend = kinex::testing::StorageBackend<RecordsStorage>;
using kinex::testing::BackendName;

class RecordsConformanceTest : public kinex::testing::StorageConformanceTest<RecordsStorage> {};

// A SQL database the schema migration tests (records_migration.cc) open more
// than once.
using SqlBackend = kinex::testing::SqlBackend<sql::Db>;

class RecordsMigrationTest : public ::testing::TestWithParam<SqlBackend> {};

}  // namespace kinex::records::testing

#endif  // KINEX_TESTS_RECORDS_RECORDS_CONFORMANCE_H_
