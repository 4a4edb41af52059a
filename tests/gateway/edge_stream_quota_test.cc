// The edge's separate quota for long-lived streams (issue 12): an agency's
// open streams count against gateway.max_streams_per_agency, apart from its
// unary calls in flight, so neither class starves the other; one stream
// over the limit gets RESOURCE_EXHAUSTED naming it, and a closed stream
// returns its slot. There are no streaming RPCs yet, so the "stream" here
// is a unary handler run as CallClass::kStream that holds its slot until
// the test releases it, as a watch would for its lifetime.
#include <atomic>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/clock.h"
#include "services/common/tls.h"
#include "services/gateway/edge.h"
#include "tests/testing/test_pki.h"

namespace kinex::gateway {
namespace {

namespace ev1 = kinex::exchange::v1;

// GetMyPart stands in for a stream (CallClass::kStream), GetChildRecord
// for a unary call; each body blocks while `hold` says so.
class QuotaService final : public ev1::Exchange::Service {
 public:
  explicit QuotaService(const Edge& edge) : edge_(edge) {}
  grpc::Status GetMyPart(grpc::ServerContext* ctx, const ev1::GetMyPartRequest*,
                         ev1::GetMyPartResponse*) override {
    return edge_.Run(
        ctx, "WatchStandIn", 0,
        [&](const CallContext&, std::string&) {
          Hold(stream_entered_, stream_release_);
          return absl::OkStatus();
        },
        CallClass::kStream);
  }
  grpc::Status GetChildRecord(grpc::ServerContext* ctx, const ev1::GetChildRecordRequest*,
                              ev1::GetChildRecordResponse*) override {
    return edge_.Run(ctx, "GetChildRecord", 0, [&](const CallContext&, std::string&) {
      Hold(unary_entered_, unary_release_);
      return absl::OkStatus();
    });
  }
  // The next stream / unary body blocks until Release*.
  void HoldNextStream() { hold_stream_ = true; }
  void HoldNextUnary() { hold_unary_ = true; }
  void WaitStreamEntered() { stream_entered_.WaitForNotification(); }
  void WaitUnaryEntered() { unary_entered_.WaitForNotification(); }
  void ReleaseStream() { stream_release_.Notify(); }
  void ReleaseUnary() { unary_release_.Notify(); }

 private:
  void Hold(absl::Notification& entered, absl::Notification& release) {
    std::atomic<bool>& hold = &entered == &stream_entered_ ? hold_stream_ : hold_unary_;
    if (!hold.exchange(false)) return;
    entered.Notify();
    release.WaitForNotification();
  }
  const Edge& edge_;
  std::atomic<bool> hold_stream_{false}, hold_unary_{false};
  absl::Notification stream_entered_, stream_release_, unary_entered_, unary_release_;
};

class EdgeStreamQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    edge_ = std::make_unique<Edge>(
        limiter_, metrics_, testing::kTrustDomain, log_,
        EdgeOptions{.max_in_flight_per_agency = 1, .max_streams_per_agency = 1});
    service_ = std::make_unique<QuotaService>(*edge_);
    auto creds = MakeServerCredentials(testing::ServiceTlsFiles("gateway"));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<ev1::Exchange::Stub> Stub(const std::string& code, const std::string& role) {
    auto creds = MakeChannelCredentials(testing::AgencyTlsFiles("school", code, role));
    EXPECT_TRUE(creds.ok()) << creds.status();
    return ev1::Exchange::NewStub(grpc::CreateChannel(absl::StrCat("localhost:", port_), *creds));
  }
  static void Prepare(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("x-kinex-actor", "Test Practitioner");
  }
  grpc::Status Stream(const std::string& code, const std::string& role) {
    grpc::ClientContext ctx;
    Prepare(ctx);
    ev1::GetMyPartResponse resp;
    return Stub(code, role)->GetMyPart(&ctx, {}, &resp);
  }
  grpc::Status Unary(const std::string& code, const std::string& role) {
    grpc::ClientContext ctx;
    Prepare(ctx);
    ev1::GetChildRecordResponse resp;
    return Stub(code, role)->GetChildRecord(&ctx, {}, &resp);
  }

  RateLimiter limiter_{{.per_second = 1000, .burst = 1000}, RealClock::Get()};
  Metrics metrics_;
  std::ostringstream log_;
  std::unique_ptr<Edge> edge_;
  std::unique_ptr<QuotaService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

constexpr char kDsl[] = "designated-safeguarding-lead";
constexpr char kTeacher[] = "designated-teacher";

TEST_F(EdgeStreamQuotaTest, AStreamOverTheAgencysStreamQuotaIsRefusedAndUnaryCallsStillRun) {
  service_->HoldNextStream();
  grpc::Status held;
  std::thread holder([&] { held = Stream("137000", kDsl); });
  service_->WaitStreamEntered();
  // Another certificate of the same agency shares its stream quota.
  grpc::Status second = Stream("137000", kTeacher);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(second.error_message(),
            "too many streams open for agency school/137000 (limit 1); close one first");
  // The agency's unary quota is its own: a held stream does not use it.
  EXPECT_TRUE(Unary("137000", kTeacher).ok());
  // Other agencies' streams are not held up.
  EXPECT_TRUE(Stream("141999", kTeacher).ok());
  service_->ReleaseStream();
  holder.join();
  EXPECT_TRUE(held.ok()) << held.error_message();
  EXPECT_TRUE(Stream("137000", kDsl).ok()) << "the slot is returned when the stream ends";
}

TEST_F(EdgeStreamQuotaTest, UnaryCallsInFlightDoNotUseTheStreamQuota) {
  service_->HoldNextUnary();
  grpc::Status held;
  std::thread holder([&] { held = Unary("137000", kDsl); });
  service_->WaitUnaryEntered();
  grpc::Status second = Unary("137000", kTeacher);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(second.error_message(),
            "too many calls in flight for agency school/137000 (limit 1); retry when one "
            "completes");
  EXPECT_TRUE(Stream("137000", kTeacher).ok()) << "a stream opens while unary calls are full";
  service_->ReleaseUnary();
  holder.join();
  EXPECT_TRUE(held.ok()) << held.error_message();
}

}  // namespace
}  // namespace kinex::gateway
