// The statements that take an audit store back one schema version, for the
// tests of the steps forward (child_index_schema_test.cc) and the benchmark
// that times them on a grown store (bench/audit/audit_migration_bench.cc):
// each leaves the store exactly as the older release made it, with its
// append-only triggers, and its schema_version row set back.
//
// Example:
//   KINEX_RETURN_IF_ERROR(db.ExecScript(BackToVersion9Script(db.dialect())));
//   KINEX_RETURN_IF_ERROR(db.ExecScript(BackToVersion8Script(db.dialect())));
//   // Opening the store now runs the steps to versions 9 and 10.
#ifndef KINEX_TESTS_AUDIT_STORE_DOWNGRADE_H_
#define KINEX_TESTS_AUDIT_STORE_DOWNGRADE_H_

#include <string>

#include "services/common/sql/sql_db.h"

namespace kinex::audit::testing {

// From version 8 to version 7: audit_entries' rows hold agency_kind,
// agency_code and actor again; audit_principals is dropped.
std::string BackToVersion7Script(sql::Dialect dialect);

// From version 9 to version 8: audit_heads' rows hold their key id again;
// audit_signing_keys is dropped.
std::string BackToVersion8Script(sql::Dialect dialect);

// From version 10 to version 9: the query index is one audit_child_entries
// row (child_id, leaf_index) per child number of each leaf again, with its
// by-leaf index; the tables of child sets are dropped.
std::string BackToVersion9Script(sql::Dialect dialect);

}  // namespace kinex::audit::testing

#endif  // KINEX_TESTS_AUDIT_STORE_DOWNGRADE_H_
