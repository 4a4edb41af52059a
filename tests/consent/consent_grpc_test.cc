// Service tests: the consent target behind real mTLS on port 0, resolving
// children through a records target over mTLS (microservices wiring). Only
// Kinex services may call it; only the gateway may record, forwarding the
// agency in x-kinex-principal.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <initializer_list>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/records/v1/records.grpc.pb.h"
#include "services/common/error_reason.h"
#include "services/common/tls.h"
#include "services/consent/consent_grpc.h"
#include "services/consent/consent_target.h"
#include "services/kinex/config.h"
#include "services/records/records_target.h"
#include "tests/consent/consent_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex::consent::testing {
namespace {

using kinex::common::v1::AgencyKind;
using kinex::common::v1::Purpose;
using kinex::record::v1::Category;

std::unique_ptr<grpc::Server> Serve(grpc::Service* service, const std::string& name, int* port) {
  auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles(name));
  EXPECT_TRUE(creds.ok()) << creds.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *creds, port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

class ConsentGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.set_data_dir(kinex::testing::MakeUniqueTempDir("consent-grpc"));
    config_.set_trust_domain(kinex::testing::kTrustDomain);
    ApplyConfigDefaults(config_);
    auto records = MakeRecordsTarget(config_, clock_, records_audit_);
    ASSERT_TRUE(records.ok()) << records.status();
    records_ = std::move(*records);
    records_server_ = Serve(records_.grpc_service.get(), "records", &records_port_);
    ASSERT_NE(records_server_, nullptr);
    auto put = records_.core->PutPart(
        PutAsLa(kinex::records::testing::LaRef("E09000033", "C1"), ChildUnderSgo("C1")));
    ASSERT_TRUE(put.ok()) << put.status();
    kinex_id_ = put->kinex_id();

    // The consent target reaches records over mTLS as service "consent".
    TlsFiles mine = kinex::testing::ServiceTlsFiles("consent");
    config_.mutable_tls()->set_ca_file(mine.ca_file);
    config_.mutable_tls()->set_cert_file(mine.cert_file);
    config_.mutable_tls()->set_key_file(mine.key_file);
    config_.mutable_tls()->set_crl_dir(mine.crl_dir);
    config_.mutable_upstream()->set_records(absl::StrCat("localhost:", records_port_));
    auto consent = MakeConsentTarget(config_, clock_, {nullptr, &authorizer_, &audit_});
    ASSERT_TRUE(consent.ok()) << consent.status();
    consent_ = std::move(*consent);
    consent_server_ = Serve(consent_.grpc_service.get(), "consent", &consent_port_);
    ASSERT_NE(consent_server_, nullptr);
  }
  void TearDown() override {
    if (consent_server_) consent_server_->Shutdown();
    if (records_server_) records_server_->Shutdown();
  }

  std::shared_ptr<grpc::Channel> Channel(const TlsFiles& files) {
    auto creds = MakeChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return grpc::CreateChannel(absl::StrCat("localhost:", consent_port_), *creds);
  }
  ConsentGrpcClient Client(const std::string& service) {
    return ConsentGrpcClient(Channel(kinex::testing::ServiceTlsFiles(service)));
  }
  cv1::RecordConsentRequest Valid() {
    return ConsentRequest(kinex::records::testing::LaRef("E09000033", "C1"),
                          AgencyKind::VIRTUAL_SCHOOL, Purpose::EDUCATION_SUPPORT,
                          Category::EDUCATION);
  }

  FakeClock clock_;
  FakeAuthorizer authorizer_;
  RecordingAuditSink audit_;
  RecordingAuditSink records_audit_;
  kinex::config::v1::KinexConfig config_;
  RecordsTarget records_;
  ConsentTarget consent_;
  int records_port_ = 0, consent_port_ = 0;
  std::unique_ptr<grpc::Server> records_server_, consent_server_;
  std::string kinex_id_;
};

TEST_F(ConsentGrpcTest, GatewayRecordsForAnAgencyAndLooksUpBases) {
  ConsentGrpcClient gateway = Client("gateway");
  auto recorded = gateway.RecordConsent(As(kLa, "sw.smith"), Valid());
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->entry().recorded_by(), kLa);
  EXPECT_EQ(recorded->entry().recorded_by_actor(), "sw.smith");
  EXPECT_EQ(recorded->entry().kinex_id(), kinex_id_);
  EXPECT_EQ(authorizer_.last_scope().responsible_la_code(), "E09000033");
  auto found = gateway.LookupBases(Lookup(kinex_id_, kVirtualSchool, Purpose::EDUCATION_SUPPORT));
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->consents_size(), 1);
  EXPECT_EQ(found->consents(0).consent_id(), recorded->consent_id());
  // Other services may not call consent (services/common/service_acl.cc).
  ConsentGrpcClient policy = Client("policy");
  EXPECT_THAT(
      policy.RecordConsent(As(kLa), Valid()).status(),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("service \"policy\" may not call kinex.consent.v1.Consent/RecordConsent "
                         "(allowed: gateway)")));
  // The authorizer's refusal reaches the caller as the uniform denial.
  EXPECT_THAT(
      gateway.RecordConsent(As(kSchool), Valid()).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(ConsentCore::kNoChildToRecord)));
}

TEST_F(ConsentGrpcTest, GatewayRecordsSharingAgreementsForAParty) {
  cv1::SharingAgreement isa;
  isa.set_title("LA and police: safeguarding");
  auto* la = isa.add_parties();
  la->set_kind(AgencyKind::LOCAL_AUTHORITY);
  la->set_code("E09000033");
  isa.add_parties()->set_kind(AgencyKind::POLICE);
  isa.add_purposes(Purpose::SAFEGUARDING);
  isa.add_categories(Category::SAFEGUARDING);
  ConsentGrpcClient gateway = Client("gateway");
  auto created = gateway.CreateSharingAgreement(As(kLa), IsaRequest(isa));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->agreement_id().rfind("isa_", 0), 0u);
  EXPECT_THAT(gateway.CreateSharingAgreement(As(kSchool), IsaRequest(isa)).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only a party")));
  auto listed = gateway.ListSharingAgreements({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->agreements_size(), 1);
  EXPECT_EQ(listed->agreements(0).agreement_id(), created->agreement_id());
}

TEST_F(ConsentGrpcTest, AgenciesCannotCallTheInternalService) {
  ConsentGrpcClient agency(
      Channel(kinex::testing::AgencyTlsFiles("local-authority", "E09000033", "social-worker")));
  EXPECT_THAT(
      agency.LookupBases(Lookup(kinex_id_, kSchool, Purpose::SAFEGUARDING)).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("accepts Kinex services only")));
  EXPECT_THAT(
      agency.RecordConsent(As(kLa), Valid()).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("accepts Kinex services only")));
}

TEST_F(ConsentGrpcTest, ForwardedPrincipalIsRequired) {
  auto stub = cv1::Consent::NewStub(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  grpc::ClientContext ctx;
  cv1::RecordConsentResponse response;
  grpc::Status s = stub->RecordConsent(&ctx, Valid(), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("x-kinex-principal metadata is required"));
}

TEST_F(ConsentGrpcTest, BadInputKeepsItsCodeOverTheWire) {
  ConsentGrpcClient gateway = Client("gateway");
  auto req = Valid();
  req.mutable_entry()->mutable_consent()->mutable_scope()->set_purposes(0,
                                                                        static_cast<Purpose>(99));
  EXPECT_THAT(gateway.RecordConsent(As(kLa), req).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry.consent.scope.purposes: unknown enum value 99")));
}

TEST_F(ConsentGrpcTest, WithoutAPolicyAuthorizerEveryRecordingIsDenied) {
  auto deny = MakeConsentTarget(config_, clock_, {records_.core.get(), nullptr, &audit_});
  ASSERT_TRUE(deny.ok()) << deny.status();
  EXPECT_THAT(
      deny->core->RecordConsent(As(kLa), Valid()).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(ConsentCore::kNoChildToRecord)));
  ASSERT_THAT(audit_.Kinds(), ::testing::ElementsAre(kinex::audit::v1::WRITE_REFUSED));
}

TEST_F(ConsentGrpcTest, TheTargetNeedsAnAuditSink) {
  EXPECT_THAT(
      MakeConsentTarget(config_, clock_, {records_.core.get(), &authorizer_}).status(),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("consent target: an audit sink is required (every consent write is audited)")));
}

TEST_F(ConsentGrpcTest, TheGatewaysRequestIdReachesTheAuditEvent) {
  ConsentGrpcClient gateway = Client("gateway");
  Caller caller = As(kLa, "sw.smith");
  caller.request_id = "req-42.a_b";
  auto recorded = gateway.RecordConsent(caller, Valid());
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  auto events = audit_.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), kinex::audit::v1::CONSENT_RECORDED);
  EXPECT_EQ(events[0].request_id(), "req-42.a_b");
  EXPECT_EQ(events[0].actor(), "sw.smith");
  EXPECT_EQ(events[0].principal(), kLa);
  EXPECT_EQ(events[0].record_id(), recorded->consent_id());
}

cv1::BatchLookupBasesRequest Batch(std::initializer_list<cv1::LookupBasesRequest> lookups) {
  cv1::BatchLookupBasesRequest batch;
  for (const cv1::LookupBasesRequest& l : lookups) *batch.add_requests() = l;
  return batch;
}

// A ListChildren page's lookups in one call answer exactly what one
// LookupBases each would, in order; a bad element fails the whole call
// naming it; only the gateway may call it.
TEST_F(ConsentGrpcTest, BatchLookupBasesAnswersEachAsLookupBasesDoes) {
  ConsentGrpcClient gateway = Client("gateway");
  auto recorded = gateway.RecordConsent(As(kLa, "sw.smith"), Valid());
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  const cv1::BatchLookupBasesRequest batch =
      Batch({Lookup(kinex_id_, kVirtualSchool, Purpose::EDUCATION_SUPPORT),
             Lookup(kinex_id_, kSchool, Purpose::SAFEGUARDING),
             Lookup(kinex_id_, kVirtualSchool, Purpose::EDUCATION_SUPPORT)});
  auto found = gateway.BatchLookupBases(batch);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->responses_size(), 3);
  for (int i = 0; i < 3; ++i) {
    auto one = gateway.LookupBases(batch.requests(i));
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ(found->responses(i).SerializeAsString(), one->SerializeAsString()) << i;
  }
  ASSERT_EQ(found->responses(0).consents_size(), 1);
  EXPECT_EQ(found->responses(0).consents(0).consent_id(), recorded->consent_id());
  EXPECT_EQ(found->responses(1).consents_size(), 0);

  cv1::BatchLookupBasesRequest bad = batch;
  bad.mutable_requests(1)->set_kinex_id("C1");
  absl::StatusOr<cv1::BatchLookupBasesResponse> refused = gateway.BatchLookupBases(bad);
  EXPECT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "requests[1].kinex_id: not a Kinex id"));
  EXPECT_EQ(ErrorInfoOf(refused.status()).metadata().at("field"), "requests[1].kinex_id");

  // Past the limit, straight to the service (the client splits).
  auto stub = cv1::Consent::NewStub(Channel(kinex::testing::ServiceTlsFiles("gateway")));
  cv1::BatchLookupBasesRequest too_many;
  for (int i = 0; i <= kMaxBatchLookupBases; ++i) {
    *too_many.add_requests() = Lookup(kinex_id_, kSchool, Purpose::SAFEGUARDING);
  }
  grpc::ClientContext ctx;
  cv1::BatchLookupBasesResponse none;
  grpc::Status s = stub->BatchLookupBases(&ctx, too_many, &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "requests: at most 500 (got 501)");
  auto split = gateway.BatchLookupBases(too_many);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->responses_size(), kMaxBatchLookupBases + 1);

  ConsentGrpcClient policy = Client("policy");
  EXPECT_THAT(policy.BatchLookupBases(batch).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "service \"policy\" may not call "
                       "kinex.consent.v1.Consent/BatchLookupBases (allowed: gateway)"));
  ConsentGrpcClient agency(
      Channel(kinex::testing::AgencyTlsFiles("local-authority", "E09000033", "social-worker")));
  EXPECT_THAT(
      agency.BatchLookupBases(batch).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("accepts Kinex services only")));
}

// A consent service from before BatchLookupBases (a rolling upgrade that
// reached the gateway first): it answers LookupBases only.
class LookupOnlyService final : public cv1::Consent::Service {
 public:
  explicit LookupOnlyService(ConsentRegistry& registry) : registry_(registry) {}
  grpc::Status LookupBases(grpc::ServerContext*, const cv1::LookupBasesRequest* request,
                           cv1::LookupBasesResponse* response) override {
    calls_.fetch_add(1);
    absl::StatusOr<cv1::LookupBasesResponse> found = registry_.LookupBases(*request);
    if (!found.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "lookup failed");
    *response = std::move(*found);
    return grpc::Status::OK;
  }
  int calls() const { return calls_.load(); }

 private:
  ConsentRegistry& registry_;
  std::atomic<int> calls_{0};
};

TEST_F(ConsentGrpcTest, AnOlderConsentServiceIsAskedOneLookupEach) {
  ConsentGrpcClient gateway = Client("gateway");
  ASSERT_TRUE(gateway.RecordConsent(As(kLa, "sw.smith"), Valid()).ok());
  LookupOnlyService older(*consent_.core);
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(&older, "consent", &port);
  ASSERT_NE(server, nullptr);
  auto creds = MakeChannelCredentials(kinex::testing::ServiceTlsFiles("gateway"));
  ASSERT_TRUE(creds.ok()) << creds.status();
  ConsentGrpcClient client(grpc::CreateChannel(absl::StrCat("localhost:", port), *creds));
  auto found = client.BatchLookupBases(
      Batch({Lookup(kinex_id_, kSchool, Purpose::SAFEGUARDING),
             Lookup(kinex_id_, kVirtualSchool, Purpose::EDUCATION_SUPPORT)}));
  server->Shutdown();
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->responses_size(), 2);
  EXPECT_EQ(found->responses(0).consents_size(), 0);
  EXPECT_EQ(found->responses(1).consents_size(), 1);
  EXPECT_EQ(older.calls(), 2);
}

// A records service whose GetChildFacts answers after 3 s, or 200 ms after
// the call it serves expired if that is sooner (well after its caller's
// deadline, so the reply can never race it), and notes the deadline it was
// given. Everything else is UNIMPLEMENTED (consent only reads facts).
class SlowFactsService final : public kinex::records::v1::Records::Service {
 public:
  explicit SlowFactsService(kinex::records::RecordsStore& store) : store_(store) {}
  grpc::Status GetChildFacts(grpc::ServerContext* ctx,
                             const kinex::records::v1::GetChildFactsRequest* request,
                             kinex::records::v1::ChildFacts* response) override {
    const absl::Time deadline = absl::FromChrono(ctx->deadline());
    {
      absl::MutexLock lock(&mu_);
      served_deadline_ = deadline;
    }
    absl::SleepFor(std::min(deadline + absl::Milliseconds(200), absl::Now() + absl::Seconds(3)) -
                   absl::Now());
    absl::StatusOr<kinex::records::v1::ChildFacts> facts = store_.GetChildFacts(*request);
    if (!facts.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no facts");
    *response = std::move(*facts);
    return grpc::Status::OK;
  }
  absl::Time served_deadline() const {
    absl::MutexLock lock(&mu_);
    return served_deadline_;
  }

 private:
  kinex::records::RecordsStore& store_;
  mutable absl::Mutex mu_;
  absl::Time served_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Every internal hop carries the caller's deadline (services/common/
// unary_rpc.h): the consent service's call to records ends when the
// gateway's call to consent does, so a consent the gateway gave up on is
// never written behind its back.
TEST_F(ConsentGrpcTest, TheCallersDeadlineReachesRecordsAndAnExpiredCallWritesNothing) {
  SlowFactsService slow(*records_.core);
  int slow_port = 0;
  std::unique_ptr<grpc::Server> slow_records = Serve(&slow, "records", &slow_port);
  ASSERT_NE(slow_records, nullptr);
  config_.mutable_upstream()->set_records(absl::StrCat("localhost:", slow_port));
  auto consent = MakeConsentTarget(config_, clock_, {nullptr, &authorizer_, &audit_});
  ASSERT_TRUE(consent.ok()) << consent.status();
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(consent->grpc_service.get(), "consent", &port);
  ASSERT_NE(server, nullptr);
  auto creds = MakeChannelCredentials(kinex::testing::ServiceTlsFiles("gateway"));
  ASSERT_TRUE(creds.ok()) << creds.status();
  ConsentGrpcClient gateway(grpc::CreateChannel(absl::StrCat("localhost:", port), *creds),
                            absl::Milliseconds(500));

  const absl::Time gateway_deadline = absl::Now() + absl::Milliseconds(500);
  EXPECT_THAT(gateway.RecordConsent(As(kLa, "sw.smith"), Valid()).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Shutdown waits for the consent handler to finish: whatever it was going
  // to write is written by now.
  server->Shutdown();
  slow_records->Shutdown();

  // Records was asked with the gateway's deadline (plus transit), not the
  // consent client's own 10 s.
  EXPECT_LT(slow.served_deadline(), gateway_deadline + absl::Seconds(1));
  auto found =
      consent->core->LookupBases(Lookup(kinex_id_, kVirtualSchool, Purpose::EDUCATION_SUPPORT));
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->consents_size(), 0) << "a consent was written after its caller gave up";
}

}  // namespace
}  // namespace kinex::consent::testing
