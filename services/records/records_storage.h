// Storage of the records service: children, their identifiers, the
// versioned parts each agency publishes, sharing decisions and shields, and
// the scope-link index the gateway's ListChildren pages through. The
// records core (records_core.h) holds all the rules (ownership, identity
// matching, etags); storage offers transactional primitives only, so every
// backend behaves the same.
//
// Backends: SqlRecordsStorage (SQLite default, PostgreSQL) in
// sql_records_storage.h; FakeRecordsStorage (in memory) and
// FailingRecordsStorage (always UNAVAILABLE) in tests/testing/ (test-only). One
// conformance suite (tests/records/records_storage_conformance_test.cc) runs
// against all of them.
//
// Example:
//   KINEX_RETURN_IF_ERROR(storage.Transact([&](RecordsTxn& txn) -> absl::Status {
//     KINEX_ASSIGN_OR_RETURN(auto id, txn.FindChild(IdentifierKind::kNhsNumber, nhs));
//     ...
//   }));
#ifndef KINEX_SERVICES_RECORDS_RECORDS_STORAGE_H_
#define KINEX_SERVICES_RECORDS_RECORDS_STORAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kinex::records {

// The kinds of identifier a child is matched by (besides its Kinex id).
// Stored as these integers: never renumber.
enum class IdentifierKind : int {
  kNhsNumber = 1,
  kUpn = 2,
  // Value is "<la_code>/<la_child_id>".
  kLaChildId = 3,
};

// One stored version of one owner's part of a child's record.
struct StoredPart {
  std::string kinex_id;
  int owner_kind = 0;  // kinex.common.v1.AgencyKind
  std::string owner_code;
  int64_t version = 0;
  std::string etag;
  absl::Time publish_time;
  std::string principal;
  std::string actor;
  std::string payload;  // serialized kinex.record.v1.ChildRecord
};

// A link placing a child in an agency's scope: (agency kind, agency code).
// LOCAL_AUTHORITY links serve virtual schools too.
struct ScopeLink {
  int agency_kind = 0;  // kinex.common.v1.AgencyKind
  std::string code;
  bool operator==(const ScopeLink&) const = default;
};

// An agency's link to a child (records.proto / record.proto LinkState).
// Stored as these integers: never renumber.
enum class LinkState : int {
  kClaimed = 1,
  kConfirmed = 2,
  kRejected = 3,
};

// One agency's link to a child.
struct StoredLink {
  std::string kinex_id;
  int agency_kind = 0;  // kinex.common.v1.AgencyKind
  std::string agency_code;
  LinkState state = LinkState::kClaimed;
  absl::Time update_time;
  std::string updated_by;  // SPIFFE ID
};

// One sharing decision (records.proto SharingDecision): an agency's
// decision not to share, to share in part or to defer, or the responsible
// LA's shield. The columns the store selects on, and the whole decision.
// kinex.common.v1.SHIELD, the one decision kind storage selects on.
inline constexpr int kShieldDecisionKind = 4;

struct StoredSharingDecision {
  std::string decision_id;
  std::string kinex_id;
  int kind = 0;          // kinex.common.v1.SharingDecisionKind
  int decider_kind = 0;  // kinex.common.v1.AgencyKind
  std::string decider_code;
  absl::Time decided_at;
  // A removed shield (kept, listed only when asked for).
  bool removed = false;
  std::string payload;  // serialized kinex.records.v1.SharingDecision
};

// Which sharing decisions a listing returns, newest first (decided_at
// descending, then decision id descending).
struct SharingDecisionFilter {
  // Visibility: every decision (an auditor), or those decided by
  // (decider_kind, decider_code) and, with responsible_la set, every
  // decision about a child that LA is now responsible for.
  bool all = false;
  int decider_kind = 0;
  std::string decider_code;
  std::string responsible_la;
  // Optional: only about this child.
  std::string kinex_id;
  // Optional: only these kinds (empty: every kind).
  std::vector<int> kinds;
  // Whether removed shields are included.
  bool include_removed = false;
  // Only decisions after this one in listing order (unset: from the start).
  std::optional<std::pair<absl::Time, std::string>> after;
  int limit = 100;
};

// A calendar a school or local authority published (records_core.h
// PutCalendar), keyed by (key_kind, code); each publish replaces it.
struct StoredCalendar {
  // kinex.common.v1.AgencyKind: SCHOOL (code: its URN) or LOCAL_AUTHORITY
  // (code: its ONS code).
  int key_kind = 0;
  std::string code;
  std::string etag;
  absl::Time publish_time;
  std::string principal;
  std::string actor;
  std::string payload;  // serialized kinex.notifications.v1.SchoolCalendar
};

// An audit event written in the same transaction as the change it records,
// appended to the audit log after commit, then deleted (the outbox).
struct PendingAuditEvent {
  std::string id;     // also the event's idempotency key
  std::string event;  // serialized kinex.audit.v1.AuditEvent
};

// The operations available inside one transaction. Valid only during the
// Transact callback; not thread-safe.
class RecordsTxn {
 public:
  virtual ~RecordsTxn() = default;

  // Whether a child with this Kinex id exists.
  virtual absl::StatusOr<bool> ChildExists(const std::string& kinex_id) = 0;
  // The child's view generation in this transaction's snapshot: a number
  // the store advances, in the same transaction, with every change to the
  // child's latest parts, responsible LA, agency links or sharing decisions
  // (SQL: schema version 5's triggers), so two snapshots with the same
  // generation see the same view. nullopt if the child does not exist, or
  // if the backend keeps no generations (the default): then nothing may be
  // reused from an earlier read.
  virtual absl::StatusOr<std::optional<int64_t>> ViewGeneration(const std::string& kinex_id) {
    (void)kinex_id;
    return std::nullopt;
  }
  // Serialises writers of one child until the transaction ends (PostgreSQL:
  // SELECT ... FOR UPDATE on the child's row, so replicas sharing a database
  // re-index scope links from a consistent view; SQLite: BEGIN IMMEDIATE
  // already serialises writers). No-op for a child that does not exist.
  virtual absl::Status LockChild(const std::string& kinex_id) = 0;
  // Creates a child. ABORTED if the id exists.
  virtual absl::Status CreateChild(const std::string& kinex_id, absl::Time create_time) = 0;
  // The child an identifier belongs to, if any.
  virtual absl::StatusOr<std::optional<std::string>> FindChild(IdentifierKind kind,
                                                               const std::string& value) = 0;
  // Links an identifier to a child. ABORTED if it is linked to another child;
  // no-op if already linked to this one.
  virtual absl::Status AddIdentifier(IdentifierKind kind, const std::string& value,
                                     const std::string& kinex_id) = 0;
  // The latest version of one owner's part, if any.
  virtual absl::StatusOr<std::optional<StoredPart>> LatestPart(const std::string& kinex_id,
                                                               int owner_kind,
                                                               const std::string& owner_code) = 0;
  // Stores `part` as the new latest version. Its version must be one more
  // than the current latest (1 for the first); otherwise ABORTED (a
  // concurrent publish won).
  virtual absl::Status InsertPart(const StoredPart& part) = 0;
  // The latest version of every (owner kind, owner code) part of a child,
  // in (owner kind, owner code) order.
  virtual absl::StatusOr<std::vector<StoredPart>> LatestParts(const std::string& kinex_id) = 0;
  // Stored versions of a child's parts, oldest first (by publish time, then
  // owner kind, owner code, version), optionally of one owner kind (0: all),
  // skipping the first `offset`, at most `limit`.
  virtual absl::StatusOr<std::vector<StoredPart>> PartHistory(const std::string& kinex_id,
                                                              int owner_kind, int64_t offset,
                                                              int limit) = 0;
  // Replaces the scope links of a child.
  virtual absl::Status ReplaceScopeLinks(const std::string& kinex_id,
                                         const std::vector<ScopeLink>& links) = 0;
  // Children linked to any of `agency_kinds` with `code`, with Kinex id
  // greater than `after_kinex_id`, in Kinex id order, at most `limit`.
  virtual absl::StatusOr<std::vector<std::string>> ChildrenInScope(
      const std::vector<int>& agency_kinds, const std::string& code,
      const std::string& after_kinex_id, int limit) = 0;

  // The child's responsible LA (its ONS code), if any.
  virtual absl::StatusOr<std::optional<std::string>> ResponsibleLa(const std::string& kinex_id) = 0;
  // Sets (creates or replaces) the child's responsible LA.
  virtual absl::Status SetResponsibleLa(const std::string& kinex_id, const std::string& la_code,
                                        absl::Time since) = 0;
  // Every agency link of a child, in (agency kind, agency code) order.
  virtual absl::StatusOr<std::vector<StoredLink>> Links(const std::string& kinex_id) = 0;
  // Creates or replaces the link (kinex id, agency kind, agency code).
  virtual absl::Status PutLink(const StoredLink& link) = 0;
  // Links (of `state`, or every state for 0) on children whose responsible
  // LA is `la_code`, ordered by (kinex id, agency kind, agency code), after
  // the given key (empty kinex id: from the start), at most `limit`.
  virtual absl::StatusOr<std::vector<StoredLink>> LinksOfLa(const std::string& la_code, int state,
                                                            const std::string& after_kinex_id,
                                                            int after_kind,
                                                            const std::string& after_code,
                                                            int limit) = 0;
  // The latest version of each child's part of `owner_kind` whose owner code
  // is the child's responsible LA (for VIRTUAL_SCHOOL: the part of the
  // responsible LA's virtual school; a previous LA's is never returned), of
  // children with a Kinex id greater than `after_kinex_id`, in Kinex id
  // order, at most `limit` (one per child). For sweeps that page through
  // every child (RecordsCore::SweepOverduePeps).
  virtual absl::StatusOr<std::vector<StoredPart>> LatestPartsOfResponsibleLa(
      int owner_kind, const std::string& after_kinex_id, int limit) = 0;

  // Sharing decisions. Stores a new one (ABORTED if the id exists).
  virtual absl::Status InsertSharingDecision(const StoredSharingDecision& decision) = 0;
  // One decision by id, if any.
  virtual absl::StatusOr<std::optional<StoredSharingDecision>> SharingDecision(
      const std::string& decision_id) = 0;
  // Marks a decision removed with its new payload; ABORTED if it is not
  // stored or already removed (a concurrent removal won).
  virtual absl::Status RemoveSharingDecision(const std::string& decision_id,
                                             const std::string& payload) = 0;
  // The shields in force on a child (kind SHIELD, not removed), in decision
  // id order.
  virtual absl::StatusOr<std::vector<StoredSharingDecision>> ShieldsInForce(
      const std::string& kinex_id) = 0;
  // The decisions `filter` selects, newest first, at most filter.limit.
  virtual absl::StatusOr<std::vector<StoredSharingDecision>> ListSharingDecisions(
      const SharingDecisionFilter& filter) = 0;

  // Published calendars. The calendar of (key_kind, code), if any.
  virtual absl::StatusOr<std::optional<StoredCalendar>> PublishedCalendar(
      int key_kind, const std::string& code) = 0;
  // Stores `calendar` as the calendar of its (key_kind, code): a new one
  // when `replaces_etag` is empty (ABORTED if one exists), else in place of
  // the one whose etag is `replaces_etag` (ABORTED if there is none or its
  // etag differs: a concurrent publish won).
  virtual absl::Status PutPublishedCalendar(const StoredCalendar& calendar,
                                            const std::string& replaces_etag) = 0;

  // The audit outbox.
  virtual absl::Status AddPendingAuditEvent(const PendingAuditEvent& event) = 0;
  // Pending events, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<PendingAuditEvent>> PendingAuditEvents(int limit) = 0;
  // Removes one (no-op if absent).
  virtual absl::Status DeletePendingAuditEvent(const std::string& id) = 0;

  // Bulk load for benchmarks and migrations: creates children with their
  // identifiers, first part versions and scope links in one pass. The
  // caller guarantees there are no conflicts.
  struct BulkChild {
    std::string kinex_id;
    std::vector<std::pair<IdentifierKind, std::string>> identifiers;
    std::vector<StoredPart> parts;
    std::vector<ScopeLink> links;
    // The responsible LA ("" for none) and the other agencies' confirmed
    // links.
    std::string responsible_la;
    std::vector<StoredLink> agency_links;
  };
  virtual absl::Status BulkLoad(const std::vector<BulkChild>& children, absl::Time create_time) = 0;
};

// A records store backend. Thread-safe: transactions are serialised or
// isolated by the backend.
class RecordsStorage {
 public:
  virtual ~RecordsStorage() = default;
  // Runs `fn` in one transaction: everything it did is kept if it returns OK
  // and undone otherwise.
  virtual absl::Status Transact(const std::function<absl::Status(RecordsTxn&)>& fn) = 0;
  // Runs `fn`, which only reads, on one snapshot of the store; where the
  // backend allows it, beside other reads and a write. The default is
  // Transact. `fn` must not write.
  virtual absl::Status Read(const std::function<absl::Status(RecordsTxn&)>& fn) {
    return Transact(fn);
  }
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_RECORDS_STORAGE_H_
