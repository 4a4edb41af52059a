// A child named in a request, validated once for records, consent and the
// gateway: each identifier kind, normalisation, and errors that name the
// field (reason INVALID_FIELD) without echoing the value.
#include "services/common/child_ref.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace kinex {
namespace {

using ::kinex::common::v1::ChildRef;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ValidateChildRef, EachKindNormalised) {
  ChildRef ref;
  ref.set_nhs_number("943 476 5919");
  absl::StatusOr<ChildRefValue> v = ValidateChildRef(ref);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind, ChildRefValue::Kind::kNhsNumber);
  EXPECT_EQ(v->field, "child.nhs_number");
  EXPECT_EQ(v->value, "9434765919");

  ref.mutable_la_child_id()->set_la_code("E09000033");
  ref.mutable_la_child_id()->set_id("WCC-1");
  v = ValidateChildRef(ref);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind, ChildRefValue::Kind::kLaChildId);
  EXPECT_EQ(v->value, "E09000033/WCC-1");

  ref.set_kinex_id("kx_abc123");
  v = ValidateChildRef(ref);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind, ChildRefValue::Kind::kKinexId);
  EXPECT_EQ(v->value, "kx_abc123");
}

TEST(ValidateChildRef, ErrorsNameTheFieldNotTheValue) {
  ChildRef ref;
  EXPECT_THAT(ValidateChildRef(ref).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "child: one identifier is required (kinex_id, nhs_number, upn or "
                       "la_child_id)"));
  ref.set_kinex_id("kx-not-an-id");
  const absl::Status bad_id = ValidateChildRef(ref).status();
  EXPECT_THAT(bad_id, StatusIs(absl::StatusCode::kInvalidArgument,
                               "child.kinex_id: not a Kinex id (expected \"kx_\" then letters "
                               "and digits)"));
  EXPECT_THAT(bad_id, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(bad_id, HasErrorMetadata("field", "child.kinex_id"));
  ref.set_nhs_number("9434765918");  // check digit wrong
  const absl::Status bad_nhs = ValidateChildRef(ref).status();
  EXPECT_THAT(bad_nhs,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("child.nhs_number: ")));
  EXPECT_THAT(bad_nhs, StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("9434765918"))));
  ref.mutable_la_child_id()->set_la_code("E07000001");
  ref.mutable_la_child_id()->set_id("x");
  EXPECT_THAT(ValidateChildRef(ref).status(),
              HasErrorMetadata("field", "child.la_child_id.la_code"));
}

TEST(LooksLikeKinexId, Shape) {
  EXPECT_TRUE(LooksLikeKinexId("kx_a"));
  EXPECT_FALSE(LooksLikeKinexId("kx_"));
  EXPECT_FALSE(LooksLikeKinexId("kx_a-b"));
  EXPECT_FALSE(LooksLikeKinexId("kx_" + std::string(65, 'a')));
  EXPECT_TRUE(LooksLikeKinexId("kx_" + std::string(64, 'a')));
}

}  // namespace
}  // namespace kinex
