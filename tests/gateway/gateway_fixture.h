// A gateway over real cores: the records core (in-memory storage), the policy
// engine on the default policy set in policy/, the consent core (in-memory
// storage, policy as its recording authorizer) and the audit log (in-memory
// storage, a fresh Ed25519 key). Seeds demo
// children by publishing each agency's part through the gateway itself.
#ifndef KINEX_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
#define KINEX_TESTS_GATEWAY_GATEWAY_FIXTURE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/common/identity.h"
#include "services/consent/consent_core.h"
#include "services/gateway/gateway.h"
#include "services/gateway/metrics.h"
#include "services/policy/local_policy_decider.h"
#include "services/policy/policy_consent_authorizer.h"
#include "services/policy/policy_engine.h"
#include "services/records/records_core.h"
#include "tests/testing/failing_dependencies.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_consent_storage.h"
#include "tests/testing/fake_log_storage.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/paths.h"

namespace kinex::gateway::testing {

using kinex::policy::LocalPolicyDecider;
using kinex::policy::PolicyConsentAuthorizer;

inline int* RequestCounter() {
  static int n = 0;
  return &n;
}

inline CallContext Caller(const std::string& spiffe, const std::string& actor = "A. Practitioner") {
  CallContext call;
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(spiffe, "kinex.dev");
  EXPECT_TRUE(id.ok()) << id.status();
  call.principal = *id;
  call.actor = actor;
  call.request_id = "req-" + std::to_string(++*RequestCounter());
  return call;
}

inline constexpr char kLa[] = "spiffe://kinex.dev/local-authority/E09000033/social-worker";
inline constexpr char kVsh[] = "spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head";
inline constexpr char kOtherVsh[] =
    "spiffe://kinex.dev/virtual-school/E08000025/virtual-school-head";
inline constexpr char kSchool[] = "spiffe://kinex.dev/school/137000/designated-safeguarding-lead";
inline constexpr char kHealth[] = "spiffe://kinex.dev/health/Y01234/health-practitioner";
inline constexpr char kAuditor[] = "spiffe://kinex.dev/auditor/kinex-dpo/auditor";

class GatewayFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    kinex::audit::AuditLog::Options audit;
    audit.storage = &log_storage_;
    auto signer = kinex::audit::TreeHeadSigner::Generate();
    ASSERT_TRUE(signer.ok());
    public_key_pem_ = *(*signer)->PublicKeyPem();
    audit.signer = std::move(*signer);
    auto pseudonymizer = kinex::audit::ChildPseudonymizer::Create(std::string(32, 'k'));
    ASSERT_TRUE(pseudonymizer.ok());
    audit.pseudonymizer = std::move(*pseudonymizer);
    audit.clock = &clock_;
    audit.start_signer_thread = false;
    auto log = kinex::audit::AuditLog::Create(std::move(audit));
    ASSERT_TRUE(log.ok()) << log.status();
    audit_ = std::move(*log);
    auto records = kinex::records::RecordsCore::Create(
        {.storage = &records_storage_, .clock = &clock_, .audit = audit_.get()});
    ASSERT_TRUE(records.ok()) << records.status();
    records_ = std::move(*records);
    auto engine = kinex::policy::PolicyEngine::Create(
        {.policy_dir = kinex::testing::SourceDir() + "/policy"});
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    decider_ = std::make_unique<LocalPolicyDecider>(*engine_);
    authorizer_ = std::make_unique<PolicyConsentAuthorizer>(*engine_, &clock_);
    auto consent = kinex::consent::ConsentCore::Create({.storage = &consent_storage_,
                                                        .records = records_.get(),
                                                        .authorizer = authorizer_.get(),
                                                        .clock = &clock_,
                                                        .audit = audit_.get()});
    ASSERT_TRUE(consent.ok()) << consent.status();
    consent_ = std::move(*consent);
    Rebuild();
  }

  // Rebuilds the gateway with the current dependency choices.
  void Rebuild() {
    Gateway::Dependencies deps;
    deps.records = records_override_ ? records_override_ : records_.get();
    deps.consent = consent_override_ ? consent_override_ : consent_.get();
    deps.policy = policy_override_ ? policy_override_ : decider_.get();
    deps.audit = audit_override_ ? audit_override_ : audit_.get();
    deps.metrics = &metrics_;
    deps.clock = &clock_;
    gateway_ = std::make_unique<Gateway>(gateway_options_, deps);
  }

  // Publishes a looked-after kinship child of Westminster on the roll of
  // school 137000, registered with GP Y01234. Returns its Kinex id.
  std::string SeedChild(const std::string& la_child_id, const std::string& nhs,
                        const std::string& la_code = "E09000033", bool looked_after = true) {
    kinex::exchange::v1::PublishRecordRequest la;
    la.mutable_child()->mutable_la_child_id()->set_la_code(la_code);
    la.mutable_child()->mutable_la_child_id()->set_id(la_child_id);
    auto* id = la.mutable_record()->mutable_identity();
    id->set_la_child_id(la_child_id);
    id->set_given_name("Test");
    id->set_family_name("Child");
    id->mutable_date_of_birth()->set_year(2015);
    id->mutable_date_of_birth()->set_month(4);
    id->mutable_date_of_birth()->set_day(2);
    la.mutable_record()->mutable_scope()->set_responsible_la_code(la_code);
    // The LA names the school and GP working with the child, which confirms
    // their links when they attach.
    for (const auto& [kind, code] :
         {std::pair{kinex::common::v1::SCHOOL, "137000"}, {kinex::common::v1::HEALTH, "Y01234"}}) {
      auto* named = la.mutable_record()->add_named_agencies();
      named->set_agency_kind(kind);
      named->set_agency_code(code);
    }
    auto* ep = la.mutable_record()->add_legal_status();
    ep->set_arrangement(kinex::record::v1::KINSHIP_FOSTER_CARE);
    ep->mutable_start_date()->set_year(2024);
    ep->mutable_start_date()->set_month(1);
    ep->mutable_start_date()->set_day(10);
    ep->set_looked_after(looked_after);
    la.mutable_record()->mutable_placement()->set_address("1 Test Street");
    la.mutable_record()->mutable_safeguarding()->set_child_protection_plan_open(true);
    la.mutable_record()->mutable_financial_support()->add_support_services("peer group");
    const std::string la_principal =
        "spiffe://kinex.dev/local-authority/" + la_code + "/social-worker";
    auto pub = gateway_->PublishRecord(Caller(la_principal.c_str()), la);
    EXPECT_TRUE(pub.ok()) << pub.status();
    const std::string kid = pub.ok() ? pub->kinex_id() : "";

    kinex::exchange::v1::PublishRecordRequest school;
    school.mutable_child()->set_kinex_id(kid);
    *school.mutable_proof_date_of_birth() = la.record().identity().date_of_birth();
    school.mutable_record()->mutable_scope()->set_current_school_urn("137000");
    auto* att = school.mutable_record()->mutable_education()->mutable_attendance_summary();
    att->set_possible_sessions(100);
    att->set_attended_sessions(93);
    pub = gateway_->PublishRecord(Caller(kSchool), school);
    EXPECT_TRUE(pub.ok()) << pub.status();

    kinex::exchange::v1::PublishRecordRequest health;
    health.mutable_child()->set_kinex_id(kid);
    *health.mutable_proof_date_of_birth() = la.record().identity().date_of_birth();
    health.mutable_record()->mutable_identity()->set_nhs_number(nhs);
    health.mutable_record()->mutable_scope()->set_registered_gp_ods_code("Y01234");
    health.mutable_record()->mutable_health()->set_camhs(kinex::record::v1::CAMHS_OPEN);
    pub = gateway_->PublishRecord(Caller(kHealth), health);
    EXPECT_TRUE(pub.ok()) << pub.status();
    return kid;
  }

  FakeClock clock_;
  std::string public_key_pem_;
  kinex::records::FakeRecordsStorage records_storage_;
  std::unique_ptr<kinex::records::RecordsCore> records_;
  std::unique_ptr<kinex::policy::PolicyEngine> engine_;
  std::unique_ptr<LocalPolicyDecider> decider_;
  kinex::audit::FakeLogStorage log_storage_;
  std::unique_ptr<kinex::audit::AuditLog> audit_;
  kinex::consent::FakeConsentStorage consent_storage_;
  std::unique_ptr<PolicyConsentAuthorizer> authorizer_;
  std::unique_ptr<kinex::consent::ConsentCore> consent_;
  Metrics metrics_;
  kinex::records::RecordsStore* records_override_ = nullptr;
  kinex::consent::ConsentRegistry* consent_override_ = nullptr;
  const PolicyDecider* policy_override_ = nullptr;
  kinex::audit::AuditSink* audit_override_ = nullptr;
  Gateway::Options gateway_options_;
  std::unique_ptr<Gateway> gateway_;
};

}  // namespace kinex::gateway::testing

#endif  // KINEX_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
