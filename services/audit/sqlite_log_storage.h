// SQLite LogStorage: the embedded default. The log's SQL storage
// (sql_log_storage.h) on an SQLite file: WAL journal with synchronous=FULL,
// so a committed Append survives power loss; one writer connection (the
// log's sequencer) and a pool of reader connections (WAL readers do not
// block the writer). The WAL is copied back into the database file by a
// background sql::WalCheckpointer, so an append does not wait for that.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto storage,
//                          SqliteLogStorage::Open({.path = "data/audit.db"}));
#ifndef KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_
#define KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_

#include <memory>
#include <string>

#include "services/audit/sql_log_storage.h"
#include "services/common/sql/wal_checkpointer.h"

namespace kinex::audit {

// SQLite-backed log storage. Thread-safe.
class SqliteLogStorage final : public SqlLogStorage {
 public:
  struct Options {
    // Required. Database file; created (with its schema) when missing.
    std::string path;
    // Default true. synchronous=FULL; false (synchronous=NORMAL) only for
    // tests that do not care about power loss.
    bool synchronous_full = true;
    // Default true: the WAL is copied into the database file by a
    // sql::WalCheckpointer after appends, so an append does not wait for
    // it; the writer's own checkpoint (every kBackstopCheckpointPages) is
    // left with the few pages written since. false: the writer checkpoints
    // every kWriterCheckpointPages itself (for comparison in benchmarks).
    bool background_checkpoints = true;
    // Default 8 MiB (kCacheKib): the writer connection's page cache, in
    // KiB; another value only to compare in benchmarks
    // (audit_scale_bench --compare_writer_cache_mib). Readers keep
    // kCacheKib each.
    int writer_cache_kib = kCacheKib;
  };

  // Each connection's page cache (KiB): the writer's by default, every
  // reader's.
  static constexpr int kCacheKib = 8192;
  // WAL pages between the writer's own checkpoints, without and with the
  // background checkpointer.
  static constexpr int kWriterCheckpointPages = 8192;
  static constexpr int kBackstopCheckpointPages = 4 * kWriterCheckpointPages;

  // Opens (creating if needed) the database and brings its schema up to
  // date. UNAVAILABLE naming the path when it cannot be opened or its
  // schema cannot be created.
  static absl::StatusOr<std::unique_ptr<SqliteLogStorage>> Open(Options options);

  ~SqliteLogStorage() override;

  // SqlLogStorage::Append, then a word to the checkpointer.
  absl::Status Append(absl::Span<const NewEntry> entries,
                      const kinex::audit::v1::SignedTreeHead* head) override;

  // The background checkpointer's counters (all zero without one).
  sql::WalCheckpointer::Stats checkpointer_stats() const;

 private:
  using SqlLogStorage::SqlLogStorage;

  // Set once by Open, before the storage is shared; null when
  // background_checkpoints is off.
  std::unique_ptr<sql::WalCheckpointer> checkpointer_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_
