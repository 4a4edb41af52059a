// Opens the SQL database a service's StorageConfig names: SQLite
// (sqlite_path; relative paths are under data_dir) or PostgreSQL
// (postgres_conninfo). The default ("<service>.db") is LoadConfig's.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto db, OpenConfiguredDb(config.records().storage(),
//                                                    config.data_dir()));
//   auto readers = ConfiguredReaderOpener(config.records().storage(), config.data_dir());
#ifndef KINEX_SERVICES_COMMON_SQL_STORAGE_CONFIG_H_
#define KINEX_SERVICES_COMMON_SQL_STORAGE_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/common/sql/sql_db.h"

namespace kinex::sql {

// UNAVAILABLE naming the SQLite path (never the conninfo, which may hold
// credentials) when the database cannot be opened; INVALID_ARGUMENT when
// neither backend is set. Thread-safe.
absl::StatusOr<std::unique_ptr<Db>> OpenConfiguredDb(
    const kinex::config::v1::StorageConfig& storage, const std::string& data_dir);

// Opens further connections to the same database, for a store's readers
// (sql::Connections): never creates a file. Null for a private in-memory
// SQLite database, which has no second connection. Call after
// OpenConfiguredDb has opened (and the store has set up) the database.
Pool::Opener ConfiguredReaderOpener(const kinex::config::v1::StorageConfig& storage,
                                    const std::string& data_dir);

}  // namespace kinex::sql

#endif  // KINEX_SERVICES_COMMON_SQL_STORAGE_CONFIG_H_
