#include "services/common/sql/storage_config.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"

namespace kinex::sql {
namespace {

constexpr char kMemory[] = ":memory:";

bool IsPostgres(const kinex::config::v1::StorageConfig& storage) {
  return storage.backend_case() == kinex::config::v1::StorageConfig::kPostgresConninfo;
}

// The SQLite file (relative paths under data_dir), or ":memory:".
std::string SqlitePath(const kinex::config::v1::StorageConfig& storage,
                       const std::string& data_dir) {
  const std::string& path = storage.sqlite_path();
  if (path.empty() || path == kMemory || path[0] == '/') return path;
  return absl::StrCat(data_dir, "/", path);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Db>> OpenConfiguredDb(
    const kinex::config::v1::StorageConfig& storage, const std::string& data_dir) {
  if (IsPostgres(storage)) return OpenPostgres(storage.postgres_conninfo());
  const std::string path = SqlitePath(storage, data_dir);
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "storage: neither sqlite_path nor postgres_conninfo is set (LoadConfig fills the "
        "default)");
  }
  if (path != kMemory) {
    // Stores hold children's data: their directories are owner-only.
    KINEX_RETURN_IF_ERROR(
        MakePrivateDirectories(std::filesystem::path(path).parent_path().string()));
  }
  return OpenSqlite(path);
}

Pool::Opener ConfiguredReaderOpener(const kinex::config::v1::StorageConfig& storage,
                                    const std::string& data_dir) {
  if (IsPostgres(storage)) {
    return [conninfo = storage.postgres_conninfo()] { return OpenPostgres(conninfo); };
  }
  const std::string path = SqlitePath(storage, data_dir);
  if (path.empty() || path == kMemory) return nullptr;
  return [path] { return OpenSqlite({.path = path, .create = false}); };
}

}  // namespace kinex::sql
