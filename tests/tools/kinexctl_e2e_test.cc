// kinexctl as people use it: the real binary against a real `kinex` over
// mTLS, with agency certificates from the project's PKI script.
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"
#include "tests/testing/paths.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace kinex::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class KinexctlE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = KinexCluster::Start({});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = c->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  Subprocess::Result Ctl(const std::string& agency, const std::vector<std::string>& args) {
    auto r = RunKinexctl(*cluster_, agency, args);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }
  // Publishes a demo child part by part as its agencies; returns its id.
  std::string Seed(const std::string& slug) {
    const std::string dir = SourceDir() + "/tools/demo/children/" + slug + "/";
    auto r = Ctl("local-authority-E09000033-social-worker",
                 {"--output=csv", "record", "publish", "--from-json=" + dir + "la.json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines = absl::StrSplit(r.out, "\r\n", absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 2u) << r.out;
    EXPECT_EQ(lines[0], "kinex_id,etag,version,link_state");
    const std::string kid =
        std::string(absl::StrSplit(lines[1], ',').begin()->data(), lines[1].find(','));
    // Every other agency proves the child's date of birth (from la.json).
    auto parts = DemoParts(slug);
    EXPECT_TRUE(parts.ok()) << parts.status();
    const auto& d = parts->front().request.record().identity().date_of_birth();
    const std::string proof =
        absl::StrFormat("--proof-dob=%04d-%02d-%02d", d.year(), d.month(), d.day());
    for (const auto& [file, agency] : std::vector<std::pair<std::string, std::string>>{
             {"school.json", "school-137000-designated-teacher"},
             {"health.json", "health-Y01234-health-practitioner"},
             {"virtual-school.json", "virtual-school-E09000033-virtual-school-head"}}) {
      if (!std::filesystem::exists(dir + file)) continue;
      r = Ctl(agency,
              {"record", "publish", "--from-json=" + dir + file, "--kinex-id=" + kid, proof});
      EXPECT_EQ(r.exit_code, 0) << file << ": " << r.err;
    }
    return kid;
  }

  static KinexCluster* cluster_;
};
KinexCluster* KinexctlE2E::cluster_ = nullptr;

TEST_F(KinexctlE2E, VirtualSchoolHeadCohortAsSpreadsheetReadyCsv) {
  const std::string maisie = Seed("maisie-thornbury");
  const std::string leo = Seed("leo-ashworth");
  auto r = Ctl("virtual-school-E09000033-virtual-school-head",
               {"children", "list", "--purpose=education-support", "--output=csv", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, "\r\n", absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;  // header + two children
  // The fixed EDUCATION_SUPPORT column set (docs/cohort-export.md; the
  // cells are checked in cohort_export_test), after a UTF-8 BOM.
  const std::string& header = lines[0];
  EXPECT_EQ(header.rfind("\xEF\xBB\xBFKinex ID,LA child ID,UPN,Given name,", 0), 0u) << header;
  for (const char* visible :
       {"Current status", "Current arrangement", "Attendance %", "PEP status", "SDQ band"}) {
    EXPECT_THAT(header, HasSubstr(visible));
  }
  for (const char* hidden : {"identity.", "Ethnicity", "Placement", "Police"}) {
    EXPECT_THAT(header, Not(HasSubstr(hidden)));
  }
  std::set<std::string> ids = {lines[1].substr(0, lines[1].find(',')),
                               lines[2].substr(0, lines[2].find(','))};
  EXPECT_EQ(ids, (std::set<std::string>{maisie, leo}));
  // Leo's SGO was made from care: previously looked after now, whatever
  // his ended kinship foster care episode said.
  EXPECT_THAT(r.out, HasSubstr("Previously looked after,Special guardianship order"));
}

TEST_F(KinexctlE2E, RecordGetPrintsVisibleFieldsAndWritesTheReceipt) {
  const std::string kid = Seed("priya-bennett");
  const std::string receipt = MakeUniqueTempDir("kinexctl") + "/receipt.json";
  auto r = Ctl("virtual-school-E09000033-virtual-school-head",
               {"record", "get", "--kinex-id=" + kid, "--purpose=EDUCATION_SUPPORT",
                "--receipt-out=" + receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("identity.given_name"));
  EXPECT_THAT(r.out, HasSubstr("Priya"));
  EXPECT_THAT(r.out, Not(HasSubstr("placement")));
  EXPECT_THAT(r.err, HasSubstr("audit leaf"));
  auto text = ReadFileToString(receipt);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("\"signed_tree_head\""));
  EXPECT_THAT(*text, HasSubstr("\"disclosed_paths\""));
}

TEST_F(KinexctlE2E, HelpfulErrors) {
  auto r = Ctl("virtual-school-E09000033-virtual-school-head",
               {"record", "get", "--purpose=EDUCATION_SUPPORT"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("name the child with exactly one of --kinex-id, --nhs, --upn"));
  r = Ctl("virtual-school-E09000033-virtual-school-head",
          {"record", "get", "--upn=X213700025001", "--purpose=schooling"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(
      r.err,
      HasSubstr("--purpose: unknown value \"schooling\" (one of safeguarding, education-support"));
  r = Ctl("virtual-school-E09000033-virtual-school-head",
          {"record", "get", "--upn=X213700025001", "--purpose=EDUCATION_SUPPORT", "--bogus=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --bogus"));
  r = Ctl("school-137000-designated-teacher",
          {"record", "publish", "--from-json=/nonexistent.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent.json: no such file"));
  for (const char* group : {"record", "children", "health"}) {
    r = Ctl("school-137000-designated-teacher", {group, "--help"});
    EXPECT_EQ(r.exit_code, 0) << group;
    EXPECT_THAT(r.out, HasSubstr("usage: kinexctl"));
  }
}

TEST_F(KinexctlE2E, PublishingAnotherAgencysFieldsNamesThem) {
  const std::string kid = Seed("ruby-hartwell");
  const std::string file = MakeUniqueTempDir("kinexctl") + "/bad.json";
  ASSERT_TRUE(WriteFileAtomically(file, R"({"record": {"health": {"camhs": "CAMHS_OPEN"}}})").ok());
  auto r = Ctl("school-137000-designated-teacher",
               {"record", "publish", "--from-json=" + file, "--kinex-id=" + kid});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("kinexctl: PERMISSION_DENIED"));
  EXPECT_THAT(r.err, HasSubstr("health.camhs"));
  // The server's ErrorInfo reason survives the trip and is printed.
  EXPECT_THAT(r.err, HasSubstr("[FIELD_NOT_OWNED]"));
}

}  // namespace
}  // namespace kinex::testing
