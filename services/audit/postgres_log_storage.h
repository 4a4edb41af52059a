// PostgreSQL LogStorage (libpq), for the microservices deployment. Same
// schema and semantics as SqliteLogStorage: an Append is one transaction
// (durable on COMMIT with PostgreSQL's default synchronous_commit), taken
// under an EXCLUSIVE table lock so two audit replicas pointed at one
// database cannot interleave leaf indices; triggers refuse UPDATE and DELETE
// on entries and heads.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto storage, PostgresLogStorage::Open(
//       {.conninfo = "host=db dbname=kinex user=kinex"}));
#ifndef KINEX_SERVICES_AUDIT_POSTGRES_LOG_STORAGE_H_
#define KINEX_SERVICES_AUDIT_POSTGRES_LOG_STORAGE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/log_storage.h"

struct pg_conn;

namespace kinex::audit {

// PostgreSQL-backed log storage. Thread-safe (a writer connection plus a
// pool of reader connections).
class PostgresLogStorage final : public LogStorage {
 public:
  struct Options {
    // Required. libpq connection string.
    std::string conninfo;
  };

  // Connects and creates the schema if missing. UNAVAILABLE when the server
  // cannot be reached (the message never echoes the conninfo, which may hold
  // credentials).
  static absl::StatusOr<std::unique_ptr<PostgresLogStorage>> Open(
      Options options);
  ~PostgresLogStorage() override;

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
  explicit PostgresLogStorage(Options options) : options_(std::move(options)) {}
  absl::StatusOr<pg_conn*> AcquireReader();
  void ReleaseReader(pg_conn* conn);
  absl::Status EnsureWriter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const Options options_;
  absl::Mutex write_mu_;
  pg_conn* writer_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  absl::Mutex readers_mu_;
  std::vector<pg_conn*> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_POSTGRES_LOG_STORAGE_H_
