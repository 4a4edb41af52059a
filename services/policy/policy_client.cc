#include "services/policy/policy_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/status_macros.h"
#include "services/common/unary_rpc.h"
#include "services/policy/redactor.h"

namespace kinex::policy {

namespace pv1 = ::kinex::policy::v1;

RemotePolicyDecider::RemotePolicyDecider(std::shared_ptr<grpc::Channel> channel,
                                         absl::Duration timeout)
    : stub_(kinex::policy::v1::Policy::NewStub(std::move(channel))),
      schema_(Schema::ChildRecordSchema()),
      timeout_(timeout) {}

absl::StatusOr<std::shared_ptr<const Evaluation>> RemotePolicyDecider::Compiled(
    pv1::Decision decision) const {
  auto evaluation = std::make_shared<Evaluation>();
  evaluation->decision = std::move(decision);
  KINEX_ASSIGN_OR_RETURN(evaluation->plan,
                         RedactionPlan::FromDecision(schema_, evaluation->decision));
  return std::shared_ptr<const Evaluation>(std::move(evaluation));
}

absl::StatusOr<std::shared_ptr<const Evaluation>> RemotePolicyDecider::Evaluate(
    const pv1::DecisionRequest& request) const {
  KINEX_ASSIGN_OR_RETURN(pv1::Decision decision,
                         CallUnary(*stub_, &pv1::Policy::Stub::Decide, request, timeout_));
  return Compiled(std::move(decision));
}

absl::StatusOr<std::vector<std::shared_ptr<const Evaluation>>> RemotePolicyDecider::EvaluateAll(
    absl::Span<const pv1::DecisionRequest> requests) const {
  if (requests.size() == 1) return PolicyDecider::EvaluateAll(requests);
  std::vector<std::shared_ptr<const Evaluation>> out;
  out.reserve(requests.size());
  for (size_t first = 0; first < requests.size(); first += kMaxBatchDecide) {
    const absl::Span<const pv1::DecisionRequest> chunk = requests.subspan(first, kMaxBatchDecide);
    pv1::BatchDecideRequest batch;
    batch.mutable_requests()->Add(chunk.begin(), chunk.end());
    absl::StatusOr<pv1::BatchDecideResponse> decided =
        CallUnary(*stub_, &pv1::Policy::Stub::BatchDecide, batch, timeout_);
    if (decided.status().code() == absl::StatusCode::kUnimplemented) {
      // A policy service from before BatchDecide: one Decide each.
      KINEX_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<const Evaluation>> each,
                             PolicyDecider::EvaluateAll(chunk));
      for (auto& e : each) out.push_back(std::move(e));
      continue;
    }
    if (!decided.ok()) return decided.status();
    if (decided->decisions_size() != batch.requests_size()) {
      return absl::InternalError(absl::StrCat("policy BatchDecide answered ",
                                              decided->decisions_size(), " decisions for ",
                                              batch.requests_size(), " requests"));
    }
    for (pv1::Decision& decision : *decided->mutable_decisions()) {
      KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const Evaluation> e, Compiled(std::move(decision)));
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace kinex::policy
