#include "services/policy/policy_target.h"

#include <utility>

#include "services/common/status_macros.h"
#include "services/policy/policy_service.h"

namespace kinex::policy {

absl::StatusOr<PolicyTarget> MakePolicyTarget(const kinex::config::v1::KinexConfig& config,
                                              const kinex::Clock& clock) {
  PolicyEngine::Options options;
  options.policy_dir =
      config.policy().policy_dir().empty() ? "policy" : config.policy().policy_dir();
  KINEX_ASSIGN_OR_RETURN(std::unique_ptr<PolicyEngine> engine,
                         PolicyEngine::Create(std::move(options)));
  PolicyTarget target;
  target.engine = std::move(engine);
  PolicyService::Options service_options;
  service_options.trust_domain = config.trust_domain();
  target.grpc_service = std::make_unique<PolicyService>(target.engine, std::move(service_options));
  return target;
}

}  // namespace kinex::policy
