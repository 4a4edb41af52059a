// Helpers for records tests: agency principals, valid identifiers, requests.
#ifndef KINEX_TESTS_RECORDS_RECORDS_TEST_UTIL_H_
#define KINEX_TESTS_RECORDS_RECORDS_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "absl/strings/str_format.h"
#include "kinex/records/v1/records.pb.h"
#include "services/common/identifiers.h"

// Expects `expr` (an absl::Status) to have code `want` and a message
// containing `substr`.
#define EXPECT_STATUS(expr, want, substr)                                      \
  do {                                                                         \
    const ::absl::Status kx_status_ = (expr);                                  \
    EXPECT_EQ(kx_status_.code(), (want)) << kx_status_;                        \
    EXPECT_THAT(std::string(kx_status_.message()), ::testing::HasSubstr(substr)); \
  } while (0)

namespace kinex::records::testing {

inline constexpr char kLa[] = "spiffe://kinex.dev/local-authority/E09000033/social-worker";
inline constexpr char kLa2[] = "spiffe://kinex.dev/local-authority/E08000025/social-worker";
inline constexpr char kSchool[] = "spiffe://kinex.dev/school/100001/designated-teacher";
inline constexpr char kSchool2[] = "spiffe://kinex.dev/school/100002/designated-teacher";
inline constexpr char kHealth[] = "spiffe://kinex.dev/health/RJ1/lac-nurse";
inline constexpr char kPolice[] = "spiffe://kinex.dev/police/01/public-protection";
inline constexpr char kVirtualSchool[] =
    "spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head";
inline constexpr char kAuditor[] = "spiffe://kinex.dev/auditor/ICO/inspector";
inline constexpr char kGatewayService[] = "spiffe://kinex.dev/service/gateway";

// A valid NHS number derived from `seed` (0 <= seed < 10^8).
inline std::string Nhs(int seed) {
  for (int s = seed;; s += 100000000 / 7) {
    const std::string nine = absl::StrFormat("4%08d", s % 100000000);
    const int check = kinex::NhsNumberCheckDigit(nine);
    if (check >= 0) return absl::StrCat(nine, check);
  }
}

// A valid permanent UPN derived from `seed` (0 <= seed < 1000).
inline std::string Upn(int seed) {
  const std::string twelve = absl::StrFormat("2011000%02d%03d", seed / 1000 % 100, seed % 1000);
  return absl::StrCat(std::string(1, kinex::UpnCheckLetter(twelve)), twelve);
}

inline kinex::common::v1::ChildRef NhsRef(const std::string& nhs) {
  kinex::common::v1::ChildRef ref;
  ref.set_nhs_number(nhs);
  return ref;
}
inline kinex::common::v1::ChildRef UpnRef(const std::string& upn) {
  kinex::common::v1::ChildRef ref;
  ref.set_upn(upn);
  return ref;
}
inline kinex::common::v1::ChildRef LaRef(const std::string& la, const std::string& id) {
  kinex::common::v1::ChildRef ref;
  ref.mutable_la_child_id()->set_la_code(la);
  ref.mutable_la_child_id()->set_id(id);
  return ref;
}
inline kinex::common::v1::ChildRef KinexRef(const std::string& id) {
  kinex::common::v1::ChildRef ref;
  ref.set_kinex_id(id);
  return ref;
}

inline kinex::records::v1::PutPartRequest Put(const std::string& principal,
                                              const kinex::common::v1::ChildRef& child,
                                              const kinex::record::v1::ChildRecord& part,
                                              const std::string& etag = "") {
  kinex::records::v1::PutPartRequest req;
  req.set_principal(principal);
  req.set_actor("test-actor");
  *req.mutable_child() = child;
  *req.mutable_part() = part;
  req.set_etag(etag);
  return req;
}

// An LA part: names, date of birth, responsible LA, optional LA child id.
inline kinex::record::v1::ChildRecord LaPart(const std::string& la_child_id = "",
                                             const std::string& la_code = "E09000033") {
  kinex::record::v1::ChildRecord part;
  auto* id = part.mutable_identity();
  id->set_given_name("Amy");
  id->set_family_name("Example");
  id->mutable_date_of_birth()->set_year(2015);
  id->mutable_date_of_birth()->set_month(4);
  id->mutable_date_of_birth()->set_day(2);
  if (!la_child_id.empty()) id->set_la_child_id(la_child_id);
  part.mutable_scope()->set_responsible_la_code(la_code);
  part.mutable_safeguarding()->set_child_in_need_plan_open(true);
  return part;
}

// A school part: UPN, current school, attendance.
inline kinex::record::v1::ChildRecord SchoolPart(const std::string& upn,
                                                 const std::string& urn = "100001") {
  kinex::record::v1::ChildRecord part;
  if (!upn.empty()) part.mutable_identity()->set_upn(upn);
  part.mutable_scope()->set_current_school_urn(urn);
  part.mutable_education()->mutable_attendance_summary()->set_possible_sessions(100);
  part.mutable_education()->mutable_attendance_summary()->set_attended_sessions(91);
  auto* e = part.mutable_education()->add_enrolments();
  e->set_urn(urn);
  e->mutable_entry_date()->set_year(2024);
  e->mutable_entry_date()->set_month(9);
  e->mutable_entry_date()->set_day(4);
  return part;
}

// A health part: NHS number, GP, CAMHS status.
inline kinex::record::v1::ChildRecord HealthPart(const std::string& nhs,
                                                 const std::string& gp = "A81001") {
  kinex::record::v1::ChildRecord part;
  if (!nhs.empty()) part.mutable_identity()->set_nhs_number(nhs);
  part.mutable_scope()->set_registered_gp_ods_code(gp);
  part.mutable_scope()->add_health_provider_ods_codes("RJ1");
  part.mutable_health()->set_camhs(kinex::record::v1::CAMHS_OPEN);
  part.mutable_health()->set_immunisations_up_to_date(true);
  return part;
}

}  // namespace kinex::records::testing

#endif  // KINEX_TESTS_RECORDS_RECORDS_TEST_UTIL_H_
