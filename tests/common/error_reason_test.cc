// Error reasons (services/common/error_reason.h) and their trip through the
// one status converter (grpc_status.h): the google.rpc.Status details a
// client receives, and what FromGrpcStatus gives back.
#include "services/common/error_reason.h"

#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/common/grpc_status.h"
#include "tests/testing/status_matchers.h"

namespace kinex {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(ErrorReason, ExplicitReasonAndMetadataAreKeptOnTheStatus) {
  absl::Status s = WithErrorReason(absl::InvalidArgumentError("page_size: must be 0-100"),
                                   reason::kInvalidField, {{"field", "page_size"}});
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, "page_size: must be 0-100"));
  EXPECT_TRUE(HasExplicitErrorReason(s));
  const google::rpc::ErrorInfo info = ErrorInfoOf(s);
  EXPECT_EQ(info.reason(), "INVALID_FIELD");
  EXPECT_EQ(info.domain(), "kinex.dev");
  EXPECT_THAT(info.metadata(), UnorderedElementsAre(Pair("field", "page_size")));
  AddErrorMetadata(s, "request_id", "req-1");
  EXPECT_THAT(s, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(s, HasErrorMetadata("request_id", "req-1"));
  EXPECT_THAT(s, HasErrorMetadata("field", "page_size"));
}

TEST(ErrorReason, WithoutAnExplicitReasonTheCodeIsTheReason) {
  EXPECT_FALSE(HasExplicitErrorReason(absl::UnavailableError("down")));
  EXPECT_EQ(ErrorReasonOf(absl::UnavailableError("down")), "UNAVAILABLE");
  EXPECT_EQ(ErrorReasonOf(absl::DataLossError("torn")), "DATA_LOSS");
  EXPECT_EQ(ErrorInfoOf(absl::InternalError("bug")).domain(), "kinex.dev");
  // Adding metadata keeps the derived reason.
  absl::Status s = absl::InternalError("bug");
  AddErrorMetadata(s, "request_id", "r");
  EXPECT_EQ(ErrorReasonOf(s), "INTERNAL");
  EXPECT_THAT(s, HasErrorMetadata("request_id", "r"));
}

TEST(ErrorReason, OkHasNone) {
  absl::Status ok = absl::OkStatus();
  SetErrorReason(ok, reason::kInvalidField);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ErrorReasonOf(ok), "");
}

TEST(ErrorReason, TheGrpcStatusCarriesGoogleRpcStatusWithOneErrorInfo) {
  const grpc::Status sent =
      ToGrpcStatus(WithErrorReason(absl::PermissionDeniedError("no record you may see"),
                                   reason::kChildNotFoundOrOutOfScope, {{"request_id", "r-7"}}));
  EXPECT_EQ(sent.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(sent.error_message(), "no record you may see");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(sent.error_details()));
  EXPECT_EQ(details.code(), 7);
  EXPECT_EQ(details.message(), "no record you may see");
  ASSERT_EQ(details.details_size(), 1);
  EXPECT_EQ(details.details(0).type_url(), "type.googleapis.com/google.rpc.ErrorInfo");
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "CHILD_NOT_FOUND_OR_OUT_OF_SCOPE");
  EXPECT_EQ(info.domain(), "kinex.dev");
  EXPECT_THAT(info.metadata(), UnorderedElementsAre(Pair("request_id", "r-7")));
}

TEST(ErrorReason, AStatusWithoutAReasonIsSentWithTheDerivedOne) {
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(ToGrpcStatus(absl::DataLossError("x")).error_details()));
  google::rpc::ErrorInfo info;
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "DATA_LOSS");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).error_details().empty());
}

TEST(ErrorReason, TheClientSideKeepsTheDetails) {
  const absl::Status sent = WithErrorReason(absl::InvalidArgumentError("child: required"),
                                            reason::kInvalidField, {{"field", "child"}});
  const absl::Status back = FromGrpcStatus(ToGrpcStatus(sent));
  EXPECT_THAT(back, StatusIs(absl::StatusCode::kInvalidArgument, "child: required"));
  EXPECT_TRUE(HasExplicitErrorReason(back));
  EXPECT_THAT(back, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(back, HasErrorMetadata("field", "child"));
  EXPECT_EQ(ErrorInfoOf(back).SerializeAsString(), ErrorInfoOf(sent).SerializeAsString());
}

TEST(ErrorReason, AStatusMadeByGrpcItselfGetsTheReasonOfItsCode) {
  const absl::Status back =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"));
  EXPECT_FALSE(HasExplicitErrorReason(back));
  EXPECT_THAT(back, HasErrorReason("UNAVAILABLE"));
  // Details that are not a google.rpc.Status are ignored, not an error.
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::INTERNAL, "m", "\xff\xff")),
              HasErrorReason("INTERNAL"));
}

TEST(ErrorReason, StrippingAddressesKeepsTheReason) {
  const absl::Status s =
      WithErrorReason(absl::UnavailableError("records at ipv4:10.0.0.7:7447 down"),
                      reason::kRecordsUnavailable, {{"service", "records"}});
  const absl::Status stripped = StripInternalAddresses(s);
  EXPECT_THAT(stripped,
              StatusIs(absl::StatusCode::kUnavailable, "records at <internal address> down"));
  EXPECT_THAT(stripped, HasErrorReason("RECORDS_UNAVAILABLE"));
  EXPECT_THAT(stripped, HasErrorMetadata("service", "records"));
}

TEST(ErrorReason, CopyErrorReasonCarriesOnlyAnExplicitReason) {
  const absl::Status from = WithErrorReason(absl::AbortedError("a"), reason::kEtagMismatch);
  EXPECT_THAT(CopyErrorReason(from, absl::FailedPreconditionError("b")),
              HasErrorReason("ETAG_MISMATCH"));
  EXPECT_FALSE(
      HasExplicitErrorReason(CopyErrorReason(absl::AbortedError("a"), absl::InternalError("b"))));
}

TEST(ErrorReason, InvalidFieldErrorNamesTheField) {
  const absl::Status s = InvalidFieldError("requests", "at most 500 (got 501)");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, "requests: at most 500 (got 501)"));
  EXPECT_THAT(s, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(s, HasErrorMetadata("field", "requests"));
}

TEST(ErrorReason, InElementNamesTheElementFromTheBatchRoot) {
  // A field of the element: the code, message and reason kept, the field
  // named from the batch request's root.
  const absl::Status field =
      InElement("requests[3].", InvalidFieldError("kinex_id", "not a Kinex id"));
  EXPECT_THAT(field,
              StatusIs(absl::StatusCode::kInvalidArgument, "requests[3].kinex_id: not a Kinex id"));
  EXPECT_THAT(field, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(field, HasErrorMetadata("field", "requests[3].kinex_id"));
  // No field named: the element itself; an INVALID_ARGUMENT without a
  // reason gets INVALID_FIELD.
  const absl::Status bare = InElement("requests[0].", absl::InvalidArgumentError("empty"));
  EXPECT_THAT(bare, StatusIs(absl::StatusCode::kInvalidArgument, "requests[0]: empty"));
  EXPECT_THAT(bare, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(bare, HasErrorMetadata("field", "requests[0]"));
  // Another code and its explicit reason are kept.
  const absl::Status denied = InElement(
      "requests[1].", WithErrorReason(absl::PermissionDeniedError("not yours"), "POLICY_DENIED"));
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied, "requests[1]: not yours"));
  EXPECT_THAT(denied, HasErrorReason("POLICY_DENIED"));
}

}  // namespace
}  // namespace kinex
