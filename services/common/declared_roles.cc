#include "services/common/declared_roles.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/error_reason.h"

namespace kinex {

absl::Status CheckRoleDeclared(const SpiffeId& id, const RoleTable& roles) {
  if (id.is_service) return absl::OkStatus();
  auto declared = roles.find(id.agency_kind);
  if (declared != roles.end() && std::find(declared->second.begin(), declared->second.end(),
                                           id.role) != declared->second.end()) {
    return absl::OkStatus();
  }
  const bool none = declared == roles.end() || declared->second.empty();
  return WithErrorReason(
      absl::UnauthenticatedError(absl::StrCat(
          "role \"", id.role, "\" is not declared for agency kind ", AgencyKindSlug(id.agency_kind),
          " (declared: ", none ? "none" : absl::StrJoin(declared->second, ", "), ")")),
      reason::kNotDeclaredRole);
}

}  // namespace kinex
