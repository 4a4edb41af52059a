// Fail closed and observe safely, with real processes over mTLS: a dead
// audit, policy or consent service means nothing is disclosed; metrics are
// served over HTTP; no log line or metric carries a child identifier, name
// or record content.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"

namespace kinex::testing {
namespace {

using ::testing::HasSubstr;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;

// Publishes every part of maisie-thornbury; returns her Kinex id.
std::string SeedMaisie(KinexCluster& c) {
  absl::StatusOr<std::string> kid = PublishDemoChild(c, "maisie-thornbury");
  EXPECT_TRUE(kid.ok()) << kid.status();
  return kid.ok() ? *kid : "";
}

grpc::Status GetAsVsh(KinexCluster& c, const std::string& kid, ev1::GetChildRecordResponse* r) {
  auto stub =
      ev1::Exchange::NewStub(c.AgencyChannel("virtual-school", "E09000033", "virtual-school-head"));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "V. Head");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(kid);
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  return stub->GetChildRecord(&ctx, req, r);
}

class FailClosedE2E : public ::testing::TestWithParam<const char*> {};

TEST_P(FailClosedE2E, DeadServiceMeansNothingIsDisclosed) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kMicroservices});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string kid = SeedMaisie(**c);
  ev1::GetChildRecordResponse r;
  ASSERT_TRUE(GetAsVsh(**c, kid, &r).ok());  // healthy: disclosed
  (*c)->Kill(GetParam());
  r.Clear();
  grpc::Status s = GetAsVsh(**c, kid, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("nothing was disclosed"));
  EXPECT_FALSE(r.has_record());
  EXPECT_FALSE(r.has_receipt());
}

INSTANTIATE_TEST_SUITE_P(Services, FailClosedE2E, ::testing::Values("audit", "policy", "consent"),
                         [](const auto& info) { return std::string(info.param); });

// Plain HTTP GET of `path` from host:port; the body.
std::string HttpGet(const std::string& address, const std::string& path) {
  const size_t colon = address.rfind(':');
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(ObservabilityE2E, MetricsAndLogsCarryNoChildData) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kAllInOne});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string kid = SeedMaisie(**c);
  ev1::GetChildRecordResponse r;
  ASSERT_TRUE(GetAsVsh(**c, kid, &r).ok());
  // A break-glass read by police, counted in metrics.
  {
    auto stub =
        ev1::Exchange::NewStub((*c)->AgencyChannel("police", "01", "public-protection-officer"));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "PC Example");
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_nhs_number("9990000107");
    req.set_purpose(cv1::SAFEGUARDING);
    req.set_break_glass(true);
    req.set_justification("Child missing overnight; need medical context for the search");
    ev1::GetChildRecordResponse resp;
    grpc::Status s = stub->GetChildRecord(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const std::string metrics = HttpGet((*c)->metrics_address(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("200 OK"));
  EXPECT_THAT(metrics, HasSubstr("kinex_requests_total{"));
  EXPECT_THAT(metrics, HasSubstr("method=\"GetChildRecord\""));
  EXPECT_THAT(metrics, HasSubstr("agency_kind=\"virtual-school\""));
  EXPECT_THAT(metrics, HasSubstr("kinex_break_glass_total{agency_kind=\"police\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("kinex_audit_append_seconds_bucket"));

  const std::string logs = (*c)->Logs();
  EXPECT_THAT(logs, HasSubstr("\"msg\":\"request\""));
  EXPECT_THAT(logs, HasSubstr("\"decision\":\"partial+break-glass\""));
  // Nothing that identifies the child, nor anything of the record, anywhere.
  for (const std::string& secret :
       {kid, std::string("9990000107"), std::string("X213700025001"), std::string("WCC-100231"),
        std::string("Maisie"), std::string("Thornbury"), std::string("SW1A 0AA"),
        std::string("Police attended a domestic incident")}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << "logs leak " << secret;
    EXPECT_EQ(metrics.find(secret), std::string::npos) << "metrics leak " << secret;
  }
}

}  // namespace
}  // namespace kinex::testing
