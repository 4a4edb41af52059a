// The service ACL (services/common/service_acl.h): which Kinex service may
// call which internal method, and append which audit event kinds. Exact
// codes and messages; every (method, service) pair of the table is checked.
#include "services/common/service_acl.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/error_reason.h"

namespace kinex {
namespace {

using kinex::audit::v1::EventKind;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr char kAppend[] = "kinex.audit.v1.Audit/Append";

// A refusal as the service ACL makes it: PERMISSION_DENIED with the reason
// SERVICE_NOT_ALLOWED naming the method (compared whole, details included).
absl::Status Refused(const std::string& message, absl::string_view method) {
  return WithErrorReason(absl::PermissionDeniedError(message), reason::kServiceNotAllowed,
                         {{"method", std::string(method)}});
}

constexpr const char* kServices[] = {"gateway", "policy", "consent", "audit", "records"};

SpiffeId Service(absl::string_view name) {
  SpiffeId id;
  id.uri = absl::StrCat("spiffe://kinex.dev/service/", name);
  id.is_service = true;
  id.service_name = std::string(name);
  return id;
}

SpiffeId Auditor() {
  SpiffeId id;
  id.uri = "spiffe://kinex.dev/auditor/kinex-dpo/auditor";
  id.agency_kind = kinex::common::v1::AUDITOR;
  id.agency_code = "kinex-dpo";
  id.role = "auditor";
  return id;
}

std::vector<std::string> Callers(absl::string_view method) {
  for (const ServiceAclRow& row : ServiceAcl()) {
    if (row.method == method) return {row.callers.begin(), row.callers.end()};
  }
  return {"<no row>"};
}

TEST(ServiceAcl, TableMatchesWhatEachServiceCalls) {
  EXPECT_THAT(Callers("kinex.records.v1.Records/GetRecord"), ElementsAre("gateway"));
  EXPECT_THAT(Callers("kinex.records.v1.Records/ListChildren"), ElementsAre("gateway"));
  EXPECT_THAT(Callers("kinex.records.v1.Records/ListPartVersions"), ElementsAre("gateway"));
  EXPECT_THAT(Callers("kinex.records.v1.Records/PutPart"), ElementsAre("gateway"));
  EXPECT_THAT(Callers("kinex.records.v1.Records/ResolveChild"),
              UnorderedElementsAre("gateway", "consent"));
  EXPECT_THAT(Callers("kinex.records.v1.Records/GetChildFacts"),
              UnorderedElementsAre("gateway", "consent"));
  EXPECT_THAT(Callers("kinex.records.v1.Records/BatchGetRecords"), ElementsAre("gateway"));
  for (const char* m : {"RecordSharingDecision", "ListSharingDecisions", "RemoveShield"}) {
    EXPECT_THAT(Callers(absl::StrCat("kinex.records.v1.Records/", m)), ElementsAre("gateway")) << m;
  }
  EXPECT_THAT(Callers("kinex.audit.v1.Audit/Append"),
              UnorderedElementsAre("gateway", "records", "consent"));
  EXPECT_THAT(Callers("kinex.audit.v1.Audit/AppendBatch"),
              UnorderedElementsAre("gateway", "records"));
  for (const char* read : {"QueryEvents", "GetSignedTreeHead", "GetInclusionProof",
                           "GetConsistencyProof", "GetEntries", "GetSigningKey"}) {
    EXPECT_THAT(Callers(absl::StrCat("kinex.audit.v1.Audit/", read)), ElementsAre("gateway"))
        << read;
  }
  EXPECT_THAT(Callers("kinex.policy.v1.Policy/Decide"), ElementsAre("gateway"));
  EXPECT_THAT(Callers("kinex.policy.v1.Policy/BatchDecide"), ElementsAre("gateway"));
  EXPECT_THAT(Callers("kinex.policy.v1.Policy/Explain"), ElementsAre("gateway"));
  for (const char* m :
       {"RecordConsent", "WithdrawConsent", "ListConsents", "CreateSharingAgreement",
        "ListSharingAgreements", "LookupBases", "BatchLookupBases"}) {
    EXPECT_THAT(Callers(absl::StrCat("kinex.consent.v1.Consent/", m)), ElementsAre("gateway")) << m;
  }
}

TEST(ServiceAcl, EveryOtherServiceIdentityIsRefusedNamingServiceAndMethod) {
  int refused = 0;
  for (const ServiceAclRow& row : ServiceAcl()) {
    for (const char* svc : kServices) {
      const absl::Status s = CheckServiceAcl(Service(svc), row.method);
      if (std::find(row.callers.begin(), row.callers.end(), svc) != row.callers.end()) {
        EXPECT_TRUE(s.ok()) << svc << " " << row.method << ": " << s;
        continue;
      }
      ++refused;
      EXPECT_EQ(s, Refused(absl::StrCat("service \"", svc, "\" may not call ", row.method,
                                        " (allowed: ", absl::StrJoin(row.callers, ", "), ")"),
                           row.method));
    }
  }
  // 35 methods x 5 services, less the 40 allowed pairs.
  EXPECT_EQ(refused, 35 * 5 - 40);
}

TEST(ServiceAcl, AgenciesAreRefusedEvenAuditors) {
  EXPECT_EQ(CheckServiceAcl(Auditor(), "kinex.audit.v1.Audit/QueryEvents"),
            Refused("kinex.audit.v1.Audit/QueryEvents: the audit service accepts Kinex "
                    "services only (agencies use the gateway)",
                    "kinex.audit.v1.Audit/QueryEvents"));
  EXPECT_EQ(CheckServiceAcl(Auditor(), "kinex.records.v1.Records/GetRecord"),
            Refused("kinex.records.v1.Records/GetRecord: the records service accepts Kinex "
                    "services only (agencies use the gateway)",
                    "kinex.records.v1.Records/GetRecord"));
}

TEST(ServiceAcl, MethodsWithoutARowAreRefusedToEveryone) {
  for (const char* svc : kServices) {
    EXPECT_EQ(CheckServiceAcl(Service(svc), "kinex.records.v1.Records/DropAll"),
              Refused("kinex.records.v1.Records/DropAll is not in the service ACL; no caller "
                      "may use it",
                      "kinex.records.v1.Records/DropAll"));
  }
}

TEST(ServiceAcl, EachServiceAppendsOnlyTheEventKindsItProduces) {
  const std::vector<std::pair<std::string, std::vector<EventKind>>> produces = {
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
      {"policy", {}},
      {"audit", {}},
  };
  for (const auto& [svc, kinds] : produces) {
    for (int k = kinex::audit::v1::EventKind_MIN; k <= kinex::audit::v1::EventKind_MAX; ++k) {
      const auto kind = static_cast<EventKind>(k);
      const absl::Status s = CheckAuditAppendKind(Service(svc), kind);
      if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end()) {
        EXPECT_TRUE(s.ok()) << svc << " " << k;
      } else {
        EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << svc << " " << k;
      }
    }
  }
  EXPECT_EQ(CheckAuditAppendKind(Service("records"), kinex::audit::v1::DISCLOSURE),
            Refused("service \"records\" may not append DISCLOSURE events to the audit log "
                    "(records appends: PART_PUBLISHED, WRITE_REFUSED, RESPONSIBILITY_TRANSFERRED, "
                    "LINK_CLAIMED, LINK_CONFIRMED, LINK_REJECTED, SHARING_DECISION_RECORDED, "
                    "SHIELD_SET, SHIELD_REMOVED, CALENDAR_PUBLISHED, PEP_REVIEW_OVERDUE)",
                    kAppend));
  EXPECT_EQ(CheckAuditAppendKind(Service("gateway"), kinex::audit::v1::CONSENT_RECORDED),
            Refused("service \"gateway\" may not append CONSENT_RECORDED events to the audit log "
                    "(gateway appends: DISCLOSURE, AUDIT_QUERIED, NOTIFICATION_DELIVERED, "
                    "NOTIFICATION_ACKNOWLEDGED, BREAK_GLASS_REVIEWED)",
                    kAppend));
  // Nobody appends an escalation over gRPC: the audit service makes them.
  for (const char* svc : kServices) {
    EXPECT_EQ(CheckAuditAppendKind(Service(svc), kinex::audit::v1::NOTIFICATION_ESCALATED).code(),
              absl::StatusCode::kPermissionDenied)
        << svc;
  }
  EXPECT_EQ(CheckAuditAppendKind(Service("policy"), kinex::audit::v1::DISCLOSURE),
            Refused("service \"policy\" may not append DISCLOSURE events to the audit log "
                    "(policy appends: none)",
                    kAppend));
}

// Who may raise which notification: the gateway on disclosures (ACCESS,
// BREAK_GLASS_REVIEW), records on publishes (ENCOMPASS, VSH_ALERT); no one
// else, and never another kind on another event.
TEST(ServiceAcl, EachServiceRaisesOnlyItsOwnNotifications) {
  namespace nv1 = kinex::notifications::v1;
  auto event = [](EventKind kind, nv1::NotificationKind notification) {
    kinex::audit::v1::AuditEvent e;
    e.set_kind(kind);
    e.add_notify()->mutable_notification()->set_kind(notification);
    return e;
  };
  EXPECT_TRUE(
      CheckAuditNotify(Service("gateway"), event(kinex::audit::v1::DISCLOSURE, nv1::ACCESS)).ok());
  EXPECT_TRUE(CheckAuditNotify(Service("gateway"),
                               event(kinex::audit::v1::DISCLOSURE, nv1::BREAK_GLASS_REVIEW))
                  .ok());
  EXPECT_TRUE(CheckAuditNotify(Service("records"),
                               event(kinex::audit::v1::PART_PUBLISHED, nv1::ENCOMPASS))
                  .ok());
  EXPECT_TRUE(
      CheckAuditNotify(Service("records"), event(kinex::audit::v1::LINK_CLAIMED, nv1::VSH_ALERT))
          .ok());
  // The overdue-PEP sweep raises a VSH alert, and nothing else.
  EXPECT_TRUE(CheckAuditNotify(Service("records"),
                               event(kinex::audit::v1::PEP_REVIEW_OVERDUE, nv1::VSH_ALERT))
                  .ok());
  EXPECT_EQ(CheckAuditNotify(Service("records"),
                             event(kinex::audit::v1::PEP_REVIEW_OVERDUE, nv1::ENCOMPASS)),
            Refused("service \"records\" may not raise ENCOMPASS notifications on "
                    "PEP_REVIEW_OVERDUE events",
                    kAppend));
  EXPECT_EQ(CheckAuditNotify(Service("records"),
                             event(kinex::audit::v1::CALENDAR_PUBLISHED, nv1::VSH_ALERT))
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAuditNotify(Service("gateway"),
                             event(kinex::audit::v1::DISCLOSURE, nv1::ENCOMPASS)),
            Refused("service \"gateway\" may not raise ENCOMPASS notifications on DISCLOSURE "
                    "events",
                    kAppend));
  EXPECT_EQ(CheckAuditNotify(Service("records"),
                             event(kinex::audit::v1::WRITE_REFUSED, nv1::ENCOMPASS)),
            Refused("service \"records\" may not raise ENCOMPASS notifications on WRITE_REFUSED "
                    "events",
                    kAppend));
  EXPECT_EQ(CheckAuditNotify(Service("consent"),
                             event(kinex::audit::v1::CONSENT_RECORDED, nv1::ACCESS))
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAuditNotify(Service("gateway"),
                             event(kinex::audit::v1::DISCLOSURE, nv1::ENCOMPASS_ESCALATION))
                .code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace kinex
