// A LogStorage whose every call fails with UNAVAILABLE: proves that the log,
// and everything above it, fails closed when the audit store is down.
// Thread-safe.
#ifndef KINEX_TESTS_TESTING_FAILING_LOG_STORAGE_H_
#define KINEX_TESTS_TESTING_FAILING_LOG_STORAGE_H_

#include "services/audit/log_storage.h"

namespace kinex::audit {

// Fails every call. With `fail_reads_too` false, reads behave as an empty
// store so a log can start and then fail on Append.
class FailingLogStorage final : public LogStorage {
 public:
  explicit FailingLogStorage(bool fail_reads_too = false) : fail_reads_(fail_reads_too) {}

  absl::Status Append(absl::Span<const NewEntry>,
                      const kinex::audit::v1::SignedTreeHead*) override {
    return Error();
  }
  absl::Status AddHead(const kinex::audit::v1::SignedTreeHead&) override { return Error(); }
  absl::StatusOr<uint64_t> Size() override {
    if (fail_reads_) return Error();
    return 0;
  }
  absl::StatusOr<std::optional<kinex::audit::v1::SignedTreeHead>> LatestHead() override {
    if (fail_reads_) return Error();
    return std::nullopt;
  }
  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeads() override {
    if (fail_reads_) return Error();
    return std::vector<kinex::audit::v1::SignedTreeHead>{};
  }
  absl::Status ReadEntries(uint64_t, uint64_t,
                           const std::function<absl::Status(const StoredEntry&)>&) override {
    if (fail_reads_) return Error();
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<StoredEntry>> Query(const QueryFilter&, size_t) override {
    return Error();
  }
  absl::Status ReadChildIndex(uint64_t, uint64_t,
                              const std::function<absl::Status(const IndexRow&)>&) override {
    if (fail_reads_) return Error();
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<uint64_t>> LookupIdempotencyKey(const std::string&) override {
    return Error();
  }

 private:
  static absl::Status Error() {
    return absl::UnavailableError("audit storage is unavailable (injected)");
  }
  const bool fail_reads_;
};

}  // namespace kinex::audit

#endif  // KINEX_TESTS_TESTING_FAILING_LOG_STORAGE_H_
