#include "services/common/sql/storage_config.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"

namespace kinex::sql {

absl::StatusOr<std::unique_ptr<Db>> OpenConfiguredDb(
    const kinex::config::v1::StorageConfig& storage, const std::string& data_dir) {
  if (storage.backend_case() == kinex::config::v1::StorageConfig::kPostgresConninfo) {
    return OpenPostgres(storage.postgres_conninfo());
  }
  std::string path = storage.sqlite_path();
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "storage: neither sqlite_path nor postgres_conninfo is set (LoadConfig fills the "
        "default)");
  }
  if (path != ":memory:" && path[0] != '/') path = absl::StrCat(data_dir, "/", path);
  if (path != ":memory:") {
    // Stores hold children's data: their directories are owner-only.
    KINEX_RETURN_IF_ERROR(
        MakePrivateDirectories(std::filesystem::path(path).parent_path().string()));
  }
  return OpenSqlite(path);
}

}  // namespace kinex::sql
