#include "services/policy/policy_client.h"

#include <utility>

#include "services/common/status_macros.h"
#include "services/common/unary_rpc.h"
#include "services/policy/redactor.h"

namespace kinex::policy {

RemotePolicyDecider::RemotePolicyDecider(std::shared_ptr<grpc::Channel> channel,
                                         absl::Duration timeout)
    : stub_(kinex::policy::v1::Policy::NewStub(std::move(channel))),
      schema_(Schema::ChildRecordSchema()),
      timeout_(timeout) {}

absl::StatusOr<std::shared_ptr<const Evaluation>> RemotePolicyDecider::Evaluate(
    const kinex::policy::v1::DecisionRequest& request) const {
  auto evaluation = std::make_shared<Evaluation>();
  KINEX_ASSIGN_OR_RETURN(
      evaluation->decision,
      CallUnary(*stub_, &kinex::policy::v1::Policy::Stub::Decide, request, timeout_));
  KINEX_ASSIGN_OR_RETURN(evaluation->plan,
                         RedactionPlan::FromDecision(schema_, evaluation->decision));
  return std::shared_ptr<const Evaluation>(std::move(evaluation));
}

}  // namespace kinex::policy
