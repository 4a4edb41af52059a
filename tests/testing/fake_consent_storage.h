// Test doubles for ConsentStorage: FakeConsentStorage (working, in memory,
// transactional by copy-on-write) and FailingConsentStorage (always
// UNAVAILABLE, to prove callers fail closed).
#ifndef KINEX_TESTS_TESTING_FAKE_CONSENT_STORAGE_H_
#define KINEX_TESTS_TESTING_FAKE_CONSENT_STORAGE_H_

#include <map>
#include <string>

#include "services/common/copy_on_write_state.h"
#include "services/consent/consent_storage.h"

namespace kinex::consent {

// In-memory ConsentStorage. Thread-safe: one transaction at a time.
class FakeConsentStorage final : public ConsentStorage {
 public:
  absl::Status Transact(const std::function<absl::Status(ConsentTxn&)>& fn) override;

  // Number of entries stored.
  size_t EntryCount() const;
  // Number of audit events waiting in the outbox.
  size_t PendingEventCount() const;

  struct State {
    std::map<std::string, kinex::consent::v1::ConsentEntry> entries;
    std::map<std::string, kinex::consent::v1::SharingAgreement> agreements;
    std::map<std::string, PendingAuditEvent> outbox;  // by idempotency key
  };

 private:
  CopyOnWriteState<State> state_;
};

// Every transaction fails UNAVAILABLE. Thread-safe.
class FailingConsentStorage final : public ConsentStorage {
 public:
  absl::Status Transact(const std::function<absl::Status(ConsentTxn&)>& fn) override {
    return absl::UnavailableError("consent storage unavailable (failing fake)");
  }
};

}  // namespace kinex::consent

#endif  // KINEX_TESTS_TESTING_FAKE_CONSENT_STORAGE_H_
