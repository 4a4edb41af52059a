// Storage of the consent service: consent entries (consents, refusals,
// statutory bases; withdrawals update the entry), information sharing
// agreements, as serialized kinex.consent.v1 messages keyed by id, and the
// audit outbox (events of committed writes not yet durable in the audit log,
// written in the same transaction as the write they record). The
// consent core (consent_core.h) holds the rules; storage offers transactional
// primitives, and the one rule it needs to filter by: when an entry is in
// force (InForce below).
//
// Backends: SqlConsentStorage (SQLite default, PostgreSQL) in
// sql_consent_storage.h; FakeConsentStorage / FailingConsentStorage in
// tests/testing/fake_consent_storage.h (test-only). One conformance suite
// (tests/consent/consent_conformance.cc) runs against all of them.
//
// Example:
//   KINEX_RETURN_IF_ERROR(storage.Transact([&](ConsentTxn& txn) {
//     return txn.InsertEntry(entry);
//   }));
#ifndef KINEX_SERVICES_CONSENT_CONSENT_STORAGE_H_
#define KINEX_SERVICES_CONSENT_CONSENT_STORAGE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kinex/consent/v1/consent.pb.h"

namespace kinex::consent {

// When an entry comes into force: its valid_from (inclusive).
absl::Time InForceFrom(const kinex::consent::v1::ConsentEntry& entry);

// When an entry stops being in force: the earlier of valid_until and
// withdraw_time (exclusive); nullopt when neither is set.
std::optional<absl::Time> InForceUntil(const kinex::consent::v1::ConsentEntry& entry);

// Whether an entry is in force at `now`: InForceFrom <= now < InForceUntil.
// The one definition of the rule; the stores filter by it.
bool InForce(const kinex::consent::v1::ConsentEntry& entry, absl::Time now);

// An audit event waiting in the outbox. The store keeps the payload opaque
// (the consent core serialises a kinex.audit.v1.AuditEvent into it).
struct PendingAuditEvent {
  // The event's idempotency key (unique): a retried append of the same
  // event returns the first one's leaf.
  std::string idempotency_key;
  // The serialized event.
  std::string payload;
  // When it was queued (microsecond precision in the SQL store).
  absl::Time enqueue_time;
};

// Operations inside one transaction; valid only during the Transact
// callback; not thread-safe.
class ConsentTxn {
 public:
  virtual ~ConsentTxn() = default;
  // Stores a new entry (consent_id and kinex_id set). ABORTED if the id exists.
  virtual absl::Status InsertEntry(const kinex::consent::v1::ConsentEntry& entry) = 0;
  // Replaces an existing entry. NOT_FOUND if absent.
  virtual absl::Status UpdateEntry(const kinex::consent::v1::ConsentEntry& entry) = 0;
  // The entry with this id, if any.
  virtual absl::StatusOr<std::optional<kinex::consent::v1::ConsentEntry>> GetEntry(
      const std::string& consent_id) = 0;
  // A child's entries with id greater than `after_id`, in id order, at most
  // `limit`.
  virtual absl::StatusOr<std::vector<kinex::consent::v1::ConsentEntry>> ListEntries(
      const std::string& kinex_id, const std::string& after_id, int limit) = 0;
  // A child's entries that are InForce at `now`, in id order: exactly those,
  // filtered by the store, so a disclosure's cost does not grow with the
  // child's history of withdrawn and expired entries.
  virtual absl::StatusOr<std::vector<kinex::consent::v1::ConsentEntry>> ListEntriesInForce(
      const std::string& kinex_id, absl::Time now) = 0;
  // Stores a new agreement. ABORTED if the id exists.
  virtual absl::Status InsertAgreement(const kinex::consent::v1::SharingAgreement& agreement) = 0;
  // Every agreement, in id order.
  virtual absl::StatusOr<std::vector<kinex::consent::v1::SharingAgreement>> ListAgreements() = 0;
  // Queues an audit event in the outbox. ABORTED if the key exists.
  virtual absl::Status InsertPendingEvent(const PendingAuditEvent& event) = 0;
  // The oldest queued events (by enqueue_time, then key), at most `limit`.
  virtual absl::StatusOr<std::vector<PendingAuditEvent>> ListPendingEvents(int limit) = 0;
  // Removes a queued event; OK if there is none with that key (a concurrent
  // drain removed it).
  virtual absl::Status DeletePendingEvent(const std::string& idempotency_key) = 0;
};

// A consent store backend. Thread-safe.
class ConsentStorage {
 public:
  virtual ~ConsentStorage() = default;
  // Runs `fn` in one transaction: kept if it returns OK, undone otherwise.
  virtual absl::Status Transact(const std::function<absl::Status(ConsentTxn&)>& fn) = 0;
  // Runs `fn`, which only reads, on one snapshot of the store; where the
  // backend allows it, beside other reads and a write.
  virtual absl::Status Read(const std::function<absl::Status(ConsentTxn&)>& fn) {
    return Transact(fn);
  }
};

}  // namespace kinex::consent

#endif  // KINEX_SERVICES_CONSENT_CONSENT_STORAGE_H_
