// Tests of the label-driven part rules: ownership on leaves, unknown values.
#include "services/records/part_rules.h"

#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace kinex::records {
namespace {

using kinex::common::v1::AgencyKind;
using kinex::record::v1::ChildRecord;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FieldsNotOwnedByTest, ChecksLeavesNotSections) {
  ChildRecord part;
  part.mutable_education()->set_missing_education(true);            // SCHOOL
  part.mutable_health()->set_camhs(kinex::record::v1::CAMHS_OPEN);  // HEALTH
  part.mutable_safeguarding()->set_cp_is_flag(true);                // LA
  EXPECT_THAT(FieldsNotOwnedBy(part, AgencyKind::SCHOOL),
              ElementsAre("health.camhs", "safeguarding.cp_is_flag"));
}

TEST(FieldsNotOwnedByTest, SectionOwnerDoesNotOwnEveryLeaf) {
  // Health is HEALTH's section, but the SDQ is published by the LA (SSDA903);
  // the PEP inside Education is the virtual school's.
  ChildRecord part;
  part.mutable_health()->mutable_sdq()->set_total_score(12);
  part.mutable_education()->mutable_pep()->set_status(kinex::record::v1::PEP_DUE);
  EXPECT_THAT(FieldsNotOwnedBy(part, AgencyKind::HEALTH),
              ElementsAre("education.pep.status", "health.sdq.total_score"));
  EXPECT_THAT(FieldsNotOwnedBy(part, AgencyKind::LOCAL_AUTHORITY),
              ElementsAre("education.pep.status"));
  EXPECT_THAT(FieldsNotOwnedBy(part, AgencyKind::VIRTUAL_SCHOOL),
              ElementsAre("health.sdq.total_score"));
}

TEST(FieldsNotOwnedByTest, DatesAndTimestampsAreLeavesAndRepeatedPathsAppearOnce) {
  ChildRecord part;
  for (int i = 0; i < 2; ++i) {
    auto* e = part.mutable_education()->add_enrolments();
    e->mutable_entry_date()->set_year(2024);
    e->set_urn("100001");
  }
  part.mutable_safeguarding()->add_missing_episodes()->mutable_start_time()->set_seconds(1);
  EXPECT_THAT(FieldsNotOwnedBy(part, AgencyKind::POLICE),
              ElementsAre("education.enrolments.urn", "education.enrolments.entry_date",
                          "safeguarding.missing_episodes.start_time"));
  EXPECT_TRUE(FieldsNotOwnedBy(ChildRecord(), AgencyKind::POLICE).empty());
}

TEST(CheckKnownValuesTest, RejectsUnknownEnumValues) {
  ChildRecord part;
  part.mutable_identity()->set_sex(static_cast<kinex::record::v1::Sex>(99));
  absl::Status s = CheckKnownValues(part, "part");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("part.identity.sex: unknown enum value 99"));
  EXPECT_THAT(s, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(s, HasErrorMetadata("field", "part.identity.sex"));
  ChildRecord nested;
  nested.mutable_safeguarding()->add_child_protection_plans()->set_abuse_category(
      static_cast<kinex::record::v1::AbuseCategory>(42));
  s = CheckKnownValues(nested, "part");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("part.safeguarding.child_protection_plans.abuse_category: "
                        "unknown enum value 42"));
}

TEST(CheckKnownValuesTest, RejectsUnknownFields) {
  ChildRecord part;
  part.mutable_health()
      ->GetReflection()
      ->MutableUnknownFields(part.mutable_health())
      ->AddVarint(999, 1);
  absl::Status s = CheckKnownValues(part, "part");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("part.health: unknown fields"));
  EXPECT_THAT(s, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(s, HasErrorMetadata("field", "part.health"));
}

TEST(IdentifierFromRefTest, NamesTheFieldOfABadReference) {
  kinex::common::v1::ChildRef ref;
  EXPECT_THAT(IdentifierFromRef(ref),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "child: one identifier is required (kinex_id, nhs_number, upn or "
                       "la_child_id)"));
  EXPECT_THAT(IdentifierFromRef(ref), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(IdentifierFromRef(ref), HasErrorMetadata("field", "child"));
  ref.set_kinex_id("kx-bad");
  EXPECT_THAT(IdentifierFromRef(ref), HasErrorMetadata("field", "child.kinex_id"));
}

}  // namespace
}  // namespace kinex::records
