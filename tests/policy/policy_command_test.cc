// `kinexctl policy` (tools/kinexctl/policy_command.cc) and the policy test
// runner behind it: exit codes and output on the default policy set, and a
// failing case is reported with its differences.
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "services/policy/policy_test_runner.h"
#include "tests/testing/temp_dir.h"
#include "tools/kinexctl/policy_command.h"

namespace kinex::ctl {
namespace {

using ::testing::HasSubstr;

std::string SourceDir() {
  const char* dir = std::getenv("KINEX_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunPolicyCli(const std::vector<std::string>& words) {
  std::ostringstream out, err;
  CommandContext ctx(CommandContext::Connection{}, OutputFormat::kTable, out, err);
  int code = MakePolicyCommandGroup().run(ctx, words);
  return {code, out.str(), err.str()};
}

TEST(PolicyCommandTest, TestPassesOnTheDefaultSet) {
  Result r = RunPolicyCli({"test", SourceDir() + "/policy"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(" passed, 0 failed\n"));
  EXPECT_THAT(r.out, HasSubstr("PASS "));
}

TEST(PolicyCommandTest, MatrixIsTheCommittedDocument) {
  Result r = RunPolicyCli({"matrix", SourceDir() + "/policy"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto doc = kinex::ReadFileToString(SourceDir() + "/docs/access-matrix.md");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(r.out, *doc);
}

TEST(PolicyCommandTest, ValidatePrintsVersion) {
  Result r = RunPolicyCli({"validate", SourceDir() + "/policy"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("policy OK: version "));
}

TEST(PolicyCommandTest, UnknownCommandIsUsageError) {
  Result r = RunPolicyCli({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown policy command \"frobnicate\""));
}

TEST(PolicyCommandTest, HelpPrintsUsage) {
  Result r = RunPolicyCli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: kinexctl policy"));
}

class PolicyTestFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kinex::testing::MakeUniqueTempDir("policy-cmd");
    std::filesystem::create_directories(dir_ / "tests");
    Write("p.textproto",
          "roles { agency_kind: LOCAL_AUTHORITY names: \"social-worker\" }\n"
          "rules { id: \"g\" effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
          "CA1989_S17_CHILDREN_IN_NEED } principals { agency_kind: "
          "LOCAL_AUTHORITY } purposes: CARE_PLANNING scope: "
          "RESPONSIBLE_AUTHORITY categories: LEGAL_STATUS }\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(kinex::WriteFileAtomically((dir_ / name).string(), text).ok());
  }
  std::filesystem::path dir_;
};

constexpr char kCase[] =
    "cases { name: \"%s\" request { principal { agency_kind: LOCAL_AUTHORITY "
    "agency_code: \"E1\" role: \"social-worker\" } child { scope { "
    "responsible_la_code: \"E1\" } } purpose: CARE_PLANNING } expect { "
    "allowed: true visible_paths: \"%s\" %s } }\n";

std::string Case(const std::string& name, const std::string& path) {
  std::string withheld;
  for (const char* c : {"IDENTITY", "PLACEMENT", "EDUCATION", "HEALTH", "SAFEGUARDING", "POLICE",
                        "FINANCIAL_SUPPORT"}) {
    absl::StrAppend(&withheld, "withheld { category: ", c, " reason: NOT_GRANTED } ");
  }
  std::string out = kCase;
  out.replace(out.find("%s"), 2, name);
  out.replace(out.find("%s"), 2, path);
  out.replace(out.find("%s"), 2, withheld);
  return out;
}

TEST_F(PolicyTestFailureTest, PassingAndFailingCases) {
  Write("tests/t.textproto", Case("right", "legal_status") + Case("wrong", "education"));
  Result r = RunPolicyCli({"test", dir_.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("PASS " + (dir_ / "tests/t.textproto").string() + ": right"));
  EXPECT_THAT(r.out, HasSubstr("FAIL " + (dir_ / "tests/t.textproto").string() +
                               ": wrong\n  visible_paths: missing [education], "
                               "unexpected [legal_status]\n"));
  EXPECT_THAT(r.out, HasSubstr("1 passed, 1 failed"));
}

TEST_F(PolicyTestFailureTest, DuplicateCaseNamesAreAnError) {
  Write("tests/t.textproto", Case("same", "legal_status") + Case("same", "legal_status"));
  auto report = kinex::policy::RunPolicyTestDir(dir_.string());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(report.status().message(),
              HasSubstr("t.textproto:2:1: duplicate policy test case name "
                        "\"same\""));
}

TEST_F(PolicyTestFailureTest, TestFileErrorNamesTheBadToken) {
  Write("tests/t.textproto", "cases {\n  name: \"x\"\n  request { purpose: CARE_PLANING }\n}\n");
  auto report = kinex::policy::RunPolicyTestDir(dir_.string());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(report.status().message(),
            (dir_ / "tests/t.textproto").string() +
                ":3:22: Unknown enumeration value of \"CARE_PLANING\" for "
                "field \"purpose\".");
}

TEST_F(PolicyTestFailureTest, NoTestFilesIsAnError) {
  Result r = RunPolicyCli({"test", dir_.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no *.textproto policy test files"));
}

TEST_F(PolicyTestFailureTest, InvalidPolicyFailsValidate) {
  Write("p.textproto",
        "rules { id: \"x\" effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
        "CA1989_S17_CHILDREN_IN_NEED } }\n");
  Result r = RunPolicyCli({"validate", dir_.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("p.textproto:1:9: rule \"x\" can never match: "
                               "no principals"));
}

}  // namespace
}  // namespace kinex::ctl
