// The gateway core: the Exchange API's logic, without gRPC. One request:
//
//   1. validate the request (child reference, purpose, justification)
//   2. resolve the child to its policy facts: Kinex id, derived scope,
//      legal status, identifiers, facts version (records.GetChildFacts; no
//      record content), or those kept from an earlier read of the same
//      identifier (FactsCache: step 5's pin confirms them, and a denial on
//      them is confirmed on fresh facts)
//   3. consents and bases in force for (child, caller, purpose) (consent)
//   4. decide: allowed paths, withheld categories, plan (policy), on the
//      context policy::ChildContextFromFacts derives
//   5. only if allowed: read the allowed sections of the record, pinned to
//      the facts version decided on (records.GetRecord; ABORTED if the facts
//      moved: decide once more, then fail closed), and redact it by the plan
//   6. append the disclosure event; durable before anything leaves (audit)
//   7. reply with the redacted record and a receipt
//
// A denial or a probe moves no record content anywhere. ListChildren reads
// a page's facts in one call (records.ListChildren) and the allowed
// children's records in one more (records.BatchGetRecords).
//
// Fail closed: an error from records, consent, policy or audit discloses
// nothing. Denials are audited too. Unknown children and denied requests get
// the same PERMISSION_DENIED, so probing identifiers learns nothing.
//
// Example:
//   Gateway gateway(options, deps);
//   KINEX_ASSIGN_OR_RETURN(GetChildRecordResponse r,
//                          gateway.GetChildRecord(call, request));
#ifndef KINEX_SERVICES_GATEWAY_GATEWAY_H_
#define KINEX_SERVICES_GATEWAY_GATEWAY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kinex/exchange/v1/exchange.pb.h"
#include "services/audit/audit_sink.h"
#include "services/common/clock.h"
#include "services/common/record_labels.h"
#include "services/consent/consent_registry.h"
#include "services/gateway/call_context.h"
#include "services/gateway/facts_cache.h"
#include "services/gateway/gateway_metrics.h"
#include "services/policy/evaluation.h"
#include "services/policy/policy_decider.h"
#include "services/records/records_store.h"

namespace kinex::gateway {

// Policy's interface (services/policy/policy_decider.h, kinex::policy_api).
using kinex::policy::PolicyDecider;

class Gateway {
 public:
  struct Options {
    // Default 20. Minimum length of a break-glass justification.
    int break_glass_min_justification = 20;
    // Default 50. ListChildren page size when none is given.
    int default_page_size = 50;
    // Default 500. Largest ListChildren page.
    int max_page_size = 500;
    // Default 16384. Children whose facts a GetChildRecord may decide on
    // without reading them first (FactsCache: a guess records confirms
    // under the read's pin). 0: every read asks records for the facts.
    int facts_cache_entries = 16384;
  };
  // The services the gateway calls; not owned, must outlive the gateway.
  struct Dependencies {
    kinex::records::RecordsStore* records = nullptr;
    kinex::consent::ConsentRegistry* consent = nullptr;
    const PolicyDecider* policy = nullptr;
    kinex::audit::AuditSink* audit = nullptr;
    GatewayMetrics* metrics = nullptr;  // optional
    const Clock* clock = nullptr;
  };

  Gateway(Options options, Dependencies deps);

  // What the kept facts have done (all zero when none are kept).
  FactsCache::Stats facts_cache_stats() const {
    return facts_cache_ != nullptr ? facts_cache_->stats() : FactsCache::Stats{};
  }

  // Publishes the caller's part of a child's record (records decides who
  // may write which fields).
  absl::StatusOr<kinex::exchange::v1::PublishRecordResponse> PublishRecord(
      const CallContext& call, const kinex::exchange::v1::PublishRecordRequest& request);

  // The caller's own current part with its etag (records.GetPart).
  absl::StatusOr<kinex::exchange::v1::GetMyPartResponse> GetMyPart(
      const CallContext& call, const kinex::exchange::v1::GetMyPartRequest& request);

  // The links on the calling LA's children (records.ListLinks).
  absl::StatusOr<kinex::exchange::v1::ListLinkClaimsResponse> ListLinkClaims(
      const CallContext& call, const kinex::exchange::v1::ListLinkClaimsRequest& request);

  // The responsible LA confirms or rejects a link (records.DecideLink).
  absl::StatusOr<kinex::exchange::v1::DecideLinkClaimResponse> DecideLinkClaim(
      const CallContext& call, const kinex::exchange::v1::DecideLinkClaimRequest& request);

  // The responsible LA hands the child to another LA.
  absl::StatusOr<kinex::exchange::v1::TransferResponsibilityResponse> TransferResponsibility(
      const CallContext& call, const kinex::exchange::v1::TransferResponsibilityRequest& request);

  // Records the caller's decision not to share (or to share in part, or to
  // defer), or the responsible LA's shield (records.RecordSharingDecision,
  // which audits it).
  absl::StatusOr<kinex::records::v1::SharingDecision> RecordSharingDecision(
      const CallContext& call, const kinex::exchange::v1::RecordSharingDecisionRequest& request);

  // The sharing decisions the caller may see (records.ListSharingDecisions);
  // each listing is audited as AUDIT_QUERIED before the reply.
  absl::StatusOr<kinex::records::v1::ListSharingDecisionsResponse> ListSharingDecisions(
      const CallContext& call, const kinex::exchange::v1::ListSharingDecisionsRequest& request);

  // The responsible LA removes a shield (records.RemoveShield, audited).
  absl::StatusOr<kinex::records::v1::SharingDecision> RemoveShield(
      const CallContext& call, const kinex::exchange::v1::RemoveShieldRequest& request);

  // A school or LA publishes its own calendar (records.PutCalendar, which
  // decides who may publish which calendar, validates it and audits the
  // publish or its refusal).
  absl::StatusOr<kinex::exchange::v1::PublishSchoolCalendarResponse> PublishSchoolCalendar(
      const CallContext& call, const kinex::exchange::v1::PublishSchoolCalendarRequest& request);

  // The caller's own published calendar (records.GetCalendar).
  absl::StatusOr<kinex::exchange::v1::GetSchoolCalendarResponse> GetSchoolCalendar(
      const CallContext& call, const kinex::exchange::v1::GetSchoolCalendarRequest& request);

  // What the caller may see of one child for a purpose, with its receipt.
  absl::StatusOr<kinex::exchange::v1::GetChildRecordResponse> GetChildRecord(
      const CallContext& call, const kinex::exchange::v1::GetChildRecordRequest& request);

  // The caller's cohort for a purpose, one page, each record redacted and
  // audited. Children policy denies are left out before paging, so pages
  // never reveal children outside the caller's scope.
  absl::StatusOr<kinex::exchange::v1::ListChildrenResponse> ListChildren(
      const CallContext& call, const kinex::exchange::v1::ListChildrenRequest& request);

 private:
  struct Disclosure {
    bool allowed = false;
    kinex::record::v1::ChildRecord record;
    kinex::exchange::v1::DisclosureReceipt receipt;
  };
  // A decision on one child's facts.
  struct Decided {
    // Never null.
    std::shared_ptr<const kinex::policy::Evaluation> evaluation;
    // A known child and an allowing decision.
    bool allowed = false;
  };
  // What a read asks for, beyond the child: the request's own terms.
  struct Ask {
    kinex::common::v1::Purpose purpose = kinex::common::v1::PURPOSE_UNSPECIFIED;
    std::string justification;
    bool break_glass = false;
    // The requester's stated statutory function (may be empty).
    std::string stated_function;
  };
  // Steps 3-4: bases on file and the policy decision, on the child's facts
  // alone (empty facts: an unknown child, never allowed).
  absl::StatusOr<Decided> Decide(const CallContext& call,
                                 const kinex::records::v1::ChildFacts& facts, const Ask& ask) const;
  // Decide for each child of a page, in order: the known children's bases
  // in one consent lookup, then every decision in one policy call.
  absl::StatusOr<std::vector<Decided>> DecideAll(
      const CallContext& call, absl::Span<const kinex::records::v1::ChildFacts* const> facts,
      const Ask& ask) const;
  // The read an allowing decision permits: the allowed sections only,
  // pinned to the facts version decided on, of the child as `asked_as`
  // names it (records resolves the identifier again in the read's own
  // snapshot).
  static kinex::records::v1::GetRecordRequest ReadAllowed(
      const kinex::common::v1::ChildRef& asked_as, const kinex::records::v1::ChildFacts& facts,
      const Decided& decided);
  // Step 2: the child's facts from records (empty facts for a child records
  // does not know), kept in facts_cache_ when found.
  absl::StatusOr<std::shared_ptr<const kinex::records::v1::ChildFacts>> ReadFacts(
      const kinex::common::v1::ChildRef& child);
  // A disclosure redacted, with its audit event, not yet logged.
  struct Prepared {
    Disclosure out;
    kinex::audit::v1::AuditEvent event;
    std::vector<std::string> disclosed;
    // The parts something disclosed came from.
    std::vector<kinex::records::v1::PartVersion> sources;
    // The decision (never null).
    std::shared_ptr<const kinex::policy::Evaluation> evaluation;
    bool known_child = false;
    bool break_glass = false;
    kinex::common::v1::AgencyKind agency_kind = kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
  };
  // Step 5: redact `record` (read only when allowed; empty otherwise) and
  // build the decision's audit event.
  absl::StatusOr<Prepared> PrepareDisclosure(const CallContext& call, absl::string_view method,
                                             const kinex::common::v1::ChildRef& asked_as,
                                             const kinex::records::v1::ChildFacts& facts,
                                             const Decided& decided,
                                             kinex::records::v1::GetRecordResponse read,
                                             const Ask& ask);
  // Step 6: once its event is durable (`appended`), the disclosure with
  // its receipt; nothing is disclosed when the append failed.
  absl::StatusOr<Disclosure> FinishDisclosure(Prepared prepared,
                                              absl::StatusOr<kinex::audit::AppendResult> appended);
  // Steps 5-6 for one child.
  absl::StatusOr<Disclosure> Disclose(const CallContext& call, absl::string_view method,
                                      const kinex::common::v1::ChildRef& asked_as,
                                      const kinex::records::v1::ChildFacts& facts,
                                      const Decided& decided,
                                      kinex::records::v1::GetRecordResponse read, const Ask& ask);

  // Whether, under the policy in force, the responsible LA's virtual
  // school head may see `child` for education support: the cohort its VSH
  // alerts go to. False for a child records does not know.
  absl::StatusOr<bool> InVirtualSchoolCohort(const kinex::common::v1::ChildRef& child) const;

  const Options options_;
  const Dependencies deps_;
  // Null when options_.facts_cache_entries is 0.
  const std::unique_ptr<FactsCache> facts_cache_;
};

// The role a virtual school head's system asserts (policy/roles.textproto):
// the principal the gateway decides VSH cohorts for.
inline constexpr absl::string_view kVirtualSchoolHeadRole = "virtual-school-head";

// Checks a purpose value: a known, specified Purpose. INVALID_ARGUMENT
// naming the field and value.
absl::Status ValidatePurpose(int purpose, absl::string_view field);

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_GATEWAY_H_
