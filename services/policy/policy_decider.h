// What a caller of the policy service programs against: decisions with
// their compiled redaction plans. Header of kinex::policy_api (no engine,
// no gRPC). Implementations: LocalPolicyDecider (the engine in this
// process, --target=all; local_policy_decider.h) and RemotePolicyDecider
// (the policy service over mTLS; policy_client.h). The gateway cannot tell
// them apart and fails closed on any error from either.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const Evaluation> e,
//                          decider.Evaluate(request));
//   if (e->decision.allowed()) Redactor().Apply(*e->plan, &record);
#ifndef KINEX_SERVICES_POLICY_POLICY_DECIDER_H_
#define KINEX_SERVICES_POLICY_POLICY_DECIDER_H_

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/common/identity.h"
#include "services/policy/evaluation.h"

namespace kinex::policy {

// Policy decisions with their compiled redaction plans. Thread-safe.
class PolicyDecider {
 public:
  virtual ~PolicyDecider() = default;
  // The decision and the plan that enforces it. Any error means: disclose
  // nothing.
  virtual absl::StatusOr<std::shared_ptr<const Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest& request) const = 0;

  // Evaluate for each request, in order (a ListChildren page's children):
  // all of them, or the first error. RemotePolicyDecider makes it one
  // BatchDecide call; this default evaluates one by one.
  virtual absl::StatusOr<std::vector<std::shared_ptr<const Evaluation>>> EvaluateAll(
      absl::Span<const kinex::policy::v1::DecisionRequest> requests) const {
    std::vector<std::shared_ptr<const Evaluation>> out;
    out.reserve(requests.size());
    for (const kinex::policy::v1::DecisionRequest& request : requests) {
      absl::StatusOr<std::shared_ptr<const Evaluation>> e = Evaluate(request);
      if (!e.ok()) return e.status();
      out.push_back(*std::move(e));
    }
    return out;
  }
};

// Requests one BatchDecide call takes at most.
inline constexpr int kMaxBatchDecide = 500;

// The policy view of a Kinex agency identity.
inline kinex::policy::v1::Principal ToPolicyPrincipal(const SpiffeId& id) {
  kinex::policy::v1::Principal p;
  p.set_spiffe_id(id.uri);
  p.set_agency_kind(id.agency_kind);
  p.set_agency_code(id.agency_code);
  p.set_role(id.role);
  return p;
}

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_DECIDER_H_
