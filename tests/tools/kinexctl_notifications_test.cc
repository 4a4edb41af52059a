// kinexctl's notifications and break-glass review commands as an LA uses
// them: the real binary against a real `kinex` over mTLS, with agency
// certificates from the project's PKI script. A police break-glass read of a
// child tells the responsible LA (ACCESS) and opens a review
// (BREAK_GLASS_REVIEW); the LA lists, acknowledges and reviews them, and a
// watcher resumes from its cursor file. Every output line is asserted whole.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
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

// Certificates (base names under the cluster's PKI, certs/agencies.txt).
constexpr char kSocialWorker[] = "local-authority-E09000033-social-worker";
constexpr char kTeamManager[] = "local-authority-E09000033-team-manager";
constexpr char kPolice[] = "police-01-public-protection-officer";
constexpr char kSchool[] = "school-137000-designated-safeguarding-lead";

constexpr char kBreakGlassWhy[] =
    "Child reported missing overnight; urgent risk assessment needs medical context";
constexpr char kSafeguardingWhy[] = "Section 47 strategy discussion, ref MPS/2026/11/0042";
constexpr char kUpheldNote[] = "Missing overnight with a known heart condition: justified.";

// The digits of a protobuf JSON integer field (64-bit ones are quoted).
std::string JsonNumber(const std::string& json, const std::string& field) {
  size_t at = json.find("\"" + field + "\"");
  if (at == std::string::npos) return "";
  at = json.find_first_of("0123456789", at + field.size() + 2);
  if (at == std::string::npos) return "";
  return json.substr(at, json.find_first_not_of("0123456789", at) - at);
}

class KinexctlNotifications : public SharedClusterTest<KinexctlNotifications> {
 protected:
  // The argv of kinexctl as `agency`, as RunKinexctl builds it.
  std::vector<std::string> Argv(const std::string& agency, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BinPath("kinexctl"),
                                     "--address=" + cluster_->gateway_address(),
                                     "--ca=" + cluster_->pki() + "/ca.pem",
                                     "--cert=" + cluster_->pki() + "/agencies/" + agency + ".pem",
                                     "--key=" + cluster_->pki() + "/agencies/" + agency + ".key",
                                     "--actor=Test User"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Publishes demo child `slug` (LA, school, health parts) and a police
  // part placing the child in force 01's area; returns its Kinex id.
  std::string Seed(const std::string& slug) {
    const std::string dir = SourceDir() + "/tools/demo/children/" + slug + "/";
    auto r =
        Ctl(kSocialWorker, {"--output=csv", "record", "publish", "--from-json=" + dir + "la.json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines = absl::StrSplit(r.out, "\r\n", absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 2u) << r.out;
    if (lines.size() != 2) return "";
    const std::string kid = lines[1].substr(0, lines[1].find(','));
    auto parts = DemoParts(slug);
    EXPECT_TRUE(parts.ok()) << parts.status();
    if (!parts.ok()) return kid;
    const auto& d = parts->front().request.record().identity().date_of_birth();
    const std::string proof =
        absl::StrFormat("--proof-dob=%04d-%02d-%02d", d.year(), d.month(), d.day());
    for (const auto& [file, agency] : std::vector<std::pair<std::string, std::string>>{
             {"school.json", "school-137000-designated-teacher"},
             {"health.json", "health-Y01234-health-practitioner"}}) {
      if (!std::filesystem::exists(dir + file)) continue;
      r = Ctl(agency,
              {"record", "publish", "--from-json=" + dir + file, "--kinex-id=" + kid, proof});
      EXPECT_EQ(r.exit_code, 0) << file << ": " << r.err;
    }
    // No Operation Encompass entry: the only notifications are the ones the
    // tests cause.
    const std::string police = MakeUniqueTempDir("kinexctl-notifications") + "/police.json";
    EXPECT_TRUE(WriteFileAtomically(police, R"({"record": {"scope": {"police_force_code": "01"},
                                                "police": {"criminal_exploitation_risk": true}}})")
                    .ok());
    r = Ctl(kPolice, {"--output=csv", "record", "publish", "--from-json=" + police,
                      "--kinex-id=" + kid, proof});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    // The LA's part does not name the force: its claim waits for the LA.
    EXPECT_THAT(r.out, HasSubstr(",1,CLAIMED\r\n"));
    r = Ctl(kTeamManager,
            {"--output=csv", "links", "confirm", "--kinex-id=" + kid, "--agency=police/01"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "kinex_id,agency,state\r\n" + kid + ",police/01,CONFIRMED\r\n");
    return kid;
  }

  // The id of the newest notification `agency` has, "" if none: the cursor
  // after which a test's own notifications start.
  std::string LastId(const std::string& agency) {
    auto r = Ctl(agency, {"notifications", "list", "--all-pages", "--page-size=100"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
    if (lines.empty()) return "";
    return lines.back().substr(0, lines.back().find(' '));
  }
  // `notifications list` after `cursor` (when there is one), then `extra`.
  static std::vector<std::string> ListAfter(const std::string& cursor,
                                            const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"notifications", "list"};
    if (!cursor.empty()) args.push_back("--after=" + cursor);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // A police read of `kid` for safeguarding; returns the audit leaf of the
  // disclosure (from its receipt), the first part of its notifications' ids.
  std::string PoliceRead(const std::string& kid, bool break_glass) {
    std::vector<std::string> args = {"--actor=DS Okafor", "--output=json",         "record", "get",
                                     "--kinex-id=" + kid, "--purpose=safeguarding"};
    if (break_glass) {
      args.push_back(absl::StrCat("--justification=", kBreakGlassWhy));
      args.push_back("--break-glass");
    } else {
      args.push_back(absl::StrCat("--justification=", kSafeguardingWhy));
    }
    auto r = Ctl(kPolice, args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string leaf = JsonNumber(r.out, "leaf_index");
    EXPECT_FALSE(leaf.empty()) << r.out;
    return leaf;
  }
};

// (a) A police break-glass read: the responsible LA is told and gets a
// review item, nobody else sees them; (b) acknowledging is idempotent and
// only the recipient's; (c) only a team manager closes the review, once.
TEST_F(KinexctlNotifications, BreakGlassReadIsListedAcknowledgedAndReviewed) {
  const std::string kid = Seed("jayden-whitlock");
  ASSERT_FALSE(kid.empty());
  const std::string before = LastId(kSocialWorker);
  const std::string leaf = PoliceRead(kid, /*break_glass=*/true);
  ASSERT_FALSE(leaf.empty());
  const std::string access = leaf + ".0";
  const std::string review = leaf + ".1";
  const std::string who = " from=police/01 actor=DS Okafor purpose=SAFEGUARDING break_glass=yes";
  const std::string access_line =
      access + " ACCESS DELIVERED child=" + kid + " reason=NOTIFY_RESPONSIBLE_LA" + who;
  const std::string review_line =
      review + " BREAK_GLASS_REVIEW DELIVERED child=" + kid + " reason=BREAK_GLASS_REVIEW" + who;

  // (a) The LA's list: exactly the two, in id order.
  auto r = Ctl(kSocialWorker, ListAfter(before));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, access_line + "\n" + review_line + "\n");
  EXPECT_EQ(r.err, "");
  // One page of one: the next page's cursor on the last line.
  r = Ctl(kSocialWorker, ListAfter(before, {"--page-size=1"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, access_line + "\nnext: --after=" + access + "\n");
  r = Ctl(kSocialWorker, ListAfter(access));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, review_line + "\n");
  // --all-pages follows the cursor to the end: no "next" line.
  r = Ctl(kSocialWorker, ListAfter(before, {"--page-size=1", "--all-pages"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, access_line + "\n" + review_line + "\n");
  r = Ctl(kSocialWorker, ListAfter(before, {"--kind=break-glass-review"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, review_line + "\n");
  // JSON: one object per line; the next cursor on stderr.
  std::vector<std::string> json_list = {"--output=json"};
  for (const std::string& w : ListAfter(before, {"--page-size=1"})) json_list.push_back(w);
  r = Ctl(kSocialWorker, json_list);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "next: --after=" + access + "\n");
  std::vector<std::string> json = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(json.size(), 1u) << r.out;
  EXPECT_EQ(json[0].rfind("{\"notification_id\":\"" + access + "\",\"kind\":\"ACCESS\"", 0), 0u)
      << json[0];
  EXPECT_THAT(json[0], HasSubstr("\"break_glass\":true"));
  EXPECT_THAT(json[0], HasSubstr("\"kinex_id\":\"" + kid + "\""));

  // Nobody else sees them: not the child's school, not the police who read.
  for (const char* other : {kSchool, kPolice}) {
    r = Ctl(other, {"notifications", "list", "--all-pages"});
    ASSERT_EQ(r.exit_code, 0) << other << ": " << r.err;
    EXPECT_EQ(r.out, "") << other;
  }

  // (b) Acknowledged, by whom; again: the first acknowledgement stands.
  const std::string acked_line = access + " ACCESS ACKNOWLEDGED child=" + kid +
                                 " reason=NOTIFY_RESPONSIBLE_LA" + who + " acked_by=SW Patel";
  r = Ctl(kSocialWorker, {"--actor=SW Patel", "notifications", "ack", access});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, acked_line + "\n");
  r = Ctl(kSocialWorker, {"notifications", "ack", access});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, acked_line + "\n");
  r = Ctl(kSocialWorker, ListAfter(before, {"--unacknowledged"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, review_line + "\n");
  // Another agency's id is unknown to it.
  r = Ctl(kSchool, {"notifications", "ack", access});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kinexctl: NOT_FOUND: notification_id: no notification \"" + access +
                       "\" for your agency [NOTIFICATION_NOT_FOUND]\n");
  // A review is closed by reviewing it, not acknowledging it.
  r = Ctl(kSocialWorker, {"notifications", "ack", review});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "kinexctl: FAILED_PRECONDITION: notification_id: \"" + review +
                       "\" is a break-glass review; a team manager closes it with "
                       "ReviewBreakGlass [NOTIFICATION_STATE_CONFLICT]\n");

  // (c) A social worker may not close the review.
  r = Ctl(kSocialWorker, {"breakglass", "review", review, "--outcome=upheld",
                          absl::StrCat("--note=", kUpheldNote)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "kinexctl: PERMISSION_DENIED: ReviewBreakGlass: only a team manager of the responsible "
            "local authority (role team-manager) closes a break-glass review "
            "[REVIEWER_NOT_PERMITTED]\n");
  // The team manager upholds it; the same review again prints the first.
  const std::string reviewed_line = review + " BREAK_GLASS_REVIEW ACKNOWLEDGED child=" + kid +
                                    " reason=BREAK_GLASS_REVIEW" + who +
                                    " review=UPHELD acked_by=TM Price";
  for (int i = 0; i < 2; ++i) {
    r = Ctl(kTeamManager, {"--actor=TM Price", "breakglass", "review", review, "--outcome=upheld",
                           absl::StrCat("--note=", kUpheldNote)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, reviewed_line + "\n") << "review " << i;
  }
  // A different review is refused.
  r = Ctl(kTeamManager, {"breakglass", "review", review, "--outcome=referred",
                         "--note=Referred to the data protection officer for answer."});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kinexctl: FAILED_PRECONDITION: notification_id: \"" + review +
                       "\" was already reviewed (UPHELD by TM Price); a review is closed once "
                       "[NOTIFICATION_STATE_CONFLICT]\n");
  // Everything is closed now.
  r = Ctl(kSocialWorker, ListAfter(before, {"--unacknowledged"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = Ctl(kSocialWorker, ListAfter(before));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, acked_line + "\n" + reviewed_line + "\n");
}

// (d) A watcher started before a disclosure prints it and keeps its id in
// the cursor file; a second watcher with the same file prints only the next
// one.
TEST_F(KinexctlNotifications, WatchResumesAfterTheCursorFile) {
  const std::string kid = Seed("priya-bennett");
  ASSERT_FALSE(kid.empty());
  const std::string cursor = MakeUniqueTempDir("kinexctl-notifications") + "/la.cursor";
  // Start after every notification so far (none at all: no file, and the
  // watch starts from the unacknowledged, of which there are none).
  if (const std::string before = LastId(kSocialWorker); !before.empty()) {
    ASSERT_TRUE(WriteFileAtomically(cursor, before + "\n").ok());
  }
  auto line = [&](const std::string& leaf) {
    return leaf + ".0 ACCESS DELIVERED child=" + kid +
           " reason=NOTIFY_RESPONSIBLE_LA from=police/01 actor=DS Okafor purpose=SAFEGUARDING";
  };

  auto watch = Subprocess::Start(
      Argv(kSocialWorker, {"notifications", "watch", "--max=1", "--cursor-file=" + cursor}));
  ASSERT_TRUE(watch.ok()) << watch.status();
  const std::string first = PoliceRead(kid, /*break_glass=*/false);
  ASSERT_FALSE(first.empty());
  // Only a guard against a hang: the line is there as soon as it is made.
  absl::StatusOr<std::string> got = (*watch)->ReadStdoutLine(absl::Seconds(120));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, line(first));
  EXPECT_EQ((*watch)->Wait(), 0) << (*watch)->DrainStderr();
  EXPECT_EQ((*watch)->DrainStdout(), "");
  auto stored = ReadFileToString(cursor);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, first + ".0\n");

  // The next one only, not the first again.
  const std::string second = PoliceRead(kid, /*break_glass=*/false);
  ASSERT_FALSE(second.empty());
  auto r = Ctl(kSocialWorker, {"notifications", "watch", "--max=1", "--cursor-file=" + cursor});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, line(second) + "\n");
  EXPECT_EQ(r.err, "");
  stored = ReadFileToString(cursor);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, second + ".0\n");

  // --after wins over the file (which would start after the second).
  r = Ctl(kSocialWorker, {"notifications", "watch", "--max=1", "--after=" + first + ".0",
                          "--cursor-file=" + cursor, "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> json = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(json.size(), 1u) << r.out;
  EXPECT_EQ(json[0].rfind("{\"notification_id\":\"" + second + ".0\"", 0), 0u) << json[0];
}

// Mistakes are caught before any call, with the usage synopsis; the
// server's own refusals keep their reason.
TEST_F(KinexctlNotifications, UsageErrors) {
  auto r = Ctl(kTeamManager,
               {"breakglass", "review", "1.1", "--outcome=dismissed", "--note=Not needed at all."});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "kinexctl: INVALID_ARGUMENT: --outcome: unknown value \"dismissed\" (one of upheld, "
            "referred)\n"
            "usage: kinexctl breakglass review ID --outcome=upheld|referred --note=TEXT\n");
  r = Ctl(kTeamManager, {"breakglass", "review", "1.1", "--outcome=upheld"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("kinexctl: INVALID_ARGUMENT: --outcome=upheld|referred and "
                               "--note=TEXT (your reasons) are required\n"));
  r = Ctl(kSocialWorker, {"notifications", "list", "--kind=alert"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("kinexctl: INVALID_ARGUMENT: --kind: unknown value \"alert\" (one "
                               "of access, break-glass-review, encompass, encompass-escalation, "
                               "vsh-alert)\n"));
  r = Ctl(kSocialWorker, {"notifications", "watch", "--max=0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(
      r.err, HasSubstr("kinexctl: INVALID_ARGUMENT: --max must be a positive number, not \"0\"\n"));
  r = Ctl(kSocialWorker, {"notifications", "ack"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("kinexctl: INVALID_ARGUMENT: notifications ack needs a "
                               "notification id (e.g. 812.0)\n"));
  r = Ctl(kSocialWorker, {"notifications", "mute"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown subcommand \"notifications mute\" (list, watch, ack)"));
  // The server's: a malformed id (no usage synopsis after a call).
  r = Ctl(kSocialWorker, {"notifications", "ack", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "kinexctl: INVALID_ARGUMENT: notification_id: notification id \"nope\" is not of the "
            "form <leaf index>.<ordinal> [INVALID_FIELD]\n");
  for (const char* group : {"notifications", "breakglass"}) {
    r = Ctl(kSocialWorker, {group, "--help"});
    EXPECT_EQ(r.exit_code, 0) << group;
    EXPECT_EQ(r.out.rfind(absl::StrCat("usage: kinexctl ", group, " "), 0), 0u) << r.out;
  }
}

}  // namespace
}  // namespace kinex::testing
