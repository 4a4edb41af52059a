// The consent core: records consents, refusals and statutory bases on a
// child's file, withdraws them, and answers which are in force for a
// disclosure. Plain C++ (absl::Status), no gRPC.
//
// Rules:
//  - The child is resolved through the records service (any ChildRef).
//  - Who may record or withdraw is asked of the injected
//    ConsentRecordingAuthorizer (policy); the core enforces only shape:
//    required fields, known enum values, and validity windows
//    (valid_until must be after valid_from: INVALID_ARGUMENT naming both).
//  - No oracles: only input-shape checks (which read no stored data) come
//    before authorisation. An unknown child and a child the caller may not
//    record for get the same PERMISSION_DENIED (kNoChildToRecord); an
//    unknown consent id and another agency's get the same PERMISSION_DENIED
//    (kNoEntryToWithdraw). Checks against the child's data (its date of
//    birth) and the entry's state (already withdrawn) come after.
//  - A consent given by CHILD_AGED_16_OR_OVER for a child whose published date
//    of birth makes them under 16 at valid_from is FAILED_PRECONDITION.
//  - Every write attempt by an agency is one audit event (Options::audit):
//    CONSENT_RECORDED, CONSENT_WITHDRAWN or SHARING_AGREEMENT_CREATED
//    (record_id: the entry or agreement id), or WRITE_REFUSED (refusal: the
//    code and message the caller got) when nothing was stored. The event of
//    a write is queued in the outbox in the write's own transaction, appended
//    after commit (idempotency_key: a random key, so a retried append is one
//    leaf) and then dequeued: exactly one event per write, even through a
//    crash. OK only once the event is durable; if the append fails the reply
//    is UNAVAILABLE saying the write is stored and its event will be logged,
//    and the outbox is drained at start-up and before the next write. A
//    refusal is returned only once its event is durable (else UNAVAILABLE).
//    A caller that cannot be named in the log (not an agency identity, or a
//    malformed actor or request id) is refused before auditing; the gateway
//    never forwards one.
//  - Refusals are stored as entries with decision CONSENT_REFUSED and are
//    reported by LookupBases as refusals, never as consents.
//  - A withdrawal sets withdraw_time (now or later, never in the past); the
//    entry stays on file.
//  - In force at time t: valid_from <= t < valid_until (if set) and not
//    withdrawn at or before t; t is the injected clock's now.
//  - Information sharing agreements: a statutory basis recorded by agency R
//    for recipient X is narrowed by the agreements in force naming both R and
//    X as parties (a party with no code names every agency of its kind): if
//    there is at least one, the basis applies only when the purpose is one of
//    theirs, and only to the union of their categories for that purpose. With
//    no agreement for the pair, the basis applies unrestricted. Agreements do
//    not affect consents (the person's own scope governs them).
//
// Example:
//   auto core = ConsentCore::Create({.storage = &storage, .records = &records,
//                                    .authorizer = &policy, .clock = &clock,
//                                    .audit = &audit_log});
//   auto bases = (*core)->LookupBases(request);
#ifndef KINEX_SERVICES_CONSENT_CONSENT_CORE_H_
#define KINEX_SERVICES_CONSENT_CONSENT_CORE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/audit/audit_sink.h"
#include "services/common/clock.h"
#include "services/consent/consent_authorizer.h"
#include "services/consent/consent_registry.h"
#include "services/consent/consent_storage.h"
#include "services/records/records_store.h"

namespace kinex::consent {

// Thread-safe.
class ConsentCore final : public ConsentRegistry {
 public:
  struct Options {
    // Required. Not owned; must outlive the core.
    ConsentStorage* storage = nullptr;
    // Required. Resolves children. Not owned; must outlive the core.
    kinex::records::RecordsStore* records = nullptr;
    // Required. Decides who may record what. Not owned; must outlive the core.
    const ConsentRecordingAuthorizer* authorizer = nullptr;
    // Required. Not owned; must outlive the core.
    const Clock* clock = nullptr;
    // Required for writes (MakeConsentTarget always sets one): the audit log
    // every write attempt is appended to; Append returns once durable.
    // Default null: every write fails closed UNAVAILABLE and stores nothing
    // (cores that only answer lookups, as in gateway tests). Not owned; must
    // outlive the core.
    kinex::audit::AuditSink* audit = nullptr;
    // Default "kinex.dev". Trust domain of recipients' SPIFFE IDs.
    std::string trust_domain = "kinex.dev";
    // Default: RandomId(prefix). New entry ids ("cn_", "lb_", "isa_" prefixes).
    std::function<absl::StatusOr<std::string>(absl::string_view prefix)> new_id;
  };

  // The PERMISSION_DENIED message for an unknown child and for a child the
  // caller may not record for (RecordConsent, ListConsents): one message,
  // naming no identifier.
  static constexpr char kNoChildToRecord[] =
      "no child you may record consent for matches this reference";
  // The PERMISSION_DENIED message for an unknown consent id and for an entry
  // the caller may not withdraw.
  static constexpr char kNoEntryToWithdraw[] =
      "no consent entry you may withdraw matches this consent_id";

  // INVALID_ARGUMENT naming a missing required option. Then drains the
  // audit outbox (DrainAuditOutbox); a failure there is not fatal (the rows
  // stay and the next write drains them).
  static absl::StatusOr<std::unique_ptr<ConsentCore>> Create(Options options);

  // Appends the queued events of committed writes whose append did not
  // complete (a crash, or the audit log unavailable), oldest first, and
  // dequeues each once durable. OK when the outbox is empty; UNAVAILABLE
  // when the audit log cannot take them (they stay queued); DATA_LOSS for a
  // queued event that does not parse (it stays, for an operator).
  absl::Status DrainAuditOutbox() ABSL_LOCKS_EXCLUDED(outbox_mu_);

  absl::StatusOr<kinex::consent::v1::RecordConsentResponse> RecordConsent(
      const Caller& caller, const kinex::consent::v1::RecordConsentRequest& request) override;
  absl::StatusOr<kinex::consent::v1::WithdrawConsentResponse> WithdrawConsent(
      const Caller& caller, const kinex::consent::v1::WithdrawConsentRequest& request) override;
  // An unknown child is PERMISSION_DENIED kNoChildToRecord (the gateway
  // decides who may list, and answers an out-of-scope child the same way).
  absl::StatusOr<kinex::consent::v1::ListConsentsResponse> ListConsents(
      const kinex::consent::v1::ListConsentsRequest& request) override;
  absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest& request) override;
  // LookupBases for each request in one snapshot of the store; an invalid
  // request fails the whole call naming requests[i].
  absl::StatusOr<kinex::consent::v1::BatchLookupBasesResponse> BatchLookupBases(
      const kinex::consent::v1::BatchLookupBasesRequest& request) override;

  // Records an information sharing agreement. The caller must be an agency
  // named by one of its parties (kind, and code when the party has one):
  // PERMISSION_DENIED otherwise. (A structural rule, not a role policy: which
  // roles may sign agreements is for policy to add.)
  absl::StatusOr<kinex::consent::v1::SharingAgreement> CreateSharingAgreement(
      const Caller& caller,
      const kinex::consent::v1::CreateSharingAgreementRequest& request) override;
  absl::StatusOr<kinex::consent::v1::ListSharingAgreementsResponse> ListSharingAgreements(
      const kinex::consent::v1::ListSharingAgreementsRequest& request) override;

 private:
  // One write attempt: its audit event so far, and whether the write has
  // committed (after which a failure is the audit's, not a refusal).
  struct Attempt {
    kinex::audit::v1::AuditEvent event;
    bool committed = false;
  };

  explicit ConsentCore(Options options) : options_(std::move(options)) {}

  absl::StatusOr<kinex::consent::v1::RecordConsentResponse> RecordConsentAttempt(
      const Caller& caller, const kinex::consent::v1::RecordConsentRequest& request,
      Attempt& attempt);
  absl::StatusOr<kinex::consent::v1::WithdrawConsentResponse> WithdrawConsentAttempt(
      const Caller& caller, const kinex::consent::v1::WithdrawConsentRequest& request,
      Attempt& attempt);
  absl::StatusOr<kinex::consent::v1::SharingAgreement> CreateSharingAgreementAttempt(
      const Caller& caller, const kinex::consent::v1::CreateSharingAgreementRequest& request,
      Attempt& attempt);

  // The start of every write: checks the caller and the audit sink, drains
  // the outbox if it may hold events, and returns the attempt's event.
  absl::StatusOr<Attempt> BeginWrite(const Caller& caller, absl::string_view method);
  // Runs `write` and queues the event (`kind`, `record_id`) in one
  // transaction, then appends and dequeues it. `what` names the stored
  // change in the UNAVAILABLE reply when the append fails.
  absl::Status CommitAudited(Attempt& attempt, kinex::audit::v1::EventKind kind,
                             const std::string& record_id, const std::string& what,
                             const std::function<absl::Status(ConsentTxn&)>& write)
      ABSL_LOCKS_EXCLUDED(outbox_mu_);
  // The reply to a finished attempt: `result` as is when it succeeded or its
  // write committed; otherwise appends a WRITE_REFUSED event first.
  template <typename T>
  absl::StatusOr<T> Finish(Attempt& attempt, absl::StatusOr<T> result);
  // Appends `event` and dequeues its outbox row.
  absl::Status AppendAndDequeue(const kinex::audit::v1::AuditEvent& event);

  Options options_;
  // Writes hold it shared from queuing their event to dequeuing it; a drain
  // holds it exclusively, so it sees only the events of writes that failed
  // to append (or crashed), never one a write is still appending.
  absl::Mutex outbox_mu_;
  // Whether the outbox may hold events (set at start and when an append
  // fails; cleared by a drain that empties it).
  std::atomic<bool> outbox_dirty_{true};
};

}  // namespace kinex::consent

#endif  // KINEX_SERVICES_CONSENT_CONSENT_CORE_H_
