#include "services/audit/sqlite_log_storage.h"

#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::audit {

absl::StatusOr<std::unique_ptr<SqliteLogStorage>> SqliteLogStorage::Open(Options options) {
  if (options.path.empty()) {
    return WithErrorReason(absl::InvalidArgumentError("audit store: sqlite path is empty"),
                           reason::kInvalidField, {{"field", "audit.storage.sqlite_path"}});
  }
  // A moderate page cache and fewer checkpoints: each commit then writes
  // little more than the new rows' pages (the fsync is the cost that
  // matters; group commit amortises it). The cache is per connection (the
  // writer and each pooled reader): 8 MiB keeps resident memory bounded as
  // the log grows — a soak with 64 MiB per connection grew RSS by 69% —
  // and 64 MiB on the writer did not hold the append rate better to 10M
  // entries (bench/audit/README.md, "The writer's page cache").
  // With the background checkpointer the writer's own checkpoint is only
  // the backstop that lets the WAL start again from its beginning.
  sql::SqliteOptions sqlite{.path = options.path,
                            .create = true,
                            .synchronous_full = options.synchronous_full,
                            .cache_kib = options.writer_cache_kib,
                            .wal_autocheckpoint_pages = options.background_checkpoints
                                                            ? kBackstopCheckpointPages
                                                            : kWriterCheckpointPages};
  absl::StatusOr<std::unique_ptr<sql::Db>> writer = sql::OpenSqlite(sqlite);
  if (!writer.ok()) {
    return CopyErrorReason(writer.status(), absl::UnavailableError(absl::StrCat(
                                                "audit store: ", writer.status().message())));
  }
  sqlite.create = false;
  sqlite.cache_kib = kCacheKib;
  std::unique_ptr<SqliteLogStorage> storage(
      new SqliteLogStorage(*std::move(writer), [sqlite] { return sql::OpenSqlite(sqlite); }));
  absl::Status s = storage->Init();
  if (!s.ok()) {
    return CopyErrorReason(s,
                           absl::Status(s.code(), absl::StrCat(options.path, ": ", s.message())));
  }
  if (options.background_checkpoints) {
    absl::StatusOr<std::unique_ptr<sql::WalCheckpointer>> checkpointer =
        sql::WalCheckpointer::Start({.sqlite = sqlite});
    if (!checkpointer.ok()) {
      return CopyErrorReason(
          checkpointer.status(),
          absl::UnavailableError(absl::StrCat("audit store: ", checkpointer.status().message())));
    }
    storage->checkpointer_ = *std::move(checkpointer);
  }
  return storage;
}

SqliteLogStorage::~SqliteLogStorage() = default;

absl::Status SqliteLogStorage::Append(absl::Span<const NewEntry> entries,
                                      const kinex::audit::v1::SignedTreeHead* head) {
  absl::Status s = SqlLogStorage::Append(entries, head);
  if (s.ok() && checkpointer_ != nullptr) checkpointer_->Notify();
  return s;
}

sql::WalCheckpointer::Stats SqliteLogStorage::checkpointer_stats() const {
  return checkpointer_ != nullptr ? checkpointer_->stats() : sql::WalCheckpointer::Stats{};
}

}  // namespace kinex::audit
