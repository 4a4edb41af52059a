// PolicyEngine: loading, the evaluation cache, atomic reload that keeps the
// previous set on failure, Explain, and consent-recording checks.
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "services/policy/policy_engine.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace cv1 = ::kinex::common::v1;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kRoles[] = "roles { agency_kind: LOCAL_AUTHORITY names: \"social-worker\" }\n";

std::string GrantRule(const std::string& category) {
  return absl::StrCat(
      "rules { id: \"g\" effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED } principals { agency_kind: "
      "LOCAL_AUTHORITY } purposes: CARE_PLANNING scope: RESPONSIBLE_AUTHORITY "
      "categories: ",
      category,
      " }\n"
      "consent_recorders { id: \"c\" principals { agency_kind: LOCAL_AUTHORITY "
      "roles: \"social-worker\" } scope: RESPONSIBLE_AUTHORITY bases: CONSENT "
      "}\n");
}

pv1::DecisionRequest SocialWorker() {
  pv1::DecisionRequest r;
  google::protobuf::TextFormat::ParseFromString(
      "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" "
      "role: \"social-worker\" } child { scope { responsible_la_code: "
      "\"E09000033\" } } purpose: CARE_PLANNING",
      &r);
  return r;
}

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kinex::testing::MakeUniqueTempDir("policy-engine");
    std::filesystem::create_directories(dir_);
    Write("roles.textproto", kRoles);
    Write("rules.textproto", GrantRule("LEGAL_STATUS"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(kinex::WriteFileAtomically((dir_ / name).string(), text).ok());
  }
  std::unique_ptr<PolicyEngine> MakeEngine() {
    auto engine = PolicyEngine::Create({.policy_dir = dir_.string()});
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }
  std::filesystem::path dir_;
};

TEST_F(PolicyEngineTest, CreateFailsWithTheLoadError) {
  Write("rules.textproto", GrantRule("42"));
  auto engine = PolicyEngine::Create({.policy_dir = dir_.string()});
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(engine.status().message(), HasSubstr("unknown category 42"));
  EXPECT_THAT(engine, HasErrorReason("POLICY_INVALID"));
  EXPECT_THAT(engine, HasErrorMetadata("file", (dir_ / "rules.textproto").string()));
}

TEST_F(PolicyEngineTest, DecideAndCache) {
  auto engine = MakeEngine();
  auto a = engine->Evaluate(SocialWorker());
  ASSERT_TRUE(a.ok());
  EXPECT_THAT((*a)->decision.allowed_paths(), ElementsAre("legal_status"));
  // Another child of the same LA: same principal class, same cached plan.
  pv1::DecisionRequest other = SocialWorker();
  other.mutable_child()->mutable_scope()->set_current_school_urn("100869");
  auto b = engine->Evaluate(other);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());
  auto decision = engine->Decide(SocialWorker());
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->policy_version(), engine->version());
}

TEST_F(PolicyEngineTest, ReloadSwapsTheSet) {
  auto engine = MakeEngine();
  const std::string v1 = engine->version();
  Write("rules.textproto", GrantRule("EDUCATION"));
  ASSERT_TRUE(engine->Reload().ok());
  EXPECT_NE(engine->version(), v1);
  auto d = engine->Decide(SocialWorker());
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(d->allowed_paths(), ElementsAre("education"));
  EXPECT_TRUE(engine->last_reload_status().ok());
}

TEST_F(PolicyEngineTest, FailedReloadKeepsPreviousSetAndSaysWhy) {
  auto engine = MakeEngine();
  const std::string v1 = engine->version();
  Write("rules.textproto", GrantRule("LEGAL_STATUS") + "rules { id: \"g\" }\n");
  absl::Status reload = engine->Reload();
  EXPECT_EQ(reload.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reload.message(), HasSubstr("duplicate rule id \"g\""));
  EXPECT_THAT(reload, HasErrorReason("POLICY_INVALID"));
  EXPECT_EQ(engine->last_reload_status(), reload);
  EXPECT_EQ(engine->version(), v1);
  auto d = engine->Decide(SocialWorker());
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(d->allowed_paths(), ElementsAre("legal_status"));
  // Removing the directory entirely also keeps the previous set.
  std::filesystem::remove_all(dir_);
  EXPECT_EQ(engine->Reload().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(engine->last_reload_status(), HasErrorReason("POLICY_FILES_MISSING"));
  EXPECT_EQ(engine->version(), v1);
}

TEST_F(PolicyEngineTest, ExplainGivesTheDecisionAndATrace) {
  auto engine = MakeEngine();
  auto explanation = engine->Explain(SocialWorker());
  ASSERT_TRUE(explanation.ok());
  EXPECT_THAT(explanation->decision().allowed_paths(), ElementsAre("legal_status"));
  EXPECT_THAT(explanation->trace(), Contains(HasSubstr("rule \"g\" (GRANT, ")));
  EXPECT_THAT(explanation->trace(), Contains("allow: legal_status"));
}

TEST_F(PolicyEngineTest, MayRecordConsent) {
  auto engine = MakeEngine();
  pv1::DecisionRequest r = SocialWorker();
  EXPECT_TRUE(engine->MayRecordConsent(r.principal(), r.child().scope(), cv1::CONSENT).ok());
  absl::Status s =
      engine->MayRecordConsent(r.principal(), r.child().scope(), cv1::SAFEGUARDING_OF_CHILDREN);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("record SAFEGUARDING_OF_CHILDREN"));
  EXPECT_THAT(s, HasErrorReason("POLICY_DENIED"));
}

TEST_F(PolicyEngineTest, ConcurrentDecisionsDuringReloads) {
  auto engine = MakeEngine();
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto d = engine->Decide(SocialWorker());
        if (!d.ok() || d->allowed_paths_size() != 1) ++bad;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    Write("rules.textproto", GrantRule(i % 2 == 0 ? "EDUCATION" : "LEGAL_STATUS"));
    EXPECT_TRUE(engine->Reload().ok());
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace kinex::policy
