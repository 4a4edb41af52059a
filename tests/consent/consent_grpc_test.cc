// Service tests: the consent target behind real mTLS on port 0, resolving
// children through a records target over mTLS (microservices wiring). Only
// Kinex services may call it; only the gateway may record, forwarding the
// agency in x-kinex-principal.
#include <stdlib.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/fake_clock.h"
#include "services/common/tls.h"
#include "services/consent/consent_grpc.h"
#include "services/consent/consent_target.h"
#include "services/records/records_target.h"
#include "tests/consent/consent_test_util.h"
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
    std::string dir = absl::StrCat(::testing::TempDir(), "/consent_grpc_XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    config_.set_data_dir(dir);
    config_.set_trust_domain(kinex::testing::kTrustDomain);
    auto records = MakeRecordsTarget(config_, clock_, records_audit_);
    ASSERT_TRUE(records.ok()) << records.status();
    records_ = std::move(*records);
    records_server_ = Serve(records_.grpc_service.get(), "records", &records_port_);
    ASSERT_NE(records_server_, nullptr);
    auto put = records_.core->PutPart(PutAsLa(kinex::records::testing::LaRef("E09000033", "C1"),
                                              ChildUnderSgo("C1")));
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
  EXPECT_STATUS(policy.RecordConsent(As(kLa), Valid()).status(),
                absl::StatusCode::kPermissionDenied,
                "service \"policy\" may not call kinex.consent.v1.Consent/RecordConsent "
                "(allowed: gateway)");
  // The authorizer's refusal reaches the caller as the uniform denial.
  EXPECT_STATUS(gateway.RecordConsent(As(kSchool), Valid()).status(),
                absl::StatusCode::kPermissionDenied, ConsentCore::kNoChildToRecord);
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
  EXPECT_STATUS(gateway.CreateSharingAgreement(As(kSchool), IsaRequest(isa)).status(),
                absl::StatusCode::kPermissionDenied, "only a party");
  auto listed = gateway.ListSharingAgreements({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->agreements_size(), 1);
  EXPECT_EQ(listed->agreements(0).agreement_id(), created->agreement_id());
}

TEST_F(ConsentGrpcTest, AgenciesCannotCallTheInternalService) {
  ConsentGrpcClient agency(Channel(
      kinex::testing::AgencyTlsFiles("local-authority", "E09000033", "social-worker")));
  EXPECT_STATUS(agency.LookupBases(Lookup(kinex_id_, kSchool, Purpose::SAFEGUARDING)).status(),
                absl::StatusCode::kPermissionDenied, "accepts Kinex services only");
  EXPECT_STATUS(agency.RecordConsent(As(kLa), Valid()).status(),
                absl::StatusCode::kPermissionDenied, "accepts Kinex services only");
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
  EXPECT_STATUS(gateway.RecordConsent(As(kLa), req).status(), absl::StatusCode::kInvalidArgument,
                "entry.consent.scope.purposes: unknown enum value 99");
}

TEST_F(ConsentGrpcTest, WithoutAPolicyAuthorizerEveryRecordingIsDenied) {
  auto deny = MakeConsentTarget(config_, clock_, {records_.core.get(), nullptr, &audit_});
  ASSERT_TRUE(deny.ok()) << deny.status();
  EXPECT_STATUS(deny->core->RecordConsent(As(kLa), Valid()).status(),
                absl::StatusCode::kPermissionDenied, ConsentCore::kNoChildToRecord);
  ASSERT_THAT(audit_.Kinds(), ::testing::ElementsAre(kinex::audit::v1::WRITE_REFUSED));
}

TEST_F(ConsentGrpcTest, TheTargetNeedsAnAuditSink) {
  EXPECT_STATUS(MakeConsentTarget(config_, clock_, {records_.core.get(), &authorizer_}).status(),
                absl::StatusCode::kInvalidArgument,
                "consent target: an audit sink is required (every consent write is audited)");
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

}  // namespace
}  // namespace kinex::consent::testing
