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
#include "services/common/sql/sql_db.h"
#include "services/consent/consent_storage.h"
#include "tests/testing/storage_conformance.h"

namespace kinex::consent::testing {

// The shared conformance shape (tests/testing/storage_conformance.h).
using ConsentBackend = kinex::testing::StorageBackend<ConsentStorage>;
using kinex::testing::BackendName;

// An SQL database engine: makes fresh databases and connects to them (more
// than once, for tests that look at the tables beside the store).
using SqlBackend = kinex::testing::SqlBackend<sql::Db>;

// SqlConsentStorage on a fresh database of `backend`, named after it.
ConsentBackend SqlConsentBackend(SqlBackend backend);

class SqlConsentStorageTest : public ::testing::TestWithParam<SqlBackend> {};

class ConsentConformanceTest : public kinex::testing::StorageConformanceTest<ConsentStorage> {};

}  // namespace kinex::consent::testing

#endif  // KINEX_TESTS_CONSENT_CONSENT_CONFORMANCE_H_
