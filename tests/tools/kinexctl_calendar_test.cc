// kinexctl's calendar commands as a school and its LA use them: the real
// binary against a real `kinex` over mTLS, with agency certificates from the
// project's PKI script (docs/notifications.md, "Deadlines"; issue #15).
// School 137000's designated safeguarding lead publishes its calendar from a
// textproto file, reads it back (any role of the school may), edits what
// `get` printed and publishes it again with its etag; a stale etag is
// refused naming the current one. A file that does not parse is refused
// before anything is sent; police may not publish calendars. Every output
// line is asserted whole.
//
// Example:
//   build/bin/kinexctl_calendar_test --gtest_filter='*StaleEtag*'
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/common/file_util.h"
#include "tests/integration/cluster.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace kinex::testing {
namespace {

namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Certificates (base names under the cluster's PKI, certs/agencies.txt).
constexpr char kSchoolDsl[] = "school-137000-designated-safeguarding-lead";
constexpr char kSchoolTeacher[] = "school-137000-designated-teacher";
constexpr char kOtherSchool[] = "school-141999-designated-safeguarding-lead";
constexpr char kSocialWorker[] = "local-authority-E09000033-social-worker";
constexpr char kPolice[] = "police-01-public-protection-officer";

constexpr char kSynopsis[] =
    "usage: kinexctl calendar publish FILE [--etag=ETAG]\n"
    "       kinexctl calendar get\n";

// School 137000's autumn term 2027: Monday 8 November is an INSET day, the
// school day starts at 08:40.
constexpr char kAutumn[] = R"txt(school_urn: "137000"
terms {
  first { year: 2027 month: 9 day: 1 }
  last { year: 2027 month: 12 day: 17 }
}
closures { year: 2027 month: 11 day: 8 }
day_start: "08:40"
)txt";

// kAutumn as TextFormat prints it (what `calendar get` prints after its
// comment lines).
constexpr char kAutumnPrinted[] =
    "school_urn: \"137000\"\n"
    "terms {\n"
    "  first {\n"
    "    year: 2027\n"
    "    month: 9\n"
    "    day: 1\n"
    "  }\n"
    "  last {\n"
    "    year: 2027\n"
    "    month: 12\n"
    "    day: 17\n"
    "  }\n"
    "}\n"
    "closures {\n"
    "  year: 2027\n"
    "  month: 11\n"
    "  day: 8\n"
    "}\n"
    "day_start: \"08:40\"\n";

// What `calendar publish` printed (--output=table): the header, then one row.
struct Published {
  std::string etag;
  std::string publish_time;
};

class KinexctlCalendar : public SharedClusterTest<KinexctlCalendar> {
 protected:
  // Writes `text` to a new file in a fresh temp dir; returns its path.
  static std::string File(const std::string& name, const std::string& text) {
    const std::string path = MakeUniqueTempDir("kinexctl-calendar") + "/" + name;
    EXPECT_TRUE(WriteFileAtomically(path, text).ok()) << path;
    return path;
  }

  // The etag and time of a successful table-output publish of `key`'s
  // calendar, after checking the whole output; empty on a mismatch.
  static Published ParsePublished(const Subprocess::Result& r, const std::string& key) {
    std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 2u) << r.out;
    if (lines.size() != 2) return {};
    std::vector<std::string> cells = absl::StrSplit(lines[1], ' ', absl::SkipEmpty());
    EXPECT_EQ(cells.size(), 3u) << lines[1];
    if (cells.size() != 3) return {};
    EXPECT_EQ(cells[0], key);
    EXPECT_THAT(cells[1], MatchesRegex("[0-9a-f]{24}"));
    EXPECT_THAT(cells[2], MatchesRegex("20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:.]+Z"));
    // The aligned table, whole: columns two spaces past their widest cell.
    const size_t width = std::max(key.size(), std::string("calendar").size()) + 2;
    EXPECT_EQ(r.out,
              absl::StrCat("calendar", std::string(width - 8, ' '), "etag",
                           std::string(cells[1].size() + 2 - 4, ' '), "publish_time\n", key,
                           std::string(width - key.size(), ' '), cells[1], "  ", cells[2], "\n"));
    return {cells[1], cells[2]};
  }

  // The audit events of `kinds` made by school `urn`, oldest first.
  std::vector<av1::AuditEvent> SchoolEvents(const std::string& urn,
                                            const std::vector<av1::EventKind>& kinds) {
    av1::QueryEventsRequest query;
    query.set_agency_kind(cv1::SCHOOL);
    query.set_agency_code(urn);
    for (av1::EventKind k : kinds) query.add_kinds(k);
    return AuditEvents(*cluster_, query, "kinexctl-calendar-audit");
  }
};

// Publish, read back (as another role too), edit what `get` printed and
// publish it with its etag; a stale etag is ABORTED naming the current one,
// and changes nothing.
TEST_F(KinexctlCalendar, PublishGetReplaceAndStaleEtag) {
  const std::string file = File("autumn-2027.textproto", kAutumn);
  auto r = Ctl(kSchoolDsl, {"--actor=School Office", "calendar", "publish", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const Published first = ParsePublished(r, "school:137000");
  ASSERT_FALSE(first.etag.empty());

  // One CALENDAR_PUBLISHED event, about no child.
  std::vector<av1::AuditEvent> events = SchoolEvents("137000", {av1::CALENDAR_PUBLISHED});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].record_id(), "school:137000");
  EXPECT_EQ(events[0].method(), "PublishSchoolCalendar");
  EXPECT_EQ(events[0].actor(), "School Office");

  // `get` prints the comment lines and the calendar as stored; any role of
  // the school reads it.
  const std::string printed = absl::StrCat(
      "# calendar: school:137000\n# etag: ", first.etag, "\n# published: ", first.publish_time,
      " by spiffe://kinex.dev/school/137000/designated-safeguarding-lead (actor: "
      "School Office)\n",
      kAutumnPrinted);
  for (const char* who : {kSchoolDsl, kSchoolTeacher}) {
    r = Ctl(who, {"calendar", "get"});
    ASSERT_EQ(r.exit_code, 0) << who << ": " << r.err;
    EXPECT_EQ(r.out, printed) << who;
    EXPECT_EQ(r.err, "") << who;
  }
  // json: the response in the protobuf JSON mapping.
  r = Ctl(kSchoolDsl, {"--output=json", "calendar", "get"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"etag\": \"", first.etag, "\"")));
  EXPECT_THAT(r.out, HasSubstr("\"day_start\": \"08:40\""));
  // csv: one row, the calendar on one line.
  r = Ctl(kSchoolDsl, {"--output=csv", "calendar", "get"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            absl::StrCat("calendar,etag,publish_time,principal,actor,textproto\r\n"
                         "school:137000,",
                         first.etag, ",", first.publish_time,
                         ",spiffe://kinex.dev/school/137000/designated-safeguarding-lead,"
                         "School Office,\"school_urn: \"\"137000\"\" terms { first { year: 2027 "
                         "month: 9 day: 1 } last { year: 2027 month: 12 day: 17 } } closures { "
                         "year: 2027 month: 11 day: 8 } day_start: \"\"08:40\"\"\"\r\n"));

  // What `get` printed, edited, is a file `publish` takes: the day now
  // starts at 08:30. Without the etag: ABORTED naming the current one.
  const std::string edited =
      File("edited.textproto", absl::StrReplaceAll(printed, {{"\"08:40\"", "\"08:30\""}}));
  r = Ctl(kSchoolDsl, {"calendar", "publish", edited});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: ABORTED: etag: required; your calendar is published "
                                "already, its etag is ",
                                first.etag, " (retry with that etag) [ETAG_MISMATCH]\n"));
  r = Ctl(kSchoolDsl, {"calendar", "publish", edited, "--etag=" + first.etag});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Published second = ParsePublished(r, "school:137000");
  ASSERT_FALSE(second.etag.empty());
  EXPECT_NE(second.etag, first.etag);

  // The first etag is stale now.
  r = Ctl(kSchoolDsl, {"calendar", "publish", file, "--etag", first.etag});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: ABORTED: etag: stale; your calendar is published "
                                "already, its etag is ",
                                second.etag, " (retry with that etag) [ETAG_MISMATCH]\n"));
  // ... and changed nothing: the replacement stands, by "Test User".
  r = Ctl(kSchoolDsl, {"calendar", "get"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat("# calendar: school:137000\n# etag: ", second.etag,
                                "\n# published: ", second.publish_time,
                                " by spiffe://kinex.dev/school/137000/designated-safeguarding-lead "
                                "(actor: Test User)\n",
                                absl::StrReplaceAll(kAutumnPrinted, {{"\"08:40\"", "\"08:30\""}})));
  EXPECT_EQ(SchoolEvents("137000", {av1::CALENDAR_PUBLISHED}).size(), 2u);
}

// A file that does not parse is refused with its file:line:column, as a
// usage error (exit 2, the synopsis after it), and nothing reaches Kinex: no
// calendar, no audit event.
TEST_F(KinexctlCalendar, AFileThatDoesNotParseIsRefusedBeforeAnythingIsSent) {
  const std::string bad = File("typo.textproto", R"txt(school_urn: "141999"
terms {
  first { year: 2027 month: 9 day: 1 }
  lst { year: 2027 month: 12 day: 17 }
}
)txt");
  auto r = Ctl(kOtherSchool, {"calendar", "publish", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: INVALID_ARGUMENT: ", bad,
                                ":4:7: Message type \"kinex.notifications.v1.DateRange\" has no "
                                "field named \"lst\".\n",
                                kSynopsis));
  // A missing file names itself (exit 1, as other commands' missing files).
  r = Ctl(kOtherSchool, {"calendar", "publish", bad + ".missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: NOT_FOUND: ", bad, ".missing: no such file\n"));

  r = Ctl(kOtherSchool, {"calendar", "get"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "kinexctl: NOT_FOUND: no calendar is published for school:141999 "
            "(PublishSchoolCalendar publishes one) [NOT_FOUND]\n");
  EXPECT_EQ(SchoolEvents("141999", {av1::CALENDAR_PUBLISHED, av1::WRITE_REFUSED}).size(), 0u);
}

// The server's refusals keep their reason: police may not publish or read
// calendars; a calendar that parses but does not validate names the field
// (INVALID_ARGUMENT from the server: exit 2, no synopsis).
TEST_F(KinexctlCalendar, ServerRefusals) {
  const std::string file = File("autumn-2027.textproto", kAutumn);
  auto r = Ctl(kPolice, {"calendar", "publish", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "kinexctl: PERMISSION_DENIED: a police agency may not publish school calendars (only "
            "schools and local authorities do; "
            "spiffe://kinex.dev/police/01/public-protection-officer) [FIELD_NOT_OWNED]\n");
  r = Ctl(kPolice, {"calendar", "get"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "kinexctl: PERMISSION_DENIED: a police agency may not read school calendars (only "
            "schools and local authorities do; "
            "spiffe://kinex.dev/police/01/public-protection-officer) [FIELD_NOT_OWNED]\n");

  const std::string backwards = File("backwards.textproto", R"txt(la_code: "E09000033"
terms {
  first { year: 2028 month: 1 day: 5 }
  last { year: 2028 month: 1 day: 4 }
}
)txt");
  r = Ctl(kSocialWorker, {"calendar", "publish", backwards});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "kinexctl: INVALID_ARGUMENT: calendar.terms[0].last: 2028-01-04 is before first "
            "2028-01-05 [INVALID_FIELD]\n");
}

// Mistakes are caught before any call, with the usage synopsis.
TEST_F(KinexctlCalendar, UsageErrors) {
  auto r = Ctl(kSchoolDsl, {"calendar", "publish"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: INVALID_ARGUMENT: calendar publish needs a FILE (a "
                                "SchoolCalendar textproto)\n",
                                kSynopsis));
  r = Ctl(kSchoolDsl, {"calendar", "publish", "a.textproto", "b.textproto"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: INVALID_ARGUMENT: unexpected argument \"b.textproto\"\n",
                                kSynopsis));
  r = Ctl(kSchoolDsl, {"calendar", "get", "--etag=x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: INVALID_ARGUMENT: unknown flag --etag (see --help)\n",
                                kSynopsis));
  r = Ctl(kSchoolDsl, {"calendar", "delete"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, absl::StrCat("kinexctl: INVALID_ARGUMENT: unknown subcommand \"calendar "
                                "delete\" (publish, get)\n",
                                kSynopsis));
  r = Ctl(kSchoolDsl, {"calendar", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind(kSynopsis, 0), 0u) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Example:\n  kinexctl --actor=\"School Office\" calendar publish "
                               "autumn-2027.textproto\n"));
}

}  // namespace
}  // namespace kinex::testing
