// The one AIP-158 paging helper: page sizes (0 -> default, over the max ->
// the max, negative -> INVALID_ARGUMENT naming the field and value) and page
// tokens bound to the RPC, the caller and the filter, that a client cannot
// alter or forge.
#include "services/common/paging.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/error_reason.h"
#include "tests/testing/status_matchers.h"

namespace kinex::paging {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;

constexpr PageLimits kLimits{.default_size = 50, .max_size = 500};
constexpr char kMismatch[] =
    "page_token: not a token from ListChildren for this caller and filter (list again from "
    "the first page)";

TEST(PageSize, ZeroIsTheDefaultAndTooLargeIsTheMax) {
  EXPECT_EQ(*PageSize(0, kLimits), 50);
  EXPECT_EQ(*PageSize(1, kLimits), 1);
  EXPECT_EQ(*PageSize(500, kLimits), 500);
  EXPECT_EQ(*PageSize(501, kLimits), 500);
  EXPECT_EQ(*PageSize(int64_t{1} << 40, kLimits), 500);
}

TEST(PageSize, NegativeIsRefusedNamingFieldAndValue) {
  absl::StatusOr<int> size = PageSize(-3, kLimits);
  EXPECT_THAT(size, StatusIs(absl::StatusCode::kInvalidArgument,
                             "page_size: must not be negative (got -3)"));
  EXPECT_THAT(size, HasErrorReason(reason::kInvalidField));
  EXPECT_THAT(size, HasErrorMetadata("field", "page_size"));
}

class PageTokensTest : public ::testing::Test {
 protected:
  PageTokens tokens_{std::string(32, 'k')};
  const TokenScope scope_{.rpc = "ListChildren", .caller = "spiffe://kinex.dev/a", .filter = "p=1"};
};

TEST_F(PageTokensTest, RoundTripsThePositionAndHidesNothingButIsOpaque) {
  EXPECT_EQ(*tokens_.Open("", scope_), "");
  const std::string token = tokens_.Issue(scope_, "kx_ABC:7");
  EXPECT_EQ(*tokens_.Open(token, scope_), "kx_ABC:7");
  EXPECT_EQ(token.find(':'), std::string::npos);  // web-safe base64
}

TEST_F(PageTokensTest, AnotherCallerIsRefused) {
  const std::string token = tokens_.Issue(scope_, "kx_ABC");
  TokenScope other = scope_;
  other.caller = "spiffe://kinex.dev/b";
  absl::StatusOr<std::string> opened = tokens_.Open(token, other);
  EXPECT_THAT(opened, StatusIs(absl::StatusCode::kInvalidArgument, kMismatch));
  EXPECT_THAT(opened, HasErrorReason(reason::kPageTokenInvalid));
  EXPECT_THAT(opened, HasErrorMetadata("field", "page_token"));
}

TEST_F(PageTokensTest, AChangedFilterOrAnotherRpcIsRefused) {
  const std::string token = tokens_.Issue(scope_, "kx_ABC");
  TokenScope filter = scope_;
  filter.filter = "p=2";
  EXPECT_THAT(tokens_.Open(token, filter), StatusIs(absl::StatusCode::kInvalidArgument, kMismatch));
  TokenScope rpc = scope_;
  rpc.rpc = "ListLinks";
  EXPECT_THAT(tokens_.Open(token, rpc),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("not a token from ListLinks for this caller")));
  // Field boundaries are part of the MAC: moving a character from the
  // caller into the filter is another scope.
  const TokenScope shifted{
      .rpc = "ListChildren", .caller = "spiffe://kinex.dev/", .filter = "ap=1"};
  EXPECT_FALSE(tokens_.Open(token, shifted).ok());
}

TEST_F(PageTokensTest, AForgedPositionIsRefused) {
  // A client rewrites the position inside a token it was given.
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(tokens_.Issue(scope_, "offset=10"), &raw));
  raw[8] = '9';  // "offset=90"
  EXPECT_THAT(tokens_.Open(absl::WebSafeBase64Escape(raw), scope_),
              StatusIs(absl::StatusCode::kInvalidArgument, kMismatch));
  // A token made with another key (another process) is refused too.
  PageTokens other(std::string(32, 'x'));
  EXPECT_THAT(tokens_.Open(other.Issue(scope_, "offset=10"), scope_),
              StatusIs(absl::StatusCode::kInvalidArgument, kMismatch));
}

TEST_F(PageTokensTest, MalformedTokensAreRefused) {
  for (const std::string bad : {"garbage!", "c:kx_ABC", "AA", "AQ"}) {
    EXPECT_THAT(tokens_.Open(bad, scope_), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    "page_token: not a token from ListChildren"))
        << bad;
  }
}

TEST(ProcessPageTokens, OneKeyPerProcess) {
  const TokenScope scope{.rpc = "QueryEvents", .caller = "", .filter = "f"};
  const std::string token = PageTokens::Process().Issue(scope, "1:2");
  EXPECT_EQ(*PageTokens::Process().Open(token, scope), "1:2");
  EXPECT_FALSE(PageTokens(std::string(32, 'k')).Open(token, scope).ok());
}

// Replicas configured with one key (KinexConfig.page_token_key_file) accept
// each other's tokens; a replica with another key refuses them.
TEST(ProcessPageTokens, AConfiguredKeyIsSharedByReplicas) {
  const TokenScope scope{.rpc = "ListChildren", .caller = "spiffe://a", .filter = "f"};
  const std::string shared(32, 's');
  ASSERT_TRUE(PageTokens::SetProcessKey(shared).ok());
  const std::string token = PageTokens::Process().Issue(scope, "kx_1");
  EXPECT_EQ(*PageTokens(shared).Open(token, scope), "kx_1");  // the other replica
  EXPECT_THAT(PageTokens(std::string(32, 't')).Open(token, scope),
              StatusIs(absl::StatusCode::kInvalidArgument, kMismatch));
  // A key set later replaces it: earlier tokens stop opening.
  ASSERT_TRUE(PageTokens::SetProcessKey(std::string(32, 'u')).ok());
  EXPECT_THAT(PageTokens::Process().Open(token, scope), HasErrorReason("PAGE_TOKEN_INVALID"));
}

TEST(ProcessPageTokens, AShortKeyIsRefused) {
  EXPECT_THAT(PageTokens::SetProcessKey(std::string(31, 'k')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page token key: must be at least 32 bytes (got 31)"));
}

}  // namespace
}  // namespace kinex::paging
