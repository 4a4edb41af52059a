// The audit service over real mTLS (test PKI): who may call what, the gRPC
// AuditSink client, and MakeAuditTarget from a config (including refusing to
// start on a corrupt log).
#include "services/audit/audit_service.h"

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_client.h"
#include "services/audit/audit_target.h"
#include "services/audit/log_verifier.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/status_macros.h"
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
  // The DisclosureReceipt `r` gives, checked against the test PKI's
  // signing key.
  static absl::Status ReceiptVerifies(const AppendResult& r) {
    KINEX_ASSIGN_OR_RETURN(
        std::string pem, ReadFileToString(kinex::testing::TestPkiDir() + "/audit-signing.pub.pem"));
    KINEX_ASSIGN_OR_RETURN(auto verifier, TreeHeadVerifier::FromPublicKeyPem(pem));
    kinex::exchange::v1::DisclosureReceipt receipt;
    receipt.set_leaf_index(r.leaf_index);
    receipt.set_leaf_hash(r.leaf_hash);
    *receipt.mutable_signed_tree_head() = r.signed_tree_head;
    for (const auto& h : r.inclusion_proof) receipt.add_inclusion_proof(h);
    return VerifyReceipt(receipt, *verifier);
  }
};

TEST_F(AuditServiceTest, GatewayAppendsThroughTheClientAndGetsAVerifiableReceipt) {
  Start();
  AuditClient client(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  absl::StatusOr<AppendResult> r = client.Append(SampleEvent("req-1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->leaf_index, 0u);
  EXPECT_TRUE(ReceiptVerifies(*r).ok());
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
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->leaf_index, i);
    EXPECT_TRUE(ReceiptVerifies(*results[i]).ok()) << i;
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

// The gateway, with a valid certificate, cannot make an access
// notification tell the LA anything but what its disclosure's leaf records:
// an intent naming another reader is refused whole, and nothing is
// appended; without those fields the same event is appended.
TEST_F(AuditServiceTest, AnAccessNotificationNamingAnotherReaderIsRefusedAndNothingIsAppended) {
  Start();
  AuditClient client(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  v1::AuditEvent read = SampleEvent("req-1");
  read.add_children()->set_kinex_id("kx_child1");
  v1::NotifyIntent* intent = read.add_notify();
  intent->set_recipient_kind(kinex::common::v1::LOCAL_AUTHORITY);
  intent->set_recipient_code("E09000033");
  kinex::notifications::v1::Notification& n = *intent->mutable_notification();
  n.set_kind(kinex::notifications::v1::ACCESS);
  n.set_kinex_id("kx_child1");
  n.set_reason("NOTIFY_RESPONSIBLE_LA");
  v1::AuditEvent forged = read;
  kinex::notifications::v1::Accessor* who =
      forged.mutable_notify(0)->mutable_notification()->mutable_accessor();
  who->set_agency_kind(kinex::common::v1::POLICE);
  who->set_agency_code("20");
  who->set_principal("spiffe://kinex.dev/police/20/public-protection-officer");
  const absl::StatusOr<AppendResult> refused = client.Append(forged);
  EXPECT_THAT(refused.status(),
              ::kinex::testing::StatusIs(
                  absl::StatusCode::kInvalidArgument,
                  "event.notify[0].notification.accessor: differs from the event's (an access "
                  "or break-glass review notification says what its leaf records)"));
  EXPECT_THAT(refused.status(), ::kinex::testing::HasErrorReason("INVALID_FIELD"));
  EXPECT_EQ(target_->log->Size(), 0u);
  const absl::StatusOr<AppendResult> appended = client.Append(read);
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(target_->log->Size(), 1u);
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

// An audit service that counts what it is asked, forwarding to the real
// one; the first Append may be held until released.
class CountingAudit final : public v1::Audit::Service {
 public:
  explicit CountingAudit(AuditGrpcService& current) : current_(current) {}
  grpc::Status Append(grpc::ServerContext* ctx, const v1::AppendRequest* req,
                      v1::AppendResponse* resp) override {
    if (appends.fetch_add(1) == 0 && hold_first != nullptr) hold_first->WaitForNotification();
    return current_.Append(ctx, req, resp);
  }
  grpc::Status AppendBatch(grpc::ServerContext* ctx, const v1::AppendBatchRequest* req,
                           v1::AppendBatchResponse* resp) override {
    ++batches;
    batched_events += req->events_size();
    return current_.AppendBatch(ctx, req, resp);
  }
  std::atomic<int> appends{0}, batches{0}, batched_events{0};
  absl::Notification* hold_first = nullptr;

 private:
  AuditGrpcService& current_;
};

class CoalescingClientTest : public AuditServiceTest {
 protected:
  void SetUp() override {
    AuditServiceTest::SetUp();
    Start();
    current_ = std::make_unique<AuditGrpcService>(target_->log.get(), "kinex.dev");
    counting_ = std::make_unique<CountingAudit>(*current_);
    auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles("audit"));
    ASSERT_TRUE(creds.ok());
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port);
    builder.RegisterService(counting_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto channel_creds = MakeChannelCredentials(kinex::testing::ServiceTlsFiles("gateway"));
    ASSERT_TRUE(channel_creds.ok());
    client_ = std::make_unique<AuditClient>(
        grpc::CreateChannel(absl::StrCat("localhost:", port), *channel_creds),
        AuditClient::Options{.coalesce_appends = true});
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    AuditServiceTest::TearDown();
  }
  std::unique_ptr<AuditGrpcService> current_;
  std::unique_ptr<CountingAudit> counting_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<AuditClient> client_;
};

// Appends made while one is in flight go together in one AppendBatch; each
// caller gets its own leaf and a receipt that verifies on its own.
TEST_F(CoalescingClientTest, AppendsMadeDuringAFlightGoAsOneBatchEachWithItsOwnReceipt) {
  absl::Notification release;
  counting_->hold_first = &release;
  std::vector<absl::StatusOr<AppendResult>> got(4, absl::UnknownError("not answered"));
  std::vector<std::thread> threads;
  threads.emplace_back([&] { got[0] = client_->Append(SampleEvent("req-0")); });
  for (int i = 0; i < 200 && counting_->appends.load() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(counting_->appends.load(), 1);
  for (int i = 1; i < 4; ++i) {
    threads.emplace_back(
        [&, i] { got[i] = client_->Append(SampleEvent(absl::StrCat("req-", i))); });
    for (int k = 0; k < 400 && client_->queued_appends() != static_cast<size_t>(i); ++k) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ(client_->queued_appends(), static_cast<size_t>(i));
  }
  release.Notify();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counting_->appends.load(), 1);
  EXPECT_EQ(counting_->batches.load(), 1);
  EXPECT_EQ(counting_->batched_events.load(), 3);
  std::set<uint64_t> leaves;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].status();
    leaves.insert(got[i]->leaf_index);
    EXPECT_TRUE(ReceiptVerifies(*got[i]).ok()) << i;
    v1::GetEntriesRequest req;
    req.set_start_index(got[i]->leaf_index);
    req.set_end_index(got[i]->leaf_index + 1);
    absl::StatusOr<v1::GetEntriesResponse> entry = target_->log->GetEntries(req);
    ASSERT_TRUE(entry.ok()) << entry.status();
    ASSERT_EQ(entry->entries_size(), 1);
    EXPECT_EQ(entry->entries(0).event().request_id(), absl::StrCat("req-", i))
        << "each caller's receipt is for its own event";
  }
  EXPECT_EQ(leaves.size(), 4u);
  EXPECT_EQ(target_->log->Size(), 4u);
}

// One event its caller could not append alone does not fail the others it
// was batched with: the batch, refused whole, is retried one Append each,
// and each caller gets the answer its own Append gives.
TEST_F(CoalescingClientTest, AnEventRefusedAloneDoesNotFailItsBatchMates) {
  absl::Notification release;
  counting_->hold_first = &release;
  absl::StatusOr<AppendResult> first, bad, good;
  std::thread t0([&] { first = client_->Append(SampleEvent("req-first")); });
  for (int i = 0; i < 200 && counting_->appends.load() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  v1::AuditEvent publish = SampleEvent("req-publish");
  publish.set_kind(v1::PART_PUBLISHED);  // the gateway may not append these
  std::thread t1([&] { bad = client_->Append(publish); });
  for (int k = 0; k < 400 && client_->queued_appends() != 1; ++k) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::thread t2([&] { good = client_->Append(SampleEvent("req-good")); });
  for (int k = 0; k < 400 && client_->queued_appends() != 2; ++k) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(client_->queued_appends(), 2u);
  release.Notify();
  t0.join();
  t1.join();
  t2.join();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(bad.status(), ::kinex::testing::StatusIs(
                                absl::StatusCode::kPermissionDenied,
                                ::testing::StartsWith("service \"gateway\" may not append "
                                                      "PART_PUBLISHED events to the audit log")));
  EXPECT_THAT(bad.status(), ::kinex::testing::HasErrorReason("SERVICE_NOT_ALLOWED"));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(counting_->batches.load(), 1);  // refused whole
  EXPECT_EQ(counting_->appends.load(), 3);  // the first, then each of the two alone
  EXPECT_EQ(target_->log->Size(), 2u);
}

// Many callers at once: every event appended exactly once, under its own
// caller's leaf, in fewer RPCs than events.
TEST_F(CoalescingClientTest, ManyConcurrentAppendsEachLandOnceInFewerCalls) {
  constexpr int kThreads = 16, kEach = 25;
  std::vector<std::vector<absl::StatusOr<AppendResult>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kEach; ++k) {
        got[t].push_back(client_->Append(SampleEvent(absl::StrCat("req-", t, "-", k))));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint64_t> leaves;
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kEach; ++k) {
      ASSERT_TRUE(got[t][k].ok()) << got[t][k].status();
      leaves.insert(got[t][k]->leaf_index);
      v1::GetEntriesRequest req;
      req.set_start_index(got[t][k]->leaf_index);
      req.set_end_index(got[t][k]->leaf_index + 1);
      absl::StatusOr<v1::GetEntriesResponse> entry = target_->log->GetEntries(req);
      ASSERT_TRUE(entry.ok()) << entry.status();
      EXPECT_EQ(entry->entries(0).event().request_id(), absl::StrCat("req-", t, "-", k));
    }
  }
  EXPECT_EQ(leaves.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(target_->log->Size(), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(counting_->appends.load() + counting_->batched_events.load(), kThreads * kEach);
  EXPECT_LT(counting_->appends.load() + counting_->batches.load(), kThreads * kEach);
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
