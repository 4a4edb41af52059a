// CheckRoleDeclared (services/common/declared_roles.h): exact codes and
// messages. The roles as policy/roles.textproto loads are exercised through
// the gateway edge in tests/gateway/edge_hardening_test.cc.
#include "services/common/declared_roles.h"

#include "gtest/gtest.h"
#include "services/common/error_reason.h"

namespace kinex {
namespace {

SpiffeId Agency(kinex::common::v1::AgencyKind kind, const char* role) {
  SpiffeId id;
  id.agency_kind = kind;
  id.agency_code = "x";
  id.role = role;
  return id;
}

// The refusal, compared whole: its ErrorInfo reason included.
absl::Status NotDeclared(const std::string& message) {
  return WithErrorReason(absl::UnauthenticatedError(message), reason::kNotDeclaredRole);
}

const RoleTable kRoles = {
    {kinex::common::v1::SCHOOL, {"designated-safeguarding-lead", "designated-teacher"}},
    {kinex::common::v1::AUDITOR, {"auditor"}},
};

TEST(CheckRoleDeclared, DeclaredRolesPass) {
  EXPECT_TRUE(
      CheckRoleDeclared(Agency(kinex::common::v1::SCHOOL, "designated-teacher"), kRoles).ok());
  EXPECT_TRUE(CheckRoleDeclared(Agency(kinex::common::v1::AUDITOR, "auditor"), kRoles).ok());
}

TEST(CheckRoleDeclared, UndeclaredRoleIsUnauthenticatedNamingRoleKindAndDeclared) {
  EXPECT_EQ(CheckRoleDeclared(Agency(kinex::common::v1::SCHOOL, "caretaker"), kRoles),
            NotDeclared("role \"caretaker\" is not declared for agency kind school (declared: "
                        "designated-safeguarding-lead, designated-teacher)"));
  // A role declared for another kind does not count.
  EXPECT_EQ(CheckRoleDeclared(Agency(kinex::common::v1::SCHOOL, "auditor"), kRoles),
            NotDeclared("role \"auditor\" is not declared for agency kind school (declared: "
                        "designated-safeguarding-lead, designated-teacher)"));
  EXPECT_EQ(
      CheckRoleDeclared(Agency(kinex::common::v1::POLICE, "public-protection-officer"), kRoles),
      NotDeclared("role \"public-protection-officer\" is not declared for "
                  "agency kind police (declared: none)"));
}

TEST(CheckRoleDeclared, ServicesHaveNoRole) {
  SpiffeId gateway;
  gateway.is_service = true;
  gateway.service_name = "gateway";
  EXPECT_TRUE(CheckRoleDeclared(gateway, {}).ok());
}

}  // namespace
}  // namespace kinex
