// The roles each agency kind may assert, from the policy set an engine has
// in force at each call (so a reload that removes a role refuses the next
// call by it). For the gateway edge's Options::declared_roles.
//
// Example:
//   Edge edge(limiter, metrics, "kinex.dev", std::cerr,
//             {.declared_roles = PolicyDeclaredRoles(engine)});
#ifndef KINEX_SERVICES_POLICY_POLICY_ROLES_H_
#define KINEX_SERVICES_POLICY_POLICY_ROLES_H_

#include <memory>

#include "services/common/declared_roles.h"
#include "services/policy/policy_engine.h"

namespace kinex::policy {

RoleSource PolicyDeclaredRoles(std::shared_ptr<const PolicyEngine> engine);

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_ROLES_H_
