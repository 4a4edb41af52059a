// Tests of `kinexctl consent`: requests built from flags reach the Consent
// API over mTLS; rows printed; bad flags are usage errors (exit 2).
#include "tools/kinexctl/consent_command.h"

#include <sstream>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "services/common/tls.h"
#include "tests/testing/test_pki.h"

namespace kinex::ctl {
namespace {

using ::testing::HasSubstr;
namespace cv1 = kinex::consent::v1;

// Remembers requests; answers with fixed entries.
class FakeConsent final : public cv1::Consent::Service {
 public:
  grpc::Status RecordConsent(grpc::ServerContext* ctx, const cv1::RecordConsentRequest* req,
                             cv1::RecordConsentResponse* resp) override {
    absl::MutexLock l(&mu);
    record = *req;
    auto it = ctx->client_metadata().find("x-kinex-actor");
    if (it != ctx->client_metadata().end())
      actor = std::string(it->second.data(), it->second.size());
    resp->set_consent_id("cn_NEW");
    *resp->mutable_entry() = req->entry();
    resp->mutable_entry()->set_consent_id("cn_NEW");
    return grpc::Status::OK;
  }
  grpc::Status WithdrawConsent(grpc::ServerContext*, const cv1::WithdrawConsentRequest* req,
                               cv1::WithdrawConsentResponse* resp) override {
    absl::MutexLock l(&mu);
    withdraw = *req;
    resp->mutable_entry()->set_consent_id(req->consent_id());
    resp->mutable_entry()->mutable_withdraw_time()->set_seconds(1788253200);
    return grpc::Status::OK;
  }
  grpc::Status ListConsents(grpc::ServerContext*, const cv1::ListConsentsRequest* req,
                            cv1::ListConsentsResponse* resp) override {
    absl::MutexLock l(&mu);
    list = *req;
    auto* e = resp->add_entries();
    e->set_consent_id(req->page_token().empty() ? "cn_A" : "lb_B");
    if (req->page_token().empty()) {
      e->mutable_consent()->set_decision(cv1::CONSENT_REFUSED);
      e->mutable_consent()->mutable_given_by()->set_kind(cv1::GILLICK_COMPETENT_CHILD);
      e->mutable_consent()->mutable_scope()->add_categories(kinex::record::v1::HEALTH);
      resp->set_next_page_token("t2");
    } else {
      e->mutable_statutory_basis()->set_basis(kinex::common::v1::SAFEGUARDING_OF_CHILDREN);
      e->mutable_statutory_basis()->set_reference("s47 enquiry opened");
    }
    return grpc::Status::OK;
  }
  absl::Mutex mu;
  cv1::RecordConsentRequest record ABSL_GUARDED_BY(mu);
  cv1::WithdrawConsentRequest withdraw ABSL_GUARDED_BY(mu);
  cv1::ListConsentsRequest list ABSL_GUARDED_BY(mu);
  std::string actor ABSL_GUARDED_BY(mu);
};

class ConsentCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles("gateway"));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  int Run(const std::vector<std::string>& words, OutputFormat format = OutputFormat::kTable) {
    TlsFiles files =
        kinex::testing::AgencyTlsFiles("local-authority", "E09000033", "social-worker");
    CommandContext::Connection c;
    c.address = absl::StrCat("localhost:", port_);
    c.ca_file = files.ca_file;
    c.cert_file = files.cert_file;
    c.key_file = files.key_file;
    c.actor = "sw.smith";
    out_.str("");
    err_.str("");
    CommandContext ctx(c, format, out_, err_);
    return MakeConsentCommandGroup().run(ctx, words);
  }

  FakeConsent service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::ostringstream out_, err_;
};

TEST_F(ConsentCommandTest, RecordBuildsAConsentFromFlags) {
  ASSERT_EQ(Run({"record", "--la-child-id=E09000033:C1", "--giver=parental-responsibility-holder",
                 "--name=A. Grand", "--relationship=special-guardian",
                 "--categories=education,HEALTH", "--recipients=virtual-school",
                 "--recipient-codes=E09000033", "--purposes=education-support",
                 "--from=2026-09-01T08:00:00Z", "--until=2027-09-01T08:00:00Z"}),
            0)
      << err_.str();
  EXPECT_EQ(out_.str(), "cn_NEW\n");
  absl::MutexLock l(&service_.mu);
  const cv1::RecordConsentRequest r = service_.record;  // a copy, read under the lock
  EXPECT_EQ(r.child().la_child_id().id(), "C1");
  const auto& c = r.entry().consent();
  EXPECT_EQ(c.decision(), cv1::CONSENT_GIVEN);
  EXPECT_EQ(c.given_by().relationship(), cv1::SPECIAL_GUARDIAN);
  EXPECT_THAT(c.scope().categories(),
              ::testing::ElementsAre(kinex::record::v1::EDUCATION, kinex::record::v1::HEALTH));
  EXPECT_EQ(c.scope().recipient_codes(0), "E09000033");
  EXPECT_EQ(r.entry().valid_from().seconds(), 1788249600);
  EXPECT_EQ(service_.actor, "sw.smith");
}

TEST_F(ConsentCommandTest, RecordBuildsARefusalAndABasis) {
  ASSERT_EQ(Run({"record", "--upn=A201100012001", "--giver=child-aged-16-or-over", "--refused",
                 "--categories=health", "--recipients=school", "--purposes=health-care"}),
            0)
      << err_.str();
  {
    absl::MutexLock l(&service_.mu);
    EXPECT_EQ(service_.record.entry().consent().decision(), cv1::CONSENT_REFUSED);
  }
  ASSERT_EQ(Run({"record", "--kinex-id=kx_A", "--basis=safeguarding-of-children",
                 "--reference=s47 enquiry opened", "--purposes=safeguarding"}),
            0)
      << err_.str();
  absl::MutexLock l(&service_.mu);
  EXPECT_EQ(service_.record.entry().statutory_basis().reference(), "s47 enquiry opened");
}

TEST_F(ConsentCommandTest, BadFlagsAreUsageErrors) {
  EXPECT_EQ(Run({"record", "--upn=X", "--giver=aunt", "--categories=health", "--recipients=school",
                 "--purposes=health-care"}),
            2);
  EXPECT_THAT(err_.str(), HasSubstr("--giver: unknown value \"aunt\""));
  EXPECT_EQ(Run({"record", "--upn=X", "--basis=public-task", "--giver=gillick-competent-child"}),
            2);
  EXPECT_THAT(err_.str(), HasSubstr("either --giver"));
  EXPECT_EQ(Run({"record", "--upn=X", "--basis=public-task", "--reference=r", "--until=tomorrow"}),
            2);
  EXPECT_THAT(err_.str(), HasSubstr("--until: not an RFC 3339 time"));
  EXPECT_EQ(Run({"frobnicate"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("unknown consent command"));
  EXPECT_EQ(Run({"list", "--upn=X", "--colour=red"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("unknown flag --colour"));
}

TEST_F(ConsentCommandTest, ListFollowsPagesAndWithdrawSendsTheId) {
  ASSERT_EQ(Run({"list", "--nhs=9434765919", "--all"}, OutputFormat::kCsv), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("cn_A,refusal,GILLICK_COMPETENT_CHILD,HEALTH"));
  EXPECT_THAT(out_.str(), HasSubstr("lb_B,basis,SAFEGUARDING_OF_CHILDREN: s47 enquiry opened"));
  ASSERT_EQ(Run({"withdraw", "cn_A", "--reason=asked", "--effective=2026-09-01T09:00:00Z"}), 0)
      << err_.str();
  EXPECT_EQ(out_.str(), "cn_A withdrawn from 2026-09-01T09:00:00Z\n");
  absl::MutexLock l(&service_.mu);
  EXPECT_EQ(service_.withdraw.reason(), "asked");
  EXPECT_EQ(service_.withdraw.effective_time().seconds(), 1788253200);
}

TEST_F(ConsentCommandTest, HelpPrintsUsage) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("usage: kinexctl consent record"));
  EXPECT_EQ(Run({"record", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--giver=KIND"));
}

}  // namespace
}  // namespace kinex::ctl
