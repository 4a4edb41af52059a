// The records core: ownership, relationships, identity matching, versioning
// and assembly of children's records, over a RecordsStorage. Plain C++
// (absl::Status), no gRPC. Writes are as strict as reads.
//
// Parts. Each agency (kind + code) keeps its own versioned part of a child's
// record; no part ever replaces another agency's. A publish may set only
// leaf fields whose (owner) label is the publisher's agency kind, and only
// scope fields and source columns (enrolment, attendance, exclusion and
// attainment school URNs) naming the publisher itself. Optimistic
// concurrency per part: empty etag for the first version, then the latest
// (ABORTED otherwise; GetPart returns the current etag).
//
// Relationships.
//  - Only a local authority creates a child, when none of its identifiers
//    matches; it becomes the child's responsible LA. Responsibility moves
//    only by TransferResponsibility, made by the current responsible LA.
//  - The responsible LA and its virtual school (same ONS code) publish
//    without a link. Another LA publishing an existing child's identifiers
//    gets the uniform refusal and creates nothing.
//  - A school, health provider or force attaches to an existing child only
//    by proving it knows the child: its first part names the child by an
//    identifier Kinex already holds (NHS number, UPN, or the Kinex id the LA
//    gave it) and carries the child's date of birth, which must equal the
//    responsible LA's. Its link is then CLAIMED: its part is stored and
//    it can read it back (GetPart), but the part is in nobody's record and
//    gives its publisher no scope until the responsible LA confirms it
//    (DecideLink, or by naming the agency in named_agencies of its own
//    part). A REJECTED link's agency may not publish for the child.
//  - Any miss (no child, wrong date of birth, another LA's child, a
//    rejected link) gets the same PERMISSION_DENIED and stores nothing; the
//    Kinex id is returned only after a successful publish.
//
// Facts (GetChildFacts, ListChildren, ResolveChild): what policy decides on,
// derived from the same trusted parts with only their identifiers, scope
// links, legal status and enrolments parsed (part_filter.h): the derived
// scope, the LA's legal-status episodes, the identifiers, and a version.
// GetRecord may name the paths it wants (only those are parsed) and the
// facts version it decided on: if the facts moved (a transfer, a link
// decided, a legal-status change) it is ABORTED and reads nothing.
//
// Sharing decisions (RecordSharingDecision, ListSharingDecisions,
// RemoveShield). An agency records a decision not to share, to share in
// part or to defer (with its reason, e.g. s16LA(3) "more detrimental to the
// child", and rationale) about a child it has a write relationship with
// (the responsible LA or its virtual school, or a CONFIRMED link; anything
// else gets the write path's one refusal). A shield is the responsible LA's
// standing decision not to share named fields (or every (locates) field)
// with anyone: only its social workers and team managers set or remove one;
// it stays with the child across a transfer (the new LA may remove it, the
// old one no longer can); a removed shield stays listed with who removed it
// and why. The shields in force are in the child's facts (shielded_paths,
// shield_locating) and in its facts version, so a read pinned to facts from
// before a shield was set or removed is ABORTED. Listing: an agency sees
// the decisions it made, the responsible LA every decision about its
// children, an auditor all; newest first. Each decision is one audit event
// (SHARING_DECISION_RECORDED, SHIELD_SET, SHIELD_REMOVED) through the
// outbox, a refusal WRITE_REFUSED.
//
// Assembly (GetRecord): the responsible LA's
// part (until a new LA publishes after a transfer, the previous LA's), its
// virtual school's, and every CONFIRMED agency's part, merged oldest publish
// first (repeated rows concatenate; a singular field two agencies of one
// kind set takes the latest publish). Scope links are derived, never taken
// from a claim: responsible_la_code from the responsibility record,
// current_school_urn from the confirmed schools' enrolments (the latest
// entry on roll today), health and police links from confirmed parts.
//
// Audit. Every write and every refused write is one audit event (kinds
// PART_PUBLISHED, LINK_CLAIMED for an agency's first part, LINK_CONFIRMED,
// LINK_REJECTED, RESPONSIBILITY_TRANSFERRED, WRITE_REFUSED). A write's event
// is stored in the same transaction as the write (the audit outbox), then
// appended to the log, then removed; the reply is sent only once the event
// is durable in the log. A crash in between leaves the event in the outbox,
// and the next write or start-up appends it; the log's idempotency key
// (the outbox id) makes that exactly once. A refusal's event is appended
// before the refusal is returned; if the log cannot take it, the caller
// gets UNAVAILABLE.
//
// Sweeps. SweepOverduePeps alerts each virtual school of the personal
// education plans it holds that are overdue for review, once per due date;
// StartPepSweep runs it periodically on a thread the core owns.
//
// Example:
//   FakeClock clock;
//   FakeRecordsStorage storage;
//   RecordingAuditSink audit;
//   auto core = RecordsCore::Create({.storage = &storage, .clock = &clock, .audit = &audit});
//   auto put = (*core)->PutPart(request);
#ifndef KINEX_SERVICES_RECORDS_RECORDS_CORE_H_
#define KINEX_SERVICES_RECORDS_RECORDS_CORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/audit/audit_sink.h"
#include "services/common/clock.h"
#include "services/records/child_view.h"
#include "services/records/random_id.h"
#include "services/records/records_storage.h"
#include "services/records/records_store.h"
#include "services/records/school_calendar.h"

namespace kinex::records {

// Thread-safe (storage serialises transactions; the audit sink is
// thread-safe).
class RecordsCore final : public RecordsStore {
 public:
  struct Options {
    // Required. Not owned; must outlive the core.
    RecordsStorage* storage = nullptr;
    // Required. Not owned; must outlive the core.
    const Clock* clock = nullptr;
    // Required. Where write events go (the AuditLog in process, an
    // AuditClient in microservices mode). Not owned; must outlive the core.
    kinex::audit::AuditSink* audit = nullptr;
    // Default "kinex.dev". Trust domain of publishers' SPIFFE IDs.
    std::string trust_domain = "kinex.dev";
    // Default 1048576 (config records.max_part_bytes). Largest serialized
    // part accepted; larger ones are RESOURCE_EXHAUSTED.
    int64_t max_part_bytes = 1 << 20;
    // Default: RandomId("kx_"). Source of new Kinex ids (tests inject).
    IdGenerator new_kinex_id;
    // Default: no calendars (SchoolCalendars::Empty()). The school and LA
    // calendars in force for Operation Encompass deadlines, asked on every
    // publish that raises one (so a reload takes effect at once).
    std::function<std::shared_ptr<const SchoolCalendars>()> calendars;
    // Default 32 MiB (config records.view_cache_mib); 0 keeps none. About
    // how much memory the views of children read before may hold, reused
    // by later reads while the store's view generation of the child is
    // unchanged (child_view.h). Reads only: every write reads afresh.
    int64_t view_cache_bytes = int64_t{32} << 20;
  };

  // INVALID_ARGUMENT if storage, clock or audit is missing or
  // max_part_bytes < 1. Appends any events left in the outbox by a crash
  // (best effort: an unreachable log leaves them for the next write).
  static absl::StatusOr<std::unique_ptr<RecordsCore>> Create(Options options);

  absl::StatusOr<kinex::records::v1::PutPartResponse> PutPart(
      const kinex::records::v1::PutPartRequest& request) override;
  absl::StatusOr<kinex::records::v1::GetRecordResponse> GetRecord(
      const kinex::records::v1::GetRecordRequest& request) override;
  absl::StatusOr<kinex::records::v1::ChildFacts> GetChildFacts(
      const kinex::records::v1::GetChildFactsRequest& request) override;
  absl::StatusOr<kinex::records::v1::BatchGetRecordsResponse> BatchGetRecords(
      const kinex::records::v1::BatchGetRecordsRequest& request) override;
  absl::StatusOr<kinex::records::v1::ResolveChildResponse> ResolveChild(
      const kinex::records::v1::ResolveChildRequest& request) override;
  absl::StatusOr<kinex::records::v1::ListChildrenResponse> ListChildren(
      const kinex::records::v1::ListChildrenRequest& request) override;
  absl::StatusOr<kinex::records::v1::ListPartVersionsResponse> ListPartVersions(
      const kinex::records::v1::ListPartVersionsRequest& request) override;
  absl::StatusOr<kinex::records::v1::GetPartResponse> GetPart(
      const kinex::records::v1::GetPartRequest& request) override;
  absl::StatusOr<kinex::records::v1::ListLinksResponse> ListLinks(
      const kinex::records::v1::ListLinksRequest& request) override;
  absl::StatusOr<kinex::records::v1::DecideLinkResponse> DecideLink(
      const kinex::records::v1::DecideLinkRequest& request) override;
  absl::StatusOr<kinex::records::v1::TransferResponsibilityResponse> TransferResponsibility(
      const kinex::records::v1::TransferResponsibilityRequest& request) override;
  absl::StatusOr<kinex::records::v1::SharingDecision> RecordSharingDecision(
      const kinex::records::v1::RecordSharingDecisionRequest& request) override;
  absl::StatusOr<kinex::records::v1::ListSharingDecisionsResponse> ListSharingDecisions(
      const kinex::records::v1::ListSharingDecisionsRequest& request) override;
  absl::StatusOr<kinex::records::v1::SharingDecision> RemoveShield(
      const kinex::records::v1::RemoveShieldRequest& request) override;
  // Calendars (Operation Encompass deadlines). A school publishes its own
  // calendar (school_urn its URN), a local authority its LA calendar
  // (la_code its ONS code), any role of theirs; anyone else, or another
  // school's or LA's key, is PERMISSION_DENIED naming the field and value.
  // The calendar is validated as a file is (SchoolCalendars::Validate:
  // INVALID_ARGUMENT "calendar.<field>: <problem>"), at most 400 terms and
  // closures together. Optimistic concurrency: an empty etag for the first
  // publish, then the current one (ABORTED naming it). One audit event,
  // CALENDAR_PUBLISHED (record_id "school:<urn>" or "la:<code>"), through
  // the outbox; a refusal WRITE_REFUSED. In force for the next Encompass
  // deadline at once, on every replica: PutPart reads the published
  // calendars of the schools and LAs involved in its transaction, in place
  // of the files' (Options.calendars) for the same school or LA.
  absl::StatusOr<kinex::records::v1::PublishedCalendar> PutCalendar(
      const kinex::records::v1::PutCalendarRequest& request) override;
  // The caller's own published calendar (a school's or an LA's); NOT_FOUND
  // when none is published.
  absl::StatusOr<kinex::records::v1::PublishedCalendar> GetCalendar(
      const kinex::records::v1::GetCalendarRequest& request) override;

  // Appends every event waiting in the outbox, oldest first, removing each
  // once durable. The first failure stops the drain and is returned.
  absl::Status DrainAuditOutbox();

  // The overdue-PEP sweep (docs/notifications.md). Pages through the latest
  // VIRTUAL_SCHOOL part of every child whose owner is the child's
  // responsible LA's virtual school (same ONS code; after a transfer the
  // old LA's virtual school is not asked), 500 parts at a time. A plan is
  // overdue when its due date (PepReviewDue: next_review_due, else the last
  // review plus six months) is before today in Europe/London (the clock's
  // now). Each overdue plan is one PEP_REVIEW_OVERDUE audit event (principal
  // the records service, no agency; children: the child) carrying a
  // VSH_ALERT, reason PEP_REVIEW_OVERDUE, to VIRTUAL_SCHOOL/<responsible LA>,
  // with idempotency key PepOverdueKey(kinex id, due date): the log keeps
  // one per child and due date, so sweeping again (here, after a restart or
  // on another replica) raises nothing new, and a later due date that
  // passes raises a new alert. The virtual school that holds the plan is
  // the recipient, so no cohort decision is asked: it already sees its own
  // part. Returns how many events it appended this sweep (a key this
  // process appended in an earlier sweep, and still overdue, is not sent
  // again; after a restart it is, and the log answers with the first leaf).
  //
  // Fail-safe: the first audit failure stops the sweep, UNAVAILABLE
  // (AUDIT_UNAVAILABLE, no child identifier in the message); what was not
  // raised is raised by the next sweep. A part that does not parse is
  // skipped and the sweep goes on; it then returns DATA_LOSS
  // (STORAGE_CORRUPT) with how many. FAILED_PRECONDITION when
  // Europe/London cannot be loaded; storage errors as they come.
  // CANCELLED when StopPepSweep is called during the sweep. Sweeps run one
  // at a time.
  absl::StatusOr<int> SweepOverduePeps();

  // Runs SweepOverduePeps at once and then every `interval` (wall time) on
  // a thread of its own, passing each result to `report` (on that thread),
  // until StopPepSweep or destruction. A second call while running is a
  // no-op.
  void StartPepSweep(absl::Duration interval,
                     std::function<void(const absl::StatusOr<int>&)> report);
  // Stops the sweep thread (ends a sweep in progress between two events)
  // and joins it. Idempotent.
  void StopPepSweep();

  ~RecordsCore() override;

  // The reads' view cache (hits, misses, size); all zero when it is off.
  ChildViewCache::Stats view_cache_stats() const;

 private:
  explicit RecordsCore(Options options);

  // Runs one write: `write` does the work in a transaction and queues its
  // event; then the outbox is drained. `write` gets a copy of `refused` (the
  // caller's identity and identifiers) to add the children it resolved to;
  // a failure of `write` is audited from that copy as WRITE_REFUSED before
  // it is returned.
  absl::Status RunWrite(const kinex::audit::v1::AuditEvent& refused,
                        const std::function<absl::Status(RecordsTxn&, std::string&,
                                                         kinex::audit::v1::AuditEvent&)>& write);

  Options options_;
  // Null when options_.view_cache_bytes is 0.
  std::unique_ptr<ChildViewCache> views_;

  // The overdue-PEP sweep.
  absl::Mutex sweep_mu_;  // one sweep at a time
  // Keys appended by this process that were still overdue at the last sweep.
  absl::flat_hash_set<std::string> pep_alerts_raised_ ABSL_GUARDED_BY(sweep_mu_);
  absl::Mutex sweeper_mu_;
  bool sweeper_stop_ ABSL_GUARDED_BY(sweeper_mu_) = false;
  std::atomic<bool> sweep_cancelled_{false};
  std::thread sweeper_;  // started and joined under sweeper_start_mu_
  absl::Mutex sweeper_start_mu_;
};

// The idempotency key of the overdue-PEP alert for one child and due date:
// "pep-overdue/" + the first 32 hex digits of SHA-256(kinex_id) + "/" +
// YYYY-MM-DD. The log stores keys in its leaves, so the Kinex id is hashed.
// Thread-safe.
std::string PepOverdueKey(const std::string& kinex_id, absl::CivilDay due);

// The etag of a part version: hex of the first 12 bytes of SHA-256 over the
// version's key, number, time and payload. Thread-safe.
std::string PartEtag(const StoredPart& part);

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_RECORDS_CORE_H_
