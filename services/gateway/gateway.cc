#include "services/gateway/gateway.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/child_ref.h"
#include "services/common/error_reason.h"
#include "services/common/identity.h"
#include "services/common/paging.h"
#include "services/common/record_labels.h"
#include "services/common/status_macros.h"
#include "services/gateway/gateway_errors.h"
#include "services/policy/child_context.h"
#include "services/policy/lawful_basis.h"
#include "services/policy/redactor.h"

namespace kinex::gateway {
namespace {

namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace pv1 = kinex::policy::v1;
namespace ev1 = kinex::exchange::v1;
namespace rv1 = kinex::record::v1;
namespace nv1 = kinex::notifications::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr size_t kMaxJustification = 4000;

// The same answer for "no such child" and "not allowed", so probing
// identifiers teaches a caller nothing. The request id lets the caller's
// DPO find the audited reason.
absl::Status NothingToSee(const CallContext& call) {
  return WithErrorReason(
      absl::PermissionDeniedError(absl::StrCat(
          "no record you may see for this child and purpose (request id ", call.request_id, ")")),
      reason::kChildNotFoundOrOutOfScope);
}

// The notifications a disclosure raises (docs/notifications.md), on the
// event that records it so they commit with it: the responsible LA is told
// of a disclosure whose rule carries NOTIFY_RESPONSIBLE_LA, and gets a
// review item for one that carries BREAK_GLASS_REVIEW. A break-glass
// disclosure raises both whatever its rule says: emergency access is never
// unreviewed. Nothing when the responsible LA is unknown or is the caller.
void AddAccessNotifications(const CallContext& call, const kinex::records::v1::ChildFacts& facts,
                            const pv1::Decision& decision, bool break_glass,
                            av1::AuditEvent& event) {
  const std::string& la = facts.scope().responsible_la_code();
  if (la.empty() || facts.kinex_id().empty()) return;
  if (call.principal.agency_kind == cv1::LOCAL_AUTHORITY && call.principal.agency_code == la) {
    return;
  }
  bool notify = break_glass;
  bool review = break_glass;
  for (int o : decision.obligations()) {
    if (o == pv1::NOTIFY_RESPONSIBLE_LA) notify = true;
    if (o == pv1::BREAK_GLASS_REVIEW) review = true;
  }
  auto add = [&](nv1::NotificationKind kind, absl::string_view reason) {
    av1::NotifyIntent* intent = event.add_notify();
    intent->set_recipient_kind(cv1::LOCAL_AUTHORITY);
    intent->set_recipient_code(la);
    nv1::Notification& n = *intent->mutable_notification();
    n.set_kind(kind);
    n.set_kinex_id(facts.kinex_id());
    n.set_reason(std::string(reason));
    // Who, for what, on which lawful bases and whether break-glass: the
    // audit log takes them from this event's leaf on every read.
  };
  if (notify) add(nv1::ACCESS, "NOTIFY_RESPONSIBLE_LA");
  if (review) add(nv1::BREAK_GLASS_REVIEW, "BREAK_GLASS_REVIEW");
}

absl::Status ValidateJustification(const std::string& justification, bool break_glass,
                                   int min_break_glass) {
  if (justification.size() > kMaxJustification) {
    return InvalidField("justification",
                        absl::StrCat("justification: at most ", kMaxJustification, " bytes"));
  }
  if (break_glass && static_cast<int>(justification.size()) < min_break_glass) {
    return InvalidField(
        "justification",
        absl::StrCat("justification: break-glass needs a written justification of at "
                     "least ",
                     min_break_glass, " characters (got ", justification.size(), ")"));
  }
  return absl::OkStatus();
}

constexpr size_t kMaxStatedFunction = 500;

absl::Status ValidateStatedFunction(const std::string& stated_function) {
  if (stated_function.size() > kMaxStatedFunction) {
    return absl::InvalidArgumentError(absl::StrCat("stated_function: at most ", kMaxStatedFunction,
                                                   " bytes (got ", stated_function.size(), ")"));
  }
  for (unsigned char c : stated_function) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("stated_function: control characters are not allowed");
    }
  }
  return absl::OkStatus();
}

// The single LegalBasis of the event's summary field (kept for readers of
// older events): the basis met for consent or break-glass, else the first
// tuple's Art 6 basis. Never unspecified on a disclosure.
cv1::LegalBasis LegacyBasisOf(const pv1::Decision& decision,
                              const google::protobuf::RepeatedPtrField<cv1::LawfulBasis>& bases) {
  for (const pv1::BasisUse& use : decision.bases_used()) {
    if (use.basis() == cv1::CONSENT || use.basis() == cv1::VITAL_INTERESTS) return use.basis();
  }
  for (const cv1::LawfulBasis& b : bases) {
    switch (b.article6()) {
      case cv1::ARTICLE6_CONSENT:
        return cv1::CONSENT;
      case cv1::ARTICLE6_LEGAL_OBLIGATION:
        return cv1::LEGAL_OBLIGATION;
      case cv1::ARTICLE6_VITAL_INTERESTS:
        return cv1::VITAL_INTERESTS;
      case cv1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST:
        return cv1::RECOGNISED_LEGITIMATE_INTEREST;
      case cv1::ARTICLE6_LAW_ENFORCEMENT_TASK:
        return cv1::LAW_ENFORCEMENT_SAFEGUARDING;
      default:
        return cv1::PUBLIC_TASK;
    }
  }
  return cv1::PUBLIC_TASK;
}

// The decision's withheld categories with their true reasons: a category a
// shield withheld from is SHIELDED (for the audit and the responsible LA).
google::protobuf::RepeatedPtrField<pv1::WithheldCategory> WithShields(
    const pv1::Decision& decision) {
  google::protobuf::RepeatedPtrField<pv1::WithheldCategory> out = decision.withheld();
  for (pv1::WithheldCategory& w : out) {
    for (int c : decision.shielded()) {
      if (c == w.category()) {
        w.set_reason(pv1::SHIELDED);
        w.clear_rule_id();
      }
    }
  }
  return out;
}

std::vector<pv1::AvailableBasis> ToAvailableBases(
    const kinex::consent::v1::LookupBasesResponse& found, const SpiffeId& who,
    cv1::Purpose purpose) {
  std::vector<pv1::AvailableBasis> out;
  for (const auto& c : found.consents()) {
    pv1::AvailableBasis b;
    b.set_basis(cv1::CONSENT);
    b.set_consent_id(c.consent_id());
    for (int cat : c.categories()) b.add_categories(static_cast<rv1::Category>(cat));
    b.set_recipient_agency_kind(who.agency_kind);
    b.set_recipient_agency_code(who.agency_code);
    b.add_purposes(purpose);
    out.push_back(std::move(b));
  }
  for (const auto& s : found.bases()) {
    pv1::AvailableBasis b;
    b.set_basis(s.basis());
    b.set_consent_id(s.consent_id());
    for (int cat : s.categories()) b.add_categories(static_cast<rv1::Category>(cat));
    b.set_recipient_agency_kind(who.agency_kind);
    b.add_purposes(purpose);
    out.push_back(std::move(b));
  }
  return out;
}

// The top-level sections of a decision's allowed paths: what the gateway
// asks records for (records parses and returns only those; the redactor
// then keeps exactly the allowed paths).
std::vector<std::string> SectionsOf(const pv1::Decision& decision) {
  std::vector<std::string> out;
  for (const std::string& path : decision.allowed_paths()) {
    std::string section = path.substr(0, path.find('.'));
    if (out.empty() || out.back() != section) out.push_back(std::move(section));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status RecordChanged(const CallContext& call) {
  return WithErrorReason(
      absl::AbortedError(
          absl::StrCat("the child's record changed while it was being decided, twice; nothing was "
                       "disclosed; retry (request id ",
                       call.request_id, ")")),
      reason::kRecordChanged);
}

}  // namespace

absl::Status ValidatePurpose(int purpose, absl::string_view field) {
  if (purpose == cv1::PURPOSE_UNSPECIFIED) {
    return InvalidField(field, absl::StrCat(field,
                                            ": required (SAFEGUARDING, EDUCATION_SUPPORT, "
                                            "HEALTH_CARE, CARE_PLANNING or FINANCIAL_SUPPORT)"));
  }
  if (!cv1::Purpose_IsValid(purpose)) {
    return InvalidField(
        field, absl::StrCat(field, ": unknown value ", purpose, " for kinex.common.v1.Purpose"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ev1::PublishRecordResponse> Gateway::PublishRecord(
    const CallContext& call, const ev1::PublishRecordRequest& request) {
  // The records service owns every rule of the write path (and audits each
  // write and refusal); the gateway adds the caller's identity.
  kinex::records::v1::PutPartRequest put;
  *put.mutable_child() = request.child();
  if (request.has_record()) *put.mutable_part() = request.record();
  put.set_etag(request.etag());
  put.set_principal(call.principal.uri);
  put.set_actor(call.actor);
  put.set_request_id(call.request_id);
  if (request.has_proof_date_of_birth()) {
    *put.mutable_proof_date_of_birth() = request.proof_date_of_birth();
  }
  if (call.principal.agency_kind == cv1::SCHOOL ||
      call.principal.agency_kind == cv1::LOCAL_AUTHORITY) {
    KINEX_ASSIGN_OR_RETURN(bool in_cohort, InVirtualSchoolCohort(request.child()));
    put.set_notify_virtual_school(in_cohort);
  }
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::PutPartResponse done, deps_.records->PutPart(put));
  if (done.link_state() == rv1::CLAIMED && done.version() == 1 && deps_.metrics != nullptr) {
    deps_.metrics->RecordLinkClaim(AgencyKindSlug(call.principal.agency_kind),
                                   call.principal.agency_code);
  }
  ev1::PublishRecordResponse response;
  response.set_kinex_id(done.kinex_id());
  response.set_etag(done.etag());
  response.set_version(done.version());
  response.set_link_state(done.link_state());
  return response;
}

absl::StatusOr<bool> Gateway::InVirtualSchoolCohort(const cv1::ChildRef& child) const {
  if (child.id_case() == cv1::ChildRef::ID_NOT_SET) return false;  // records refuses it
  kinex::records::v1::GetChildFactsRequest about;
  *about.mutable_child() = child;
  absl::StatusOr<kinex::records::v1::ChildFacts> facts = deps_.records->GetChildFacts(about);
  if (!facts.ok()) {
    // An unknown child (a new one) or a malformed identifier: records
    // decides the publish; there is no cohort yet.
    if (facts.status().code() == absl::StatusCode::kNotFound ||
        facts.status().code() == absl::StatusCode::kInvalidArgument) {
      return false;
    }
    return DependencyFailed(kRecordsDep, facts.status());
  }
  const std::string& la = facts->scope().responsible_la_code();
  if (la.empty()) return false;
  // The virtual school head of the responsible LA, asking as it would.
  pv1::DecisionRequest decide;
  pv1::Principal& vsh = *decide.mutable_principal();
  vsh.set_agency_kind(cv1::VIRTUAL_SCHOOL);
  vsh.set_agency_code(la);
  vsh.set_role(std::string(kVirtualSchoolHeadRole));
  *decide.mutable_child() = kinex::policy::ChildContextFromFacts(*facts, deps_.clock->Now());
  decide.set_purpose(cv1::EDUCATION_SUPPORT);
  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> evaluated =
      deps_.policy->Evaluate(decide);
  if (!evaluated.ok()) return DependencyFailed(kPolicyDep, evaluated.status());
  return (*evaluated)->decision.allowed();
}

absl::StatusOr<ev1::GetMyPartResponse> Gateway::GetMyPart(const CallContext& call,
                                                          const ev1::GetMyPartRequest& request) {
  kinex::records::v1::GetPartRequest get;
  *get.mutable_child() = request.child();
  get.set_principal(call.principal.uri);
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::GetPartResponse got, deps_.records->GetPart(get));
  ev1::GetMyPartResponse response;
  response.set_kinex_id(got.kinex_id());
  *response.mutable_record() = std::move(*got.mutable_part()->mutable_part());
  response.set_etag(got.part().etag());
  response.set_version(got.part().version());
  *response.mutable_publish_time() = got.part().publish_time();
  response.set_link_state(got.link_state());
  return response;
}

absl::StatusOr<ev1::ListLinkClaimsResponse> Gateway::ListLinkClaims(
    const CallContext& call, const ev1::ListLinkClaimsRequest& request) {
  kinex::records::v1::ListLinksRequest list;
  list.set_principal(call.principal.uri);
  list.set_state(request.state());
  list.set_page_size(request.page_size());
  list.set_page_token(request.page_token());
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::ListLinksResponse got, deps_.records->ListLinks(list));
  ev1::ListLinkClaimsResponse response;
  *response.mutable_links() = std::move(*got.mutable_links());
  response.set_next_page_token(got.next_page_token());
  return response;
}

absl::StatusOr<ev1::DecideLinkClaimResponse> Gateway::DecideLinkClaim(
    const CallContext& call, const ev1::DecideLinkClaimRequest& request) {
  kinex::records::v1::DecideLinkRequest decide;
  *decide.mutable_child() = request.child();
  *decide.mutable_agency() = request.agency();
  decide.set_decision(request.decision());
  decide.set_principal(call.principal.uri);
  decide.set_actor(call.actor);
  decide.set_request_id(call.request_id);
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::DecideLinkResponse got,
                         deps_.records->DecideLink(decide));
  ev1::DecideLinkClaimResponse response;
  *response.mutable_link() = std::move(*got.mutable_link());
  return response;
}

absl::StatusOr<ev1::TransferResponsibilityResponse> Gateway::TransferResponsibility(
    const CallContext& call, const ev1::TransferResponsibilityRequest& request) {
  kinex::records::v1::TransferResponsibilityRequest transfer;
  *transfer.mutable_child() = request.child();
  transfer.set_to_la_code(request.to_la_code());
  transfer.set_reason(request.reason());
  transfer.set_principal(call.principal.uri);
  transfer.set_actor(call.actor);
  transfer.set_request_id(call.request_id);
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::TransferResponsibilityResponse got,
                         deps_.records->TransferResponsibility(transfer));
  ev1::TransferResponsibilityResponse response;
  response.set_kinex_id(got.kinex_id());
  response.set_responsible_la_code(got.responsible_la_code());
  return response;
}

absl::StatusOr<kinex::records::v1::SharingDecision> Gateway::RecordSharingDecision(
    const CallContext& call, const ev1::RecordSharingDecisionRequest& request) {
  // Records owns the rules (relationship, roles, validation) and audits the
  // decision or its refusal.
  kinex::records::v1::RecordSharingDecisionRequest record;
  *record.mutable_child() = request.child();
  *record.mutable_decision() = request.decision();
  record.set_principal(call.principal.uri);
  record.set_actor(call.actor);
  record.set_request_id(call.request_id);
  return deps_.records->RecordSharingDecision(record);
}

absl::StatusOr<kinex::records::v1::ListSharingDecisionsResponse> Gateway::ListSharingDecisions(
    const CallContext& call, const ev1::ListSharingDecisionsRequest& request) {
  kinex::records::v1::ListSharingDecisionsRequest list;
  if (request.has_child()) *list.mutable_child() = request.child();
  list.set_principal(call.principal.uri);
  list.set_include_removed(request.include_removed());
  *list.mutable_kinds() = request.kinds();
  list.set_page_size(request.page_size());
  list.set_page_token(request.page_token());
  absl::StatusOr<kinex::records::v1::ListSharingDecisionsResponse> got =
      deps_.records->ListSharingDecisions(list);
  // Decisions carry practitioners' reasoning about children: every listing
  // is audited as a query (the child only as its pseudonyms), durable
  // before the reply. A refused listing is audited too, with why (the code
  // and message the caller gets), so probing leaves a trace.
  av1::AuditEvent event = EventFor(call, av1::AUDIT_QUERIED, "ListSharingDecisions");
  std::vector<std::string> query = {"sharing_decisions"};
  if (request.has_child()) {
    query.push_back("child=given");
    // A malformed child is not named: the log refuses identifiers it cannot
    // pseudonymise, which would leave the refusal unaudited.
    if (got.ok() || ValidateChildRef(request.child()).ok()) {
      *event.add_children() = request.child();
    }
  }
  if (request.include_removed()) query.push_back("include_removed=true");
  if (request.kinds_size() > 0) {
    std::vector<std::string> kinds;
    for (int k : request.kinds()) {
      kinds.push_back(cv1::SharingDecisionKind_Name(static_cast<cv1::SharingDecisionKind>(k)));
    }
    query.push_back(absl::StrCat("kinds=", absl::StrJoin(kinds, ",")));
  }
  if (!request.page_token().empty()) query.push_back("page_token=given");
  event.set_query(absl::StrJoin(query, " "));
  if (got.ok()) {
    event.set_result_count(got->decisions_size());
  } else {
    event.set_decision(av1::DENY);
    event.set_refusal(
        absl::StrCat(absl::StatusCodeToString(got.status().code()), ": ", got.status().message()));
  }
  absl::StatusOr<kinex::audit::AppendResult> appended = deps_.audit->Append(event);
  if (!appended.ok()) return DependencyFailed(kAuditDep, appended.status());
  return got;
}

absl::StatusOr<kinex::records::v1::SharingDecision> Gateway::RemoveShield(
    const CallContext& call, const ev1::RemoveShieldRequest& request) {
  kinex::records::v1::RemoveShieldRequest remove;
  *remove.mutable_child() = request.child();
  remove.set_decision_id(request.decision_id());
  remove.set_reason(request.reason());
  remove.set_principal(call.principal.uri);
  remove.set_actor(call.actor);
  remove.set_request_id(call.request_id);
  return deps_.records->RemoveShield(remove);
}

absl::StatusOr<ev1::PublishSchoolCalendarResponse> Gateway::PublishSchoolCalendar(
    const CallContext& call, const ev1::PublishSchoolCalendarRequest& request) {
  // Records owns the rules (whose calendar, validation, etag) and audits the
  // publish or its refusal; the gateway adds the caller's identity.
  kinex::records::v1::PutCalendarRequest put;
  if (request.has_calendar()) *put.mutable_calendar() = request.calendar();
  put.set_etag(request.etag());
  put.set_principal(call.principal.uri);
  put.set_actor(call.actor);
  put.set_request_id(call.request_id);
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::PublishedCalendar stored,
                         deps_.records->PutCalendar(put));
  ev1::PublishSchoolCalendarResponse response;
  *response.mutable_calendar() = std::move(*stored.mutable_calendar());
  response.set_etag(stored.etag());
  *response.mutable_publish_time() = stored.publish_time();
  return response;
}

absl::StatusOr<ev1::GetSchoolCalendarResponse> Gateway::GetSchoolCalendar(
    const CallContext& call, const ev1::GetSchoolCalendarRequest& /*request*/) {
  kinex::records::v1::GetCalendarRequest get;
  get.set_principal(call.principal.uri);
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::PublishedCalendar stored,
                         deps_.records->GetCalendar(get));
  ev1::GetSchoolCalendarResponse response;
  *response.mutable_calendar() = std::move(*stored.mutable_calendar());
  response.set_etag(stored.etag());
  *response.mutable_publish_time() = stored.publish_time();
  response.set_principal(stored.principal());
  response.set_actor(stored.actor());
  return response;
}

Gateway::Gateway(Options options, Dependencies deps)
    : options_(options),
      deps_(deps),
      facts_cache_(options.facts_cache_entries > 0
                       ? std::make_unique<FactsCache>(options.facts_cache_entries)
                       : nullptr) {}

absl::StatusOr<Gateway::Decided> Gateway::Decide(const CallContext& call,
                                                 const kinex::records::v1::ChildFacts& facts,
                                                 const Ask& ask) const {
  const kinex::records::v1::ChildFacts* const one[] = {&facts};
  KINEX_ASSIGN_OR_RETURN(std::vector<Decided> decided, DecideAll(call, one, ask));
  return std::move(decided.front());
}

absl::StatusOr<std::vector<Gateway::Decided>> Gateway::DecideAll(
    const CallContext& call, absl::Span<const kinex::records::v1::ChildFacts* const> facts,
    const Ask& ask) const {
  // An unknown child (no Kinex id) is still decided, with no scope links
  // and no bases, so its audited denial names the policy version in force;
  // it is never allowed, whatever the policy says.
  kinex::consent::v1::BatchLookupBasesRequest lookups;
  for (const kinex::records::v1::ChildFacts* f : facts) {
    if (f->kinex_id().empty()) continue;
    kinex::consent::v1::LookupBasesRequest& lookup = *lookups.add_requests();
    lookup.set_kinex_id(f->kinex_id());
    lookup.set_recipient(call.principal.uri);
    lookup.set_purpose(ask.purpose);
  }
  kinex::consent::v1::BatchLookupBasesResponse found;
  if (!lookups.requests().empty()) {
    absl::StatusOr<kinex::consent::v1::BatchLookupBasesResponse> looked =
        deps_.consent->BatchLookupBases(lookups);
    if (!looked.ok()) return DependencyFailed(kConsentDep, looked.status());
    if (looked->responses_size() != lookups.requests_size()) {
      return DependencyFailed(kConsentDep,
                              absl::InternalError("BatchLookupBases: wrong number of responses"));
    }
    found = std::move(*looked);
  }

  // One instant for the page: every child's context is derived at it.
  const absl::Time now = deps_.clock->Now();
  std::vector<pv1::DecisionRequest> requests(facts.size());
  int next_found = 0;
  for (size_t i = 0; i < facts.size(); ++i) {
    const kinex::records::v1::ChildFacts& f = *facts[i];
    pv1::DecisionRequest& decide = requests[i];
    *decide.mutable_principal() = ToPolicyPrincipal(call.principal);
    if (!f.kinex_id().empty()) {
      *decide.mutable_child() = kinex::policy::ChildContextFromFacts(f, now);
      for (auto& b : ToAvailableBases(found.responses(next_found++), call.principal, ask.purpose)) {
        *decide.add_bases() = std::move(b);
      }
    }
    decide.set_purpose(ask.purpose);
    decide.set_justification(ask.justification);
    decide.set_break_glass(ask.break_glass);
    decide.set_stated_function(ask.stated_function);
  }
  absl::StatusOr<std::vector<std::shared_ptr<const kinex::policy::Evaluation>>> evaluated =
      deps_.policy->EvaluateAll(requests);
  if (!evaluated.ok()) return DependencyFailed(kPolicyDep, evaluated.status());
  if (evaluated->size() != facts.size()) {
    return DependencyFailed(kPolicyDep,
                            absl::InternalError("EvaluateAll: wrong number of evaluations"));
  }
  std::vector<Decided> out(facts.size());
  for (size_t i = 0; i < facts.size(); ++i) {
    out[i].evaluation = std::move((*evaluated)[i]);
    out[i].allowed = !facts[i]->kinex_id().empty() && out[i].evaluation->decision.allowed();
  }
  return out;
}

kinex::records::v1::GetRecordRequest Gateway::ReadAllowed(
    const cv1::ChildRef& asked_as, const kinex::records::v1::ChildFacts& facts,
    const Decided& decided) {
  kinex::records::v1::GetRecordRequest get;
  *get.mutable_child() = asked_as;
  for (std::string& section : SectionsOf(decided.evaluation->decision)) {
    get.add_paths(std::move(section));
  }
  get.set_facts_version(facts.facts_version());
  return get;
}

absl::StatusOr<Gateway::Prepared> Gateway::PrepareDisclosure(
    const CallContext& call, absl::string_view method, const cv1::ChildRef& asked_as,
    const kinex::records::v1::ChildFacts& facts, const Decided& decided,
    kinex::records::v1::GetRecordResponse read, const Ask& ask) {
  rv1::ChildRecord& record = *read.mutable_record();
  Prepared prepared;
  Disclosure& out = prepared.out;
  std::vector<std::string>& disclosed = prepared.disclosed;
  av1::AuditEvent& event = prepared.event;
  const std::string& kinex_id = facts.kinex_id();
  const pv1::Decision* decision = &decided.evaluation->decision;
  out.allowed = decided.allowed;
  if (deps_.metrics != nullptr) deps_.metrics->RecordDecision(out.allowed);

  // Every identifier the child is known by goes into the event (the log
  // keeps only keyed pseudonyms), so an auditor finds this disclosure by any
  // of them, whichever one the caller used. Records lists them in the facts
  // (the Kinex id first).
  std::vector<cv1::ChildRef> known_as(facts.known_as().begin(), facts.known_as().end());
  // (A kinex id that matches no child is kept too: it is what was asked.)
  if (asked_as.id_case() != cv1::ChildRef::ID_NOT_SET &&
      (asked_as.id_case() != cv1::ChildRef::kKinexId || kinex_id.empty())) {
    known_as.push_back(asked_as);
  }

  if (out.allowed) {
    absl::Status redacted = kinex::policy::Redactor().Apply(*decided.evaluation->plan, &record);
    if (!redacted.ok()) {
      return absl::InternalError(
          absl::StrCat("redaction failed (", redacted.message(), "); nothing was disclosed"));
    }
    disclosed = PresentLeafPaths(record);
    out.record = std::move(record);
  }

  event = EventFor(call, av1::DISCLOSURE, method);
  event.set_purpose(ask.purpose);
  event.set_justification(ask.justification);
  event.set_break_glass(ask.break_glass);
  event.set_stated_function(ask.stated_function);
  // Provenance: the parts whose agency kind owns something disclosed; each
  // is a controller with its own lawful basis.
  if (out.allowed) {
    absl::flat_hash_set<int> owners;
    for (const std::string& p : disclosed) owners.insert(OwnerOfLeafPath(p));
    std::vector<kinex::policy::Controller> controllers;
    for (const kinex::records::v1::PartVersion& part : read.parts()) {
      if (!owners.contains(part.owner_kind())) continue;
      prepared.sources.push_back(part);
      controllers.push_back({part.owner_kind(), part.owner_code()});
    }
    for (cv1::LawfulBasis& basis : kinex::policy::LawfulBasesFor(
             *decision, disclosed, controllers,
             kinex::policy::JurisdictionOfLa(facts.scope().responsible_la_code()),
             ask.stated_function)) {
      *event.add_lawful_bases() = std::move(basis);
    }
    event.set_legal_basis(LegacyBasisOf(*decision, event.lawful_bases()));
    for (const auto& use : decision->bases_used()) {
      if (!use.consent_id().empty()) {
        event.set_consent_id(use.consent_id());
        break;
      }
    }
  }
  // The audit keeps the true reasons: a shield is SHIELDED here, while the
  // requester's receipt says NOT_GRANTED like any other withheld field.
  if (!kinex_id.empty()) *event.mutable_withheld() = WithShields(*decision);
  event.set_policy_version(decision->policy_version());
  event.set_decision(!out.allowed                   ? av1::DENY
                     : decision->withheld().empty() ? av1::ALLOW
                                                    : av1::PARTIAL);
  for (const std::string& p : disclosed) event.add_disclosed_paths(p);
  for (cv1::ChildRef& ref : known_as) *event.add_children() = std::move(ref);
  if (out.allowed) {
    AddAccessNotifications(call, facts, *decision, ask.break_glass, event);
  }

  prepared.evaluation = decided.evaluation;
  prepared.known_child = !kinex_id.empty();
  prepared.break_glass = ask.break_glass;
  prepared.agency_kind = call.principal.agency_kind;
  return prepared;
}

absl::StatusOr<Gateway::Disclosure> Gateway::FinishDisclosure(
    Prepared prepared, absl::StatusOr<kinex::audit::AppendResult> appended) {
  Disclosure& out = prepared.out;
  if (!appended.ok()) {
    out.record.Clear();
    return DependencyFailed(kAuditDep, appended.status());
  }
  if (out.allowed && prepared.break_glass && deps_.metrics != nullptr) {
    deps_.metrics->RecordBreakGlass(AgencyKindSlug(prepared.agency_kind));
  }
  ev1::DisclosureReceipt& receipt = out.receipt;
  receipt.set_leaf_index(appended->leaf_index);
  receipt.set_leaf_hash(appended->leaf_hash);
  *receipt.mutable_signed_tree_head() = appended->signed_tree_head;
  for (const std::string& h : appended->inclusion_proof) receipt.add_inclusion_proof(h);
  for (const std::string& p : prepared.disclosed) receipt.add_disclosed_paths(p);
  const pv1::Decision& decision = prepared.evaluation->decision;
  if (prepared.known_child) *receipt.mutable_withheld() = decision.withheld();
  receipt.set_policy_version(decision.policy_version());
  for (const kinex::records::v1::PartVersion& part : prepared.sources) {
    ev1::PartSource* source = receipt.add_sources();
    source->set_agency_kind(part.owner_kind());
    source->set_agency_code(part.owner_code());
    source->set_version(part.version());
    *source->mutable_publish_time() = part.publish_time();
  }
  *receipt.mutable_lawful_bases() = prepared.event.lawful_bases();
  return std::move(out);
}

absl::StatusOr<Gateway::Disclosure> Gateway::Disclose(
    const CallContext& call, absl::string_view method, const cv1::ChildRef& asked_as,
    const kinex::records::v1::ChildFacts& facts, const Decided& decided,
    kinex::records::v1::GetRecordResponse read, const Ask& ask) {
  KINEX_ASSIGN_OR_RETURN(Prepared prepared, PrepareDisclosure(call, method, asked_as, facts,
                                                              decided, std::move(read), ask));
  const absl::Time t0 = absl::Now();
  absl::StatusOr<kinex::audit::AppendResult> appended = deps_.audit->Append(prepared.event);
  if (deps_.metrics != nullptr) deps_.metrics->RecordAuditAppend(absl::Now() - t0);
  return FinishDisclosure(std::move(prepared), std::move(appended));
}

absl::StatusOr<std::shared_ptr<const kinex::records::v1::ChildFacts>> Gateway::ReadFacts(
    const cv1::ChildRef& child) {
  kinex::records::v1::GetChildFactsRequest about;
  *about.mutable_child() = child;
  absl::StatusOr<kinex::records::v1::ChildFacts> found = deps_.records->GetChildFacts(about);
  if (found.ok()) {
    auto facts = std::make_shared<const kinex::records::v1::ChildFacts>(std::move(*found));
    if (facts_cache_ != nullptr && !facts->kinex_id().empty()) facts_cache_->Put(child, facts);
    return facts;
  }
  if (found.status().code() == absl::StatusCode::kInvalidArgument) {
    return found.status();  // a malformed identifier: the caller's to fix
  }
  if (found.status().code() != absl::StatusCode::kNotFound) {
    return DependencyFailed(kRecordsDep, found.status());
  }
  return std::make_shared<const kinex::records::v1::ChildFacts>();
}

absl::StatusOr<ev1::GetChildRecordResponse> Gateway::GetChildRecord(
    const CallContext& call, const ev1::GetChildRecordRequest& request) {
  if (request.child().id_case() == cv1::ChildRef::ID_NOT_SET) {
    return InvalidField("child",
                        "child: one of kinex_id, nhs_number, upn or la_child_id is required");
  }
  KINEX_RETURN_IF_ERROR(ValidatePurpose(request.purpose(), "purpose"));
  KINEX_RETURN_IF_ERROR(ValidateJustification(request.justification(), request.break_glass(),
                                              options_.break_glass_min_justification));
  KINEX_RETURN_IF_ERROR(ValidateStatedFunction(request.stated_function()));
  const Ask ask{request.purpose(), request.justification(), request.break_glass(),
                request.stated_function()};

  // Decide on the child's facts (no record content), then read only what
  // the decision allows, pinned to the facts it was made on. If the facts
  // move in between (a transfer, a link decided, a legal-status change),
  // decide once more; a second move fails closed. Facts kept from an
  // earlier read (FactsCache) are decided on first: records confirms them
  // under the read's pin, and a refusal on them stands only if fresh facts
  // are the same; otherwise this is decided again on fresh facts, which
  // do not count as a move.
  std::shared_ptr<const kinex::records::v1::ChildFacts> facts =
      facts_cache_ != nullptr ? facts_cache_->Find(request.child()) : nullptr;
  bool fresh = false;
  for (int fresh_reads = 0;;) {
    if (facts == nullptr) {
      if (fresh_reads == 2) break;
      ++fresh_reads;
      KINEX_ASSIGN_OR_RETURN(facts, ReadFacts(request.child()));
      fresh = true;
    }
    KINEX_ASSIGN_OR_RETURN(Decided decided, Decide(call, *facts, ask));
    if (!decided.allowed && !fresh) {
      KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const kinex::records::v1::ChildFacts> now,
                             ReadFacts(request.child()));
      fresh = true;
      if (now->facts_version() != facts->facts_version()) {
        facts_cache_->CountStale();
        facts = std::move(now);
        continue;
      }
    }
    kinex::records::v1::GetRecordResponse read;
    if (decided.allowed) {
      absl::StatusOr<kinex::records::v1::GetRecordResponse> got =
          deps_.records->GetRecord(ReadAllowed(request.child(), *facts, decided));
      // ABORTED: the facts moved. On kept facts any refusal (the caller's
      // identifier may no longer name the child: NOT_FOUND) is redone on
      // fresh facts, so it ends as a fresh read would.
      if (!got.ok() && (got.status().code() == absl::StatusCode::kAborted || !fresh)) {
        if (!fresh) facts_cache_->CountStale();
        facts = nullptr;
        continue;
      }
      if (!got.ok()) return DependencyFailed(kRecordsDep, got.status());
      read = std::move(*got);
    }
    // An unknown child is audited as a denial, like any other refusal.
    KINEX_ASSIGN_OR_RETURN(Disclosure d, Disclose(call, "GetChildRecord", request.child(), *facts,
                                                  decided, std::move(read), ask));
    if (!d.allowed) return NothingToSee(call);
    ev1::GetChildRecordResponse response;
    *response.mutable_record() = std::move(d.record);
    *response.mutable_receipt() = std::move(d.receipt);
    response.set_request_id(call.request_id);
    return response;
  }
  return RecordChanged(call);
}

absl::StatusOr<ev1::ListChildrenResponse> Gateway::ListChildren(
    const CallContext& call, const ev1::ListChildrenRequest& request) {
  KINEX_RETURN_IF_ERROR(ValidatePurpose(request.purpose(), "purpose"));
  KINEX_RETURN_IF_ERROR(ValidateJustification(request.justification(), false, 0));
  KINEX_RETURN_IF_ERROR(ValidateStatedFunction(request.stated_function()));
  const Ask ask{request.purpose(), request.justification(), false, request.stated_function()};
  KINEX_ASSIGN_OR_RETURN(
      const int want,
      paging::PageSize(request.page_size(), {.default_size = options_.default_page_size,
                                             .max_size = options_.max_page_size}));
  // The client's token wraps records' one, bound to the caller and to what
  // the listing is for (the decisions depend on it).
  const std::string filter = absl::StrCat(request.purpose(), "/", request.stated_function());
  const paging::TokenScope scope{
      .rpc = "exchange.ListChildren", .caller = call.principal.uri, .filter = filter};
  KINEX_ASSIGN_OR_RETURN(const std::string first_token,
                         paging::PageTokens::Process().Open(request.page_token(), scope));

  ev1::ListChildrenResponse response;
  std::string token = first_token;
  do {
    kinex::records::v1::ListChildrenRequest list;
    list.set_agency_kind(call.principal.agency_kind);
    list.set_agency_code(call.principal.agency_code);
    // Ask for exactly what is still missing, so every page fetched is used
    // whole and its next token is where this page ends.
    list.set_page_size(want - response.children_size());
    list.set_page_token(token);
    // The page with every child's facts (one call), decided together (one
    // consent lookup, one policy call), then the allowed children's records
    // in one read pinned to those facts;
    // if any child's facts moved, the page is listed and decided once more.
    kinex::records::v1::ListChildrenResponse page;
    std::vector<Decided> decisions;
    kinex::records::v1::BatchGetRecordsResponse records;
    bool read = false;
    for (int attempt = 0; attempt < 2 && !read; ++attempt) {
      absl::StatusOr<kinex::records::v1::ListChildrenResponse> listed =
          deps_.records->ListChildren(list);
      if (!listed.ok()) {
        if (listed.status().code() == absl::StatusCode::kInvalidArgument && first_token == token &&
            !token.empty()) {
          return WithErrorReason(
              absl::InvalidArgumentError("page_token: not a token this listing returned"),
              reason::kPageTokenInvalid, {{"field", "page_token"}});
        }
        if (listed.status().code() == absl::StatusCode::kInvalidArgument) {
          return listed.status();
        }
        return DependencyFailed(kRecordsDep, listed.status());
      }
      page = std::move(*listed);
      std::vector<const kinex::records::v1::ChildFacts*> facts;
      facts.reserve(page.children_size());
      for (const auto& child : page.children()) facts.push_back(&child.facts());
      KINEX_ASSIGN_OR_RETURN(decisions, DecideAll(call, facts, ask));
      kinex::records::v1::BatchGetRecordsRequest batch;
      for (size_t i = 0; i < facts.size(); ++i) {
        if (!decisions[i].allowed) continue;
        cv1::ChildRef listed_as;
        listed_as.set_kinex_id(facts[i]->kinex_id());
        *batch.add_requests() = ReadAllowed(listed_as, *facts[i], decisions[i]);
      }
      if (batch.requests().empty()) {
        records.Clear();
        read = true;
        break;
      }
      absl::StatusOr<kinex::records::v1::BatchGetRecordsResponse> got =
          deps_.records->BatchGetRecords(batch);
      if (!got.ok() && got.status().code() == absl::StatusCode::kAborted) continue;
      if (!got.ok()) return DependencyFailed(kRecordsDep, got.status());
      if (got->records_size() != batch.requests_size()) {
        return DependencyFailed(kRecordsDep,
                                absl::InternalError("BatchGetRecords: wrong number of records"));
      }
      records = std::move(*got);
      read = true;
    }
    if (!read) return RecordChanged(call);

    // Every child's decision is audited, and the page's events share one
    // commit (not one commit per child).
    int next_record = 0;
    std::vector<Prepared> prepared;
    std::vector<av1::AuditEvent> events;
    prepared.reserve(page.children_size());
    events.reserve(page.children_size());
    for (int i = 0; i < page.children_size(); ++i) {
      const kinex::records::v1::ChildFacts& facts = page.children(i).facts();
      kinex::records::v1::GetRecordResponse child_read;
      if (decisions[i].allowed) child_read = std::move(*records.mutable_records(next_record++));
      cv1::ChildRef ref;
      ref.set_kinex_id(page.children(i).kinex_id());
      KINEX_ASSIGN_OR_RETURN(Prepared p,
                             PrepareDisclosure(call, "ListChildren", ref, facts, decisions[i],
                                               std::move(child_read), ask));
      events.push_back(p.event);
      prepared.push_back(std::move(p));
    }
    const absl::Time t0 = absl::Now();
    std::vector<absl::StatusOr<kinex::audit::AppendResult>> appended =
        deps_.audit->AppendAll(events);
    if (deps_.metrics != nullptr && !events.empty()) {
      deps_.metrics->RecordAuditAppend(absl::Now() - t0);
    }
    for (size_t i = 0; i < prepared.size(); ++i) {
      KINEX_ASSIGN_OR_RETURN(Disclosure d,
                             FinishDisclosure(std::move(prepared[i]), std::move(appended[i])));
      if (!d.allowed) continue;  // filtered before paging: never counted, never shown
      ev1::CohortEntry* entry = response.add_children();
      *entry->mutable_record() = std::move(d.record);
      *entry->mutable_receipt() = std::move(d.receipt);
    }
    token = page.next_page_token();
  } while (!token.empty() && response.children_size() < want);
  if (!token.empty()) {
    response.set_next_page_token(paging::PageTokens::Process().Issue(scope, token));
  }
  return response;
}

}  // namespace kinex::gateway
