#include "services/policy/policy_service.h"

#include <algorithm>
#include <utility>

#include "services/common/grpc_status.h"
#include "absl/strings/str_cat.h"
#include "services/common/identity.h"
#include "services/common/service_acl.h"

namespace kinex::policy {

namespace pv1 = ::kinex::policy::v1;

namespace {

// The service ACL's verdict on a call of `method` (services/common/
// service_acl.h). An empty trust domain (in-process tests) checks nothing.
absl::Status Allowed(const grpc::ServerContext& ctx, const std::string& trust_domain,
                     absl::string_view method) {
  if (trust_domain.empty()) return absl::OkStatus();
  return kinex::AuthorizeServiceCall(ctx, trust_domain,
                                     absl::StrCat("kinex.policy.v1.Policy/", method))
      .status();
}

}  // namespace

PolicyService::PolicyService(std::shared_ptr<const PolicyEngine> engine,
                             Options options)
    : engine_(std::move(engine)), options_(std::move(options)) {}

grpc::Status PolicyService::Decide(grpc::ServerContext* context,
                                   const pv1::DecisionRequest* request,
                                   pv1::Decision* response) {
  if (absl::Status s = Allowed(*context, options_.trust_domain, "Decide"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<pv1::Decision> decision = engine_->Decide(*request);
  if (!decision.ok()) return ToGrpcStatus(decision.status());
  *response = std::move(*decision);
  return grpc::Status::OK;
}

grpc::Status PolicyService::Explain(grpc::ServerContext* context,
                                    const pv1::ExplainRequest* request,
                                    pv1::Explanation* response) {
  if (absl::Status s = Allowed(*context, options_.trust_domain, "Explain"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<pv1::Explanation> explanation =
      engine_->Explain(request->request());
  if (!explanation.ok()) return ToGrpcStatus(explanation.status());
  *response = std::move(*explanation);
  return grpc::Status::OK;
}

}  // namespace kinex::policy
