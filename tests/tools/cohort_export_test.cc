// `kinexctl children list --output=csv|xlsx` as a virtual school head uses
// it: the real binary against a real `kinex`, demo children plus one whose
// name would be a formula, the files read back by python3's csv module and
// openpyxl (tests/tools/check_cohort_export.py asserts the cells).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
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
using ::testing::StartsWith;

constexpr char kVsh[] = "virtual-school-E09000033-virtual-school-head";
constexpr char kLa[] = "local-authority-E09000033-social-worker";
constexpr char kSchool[] = "school-137000-designated-teacher";

class CohortExportTest : public SharedClusterTest<CohortExportTest> {
 protected:
  // Publishes `la_json` as the LA; returns the Kinex id.
  static std::string PublishLa(const std::string& la_json) {
    auto r = Ctl(kLa, {"--output=csv", "record", "publish", "--from-json=" + la_json});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines = absl::StrSplit(r.out, "\r\n", absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 2u) << r.out;
    return lines.size() == 2 ? lines[1].substr(0, lines[1].find(',')) : "";
  }

  static void PublishAs(const std::string& agency, const std::string& json, const std::string& kid,
                        const std::string& dob) {
    auto r = Ctl(agency, {"record", "publish", "--from-json=" + json, "--kinex-id=" + kid,
                          "--proof-dob=" + dob});
    EXPECT_EQ(r.exit_code, 0) << json << ": " << r.err;
  }

  // A demo child, part by part; returns its Kinex id.
  static std::string Seed(const std::string& slug) {
    const std::string dir = SourceDir() + "/tools/demo/children/" + slug + "/";
    const std::string kid = PublishLa(dir + "la.json");
    auto parts = DemoParts(slug);
    EXPECT_TRUE(parts.ok()) << parts.status();
    const auto& d = parts->front().request.record().identity().date_of_birth();
    const std::string dob = absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
    for (const auto& [file, agency] : std::vector<std::pair<std::string, std::string>>{
             {"school.json", kSchool},
             {"health.json", "health-Y01234-health-practitioner"},
             {"virtual-school.json", kVsh}}) {
      if (std::filesystem::exists(dir + file)) PublishAs(agency, dir + file, kid, dob);
    }
    return kid;
  }

  static std::string Read(const std::string& path) {
    auto text = ReadFileToString(path);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }

  // A child modelled on Jayden (informal family arrangement, in the VSH's
  // kinship extension) whose given name needs UTF-8 and whose family name
  // is a formula; the school part has a suspension, no unauthorised
  // absences and no UPN.
  static std::string SeedFormulaChild(const std::string& dir) {
    const std::string src = SourceDir() + "/tools/demo/children/jayden-whitlock/";
    std::string la = Read(src + "la.json");
    la = absl::StrReplaceAll(la, {{"WCC-100733", "WCC-900001"},
                                  {"\"Jayden\"", "\"Siân-Zoë\""},
                                  {"\"Whitlock\"", "\"=HYPERLINK(\\\"http://x\\\")\""}});
    la = std::regex_replace(la, std::regex("\"nhs_number\": \"[0-9 ]*\",?"), "");
    EXPECT_TRUE(WriteFileAtomically(dir + "/la.json", la).ok());
    std::string school = Read(src + "school.json");
    school = std::regex_replace(school, std::regex("\"upn\": \"[A-Z0-9]*\",?"), "");
    school = std::regex_replace(school, std::regex("\"unauthorised_absences\": [0-9]+"),
                                "\"unauthorised_absences\": 0");
    school = absl::StrReplaceAll(
        school, {{"\"attendance_summary\":",
                  "\"exclusions\": [{\"type\": \"SUSPENSION\", \"start_date\": {\"year\": 2026, "
                  "\"month\": 10, \"day\": 5}, \"sessions\": 2, \"reason_code\": \"PP\", "
                  "\"school_urn\": \"137000\"}], \"attendance_summary\":"}});
    EXPECT_TRUE(WriteFileAtomically(dir + "/school.json", school).ok());
    const std::string kid = PublishLa(dir + "/la.json");
    PublishAs(kSchool, dir + "/school.json", kid, "2015-06-23");
    return kid;
  }
};

TEST_F(CohortExportTest, CsvAndXlsxReadBackCellByCell) {
  const std::string dir = MakeUniqueTempDir("cohort-export");
  const std::string leo = Seed("leo-ashworth");         // SGO made from care
  const std::string maisie = Seed("maisie-thornbury");  // looked after, PEP
  const std::string jayden = Seed("jayden-whitlock");   // informal arrangement
  const std::string formula = SeedFormulaChild(dir);

  auto csv = Ctl(kVsh, {"children", "list", "--purpose=education-support", "--output=csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.err, "");
  ASSERT_TRUE(WriteFileAtomically(dir + "/cohort.csv", csv.out).ok());
  auto xlsx = Ctl(kVsh, {"--output=xlsx", "children", "list", "--purpose=education-support"});
  ASSERT_EQ(xlsx.exit_code, 0) << xlsx.err;
  EXPECT_THAT(xlsx.out, StartsWith("PK"));  // a zip container
  ASSERT_TRUE(WriteFileAtomically(dir + "/cohort.xlsx", xlsx.out).ok());

  auto check =
      Subprocess::Run({"/usr/bin/python3", SourceDir() + "/tests/tools/check_cohort_export.py",
                       dir + "/cohort.csv", dir + "/cohort.xlsx", "leo=" + leo, "maisie=" + maisie,
                       "jayden=" + jayden, "formula=" + formula});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->exit_code, 0) << check->out << check->err;
  EXPECT_THAT(check->out, HasSubstr("cohort export: csv and xlsx checked (4 children)"));
}

TEST_F(CohortExportTest, AnExplicitPageSizeGivesOnePageAndTheToken) {
  // At least two children are listed by the other test or this one.
  Seed("priya-bennett");
  auto all = Ctl(kVsh, {"children", "list", "--purpose=education-support", "--output=csv"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::vector<std::string> lines = absl::StrSplit(all.out, "\r\n", absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u);  // header + two or more children
  EXPECT_EQ(all.err, "");

  auto one = Ctl(
      kVsh, {"children", "list", "--purpose=education-support", "--output=csv", "--page-size=1"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  lines = absl::StrSplit(one.out, "\r\n", absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 2u) << one.out;  // header + one child
  EXPECT_THAT(one.err, StartsWith("more: --page-token="));
}

TEST_F(CohortExportTest, XlsxOnlyForChildrenList) {
  auto r = Ctl(kVsh, {"--output=xlsx", "health"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--output must be table, json or csv (or xlsx for children list), "
                               "not \"xlsx\""));
}

}  // namespace
}  // namespace kinex::testing
