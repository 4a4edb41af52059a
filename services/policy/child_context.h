// The one derivation of the policy's view of a child from the facts the
// records service keeps for it. Part of kinex::policy_context, which callers
// of the policy service (the gateway, the consent path) link without the
// policy engine.
//
// Example:
//   *request.mutable_child() = ChildContextFromFacts(facts, clock.Now());
#ifndef KINEX_SERVICES_POLICY_CHILD_CONTEXT_H_
#define KINEX_SERVICES_POLICY_CHILD_CONTEXT_H_

#include "absl/time/time.h"
#include "kinex/policy/v1/policy.pb.h"
#include "kinex/records/v1/records.pb.h"

namespace kinex::policy {

// The policy's view of a child, derived from the facts records keeps for it
// (records.GetChildFacts, or ListChildren's summaries): the derived scope
// links; looked_after / previously_looked_after when a legal-status episode
// current at `now` (started, not ended before today, UTC) says so; and the
// arrangement types of the current episodes. The one derivation: the
// gateway, the consent path and tests all call it. Facts without a Kinex id
// (an unknown child) give an empty context. Thread-safe.
kinex::policy::v1::ChildContext ChildContextFromFacts(const kinex::records::v1::ChildFacts& facts,
                                                      absl::Time now);
}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_CHILD_CONTEXT_H_
