// Refused TLS handshakes at a real `kinex --target=all` (issue 12, TLS
// refusals): an expired, a revoked, another CA's and no client certificate
// are refused, and each refusal is one JSON log line naming the reason,
// where gRPC 1.51 wrote two plain-text lines.
//
// What the client sees is still the connection closing without a TLS alert
// (UNAVAILABLE, or an unexpected EOF to a raw TLS client): gRPC 1.51's TSI
// discards the alert OpenSSL writes when the handshake fails (see the
// report in issue 12), which Kinex cannot change without patching gRPC.
// The last test pins that down, so a gRPC upgrade that sends the alert
// shows up here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/tls.h"
#include "tests/integration/cluster.h"
#include "tests/testing/test_pki.h"

namespace kinex::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TlsFiles Negative(const KinexCluster& c, const std::string& name) {
  const std::string base = absl::StrCat(c.pki(), "/negative/", name);
  return {.ca_file = c.pki() + "/ca.pem", .cert_file = base + ".pem", .key_file = base + ".key"};
}

grpc::Status HealthCheck(const std::string& address, const TlsFiles& files) {
  auto creds = MakeChannelCredentials(files);
  EXPECT_TRUE(creds.ok()) << creds.status();
  auto channel = grpc::CreateChannel(address, *creds);
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  grpc::Status status;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  return status;
}

// A raw TLS client without a certificate: what it reads after the
// handshake ("eof", or "alert: <description>").
std::string RawNoCertificate(int port, const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string result = "connect failed";
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ERR_clear_error();
    int r = SSL_connect(ssl);
    char buf[64];
    if (r == 1) r = SSL_read(ssl, buf, sizeof(buf));
    const unsigned long err = ERR_peek_last_error();
    const std::string text = err == 0 ? "" : ERR_reason_error_string(err);
    if (absl::StrContains(text, "alert")) {
      result = absl::StrCat("alert: ", text);
    } else if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ||
               absl::StrContains(text, "unexpected eof") || err == 0) {
      result = "eof";
    } else {
      result = text;
    }
    SSL_free(ssl);
  }
  close(fd);
  SSL_CTX_free(ctx);
  return result;
}

class TlsRefusalE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KinexCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
  }
  std::unique_ptr<KinexCluster> cluster_;
};

TEST_F(TlsRefusalE2E, EachRefusedHandshakeIsOneJsonLineWithTheReason) {
  KinexCluster& c = *cluster_;
  for (const char* name : {"expired", "revoked", "other-ca"}) {
    grpc::Status s = HealthCheck(c.gateway_address(), Negative(c, name));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << name << ": " << s.error_message();
  }
  const int port = std::stoi(c.gateway_address().substr(c.gateway_address().rfind(':') + 1));
  EXPECT_EQ(RawNoCertificate(port, c.pki() + "/ca.pem"), "eof");
  // An accepted certificate still gets in.
  const std::string accepted =
      absl::StrCat(c.pki(), "/agencies/local-authority-E09000033-social-worker");
  EXPECT_TRUE(HealthCheck(c.gateway_address(), {.ca_file = c.pki() + "/ca.pem",
                                                .cert_file = accepted + ".pem",
                                                .key_file = accepted + ".key"})
                  .ok());

  // Each reason counted (gRPC may retry a refused connection, so at least once).
  const std::string metrics = c.ScrapeMetrics("all");
  for (const char* reason : {"certificate has expired", "certificate revoked",
                             "certificate not issued by the Kinex CA", "no client certificate"}) {
    std::optional<double> count = MetricValue(
        metrics, absl::StrCat("kinex_tls_handshake_refusals_total{reason=\"", reason, "\"}"));
    ASSERT_TRUE(count.has_value()) << reason << "\n" << metrics;
    EXPECT_GE(*count, 1) << reason;
  }
  EXPECT_FALSE(MetricValue(metrics,
                           "kinex_tls_handshake_refusals_total{reason=\"TLS handshake "
                           "failed\"}")
                   .has_value())
      << "every refusal above has a specific reason";

  const std::string logs = c.Logs();
  int refusals = 0;
  std::set<std::string> reasons;
  for (absl::string_view line : absl::StrSplit(logs, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "{")) << "not a JSON line: " << line;
    if (!absl::StrContains(line, "\"msg\":\"tls handshake refused\"")) continue;
    ++refusals;
    for (const char* reason : {"certificate has expired", "certificate revoked",
                               "certificate not issued by the Kinex CA", "no client certificate"}) {
      if (absl::StrContains(line, absl::StrCat("\"reason\":\"", reason, "\""))) {
        reasons.insert(reason);
      }
    }
  }
  EXPECT_GE(refusals, 4);
  // The revocation check knows the certificate: its subject, SPIFFE ID and serial.
  EXPECT_THAT(
      logs, HasSubstr(absl::StrCat("\"reason\":\"certificate revoked\",\"subject\":\"CN=revoked\","
                                   "\"uri_sans\":\"spiffe://kinex.dev/local-authority/E09000033/"
                                   "social-worker\",\"serial\":\"",
                                   SerialOf(c.pki() + "/negative/revoked.pem"), "\"")));
  EXPECT_EQ(reasons.size(), 4u) << logs;
  EXPECT_THAT(logs, Not(HasSubstr("Handshake failed with fatal error SSL_ERROR_SSL: error:0A000086"
                                  "\n")))
      << "the plain gRPC line is replaced";
}

}  // namespace
}  // namespace kinex::testing
