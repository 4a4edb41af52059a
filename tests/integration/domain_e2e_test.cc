// Domain rules end to end, through the public API in every deployment: the
// school's designated teacher for looked-after and previously looked-after
// children, the DSL kept from the PEP and Pupil Premium Plus, no empty
// section ever revealing that withheld data exists, the VSH kinship extension
// following the child's arrangement, and the lawful-basis tuple on every
// receipt and audit event (Welsh records cited under Welsh law).
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/record_labels.h"
#include "tests/integration/agencies.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"

namespace kinex::testing {
namespace {

using ::testing::Contains;
using ::testing::Not;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace av1 = kinex::audit::v1;
namespace rv1 = kinex::record::v1;

class DomainE2E : public PerDeploymentTest<DomainE2E> {
 protected:
  // The demo children's Kinex ids, by slug, per deployment (seeded into its
  // cluster by the suite's first test there).
  static std::map<std::string, std::map<std::string, std::string>>& Seeded() {
    static auto* seeded = new std::map<std::string, std::map<std::string, std::string>>();
    return *seeded;
  }
  static void TearDownTestSuite() {
    PerDeploymentTest<DomainE2E>::TearDownTestSuite();
    Seeded().clear();
  }

  void SetUp() override {
    PerDeploymentTest<DomainE2E>::SetUp();
    if (HasFatalFailure()) return;
    auto& seeded = Seeded();
    if (!seeded.count(GetParam().name)) {
      std::map<std::string, std::string> kinex_ids;
      for (const char* slug :
           {"leo-ashworth", "maisie-thornbury", "tomos-pritchard", "jayden-whitlock"}) {
        auto kid = PublishDemoChild(*cluster_, slug, "Domain seeder");
        ASSERT_TRUE(kid.ok()) << kid.status();
        kinex_ids[slug] = *kid;
      }
      seeded[GetParam().name] = std::move(kinex_ids);
    }
    kinex_ids_ = &seeded[GetParam().name];
  }

  grpc::Status Get(const Agency& a, const std::string& slug, cv1::Purpose purpose,
                   ev1::GetChildRecordResponse* resp, const std::string& justification = "") {
    return GetById(a, kinex_ids_->at(slug), purpose, resp, justification);
  }
  grpc::Status GetById(const Agency& a, const std::string& kinex_id, cv1::Purpose purpose,
                       ev1::GetChildRecordResponse* resp, const std::string& justification = "") {
    auto stub = ev1::Exchange::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "Domain practitioner");
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kinex_id);
    req.set_purpose(purpose);
    req.set_justification(justification);
    return stub->GetChildRecord(&ctx, req, resp);
  }

  // The LA creates a child with one current legal-status episode of
  // `arrangement` (none when unspecified). Returns its Kinex id.
  std::string CreateChild(const std::string& la_child_id, rv1::ArrangementType arrangement,
                          const Agency& la = kLa) {
    ev1::PublishRecordRequest req;
    req.mutable_child()->mutable_la_child_id()->set_la_code(la.code);
    req.mutable_child()->mutable_la_child_id()->set_id(la_child_id);
    rv1::ChildRecord* r = req.mutable_record();
    r->mutable_identity()->set_la_child_id(la_child_id);
    r->mutable_identity()->set_given_name("Ada");
    r->mutable_identity()->set_family_name("Fenwick");
    r->mutable_identity()->mutable_date_of_birth()->set_year(2016);
    r->mutable_identity()->mutable_date_of_birth()->set_month(6);
    r->mutable_identity()->mutable_date_of_birth()->set_day(1);
    if (arrangement != rv1::ARRANGEMENT_TYPE_UNSPECIFIED) {
      auto* ep = r->add_legal_status();
      ep->set_arrangement(arrangement);
      ep->mutable_start_date()->set_year(2024);
      ep->mutable_start_date()->set_month(1);
      ep->mutable_start_date()->set_day(8);
    }
    auto stub = ev1::Exchange::NewStub(cluster_->AgencyChannel(la.kind, la.code, la.role));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "Domain practitioner");
    ev1::PublishRecordResponse resp;
    grpc::Status s = stub->PublishRecord(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.kinex_id();
  }

  // The audit event a receipt points at.
  av1::AuditEvent EventOf(const ev1::DisclosureReceipt& receipt) {
    auto stub =
        av1::Audit::NewStub(cluster_->AgencyChannel(kAuditor.kind, kAuditor.code, kAuditor.role));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "Domain auditor");
    av1::GetEntriesRequest req;
    req.set_start_index(receipt.leaf_index());
    req.set_end_index(receipt.leaf_index() + 1);
    av1::GetEntriesResponse resp;
    grpc::Status s = stub->GetEntries(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.entries_size(), 1);
    return resp.entries_size() == 1 ? resp.entries(0).event() : av1::AuditEvent();
  }

  // The receipt's tuple for one controller kind; fails the test if absent.
  static const cv1::LawfulBasis* TupleOf(const ev1::DisclosureReceipt& receipt,
                                         cv1::AgencyKind kind) {
    for (const auto& b : receipt.lawful_bases()) {
      if (b.controller_kind() == kind) return &b;
    }
    ADD_FAILURE() << "no lawful basis for controller " << cv1::AgencyKind_Name(kind);
    return nullptr;
  }

  const std::map<std::string, std::string>* kinex_ids_ = nullptr;
};

TEST_P(DomainE2E, DesignatedTeacherSeesThePepAndPupilPremiumPlusOfItsPreviouslyLookedAfterPupil) {
  ev1::GetChildRecordResponse r;
  // Leo: special guardianship order made from care, on the roll of 137000.
  grpc::Status s = Get(kTeacher, "leo-ashworth", cv1::EDUCATION_SUPPORT, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::vector<std::string> paths = PresentLeafPaths(r.record());
  EXPECT_THAT(paths, Contains("education.pupil_premium_plus.eligible"));
  EXPECT_THAT(paths, Contains("identity.given_name"));
  for (const std::string& p : paths) {
    EXPECT_TRUE(p.rfind("identity.", 0) == 0 || p.rfind("education.", 0) == 0 ||
                p.rfind("scope.", 0) == 0)
        << p << " is not the designated teacher's";
  }
  EXPECT_FALSE(r.record().has_health());
  EXPECT_FALSE(r.record().has_safeguarding());
  EXPECT_FALSE(r.record().has_police());
  EXPECT_FALSE(r.record().has_financial_support());
  // Not for safeguarding, and not another school's teacher.
  EXPECT_EQ(Get(kTeacher, "leo-ashworth", cv1::SAFEGUARDING, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get(kOtherTeacher, "leo-ashworth", cv1::EDUCATION_SUPPORT, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_P(DomainE2E, TheDslDoesNotSeeThePepOrPupilPremiumPlus) {
  ev1::GetChildRecordResponse r;
  grpc::Status s = Get(kSchoolA, "leo-ashworth", cv1::SAFEGUARDING, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(r.record().education().has_pupil_premium_plus());
  EXPECT_FALSE(r.record().education().has_pep());
  EXPECT_THAT(PresentLeafPaths(r.record()),
              Contains("education.attendance_summary.attended_sessions"));
}

TEST_P(DomainE2E, NoEmptySectionRevealsWithheldData) {
  // Every section or row a caller receives holds something it may see.
  for (const auto& [agency, slug, purpose] :
       std::vector<std::tuple<Agency, std::string, cv1::Purpose>>{
           {kSchoolA, "maisie-thornbury", cv1::SAFEGUARDING},
           {kSchoolA, "leo-ashworth", cv1::EDUCATION_SUPPORT},
           {kTeacher, "leo-ashworth", cv1::EDUCATION_SUPPORT},
           {kVsh, "maisie-thornbury", cv1::EDUCATION_SUPPORT},
           {kIro, "maisie-thornbury", cv1::CARE_PLANNING}}) {
    ev1::GetChildRecordResponse r;
    grpc::Status s = Get(agency, slug, purpose, &r);
    if (!s.ok()) continue;  // a denial sends no record at all
    std::vector<const google::protobuf::Message*> stack = {&r.record()};
    while (!stack.empty()) {
      const google::protobuf::Message* m = stack.back();
      stack.pop_back();
      const auto* refl = m->GetReflection();
      std::vector<const google::protobuf::FieldDescriptor*> fields;
      refl->ListFields(*m, &fields);
      for (const auto* f : fields) {
        if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
        const int n = f->is_repeated() ? refl->FieldSize(*m, f) : 1;
        for (int i = 0; i < n; ++i) {
          const auto& sub =
              f->is_repeated() ? refl->GetRepeatedMessage(*m, f, i) : refl->GetMessage(*m, f);
          EXPECT_GT(sub.ByteSizeLong(), 0u)
              << agency.role << " got an empty " << f->full_name() << " for " << slug;
          stack.push_back(&sub);
        }
      }
    }
  }
}

TEST_P(DomainE2E, VshKinshipExtensionFollowsTheChildsArrangement) {
  ev1::GetChildRecordResponse r;
  // Jayden: an informal family arrangement in England, not looked after.
  grpc::Status s = Get(kVsh, "jayden-whitlock", cv1::EDUCATION_SUPPORT, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(PresentLeafPaths(r.record()), Contains("identity.given_name"));
  const cv1::LawfulBasis* la = TupleOf(r.receipt(), cv1::LOCAL_AUTHORITY);
  ASSERT_NE(la, nullptr);
  EXPECT_EQ(la->article6(), cv1::ARTICLE6_PUBLIC_TASK);
  EXPECT_THAT(la->gateways(), ::testing::ElementsAre(cv1::VSH_KINSHIP_EXTENSION_GUIDANCE));
  // A child with no kinship arrangement, and a privately fostered child: the
  // extension gives the VSH nothing (the defect: 18 fields were disclosed).
  const std::string none =
      CreateChild(absl::StrCat("DOM-NONE-", GetParam().name), rv1::ARRANGEMENT_TYPE_UNSPECIFIED);
  const std::string fostered =
      CreateChild(absl::StrCat("DOM-PF-", GetParam().name), rv1::PRIVATE_FOSTERING);
  ASSERT_FALSE(none.empty());
  ASSERT_FALSE(fostered.empty());
  EXPECT_EQ(GetById(kVsh, none, cv1::EDUCATION_SUPPORT, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetById(kVsh, fostered, cv1::EDUCATION_SUPPORT, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The LA itself still sees its child.
  EXPECT_TRUE(GetById(kLa, none, cv1::CARE_PLANNING, &r).ok());
}

TEST_P(DomainE2E, ReceiptAndAuditEventCarryTheLawfulBasisPerController) {
  ev1::GetChildRecordResponse r;
  // Maisie: looked after in England, with school, health and police parts.
  grpc::Status s = Get(kLa, "maisie-thornbury", cv1::SAFEGUARDING, &r,
                       "s47 strategy discussion after a police referral");
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_FALSE(r.receipt().lawful_bases().empty());
  const cv1::LawfulBasis* la = TupleOf(r.receipt(), cv1::LOCAL_AUTHORITY);
  const cv1::LawfulBasis* police = TupleOf(r.receipt(), cv1::POLICE);
  ASSERT_NE(la, nullptr);
  ASSERT_NE(police, nullptr);
  EXPECT_EQ(la->controller_code(), "E09000033");
  EXPECT_EQ(la->regime(), cv1::UK_GDPR);
  EXPECT_EQ(la->article6(), cv1::ARTICLE6_PUBLIC_TASK);
  EXPECT_THAT(la->gateways(), Contains(cv1::CA2004_S16LA_DUTY_TO_SHARE));
  EXPECT_THAT(la->citations(),
              Contains("Children Act 2004 s11: arrangements to safeguard and promote the "
                       "welfare of children"));
  // The force's criminal offence data, disclosed to the LA for safeguarding:
  // UK GDPR with the Art 10 safeguarding condition (Sch 1 para 18).
  bool criminal = false;
  for (const auto& b : r.receipt().lawful_bases()) {
    if (b.controller_kind() != cv1::POLICE) continue;
    EXPECT_EQ(b.regime(), cv1::UK_GDPR);
    if (b.criminal_offence_condition() != cv1::SENSITIVE_DATA_CONDITION_UNSPECIFIED) {
      criminal = true;
      EXPECT_EQ(b.criminal_offence_condition(),
                cv1::SAFEGUARDING_OF_CHILDREN_AND_INDIVIDUALS_AT_RISK);
    }
  }
  EXPECT_TRUE(criminal);
  // Exactly the same tuples in the audit event, and its summary basis is
  // never unspecified.
  av1::AuditEvent event = EventOf(r.receipt());
  ASSERT_EQ(event.lawful_bases_size(), r.receipt().lawful_bases_size());
  for (int i = 0; i < event.lawful_bases_size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(event.lawful_bases(i),
                                                                   r.receipt().lawful_bases(i)))
        << i;
  }
  EXPECT_EQ(event.legal_basis(), cv1::PUBLIC_TASK);
}

TEST_P(DomainE2E, WelshRecordIsCitedUnderWelshLaw) {
  ev1::GetChildRecordResponse r;
  // Tomos: looked after by Cardiff (W06000015).
  grpc::Status s = Get(kWelshLa, "tomos-pritchard", cv1::CARE_PLANNING, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const cv1::LawfulBasis* la = TupleOf(r.receipt(), cv1::LOCAL_AUTHORITY);
  ASSERT_NE(la, nullptr);
  EXPECT_THAT(la->gateways(), Not(Contains(cv1::CA2004_S16LA_DUTY_TO_SHARE)));
  EXPECT_THAT(la->citations(),
              Contains("Children Act 2004 s28: arrangements to safeguard and promote the "
                       "welfare of children (Wales)"));
  EXPECT_THAT(la->citations(),
              Contains("Social Services and Well-being (Wales) Act 2014 s78: general duty of "
                       "a local authority to looked-after children"));
  for (const std::string& c : la->citations()) {
    EXPECT_EQ(c.find("s16LA"), std::string::npos) << c;
  }
  // England-only duties never apply: the VSH kinship extension gives the
  // Cardiff virtual school nothing for a Welsh child under a special
  // guardianship order not made from care (an English one would qualify).
  const std::string welsh_sgo = CreateChild(absl::StrCat("DOM-W-SGO-", GetParam().name),
                                            rv1::SPECIAL_GUARDIANSHIP_ORDER, kWelshLa);
  ASSERT_FALSE(welsh_sgo.empty());
  EXPECT_EQ(GetById(kWelshVsh, welsh_sgo, cv1::EDUCATION_SUPPORT, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const std::string english_sgo =
      CreateChild(absl::StrCat("DOM-E-SGO-", GetParam().name), rv1::SPECIAL_GUARDIANSHIP_ORDER);
  ASSERT_FALSE(english_sgo.empty());
  EXPECT_TRUE(GetById(kVsh, english_sgo, cv1::EDUCATION_SUPPORT, &r).ok());
}

TEST_P(DomainE2E, WhoMayConsentFollowsTheArrangement) {
  // A "special guardian" consenting for a child in kinship foster care under
  // no special guardianship order is refused, and nothing is stored; for a
  // child whose SGO is in force the same consent stands.
  auto record = [&](const std::string& slug) {
    auto stub =
        kinex::consent::v1::Consent::NewStub(cluster_->AgencyChannel(kLa.kind, kLa.code, kLa.role));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "Domain practitioner");
    kinex::consent::v1::RecordConsentRequest req;
    req.mutable_child()->set_kinex_id(kinex_ids_->at(slug));
    auto* grant = req.mutable_entry()->mutable_consent();
    grant->set_decision(kinex::consent::v1::CONSENT_GIVEN);
    grant->mutable_given_by()->set_kind(kinex::consent::v1::PARENTAL_RESPONSIBILITY_HOLDER);
    grant->mutable_given_by()->set_name("A. Carer");
    grant->mutable_given_by()->set_relationship(kinex::consent::v1::SPECIAL_GUARDIAN);
    grant->mutable_scope()->add_categories(rv1::HEALTH);
    grant->mutable_scope()->add_recipient_kinds(cv1::VIRTUAL_SCHOOL);
    grant->mutable_scope()->add_purposes(cv1::EDUCATION_SUPPORT);
    kinex::consent::v1::RecordConsentResponse done;
    return stub->RecordConsent(&ctx, req, &done);
  };
  grpc::Status refused = record("maisie-thornbury");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(refused.error_message(),
            "entry.consent.given_by.relationship: SPECIAL_GUARDIAN, but the child's legal status "
            "at entry.valid_from has no special guardianship order in force (the responsible "
            "LA's legal-status episodes); nothing was stored");
  grpc::Status accepted = record("leo-ashworth");
  EXPECT_TRUE(accepted.ok()) << accepted.error_message();
}

INSTANTIATE_TEST_SUITE_P(Deployments, DomainE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

}  // namespace
}  // namespace kinex::testing
