// Dates and London times for tests that build records and check deadlines:
// a kinex.record.v1.Date from its parts, the Europe/London zone (tzdata must
// be installed: a test fails rather than run in the wrong zone), and a
// protobuf Timestamp of a London wall-clock minute.
//
// Example:
//   *record.mutable_identity()->mutable_date_of_birth() = kinex::testing::Date(2015, 4, 2);
//   // Friday 5 November 2027, 17:00 London (GMT): 17:00 UTC.
//   google::protobuf::Timestamp t = kinex::testing::LondonTime(2027, 11, 5, 17, 0);
#ifndef KINEX_TESTS_TESTING_TEST_DATES_H_
#define KINEX_TESTS_TESTING_TEST_DATES_H_

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"
#include "kinex/record/v1/record.pb.h"

namespace kinex::testing {

inline kinex::record::v1::Date Date(int y, int m, int d) {
  kinex::record::v1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

inline absl::TimeZone London() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &tz)) << "install tzdata";
  return tz;
}

inline google::protobuf::Timestamp LondonTime(int y, int m, int d, int hh, int mm) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), London())));
  return ts;
}

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_TEST_DATES_H_
