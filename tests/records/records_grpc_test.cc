// Service tests: the records target behind real mTLS on port 0. Only Kinex
// services may call it; only the gateway may publish.
#include <stdlib.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/tls.h"
#include "services/kinex/config.h"
#include "services/records/records_grpc.h"
#include "services/records/records_target.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/recording_audit_sink.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex::records::testing {
namespace {

namespace rv1 = kinex::records::v1;

class RecordsGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.set_data_dir(kinex::testing::MakeUniqueTempDir("records-grpc"));
    config_.set_trust_domain(kinex::testing::kTrustDomain);
    config_.mutable_records()->set_max_part_bytes(4096);
    ApplyConfigDefaults(config_);
    auto target = MakeRecordsTarget(config_, clock_, audit_);
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = std::move(*target);
    auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles("records"));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(target_.grpc_service.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::unique_ptr<RecordsGrpcClient> Client(const TlsFiles& files) {
    auto creds = MakeChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return std::make_unique<RecordsGrpcClient>(
        grpc::CreateChannel(absl::StrCat("localhost:", port_), *creds));
  }

  FakeClock clock_;
  kinex::testing::RecordingAuditSink audit_;
  kinex::config::v1::KinexConfig config_;
  RecordsTarget target_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(RecordsGrpcTest, GatewayPublishesAndReadsThroughTheTarget) {
  auto gateway = Client(kinex::testing::ServiceTlsFiles("gateway"));
  auto put = gateway->PutPart(Put(kLa, LaRef("E09000033", "G1"), LaPart("G1")));
  ASSERT_TRUE(put.ok()) << put.status();
  rv1::GetRecordRequest get;
  *get.mutable_child() = LaRef("E09000033", "G1");
  auto got = gateway->GetRecord(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), put->kinex_id());
  EXPECT_EQ(got->record().identity().given_name(), "Amy");
  // The consent service may read (resolve children), not publish.
  auto consent = Client(kinex::testing::ServiceTlsFiles("consent"));
  rv1::ResolveChildRequest resolve;
  *resolve.mutable_child() = LaRef("E09000033", "G1");
  auto resolved = consent->ResolveChild(resolve);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->kinex_id(), put->kinex_id());
  EXPECT_THAT(
      consent->PutPart(Put(kLa, LaRef("E09000033", "G2"), LaPart("G2"))).status(),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "service \"consent\" may not call kinex.records.v1.Records/PutPart (allowed: "
               "gateway)"));
  // The write was audited once, through the target's audit sink.
  ASSERT_EQ(audit_.Events().size(), 1u);
  EXPECT_EQ(audit_.Events()[0].kind(), kinex::audit::v1::PART_PUBLISHED);
}

TEST_F(RecordsGrpcTest, FactsGoToTheGatewayAndConsentOnlyAndBatchReadsToTheGatewayOnly) {
  auto gateway = Client(kinex::testing::ServiceTlsFiles("gateway"));
  auto put = gateway->PutPart(Put(kLa, LaRef("E09000033", "G5"), LaPart("G5")));
  ASSERT_TRUE(put.ok()) << put.status();
  rv1::GetChildFactsRequest ask;
  *ask.mutable_child() = LaRef("E09000033", "G5");
  auto facts = gateway->GetChildFacts(ask);
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->kinex_id(), put->kinex_id());
  auto consent = Client(kinex::testing::ServiceTlsFiles("consent"));
  auto consent_facts = consent->GetChildFacts(ask);
  ASSERT_TRUE(consent_facts.ok()) << consent_facts.status();
  EXPECT_EQ(consent_facts->facts_version(), facts->facts_version());
  rv1::BatchGetRecordsRequest batch;
  *batch.add_requests()->mutable_child() = LaRef("E09000033", "G5");
  batch.mutable_requests(0)->set_facts_version(facts->facts_version());
  auto got = gateway->BatchGetRecords(batch);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->records_size(), 1);
  EXPECT_THAT(consent->BatchGetRecords(batch).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "service \"consent\" may not call kinex.records.v1.Records/BatchGetRecords "
                       "(allowed: gateway)"));
  for (const char* other : {"policy", "audit", "records"}) {
    auto client = Client(kinex::testing::ServiceTlsFiles(other));
    EXPECT_THAT(client->GetChildFacts(ask).status(),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         absl::StrCat("service \"", other,
                                      "\" may not call kinex.records.v1.Records/GetChildFacts "
                                      "(allowed: gateway, consent)")));
    EXPECT_EQ(client->BatchGetRecords(batch).status().code(), absl::StatusCode::kPermissionDenied);
  }
  auto agency =
      Client(kinex::testing::AgencyTlsFiles("local-authority", "E09000033", "social-worker"));
  EXPECT_THAT(
      agency->GetChildFacts(ask).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("accepts Kinex services only")));
}

TEST_F(RecordsGrpcTest, AgenciesCannotCallTheInternalService) {
  auto agency =
      Client(kinex::testing::AgencyTlsFiles("local-authority", "E09000033", "social-worker"));
  EXPECT_THAT(
      agency->PutPart(Put(kLa, LaRef("E09000033", "G3"), LaPart("G3"))).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("accepts Kinex services only")));
  rv1::GetRecordRequest get;
  *get.mutable_child() = LaRef("E09000033", "G3");
  EXPECT_THAT(agency->GetRecord(get).status(), StatusIs(absl::StatusCode::kPermissionDenied,
                                                        HasSubstr("accepts Kinex services only")));
}

TEST_F(RecordsGrpcTest, CoreErrorsKeepTheirCodesOverTheWire) {
  auto gateway = Client(kinex::testing::ServiceTlsFiles("gateway"));
  auto part = LaPart("G4");
  part.mutable_placement()->set_address(std::string(5000, 'x'));
  EXPECT_THAT(
      gateway->PutPart(Put(kLa, LaRef("E09000033", "G4"), part)).status(),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("exceeds the maximum of 4096")));
  auto bad = SchoolPart(Upn(1));
  bad.mutable_health()->set_camhs(kinex::record::v1::CAMHS_OPEN);
  EXPECT_THAT(gateway->PutPart(Put(kSchool, UpnRef(Upn(1)), bad)).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("fields not owned by school: health.camhs")));
}

TEST(RecordsTargetTest, RefusesNegativeMaxPartBytesAndOpensConfiguredSqlite) {
  FakeClock clock;
  kinex::testing::RecordingAuditSink audit;
  kinex::config::v1::KinexConfig config;
  const std::string dir = kinex::testing::MakeUniqueTempDir("records-target");
  config.set_data_dir(dir);
  config.mutable_records()->set_max_part_bytes(-1);
  EXPECT_THAT(MakeRecordsTarget(config, clock, audit).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("records.max_part_bytes: must be positive (got -1")));
  config.mutable_records()->set_max_part_bytes(0);
  EXPECT_THAT(MakeRecordsTarget(config, clock, audit).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("records.max_part_bytes: must be positive (got 0")));
  ApplyConfigDefaults(config);  // what LoadConfig does: 0 becomes the default
  config.mutable_records()->mutable_storage()->set_sqlite_path("sub/r.db");
  config.mutable_records()->set_view_cache_mib(-1);
  EXPECT_THAT(MakeRecordsTarget(config, clock, audit).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "records.view_cache_mib: must not be negative (got -1; 0 keeps no views)"));
  config.mutable_records()->clear_view_cache_mib();  // unset: 32 MiB
  auto target = MakeRecordsTarget(config, clock, audit);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(access(absl::StrCat(dir, "/sub/r.db").c_str(), F_OK), 0);
  // A path under a regular file cannot be opened.
  FILE* blocker = fopen(absl::StrCat(dir, "/blocker").c_str(), "w");
  ASSERT_NE(blocker, nullptr);
  fclose(blocker);
  config.mutable_records()->mutable_storage()->set_sqlite_path("blocker/r.db");
  EXPECT_EQ(MakeRecordsTarget(config, clock, audit).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kinex::records::testing
