#include "services/policy/policy_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/identity.h"
#include "services/common/service_acl.h"
#include "services/common/unary_rpc.h"
#include "services/policy/policy_decider.h"

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

PolicyService::PolicyService(std::shared_ptr<const PolicyEngine> engine, Options options)
    : engine_(std::move(engine)), options_(std::move(options)) {}

grpc::Status PolicyService::Decide(grpc::ServerContext* context,
                                   const pv1::DecisionRequest* request, pv1::Decision* response) {
  return ServeUnary(
      *context, Allowed(*context, options_.trust_domain, "Decide"),
      [&] { return engine_->Decide(*request); }, response);
}

grpc::Status PolicyService::BatchDecide(grpc::ServerContext* context,
                                        const pv1::BatchDecideRequest* request,
                                        pv1::BatchDecideResponse* response) {
  return ServeUnary(
      *context, Allowed(*context, options_.trust_domain, "BatchDecide"),
      [&]() -> absl::StatusOr<pv1::BatchDecideResponse> {
        if (request->requests_size() > kMaxBatchDecide) {
          return InvalidFieldError("requests", absl::StrCat("at most ", kMaxBatchDecide, " (got ",
                                                            request->requests_size(), ")"));
        }
        pv1::BatchDecideResponse out;
        for (int i = 0; i < request->requests_size(); ++i) {
          absl::StatusOr<pv1::Decision> d = engine_->Decide(request->requests(i));
          if (!d.ok()) return InElement(absl::StrCat("requests[", i, "]."), d.status());
          *out.add_decisions() = *std::move(d);
        }
        return out;
      },
      response);
}

grpc::Status PolicyService::Explain(grpc::ServerContext* context,
                                    const pv1::ExplainRequest* request,
                                    pv1::Explanation* response) {
  return ServeUnary(
      *context, Allowed(*context, options_.trust_domain, "Explain"),
      [&] { return engine_->Explain(request->request()); }, response);
}

}  // namespace kinex::policy
