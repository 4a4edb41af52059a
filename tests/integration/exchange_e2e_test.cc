// The exchange end to end: real `kinex` processes over real mTLS on
// loopback, in both modes (all services in one process; one process per
// service, on SQLite and on PostgreSQL), driven only through the public API with agency
// certificates from the project's PKI script. Demo children are published from
// tools/demo/children/*.json, each part by its owning agency.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/audit/log_verifier.h"
#include "services/audit/tree_head.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/record_labels.h"
#include "services/common/status_macros.h"
#include "services/gateway/gateway.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"
#include "tests/testing/paths.h"

namespace kinex::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace rv1 = kinex::record::v1;
using Mode = KinexCluster::Mode;

const Agency kLaSw{"local-authority", "E09000033", "social-worker"};
const Agency kIro{"local-authority", "E09000033", "independent-reviewing-officer"};
const Agency kVsh{"virtual-school", "E09000033", "virtual-school-head"};
const Agency kWelshVsh{"virtual-school", "W06000015", "virtual-school-head"};
const Agency kDsl{"school", "137000", "designated-safeguarding-lead"};
const Agency kHealth{"health", "Y01234", "health-practitioner"};
const Agency kPolice{"police", "01", "public-protection-officer"};
const Agency kAuditor{"auditor", "kinex-dpo", "auditor"};

// One cluster per mode for the whole suite, seeded once.
struct Seeded {
  std::unique_ptr<KinexCluster> cluster;
  std::map<std::string, std::string> kinex_ids;  // demo slug -> kinex id
};

absl::StatusOr<Seeded> StartSeeded(const Deployment& d) {
  Seeded s;
  KINEX_ASSIGN_OR_RETURN(s.cluster, KinexCluster::Start({.mode = d.mode, .postgres = d.postgres}));
  for (const std::string& slug : DemoChildren()) {
    KINEX_ASSIGN_OR_RETURN(s.kinex_ids[slug], PublishDemoChild(*s.cluster, slug, "E2E seeder"));
  }
  return s;
}

class ExchangeE2E : public ::testing::TestWithParam<Deployment> {
 protected:
  static std::map<std::string, Seeded>& Clusters() {
    static auto* clusters = new std::map<std::string, Seeded>();
    return *clusters;
  }
  static void TearDownTestSuite() { Clusters().clear(); }

  void SetUp() override {
    auto& clusters = Clusters();
    if (!clusters.count(GetParam().name)) {
      absl::StatusOr<Seeded> s = StartSeeded(GetParam());
      ASSERT_TRUE(s.ok()) << s.status();
      clusters[GetParam().name] = std::move(*s);
    }
    seeded_ = &clusters[GetParam().name];
  }
  KinexCluster& cluster() { return *seeded_->cluster; }
  std::string Kid(const std::string& slug) { return seeded_->kinex_ids.at(slug); }

  grpc::Status Get(const Agency& a, const std::string& slug, cv1::Purpose purpose,
                   ev1::GetChildRecordResponse* resp, const std::string& justification = "",
                   bool break_glass = false) {
    auto stub = ev1::Exchange::NewStub(cluster().AgencyChannel(a.kind, a.code, a.role));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "E2E practitioner");
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(Kid(slug));
    req.set_purpose(purpose);
    req.set_justification(justification);
    req.set_break_glass(break_glass);
    return stub->GetChildRecord(&ctx, req, resp);
  }
  static std::set<std::string> Paths(const rv1::ChildRecord& r) {
    auto v = kinex::PresentLeafPaths(r);
    return {v.begin(), v.end()};
  }
  static bool HasPrefix(const std::set<std::string>& paths, const std::string& prefix) {
    for (const auto& p : paths) {
      if (p == prefix || p.rfind(prefix + ".", 0) == 0) return true;
    }
    return false;
  }

  Seeded* seeded_ = nullptr;
};

// Invariant 1 and 7: no matching rule means nothing, and an auditor sees no
// record content at all.
TEST_P(ExchangeE2E, AuditorSeesNoRecordContent) {
  ev1::GetChildRecordResponse r;
  for (cv1::Purpose p : {cv1::SAFEGUARDING, cv1::CARE_PLANNING, cv1::EDUCATION_SUPPORT}) {
    grpc::Status s = Get(kAuditor, "maisie-thornbury", p, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(s.error_message(), HasSubstr("no record you may see for this child and purpose"));
    EXPECT_FALSE(r.has_record());
  }
}

// Invariant 3: the VSH of the responsible LA, for education support.
TEST_P(ExchangeE2E, VirtualSchoolHeadSeesIdentityLegalStatusEducation) {
  ev1::GetChildRecordResponse r;
  grpc::Status s = Get(kVsh, "maisie-thornbury", cv1::EDUCATION_SUPPORT, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto paths = Paths(r.record());
  EXPECT_TRUE(HasPrefix(paths, "identity.upn"));
  EXPECT_TRUE(HasPrefix(paths, "legal_status.arrangement"));
  EXPECT_TRUE(HasPrefix(paths, "education.attendance_summary"));
  EXPECT_TRUE(HasPrefix(paths, "education.pep.status"));
  for (const char* never :
       {"police", "safeguarding", "placement.address", "placement.postcode", "financial_support",
        "health.assessments", "health.camhs", "identity.ethnicity"}) {
    EXPECT_FALSE(HasPrefix(paths, never)) << never;
  }
  // A Welsh VSH sees its own looked-after child (Tomos, kinship foster care
  // in W06000015) under the statutory looked-after duty, which has no
  // jurisdiction condition; the England-only kinship extension is never what
  // grants a Welsh record (policy/tests/03_virtual_school_head.textproto
  // proves that rule alone gives a Welsh child nothing).
  r.Clear();
  s = Get(kWelshVsh, "tomos-pritchard", cv1::EDUCATION_SUPPORT, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto welsh = Paths(r.record());
  EXPECT_TRUE(HasPrefix(welsh, "identity"));
  EXPECT_TRUE(HasPrefix(welsh, "legal_status.arrangement"));
  for (const char* never : {"police", "safeguarding", "placement.address", "placement.postcode",
                            "financial_support", "health.assessments"}) {
    EXPECT_FALSE(HasPrefix(welsh, never)) << never;
  }
  // ... and no English child: the Welsh VSH is not their responsible authority.
  s = Get(kWelshVsh, "maisie-thornbury", cv1::EDUCATION_SUPPORT, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Another LA's child is out of scope.
  s = Get(kVsh, "esme-caldwell", cv1::EDUCATION_SUPPORT, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// Invariant 4: a school's DSL, for children on its roll.
TEST_P(ExchangeE2E, DesignatedSafeguardingLeadSeesPlansContactAndEncompass) {
  ev1::GetChildRecordResponse r;
  grpc::Status s = Get(kDsl, "maisie-thornbury", cv1::SAFEGUARDING, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto paths = Paths(r.record());
  EXPECT_TRUE(r.record().safeguarding().child_protection_plan_open());
  EXPECT_EQ(r.record().safeguarding().social_worker().name(), "Alex Rivers");
  ASSERT_EQ(r.record().police().encompass_notifications_size(), 1);
  EXPECT_EQ(r.record().police().encompass_notifications(0).school_urn(), "137000");
  EXPECT_TRUE(HasPrefix(paths, "education.attendance_summary"));
  EXPECT_FALSE(HasPrefix(paths, "health"));
  EXPECT_FALSE(HasPrefix(paths, "police.incidents"));
  // Not on this school's roll: nothing.
  s = Get(kDsl, "esme-caldwell", cv1::SAFEGUARDING, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// Invariant 5: a health practitioner, for children registered with them.
TEST_P(ExchangeE2E, HealthPractitionerSeesHealthCarerContactAndSenButNotAttainment) {
  ev1::GetChildRecordResponse r;
  // Without a justification the health data is withheld: the inherent
  // health-and-social-care basis must say why (Art 9(2)(h)).
  grpc::Status s = Get(kHealth, "maisie-thornbury", cv1::HEALTH_CARE, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(HasPrefix(Paths(r.record()), "health"));
  s = Get(kHealth, "maisie-thornbury", cv1::HEALTH_CARE, &r,
          "Review health assessment follow-up for looked-after child");
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto paths = Paths(r.record());
  EXPECT_TRUE(HasPrefix(paths, "health.assessments"));
  EXPECT_TRUE(HasPrefix(paths, "legal_status"));
  EXPECT_EQ(r.record().placement().carers(0).phone(), "020 7946 0001");
  EXPECT_EQ(r.record().education().sen().provision(), rv1::SEN_SUPPORT);
  EXPECT_FALSE(HasPrefix(paths, "education.attainment"));
  EXPECT_FALSE(HasPrefix(paths, "police"));
}

// Invariant 6: police public protection, for safeguarding, with a
// justification; health only by break-glass; never attainment.
TEST_P(ExchangeE2E, PoliceSeeSafeguardingAndPoliceHealthOnlyByBreakGlass) {
  const std::string why = "Section 47 strategy discussion, ref MPS/2026/11/0042";
  ev1::GetChildRecordResponse r;
  grpc::Status s = Get(kPolice, "maisie-thornbury", cv1::SAFEGUARDING, &r, why);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto paths = Paths(r.record());
  EXPECT_TRUE(HasPrefix(paths, "safeguarding.child_protection_plan_open"));
  EXPECT_TRUE(HasPrefix(paths, "police.encompass_notifications"));
  EXPECT_TRUE(HasPrefix(paths, "legal_status"));
  EXPECT_FALSE(HasPrefix(paths, "health"));
  EXPECT_FALSE(HasPrefix(paths, "education.attainment"));

  s = Get(kPolice, "maisie-thornbury", cv1::SAFEGUARDING, &r,
          "Child reported missing overnight; urgent risk assessment needs medical context",
          /*break_glass=*/true);
  ASSERT_TRUE(s.ok()) << s.error_message();
  paths = Paths(r.record());
  EXPECT_TRUE(HasPrefix(paths, "health"));
  EXPECT_FALSE(HasPrefix(paths, "education.attainment"));
}

// Invariant 8: an IRO of the responsible LA, for care planning of a
// looked-after child.
TEST_P(ExchangeE2E, IndependentReviewingOfficerSeesCarePlanningView) {
  ev1::GetChildRecordResponse r;
  grpc::Status s = Get(kIro, "maisie-thornbury", cv1::CARE_PLANNING, &r,
                       "Looked-after review: checking the health assessment is on track");
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto paths = Paths(r.record());
  EXPECT_TRUE(HasPrefix(paths, "placement"));
  EXPECT_TRUE(HasPrefix(paths, "education.pep"));
  EXPECT_TRUE(HasPrefix(paths, "health.assessments.due_date"));
  EXPECT_FALSE(HasPrefix(paths, "health.assessments.summary"));
  EXPECT_FALSE(HasPrefix(paths, "police"));
}

// Invariant 2 and 9: the LA social worker sees the whole record for care
// planning, except special-category fields, which need consent or a
// statutory basis with a justification.
TEST_P(ExchangeE2E, SocialWorkerSeesWholeRecordButSpecialCategoryNeedsABasis) {
  ev1::GetChildRecordResponse r;
  grpc::Status s = Get(kLaSw, "maisie-thornbury", cv1::CARE_PLANNING, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto paths = Paths(r.record());
  for (const char* section : {"identity.given_name", "legal_status", "placement.address",
                              "education", "safeguarding", "financial_support"}) {
    EXPECT_TRUE(HasPrefix(paths, section)) << section;
  }
  EXPECT_FALSE(HasPrefix(paths, "identity.ethnicity"));
  bool health_needs_basis = false;
  for (const auto& w : r.receipt().withheld()) {
    if (w.category() == rv1::HEALTH && w.reason() == kinex::policy::v1::NEEDS_CONSENT_OR_BASIS) {
      health_needs_basis = true;
    }
  }
  EXPECT_TRUE(health_needs_basis);
}

// Across every agency, purpose and child: no response ever carries a field
// of a category the decision withheld whole, and every receipt verifies.
TEST_P(ExchangeE2E, NoResponseCarriesAWithheldCategoryAndEveryReceiptVerifies) {
  const auto labels = LabelledFields(rv1::ChildRecord::descriptor());
  std::map<std::string, rv1::Category> category_of;
  for (const auto& f : labels) category_of[f.path] = f.category;
  auto pem = ReadFileToString(cluster().pki() + "/audit-signing.pub.pem");
  ASSERT_TRUE(pem.ok());
  auto verifier = kinex::audit::TreeHeadVerifier::FromPublicKeyPem(*pem);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  int allowed = 0, denied = 0;
  for (const Agency& a : {kLaSw, kIro, kVsh, kWelshVsh, kDsl, kHealth, kPolice, kAuditor}) {
    for (int p = cv1::Purpose_MIN + 1; p <= cv1::Purpose_MAX; ++p) {
      for (const auto& [slug, kid] : seeded_->kinex_ids) {
        ev1::GetChildRecordResponse r;
        grpc::Status s = Get(a, slug, static_cast<cv1::Purpose>(p), &r,
                             "E2E sweep: checking withheld categories never leak");
        if (!s.ok()) {
          ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
          ++denied;
          continue;
        }
        ++allowed;
        std::set<int> withheld_whole;
        for (const auto& w : r.receipt().withheld()) {
          if (!w.partial()) withheld_whole.insert(w.category());
        }
        for (const std::string& path : Paths(r.record())) {
          EXPECT_FALSE(withheld_whole.count(category_of.at(path)))
              << a.kind << "/" << a.role << " got " << path << " of a withheld category";
        }
        EXPECT_TRUE(kinex::audit::VerifyReceipt(r.receipt(), **verifier).ok());
        const auto disclosed = Paths(r.record());
        EXPECT_EQ(std::set<std::string>(r.receipt().disclosed_paths().begin(),
                                        r.receipt().disclosed_paths().end()),
                  disclosed);
      }
    }
  }
  EXPECT_GT(allowed, 20);
  EXPECT_GT(denied, 50);
}

TEST_P(ExchangeE2E, ConsentOnFileLetsTheVirtualSchoolHeadSeeTheSdqBand) {
  ev1::GetChildRecordResponse r;
  ASSERT_TRUE(Get(kVsh, "leo-ashworth", cv1::EDUCATION_SUPPORT, &r).ok());
  EXPECT_FALSE(r.record().has_health());
  // Leo's special guardian agrees; the VSH records it (policy decides who may).
  auto stub = kinex::consent::v1::Consent::NewStub(
      cluster().AgencyChannel(kVsh.kind, kVsh.code, kVsh.role));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "E2E VSH");
  kinex::consent::v1::RecordConsentRequest req;
  req.mutable_child()->set_kinex_id(Kid("leo-ashworth"));
  auto* grant = req.mutable_entry()->mutable_consent();
  grant->set_decision(kinex::consent::v1::CONSENT_GIVEN);
  grant->mutable_given_by()->set_kind(kinex::consent::v1::PARENTAL_RESPONSIBILITY_HOLDER);
  grant->mutable_given_by()->set_name("Margaret Ashworth");
  grant->mutable_given_by()->set_relationship(kinex::consent::v1::SPECIAL_GUARDIAN);
  grant->mutable_scope()->add_categories(rv1::HEALTH);
  grant->mutable_scope()->add_recipient_kinds(cv1::VIRTUAL_SCHOOL);
  grant->mutable_scope()->add_purposes(cv1::EDUCATION_SUPPORT);
  kinex::consent::v1::RecordConsentResponse done;
  grpc::Status s = stub->RecordConsent(&ctx, req, &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(Get(kVsh, "leo-ashworth", cv1::EDUCATION_SUPPORT, &r).ok());
  EXPECT_EQ(r.record().health().sdq().band(), rv1::SDQ_BORDERLINE);
  EXPECT_EQ(r.record().health().sdq().total_score(), 0);  // only the band
}

TEST_P(ExchangeE2E, AuditorsQueryTheLogAtTheFrontDoorAndAgenciesCannot) {
  ev1::GetChildRecordResponse r;
  ASSERT_TRUE(Get(kVsh, "ruby-hartwell", cv1::EDUCATION_SUPPORT, &r).ok());
  auto auditor = kinex::audit::v1::Audit::NewStub(
      cluster().AgencyChannel(kAuditor.kind, kAuditor.code, kAuditor.role));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "DPO");
  kinex::audit::v1::SignedTreeHead head;
  grpc::Status s = auditor->GetSignedTreeHead(&ctx, {}, &head);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(head.tree_size(), r.receipt().leaf_index());

  grpc::ClientContext ctx2;
  ctx2.AddMetadata("x-kinex-actor", "DPO");
  kinex::audit::v1::QueryEventsRequest q;
  q.mutable_child()->set_nhs_number("9990000522");  // Ruby, matched by pseudonym
  q.set_agency_kind(cv1::VIRTUAL_SCHOOL);
  kinex::audit::v1::QueryEventsResponse events;
  s = auditor->QueryEvents(&ctx2, q, &events);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(events.entries_size(), 1);
  for (const auto& e : events.entries()) {
    EXPECT_EQ(e.event().agency_kind(), cv1::VIRTUAL_SCHOOL);
    EXPECT_EQ(e.event().children_size(), 0);  // pseudonyms only
  }

  auto agency =
      kinex::audit::v1::Audit::NewStub(cluster().AgencyChannel(kVsh.kind, kVsh.code, kVsh.role));
  grpc::ClientContext ctx3;
  ctx3.AddMetadata("x-kinex-actor", "V. Head");
  s = agency->GetSignedTreeHead(&ctx3, {}, &head);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_P(ExchangeE2E, RequestWithoutActorIsRefused) {
  auto stub = ev1::Exchange::NewStub(cluster().AgencyChannel(kVsh.kind, kVsh.code, kVsh.role));
  grpc::ClientContext ctx;
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(Kid("maisie-thornbury"));
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  ev1::GetChildRecordResponse r;
  grpc::Status s = stub->GetChildRecord(&ctx, req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "x-kinex-actor metadata is required: name the practitioner making this request");
}

// An unknown child and an out-of-scope child get the same status, message
// and google.rpc.Status details (ErrorInfo reason and metadata), byte for
// byte, so a probe learns nothing; with the same request id the whole
// refusal is identical.
TEST_P(ExchangeE2E, UnknownAndOutOfScopeChildrenGetIdenticalErrorDetails) {
  auto stub = ev1::Exchange::NewStub(cluster().AgencyChannel(kVsh.kind, kVsh.code, kVsh.role));
  auto refuse = [&](const cv1::ChildRef& child) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "E2E practitioner");
    ctx.AddMetadata("x-kinex-request-id", "probe-1");
    ev1::GetChildRecordRequest req;
    *req.mutable_child() = child;
    req.set_purpose(cv1::EDUCATION_SUPPORT);
    ev1::GetChildRecordResponse r;
    grpc::Status s = stub->GetChildRecord(&ctx, req, &r);
    EXPECT_FALSE(r.has_record());
    return s;
  };
  cv1::ChildRef unknown;
  unknown.set_nhs_number("4010232137");  // well-formed, no such child
  cv1::ChildRef out_of_scope;            // Esme: another LA's child
  out_of_scope.set_nhs_number("9990000662");
  const grpc::Status a = refuse(unknown);
  const grpc::Status b = refuse(out_of_scope);
  EXPECT_EQ(a.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(a.error_message(),
            "no record you may see for this child and purpose (request id probe-1)");
  EXPECT_EQ(b.error_code(), a.error_code());
  EXPECT_EQ(b.error_message(), a.error_message());
  EXPECT_EQ(b.error_details(), a.error_details());
  // The details: one ErrorInfo, the reason and the request id, nothing else
  // (no identifier the caller sent).
  const absl::Status back = FromGrpcStatus(a);
  const google::rpc::ErrorInfo info = ErrorInfoOf(back);
  EXPECT_TRUE(HasExplicitErrorReason(back));
  EXPECT_EQ(info.reason(), "CHILD_NOT_FOUND_OR_OUT_OF_SCOPE");
  EXPECT_EQ(info.domain(), "kinex.dev");
  EXPECT_THAT(info.metadata(),
              ::testing::UnorderedElementsAre(::testing::Pair("request_id", "probe-1")));
  EXPECT_THAT(a.error_details(), Not(HasSubstr("4010232137")));
  EXPECT_THAT(a.error_details(), Not(HasSubstr("9990000662")));
}

// The embedded default; one process per target on SQLite; and one process
// per target on a real PostgreSQL server, as the Helm chart deploys it.
INSTANTIATE_TEST_SUITE_P(Deployments, ExchangeE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

}  // namespace
}  // namespace kinex::testing
