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

// The digits of a protobuf JSON integer field (64-bit ones are quoted).
std::string JsonNumber(const std::string& json, const std::string& field) {
  size_t at = json.find("\"" + field + "\"");
  if (at == std::string::npos) return "";
  at = json.find_first_of("0123456789", at + field.size() + 2);
  if (at == std::string::npos) return "";
  return json.substr(at, json.find_first_not_of("0123456789", at) - at);
}

class KinexctlE2E : public SharedClusterTest<KinexctlE2E> {
 protected:
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
};

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

// The receipt an agency is given is checkable by that agency alone: it reads
// the log's public keys as itself, pins them, and verifies offline with no
// server call; a tampered receipt fails naming what broke; the online checks
// (they read the log) tell it they need the auditor role.
TEST_F(KinexctlE2E, ASchoolVerifiesItsReceiptOfflineWithThePinnedKey) {
  const std::string school = "school-137000-designated-safeguarding-lead";
  const std::string kid = Seed("jayden-whitlock");
  const std::string dir = MakeUniqueTempDir("kinexctl");
  const std::string receipt = dir + "/receipt.json";
  const std::string keys = dir + "/audit-keys.pem";
  auto r = Ctl(school, {"record", "get", "--kinex-id=" + kid, "--purpose=EDUCATION_SUPPORT",
                        "--receipt-out=" + receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto receipt_text = ReadFileToString(receipt);
  ASSERT_TRUE(receipt_text.ok()) << receipt_text.status();
  const std::string leaf = JsonNumber(*receipt_text, "leaf_index");
  const std::string size = JsonNumber(*receipt_text, "tree_size");
  ASSERT_FALSE(leaf.empty()) << *receipt_text;
  ASSERT_FALSE(size.empty()) << *receipt_text;

  r = Ctl(school, {"audit", "signing-key", "--out=" + keys});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote 1 key to " + keys + "\n  key id "));
  EXPECT_THAT(r.out, HasSubstr(" (current)\n"));
  auto pem = ReadFileToString(keys);
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_EQ(pem->rfind("# Kinex audit log signing key, key id ", 0), 0u) << *pem;
  EXPECT_THAT(*pem, HasSubstr("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_THAT(*pem, Not(HasSubstr("PRIVATE")));
  // Without --out the PEM goes to stdout, the same text.
  r = Ctl(school, {"audit", "signing-key"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, *pem);

  // Offline: no server is reachable at this address, and none is needed.
  const std::string nowhere = "--address=127.0.0.1:1";
  r = Ctl(school,
          {"audit", "receipt", "verify", receipt, "--offline", "--public-key=" + keys, nowhere});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "OK: receipt for leaf " + leaf + " verified (head signature, inclusion proof)\n");
  EXPECT_EQ(r.err, "");

  // A file of several PEM blocks (as after a rotation) is read whole.
  const std::string two = dir + "/two-keys.pem";
  ASSERT_TRUE(WriteFileAtomically(two, *pem + *pem).ok());
  r = Ctl(school,
          {"audit", "receipt", "verify", receipt, "--offline", "--public-key=" + two, nowhere});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // The auditor runs the online checks on the same receipt.
  r = Ctl("auditor-kinex-dpo-auditor",
          {"audit", "receipt", "verify", receipt, "--public-key=" + keys});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "OK: receipt for leaf " + leaf +
                       " verified (head signature, inclusion proof, logged entry matches, "
                       "current log consistent)\n");

  // Online, the school gets what it can and is told why the rest is refused.
  r = Ctl(school, {"audit", "receipt", "verify", receipt, "--public-key=" + keys});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "kinexctl: receipt " + receipt +
                       ": the head signature and inclusion proof verified, but the online checks "
                       "(logged entry matches, current log consistent) need the auditor role; "
                       "run with --offline to check only what the receipt proves\n"
                       "kinexctl: PERMISSION_DENIED: the audit log is readable by auditors only "
                       "[POLICY_DENIED]\n");

  // One byte of the inclusion proof flipped: the proof no longer reaches
  // the signed root.
  const std::string& text = *receipt_text;
  const size_t proof = text.find("\"inclusion_proof\"");
  ASSERT_NE(proof, std::string::npos) << text;
  const size_t first = text.find('"', text.find('[', proof)) + 1;
  std::string tampered = text;
  tampered[first] = tampered[first] == 'A' ? 'B' : 'A';
  const std::string bad = dir + "/tampered.json";
  ASSERT_TRUE(WriteFileAtomically(bad, tampered).ok());
  r = Ctl(school,
          {"audit", "receipt", "verify", bad, "--offline", "--public-key=" + keys, nowhere});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "FAILED\n");
  EXPECT_EQ(r.err,
            "kinexctl: FAILED_PRECONDITION: receipt inclusion proof is invalid: "
            "inclusion proof of leaf " +
                leaf + " in tree of size " + size +
                " does not match the root [AUDIT_RECEIPT_INVALID]\n");
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
