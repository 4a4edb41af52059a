// Policy evaluation: a DecisionRequest against a CompiledPolicy gives a
// Decision (allowed paths, withheld categories and why, obligations, bases
// relied on) and the RedactionPlan that enforces it.
//
// Deny by default, denies override grants, and evaluation never fails
// open: a malformed request or an internal error is a deny whose withheld
// categories carry EVALUATION_ERROR and whose deny_reason says why.
//
// Example:
//   std::vector<std::string> trace;
//   Evaluation e = Evaluate(*policy, request, &trace);
//   if (!e.decision.allowed()) ...;
#ifndef KINEX_SERVICES_POLICY_EVALUATOR_H_
#define KINEX_SERVICES_POLICY_EVALUATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kinex/policy/v1/policy.pb.h"
#include "kinex/record/v1/record.pb.h"
#include "kinex/records/v1/records.pb.h"
#include "services/policy/child_context.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluation.h"
#include "services/policy/redactor.h"

namespace kinex::policy {

// Evaluates `request`. When `trace` is given, appends one readable line per
// rule considered and per category (no child identifiers). Thread-safe.
Evaluation Evaluate(const CompiledPolicy& policy, const kinex::policy::v1::DecisionRequest& request,
                    std::vector<std::string>* trace = nullptr);

// The cache key of `request`: two requests with the same key get the same
// Evaluation. It holds what evaluation depends on — the principal, purpose,
// which scope relations hold, jurisdiction, looked-after status, whether a
// justification / break-glass is present, and the bases that could cover
// this principal and purpose — not the child's identifiers.
std::string EvaluationCacheKey(const kinex::policy::v1::DecisionRequest& request);

// Whether `principal` may record `basis` for a child with `child` facts, by
// the policy's consent_recorders. OK, or PERMISSION_DENIED naming the
// principal class and basis. Thread-safe.
absl::Status MayRecordConsent(const CompiledPolicy& policy,
                              const kinex::policy::v1::Principal& principal,
                              const kinex::policy::v1::ChildContext& child,
                              kinex::common::v1::LegalBasis basis);

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_EVALUATOR_H_
