#include "services/policy/policy_service.h"

#include <algorithm>
#include <utility>

#include "services/common/grpc_status.h"
#include "services/common/identity.h"

namespace kinex::policy {

namespace pv1 = ::kinex::policy::v1;

PolicyService::PolicyService(std::shared_ptr<const PolicyEngine> engine,
                             Options options)
    : engine_(std::move(engine)), options_(std::move(options)) {}

absl::Status PolicyService::Authorize(const grpc::ServerContext& context) const {
  if (options_.trust_domain.empty()) return absl::OkStatus();
  absl::StatusOr<kinex::SpiffeId> caller =
      kinex::AuthenticatePeer(context, options_.trust_domain);
  if (!caller.ok()) return caller.status();
  if (!caller->is_service ||
      std::find(options_.allowed_services.begin(),
                options_.allowed_services.end(),
                caller->service_name) == options_.allowed_services.end()) {
    return absl::PermissionDeniedError(
        "the Policy service is for Kinex services only");
  }
  return absl::OkStatus();
}

grpc::Status PolicyService::Decide(grpc::ServerContext* context,
                                   const pv1::DecisionRequest* request,
                                   pv1::Decision* response) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<pv1::Decision> decision = engine_->Decide(*request);
  if (!decision.ok()) return ToGrpcStatus(decision.status());
  *response = std::move(*decision);
  return grpc::Status::OK;
}

grpc::Status PolicyService::Explain(grpc::ServerContext* context,
                                    const pv1::ExplainRequest* request,
                                    pv1::Explanation* response) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<pv1::Explanation> explanation =
      engine_->Explain(request->request());
  if (!explanation.ok()) return ToGrpcStatus(explanation.status());
  *response = std::move(*explanation);
  return grpc::Status::OK;
}

}  // namespace kinex::policy
