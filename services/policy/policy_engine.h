// PolicyEngine: the loaded policy set, decisions with a plan cache, and
// atomic reload.
//
// Decisions compile to redaction plans cached per (principal class,
// purpose, scope relations, basis set) — see EvaluationCacheKey — so a
// repeated request costs a hash lookup. Reload() loads the directory again
// and swaps the new set in atomically; a failed reload keeps the previous
// set in force and returns (and remembers) why. The binary calls Reload()
// on SIGHUP.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto engine,
//       PolicyEngine::Create({.policy_dir = "policy"}));
//   KINEX_ASSIGN_OR_RETURN(auto evaluation, engine->Evaluate(request));
//   KINEX_RETURN_IF_ERROR(Redactor().Apply(*evaluation->plan, &record));
#ifndef KINEX_SERVICES_POLICY_POLICY_ENGINE_H_
#define KINEX_SERVICES_POLICY_POLICY_ENGINE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"
#include "services/policy/schema.h"

namespace kinex::policy {

// Decides with the loaded policy set. Thread-safe.
class PolicyEngine {
 public:
  struct Options {
    // Directory of PolicySet *.textproto files. Default "policy".
    std::string policy_dir = "policy";
    // Record schema decided on. Default (null): kinex.record.v1.ChildRecord.
    std::shared_ptr<const Schema> schema;
    // Most evaluations cached per policy version before the cache is
    // emptied. Default 1024. An entry (decision with its allowed paths, and
    // plan) is about 3.5 KB, and keys include consent ids, so a busy gateway
    // fills any size: at 4096 the cache alone swung resident memory by
    // ~14 MB in the soak. A miss costs one evaluation (microseconds).
    size_t max_cached_evaluations = 1024;
  };

  // Loads and validates the policy set. The load's error (file:line) when
  // it is invalid.
  static absl::StatusOr<std::unique_ptr<PolicyEngine>> Create(Options options);

  // Decides `request`, from the cache when possible. Never an error for a
  // policy reason: a deny is an Evaluation whose decision is not allowed.
  absl::StatusOr<std::shared_ptr<const Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest& request) const;

  // The Decision part of Evaluate (a copy).
  absl::StatusOr<kinex::policy::v1::Decision> Decide(
      const kinex::policy::v1::DecisionRequest& request) const;

  // Decides without the cache and returns a readable trace too.
  absl::StatusOr<kinex::policy::v1::Explanation> Explain(
      const kinex::policy::v1::DecisionRequest& request) const;

  // Whether `principal` may record `basis` (a consent or statutory basis)
  // for the child; PERMISSION_DENIED otherwise. The child's looked-after
  // status comes from `child`; use the ScopeLinks overload when it is not
  // known (it is then treated as not looked after).
  absl::Status MayRecordConsent(const kinex::policy::v1::Principal& principal,
                                const kinex::policy::v1::ChildContext& child,
                                kinex::common::v1::LegalBasis basis) const;
  absl::Status MayRecordConsent(const kinex::policy::v1::Principal& principal,
                                const kinex::record::v1::ScopeLinks& scope,
                                kinex::common::v1::LegalBasis basis) const;

  // Loads the directory again. On success the new set decides every later
  // request; on failure the previous set stays in force and the error
  // (file:line) is returned and kept in last_reload_status().
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(reload_mu_, mu_);

  // The status of the last Reload() (OK before any).
  absl::Status last_reload_status() const;
  // Hex SHA-256 of the policy set in force.
  std::string version() const;
  // The policy set in force.
  std::shared_ptr<const CompiledPolicy> policy() const;

 private:
  struct Snapshot {
    std::shared_ptr<const CompiledPolicy> policy;
    mutable absl::Mutex mu;
    mutable absl::flat_hash_map<std::string, std::shared_ptr<const Evaluation>> cache
        ABSL_GUARDED_BY(mu);
  };

  explicit PolicyEngine(Options options) : options_(std::move(options)) {}
  std::shared_ptr<const Snapshot> snapshot() const;

  const Options options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  absl::Status last_reload_ ABSL_GUARDED_BY(mu_);
  // Serialises reloads, so two SIGHUPs do not race to swap.
  absl::Mutex reload_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_ENGINE_H_
