// The gateway's consent front (services/gateway/consent_front.h) over real
// mTLS with the test PKI, in front of the consent and records cores: the
// page tokens it returns are bound to the agency system that listed (AIP-158),
// so one caller's token is refused for another that may list the same items.
#include "services/gateway/consent_front.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "services/common/clock.h"
#include "services/common/grpc_status.h"
#include "services/common/tls.h"
#include "services/gateway/edge.h"
#include "services/gateway/metrics.h"
#include "services/gateway/rate_limiter.h"
#include "tests/consent/consent_test_util.h"
#include "tests/testing/fake_consent_storage.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace kinex::consent::testing {
namespace {

using kinex::common::v1::AgencyKind;
using kinex::common::v1::Purpose;
using kinex::record::v1::Category;

constexpr char kTokenRefused[] =
    "page_token: not a token from ListConsents for this caller and filter (list again from the "
    "first page)";

// Two agency systems of Westminster, both allowed to list the test child's
// consent file (FakeAuthorizer lets local authorities record), and a school
// (any agency may list sharing agreements).
const TlsFiles& SocialWorker() {
  static const TlsFiles* files =
      new TlsFiles(kinex::testing::AgencyTlsFiles("local-authority", "E09000033", "social-worker"));
  return *files;
}
const TlsFiles& Iro() {
  static const TlsFiles* files = new TlsFiles(kinex::testing::AgencyTlsFiles(
      "local-authority", "E09000033", "independent-reviewing-officer"));
  return *files;
}
const TlsFiles& SchoolDsl() {
  static const TlsFiles* files = new TlsFiles(
      kinex::testing::AgencyTlsFiles("school", "137000", "designated-safeguarding-lead"));
  return *files;
}

class ConsentFrontTest : public ::testing::Test {
 protected:
  void SetUp() override {
    edge_ = std::make_unique<kinex::gateway::Edge>(limiter_, metrics_, kinex::testing::kTrustDomain,
                                                   log_);
    front_ = std::make_unique<kinex::gateway::ConsentFront>(h_.core(), h_.records(),
                                                            h_.authorizer(), *edge_);
    auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles("gateway"));
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

  std::unique_ptr<cv1::Consent::Stub> Stub(const TlsFiles& files) {
    auto creds = MakeChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return cv1::Consent::NewStub(grpc::CreateChannel(absl::StrCat("localhost:", port_), *creds));
  }
  static void Prepare(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("x-kinex-actor", "Test Practitioner");
  }

  absl::StatusOr<cv1::ListConsentsResponse> ListConsents(const TlsFiles& who,
                                                         const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(ctx);
    cv1::ListConsentsRequest req;
    *req.mutable_child() = h_.child();
    req.set_page_size(1);
    req.set_page_token(token);
    cv1::ListConsentsResponse resp;
    grpc::Status s = Stub(who)->ListConsents(&ctx, req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    return resp;
  }
  absl::StatusOr<cv1::ListSharingAgreementsResponse> ListAgreements(const TlsFiles& who,
                                                                    const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(ctx);
    cv1::ListSharingAgreementsRequest req;
    req.set_page_size(1);
    req.set_page_token(token);
    cv1::ListSharingAgreementsResponse resp;
    grpc::Status s = Stub(who)->ListSharingAgreements(&ctx, req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    return resp;
  }

  ConsentHarness h_{std::make_unique<FakeConsentStorage>()};
  kinex::gateway::RateLimiter limiter_{{.per_second = 1000, .burst = 1000}, RealClock::Get()};
  kinex::gateway::Metrics metrics_;
  std::ostringstream log_;
  std::unique_ptr<kinex::gateway::Edge> edge_;
  std::unique_ptr<kinex::gateway::ConsentFront> front_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(ConsentFrontTest, AConsentPageTokenIsBoundToTheCallerThatListed) {
  const std::string first = h_.MustRecord(ConsentRequest(
      h_.child(), AgencyKind::VIRTUAL_SCHOOL, Purpose::EDUCATION_SUPPORT, Category::EDUCATION));
  const std::string second = h_.MustRecord(
      ConsentRequest(h_.child(), AgencyKind::HEALTH, Purpose::HEALTH_CARE, Category::EDUCATION));
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());

  auto page1 = ListConsents(SocialWorker(), "");
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->entries_size(), 1);
  EXPECT_EQ(page1->entries(0).consent_id(), first);
  ASSERT_FALSE(page1->next_page_token().empty());

  // The IRO may list this file too, but not with the social worker's token.
  auto replayed = ListConsents(Iro(), page1->next_page_token());
  EXPECT_THAT(replayed, StatusIs(absl::StatusCode::kInvalidArgument, kTokenRefused));
  EXPECT_THAT(replayed, HasErrorReason("PAGE_TOKEN_INVALID"));
  EXPECT_THAT(replayed, HasErrorMetadata("field", "page_token"));
  auto iro = ListConsents(Iro(), "");
  ASSERT_TRUE(iro.ok()) << iro.status();
  ASSERT_EQ(iro->entries_size(), 1);
  EXPECT_EQ(iro->entries(0).consent_id(), first);

  // The token still serves the caller it was issued to.
  auto page2 = ListConsents(SocialWorker(), page1->next_page_token());
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->entries_size(), 1);
  EXPECT_EQ(page2->entries(0).consent_id(), second);
}

TEST_F(ConsentFrontTest, ASharingAgreementPageTokenIsBoundToTheCallerThatListed) {
  std::vector<std::string> ids;
  for (const char* title : {"LA and police: safeguarding", "LA and school: education"}) {
    cv1::SharingAgreement isa;
    isa.set_title(title);
    auto* la = isa.add_parties();
    la->set_kind(AgencyKind::LOCAL_AUTHORITY);
    la->set_code("E09000033");
    isa.add_parties()->set_kind(AgencyKind::POLICE);
    isa.add_purposes(Purpose::SAFEGUARDING);
    isa.add_categories(Category::SAFEGUARDING);
    auto created = h_.core().CreateSharingAgreement(As(kLa), IsaRequest(isa));
    ASSERT_TRUE(created.ok()) << created.status();
    ids.push_back(created->agreement_id());
  }
  std::sort(ids.begin(), ids.end());

  auto page1 = ListAgreements(SocialWorker(), "");
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->agreements_size(), 1);
  EXPECT_EQ(page1->agreements(0).agreement_id(), ids[0]);
  ASSERT_FALSE(page1->next_page_token().empty());

  // A school may list agreements too, but not with the LA's token.
  auto replayed = ListAgreements(SchoolDsl(), page1->next_page_token());
  EXPECT_THAT(replayed,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: not a token from ListSharingAgreements for this caller and "
                       "filter (list again from the first page)"));
  EXPECT_THAT(replayed, HasErrorReason("PAGE_TOKEN_INVALID"));
  EXPECT_THAT(replayed, HasErrorMetadata("field", "page_token"));
  auto school = ListAgreements(SchoolDsl(), "");
  ASSERT_TRUE(school.ok()) << school.status();
  ASSERT_EQ(school->agreements_size(), 1);
  EXPECT_EQ(school->agreements(0).agreement_id(), ids[0]);

  auto page2 = ListAgreements(SocialWorker(), page1->next_page_token());
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->agreements_size(), 1);
  EXPECT_EQ(page2->agreements(0).agreement_id(), ids[1]);
}

// The internal lookups are refused at the gateway, to every agency, even
// for a child it may list consents for: the bases used reach it in each
// disclosure receipt only.
TEST_F(ConsentFrontTest, TheInternalLookupsAreRefusedToAgencies) {
  cv1::LookupBasesRequest lookup;
  lookup.set_kinex_id(h_.kinex_id());
  lookup.set_recipient(kLa);
  lookup.set_purpose(Purpose::SAFEGUARDING);
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    cv1::LookupBasesResponse resp;
    const absl::Status s = FromGrpcStatus(Stub(SocialWorker())->LookupBases(&ctx, lookup, &resp));
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                            "LookupBases is internal to Kinex; agencies see the bases used in "
                            "each disclosure receipt"));
    EXPECT_THAT(s, HasErrorReason("SERVICE_NOT_ALLOWED"));
  }
  grpc::ClientContext ctx;
  Prepare(ctx);
  cv1::BatchLookupBasesRequest batch;
  *batch.add_requests() = lookup;
  cv1::BatchLookupBasesResponse resp;
  const absl::Status s = FromGrpcStatus(Stub(SocialWorker())->BatchLookupBases(&ctx, batch, &resp));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "BatchLookupBases is internal to Kinex; agencies see the bases used in "
                          "each disclosure receipt"));
  EXPECT_THAT(s, HasErrorReason("SERVICE_NOT_ALLOWED"));
  EXPECT_EQ(resp.responses_size(), 0);
}

}  // namespace
}  // namespace kinex::consent::testing
