// Tests of SchoolCalendars: next-school-day deadlines in Europe/London (terms,
// closures, half terms, LA calendars, DST), loading calendar files and every
// validation error, and failing closed without the time zone.
#include "services/records/school_calendar.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/textproto.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::records {
namespace {

using kinex::notifications::v1::SchoolCalendar;
using ::kinex::testing::IsOk;
using ::kinex::testing::ScopedTempDir;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::string_view kNoZone = "time zone Europe/London is not available (install tzdata)";

absl::TimeZone LondonZone() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  return zone;
}

// Local time in Europe/London.
absl::Time London(int y, int m, int d, int hh, int mm, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), LondonZone());
}

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

// The offset from UTC, in seconds, of `t` in Europe/London.
int LondonOffset(absl::Time t) { return LondonZone().At(t).offset; }

SchoolCalendar Parse(absl::string_view text) {
  SchoolCalendar calendar;
  EXPECT_THAT(ParseTextProto(text, "test", &calendar), IsOk());
  return calendar;
}

// School 100001, autumn 2026: term 2 Sep - 23 Oct, half term, term 2 Nov -
// 18 Dec; closed on Monday 9 Nov.
constexpr absl::string_view kSchool = R"pb(
  school_urn: "100001"
  terms {
    first { year: 2026 month: 9 day: 2 }
    last { year: 2026 month: 10 day: 23 }
  }
  terms {
    first { year: 2026 month: 11 day: 2 }
    last { year: 2026 month: 12 day: 18 }
  }
  closures { year: 2026 month: 11 day: 9 }
)pb";

// LA E09000033, 2026-27 autumn and spring, no half terms, 08:30.
constexpr absl::string_view kLa = R"pb(
  la_code: "E09000033"
  day_start: "08:30"
  terms {
    first { year: 2026 month: 9 day: 3 }
    last { year: 2026 month: 12 day: 18 }
  }
  terms {
    first { year: 2027 month: 1 day: 5 }
    last { year: 2027 month: 3 day: 26 }
  }
)pb";

std::shared_ptr<const SchoolCalendars> Load(std::vector<SchoolCalendar> calendars) {
  absl::StatusOr<std::shared_ptr<const SchoolCalendars>> loaded =
      SchoolCalendars::FromProtos(std::move(calendars));
  EXPECT_THAT(loaded, IsOk());
  return loaded.ok() ? *loaded : SchoolCalendars::Empty();
}

SchoolCalendar SchoolWith(absl::string_view extra) {
  SchoolCalendar calendar = Parse(kSchool);
  SchoolCalendar more = Parse(extra);
  calendar.MergeFrom(more);
  return calendar;
}

void WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

// --- Deadlines ---

TEST(NextSchoolDayStartTest, WithoutCalendarsFridayEveningIsMondayEight) {
  const SchoolCalendars::Deadline d =
      SchoolCalendars::Empty()->NextSchoolDayStart(London(2026, 11, 6, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 9, 8, 0));
  EXPECT_EQ(d.source, "default");
  EXPECT_EQ(SchoolCalendars::Empty()->size(), 0u);
}

TEST(NextSchoolDayStartTest, UnknownSchoolAndLaUseTheDefault) {
  auto calendars = Load({Parse(kSchool), Parse(kLa)});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 11, 6, 17, 0), "100002", "E09000001");
  EXPECT_EQ(d.time, London(2026, 11, 9, 8, 0));
  EXPECT_EQ(d.source, "default");
}

TEST(NextSchoolDayStartTest, ClosureMovesTheDeadlineToTuesday) {
  auto calendars = Load({Parse(kSchool)});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 11, 6, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 10, 8, 0));
  EXPECT_EQ(d.source, "school:100001");
}

TEST(NextSchoolDayStartTest, SchoolDayStartIsUsed) {
  auto calendars = Load({SchoolWith(R"pb(day_start: "08:45")pb")});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 11, 6, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 10, 8, 45));
  EXPECT_EQ(d.source, "school:100001");
}

TEST(NextSchoolDayStartTest, BeforeTheStartOfASchoolDayIsThatDay) {
  auto calendars = Load({Parse(kSchool)});
  // Tuesday 10 November, a school day.
  SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 11, 10, 7, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 10, 8, 0));
  EXPECT_EQ(d.source, "school:100001");
  d = calendars->NextSchoolDayStart(London(2026, 11, 10, 7, 59, 59), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 10, 8, 0));
}

TEST(NextSchoolDayStartTest, AtExactlyTheStartIsTheNextSchoolDay) {
  auto calendars = Load({Parse(kSchool)});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 11, 10, 8, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 11, 8, 0));
  EXPECT_EQ(d.source, "school:100001");
}

TEST(NextSchoolDayStartTest, HalfTermIsSkippedToTheNextTerm) {
  // The LA it follows has no half term, but the school's own terms cover
  // these dates and decide.
  auto calendars = Load({SchoolWith(R"pb(follows_la_code: "E09000033")pb"), Parse(kLa)});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 10, 23, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 2, 8, 0));
  EXPECT_EQ(d.source, "school:100001");
  EXPECT_EQ(d.time, Utc(2026, 11, 2, 8, 0));  // GMT
}

TEST(NextSchoolDayStartTest, SchoolFollowsItsLaOutsideItsOwnTerms) {
  auto calendars = Load({SchoolWith(R"pb(follows_la_code: "E09000033")pb"), Parse(kLa)});
  // After the school's last term: the LA's Christmas holiday, then its
  // spring term at the LA's 08:30.
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 12, 18, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2027, 1, 5, 8, 30));
  EXPECT_EQ(d.source, "la:E09000033");
}

TEST(NextSchoolDayStartTest, SchoolNotFollowingAnLaUsesTheDefaultOutsideItsTerms) {
  // The child's LA (la_code) is not consulted for a school with a calendar.
  auto calendars = Load({Parse(kSchool), Parse(kLa)});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 12, 18, 17, 0), "100001", "E09000033");
  EXPECT_EQ(d.time, London(2026, 12, 21, 8, 0));
  EXPECT_EQ(d.source, "default");
}

TEST(NextSchoolDayStartTest, LaCalendarOfTheChildWhenTheSchoolHasNone) {
  auto calendars = Load({Parse(kSchool), Parse(kLa)});
  SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 12, 18, 17, 0), "100002", "E09000033");
  EXPECT_EQ(d.time, London(2027, 1, 5, 8, 30));
  EXPECT_EQ(d.source, "la:E09000033");
  d = calendars->NextSchoolDayStart(London(2026, 12, 18, 17, 0), "", "E09000033");
  EXPECT_EQ(d.time, London(2027, 1, 5, 8, 30));
  EXPECT_EQ(d.source, "la:E09000033");
}

TEST(NextSchoolDayStartTest, BeforeACalendarCoversTheDateTheDefaultDecides) {
  auto calendars = Load({Parse(kLa)});
  // Friday 28 August 2026; the LA's calendar starts on 3 September.
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 8, 28, 17, 0), "", "E09000033");
  EXPECT_EQ(d.time, London(2026, 8, 31, 8, 0));
  EXPECT_EQ(d.source, "default");
}

TEST(NextSchoolDayStartTest, AcrossTheOctoberClockChangeIsEightGmt) {
  // Friday 23 October 2026 17:00 BST; clocks go back on Sunday 25 October.
  const SchoolCalendars::Deadline d =
      SchoolCalendars::Empty()->NextSchoolDayStart(London(2026, 10, 23, 17, 0), "", "");
  EXPECT_EQ(d.time, London(2026, 10, 26, 8, 0));
  EXPECT_EQ(d.time, Utc(2026, 10, 26, 8, 0));
  EXPECT_EQ(LondonOffset(d.time), 0);
  EXPECT_EQ(LondonOffset(London(2026, 10, 23, 17, 0)), 3600);
}

TEST(NextSchoolDayStartTest, AcrossTheMarchClockChangeIsEightBst) {
  // Friday 27 March 2026 17:00 GMT; clocks go forward on Sunday 29 March.
  const SchoolCalendars::Deadline d =
      SchoolCalendars::Empty()->NextSchoolDayStart(London(2026, 3, 27, 17, 0), "", "");
  EXPECT_EQ(d.time, London(2026, 3, 30, 8, 0));
  EXPECT_EQ(d.time, Utc(2026, 3, 30, 7, 0));
  EXPECT_EQ(LondonOffset(d.time), 3600);
  EXPECT_EQ(LondonOffset(London(2026, 3, 27, 17, 0)), 0);
}

TEST(NextSchoolDayStartTest, LongGapWithinFourHundredDaysIsFollowed) {
  auto calendars = Load({Parse(R"pb(
    school_urn: "100001"
    terms {
      first { year: 2026 month: 1 day: 5 }
      last { year: 2026 month: 1 day: 5 }
    }
    terms {
      first { year: 2026 month: 12 day: 1 }
      last { year: 2026 month: 12 day: 1 }
    }
  )pb")});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 1, 5, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 12, 1, 8, 0));
  EXPECT_EQ(d.source, "school:100001");
}

TEST(NextSchoolDayStartTest, NoSchoolDayInFourHundredDaysGivesTheDefault) {
  auto calendars = Load({Parse(R"pb(
    school_urn: "100001"
    terms {
      first { year: 2026 month: 1 day: 5 }
      last { year: 2026 month: 1 day: 5 }
    }
    terms {
      first { year: 2028 month: 1 day: 4 }
      last { year: 2028 month: 1 day: 4 }
    }
  )pb")});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 1, 5, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 1, 6, 8, 0));
  EXPECT_EQ(d.source, "default");
}

TEST(NextSchoolDayStartTest, OverlappingTermsAndUnsortedInput) {
  auto calendars = Load({Parse(R"pb(
    school_urn: "100001"
    terms {
      first { year: 2026 month: 11 day: 2 }
      last { year: 2026 month: 11 day: 6 }
    }
    terms {
      first { year: 2026 month: 9 day: 2 }
      last { year: 2026 month: 12 day: 18 }
    }
    closures { year: 2026 month: 11 day: 10 }
    closures { year: 2026 month: 11 day: 9 }
  )pb")});
  const SchoolCalendars::Deadline d =
      calendars->NextSchoolDayStart(London(2026, 11, 6, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 11, 8, 0));
  EXPECT_EQ(d.source, "school:100001");
}

// --- Loading files ---

TEST(LoadDirTest, LoadsEveryTextprotoFile) {
  ScopedTempDir dir("school-calendars");
  WriteFile(dir.File("school.textproto"),
            absl::StrCat(kSchool, "follows_la_code: \"E09000033\"\nday_start: \"08:45\"\n"));
  WriteFile(dir.File("la.textproto"), kLa);
  WriteFile(dir.File("README.md"), "not a calendar");
  absl::StatusOr<std::shared_ptr<const SchoolCalendars>> loaded =
      SchoolCalendars::LoadDir(dir.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->size(), 2u);
  SchoolCalendars::Deadline d =
      (*loaded)->NextSchoolDayStart(London(2026, 11, 6, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2026, 11, 10, 8, 45));
  EXPECT_EQ(d.source, "school:100001");
  d = (*loaded)->NextSchoolDayStart(London(2026, 12, 18, 17, 0), "100001", "");
  EXPECT_EQ(d.time, London(2027, 1, 5, 8, 30));
  EXPECT_EQ(d.source, "la:E09000033");
}

TEST(LoadDirTest, EmptyPathAndEmptyDirectoryMeanNoCalendars) {
  absl::StatusOr<std::shared_ptr<const SchoolCalendars>> loaded = SchoolCalendars::LoadDir("");
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->size(), 0u);
  ScopedTempDir dir("school-calendars");
  loaded = SchoolCalendars::LoadDir(dir.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->size(), 0u);
}

TEST(LoadDirTest, MissingDirectory) {
  ScopedTempDir dir("school-calendars");
  const std::string missing = dir.File("nope");
  EXPECT_THAT(SchoolCalendars::LoadDir(missing),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("school calendar directory \"", missing, "\" does not exist")));
  WriteFile(dir.File("file"), "");
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.File("file")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("school calendar directory \"", dir.File("file"),
                                    "\" is not a directory")));
}

TEST(LoadDirTest, FileThatDoesNotParseIsNamedWithItsLine) {
  ScopedTempDir dir("school-calendars");
  WriteFile(dir.File("broken.textproto"),
            "school_urn: \"100001\"\n"
            "terms { frist { year: 2026 } }\n");
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("broken.textproto"),
                                    ":2:15: Message type \"kinex.notifications.v1.DateRange\" has "
                                    "no field named \"frist\".")));
}

TEST(LoadDirTest, BadUrnIsNamedWithItsLine) {
  ScopedTempDir dir("school-calendars");
  WriteFile(dir.File("bad.textproto"),
            "# Example Primary\n"
            "school_urn: \"12345\"\n"
            "terms {\n"
            "  first { year: 2026 month: 9 day: 2 }\n"
            "  last { year: 2026 month: 10 day: 23 }\n"
            "}\n");
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("bad.textproto"),
                                    ":2: school_urn: \"12345\" is not a URN (6 digits)")));
}

TEST(LoadDirTest, TermEndingBeforeItStartsIsNamedWithItsLine) {
  ScopedTempDir dir("school-calendars");
  WriteFile(dir.File("bad.textproto"),
            "school_urn: \"100001\"\n"
            "terms {\n"
            "  first { year: 2026 month: 9 day: 2 }\n"
            "  last { year: 2026 month: 9 day: 1 }\n"
            "}\n");
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("bad.textproto"),
                                    ":4: terms[0].last: 2026-09-01 is before first 2026-09-02")));
}

TEST(LoadDirTest, MissingFieldIsNamedByTheEnclosingMessage) {
  ScopedTempDir dir("school-calendars");
  WriteFile(dir.File("bad.textproto"),
            "school_urn: \"100001\"\n"
            "day_start: \"08:45\"\n"
            "terms {\n"
            "  last { year: 2026 month: 9 day: 1 }\n"
            "}\n"
            "closures { year: 2026 month: 9 day: 31 }\n");
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("bad.textproto"),
                                    ":3: terms[0].first: a date (year, month, day) is required")));
}

TEST(LoadDirTest, BadClosureAndDayStartAreNamedWithTheirLines) {
  ScopedTempDir dir("school-calendars");
  const std::string terms =
      "terms {\n"
      "  first { year: 2026 month: 9 day: 2 }\n"
      "  last { year: 2026 month: 10 day: 23 }\n"
      "}\n";
  WriteFile(dir.File("a.textproto"), absl::StrCat("school_urn: \"100001\"\n", terms,
                                                  "closures { year: 2026 month: 9 day: 30 }\n"
                                                  "closures { year: 2026 month: 9 day: 31 }\n"));
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("a.textproto"),
                                    ":7: closures[1]: 2026-09-31 is not a date (year 1900-9999)")));
  WriteFile(dir.File("a.textproto"),
            absl::StrCat("school_urn: \"100001\"\n", terms, "day_start: \"8:45\"\n"));
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("a.textproto"),
                                    ":6: day_start: \"8:45\" is not a time HH:MM (00:00-23:59)")));
}

TEST(LoadDirTest, SameSchoolInTwoFilesNamesBoth) {
  ScopedTempDir dir("school-calendars");
  WriteFile(dir.File("a.textproto"), kSchool);
  WriteFile(dir.File("b.textproto"), absl::StrCat("\n", kSchool));
  // kSchool starts with a newline: school_urn is on line 2 of a, 3 of b.
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("b.textproto"),
                                    ":3: school_urn: \"100001\" has a calendar already, in ",
                                    dir.File("a.textproto"), ":2")));
}

TEST(LoadDirTest, SameLaInTwoFilesNamesBoth) {
  ScopedTempDir dir("school-calendars");
  WriteFile(dir.File("a.textproto"), kLa);
  WriteFile(dir.File("b.textproto"), kLa);
  EXPECT_THAT(SchoolCalendars::LoadDir(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(dir.File("b.textproto"),
                                    ":2: la_code: \"E09000033\" has a calendar already, in ",
                                    dir.File("a.textproto"), ":2")));
}

// --- Validation (FromProtos) ---

absl::Status FromOne(absl::string_view text) {
  return SchoolCalendars::FromProtos({Parse(text)}).status();
}

constexpr absl::string_view kTerm = R"pb(
  terms {
    first { year: 2026 month: 9 day: 2 }
    last { year: 2026 month: 10 day: 23 }
  }
)pb";

TEST(FromProtosTest, BadUrn) {
  for (const char* urn : {"12345", "1000011", "10000A", " 100001"}) {
    EXPECT_THAT(
        FromOne(absl::StrCat("school_urn: \"", urn, "\"", kTerm)),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("calendars[0]: school_urn: \"", urn, "\" is not a URN (6 digits)")));
  }
}

TEST(FromProtosTest, BothUrnAndLaCode) {
  EXPECT_THAT(FromOne(absl::StrCat(R"pb(school_urn: "100001" la_code: "E09000033")pb", kTerm)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: la_code: \"E09000033\" is set with school_urn \"100001\": a "
                       "calendar is a school's or an LA's, not both"));
}

TEST(FromProtosTest, NeitherUrnNorLaCode) {
  EXPECT_THAT(FromOne(kTerm),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: school_urn: one of school_urn (a school's calendar) and "
                       "la_code (an LA's) is required"));
}

TEST(FromProtosTest, BadLaCode) {
  for (const char* code : {"S12000033", "E0900003", "E090000333", "e09000033", "EE9000033"}) {
    EXPECT_THAT(FromOne(absl::StrCat("la_code: \"", code, "\"", kTerm)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("calendars[0]: la_code: \"", code,
                                      "\" is not an LA's ONS code (E or W then 8 digits, e.g. "
                                      "E09000033)")));
  }
  EXPECT_THAT(FromOne(absl::StrCat(R"pb(la_code: "W06000015")pb", kTerm)), IsOk());
}

TEST(FromProtosTest, FollowsLaCode) {
  EXPECT_THAT(
      FromOne(absl::StrCat(R"pb(la_code: "E09000033" follows_la_code: "E09000001")pb", kTerm)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "calendars[0]: follows_la_code: only a school's calendar may follow an LA's"));
  EXPECT_THAT(
      FromOne(absl::StrCat(R"pb(school_urn: "100001" follows_la_code: "E0900003")pb", kTerm)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "calendars[0]: follows_la_code: \"E0900003\" is not an LA's ONS code (E or W then "
               "8 digits, e.g. E09000033)"));
}

TEST(FromProtosTest, TermsAreRequired) {
  EXPECT_THAT(FromOne(R"pb(school_urn: "100001")pb"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: terms: at least one term is required"));
  EXPECT_THAT(FromOne(R"pb(school_urn: "100001"
                           terms { first { year: 2026 month: 9 day: 2 } })pb"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: terms[0].last: a date (year, month, day) is required"));
}

TEST(FromProtosTest, TermLastBeforeFirst) {
  EXPECT_THAT(FromOne(absl::StrCat(R"pb(school_urn: "100001")pb", kTerm, R"pb(
                terms {
                  first { year: 2027 month: 1 day: 5 }
                  last { year: 2027 month: 1 day: 4 }
                }
              )pb")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: terms[1].last: 2027-01-04 is before first 2027-01-05"));
}

TEST(FromProtosTest, InvalidDates) {
  EXPECT_THAT(FromOne(R"pb(school_urn: "100001"
                           terms {
                             first { year: 2027 month: 2 day: 29 }
                             last { year: 2027 month: 3 day: 26 }
                           })pb"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: terms[0].first: 2027-02-29 is not a date (year 1900-9999)"));
  EXPECT_THAT(FromOne(R"pb(school_urn: "100001"
                           terms {
                             first { year: 2026 month: 9 day: 2 }
                             last { year: 2026 month: 13 day: 1 }
                           })pb"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: terms[0].last: 2026-13-01 is not a date (year 1900-9999)"));
  EXPECT_THAT(FromOne(absl::StrCat(R"pb(school_urn: "100001"
                                        closures {})pb",
                                   kTerm)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[0]: closures[0]: 0000-00-00 is not a date (year 1900-9999)"));
  EXPECT_THAT(FromOne(absl::StrCat(R"pb(school_urn: "100001"
                                        closures { year: 2028 month: 2 day: 29 })pb",
                                   kTerm)),
              IsOk());  // a leap year
}

TEST(FromProtosTest, BadDayStart) {
  for (const char* start : {"8:45", "24:00", "08:60", "0845", "ab:cd", "08:45 ", "08-45"}) {
    EXPECT_THAT(FromOne(absl::StrCat("school_urn: \"100001\" day_start: \"", start, "\"", kTerm)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("calendars[0]: day_start: \"", start,
                                      "\" is not a time HH:MM (00:00-23:59)")));
  }
  for (const char* start : {"00:00", "23:59", "08:45"}) {
    EXPECT_THAT(FromOne(absl::StrCat("school_urn: \"100001\" day_start: \"", start, "\"", kTerm)),
                IsOk());
  }
}

TEST(FromProtosTest, DuplicatesNameBothAndLaterErrorsTheirIndex) {
  EXPECT_THAT(SchoolCalendars::FromProtos({Parse(kLa), Parse(kSchool), Parse(kLa)}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "calendars[2]: la_code: \"E09000033\" has a calendar already, in "
                       "calendars[0]"));
  EXPECT_THAT(SchoolCalendars::FromProtos({Parse(kLa), Parse(R"pb(school_urn: "1")pb")}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("calendars[1]: school_urn")));
  // A school and an LA may share a calendar file's contents otherwise.
  absl::StatusOr<std::shared_ptr<const SchoolCalendars>> both =
      SchoolCalendars::FromProtos({Parse(kLa), Parse(kSchool)});
  ASSERT_THAT(both, IsOk());
  EXPECT_EQ((*both)->size(), 2u);
}

// --- Without Europe/London ---

// In a fresh process (the zone is loaded once per process) with TZDIR
// pointing nowhere: loading fails closed, Empty() answers in UTC.
TEST(TimeZoneTest, WithoutTzdataLoadingFailsAndEmptyUsesUtc) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("TZDIR", "/nonexistent-tzdata", 1);
        bool ok = true;
        auto check = [&](const absl::Status& s, const char* what) {
          if (s.code() != absl::StatusCode::kFailedPrecondition || s.message() != kNoZone) {
            std::cerr << what << ": " << s << "\n";
            ok = false;
          }
        };
        check(SchoolCalendars::CheckTimeZone(), "CheckTimeZone");
        check(SchoolCalendars::LoadDir("").status(), "LoadDir");
        check(SchoolCalendars::FromProtos({}).status(), "FromProtos");
        const SchoolCalendars::Deadline d = SchoolCalendars::Empty()->NextSchoolDayStart(
            Utc(2026, 11, 6, 17, 0), "100001", "E09000033");
        if (d.time != Utc(2026, 11, 9, 8, 0) || d.source != "default") {
          std::cerr << "Empty: " << d.time << " " << d.source << "\n";
          ok = false;
        }
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(TimeZoneTest, AvailableHere) { EXPECT_THAT(SchoolCalendars::CheckTimeZone(), IsOk()); }

}  // namespace
}  // namespace kinex::records
