// The policy service as a target of the `kinex` binary: the engine loaded
// from config.policy().policy_dir() (default "policy", relative to the
// working directory) and its gRPC adapter. The binary calls
// target.engine->Reload() on SIGHUP; a failed reload keeps the previous set
// and returns the reason to log.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(PolicyTarget policy, MakePolicyTarget(config, clock));
//   builder.RegisterService(policy.grpc_service.get());
#ifndef KINEX_SERVICES_POLICY_POLICY_TARGET_H_
#define KINEX_SERVICES_POLICY_POLICY_TARGET_H_

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/common/clock.h"
#include "services/policy/policy_engine.h"

namespace kinex::policy {

// The policy target's parts.
struct PolicyTarget {
  // The engine; shared with in-process callers (gateway, consent) in
  // --target=all. Thread-safe.
  std::shared_ptr<PolicyEngine> engine;
  // The kinex.policy.v1.Policy adapter, authenticating callers in
  // config.trust_domain().
  std::unique_ptr<grpc::Service> grpc_service;
};

// Loads the policy set. INVALID_ARGUMENT (file:line) for an invalid set,
// NOT_FOUND for a missing directory. The policy engine reads no clock; the
// parameter keeps every target's factory alike.
absl::StatusOr<PolicyTarget> MakePolicyTarget(const kinex::config::v1::KinexConfig& config,
                                              const kinex::Clock& clock);

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_TARGET_H_
