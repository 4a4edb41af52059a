#include "services/records/storage_config.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace kinex::sql {

absl::StatusOr<std::unique_ptr<Db>> OpenConfiguredDb(
    const kinex::config::v1::StorageConfig& storage, const std::string& data_dir,
    const std::string& default_file) {
  if (storage.backend_case() == kinex::config::v1::StorageConfig::kPostgresConninfo) {
    return OpenPostgres(storage.postgres_conninfo());
  }
  std::string path = storage.sqlite_path().empty() ? default_file : storage.sqlite_path();
  if (path != ":memory:" && path[0] != '/') {
    path = absl::StrCat(data_dir.empty() ? "data" : data_dir, "/", path);
  }
  if (path != ":memory:") {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  }
  return OpenSqlite(path);
}

}  // namespace kinex::sql
