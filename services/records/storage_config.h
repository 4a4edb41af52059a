// Opens the SQL database a service's StorageConfig names: SQLite (default,
// "<service>.db" under data_dir; relative paths are under data_dir) or
// PostgreSQL (postgres_conninfo).
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto db, OpenConfiguredDb(config.records().storage(),
//                                                    config.data_dir(), "records.db"));
#ifndef KINEX_SERVICES_RECORDS_STORAGE_CONFIG_H_
#define KINEX_SERVICES_RECORDS_STORAGE_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/records/sql_db.h"

namespace kinex::sql {

// UNAVAILABLE naming the SQLite path (never the conninfo, which may hold
// credentials) when the database cannot be opened. Thread-safe.
absl::StatusOr<std::unique_ptr<Db>> OpenConfiguredDb(
    const kinex::config::v1::StorageConfig& storage, const std::string& data_dir,
    const std::string& default_file);

}  // namespace kinex::sql

#endif  // KINEX_SERVICES_RECORDS_STORAGE_CONFIG_H_
