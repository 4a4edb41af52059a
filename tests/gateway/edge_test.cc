// The gateway's edge pieces: per-agency rate limiting on an injected clock,
// deadline propagation to internal calls, and call-context validation.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/deadline.h"
#include "services/gateway/call_context.h"
#include "services/gateway/rate_limiter.h"
#include "tests/testing/fake_clock.h"

namespace kinex::gateway {
namespace {

using ::testing::HasSubstr;

TEST(RateLimiter, AllowsABurstThenRefillsAtTheRate) {
  FakeClock clock;
  RateLimiter limiter({.per_second = 2, .burst = 3}, clock);
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_FALSE(limiter.Allow("school/137000"));
  clock.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(limiter.Allow("school/137000"));
  clock.Advance(absl::Milliseconds(1));  // 0.5 s at 2/s: one token
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_FALSE(limiter.Allow("school/137000"));
  clock.Advance(absl::Hours(1));  // refills only up to the burst
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_FALSE(limiter.Allow("school/137000"));
}

TEST(RateLimiter, AgenciesHaveSeparateBuckets) {
  FakeClock clock;
  RateLimiter limiter({.per_second = 1, .burst = 1}, clock);
  EXPECT_TRUE(limiter.Allow("school/137000"));
  EXPECT_FALSE(limiter.Allow("school/137000"));
  EXPECT_TRUE(limiter.Allow("school/141999"));
  EXPECT_TRUE(limiter.Allow("police/01"));
}

TEST(Deadline, OutgoingCallTakesTheEarlierDeadline) {
  const absl::Time served = absl::Now() + absl::Milliseconds(300);
  {
    ScopedCallDeadline scope(served);
    grpc::ClientContext ctx;
    SetOutgoingDeadline(ctx, absl::Seconds(5));
    EXPECT_EQ(absl::FromChrono(ctx.deadline()), served);
    {
      const absl::Time inner = absl::Now() + absl::Milliseconds(100);
      ScopedCallDeadline nested(inner);
      grpc::ClientContext ctx2;
      SetOutgoingDeadline(ctx2, absl::Seconds(5));
      EXPECT_EQ(absl::FromChrono(ctx2.deadline()), inner);
    }
    EXPECT_EQ(ScopedCallDeadline::Current(), served);
  }
  EXPECT_EQ(ScopedCallDeadline::Current(), absl::InfiniteFuture());
  grpc::ClientContext ctx;
  const absl::Time before = absl::Now();
  SetOutgoingDeadline(ctx, absl::Seconds(5));
  EXPECT_GE(absl::FromChrono(ctx.deadline()), before + absl::Seconds(5));
}

TEST(CallContext, ActorIsRequiredAndBounded) {
  EXPECT_EQ(ValidateActor("").message(),
            "x-kinex-actor metadata is required: name the practitioner making this request");
  EXPECT_TRUE(ValidateActor("Siân Ellis-Jones (IRO)").ok());
  EXPECT_EQ(ValidateActor(std::string(201, 'a')).message(),
            "x-kinex-actor must be at most 200 bytes");
  EXPECT_EQ(ValidateActor("a\nb").message(), "x-kinex-actor must not contain control characters");
}

TEST(CallContext, RequestIdsAreValidatedOrGenerated) {
  EXPECT_TRUE(ValidateRequestId("lcs-2026-11-24.000123").ok());
  EXPECT_EQ(ValidateRequestId("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ValidateRequestId("a b").message()),
              HasSubstr("may contain only letters, digits"));
  const std::string a = NewRequestId(), b = NewRequestId();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ValidateRequestId(a).ok());
}

}  // namespace
}  // namespace kinex::gateway
