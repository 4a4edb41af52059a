// Helpers for records tests: agency principals, valid identifiers, requests.
#ifndef KINEX_TESTS_RECORDS_RECORDS_TEST_UTIL_H_
#define KINEX_TESTS_RECORDS_RECORDS_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "kinex/records/v1/records.pb.h"
#include "services/common/identifiers.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_identifiers.h"

namespace kinex::records::testing {

// Statuses are matched with the shared matchers (tests/testing/status_matchers.h):
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

inline constexpr char kLa[] = "spiffe://kinex.dev/local-authority/E09000033/social-worker";
inline constexpr char kLa2[] = "spiffe://kinex.dev/local-authority/E08000025/social-worker";
// Team managers: only they transfer responsibility.
inline constexpr char kLaManager[] = "spiffe://kinex.dev/local-authority/E09000033/team-manager";
inline constexpr char kLa2Manager[] = "spiffe://kinex.dev/local-authority/E08000025/team-manager";
inline constexpr char kSchool[] = "spiffe://kinex.dev/school/100001/designated-teacher";
inline constexpr char kSchool2[] = "spiffe://kinex.dev/school/100002/designated-teacher";
inline constexpr char kHealth[] = "spiffe://kinex.dev/health/RJ1/lac-nurse";
inline constexpr char kGp[] = "spiffe://kinex.dev/health/A81001/gp";
inline constexpr char kCamhs[] = "spiffe://kinex.dev/health/RX4/camhs";
inline constexpr char kPolice2[] = "spiffe://kinex.dev/police/02/public-protection";
inline constexpr char kSchool3[] = "spiffe://kinex.dev/school/100003/designated-teacher";
inline constexpr char kPolice[] = "spiffe://kinex.dev/police/01/public-protection";
inline constexpr char kVirtualSchool[] =
    "spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head";
inline constexpr char kAuditor[] = "spiffe://kinex.dev/auditor/ICO/inspector";
inline constexpr char kGatewayService[] = "spiffe://kinex.dev/service/gateway";

// Valid identifiers derived from a seed (tests/testing/test_identifiers.h).
inline std::string Nhs(int seed) { return kinex::testing::TestNhs(seed); }
inline std::string Upn(int seed) { return kinex::testing::TestUpn(seed); }

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
  req.set_request_id("req-1");
  return req;
}

// The date of birth LaPart publishes (2015-04-02).
inline kinex::record::v1::Date Dob(int year = 2015, int month = 4, int day = 2) {
  kinex::record::v1::Date d;
  d.set_year(year);
  d.set_month(month);
  d.set_day(day);
  return d;
}

// A first publish by an agency other than the responsible LA: Put with the
// child's date of birth as proof that it knows the child.
inline kinex::records::v1::PutPartRequest Attach(const std::string& principal,
                                                 const kinex::common::v1::ChildRef& child,
                                                 const kinex::record::v1::ChildRecord& part,
                                                 const kinex::record::v1::Date& proof = Dob()) {
  kinex::records::v1::PutPartRequest req = Put(principal, child, part);
  *req.mutable_proof_date_of_birth() = proof;
  return req;
}

// Adds `kind`/`code` to the agencies an LA part names (confirming their links).
inline void Name(kinex::record::v1::ChildRecord& la_part, kinex::common::v1::AgencyKind kind,
                 const std::string& code) {
  auto* a = la_part.add_named_agencies();
  a->set_agency_kind(kind);
  a->set_agency_code(code);
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

// The uniform refusal of a publish (request id "req-1", as Put sets).
inline constexpr char kNoChild[] =
    "no child you may publish to matches this request (request id req-1)";

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

// A health part: NHS number, the publisher as GP and provider (a health
// agency names only itself), CAMHS status.
inline kinex::record::v1::ChildRecord HealthPart(const std::string& nhs,
                                                 const std::string& ods = "RJ1") {
  kinex::record::v1::ChildRecord part;
  if (!nhs.empty()) part.mutable_identity()->set_nhs_number(nhs);
  part.mutable_scope()->set_registered_gp_ods_code(ods);
  part.mutable_scope()->add_health_provider_ods_codes(ods);
  part.mutable_health()->set_camhs(kinex::record::v1::CAMHS_OPEN);
  part.mutable_health()->set_immunisations_up_to_date(true);
  return part;
}

}  // namespace kinex::records::testing

#endif  // KINEX_TESTS_RECORDS_RECORDS_TEST_UTIL_H_
