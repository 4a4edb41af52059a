// The audit service over real mTLS (test PKI): who may call what, the gRPC
// AuditSink client, and MakeAuditTarget from a config (including refusing to
// start on a corrupt log).
#include "services/audit/audit_service.h"

#include <sqlite3.h>

#include <atomic>
#include <filesystem>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_client.h"
#include "services/audit/audit_target.h"
#include "services/audit/log_verifier.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/tls.h"
#include "tests/audit/audit_target_fixture.h"
#include "tests/audit/test_events.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::SampleEvent;
using ::testing::HasSubstr;

class AuditServiceTest : public testing::AuditTargetTest {
 protected:
  std::shared_ptr<grpc::Channel> Channel(const TlsFiles& files) {
    auto creds = MakeChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return grpc::CreateChannel(absl::StrCat("localhost:", port_), *creds);
  }
  std::unique_ptr<v1::Audit::Stub> Stub(const TlsFiles& files) {
    return v1::Audit::NewStub(Channel(files));
  }
  static TlsFiles Auditor() {
    return kinex::testing::AgencyTlsFiles("auditor", "kinex-dpo", "auditor");
  }
  static TlsFiles VirtualSchool() {
    return kinex::testing::AgencyTlsFiles("virtual-school", "E09000033", "virtual-school-head");
  }
};

TEST_F(AuditServiceTest, GatewayAppendsThroughTheClientAndGetsAVerifiableReceipt) {
  Start();
  AuditClient client(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  absl::StatusOr<AppendResult> r = client.Append(SampleEvent("req-1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->leaf_index, 0u);
  auto pem = ReadFileToString(kinex::testing::TestPkiDir() + "/audit-signing.pub.pem");
  ASSERT_TRUE(pem.ok());
  auto verifier = *TreeHeadVerifier::FromPublicKeyPem(*pem);
  kinex::exchange::v1::DisclosureReceipt receipt;
  receipt.set_leaf_index(r->leaf_index);
  receipt.set_leaf_hash(r->leaf_hash);
  *receipt.mutable_signed_tree_head() = r->signed_tree_head;
  for (const auto& h : r->inclusion_proof) receipt.add_inclusion_proof(h);
  EXPECT_TRUE(VerifyReceipt(receipt, *verifier).ok());
}

TEST_F(AuditServiceTest, AgenciesMayNotAppend) {
  Start();
  for (const TlsFiles& files : {Auditor(), VirtualSchool()}) {
    AuditClient client(Channel(files));
    absl::StatusOr<AppendResult> r = client.Append(SampleEvent("req-1"));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(r.status().message(), HasSubstr("the audit service accepts Kinex services only"));
  }
  EXPECT_EQ(target_->log->Size(), 0u);
}

// AppendBatch (AuditClient::AppendAll): a ListChildren page's events in one
// call, each with its own receipt, in order.
TEST_F(AuditServiceTest, GatewayAppendsABatchAndEachEventGetsAVerifiableReceipt) {
  Start();
  AuditClient client(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  std::vector<v1::AuditEvent> events;
  for (int i = 0; i < 5; ++i) events.push_back(SampleEvent(absl::StrCat("req-", i)));
  std::vector<absl::StatusOr<AppendResult>> results = client.AppendAll(events);
  ASSERT_EQ(results.size(), 5u);
  auto pem = ReadFileToString(kinex::testing::TestPkiDir() + "/audit-signing.pub.pem");
  ASSERT_TRUE(pem.ok());
  auto verifier = *TreeHeadVerifier::FromPublicKeyPem(*pem);
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->leaf_index, i);
    kinex::exchange::v1::DisclosureReceipt receipt;
    receipt.set_leaf_index(results[i]->leaf_index);
    receipt.set_leaf_hash(results[i]->leaf_hash);
    *receipt.mutable_signed_tree_head() = results[i]->signed_tree_head;
    for (const auto& h : results[i]->inclusion_proof) receipt.add_inclusion_proof(h);
    EXPECT_TRUE(VerifyReceipt(receipt, *verifier).ok()) << i;
  }
  v1::GetEntriesRequest req;
  req.set_start_index(0);
  req.set_end_index(5);
  auto entries = target_->log->GetEntries(req);
  ASSERT_TRUE(entries.ok());
  for (int i = 0; i < 5; ++i) {
    auto decoded = DecodeEvent(entries->entries(i).leaf_data());
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->event.request_id(), absl::StrCat("req-", i));
  }
}

// More than one AppendBatch takes: the client sends several, in order.
TEST_F(AuditServiceTest, AppendAllSplitsWhatOneBatchCannotTake) {
  Start();
  AuditClient client(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  std::vector<v1::AuditEvent> events(kMaxAppendBatch + 7, SampleEvent("req-many"));
  std::vector<absl::StatusOr<AppendResult>> results = client.AppendAll(events);
  ASSERT_EQ(results.size(), events.size());
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->leaf_index, i);
  }
  EXPECT_EQ(target_->log->Size(), events.size());
}

// An audit service from before AppendBatch (its generated base answers
// UNIMPLEMENTED) still takes every event of a page, one Append each: a
// rolling upgrade that reaches the gateway first does not stop ListChildren.
class AppendOnlyAudit final : public v1::Audit::Service {
 public:
  explicit AppendOnlyAudit(AuditGrpcService& current) : current_(current) {}
  grpc::Status Append(grpc::ServerContext* ctx, const v1::AppendRequest* req,
                      v1::AppendResponse* resp) override {
    ++appends;
    return current_.Append(ctx, req, resp);
  }
  std::atomic<int> appends{0};

 private:
  AuditGrpcService& current_;
};

TEST_F(AuditServiceTest, AppendAllFallsBackToAppendOnAnOlderAuditService) {
  Start();
  AuditGrpcService current(target_->log.get(), "kinex.dev");
  AppendOnlyAudit old(current);
  auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles("audit"));
  ASSERT_TRUE(creds.ok());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *creds, &port);
  builder.RegisterService(&old);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto channel_creds = MakeChannelCredentials(kinex::testing::ServiceTlsFiles("gateway"));
  ASSERT_TRUE(channel_creds.ok());
  AuditClient client(grpc::CreateChannel(absl::StrCat("localhost:", port), *channel_creds));
  std::vector<absl::StatusOr<AppendResult>> results = client.AppendAll(std::vector<v1::AuditEvent>{
      SampleEvent("req-a"), SampleEvent("req-b"), SampleEvent("req-c")});
  ASSERT_EQ(results.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->leaf_index, i);
  }
  EXPECT_EQ(old.appends.load(), 3);
  server->Shutdown();
}

// An invalid event is refused on its own (its error as Append would give
// it, reason included); the others are appended.
TEST_F(AuditServiceTest, AnInvalidEventInABatchIsRefusedAlone) {
  Start();
  AuditClient client(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  v1::AuditEvent bad = SampleEvent("req-bad");
  bad.clear_policy_version();
  const absl::Status expected = ValidateAppendEvent(bad);
  ASSERT_FALSE(expected.ok());
  std::vector<v1::AuditEvent> events = {SampleEvent("req-a"), bad, SampleEvent("req-b")};
  std::vector<absl::StatusOr<AppendResult>> results = client.AppendAll(events);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_THAT(results[1].status(),
              ::kinex::testing::StatusIs(expected.code(), std::string(expected.message())));
  EXPECT_THAT(results[1].status(), ::kinex::testing::HasErrorReason(ErrorReasonOf(expected)));
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_EQ(results[0]->leaf_index, 0u);
  EXPECT_EQ(results[2]->leaf_index, 1u);
  EXPECT_EQ(target_->log->Size(), 2u);
}

// Only the gateway (disclosures) and records (its own writes) append
// batches; a batch holding one event its caller may not append is refused whole, naming that event;
// so are an empty and an oversized one. Nothing of any of them is appended.
TEST_F(AuditServiceTest, ABatchIsRefusedWholeForTheWrongCallerOrShape) {
  Start();
  for (const TlsFiles& files :
       {kinex::testing::ServiceTlsFiles("records"), kinex::testing::ServiceTlsFiles("consent"),
        Auditor(), VirtualSchool()}) {
    AuditClient client(Channel(files));
    std::vector<absl::StatusOr<AppendResult>> results =
        client.AppendAll(std::vector<v1::AuditEvent>{SampleEvent("req-1"), SampleEvent("req-2")});
    ASSERT_EQ(results.size(), 2u);
    for (const auto& r : results) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
    }
  }
  AuditClient gateway(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  v1::AuditEvent publish = SampleEvent("req-publish");
  publish.set_kind(v1::PART_PUBLISHED);
  std::vector<absl::StatusOr<AppendResult>> results =
      gateway.AppendAll(std::vector<v1::AuditEvent>{SampleEvent("req-1"), publish});
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_THAT(r.status(),
                ::kinex::testing::StatusIs(
                    absl::StatusCode::kPermissionDenied,
                    ::testing::StartsWith("events[1]: service \"gateway\" may not append "
                                          "PART_PUBLISHED events to the audit log")));
    EXPECT_THAT(r.status(), ::kinex::testing::HasErrorReason("SERVICE_NOT_ALLOWED"));
  }

  // A caller that may not append batches is refused as such, whatever the
  // batch holds (an empty one included).
  {
    v1::AppendBatchResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = Stub(kinex::testing::ServiceTlsFiles("consent"))
                               ->AppendBatch(&ctx, v1::AppendBatchRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(),
              "service \"consent\" may not call kinex.audit.v1.Audit/AppendBatch (allowed: "
              "gateway, records)");
  }
  auto stub = Stub(kinex::testing::ServiceTlsFiles("gateway"));
  for (int n : {0, kMaxAppendBatch + 1}) {
    v1::AppendBatchRequest req;
    for (int i = 0; i < n; ++i) *req.add_events() = SampleEvent("req-x");
    v1::AppendBatchResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = stub->AppendBatch(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(),
              absl::StrCat("events: ", n, " events; AppendBatch takes 1 to ", kMaxAppendBatch));
    EXPECT_THAT(FromGrpcStatus(s), ::kinex::testing::HasErrorReason("INVALID_FIELD"));
  }
  EXPECT_EQ(target_->log->Size(), 0u);
  // Records may not slip a disclosure into a batch of its own events: the
  // whole batch is refused naming that event (not taken for a refusal of
  // the method, so the client does not fall back to one Append each), and
  // nothing is appended.
  {
    AuditClient records(Channel(kinex::testing::ServiceTlsFiles("records")));
    v1::AuditEvent own = SampleEvent("req-own");
    own.set_kind(v1::PART_PUBLISHED);
    std::vector<absl::StatusOr<AppendResult>> mixed =
        records.AppendAll(std::vector<v1::AuditEvent>{own, SampleEvent("req-disclosure")});
    ASSERT_EQ(mixed.size(), 2u);
    for (const auto& r : mixed) {
      EXPECT_THAT(r.status(), ::kinex::testing::StatusIs(
                                  absl::StatusCode::kPermissionDenied,
                                  ::testing::StartsWith("events[1]: service \"records\" may not "
                                                        "append DISCLOSURE events to the audit "
                                                        "log")));
    }
    EXPECT_EQ(target_->log->Size(), 0u);
  }
  // Records batches its own write events (its audit outbox), and only those.
  {
    AuditClient records(Channel(kinex::testing::ServiceTlsFiles("records")));
    v1::AuditEvent published = SampleEvent("req-records");
    published.set_kind(v1::PART_PUBLISHED);
    std::vector<absl::StatusOr<AppendResult>> own =
        records.AppendAll(std::vector<v1::AuditEvent>{published});
    ASSERT_EQ(own.size(), 1u);
    EXPECT_TRUE(own[0].ok()) << own[0].status();
  }
  EXPECT_EQ(target_->log->Size(), 1u);
}

TEST_F(AuditServiceTest, GatewayForwardsAuditorQueriesAndEachIsAudited) {
  Start();
  ASSERT_TRUE(target_->log->Append(SampleEvent("req-1")).ok());
  const std::string auditor = "spiffe://kinex.dev/auditor/kinex-dpo/auditor";
  auto gateway = Stub(kinex::testing::ServiceTlsFiles("gateway"));
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-principal", auditor);
    ctx.AddMetadata("x-kinex-actor", "dpo");
    ctx.AddMetadata("x-kinex-request-id", "rq-7");
    v1::QueryEventsRequest req;
    req.mutable_child()->set_nhs_number(testing::kNhsA);
    v1::QueryEventsResponse resp;
    grpc::Status s = gateway->QueryEvents(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.entries_size(), 1);
    EXPECT_EQ(resp.child_chain_head(), 0);
  }
  // Exactly one AUDIT_QUERIED event, naming the auditor.
  ASSERT_EQ(target_->log->Size(), 2u);
  v1::GetEntriesRequest er;
  er.set_start_index(1);
  er.set_end_index(2);
  const v1::AuditEvent e = target_->log->GetEntries(er)->entries(0).event();
  EXPECT_EQ(e.kind(), v1::AUDIT_QUERIED);
  EXPECT_EQ(e.principal(), auditor);
  EXPECT_EQ(e.agency_kind(), kinex::common::v1::AUDITOR);
  EXPECT_EQ(e.agency_code(), "kinex-dpo");
  EXPECT_EQ(e.actor(), "dpo");
  EXPECT_EQ(e.request_id(), "rq-7");
  EXPECT_EQ(e.result_count(), 1);
  EXPECT_THAT(e.query(), ::testing::StartsWith("child="));
  {
    // Reads without a forwarded principal are the gateway's own, recorded.
    grpc::ClientContext ctx;
    v1::QueryEventsResponse resp;
    ASSERT_TRUE(gateway->QueryEvents(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.entries_size(), 2);
    ASSERT_EQ(target_->log->Size(), 3u);
  }
  {
    // The gateway may forward only auditors.
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-principal",
                    "spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head");
    v1::QueryEventsResponse resp;
    grpc::Status s = gateway->QueryEvents(&ctx, {}, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(), "x-kinex-principal: the audit log is readable by auditors only");
  }
  // Agencies, auditors included, reach the log through the gateway only.
  for (const TlsFiles& files : {Auditor(), VirtualSchool()}) {
    auto agency = Stub(files);
    grpc::ClientContext ctx;
    v1::QueryEventsResponse resp;
    grpc::Status s = agency->QueryEvents(&ctx, {}, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext ctx2;
    v1::GetEntriesRequest entries;
    entries.set_end_index(1);
    v1::GetEntriesResponse eresp;
    EXPECT_EQ(agency->GetEntries(&ctx2, entries, &eresp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(target_->log->Size(), 3u);
}

TEST_F(AuditServiceTest, UnreachableAuditServiceFailsClosed) {
  Start();
  const int port = port_;
  Stop();
  port_ = port;
  AuditClient client(Channel(kinex::testing::ServiceTlsFiles("gateway")), absl::Seconds(2));
  absl::StatusOr<AppendResult> r = client.Append(SampleEvent("req-1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(AuditServiceTest, TargetRefusesToStartOnACorruptLog) {
  Start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(target_->log->Append(SampleEvent("r")).ok());
  Stop();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "audit.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TRIGGER audit_entries_no_delete;"
                         "DELETE FROM audit_entries WHERE leaf_index = 1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<AuditTarget> target = MakeAuditTarget(config_, clock_);
  EXPECT_EQ(target.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(target.status().message(),
              HasSubstr("refusing to start: leaf index 1: entry is missing"));
}

TEST_F(AuditServiceTest, TargetNeedsItsKeys) {
  config_.mutable_audit()->clear_signing_key_file();
  EXPECT_THAT(MakeAuditTarget(config_, clock_).status().message(),
              HasSubstr("audit.signing_key_file is required"));
  config_.mutable_audit()->set_signing_key_file("missing.key");
  absl::StatusOr<AuditTarget> t = MakeAuditTarget(config_, clock_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("missing.key"));
}

TEST_F(AuditServiceTest, TargetRefusesARetiredKeyFileThatIsNotAnEd25519PublicKey) {
  const std::string pki = kinex::testing::TestPkiDir();
  // A private key (the signing key itself) and a certificate.
  for (const std::string& file : {pki + "/audit-signing.key", pki + "/ca.pem"}) {
    config_.mutable_audit()->clear_retired_public_key_files();
    config_.mutable_audit()->add_retired_public_key_files(pki + "/audit-signing.pub.pem");
    config_.mutable_audit()->add_retired_public_key_files(file);
    absl::StatusOr<AuditTarget> t = MakeAuditTarget(config_, clock_);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(),
              absl::StrCat("audit.retired_public_key_files[1]: ", file,
                           file == pki + "/ca.pem" ? ": not a PEM public key"
                                                   : ": holds a private key; give its public half "
                                                     "(openssl pkey -in KEY -pubout)"));
  }
}

}  // namespace
}  // namespace kinex::audit
