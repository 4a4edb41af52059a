#include "services/common/service_acl.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex {
namespace {

using kinex::audit::v1::EventKind;

// Who calls what, from the code (not from intent):
//   gateway  -> records (every read and PutPart; GetChildFacts before every
//               decision and for the consent front), consent (every
//               method; LookupBases for one decision, BatchLookupBases for
//               a ListChildren page's), policy (Decide, and BatchDecide for
//               a page, via RemotePolicyDecider), audit
//               (Append and AppendBatch of disclosures; reads on behalf of
//               auditors via AuditFront)
//   consent  -> records.GetChildFacts (the child's facts before recording
//               and listing), and audit.Append of its own writes
//   records  -> audit.Append and AppendBatch of its own writes (the outbox
//               drained in one batch)
//   policy, audit -> nothing
// Records.ResolveChild is superseded by GetChildFacts and has no caller in
// the code any more; its row stays for compatibility until it is removed.
// Policy.Explain has no remote caller (kinexctl explains locally); it stays
// open to the gateway, the one service that decides for agencies.
const std::vector<ServiceAclRow>& Table() {
  static const auto* const kTable = new std::vector<ServiceAclRow>{
      {"kinex.records.v1.Records/PutPart", {"gateway"}},
      {"kinex.records.v1.Records/GetRecord", {"gateway"}},
      {"kinex.records.v1.Records/GetChildFacts", {"gateway", "consent"}},
      {"kinex.records.v1.Records/BatchGetRecords", {"gateway"}},
      {"kinex.records.v1.Records/ResolveChild", {"gateway", "consent"}},
      {"kinex.records.v1.Records/ListChildren", {"gateway"}},
      {"kinex.records.v1.Records/ListPartVersions", {"gateway"}},
      {"kinex.records.v1.Records/GetPart", {"gateway"}},
      {"kinex.records.v1.Records/ListLinks", {"gateway"}},
      {"kinex.records.v1.Records/DecideLink", {"gateway"}},
      {"kinex.records.v1.Records/TransferResponsibility", {"gateway"}},
      {"kinex.records.v1.Records/RecordSharingDecision", {"gateway"}},
      {"kinex.records.v1.Records/ListSharingDecisions", {"gateway"}},
      {"kinex.records.v1.Records/RemoveShield", {"gateway"}},
      {"kinex.records.v1.Records/PutCalendar", {"gateway"}},
      {"kinex.records.v1.Records/GetCalendar", {"gateway"}},
      {"kinex.consent.v1.Consent/RecordConsent", {"gateway"}},
      {"kinex.consent.v1.Consent/WithdrawConsent", {"gateway"}},
      {"kinex.consent.v1.Consent/ListConsents", {"gateway"}},
      {"kinex.consent.v1.Consent/CreateSharingAgreement", {"gateway"}},
      {"kinex.consent.v1.Consent/ListSharingAgreements", {"gateway"}},
      {"kinex.consent.v1.Consent/LookupBases", {"gateway"}},
      {"kinex.consent.v1.Consent/BatchLookupBases", {"gateway"}},
      {"kinex.policy.v1.Policy/Decide", {"gateway"}},
      {"kinex.policy.v1.Policy/BatchDecide", {"gateway"}},
      {"kinex.policy.v1.Policy/Explain", {"gateway"}},
      {"kinex.audit.v1.Audit/Append", {"gateway", "records", "consent"}},
      {"kinex.audit.v1.Audit/AppendBatch", {"gateway", "records"}},
      {"kinex.audit.v1.Audit/QueryEvents", {"gateway"}},
      {"kinex.audit.v1.Audit/GetSignedTreeHead", {"gateway"}},
      {"kinex.audit.v1.Audit/GetInclusionProof", {"gateway"}},
      {"kinex.audit.v1.Audit/GetConsistencyProof", {"gateway"}},
      {"kinex.audit.v1.Audit/GetEntries", {"gateway"}},
      {"kinex.audit.v1.Audit/GetSigningKey", {"gateway"}},
      {"kinex.audit.v1.Audit/ReadNotifications", {"gateway"}},
  };
  return *kTable;
}

struct AppendKinds {
  absl::string_view service;
  std::vector<EventKind> kinds;
};

// The event kinds each service produces. The gateway's disclosures predate
// event kinds and may still arrive as EVENT_KIND_UNSPECIFIED, which the log
// reads as a disclosure.
const std::vector<AppendKinds>& KindTable() {
  static const auto* const kKinds = new std::vector<AppendKinds>{
      {"gateway",
       {kinex::audit::v1::EVENT_KIND_UNSPECIFIED, kinex::audit::v1::DISCLOSURE,
        kinex::audit::v1::AUDIT_QUERIED, kinex::audit::v1::NOTIFICATION_DELIVERED,
        kinex::audit::v1::NOTIFICATION_ACKNOWLEDGED, kinex::audit::v1::BREAK_GLASS_REVIEWED}},
      {"records",
       {kinex::audit::v1::PART_PUBLISHED, kinex::audit::v1::WRITE_REFUSED,
        kinex::audit::v1::RESPONSIBILITY_TRANSFERRED, kinex::audit::v1::LINK_CLAIMED,
        kinex::audit::v1::LINK_CONFIRMED, kinex::audit::v1::LINK_REJECTED,
        kinex::audit::v1::SHARING_DECISION_RECORDED, kinex::audit::v1::SHIELD_SET,
        kinex::audit::v1::SHIELD_REMOVED, kinex::audit::v1::CALENDAR_PUBLISHED,
        kinex::audit::v1::PEP_REVIEW_OVERDUE}},
      {"consent",
       {kinex::audit::v1::CONSENT_RECORDED, kinex::audit::v1::CONSENT_WITHDRAWN,
        kinex::audit::v1::SHARING_AGREEMENT_CREATED, kinex::audit::v1::WRITE_REFUSED}},
  };
  return *kKinds;
}

// "records" from "kinex.records.v1.Records/GetRecord".
absl::string_view ServiceOf(absl::string_view method) {
  absl::string_view s = method.substr(0, method.find('/'));
  if (absl::StartsWith(s, "kinex.")) s.remove_prefix(6);
  return s.substr(0, s.find('.'));
}

std::string KindName(EventKind kind) {
  return kinex::audit::v1::EventKind_IsValid(kind) ? kinex::audit::v1::EventKind_Name(kind)
                                                   : absl::StrCat("event kind ", kind);
}

}  // namespace

absl::Span<const ServiceAclRow> ServiceAcl() { return Table(); }

absl::Span<const EventKind> AppendableEventKinds(absl::string_view service) {
  for (const AppendKinds& row : KindTable()) {
    if (row.service == service) return row.kinds;
  }
  return {};
}

absl::Status CheckServiceAcl(const SpiffeId& caller, absl::string_view method) {
  const auto& table = Table();
  auto row = std::find_if(table.begin(), table.end(),
                          [&](const ServiceAclRow& r) { return r.method == method; });
  if (row == table.end()) {
    return WithErrorReason(absl::PermissionDeniedError(absl::StrCat(
                               method, " is not in the service ACL; no caller may use it")),
                           reason::kServiceNotAllowed, {{"method", std::string(method)}});
  }
  if (!caller.is_service) {
    return WithErrorReason(
        absl::PermissionDeniedError(absl::StrCat(method, ": the ", ServiceOf(method),
                                                 " service accepts Kinex services only "
                                                 "(agencies use the gateway)")),
        reason::kServiceNotAllowed, {{"method", std::string(method)}});
  }
  if (std::find(row->callers.begin(), row->callers.end(), caller.service_name) ==
      row->callers.end()) {
    return WithErrorReason(
        absl::PermissionDeniedError(absl::StrCat(
            "service \"", caller.service_name, "\" may not call ", method,
            " (allowed: ", row->callers.empty() ? "none" : absl::StrJoin(row->callers, ", "), ")")),
        reason::kServiceNotAllowed, {{"method", std::string(method)}});
  }
  return absl::OkStatus();
}

absl::StatusOr<SpiffeId> AuthorizeServiceCall(const grpc::ServerContext& ctx,
                                              absl::string_view trust_domain,
                                              absl::string_view method) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId caller, AuthenticatePeer(ctx, trust_domain));
  KINEX_RETURN_IF_ERROR(CheckServiceAcl(caller, method));
  return caller;
}

absl::Status CheckAuditAppendKind(const SpiffeId& caller, EventKind kind) {
  absl::Span<const EventKind> allowed = AppendableEventKinds(caller.service_name);
  if (caller.is_service && std::find(allowed.begin(), allowed.end(), kind) != allowed.end()) {
    return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (EventKind k : allowed) {
    if (k != kinex::audit::v1::EVENT_KIND_UNSPECIFIED) names.push_back(KindName(k));
  }
  return WithErrorReason(
      absl::PermissionDeniedError(
          absl::StrCat("service \"", caller.service_name, "\" may not append ", KindName(kind),
                       " events to the audit log (", caller.service_name,
                       " appends: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")")),
      reason::kServiceNotAllowed, {{"method", "kinex.audit.v1.Audit/Append"}});
}

absl::Status CheckAuditNotify(const SpiffeId& caller, const kinex::audit::v1::AuditEvent& event) {
  namespace nv1 = ::kinex::notifications::v1;
  // Who may raise which notification: the gateway on disclosures, records
  // on publishes and on its overdue-PEP sweep (docs/notifications.md); the
  // audit service's escalations are its own, in process.
  for (const auto& intent : event.notify()) {
    const nv1::NotificationKind kind = intent.notification().kind();
    const bool allowed =
        caller.is_service &&
        ((caller.service_name == "gateway" && event.kind() == kinex::audit::v1::DISCLOSURE &&
          (kind == nv1::ACCESS || kind == nv1::BREAK_GLASS_REVIEW)) ||
         (caller.service_name == "records" &&
          (event.kind() == kinex::audit::v1::PART_PUBLISHED ||
           event.kind() == kinex::audit::v1::LINK_CLAIMED) &&
          (kind == nv1::ENCOMPASS || kind == nv1::VSH_ALERT)) ||
         (caller.service_name == "records" &&
          event.kind() == kinex::audit::v1::PEP_REVIEW_OVERDUE && kind == nv1::VSH_ALERT));
    if (!allowed) {
      return WithErrorReason(
          absl::PermissionDeniedError(absl::StrCat(
              "service \"", caller.service_name, "\" may not raise ",
              nv1::NotificationKind_IsValid(kind) ? nv1::NotificationKind_Name(kind)
                                                  : absl::StrCat("kind ", kind),
              " notifications on ", KindName(event.kind()), " events")),
          reason::kServiceNotAllowed, {{"method", "kinex.audit.v1.Audit/Append"}});
    }
  }
  return absl::OkStatus();
}

absl::Status AuthorizeAuditAppend(const grpc::ServerContext& ctx, absl::string_view trust_domain,
                                  const kinex::audit::v1::AuditEvent& event) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId caller,
                         AuthorizeServiceCall(ctx, trust_domain, "kinex.audit.v1.Audit/Append"));
  KINEX_RETURN_IF_ERROR(CheckAuditAppendKind(caller, event.kind()));
  return CheckAuditNotify(caller, event);
}

absl::Status AuthorizeAuditAppendBatch(
    const grpc::ServerContext& ctx, absl::string_view trust_domain,
    const google::protobuf::RepeatedPtrField<kinex::audit::v1::AuditEvent>& events) {
  KINEX_ASSIGN_OR_RETURN(
      SpiffeId caller, AuthorizeServiceCall(ctx, trust_domain, "kinex.audit.v1.Audit/AppendBatch"));
  for (int i = 0; i < events.size(); ++i) {
    absl::Status allowed = CheckAuditAppendKind(caller, events[i].kind());
    if (allowed.ok()) allowed = CheckAuditNotify(caller, events[i]);
    if (!allowed.ok()) {
      return CopyErrorReason(
          allowed,
          absl::Status(allowed.code(), absl::StrCat("events[", i, "]: ", allowed.message())));
    }
  }
  return absl::OkStatus();
}

}  // namespace kinex
