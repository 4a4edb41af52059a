// gMock matchers for absl::Status and absl::StatusOr<T> (after Abseil's and
// Tink's StatusIs), and for the google.rpc.ErrorInfo a status carries
// (services/common/error_reason.h). Target kinex::status_matchers.
//
// Example:
//   EXPECT_THAT(core.Put(req), StatusIs(absl::StatusCode::kInvalidArgument,
//                                       "page_size: must be 0-100 (got 101)"));
//   EXPECT_THAT(got, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("request id")));
//   EXPECT_THAT(got, HasErrorReason("INVALID_FIELD"));
//   EXPECT_THAT(got, HasErrorMetadata("field", "page_size"));
//   EXPECT_THAT(got, IsOk());
#ifndef KINEX_TESTS_TESTING_STATUS_MATCHERS_H_
#define KINEX_TESTS_TESTING_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/common/error_reason.h"

namespace kinex::testing {

// The status of a Status or StatusOr.
inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// The status has `code` and a message matching `message` (a string: equal;
// or any std::string matcher).
MATCHER_P2(StatusIs, code, message,
           absl::StrCat("has code ", absl::StatusCodeToString(code), " and a message that ",
                        ::testing::DescribeMatcher<std::string>(message))) {
  const absl::Status& status = ::kinex::testing::StatusOf(arg);
  *result_listener << "whose status is " << status;
  if (status.code() != code) return false;
  return ::testing::ExplainMatchResult(::testing::SafeMatcherCast<const std::string&>(message),
                                       std::string(status.message()), result_listener);
}

// The status has `code`, whatever its message.
inline auto StatusIs(absl::StatusCode code) { return StatusIs(code, ::testing::_); }

// The status is OK.
inline auto IsOk() { return StatusIs(absl::StatusCode::kOk, ::testing::_); }

// The status's ErrorInfo (explicit or derived from its code) has `reason`
// and the "kinex.dev" domain.
MATCHER_P(HasErrorReason, reason, absl::StrCat("has error reason ", reason)) {
  const google::rpc::ErrorInfo info = ::kinex::ErrorInfoOf(::kinex::testing::StatusOf(arg));
  *result_listener << "whose error info is {" << info.ShortDebugString() << "}";
  return info.reason() == std::string(reason) && info.domain() == ::kinex::kErrorDomain;
}

// The status's ErrorInfo metadata has `key`, with a value matching `value`.
MATCHER_P2(HasErrorMetadata, key, value,
           absl::StrCat("has error metadata ", key, " that ",
                        ::testing::DescribeMatcher<std::string>(value))) {
  const google::rpc::ErrorInfo info = ::kinex::ErrorInfoOf(::kinex::testing::StatusOf(arg));
  *result_listener << "whose error info is {" << info.ShortDebugString() << "}";
  auto it = info.metadata().find(std::string(key));
  if (it == info.metadata().end()) return false;
  return ::testing::ExplainMatchResult(::testing::SafeMatcherCast<const std::string&>(value),
                                       it->second, result_listener);
}

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_STATUS_MATCHERS_H_
