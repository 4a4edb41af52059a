// RecordingAuditSink: an in-memory audit::AuditSink for unit tests of the
// services that append events (records, consent). It keeps every event it
// accepted, in order, honours idempotency keys as the real log does (a
// second Append with the same key returns the first one's leaf and adds
// nothing), and can be told to fail, to prove fail-closed and outbox paths.
// Not a log: no hashing, no signing (the audit tests cover the real one).
//
// Example:
//   RecordingAuditSink audit;
//   auto core = RecordsCore::Create({.storage = &s, .clock = &c, .audit = &audit});
//   audit.set_failing(true);   // appends fail UNAVAILABLE from now on
//   EXPECT_EQ(audit.Events().size(), 1);
#ifndef KINEX_TESTS_TESTING_RECORDING_AUDIT_SINK_H_
#define KINEX_TESTS_TESTING_RECORDING_AUDIT_SINK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/audit_sink.h"

namespace kinex::testing {

// Thread-safe.
class RecordingAuditSink final : public kinex::audit::AuditSink {
 public:
  absl::StatusOr<kinex::audit::AppendResult> Append(
      const kinex::audit::v1::AuditEvent& event) override {
    absl::MutexLock lock(&mu_);
    ++append_calls_;
    if (failing_) return absl::UnavailableError("audit log unavailable (test sink)");
    kinex::audit::AppendResult result;
    if (!event.idempotency_key().empty()) {
      auto it = by_key_.find(event.idempotency_key());
      if (it != by_key_.end()) {
        result.leaf_index = it->second;
        return result;
      }
      by_key_[event.idempotency_key()] = events_.size();
    }
    result.leaf_index = events_.size();
    events_.push_back(event);
    return result;
  }

  // Makes every later Append fail UNAVAILABLE (true) or succeed (false).
  void set_failing(bool failing) {
    absl::MutexLock lock(&mu_);
    failing_ = failing;
  }

  // The events accepted so far, oldest first.
  std::vector<kinex::audit::v1::AuditEvent> Events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  // The kinds of the accepted events, in order.
  std::vector<kinex::audit::v1::EventKind> Kinds() const {
    std::vector<kinex::audit::v1::EventKind> kinds;
    for (const auto& e : Events()) kinds.push_back(e.kind());
    return kinds;
  }

  // Append calls, including failed and repeated ones.
  int append_calls() const {
    absl::MutexLock lock(&mu_);
    return append_calls_;
  }

  // The accepted events of one kind.
  std::vector<kinex::audit::v1::AuditEvent> EventsOfKind(kinex::audit::v1::EventKind kind) const {
    std::vector<kinex::audit::v1::AuditEvent> out;
    for (const auto& e : Events()) {
      if (e.kind() == kind) out.push_back(e);
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<kinex::audit::v1::AuditEvent> events_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> by_key_ ABSL_GUARDED_BY(mu_);
  int append_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_RECORDING_AUDIT_SINK_H_
