#include "services/policy/policy_engine.h"

#include <utility>

#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::policy {

namespace pv1 = ::kinex::policy::v1;

namespace {

absl::Status NotLoaded() {
  return WithErrorReason(absl::UnavailableError("no policy loaded"), reason::kPolicyNotLoaded);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyEngine>> PolicyEngine::Create(Options options) {
  if (options.schema == nullptr) options.schema = Schema::ChildRecordSchema();
  if (options.max_cached_evaluations == 0) options.max_cached_evaluations = 1;
  std::unique_ptr<PolicyEngine> engine(new PolicyEngine(std::move(options)));
  KINEX_RETURN_IF_ERROR(engine->Reload());
  return engine;
}

std::shared_ptr<const PolicyEngine::Snapshot> PolicyEngine::snapshot() const {
  absl::ReaderMutexLock lock(&mu_);
  return snapshot_;
}

absl::Status PolicyEngine::Reload() {
  absl::MutexLock serial(&reload_mu_);
  auto loaded = LoadPolicyDir(options_.policy_dir, options_.schema);
  absl::MutexLock lock(&mu_);
  if (!loaded.ok()) {
    last_reload_ = loaded.status();
    return loaded.status();
  }
  auto snap = std::make_shared<Snapshot>();
  snap->policy = std::move(*loaded);
  snapshot_ = std::move(snap);
  last_reload_ = absl::OkStatus();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Evaluation>> PolicyEngine::Evaluate(
    const pv1::DecisionRequest& request) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  if (snap == nullptr) return NotLoaded();
  const std::string key = EvaluationCacheKey(request);
  {
    absl::ReaderMutexLock lock(&snap->mu);
    auto it = snap->cache.find(key);
    if (it != snap->cache.end()) return it->second;
  }
  auto evaluation =
      std::make_shared<const Evaluation>(kinex::policy::Evaluate(*snap->policy, request));
  if (evaluation->plan == nullptr) {
    return WithErrorReason(absl::InternalError("policy evaluation produced no plan"),
                           reason::kPolicyEvaluationFailed);
  }
  absl::MutexLock lock(&snap->mu);
  if (snap->cache.size() >= options_.max_cached_evaluations) {
    snap->cache.clear();
  }
  snap->cache.emplace(key, evaluation);
  return evaluation;
}

absl::StatusOr<pv1::Decision> PolicyEngine::Decide(const pv1::DecisionRequest& request) const {
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const Evaluation> e, Evaluate(request));
  return e->decision;
}

absl::StatusOr<pv1::Explanation> PolicyEngine::Explain(const pv1::DecisionRequest& request) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  if (snap == nullptr) return NotLoaded();
  pv1::Explanation out;
  std::vector<std::string> trace;
  Evaluation e = kinex::policy::Evaluate(*snap->policy, request, &trace);
  *out.mutable_decision() = std::move(e.decision);
  for (std::string& line : trace) out.add_trace(std::move(line));
  return out;
}

absl::Status PolicyEngine::MayRecordConsent(const pv1::Principal& principal,
                                            const pv1::ChildContext& child,
                                            kinex::common::v1::LegalBasis basis) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  if (snap == nullptr) return NotLoaded();
  return kinex::policy::MayRecordConsent(*snap->policy, principal, child, basis);
}

absl::Status PolicyEngine::MayRecordConsent(const pv1::Principal& principal,
                                            const kinex::record::v1::ScopeLinks& scope,
                                            kinex::common::v1::LegalBasis basis) const {
  pv1::ChildContext child;
  *child.mutable_scope() = scope;
  return MayRecordConsent(principal, child, basis);
}

absl::Status PolicyEngine::last_reload_status() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_reload_;
}

std::string PolicyEngine::version() const {
  auto snap = snapshot();
  return snap == nullptr ? "" : snap->policy->version;
}

std::shared_ptr<const CompiledPolicy> PolicyEngine::policy() const {
  auto snap = snapshot();
  return snap == nullptr ? nullptr : snap->policy;
}

}  // namespace kinex::policy
