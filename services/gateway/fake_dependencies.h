// Test doubles for the gateway's dependencies: a working in-memory basis
// lookup, and failing versions of each dependency that prove the gateway
// fails closed.
#ifndef KINEX_SERVICES_GATEWAY_FAKE_DEPENDENCIES_H_
#define KINEX_SERVICES_GATEWAY_FAKE_DEPENDENCIES_H_

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "services/audit/audit_sink.h"
#include "services/gateway/dependencies.h"

namespace kinex::gateway {

// Answers LookupBases from a map keyed by kinex id (any recipient and
// purpose). Thread-safe.
class FakeBasisLookup final : public BasisLookup {
 public:
  void Set(const std::string& kinex_id, kinex::consent::v1::LookupBasesResponse response) {
    absl::MutexLock lock(&mu_);
    on_file_[kinex_id] = std::move(response);
  }
  absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest& request) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    auto it = on_file_.find(request.kinex_id());
    return it == on_file_.end() ? kinex::consent::v1::LookupBasesResponse() : it->second;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, kinex::consent::v1::LookupBasesResponse> on_file_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// Always UNAVAILABLE.
class FailingBasisLookup final : public BasisLookup {
 public:
  absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest&) override {
    return absl::UnavailableError("consent store is down");
  }
};

// Always UNAVAILABLE.
class FailingPolicyDecider final : public PolicyDecider {
 public:
  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest&) const override {
    return absl::UnavailableError("policy service is down");
  }
};

// Always UNAVAILABLE: the audit log cannot commit.
class FailingAuditSink final : public kinex::audit::AuditSink {
 public:
  absl::StatusOr<kinex::audit::AppendResult> Append(
      const kinex::audit::v1::AuditEvent&) override {
    return absl::UnavailableError("audit storage cannot commit");
  }
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_FAKE_DEPENDENCIES_H_
