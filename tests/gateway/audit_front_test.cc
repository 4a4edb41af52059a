// The gateway's Audit front over real mTLS (test PKI) and a real audit log
// (in-memory storage): every declared agency principal reads the log's
// public signing keys, so it can pin them and verify its receipts offline;
// everything else stays auditor-only, with the exact code, message and
// reason; reading the keys leaves no audit event, like a tree head read.
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_log.h"
#include "services/audit/event_codec.h"
#include "services/audit/tree_head.h"
#include "services/common/clock.h"
#include "services/common/grpc_status.h"
#include "services/common/tls.h"
#include "services/gateway/audit_front.h"
#include "services/gateway/edge.h"
#include "services/policy/policy_engine.h"
#include "services/policy/policy_roles.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_log_storage.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace kinex::gateway {
namespace {

namespace av1 = kinex::audit::v1;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;

class AuditFrontTest : public ::testing::Test {
 protected:
  void SetUp() override {
    audit::AuditLog::Options options;
    options.storage = &storage_;
    auto signer = audit::TreeHeadSigner::Generate();
    ASSERT_TRUE(signer.ok()) << signer.status();
    auto pem = (*signer)->PublicKeyPem();
    ASSERT_TRUE(pem.ok()) << pem.status();
    public_key_pem_ = *pem;
    options.signer = std::move(*signer);
    auto pseudonymizer = audit::ChildPseudonymizer::Create(std::string(32, 'k'));
    ASSERT_TRUE(pseudonymizer.ok()) << pseudonymizer.status();
    options.pseudonymizer = std::move(*pseudonymizer);
    options.clock = &clock_;
    options.start_signer_thread = false;
    auto log = audit::AuditLog::Create(std::move(options));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);

    auto engine = policy::PolicyEngine::Create({.policy_dir = testing::SourceDir() + "/policy"});
    ASSERT_TRUE(engine.ok()) << engine.status();
    edge_ = std::make_unique<Edge>(
        limiter_, metrics_, testing::kTrustDomain, edge_log_,
        EdgeOptions{.declared_roles = policy::PolicyDeclaredRoles(
                        std::shared_ptr<policy::PolicyEngine>(std::move(*engine)))});
    front_ = std::make_unique<AuditFront>(LocalAuditReads(*log_), *edge_);
    auto creds = MakeServerCredentials(testing::ServiceTlsFiles("gateway"));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(front_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  std::unique_ptr<av1::Audit::Stub> As(const TlsFiles& files) {
    auto creds = MakeChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return av1::Audit::NewStub(grpc::CreateChannel(absl::StrCat("localhost:", port_), *creds));
  }
  static void Prepare(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("x-kinex-actor", "Test Practitioner");
  }

  FakeClock clock_;
  audit::FakeLogStorage storage_;
  std::unique_ptr<audit::AuditLog> log_;
  std::string public_key_pem_;
  RateLimiter limiter_{{.per_second = 1000, .burst = 1000}, RealClock::Get()};
  Metrics metrics_;
  std::ostringstream edge_log_;
  std::unique_ptr<Edge> edge_;
  std::unique_ptr<AuditFront> front_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

struct Principal {
  const char* kind;
  const char* code;
  const char* role;
};

constexpr Principal kEveryKind[] = {
    {"local-authority", "E09000033", "social-worker"},
    {"virtual-school", "E09000033", "virtual-school-head"},
    {"school", "137000", "designated-teacher"},
    {"health", "Y01234", "health-practitioner"},
    {"police", "01", "public-protection-officer"},
    {"auditor", "kinex-dpo", "auditor"},
};

TEST_F(AuditFrontTest, EveryDeclaredAgencyReadsTheSigningKeyWithoutAnAuditEvent) {
  const uint64_t size_before = log_->Size();
  for (const Principal& p : kEveryKind) {
    auto stub = As(testing::AgencyTlsFiles(p.kind, p.code, p.role));
    grpc::ClientContext ctx;
    Prepare(ctx);
    av1::SigningKey key;
    grpc::Status s = stub->GetSigningKey(&ctx, {}, &key);
    ASSERT_TRUE(s.ok()) << p.kind << ": " << s.error_code() << " " << s.error_message();
    EXPECT_EQ(key.public_key_pem(), public_key_pem_) << p.kind;
    auto verifier = audit::TreeHeadVerifier::FromPublicKeyPem(key.public_key_pem());
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    EXPECT_EQ(key.key_id(), (*verifier)->key_id()) << p.kind;
    ASSERT_EQ(key.keys_size(), 1) << p.kind;
    EXPECT_TRUE(key.keys(0).current());
    EXPECT_EQ(key.keys(0).public_key_pem(), public_key_pem_);
    // The key verifies the log's head.
    EXPECT_TRUE((*verifier)->Verify(log_->LatestHead()).ok()) << p.kind;
  }
  // Like a tree head read, a key read is not an audit event (only queries
  // and entry reads are); the edge logs each call.
  EXPECT_EQ(log_->Size(), size_before);
  EXPECT_THAT(edge_log_.str(), ::testing::HasSubstr("\"method\":\"GetSigningKey\""));
}

TEST_F(AuditFrontTest, AnAgencyIsStillRefusedEveryOtherRead) {
  auto school = As(testing::AgencyTlsFiles("school", "137000", "designated-teacher"));
  const uint64_t size_before = log_->Size();
  auto expect_refused = [](const grpc::Status& s, const char* method) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method;
    EXPECT_EQ(s.error_message(), "the audit log is readable by auditors only") << method;
    const absl::Status back = FromGrpcStatus(s);
    EXPECT_THAT(back, StatusIs(absl::StatusCode::kPermissionDenied,
                               "the audit log is readable by auditors only"))
        << method;
    EXPECT_THAT(back, HasErrorReason("POLICY_DENIED")) << method;
  };
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    av1::QueryEventsResponse resp;
    expect_refused(school->QueryEvents(&ctx, {}, &resp), "QueryEvents");
  }
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    av1::GetEntriesRequest req;
    req.set_start_index(0);
    req.set_end_index(1);
    av1::GetEntriesResponse resp;
    expect_refused(school->GetEntries(&ctx, req, &resp), "GetEntries");
  }
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    av1::SignedTreeHead resp;
    expect_refused(school->GetSignedTreeHead(&ctx, {}, &resp), "GetSignedTreeHead");
  }
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    av1::GetConsistencyProofResponse resp;
    expect_refused(school->GetConsistencyProof(&ctx, {}, &resp), "GetConsistencyProof");
  }
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    av1::GetInclusionProofResponse resp;
    expect_refused(school->GetInclusionProof(&ctx, {}, &resp), "GetInclusionProof");
  }
  // Refused reads never reached the log.
  EXPECT_EQ(log_->Size(), size_before);
  // The auditor's query still goes through, and is itself audited.
  auto auditor = As(testing::AgencyTlsFiles("auditor", "kinex-dpo", "auditor"));
  grpc::ClientContext ctx;
  Prepare(ctx);
  av1::QueryEventsResponse resp;
  grpc::Status s = auditor->QueryEvents(&ctx, {}, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(log_->Size(), size_before + 1);
}

TEST_F(AuditFrontTest, AnUndeclaredRoleCannotReadTheSigningKey) {
  auto intern = As(testing::NegativeTlsFiles("undeclared-school"));
  grpc::ClientContext ctx;
  Prepare(ctx);
  av1::SigningKey key;
  grpc::Status s = intern->GetSigningKey(&ctx, {}, &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(),
            "role \"caretaker\" is not declared for agency kind school (declared: "
            "designated-safeguarding-lead, designated-teacher)");
  EXPECT_THAT(FromGrpcStatus(s), HasErrorReason("NOT_DECLARED_ROLE"));
}

}  // namespace
}  // namespace kinex::gateway
