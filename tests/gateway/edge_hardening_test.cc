// The gateway edge under careless or hostile callers, over real mTLS with
// the test PKI: only roles the loaded policy set declares for the agency's
// kind get in (every kind, and a reload that removes a role), one agency's
// calls in flight are bounded, and no internal address in an error reaches
// an agency (the log keeps it, with the request id).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/clock.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/tls.h"
#include "services/gateway/call_context.h"
#include "services/gateway/edge.h"
#include "services/policy/policy_engine.h"
#include "services/policy/policy_roles.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex::gateway {
namespace {

namespace ev1 = kinex::exchange::v1;
using ::kinex::policy::PolicyDeclaredRoles;
using ::testing::HasSubstr;
using ::testing::Not;

// GetChildRecord through the edge, with a body the test chooses.
class EdgeService final : public ev1::Exchange::Service {
 public:
  explicit EdgeService(const Edge& edge) : edge_(edge) {}
  grpc::Status GetChildRecord(grpc::ServerContext* ctx, const ev1::GetChildRecordRequest*,
                              ev1::GetChildRecordResponse*) override {
    return edge_.Run(ctx, "GetChildRecord", 0, [&](const CallContext& call, std::string&) {
      return body ? body(call) : absl::OkStatus();
    });
  }
  std::function<absl::Status(const CallContext&)> body;

 private:
  const Edge& edge_;
};

class EdgeHardeningTest : public ::testing::Test {
 protected:
  void Start(EdgeOptions options) {
    edge_ =
        std::make_unique<Edge>(limiter_, metrics_, testing::kTrustDomain, log_, std::move(options));
    service_ = std::make_unique<EdgeService>(*edge_);
    auto creds = MakeServerCredentials(testing::ServiceTlsFiles("gateway"));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status Call(const TlsFiles& files, std::string* request_id = nullptr) {
    auto creds = MakeChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    auto stub =
        ev1::Exchange::NewStub(grpc::CreateChannel(absl::StrCat("localhost:", port_), *creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("x-kinex-actor", "Test Practitioner");
    ev1::GetChildRecordResponse resp;
    grpc::Status s = stub->GetChildRecord(&ctx, {}, &resp);
    if (request_id != nullptr) {
      auto it = ctx.GetServerInitialMetadata().find("x-kinex-request-id");
      if (it != ctx.GetServerInitialMetadata().end()) {
        *request_id = std::string(it->second.data(), it->second.size());
      }
    }
    return s;
  }

  static std::shared_ptr<policy::PolicyEngine> Engine(const std::string& dir) {
    auto engine = policy::PolicyEngine::Create({.policy_dir = dir});
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::shared_ptr<policy::PolicyEngine>(std::move(*engine)) : nullptr;
  }

  RateLimiter limiter_{{.per_second = 1000, .burst = 1000}, RealClock::Get()};
  Metrics metrics_;
  std::ostringstream log_;
  std::unique_ptr<Edge> edge_;
  std::unique_ptr<EdgeService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

struct KindCase {
  const char* kind;
  const char* code;
  const char* declared_role;
  const char* undeclared_role;
  const char* declared_list;
};

constexpr KindCase kKinds[] = {
    {"local-authority", "E09000033", "social-worker", "caretaker",
     "independent-reviewing-officer, social-worker, team-manager"},
    {"virtual-school", "E09000033", "virtual-school-head", "caretaker", "virtual-school-head"},
    {"school", "137000", "designated-teacher", "caretaker",
     "designated-safeguarding-lead, designated-teacher"},
    {"health", "Y01234", "health-practitioner", "caretaker", "health-practitioner"},
    {"police", "01", "public-protection-officer", "caretaker", "public-protection-officer"},
    {"auditor", "kinex-dpo", "auditor", "intern", "auditor"},
};

TEST_F(EdgeHardeningTest, EachKindsDeclaredRoleIsAcceptedAndAnUndeclaredOneRefused) {
  Start({.declared_roles = PolicyDeclaredRoles(Engine(testing::SourceDir() + "/policy"))});
  for (const KindCase& k : kKinds) {
    grpc::Status ok = Call(testing::AgencyTlsFiles(k.kind, k.code, k.declared_role));
    EXPECT_TRUE(ok.ok()) << k.kind << ": " << ok.error_message();
    std::string request_id;
    grpc::Status refused =
        Call(testing::NegativeTlsFiles(absl::StrCat("undeclared-", k.kind)), &request_id);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << k.kind;
    EXPECT_EQ(refused.error_message(),
              absl::StrCat("role \"", k.undeclared_role, "\" is not declared for agency kind ",
                           k.kind, " (declared: ", k.declared_list, ")"));
    EXPECT_EQ(request_id.size(), 32u) << "the refusal carries a request id for support";
    // Over gRPC, the details carry the reason and the same request id.
    const absl::Status back = FromGrpcStatus(refused);
    EXPECT_THAT(back, testing::HasErrorReason("NOT_DECLARED_ROLE")) << k.kind;
    EXPECT_THAT(back, testing::HasErrorMetadata("request_id", request_id)) << k.kind;
  }
  EXPECT_THAT(log_.str(), HasSubstr("\"code\":\"UNAUTHENTICATED\""));
}

TEST_F(EdgeHardeningTest, AReloadThatRemovesARoleRefusesItsNextCall) {
  const std::string dir = testing::MakeUniqueTempDir();
  for (const auto& entry : std::filesystem::directory_iterator(testing::SourceDir() + "/policy")) {
    if (entry.path().extension() == ".textproto") {
      std::filesystem::copy_file(entry.path(), dir + "/" + entry.path().filename().string());
    }
  }
  std::shared_ptr<policy::PolicyEngine> engine = Engine(dir);
  Start({.declared_roles = PolicyDeclaredRoles(engine)});
  const TlsFiles teacher = testing::AgencyTlsFiles("school", "137000", "designated-teacher");
  ASSERT_TRUE(Call(teacher).ok());

  absl::StatusOr<std::string> roles = ReadFileToString(dir + "/roles.textproto");
  ASSERT_TRUE(roles.ok()) << roles.status();
  const std::string without =
      absl::StrReplaceAll(*roles, {{"[\"designated-safeguarding-lead\", \"designated-teacher\"]",
                                    "[\"designated-safeguarding-lead\"]"}});
  ASSERT_NE(without, *roles);
  std::ofstream(dir + "/roles.textproto", std::ios::trunc) << without;
  // A rule naming a role that is not declared fails the load, so the
  // designated teacher's rule goes with its role.
  absl::StatusOr<std::string> school = ReadFileToString(dir + "/school.textproto");
  ASSERT_TRUE(school.ok()) << school.status();
  const size_t rule = school->find("rules {\n  id: \"school-designated-teacher\"");
  ASSERT_NE(rule, std::string::npos);
  const size_t end = school->find("\n}\n", rule);
  ASSERT_NE(end, std::string::npos);
  std::ofstream(dir + "/school.textproto", std::ios::trunc)
      << school->substr(0, rule) << school->substr(end + 3);
  ASSERT_TRUE(engine->Reload().ok()) << engine->last_reload_status();

  grpc::Status refused = Call(teacher);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message(),
            "role \"designated-teacher\" is not declared for agency kind school (declared: "
            "designated-safeguarding-lead)");
  EXPECT_TRUE(
      Call(testing::AgencyTlsFiles("school", "137000", "designated-safeguarding-lead")).ok());
}

TEST_F(EdgeHardeningTest, ACallOverTheAgencysInFlightLimitIsRefused) {
  Start({.max_in_flight_per_agency = 1});
  absl::Notification entered, release;
  service_->body = [&](const CallContext& call) {
    if (call.principal.agency_code == "137000" && !entered.HasBeenNotified()) {
      entered.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  };
  const TlsFiles dsl = testing::AgencyTlsFiles("school", "137000", "designated-safeguarding-lead");
  grpc::Status first;
  std::thread holder([&] { first = Call(dsl); });
  entered.WaitForNotification();
  // Another certificate of the same agency shares its limit.
  grpc::Status second = Call(testing::AgencyTlsFiles("school", "137000", "designated-teacher"));
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(second.error_message(),
            "too many calls in flight for agency school/137000 (limit 1); retry when one "
            "completes");
  // Other agencies are not held up.
  EXPECT_TRUE(Call(testing::AgencyTlsFiles("school", "141999", "designated-teacher")).ok());
  release.Notify();
  holder.join();
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_TRUE(Call(dsl).ok()) << "the slot is returned when the call ends";
}

TEST_F(EdgeHardeningTest, DependencyAddressesAreStrippedForTheCallerAndLogged) {
  Start({});
  const std::string full =
      "records service could not answer (failed to connect to all addresses; last error: "
      "UNKNOWN: ipv4:127.0.0.1:7447: Failed to connect to remote host: Connection refused); "
      "nothing was disclosed";
  service_->body = [&](const CallContext&) { return absl::UnavailableError(full); };
  std::string request_id;
  grpc::Status s =
      Call(testing::AgencyTlsFiles("school", "137000", "designated-teacher"), &request_id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(),
            "records service could not answer (failed to connect to all addresses; last error: "
            "UNKNOWN: <internal address>: Failed to connect to remote host: Connection "
            "refused); nothing was disclosed");
  EXPECT_THAT(s.error_message(), Not(HasSubstr("127.0.0.1")));
  ASSERT_FALSE(request_id.empty());
  EXPECT_THAT(log_.str(), HasSubstr(absl::StrCat("\"request_id\":\"", request_id, "\"")));
  EXPECT_THAT(log_.str(), HasSubstr("ipv4:127.0.0.1:7447: Failed to connect"));
}

}  // namespace
}  // namespace kinex::gateway
