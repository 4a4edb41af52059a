#include "services/common/identity.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kinex {
namespace {

using ::testing::HasSubstr;

TEST(ParseSpiffeId, AgencyIdentity) {
  absl::StatusOr<SpiffeId> id =
      ParseSpiffeId("spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head", "kinex.dev");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_FALSE(id->is_service);
  EXPECT_EQ(id->agency_kind, kinex::common::v1::VIRTUAL_SCHOOL);
  EXPECT_EQ(id->agency_code, "E09000033");
  EXPECT_EQ(id->role, "virtual-school-head");
  EXPECT_EQ(id->trust_domain, "kinex.dev");
}

TEST(ParseSpiffeId, ServiceIdentity) {
  absl::StatusOr<SpiffeId> id = ParseSpiffeId("spiffe://kinex.dev/service/audit", "kinex.dev");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->is_service);
  EXPECT_EQ(id->service_name, "audit");
}

struct BadCase {
  const char* uri;
  const char* message;
};

class ParseSpiffeIdRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseSpiffeIdRejects, WithNamedProblem) {
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(GetParam().uri, "kinex.dev");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    All, ParseSpiffeIdRejects,
    ::testing::Values(
        BadCase{"https://kinex.dev/school/137000/dsl", "must start with spiffe://"},
        BadCase{"spiffe://evil.dev/school/137000/dsl", "not in trust domain kinex.dev"},
        BadCase{"spiffe://kinex.dev/charity/1234/worker", "unknown agency kind \"charity\""},
        BadCase{"spiffe://kinex.dev/school/13700/dsl", "agency code for school: school URN"},
        BadCase{"spiffe://kinex.dev/local-authority/E07000026/sw",
                "agency code for local-authority: LA code"},
        BadCase{"spiffe://kinex.dev/police/01/Officer", "role must be lowercase"},
        BadCase{"spiffe://kinex.dev/police/01", "path must be"},
        BadCase{"spiffe://kinex.dev/police/01/officer/extra", "path must be"},
        BadCase{"spiffe://kinex.dev/service/mailer", "unknown Kinex service \"mailer\""}));

TEST(AgencyKindSlug, RoundTrips) {
  for (auto kind : {kinex::common::v1::LOCAL_AUTHORITY, kinex::common::v1::VIRTUAL_SCHOOL,
                    kinex::common::v1::SCHOOL, kinex::common::v1::HEALTH, kinex::common::v1::POLICE,
                    kinex::common::v1::AUDITOR}) {
    EXPECT_EQ(AgencyKindFromSlug(AgencyKindSlug(kind)), kind);
  }
  EXPECT_EQ(AgencyKindFromSlug("Police"), kinex::common::v1::AGENCY_KIND_UNSPECIFIED);
}

}  // namespace
}  // namespace kinex
