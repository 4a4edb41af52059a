// Only declared principals: the roles each agency kind may assert, as the
// policy set's `roles` declarations (policy/roles.textproto) list them.
// Authentication refuses an agency certificate whose role is not declared
// for its kind, before any API looks at the call; reloading the policy set
// changes the table for every later call.
//
// Example:
//   RoleSource roles = [engine] {
//     std::shared_ptr<const CompiledPolicy> p = engine->policy();
//     return std::shared_ptr<const RoleTable>(p, &p->roles);
//   };
//   KINEX_RETURN_IF_ERROR(CheckRoleDeclared(id, *roles()));
#ifndef KINEX_SERVICES_COMMON_DECLARED_ROLES_H_
#define KINEX_SERVICES_COMMON_DECLARED_ROLES_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kinex/common/v1/common.pb.h"
#include "services/common/identity.h"

namespace kinex {

// Declared roles per agency kind, each list sorted (CompiledPolicy::roles).
using RoleTable = std::map<kinex::common::v1::AgencyKind, std::vector<std::string>>;

// The role table in force now (e.g. the loaded policy set's). Called once per
// call; must be thread-safe and cheap (hand out a shared snapshot).
using RoleSource = std::function<std::shared_ptr<const RoleTable>()>;

// OK for a service identity and for an agency whose role is declared for
// its kind; otherwise UNAUTHENTICATED naming the role, the kind and the
// roles declared for it:
//   role "caretaker" is not declared for agency kind school (declared:
//   designated-safeguarding-lead, designated-teacher)
absl::Status CheckRoleDeclared(const SpiffeId& id, const RoleTable& roles);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_DECLARED_ROLES_H_
