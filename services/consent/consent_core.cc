#include "services/consent/consent_core.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/child_ref.h"
#include "services/common/error_reason.h"
#include "services/common/identifiers.h"
#include "services/common/paging.h"
#include "services/common/status_macros.h"
#include "services/records/random_id.h"

namespace kinex::consent {
namespace {

namespace cv1 = kinex::consent::v1;
namespace comv1 = kinex::common::v1;
namespace recv1 = kinex::record::v1;
namespace av1 = kinex::audit::v1;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr paging::PageLimits kPageLimits{.default_size = 100, .max_size = 1000};
constexpr size_t kMaxActorLength = 256;
constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxReferenceLength = 500;
constexpr size_t kMaxReasonLength = 500;
constexpr size_t kMaxRequestIdLength = 128;  // as the audit log accepts
constexpr int kDrainBatch = 100;
constexpr int64_t kMinTimestampSeconds = -62135596800;  // 0001-01-01
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31

// Every message names its field first ("entry.valid_from: ..."): the
// field goes into the ErrorInfo too.
absl::Status Invalid(absl::string_view message) {
  const absl::string_view field = message.substr(0, message.find(':'));
  const bool is_field =
      field.size() < message.size() && !field.empty() &&
      std::all_of(field.begin(), field.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
      });
  ErrorMetadata metadata;
  if (is_field) metadata["field"] = std::string(field);
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kInvalidField, metadata);
}

// A required option missing: INVALID_FIELD naming the option.
absl::Status BadOption(absl::string_view field, absl::string_view message) {
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kInvalidField,
                         {{"field", std::string(field)}});
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::Time FromProto(const Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

Timestamp ToProto(absl::Time t) { return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t)); }

absl::Status CheckTimestamp(const Timestamp& ts, absl::string_view path) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
      ts.nanos() < 0 || ts.nanos() > 999999999) {
    return Invalid(absl::StrCat(path, ": not a valid timestamp"));
  }
  return absl::OkStatus();
}

// Every value known and not UNSPECIFIED; at least one when `required`.
template <typename IsValid>
absl::Status CheckEnumList(const google::protobuf::RepeatedField<int>& values, IsValid is_valid,
                           absl::string_view path, bool required) {
  if (required && values.empty()) {
    return Invalid(absl::StrCat(path, ": at least one value is required"));
  }
  for (int v : values) {
    if (!is_valid(v) || v == 0) {
      return Invalid(absl::StrCat(path, ": unknown enum value ", v));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAgencyCode(const std::string& code, absl::string_view path) {
  if (code.empty() || code.size() > 32 || !std::all_of(code.begin(), code.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-';
      })) {
    return Invalid(absl::StrCat(path, ": agency codes are 1-32 letters, digits or hyphens"));
  }
  return absl::OkStatus();
}

absl::Status ValidateGrant(const cv1::ConsentGrant& g) {
  if (!cv1::ConsentDecision_IsValid(g.decision())) {
    return Invalid(absl::StrCat("entry.consent.decision: unknown enum value ", g.decision()));
  }
  if (g.decision() == cv1::CONSENT_DECISION_UNSPECIFIED) {
    return Invalid("entry.consent.decision: required (CONSENT_GIVEN or CONSENT_REFUSED)");
  }
  const cv1::GivenBy& by = g.given_by();
  if (!cv1::GiverKind_IsValid(by.kind())) {
    return Invalid(absl::StrCat("entry.consent.given_by.kind: unknown enum value ", by.kind()));
  }
  if (by.kind() == cv1::GIVER_KIND_UNSPECIFIED) {
    return Invalid("entry.consent.given_by.kind: required");
  }
  if (!cv1::PrRelationship_IsValid(by.relationship())) {
    return Invalid(absl::StrCat("entry.consent.given_by.relationship: unknown enum value ",
                                by.relationship()));
  }
  if (by.name().size() > kMaxNameLength) {
    return Invalid(
        absl::StrCat("entry.consent.given_by.name: at most ", kMaxNameLength, " characters"));
  }
  if (by.kind() == cv1::PARENTAL_RESPONSIBILITY_HOLDER) {
    if (by.name().empty()) {
      return Invalid("entry.consent.given_by.name: required for PARENTAL_RESPONSIBILITY_HOLDER");
    }
    if (by.relationship() == cv1::PR_RELATIONSHIP_UNSPECIFIED) {
      return Invalid(
          "entry.consent.given_by.relationship: required for "
          "PARENTAL_RESPONSIBILITY_HOLDER");
    }
  } else if (by.relationship() != cv1::PR_RELATIONSHIP_UNSPECIFIED) {
    return Invalid("entry.consent.given_by.relationship: only for PARENTAL_RESPONSIBILITY_HOLDER");
  }
  const cv1::ConsentScope& scope = g.scope();
  KINEX_RETURN_IF_ERROR(CheckEnumList(scope.categories(), recv1::Category_IsValid,
                                      "entry.consent.scope.categories", true));
  KINEX_RETURN_IF_ERROR(CheckEnumList(scope.recipient_kinds(), comv1::AgencyKind_IsValid,
                                      "entry.consent.scope.recipient_kinds", true));
  for (const std::string& code : scope.recipient_codes()) {
    KINEX_RETURN_IF_ERROR(CheckAgencyCode(code, "entry.consent.scope.recipient_codes"));
  }
  return CheckEnumList(scope.purposes(), comv1::Purpose_IsValid, "entry.consent.scope.purposes",
                       true);
}

absl::Status ValidateBasis(const cv1::StatutoryBasis& b) {
  if (!comv1::LegalBasis_IsValid(b.basis())) {
    return Invalid(absl::StrCat("entry.statutory_basis.basis: unknown enum value ", b.basis()));
  }
  if (b.basis() == comv1::LEGAL_BASIS_UNSPECIFIED || b.basis() == comv1::CONSENT) {
    return Invalid(
        "entry.statutory_basis.basis: required, and not CONSENT (record consent as a "
        "consent entry)");
  }
  if (b.reference().empty() || b.reference().size() > kMaxReferenceLength) {
    return Invalid(absl::StrCat("entry.statutory_basis.reference: 1-", kMaxReferenceLength,
                                " characters required"));
  }
  KINEX_RETURN_IF_ERROR(
      CheckEnumList(b.purposes(), comv1::Purpose_IsValid, "entry.statutory_basis.purposes", false));
  return CheckEnumList(b.recipient_kinds(), comv1::AgencyKind_IsValid,
                       "entry.statutory_basis.recipient_kinds", false);
}

// Validates the window; fills valid_from with `now` when unset.
absl::Status ValidateWindow(Timestamp* valid_from, const Timestamp* valid_until, bool has_from,
                            bool has_until, absl::Time now, absl::string_view prefix) {
  if (has_from) {
    KINEX_RETURN_IF_ERROR(CheckTimestamp(*valid_from, absl::StrCat(prefix, "valid_from")));
  } else {
    *valid_from = ToProto(now);
  }
  if (has_until) {
    KINEX_RETURN_IF_ERROR(CheckTimestamp(*valid_until, absl::StrCat(prefix, "valid_until")));
    const absl::Time from = FromProto(*valid_from);
    const absl::Time until = FromProto(*valid_until);
    if (until <= from) {
      return Invalid(absl::StrCat(prefix, "valid_until (", Rfc3339(until), ") must be after ",
                                  prefix, "valid_from (", Rfc3339(from), ")"));
    }
  }
  return absl::OkStatus();
}

bool AgreementInForce(const cv1::SharingAgreement& a, absl::Time now) {
  if (FromProto(a.valid_from()) > now) return false;
  return !a.has_valid_until() || FromProto(a.valid_until()) > now;
}

bool NamesParty(const cv1::SharingAgreement& a, comv1::AgencyKind kind, const std::string& code) {
  return std::any_of(a.parties().begin(), a.parties().end(), [&](const cv1::AgreementParty& p) {
    return p.kind() == kind && (p.code().empty() || p.code() == code);
  });
}

template <typename T>
bool Contains(const google::protobuf::RepeatedField<int>& list, T v) {
  return std::find(list.begin(), list.end(), static_cast<int>(v)) != list.end();
}

absl::Status CheckCaller(const Caller& caller) {
  if (caller.principal.uri.empty() || caller.principal.is_service ||
      caller.principal.agency_kind == comv1::AGENCY_KIND_UNSPECIFIED) {
    return WithErrorReason(
        absl::PermissionDeniedError("consent entries are recorded by agency identities only"),
        reason::kAgencyRequired);
  }
  if (caller.actor.size() > kMaxActorLength) {
    return Invalid(absl::StrCat("actor: at most ", kMaxActorLength, " characters"));
  }
  if (caller.request_id.size() > kMaxRequestIdLength ||
      !std::all_of(caller.request_id.begin(), caller.request_id.end(),
                   [](char c) { return c > 0x20 && c < 0x7f; })) {
    return Invalid(absl::StrCat("request_id: at most ", kMaxRequestIdLength,
                                " printable ASCII characters without spaces"));
  }
  return absl::OkStatus();
}

absl::Status NoChildToRecord() {
  return WithErrorReason(absl::PermissionDeniedError(ConsentCore::kNoChildToRecord),
                         reason::kChildNotFoundOrOutOfScope);
}

absl::Status AlreadyWithdrawn(const cv1::ConsentEntry& entry) {
  return WithErrorReason(
      absl::FailedPreconditionError(absl::StrCat("consent entry already withdrawn from ",
                                                 Rfc3339(FromProto(entry.withdraw_time())))),
      reason::kConsentAlreadyWithdrawn);
}

absl::Status NoEntryToWithdraw() {
  return WithErrorReason(absl::PermissionDeniedError(ConsentCore::kNoEntryToWithdraw),
                         reason::kConsentNotFoundOrOutOfScope);
}

// Adds `child` to the event's children unless it is there already.
void AddChild(av1::AuditEvent& event, const comv1::ChildRef& child) {
  for (const comv1::ChildRef& c : event.children()) {
    if (c.SerializeAsString() == child.SerializeAsString()) return;
  }
  *event.add_children() = child;
}

void AddKinexId(av1::AuditEvent& event, const std::string& kinex_id) {
  comv1::ChildRef ref;
  ref.set_kinex_id(kinex_id);
  AddChild(event, ref);
}

bool LooksLikeId(absl::string_view id, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&id, prefix) || id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); });
}

// Whether the child's legal-status episodes (the LA's) in force on `day`
// include one of `arrangement` (for which `also` holds).
bool InForce(
    const google::protobuf::RepeatedPtrField<kinex::record::v1::LegalStatusEpisode>& eps,
    kinex::record::v1::ArrangementType arrangement, absl::CivilDay day,
    const std::function<bool(const kinex::record::v1::LegalStatusEpisode&)>& also = nullptr) {
  auto civil = [](const kinex::record::v1::Date& d) {
    return absl::CivilDay(d.year(), d.month(), d.day());
  };
  for (const auto& e : eps) {
    if (e.arrangement() != arrangement) continue;
    if (e.has_start_date() && civil(e.start_date()) > day) continue;
    if (e.has_end_date() && civil(e.end_date()) < day) continue;
    if (also && !also(e)) continue;
    return true;
  }
  return false;
}

// A consent given as a person with parental responsibility stands only if
// the child's legal status at valid_from gives that kind of person PR: an
// SGO for a special guardian, a child arrangements order for its carer, a
// care order (SSDA903 C1/C2, not s20) for the LA, an adoption for an
// adoptive parent; a birth parent keeps PR unless an adoption ended it.
// FAILED_PRECONDITION naming the mismatch (asked only of authorised callers).
absl::Status CheckParentalResponsibility(
    cv1::PrRelationship relationship,
    const google::protobuf::RepeatedPtrField<kinex::record::v1::LegalStatusEpisode>& eps,
    absl::Time valid_from) {
  namespace rec = kinex::record::v1;
  const absl::CivilDay day = absl::ToCivilDay(valid_from, absl::UTCTimeZone());
  auto mismatch = [&](absl::string_view holder, absl::string_view needs) {
    return WithErrorReason(
        absl::FailedPreconditionError(absl::StrCat("entry.consent.given_by.relationship: ", holder,
                                                   ", but the child's legal status at "
                                                   "entry.valid_from has no ",
                                                   needs,
                                                   " (the responsible LA's legal-status episodes); "
                                                   "nothing was stored")),
        reason::kParentalResponsibilityNotHeld, {{"field", "entry.consent.given_by.relationship"}});
  };
  switch (relationship) {
    case cv1::SPECIAL_GUARDIAN:
      if (!InForce(eps, rec::SPECIAL_GUARDIANSHIP_ORDER, day)) {
        return mismatch("SPECIAL_GUARDIAN", "special guardianship order in force");
      }
      return absl::OkStatus();
    case cv1::CHILD_ARRANGEMENTS_ORDER_CARER:
      if (!InForce(eps, rec::CHILD_ARRANGEMENTS_ORDER, day)) {
        return mismatch("CHILD_ARRANGEMENTS_ORDER_CARER", "child arrangements order in force");
      }
      return absl::OkStatus();
    case cv1::ADOPTIVE_PARENT:
      if (!InForce(eps, rec::ADOPTION, day)) return mismatch("ADOPTIVE_PARENT", "adoption");
      return absl::OkStatus();
    case cv1::LOCAL_AUTHORITY_UNDER_CARE_ORDER: {
      auto under_care_order = [](const rec::LegalStatusEpisode& e) {
        return e.looked_after() &&
               (e.ssda903_legal_status() == "C1" || e.ssda903_legal_status() == "C2");
      };
      // A care order gives the LA PR whether the connected-person carer is
      // fully approved or temporarily approved (reg 24).
      if (!InForce(eps, rec::KINSHIP_FOSTER_CARE, day, under_care_order) &&
          !InForce(eps, rec::CONNECTED_PERSON_TEMPORARY_APPROVAL, day, under_care_order)) {
        return mismatch("LOCAL_AUTHORITY_UNDER_CARE_ORDER",
                        "care order in force (SSDA903 C1 or C2; under s20 the LA holds no PR)");
      }
      return absl::OkStatus();
    }
    case cv1::PARENT:
      // An adoption ends the birth parents' PR for good.
      for (const auto& e : eps) {
        if (e.arrangement() == rec::ADOPTION &&
            (!e.has_start_date() || absl::CivilDay(e.start_date().year(), e.start_date().month(),
                                                   e.start_date().day()) <= day)) {
          return WithErrorReason(
              absl::FailedPreconditionError(
                  "entry.consent.given_by.relationship: PARENT, but the child was adopted before "
                  "entry.valid_from (an adoption ends the birth parents' parental "
                  "responsibility); nothing was stored"),
              reason::kParentalResponsibilityNotHeld,
              {{"field", "entry.consent.given_by.relationship"}});
        }
      }
      return absl::OkStatus();
    default:
      // Other PR holders (e.g. a step-parent by agreement) are not in the
      // legal-status episodes: taken as recorded.
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConsentCore>> ConsentCore::Create(Options options) {
  if (options.storage == nullptr) return BadOption("storage", "ConsentCore: storage is required");
  if (options.records == nullptr) return BadOption("records", "ConsentCore: records is required");
  if (options.authorizer == nullptr) {
    return BadOption("authorizer", "ConsentCore: authorizer is required");
  }
  if (options.clock == nullptr) return BadOption("clock", "ConsentCore: clock is required");
  if (!options.new_id) options.new_id = [](absl::string_view p) { return RandomId(p); };
  std::unique_ptr<ConsentCore> core(new ConsentCore(std::move(options)));
  // Events of writes committed before a crash or while the audit log was
  // down. Not fatal: the audit service may start after this one.
  core->DrainAuditOutbox().IgnoreError();
  return core;
}

absl::Status ConsentCore::DrainAuditOutbox() {
  if (options_.audit == nullptr) return absl::OkStatus();  // nothing was written
  absl::WriterMutexLock lock(&outbox_mu_);
  outbox_dirty_ = false;
  while (true) {
    std::vector<PendingAuditEvent> batch;
    absl::Status listed = options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
      KINEX_ASSIGN_OR_RETURN(batch, txn.ListPendingEvents(kDrainBatch));
      return absl::OkStatus();
    });
    if (!listed.ok()) {
      outbox_dirty_ = true;
      return listed;
    }
    for (const PendingAuditEvent& pending : batch) {
      av1::AuditEvent event;
      if (!event.ParseFromString(pending.payload)) {
        outbox_dirty_ = true;
        return WithErrorReason(
            absl::DataLossError(absl::StrCat("queued audit event ", pending.idempotency_key,
                                             " does not parse; it stays queued")),
            reason::kStorageCorrupt, {{"item", "audit_outbox_event"}});
      }
      if (absl::Status s = AppendAndDequeue(event); !s.ok()) {
        outbox_dirty_ = true;
        return WithErrorReason(
            absl::UnavailableError(absl::StrCat("queued consent audit events could not be logged (",
                                                s.message(), ")")),
            reason::kAuditUnavailable, {{"service", "audit"}});
      }
    }
    if (static_cast<int>(batch.size()) < kDrainBatch) return absl::OkStatus();
  }
}

absl::Status ConsentCore::AppendAndDequeue(const av1::AuditEvent& event) {
  KINEX_RETURN_IF_ERROR(options_.audit->Append(event).status());
  return options_.storage->Transact(
      [&](ConsentTxn& txn) { return txn.DeletePendingEvent(event.idempotency_key()); });
}

absl::StatusOr<ConsentCore::Attempt> ConsentCore::BeginWrite(const Caller& caller,
                                                             absl::string_view method) {
  KINEX_RETURN_IF_ERROR(CheckCaller(caller));
  if (options_.audit == nullptr) {
    return WithErrorReason(
        absl::UnavailableError(
            "consent writes are unavailable: no audit log is configured (nothing was stored)"),
        reason::kAuditNotConfigured);
  }
  if (outbox_dirty_) DrainAuditOutbox().IgnoreError();  // each write retries the outbox
  Attempt attempt;
  av1::AuditEvent& e = attempt.event;
  if (caller.request_id.empty()) {
    KINEX_ASSIGN_OR_RETURN(std::string id, RandomId("rq_"));
    e.set_request_id(id);
  } else {
    e.set_request_id(caller.request_id);
  }
  e.set_principal(caller.principal.uri);
  e.set_agency_kind(caller.principal.agency_kind);
  e.set_agency_code(caller.principal.agency_code);
  e.set_actor(caller.actor);
  e.set_method(std::string(method));
  e.set_decision(av1::DENY);  // until a write commits
  e.set_kind(av1::WRITE_REFUSED);
  return attempt;
}

absl::Status ConsentCore::CommitAudited(Attempt& attempt, av1::EventKind kind,
                                        const std::string& record_id, const std::string& what,
                                        const std::function<absl::Status(ConsentTxn&)>& write) {
  av1::AuditEvent event = attempt.event;
  event.set_kind(kind);
  event.set_decision(av1::ALLOW);
  event.set_record_id(record_id);
  KINEX_ASSIGN_OR_RETURN(std::string key, RandomId("ae_"));
  event.set_idempotency_key(key);
  PendingAuditEvent pending{key, event.SerializeAsString(), options_.clock->Now()};
  absl::ReaderMutexLock lock(&outbox_mu_);
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_RETURN_IF_ERROR(write(txn));
    return txn.InsertPendingEvent(pending);
  }));
  attempt.committed = true;
  absl::StatusOr<kinex::audit::AppendResult> appended = options_.audit->Append(event);
  if (!appended.ok()) {
    outbox_dirty_ = true;
    return WithErrorReason(
        absl::UnavailableError(absl::StrCat(
            what, " is stored, but its audit event could not be logged yet (",
            appended.status().message(),
            "); it will be logged when the audit log is available: do not repeat the request")),
        reason::kAuditPending);
  }
  // The event is durable: the reply is OK whatever happens to the row. A row
  // left behind is appended again by a drain, idempotently (same key).
  if (!options_.storage->Transact([&](ConsentTxn& txn) { return txn.DeletePendingEvent(key); })
           .ok()) {
    outbox_dirty_ = true;
  }
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<T> ConsentCore::Finish(Attempt& attempt, absl::StatusOr<T> result) {
  if (result.ok() || attempt.committed) return result;
  av1::AuditEvent& event = attempt.event;
  event.set_kind(av1::WRITE_REFUSED);
  event.set_decision(av1::DENY);
  // What the caller gets: messages name fields, never identifier values.
  event.set_refusal(absl::StrCat(absl::StatusCodeToString(result.status().code()), ": ",
                                 result.status().message()));
  KINEX_ASSIGN_OR_RETURN(std::string key, RandomId("ae_"));
  event.set_idempotency_key(key);
  absl::StatusOr<kinex::audit::AppendResult> appended = options_.audit->Append(event);
  if (!appended.ok()) {
    return WithErrorReason(absl::UnavailableError(absl::StrCat(
                               "nothing was stored, and the refused request could not be audited (",
                               appended.status().message(), "); try again later")),
                           reason::kAuditUnavailable, {{"service", "audit"}});
  }
  return result;
}

absl::StatusOr<cv1::RecordConsentResponse> ConsentCore::RecordConsent(
    const Caller& caller, const cv1::RecordConsentRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Attempt attempt, BeginWrite(caller, "RecordConsent"));
  return Finish(attempt, RecordConsentAttempt(caller, request, attempt));
}

absl::StatusOr<cv1::RecordConsentResponse> ConsentCore::RecordConsentAttempt(
    const Caller& caller, const cv1::RecordConsentRequest& request, Attempt& attempt) {
  const absl::Time now = options_.clock->Now();
  // 1. Shape only: nothing here reads stored data.
  cv1::ConsentEntry entry = request.entry();
  if (!entry.consent_id().empty()) return Invalid("entry.consent_id: output only");
  if (!entry.kinex_id().empty()) return Invalid("entry.kinex_id: output only; use child");
  if (!entry.recorded_by().empty() || !entry.recorded_by_actor().empty() ||
      entry.has_record_time() || entry.has_withdraw_time() || !entry.withdraw_reason().empty() ||
      !entry.withdrawn_by().empty()) {
    return Invalid(
        "entry: recorded_by, recorded_by_actor, record_time and withdraw_* are output only");
  }
  std::string prefix;
  switch (entry.kind_case()) {
    case cv1::ConsentEntry::kConsent:
      KINEX_RETURN_IF_ERROR(ValidateGrant(entry.consent()));
      prefix = "cn_";
      break;
    case cv1::ConsentEntry::kStatutoryBasis:
      KINEX_RETURN_IF_ERROR(ValidateBasis(entry.statutory_basis()));
      prefix = "lb_";
      break;
    case cv1::ConsentEntry::KIND_NOT_SET:
      return Invalid("entry: one of consent or statutory_basis is required");
  }
  KINEX_RETURN_IF_ERROR(ValidateWindow(entry.mutable_valid_from(), &entry.valid_until(),
                                       request.entry().has_valid_from(), entry.has_valid_until(),
                                       now, "entry."));
  KINEX_RETURN_IF_ERROR(ValidateChildRef(request.child()).status());
  // Well formed, so the log can pseudonymise it: the attempt is findable by
  // the identifier the caller used, whether or not it matches a child.
  AddChild(attempt.event, request.child());

  // 2. Authorisation: an unknown child and one the caller may not record for
  // get the same answer.
  kinex::records::v1::GetChildFactsRequest resolve;
  *resolve.mutable_child() = request.child();
  absl::StatusOr<kinex::records::v1::ChildFacts> child = options_.records->GetChildFacts(resolve);
  if (!child.ok()) {
    if (child.status().code() == absl::StatusCode::kNotFound) return NoChildToRecord();
    return child.status();
  }
  AddKinexId(attempt.event, child->kinex_id());
  if (absl::Status may = options_.authorizer->MayRecord(caller.principal, *child, request);
      !may.ok()) {
    if (may.code() == absl::StatusCode::kPermissionDenied) return NoChildToRecord();
    return may;
  }

  // 3. Checks against the child's data, for authorised callers only.
  if (entry.has_consent() && entry.consent().given_by().kind() == cv1::CHILD_AGED_16_OR_OVER &&
      child->has_date_of_birth()) {
    const auto& dob = child->date_of_birth();
    const absl::CivilDay sixteenth(dob.year() + 16, dob.month(), dob.day());
    const absl::Time from = FromProto(entry.valid_from());
    if (from < absl::FromCivil(sixteenth, absl::UTCTimeZone())) {
      return WithErrorReason(
          absl::FailedPreconditionError(
              "entry.consent.given_by.kind: CHILD_AGED_16_OR_OVER, but the child is under 16 at "
              "entry.valid_from (a younger child may consent as GILLICK_COMPETENT_CHILD)"),
          reason::kConsentGiverUnder16, {{"field", "entry.consent.given_by.kind"}});
    }
  }

  if (entry.has_consent() &&
      entry.consent().given_by().kind() == cv1::PARENTAL_RESPONSIBILITY_HOLDER) {
    KINEX_RETURN_IF_ERROR(CheckParentalResponsibility(entry.consent().given_by().relationship(),
                                                      child->legal_status(),
                                                      FromProto(entry.valid_from())));
  }

  KINEX_ASSIGN_OR_RETURN(std::string id, options_.new_id(prefix));
  entry.set_consent_id(id);
  entry.set_kinex_id(child->kinex_id());
  entry.set_recorded_by(caller.principal.uri);
  entry.set_recorded_by_actor(caller.actor);
  *entry.mutable_record_time() = ToProto(now);
  KINEX_RETURN_IF_ERROR(CommitAudited(attempt, av1::CONSENT_RECORDED, id,
                                      absl::StrCat("consent entry ", id),
                                      [&](ConsentTxn& txn) { return txn.InsertEntry(entry); }));
  cv1::RecordConsentResponse response;
  response.set_consent_id(id);
  *response.mutable_entry() = std::move(entry);
  return response;
}

absl::StatusOr<cv1::WithdrawConsentResponse> ConsentCore::WithdrawConsent(
    const Caller& caller, const cv1::WithdrawConsentRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Attempt attempt, BeginWrite(caller, "WithdrawConsent"));
  return Finish(attempt, WithdrawConsentAttempt(caller, request, attempt));
}

absl::StatusOr<cv1::WithdrawConsentResponse> ConsentCore::WithdrawConsentAttempt(
    const Caller& caller, const cv1::WithdrawConsentRequest& request, Attempt& attempt) {
  // 1. Shape only.
  if (!LooksLikeId(request.consent_id(), "cn_") && !LooksLikeId(request.consent_id(), "lb_")) {
    return Invalid("consent_id: not a consent entry id (\"cn_...\" or \"lb_...\")");
  }
  attempt.event.set_record_id(request.consent_id());
  if (request.reason().size() > kMaxReasonLength) {
    return Invalid(absl::StrCat("reason: at most ", kMaxReasonLength, " characters"));
  }
  const absl::Time now = options_.clock->Now();
  absl::Time effective = now;
  if (request.has_effective_time()) {
    KINEX_RETURN_IF_ERROR(CheckTimestamp(request.effective_time(), "effective_time"));
    effective = FromProto(request.effective_time());
    if (effective < now) {
      return Invalid(absl::StrCat("effective_time (", Rfc3339(effective),
                                  ") must not be in the past (now ", Rfc3339(now), ")"));
    }
  }

  // 2. Authorisation, with the same permission as recording the entry: an
  // unknown id and another agency's entry get the same answer.
  std::optional<cv1::ConsentEntry> stored;
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(stored, txn.GetEntry(request.consent_id()));
    return absl::OkStatus();
  }));
  if (!stored.has_value()) return NoEntryToWithdraw();
  AddKinexId(attempt.event, stored->kinex_id());
  kinex::records::v1::GetChildFactsRequest resolve;
  resolve.mutable_child()->set_kinex_id(stored->kinex_id());
  absl::StatusOr<kinex::records::v1::ChildFacts> child = options_.records->GetChildFacts(resolve);
  if (!child.ok()) {
    if (child.status().code() == absl::StatusCode::kNotFound) return NoEntryToWithdraw();
    return child.status();
  }
  cv1::RecordConsentRequest as_recorded;
  as_recorded.mutable_child()->set_kinex_id(stored->kinex_id());
  *as_recorded.mutable_entry() = *stored;
  if (absl::Status may = options_.authorizer->MayRecord(caller.principal, *child, as_recorded);
      !may.ok()) {
    if (may.code() == absl::StatusCode::kPermissionDenied) return NoEntryToWithdraw();
    return may;
  }

  // 3. The entry's state, for authorised callers only.
  cv1::WithdrawConsentResponse response;
  KINEX_RETURN_IF_ERROR(
      CommitAudited(attempt, av1::CONSENT_WITHDRAWN, request.consent_id(),
                    absl::StrCat("the withdrawal of consent entry ", request.consent_id()),
                    [&](ConsentTxn& txn) -> absl::Status {
                      KINEX_ASSIGN_OR_RETURN(std::optional<cv1::ConsentEntry> entry,
                                             txn.GetEntry(request.consent_id()));
                      if (!entry.has_value()) return NoEntryToWithdraw();
                      if (entry->has_withdraw_time()) {
                        return AlreadyWithdrawn(*entry);
                      }
                      *entry->mutable_withdraw_time() = ToProto(effective);
                      entry->set_withdraw_reason(request.reason());
                      entry->set_withdrawn_by(caller.principal.uri);
                      KINEX_RETURN_IF_ERROR(txn.UpdateEntry(*entry));
                      *response.mutable_entry() = std::move(*entry);
                      return absl::OkStatus();
                    }));
  return response;
}

absl::StatusOr<cv1::ListConsentsResponse> ConsentCore::ListConsents(
    const cv1::ListConsentsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(int page_size, paging::PageSize(request.page_size(), kPageLimits));
  // No caller identity reaches this internal method (the gateway's consent
  // front checks who may list, and binds its own token to the caller): the
  // token is bound to the child listed.
  const std::string child_filter = request.child().SerializeAsString();
  const paging::TokenScope scope{.rpc = "ListConsents", .caller = "", .filter = child_filter};
  KINEX_ASSIGN_OR_RETURN(std::string after,
                         paging::PageTokens::Process().Open(request.page_token(), scope));
  kinex::records::v1::GetChildFactsRequest resolve;
  *resolve.mutable_child() = request.child();
  absl::StatusOr<kinex::records::v1::ChildFacts> found = options_.records->GetChildFacts(resolve);
  if (!found.ok()) {
    if (found.status().code() == absl::StatusCode::kNotFound) return NoChildToRecord();
    return found.status();
  }
  const kinex::records::v1::ChildFacts& child = *found;
  cv1::ListConsentsResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::vector<cv1::ConsentEntry> entries,
                           txn.ListEntries(child.kinex_id(), after, page_size + 1));
    response.Clear();
    const bool more = static_cast<int>(entries.size()) > page_size;
    if (more) entries.resize(page_size);
    for (auto& e : entries) *response.add_entries() = std::move(e);
    if (more) {
      response.set_next_page_token(
          paging::PageTokens::Process().Issue(scope, response.entries(page_size - 1).consent_id()));
    }
    return absl::OkStatus();
  }));
  return response;
}

namespace {

// The recipient a LookupBases request names, once the request is checked.
absl::StatusOr<SpiffeId> CheckLookup(const cv1::LookupBasesRequest& request,
                                     const std::string& trust_domain) {
  if (!absl::StartsWith(request.kinex_id(), "kx_") || request.kinex_id().size() > 67) {
    return Invalid("kinex_id: not a Kinex id");
  }
  absl::StatusOr<SpiffeId> recipient = ParseSpiffeId(request.recipient(), trust_domain);
  if (!recipient.ok()) {
    return Invalid(absl::StrCat("recipient: ", recipient.status().message()));
  }
  if (recipient->is_service) return Invalid("recipient: must be an agency identity");
  if (!comv1::Purpose_IsValid(request.purpose())) {
    return Invalid(absl::StrCat("purpose: unknown enum value ", request.purpose()));
  }
  if (request.purpose() == comv1::PURPOSE_UNSPECIFIED) return Invalid("purpose: required");
  return *std::move(recipient);
}

// What of `entries` (a child's entries in force at `now`) and `agreements`
// covers a disclosure to `recipient` for `request`'s purpose.
cv1::LookupBasesResponse BasesInForce(const cv1::LookupBasesRequest& request,
                                      const SpiffeId& recipient,
                                      const std::vector<cv1::ConsentEntry>& entries,
                                      const std::vector<cv1::SharingAgreement>& agreements,
                                      absl::Time now, const std::string& trust_domain) {
  const comv1::AgencyKind kind = recipient.agency_kind;
  const std::string& code = recipient.agency_code;
  cv1::LookupBasesResponse response;
  for (const cv1::ConsentEntry& e : entries) {
    // The store's contract, checked again: a withdrawn or expired entry must
    // never count, whatever the backend.
    if (!kinex::consent::InForce(e, now)) continue;
    if (e.has_consent()) {
      const cv1::ConsentScope& scope = e.consent().scope();
      if (!Contains(scope.purposes(), request.purpose()) ||
          !Contains(scope.recipient_kinds(), kind)) {
        continue;
      }
      if (!scope.recipient_codes().empty() &&
          std::find(scope.recipient_codes().begin(), scope.recipient_codes().end(), code) ==
              scope.recipient_codes().end()) {
        continue;
      }
      if (e.consent().decision() == cv1::CONSENT_GIVEN) {
        auto* c = response.add_consents();
        c->set_consent_id(e.consent_id());
        *c->mutable_categories() = scope.categories();
      } else if (e.consent().decision() == cv1::CONSENT_REFUSED) {
        auto* r = response.add_refusals();
        r->set_consent_id(e.consent_id());
        *r->mutable_categories() = scope.categories();
      }
      continue;
    }
    const cv1::StatutoryBasis& b = e.statutory_basis();
    if (!b.purposes().empty() && !Contains(b.purposes(), request.purpose())) continue;
    if (!b.recipient_kinds().empty() && !Contains(b.recipient_kinds(), kind)) continue;
    // Agreements between the recording agency and the recipient narrow it.
    absl::StatusOr<SpiffeId> recorder = ParseSpiffeId(e.recorded_by(), trust_domain);
    std::vector<const cv1::SharingAgreement*> pair;
    if (recorder.ok()) {
      for (const auto& a : agreements) {
        if (AgreementInForce(a, now) &&
            NamesParty(a, recorder->agency_kind, recorder->agency_code) &&
            NamesParty(a, kind, code)) {
          pair.push_back(&a);
        }
      }
    }
    cv1::BasisInForce basis;
    basis.set_consent_id(e.consent_id());
    basis.set_basis(b.basis());
    basis.set_reference(b.reference());
    if (!pair.empty()) {
      basis.set_restricted_by_agreement(true);
      std::set<int> categories;
      for (const auto* a : pair) {
        if (!Contains(a->purposes(), request.purpose())) continue;
        basis.add_agreement_ids(a->agreement_id());
        categories.insert(a->categories().begin(), a->categories().end());
      }
      if (basis.agreement_ids().empty()) continue;  // outside every agreement
      for (int c : categories) basis.add_categories(static_cast<recv1::Category>(c));
    }
    *response.add_bases() = std::move(basis);
  }
  return response;
}

}  // namespace

absl::StatusOr<cv1::LookupBasesResponse> ConsentCore::LookupBases(
    const cv1::LookupBasesRequest& request) {
  KINEX_ASSIGN_OR_RETURN(const SpiffeId recipient, CheckLookup(request, options_.trust_domain));
  const absl::Time now = options_.clock->Now();
  std::vector<cv1::ConsentEntry> entries;
  std::vector<cv1::SharingAgreement> agreements;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(entries, txn.ListEntriesInForce(request.kinex_id(), now));
    KINEX_ASSIGN_OR_RETURN(agreements, txn.ListAgreements());
    return absl::OkStatus();
  }));
  return BasesInForce(request, recipient, entries, agreements, now, options_.trust_domain);
}

absl::StatusOr<cv1::BatchLookupBasesResponse> ConsentCore::BatchLookupBases(
    const cv1::BatchLookupBasesRequest& request) {
  if (request.requests_size() > kMaxBatchLookupBases) {
    return InvalidFieldError("requests", absl::StrCat("at most ", kMaxBatchLookupBases, " (got ",
                                                      request.requests_size(), ")"));
  }
  std::vector<SpiffeId> recipients;
  recipients.reserve(request.requests_size());
  for (int i = 0; i < request.requests_size(); ++i) {
    absl::StatusOr<SpiffeId> r = CheckLookup(request.requests(i), options_.trust_domain);
    if (!r.ok()) return InElement(absl::StrCat("requests[", i, "]."), r.status());
    recipients.push_back(*std::move(r));
  }
  // One snapshot for the page: the agreements once, each child's entries.
  const absl::Time now = options_.clock->Now();
  std::vector<std::vector<cv1::ConsentEntry>> entries(request.requests_size());
  std::vector<cv1::SharingAgreement> agreements;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(agreements, txn.ListAgreements());
    for (int i = 0; i < request.requests_size(); ++i) {
      KINEX_ASSIGN_OR_RETURN(entries[i],
                             txn.ListEntriesInForce(request.requests(i).kinex_id(), now));
    }
    return absl::OkStatus();
  }));
  cv1::BatchLookupBasesResponse response;
  for (int i = 0; i < request.requests_size(); ++i) {
    *response.add_responses() = BasesInForce(request.requests(i), recipients[i], entries[i],
                                             agreements, now, options_.trust_domain);
  }
  return response;
}

absl::StatusOr<cv1::SharingAgreement> ConsentCore::CreateSharingAgreement(
    const Caller& caller, const cv1::CreateSharingAgreementRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Attempt attempt, BeginWrite(caller, "CreateSharingAgreement"));
  return Finish(attempt, CreateSharingAgreementAttempt(caller, request, attempt));
}

absl::StatusOr<cv1::SharingAgreement> ConsentCore::CreateSharingAgreementAttempt(
    const Caller& caller, const cv1::CreateSharingAgreementRequest& request, Attempt& attempt) {
  const cv1::SharingAgreement& agreement = request.agreement();
  const absl::Time now = options_.clock->Now();
  cv1::SharingAgreement a = agreement;
  if (!a.agreement_id().empty()) return Invalid("agreement.agreement_id: output only");
  if (a.title().empty() || a.title().size() > kMaxNameLength) {
    return Invalid(absl::StrCat("agreement.title: 1-", kMaxNameLength, " characters required"));
  }
  if (a.parties_size() < 2) return Invalid("agreement.parties: at least two are required");
  for (const auto& p : a.parties()) {
    if (!comv1::AgencyKind_IsValid(p.kind()) || p.kind() == comv1::AGENCY_KIND_UNSPECIFIED) {
      return Invalid(absl::StrCat("agreement.parties.kind: unknown enum value ", p.kind()));
    }
    if (!p.code().empty())
      KINEX_RETURN_IF_ERROR(CheckAgencyCode(p.code(), "agreement.parties.code"));
  }
  KINEX_RETURN_IF_ERROR(
      CheckEnumList(a.purposes(), comv1::Purpose_IsValid, "agreement.purposes", true));
  KINEX_RETURN_IF_ERROR(
      CheckEnumList(a.categories(), recv1::Category_IsValid, "agreement.categories", true));
  KINEX_RETURN_IF_ERROR(ValidateWindow(a.mutable_valid_from(), &a.valid_until(),
                                       agreement.has_valid_from(), a.has_valid_until(), now,
                                       "agreement."));
  if (!NamesParty(a, caller.principal.agency_kind, caller.principal.agency_code)) {
    return WithErrorReason(absl::PermissionDeniedError(
                               "only a party to an information sharing agreement may record it"),
                           reason::kPolicyDenied);
  }
  KINEX_ASSIGN_OR_RETURN(std::string id, options_.new_id("isa_"));
  a.set_agreement_id(id);
  KINEX_RETURN_IF_ERROR(CommitAudited(attempt, av1::SHARING_AGREEMENT_CREATED, id,
                                      absl::StrCat("sharing agreement ", id),
                                      [&](ConsentTxn& txn) { return txn.InsertAgreement(a); }));
  return a;
}

absl::StatusOr<cv1::ListSharingAgreementsResponse> ConsentCore::ListSharingAgreements(
    const cv1::ListSharingAgreementsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(int page_size, paging::PageSize(request.page_size(), kPageLimits));
  const paging::TokenScope scope{.rpc = "ListSharingAgreements", .caller = "", .filter = ""};
  KINEX_ASSIGN_OR_RETURN(std::string after,
                         paging::PageTokens::Process().Open(request.page_token(), scope));
  std::vector<cv1::SharingAgreement> all;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(all, txn.ListAgreements());
    return absl::OkStatus();
  }));
  cv1::ListSharingAgreementsResponse response;
  for (auto& a : all) {
    if (a.agreement_id() <= after) continue;
    if (response.agreements_size() == page_size) {
      response.set_next_page_token(paging::PageTokens::Process().Issue(
          scope, response.agreements(page_size - 1).agreement_id()));
      break;
    }
    *response.add_agreements() = std::move(a);
  }
  return response;
}

}  // namespace kinex::consent
