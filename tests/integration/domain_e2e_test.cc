// Domain rules end to end, through the public API in every deployment: the
// school's designated teacher for looked-after and previously looked-after
// children, the DSL kept from the PEP and Pupil Premium Plus, and no empty
// section ever revealing that withheld data exists.
#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/record_labels.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"

namespace kinex::testing {
namespace {

using ::testing::Contains;
using ::testing::Not;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;

const Agency kTeacher{"school", "137000", "designated-teacher"};
const Agency kDsl{"school", "137000", "designated-safeguarding-lead"};
const Agency kOtherTeacher{"school", "141999", "designated-teacher"};

class DomainE2E : public ::testing::TestWithParam<Deployment> {
 protected:
  struct Seeded {
    std::unique_ptr<KinexCluster> cluster;
    std::map<std::string, std::string> kinex_ids;
  };
  static std::map<std::string, Seeded>& Clusters() {
    static auto* clusters = new std::map<std::string, Seeded>();
    return *clusters;
  }
  static void TearDownTestSuite() { Clusters().clear(); }

  void SetUp() override {
    auto& clusters = Clusters();
    if (!clusters.count(GetParam().name)) {
      Seeded s;
      auto c = KinexCluster::Start({.mode = GetParam().mode, .postgres = GetParam().postgres});
      ASSERT_TRUE(c.ok()) << c.status();
      s.cluster = std::move(*c);
      for (const char* slug : {"leo-ashworth", "maisie-thornbury", "tomos-pritchard"}) {
        auto kid = PublishDemoChild(*s.cluster, slug, "Domain seeder");
        ASSERT_TRUE(kid.ok()) << kid.status();
        s.kinex_ids[slug] = *kid;
      }
      clusters[GetParam().name] = std::move(s);
    }
    seeded_ = &clusters[GetParam().name];
  }

  grpc::Status Get(const Agency& a, const std::string& slug, cv1::Purpose purpose,
                   ev1::GetChildRecordResponse* resp) {
    auto stub = ev1::Exchange::NewStub(seeded_->cluster->AgencyChannel(a.kind, a.code, a.role));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "Domain practitioner");
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(seeded_->kinex_ids.at(slug));
    req.set_purpose(purpose);
    return stub->GetChildRecord(&ctx, req, resp);
  }

  Seeded* seeded_ = nullptr;
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
  grpc::Status s = Get(kDsl, "leo-ashworth", cv1::SAFEGUARDING, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(r.record().education().has_pupil_premium_plus());
  EXPECT_FALSE(r.record().education().has_pep());
  EXPECT_THAT(PresentLeafPaths(r.record()), Contains("education.attendance_summary.attended_sessions"));
}

TEST_P(DomainE2E, NoEmptySectionRevealsWithheldData) {
  // Every section or row a caller receives holds something it may see.
  for (const auto& [agency, slug, purpose] :
       std::vector<std::tuple<Agency, std::string, cv1::Purpose>>{
           {kDsl, "maisie-thornbury", cv1::SAFEGUARDING},
           {kDsl, "leo-ashworth", cv1::EDUCATION_SUPPORT},
           {kTeacher, "leo-ashworth", cv1::EDUCATION_SUPPORT},
           {Agency{"virtual-school", "E09000033", "virtual-school-head"}, "maisie-thornbury",
            cv1::EDUCATION_SUPPORT},
           {Agency{"local-authority", "E09000033", "independent-reviewing-officer"},
            "maisie-thornbury", cv1::CARE_PLANNING}}) {
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
          const auto& sub = f->is_repeated() ? refl->GetRepeatedMessage(*m, f, i)
                                             : refl->GetMessage(*m, f);
          EXPECT_GT(sub.ByteSizeLong(), 0u)
              << agency.role << " got an empty " << f->full_name() << " for " << slug;
          stack.push_back(&sub);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Deployments, DomainE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

}  // namespace
}  // namespace kinex::testing
