// Real mTLS over loopback with the project's own PKI (certs/make-dev-pki.sh):
// who gets in, who is refused, and what identity the server sees.
#include <atomic>
#include <filesystem>
#include <memory>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/peer_identity.h"
#include "services/common/tls.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

// Answers GetChildRecord with the caller's authenticated SPIFFE ID in
// request_id, so tests see exactly what identity the server derived.
class WhoAmI final : public kinex::exchange::v1::Exchange::Service {
 public:
  grpc::Status GetChildRecord(grpc::ServerContext* ctx,
                              const kinex::exchange::v1::GetChildRecordRequest*,
                              kinex::exchange::v1::GetChildRecordResponse* resp) override {
    calls++;
    absl::StatusOr<SpiffeId> id = AuthenticatePeer(*ctx, testing::kTrustDomain);
    if (!id.ok()) return ToGrpcStatus(id.status());
    resp->set_request_id(id->uri);
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

class MtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    auto creds = MakeServerCredentials(testing::ServiceTlsFiles("gateway"));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(); }

  std::shared_ptr<grpc::Channel> Channel(std::shared_ptr<grpc::ChannelCredentials> creds) {
    return grpc::CreateChannel("localhost:" + std::to_string(port_), creds);
  }
  std::shared_ptr<grpc::Channel> Channel(const TlsFiles& files) {
    auto creds = MakeChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return Channel(*creds);
  }
  grpc::Status Call(std::shared_ptr<grpc::Channel> channel, std::string* who = nullptr) {
    auto stub = kinex::exchange::v1::Exchange::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    kinex::exchange::v1::GetChildRecordRequest req;
    kinex::exchange::v1::GetChildRecordResponse resp;
    grpc::Status s = stub->GetChildRecord(&ctx, req, &resp);
    if (who != nullptr) *who = resp.request_id();
    return s;
  }
  // A TLS handshake refusal as the client sees it: the channel never
  // connects, so the call fails UNAVAILABLE and the handler never runs.
  void ExpectRefusedAtHandshake(const grpc::Status& s) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_THAT(s.error_message(),
                AnyOf(HasSubstr("handshake"), HasSubstr("Handshake"), HasSubstr("Socket closed"),
                      HasSubstr("Connection reset")));
    EXPECT_EQ(service_.calls.load(), 0);
  }

  WhoAmI service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(MtlsTest, AgencyCertificateReachesServiceWithItsSpiffeId) {
  std::string who;
  grpc::Status s = Call(
      Channel(testing::AgencyTlsFiles("virtual-school", "E09000033", "virtual-school-head")), &who);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(who, "spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head");
  EXPECT_EQ(service_.calls.load(), 1);
}

TEST_F(MtlsTest, AgencyCertificateReachesHealthService) {
  auto stub = grpc::health::v1::Health::NewStub(
      Channel(testing::AgencyTlsFiles("school", "137000", "designated-safeguarding-lead")));
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(MtlsTest, NoClientCertificateIsRefused) {
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = *ReadFileToString(testing::TestPkiDir() + "/ca.pem");
  ExpectRefusedAtHandshake(Call(Channel(grpc::SslCredentials(opts))));
}

TEST_F(MtlsTest, CertificateFromAnotherCaIsRefused) {
  ExpectRefusedAtHandshake(Call(Channel(testing::NegativeTlsFiles("other-ca"))));
}

TEST_F(MtlsTest, ExpiredCertificateIsRefused) {
  ExpectRefusedAtHandshake(Call(Channel(testing::NegativeTlsFiles("expired"))));
}

TEST_F(MtlsTest, RevokedCertificateIsRefused) {
  ExpectRefusedAtHandshake(Call(Channel(testing::NegativeTlsFiles("revoked"))));
}

TEST_F(MtlsTest, CertificateWithoutSanIsUnauthenticated) {
  grpc::Status s = Call(Channel(testing::NegativeTlsFiles("no-san")));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("exactly one URI SAN"));
  EXPECT_THAT(s.error_message(), HasSubstr("it has 0"));
}

TEST_F(MtlsTest, CertificateWithTwoUriSansIsUnauthenticated) {
  grpc::Status s = Call(Channel(testing::NegativeTlsFiles("two-uris")));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("it has 2"));
}

TEST_F(MtlsTest, ClientRefusesServerFromAnotherCa) {
  // A client trusting only the other CA cannot verify the Kinex server.
  TlsFiles files = testing::AgencyTlsFiles("police", "01", "public-protection-officer");
  files.ca_file = testing::TestPkiDir() + "/.other-ca/ca.pem";
  files.crl_dir.clear();
  ExpectRefusedAtHandshake(Call(Channel(files)));
}

TEST(MakeServerCredentials, RefusesKeyReadableByOthers) {
  const std::string dir = kinex::testing::MakeUniqueTempDir("mtls");
  TlsFiles files = testing::ServiceTlsFiles("gateway");
  const std::string key = dir + "/open.key";
  std::filesystem::copy_file(files.key_file, key,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(key, std::filesystem::perms(0644));
  files.key_file = key;
  auto creds = MakeServerCredentials(files);
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(creds.status().message()),
              HasSubstr(key + ": private key file has mode 0644"));
}

TEST(MakeServerCredentials, RequiresAllFiles) {
  TlsFiles files = testing::ServiceTlsFiles("gateway");
  files.ca_file.clear();
  auto creds = MakeServerCredentials(files);
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(creds.status().message()), HasSubstr("no insecure mode"));
}

}  // namespace
}  // namespace kinex
