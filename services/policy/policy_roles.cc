#include "services/policy/policy_roles.h"

#include <utility>

namespace kinex::policy {

RoleSource PolicyDeclaredRoles(std::shared_ptr<const PolicyEngine> engine) {
  return [engine = std::move(engine)]() -> std::shared_ptr<const RoleTable> {
    std::shared_ptr<const CompiledPolicy> p = engine->policy();
    if (p == nullptr) return nullptr;
    // Shares ownership of the whole compiled set; no copy per call.
    return std::shared_ptr<const RoleTable>(p, &p->roles);
  };
}

}  // namespace kinex::policy
