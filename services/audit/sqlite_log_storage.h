// SQLite LogStorage: the embedded default. WAL journal with synchronous=FULL,
// so a committed Append survives power loss; one writer connection (the log's
// sequencer) and a pool of reader connections (WAL readers do not block the
// writer). Triggers refuse UPDATE and DELETE on entries and heads, so the log
// is append-only through SQL short of dropping the triggers (which tamper
// tests do; the log's start-up recomputation catches what follows).
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto storage,
//                          SqliteLogStorage::Open({.path = "data/audit.db"}));
#ifndef KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_
#define KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/log_storage.h"

struct sqlite3;

namespace kinex::audit {

// SQLite-backed log storage. Thread-safe.
class SqliteLogStorage final : public LogStorage {
 public:
  struct Options {
    // Required. Database file; created (with its schema) when missing.
    std::string path;
    // Default true. synchronous=FULL; false (synchronous=NORMAL) only for
    // tests that do not care about power loss.
    bool synchronous_full = true;
  };

  // Opens (creating if needed) the database. UNAVAILABLE naming the path when
  // it cannot be opened or its schema cannot be created.
  static absl::StatusOr<std::unique_ptr<SqliteLogStorage>> Open(Options options);
  ~SqliteLogStorage() override;

  absl::Status Append(absl::Span<const NewEntry> entries,
                      const kinex::audit::v1::SignedTreeHead* head) override;
  absl::Status AddHead(const kinex::audit::v1::SignedTreeHead& head) override;
  absl::StatusOr<uint64_t> Size() override;
  absl::StatusOr<std::optional<kinex::audit::v1::SignedTreeHead>> LatestHead()
      override;
  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeadsBetween(
      uint64_t min_size, uint64_t max_size) override;
  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeads()
      override;
  absl::Status ReadEntries(
      uint64_t begin, uint64_t end,
      const std::function<absl::Status(const StoredEntry&)>& fn) override;
  absl::StatusOr<std::vector<StoredEntry>> Query(const QueryFilter& filter,
                                                 size_t limit) override;
  absl::Status ReadChildIndex(
      uint64_t begin, uint64_t end,
      const std::function<absl::Status(const IndexRow&)>& fn) override;
  absl::StatusOr<std::optional<uint64_t>> LookupIdempotencyKey(
      const std::string& key) override;

 private:
  class Reader;
  explicit SqliteLogStorage(Options options) : options_(std::move(options)) {}
  absl::Status Init();
  absl::StatusOr<sqlite3*> AcquireReader();
  void ReleaseReader(sqlite3* db);
  absl::Status InsertHead(sqlite3* db,
                          const kinex::audit::v1::SignedTreeHead& head)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const Options options_;
  absl::Mutex write_mu_;
  sqlite3* writer_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  absl::Mutex readers_mu_;
  std::vector<sqlite3*> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_SQLITE_LOG_STORAGE_H_
