// The default policy set in policy/: it loads, its policy tests (the nine
// invariants of the policy engine issue, in policy/tests/) pass, and
// docs/access-matrix.md is what `kinexctl policy matrix` generates from it.
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "services/policy/access_matrix.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"
#include "services/policy/policy_test_runner.h"

namespace kinex::policy {
namespace {

std::string SourceDir() {
  const char* dir = std::getenv("KINEX_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

TEST(PolicyDefaultSetTest, Loads) {
  auto policy = LoadPolicyDir(SourceDir() + "/policy", Schema::ChildRecordSchema());
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ((*policy)->version.size(), 64u);
  EXPECT_GE((*policy)->rules.size(), 10u);
}

TEST(PolicyDefaultSetTest, PolicyTestsPass) {
  auto report = RunPolicyTestDir(SourceDir() + "/policy");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok()) << report->Summary();
  // One file per invariant, each with at least one case.
  EXPECT_GE(report->passed(), 9);
}

// Who may record consents and statutory bases is policy, not code.
TEST(PolicyDefaultSetTest, ConsentRecorders) {
  auto policy = LoadPolicyDir(SourceDir() + "/policy", Schema::ChildRecordSchema());
  ASSERT_TRUE(policy.ok()) << policy.status();
  namespace cv1 = ::kinex::common::v1;
  auto principal = [](cv1::AgencyKind kind, const std::string& code, const std::string& role) {
    kinex::policy::v1::Principal p;
    p.set_agency_kind(kind);
    p.set_agency_code(code);
    p.set_role(role);
    return p;
  };
  kinex::policy::v1::ChildContext child;
  child.mutable_scope()->set_responsible_la_code("E09000033");
  child.mutable_scope()->set_current_school_urn("100869");
  child.mutable_scope()->set_registered_gp_ods_code("E87634");
  const auto sw = principal(cv1::LOCAL_AUTHORITY, "E09000033", "social-worker");
  EXPECT_TRUE(MayRecordConsent(**policy, sw, child, cv1::CONSENT).ok());
  EXPECT_TRUE(MayRecordConsent(**policy, sw, child, cv1::SAFEGUARDING_OF_CHILDREN).ok());
  // Not for another LA's children; not break-glass's basis.
  const auto other_la = principal(cv1::LOCAL_AUTHORITY, "E09000001", "social-worker");
  EXPECT_EQ(MayRecordConsent(**policy, other_la, child, cv1::CONSENT).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(MayRecordConsent(**policy, sw, child, cv1::VITAL_INTERESTS).code(),
            absl::StatusCode::kPermissionDenied);
  // An IRO records nothing.
  EXPECT_EQ(
      MayRecordConsent(
          **policy, principal(cv1::LOCAL_AUTHORITY, "E09000033", "independent-reviewing-officer"),
          child, cv1::CONSENT)
          .code(),
      absl::StatusCode::kPermissionDenied);
  // A VSH records PR-holder consent only.
  const auto vsh = principal(cv1::VIRTUAL_SCHOOL, "E09000033", "virtual-school-head");
  EXPECT_TRUE(MayRecordConsent(**policy, vsh, child, cv1::CONSENT).ok());
  EXPECT_EQ(MayRecordConsent(**policy, vsh, child, cv1::SAFEGUARDING_OF_CHILDREN).code(),
            absl::StatusCode::kPermissionDenied);
  // The registered GP records health consent; a school records nothing.
  EXPECT_TRUE(MayRecordConsent(**policy, principal(cv1::HEALTH, "E87634", "health-practitioner"),
                               child, cv1::CONSENT)
                  .ok());
  EXPECT_EQ(
      MayRecordConsent(**policy, principal(cv1::SCHOOL, "100869", "designated-safeguarding-lead"),
                       child, cv1::CONSENT)
          .code(),
      absl::StatusCode::kPermissionDenied);
}

TEST(PolicyDefaultSetTest, AccessMatrixIsCurrent) {
  auto policy = LoadPolicyDir(SourceDir() + "/policy", Schema::ChildRecordSchema());
  ASSERT_TRUE(policy.ok()) << policy.status();
  const std::string generated = AccessMatrixMarkdown(**policy);
  const std::string path = SourceDir() + "/docs/access-matrix.md";
  if (std::getenv("KINEX_UPDATE_ACCESS_MATRIX") != nullptr) {
    ASSERT_TRUE(kinex::WriteFileAtomically(path, generated).ok());
  }
  auto committed = kinex::ReadFileToString(path);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(*committed, generated) << "docs/access-matrix.md is stale. Regenerate it with\n"
                                      "  kinexctl policy matrix policy/ > docs/access-matrix.md\n"
                                      "or\n"
                                      "  KINEX_UPDATE_ACCESS_MATRIX=1 ctest --test-dir <build> -R "
                                      "PolicyDefaultSetTest.AccessMatrixIsCurrent";
}

}  // namespace
}  // namespace kinex::policy
