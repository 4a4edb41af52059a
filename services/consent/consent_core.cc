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
#include "services/common/identifiers.h"
#include "services/common/status_macros.h"
#include "services/records/random_id.h"

namespace kinex::consent {
namespace {

namespace cv1 = kinex::consent::v1;
namespace comv1 = kinex::common::v1;
namespace recv1 = kinex::record::v1;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxActorLength = 256;
constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxReferenceLength = 500;
constexpr size_t kMaxReasonLength = 500;
constexpr int64_t kMinTimestampSeconds = -62135596800;  // 0001-01-01
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::Time FromProto(const Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

Timestamp ToProto(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Status CheckTimestamp(const Timestamp& ts, absl::string_view path) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
      ts.nanos() < 0 || ts.nanos() > 999999999) {
    return Invalid(absl::StrCat(path, ": not a valid timestamp"));
  }
  return absl::OkStatus();
}

// Every value known and not UNSPECIFIED; at least one when `required`.
template <typename IsValid>
absl::Status CheckEnumList(const google::protobuf::RepeatedField<int>& values,
                           IsValid is_valid, absl::string_view path, bool required) {
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
  if (code.empty() || code.size() > 32 ||
      !std::all_of(code.begin(), code.end(), [](char c) {
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
    return Invalid(absl::StrCat("entry.consent.given_by.name: at most ", kMaxNameLength,
                                " characters"));
  }
  if (by.kind() == cv1::PARENTAL_RESPONSIBILITY_HOLDER) {
    if (by.name().empty()) {
      return Invalid(
          "entry.consent.given_by.name: required for PARENTAL_RESPONSIBILITY_HOLDER");
    }
    if (by.relationship() == cv1::PR_RELATIONSHIP_UNSPECIFIED) {
      return Invalid(
          "entry.consent.given_by.relationship: required for "
          "PARENTAL_RESPONSIBILITY_HOLDER");
    }
  } else if (by.relationship() != cv1::PR_RELATIONSHIP_UNSPECIFIED) {
    return Invalid(
        "entry.consent.given_by.relationship: only for PARENTAL_RESPONSIBILITY_HOLDER");
  }
  const cv1::ConsentScope& scope = g.scope();
  KINEX_RETURN_IF_ERROR(CheckEnumList(scope.categories(), recv1::Category_IsValid,
                                      "entry.consent.scope.categories", true));
  KINEX_RETURN_IF_ERROR(CheckEnumList(scope.recipient_kinds(), comv1::AgencyKind_IsValid,
                                      "entry.consent.scope.recipient_kinds", true));
  for (const std::string& code : scope.recipient_codes()) {
    KINEX_RETURN_IF_ERROR(CheckAgencyCode(code, "entry.consent.scope.recipient_codes"));
  }
  return CheckEnumList(scope.purposes(), comv1::Purpose_IsValid,
                       "entry.consent.scope.purposes", true);
}

absl::Status ValidateBasis(const cv1::StatutoryBasis& b) {
  if (!comv1::LegalBasis_IsValid(b.basis())) {
    return Invalid(
        absl::StrCat("entry.statutory_basis.basis: unknown enum value ", b.basis()));
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
  KINEX_RETURN_IF_ERROR(CheckEnumList(b.purposes(), comv1::Purpose_IsValid,
                                      "entry.statutory_basis.purposes", false));
  return CheckEnumList(b.recipient_kinds(), comv1::AgencyKind_IsValid,
                       "entry.statutory_basis.recipient_kinds", false);
}

// Validates the window; fills valid_from with `now` when unset.
absl::Status ValidateWindow(Timestamp* valid_from, const Timestamp* valid_until,
                            bool has_from, bool has_until, absl::Time now,
                            absl::string_view prefix) {
  if (has_from) {
    KINEX_RETURN_IF_ERROR(CheckTimestamp(*valid_from, absl::StrCat(prefix, "valid_from")));
  } else {
    *valid_from = ToProto(now);
  }
  if (has_until) {
    KINEX_RETURN_IF_ERROR(
        CheckTimestamp(*valid_until, absl::StrCat(prefix, "valid_until")));
    const absl::Time from = FromProto(*valid_from);
    const absl::Time until = FromProto(*valid_until);
    if (until <= from) {
      return Invalid(absl::StrCat(prefix, "valid_until (", Rfc3339(until),
                                  ") must be after ", prefix, "valid_from (",
                                  Rfc3339(from), ")"));
    }
  }
  return absl::OkStatus();
}

bool AgreementInForce(const cv1::SharingAgreement& a, absl::Time now) {
  if (FromProto(a.valid_from()) > now) return false;
  return !a.has_valid_until() || FromProto(a.valid_until()) > now;
}

bool NamesParty(const cv1::SharingAgreement& a, comv1::AgencyKind kind,
                const std::string& code) {
  return std::any_of(a.parties().begin(), a.parties().end(),
                     [&](const cv1::AgreementParty& p) {
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
    return absl::PermissionDeniedError(
        "consent entries are recorded by agency identities only");
  }
  if (caller.actor.size() > kMaxActorLength) {
    return Invalid(absl::StrCat("actor: at most ", kMaxActorLength, " characters"));
  }
  return absl::OkStatus();
}

bool LooksLikeId(absl::string_view id, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&id, prefix) || id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c));
  });
}

absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) {
    return Invalid(absl::StrCat("page_size: must not be negative (got ", requested, ")"));
  }
  return requested == 0 ? kDefaultPageSize : std::min<int>(requested, kMaxPageSize);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConsentCore>> ConsentCore::Create(Options options) {
  if (options.storage == nullptr) return Invalid("ConsentCore: storage is required");
  if (options.records == nullptr) return Invalid("ConsentCore: records is required");
  if (options.authorizer == nullptr) return Invalid("ConsentCore: authorizer is required");
  if (options.clock == nullptr) return Invalid("ConsentCore: clock is required");
  if (!options.new_id) options.new_id = [](absl::string_view p) { return RandomId(p); };
  return std::unique_ptr<ConsentCore>(new ConsentCore(std::move(options)));
}

absl::StatusOr<cv1::RecordConsentResponse> ConsentCore::RecordConsent(
    const Caller& caller, const cv1::RecordConsentRequest& request) {
  KINEX_RETURN_IF_ERROR(CheckCaller(caller));
  const absl::Time now = options_.clock->Now();
  cv1::ConsentEntry entry = request.entry();
  if (!entry.consent_id().empty()) return Invalid("entry.consent_id: output only");
  if (!entry.kinex_id().empty()) return Invalid("entry.kinex_id: output only; use child");
  if (!entry.recorded_by().empty() || !entry.recorded_by_actor().empty() ||
      entry.has_record_time() || entry.has_withdraw_time() ||
      !entry.withdraw_reason().empty() || !entry.withdrawn_by().empty()) {
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
                                       request.entry().has_valid_from(),
                                       entry.has_valid_until(), now, "entry."));

  kinex::records::v1::ResolveChildRequest resolve;
  *resolve.mutable_child() = request.child();
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::ResolveChildResponse child,
                         options_.records->ResolveChild(resolve));
  if (entry.has_consent() && entry.consent().given_by().kind() == cv1::CHILD_AGED_16_OR_OVER &&
      child.has_date_of_birth()) {
    const auto& dob = child.date_of_birth();
    const absl::CivilDay sixteenth(dob.year() + 16, dob.month(), dob.day());
    const absl::Time from = FromProto(entry.valid_from());
    if (from < absl::FromCivil(sixteenth, absl::UTCTimeZone())) {
      return absl::FailedPreconditionError(
          "entry.consent.given_by.kind: CHILD_AGED_16_OR_OVER, but the child is under 16 at "
          "entry.valid_from (a younger child may consent as GILLICK_COMPETENT_CHILD)");
    }
  }
  KINEX_RETURN_IF_ERROR(options_.authorizer->MayRecord(caller.principal, child.scope(), request));

  KINEX_ASSIGN_OR_RETURN(std::string id, options_.new_id(prefix));
  entry.set_consent_id(id);
  entry.set_kinex_id(child.kinex_id());
  entry.set_recorded_by(caller.principal.uri);
  entry.set_recorded_by_actor(caller.actor);
  *entry.mutable_record_time() = ToProto(now);
  KINEX_RETURN_IF_ERROR(options_.storage->Transact(
      [&](ConsentTxn& txn) { return txn.InsertEntry(entry); }));
  cv1::RecordConsentResponse response;
  response.set_consent_id(id);
  *response.mutable_entry() = std::move(entry);
  return response;
}

absl::StatusOr<cv1::WithdrawConsentResponse> ConsentCore::WithdrawConsent(
    const Caller& caller, const cv1::WithdrawConsentRequest& request) {
  KINEX_RETURN_IF_ERROR(CheckCaller(caller));
  if (!LooksLikeId(request.consent_id(), "cn_") && !LooksLikeId(request.consent_id(), "lb_")) {
    return Invalid("consent_id: not a consent entry id (\"cn_...\" or \"lb_...\")");
  }
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

  std::optional<cv1::ConsentEntry> stored;
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(stored, txn.GetEntry(request.consent_id()));
    return absl::OkStatus();
  }));
  if (!stored.has_value()) return absl::NotFoundError("no consent entry with that consent_id");

  // The same permission as recording the entry.
  kinex::records::v1::ResolveChildRequest resolve;
  resolve.mutable_child()->set_kinex_id(stored->kinex_id());
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::ResolveChildResponse child,
                         options_.records->ResolveChild(resolve));
  cv1::RecordConsentRequest as_recorded;
  as_recorded.mutable_child()->set_kinex_id(stored->kinex_id());
  *as_recorded.mutable_entry() = *stored;
  KINEX_RETURN_IF_ERROR(
      options_.authorizer->MayRecord(caller.principal, child.scope(), as_recorded));

  cv1::WithdrawConsentResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::optional<cv1::ConsentEntry> entry,
                           txn.GetEntry(request.consent_id()));
    if (!entry.has_value()) return absl::NotFoundError("no consent entry with that consent_id");
    if (entry->has_withdraw_time()) {
      return absl::FailedPreconditionError(
          absl::StrCat("consent entry already withdrawn from ",
                       Rfc3339(FromProto(entry->withdraw_time()))));
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
  KINEX_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  std::string after;
  if (!request.page_token().empty()) {
    absl::string_view token = request.page_token();
    if (!absl::ConsumePrefix(&token, "e:") ||
        (!LooksLikeId(token, "cn_") && !LooksLikeId(token, "lb_"))) {
      return Invalid("page_token: not a token from ListConsents");
    }
    after = std::string(token);
  }
  kinex::records::v1::ResolveChildRequest resolve;
  *resolve.mutable_child() = request.child();
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::ResolveChildResponse child,
                         options_.records->ResolveChild(resolve));
  cv1::ListConsentsResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::vector<cv1::ConsentEntry> entries,
                           txn.ListEntries(child.kinex_id(), after, page_size + 1));
    response.Clear();
    const bool more = static_cast<int>(entries.size()) > page_size;
    if (more) entries.resize(page_size);
    for (auto& e : entries) *response.add_entries() = std::move(e);
    if (more) {
      response.set_next_page_token(
          absl::StrCat("e:", response.entries(page_size - 1).consent_id()));
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<cv1::LookupBasesResponse> ConsentCore::LookupBases(
    const cv1::LookupBasesRequest& request) {
  if (!absl::StartsWith(request.kinex_id(), "kx_") || request.kinex_id().size() > 67) {
    return Invalid("kinex_id: not a Kinex id");
  }
  absl::StatusOr<SpiffeId> recipient = ParseSpiffeId(request.recipient(), options_.trust_domain);
  if (!recipient.ok()) {
    return Invalid(absl::StrCat("recipient: ", recipient.status().message()));
  }
  if (recipient->is_service) return Invalid("recipient: must be an agency identity");
  if (!comv1::Purpose_IsValid(request.purpose())) {
    return Invalid(absl::StrCat("purpose: unknown enum value ", request.purpose()));
  }
  if (request.purpose() == comv1::PURPOSE_UNSPECIFIED) return Invalid("purpose: required");
  const absl::Time now = options_.clock->Now();

  std::vector<cv1::ConsentEntry> entries;
  std::vector<cv1::SharingAgreement> agreements;
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(entries, txn.ListEntriesInForce(request.kinex_id(), now));
    KINEX_ASSIGN_OR_RETURN(agreements, txn.ListAgreements());
    return absl::OkStatus();
  }));

  const comv1::AgencyKind kind = recipient->agency_kind;
  const std::string& code = recipient->agency_code;
  cv1::LookupBasesResponse response;
  for (const cv1::ConsentEntry& e : entries) {
    // The store's contract, checked again: a withdrawn or expired entry must
    // never count, whatever the backend.
    if (!InForce(e, now)) continue;
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
    absl::StatusOr<SpiffeId> recorder = ParseSpiffeId(e.recorded_by(), options_.trust_domain);
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

absl::StatusOr<cv1::SharingAgreement> ConsentCore::CreateSharingAgreement(
    const Caller& caller, const cv1::CreateSharingAgreementRequest& request) {
  KINEX_RETURN_IF_ERROR(CheckCaller(caller));
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
    if (!p.code().empty()) KINEX_RETURN_IF_ERROR(CheckAgencyCode(p.code(), "agreement.parties.code"));
  }
  KINEX_RETURN_IF_ERROR(
      CheckEnumList(a.purposes(), comv1::Purpose_IsValid, "agreement.purposes", true));
  KINEX_RETURN_IF_ERROR(
      CheckEnumList(a.categories(), recv1::Category_IsValid, "agreement.categories", true));
  KINEX_RETURN_IF_ERROR(ValidateWindow(a.mutable_valid_from(), &a.valid_until(),
                                       agreement.has_valid_from(), a.has_valid_until(), now,
                                       "agreement."));
  if (!NamesParty(a, caller.principal.agency_kind, caller.principal.agency_code)) {
    return absl::PermissionDeniedError(
        "only a party to an information sharing agreement may record it");
  }
  KINEX_ASSIGN_OR_RETURN(std::string id, options_.new_id("isa_"));
  a.set_agreement_id(id);
  KINEX_RETURN_IF_ERROR(
      options_.storage->Transact([&](ConsentTxn& txn) { return txn.InsertAgreement(a); }));
  return a;
}

absl::StatusOr<cv1::ListSharingAgreementsResponse> ConsentCore::ListSharingAgreements(
    const cv1::ListSharingAgreementsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  std::string after;
  if (!request.page_token().empty()) {
    absl::string_view token = request.page_token();
    if (!absl::ConsumePrefix(&token, "a:") || !LooksLikeId(token, "isa_")) {
      return Invalid("page_token: not a token from ListSharingAgreements");
    }
    after = std::string(token);
  }
  std::vector<cv1::SharingAgreement> all;
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(all, txn.ListAgreements());
    return absl::OkStatus();
  }));
  cv1::ListSharingAgreementsResponse response;
  for (auto& a : all) {
    if (a.agreement_id() <= after) continue;
    if (response.agreements_size() == page_size) {
      response.set_next_page_token(absl::StrCat(
          "a:", response.agreements(page_size - 1).agreement_id()));
      break;
    }
    *response.add_agreements() = std::move(a);
  }
  return response;
}

}  // namespace kinex::consent
