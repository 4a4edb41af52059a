// The gRPC adapter for kinex.policy.v1.Policy: unpacks a request, asks the
// PolicyEngine, converts the status once at the edge. Only Kinex services
// call it (by default the gateway and the consent service); agencies never
// do.
//
// Example:
//   PolicyService service(engine, {.trust_domain = "kinex.dev"});
//   builder.RegisterService(&service);
#ifndef KINEX_SERVICES_POLICY_POLICY_SERVICE_H_
#define KINEX_SERVICES_POLICY_POLICY_SERVICE_H_

#include <memory>
#include <string>

#include "kinex/policy/v1/policy.grpc.pb.h"
#include "services/policy/policy_engine.h"

namespace kinex::policy {

// Serves Decide, BatchDecide and Explain. Thread-safe (the engine is).
class PolicyService final : public kinex::policy::v1::Policy::Service {
 public:
  struct Options {
    // Trust domain of caller identities. Default "": callers are not
    // authenticated (in-process use and tests only; the kinex binary always
    // sets it).
    std::string trust_domain;
  };

  PolicyService(std::shared_ptr<const PolicyEngine> engine, Options options);

  grpc::Status Decide(grpc::ServerContext* context,
                      const kinex::policy::v1::DecisionRequest* request,
                      kinex::policy::v1::Decision* response) override;
  grpc::Status BatchDecide(grpc::ServerContext* context,
                           const kinex::policy::v1::BatchDecideRequest* request,
                           kinex::policy::v1::BatchDecideResponse* response) override;
  grpc::Status Explain(grpc::ServerContext* context,
                       const kinex::policy::v1::ExplainRequest* request,
                       kinex::policy::v1::Explanation* response) override;

 private:
  std::shared_ptr<const PolicyEngine> engine_;
  const Options options_;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_SERVICE_H_
