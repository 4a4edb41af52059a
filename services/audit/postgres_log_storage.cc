#include "services/audit/postgres_log_storage.h"

#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::audit {

absl::StatusOr<std::unique_ptr<PostgresLogStorage>> PostgresLogStorage::Open(Options options) {
  if (options.conninfo.empty()) {
    return WithErrorReason(absl::InvalidArgumentError("audit store: postgres conninfo is empty"),
                           reason::kInvalidField, {{"field", "audit.storage.postgres_conninfo"}});
  }
  absl::StatusOr<std::unique_ptr<sql::Db>> writer = sql::OpenPostgres(options.conninfo);
  if (!writer.ok()) {
    return CopyErrorReason(writer.status(), absl::UnavailableError(absl::StrCat(
                                                "audit store: ", writer.status().message())));
  }
  std::unique_ptr<PostgresLogStorage> storage(new PostgresLogStorage(
      *std::move(writer), [conninfo = options.conninfo] { return sql::OpenPostgres(conninfo); }));
  KINEX_RETURN_IF_ERROR(storage->Init());
  return storage;
}

}  // namespace kinex::audit
