// GetChildFacts, GetRecord's paths and facts version, and BatchGetRecords:
// the reads the gateway decides on and then makes, over the in-memory fake.
// Facts carry no record content; a pinned read fails ABORTED when the facts
// moved; a filtered read returns exactly the filtered full record.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/records/part_filter.h"
#include "services/records/records_core.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::records::testing {
namespace {

using ::testing::HasSubstr;
namespace rv1 = kinex::records::v1;
namespace rec = kinex::record::v1;
namespace cv1 = kinex::common::v1;

class RecordsFactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto core = RecordsCore::Create({.storage = &storage_, .clock = &clock_, .audit = &audit_});
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = std::move(*core);
    // An LA child, looked after, with a placement and safeguarding data;
    // a confirmed school (enrolled) and a confirmed GP with health data.
    rec::ChildRecord la = LaPart("F1");
    la.mutable_placement()->set_address("1 Private Road");
    auto* ep = la.add_legal_status();
    ep->set_arrangement(rec::KINSHIP_FOSTER_CARE);
    *ep->mutable_start_date() = Dob(2024, 1, 10);
    ep->set_looked_after(true);
    Name(la, cv1::SCHOOL, "100001");
    Name(la, cv1::HEALTH, "RJ1");
    auto put = core_->PutPart(Put(kLa, LaRef("E09000033", "F1"), la));
    ASSERT_TRUE(put.ok()) << put.status();
    kid_ = put->kinex_id();
    la_etag_ = put->etag();
    la_part_ = la;
    ASSERT_TRUE(core_->PutPart(Attach(kSchool, KinexRef(kid_), SchoolPart(Upn(1)))).ok());
    ASSERT_TRUE(core_->PutPart(Attach(kHealth, KinexRef(kid_), HealthPart(Nhs(1)))).ok());
  }

  rv1::ChildFacts Facts() {
    rv1::GetChildFactsRequest req;
    *req.mutable_child() = KinexRef(kid_);
    auto f = core_->GetChildFacts(req);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *f : rv1::ChildFacts();
  }

  absl::StatusOr<rv1::GetRecordResponse> Read(std::vector<std::string> paths,
                                              const std::string& version = "") {
    rv1::GetRecordRequest req;
    *req.mutable_child() = KinexRef(kid_);
    for (auto& p : paths) req.add_paths(p);
    req.set_facts_version(version);
    return core_->GetRecord(req);
  }

  FakeClock clock_;
  kinex::testing::RecordingAuditSink audit_;
  FakeRecordsStorage storage_;
  std::unique_ptr<RecordsCore> core_;
  std::string kid_, la_etag_;
  rec::ChildRecord la_part_;
};

TEST_F(RecordsFactsTest, FactsAreTheDerivedScopeLegalStatusAndIdentifiersOnly) {
  const rv1::ChildFacts facts = Facts();
  EXPECT_EQ(facts.kinex_id(), kid_);
  EXPECT_EQ(facts.scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(facts.scope().current_school_urn(), "100001");
  EXPECT_EQ(facts.scope().registered_gp_ods_code(), "RJ1");
  ASSERT_EQ(facts.legal_status_size(), 1);
  EXPECT_EQ(facts.legal_status(0).arrangement(), rec::KINSHIP_FOSTER_CARE);
  EXPECT_EQ(facts.date_of_birth().year(), 2015);
  ASSERT_EQ(facts.known_as_size(), 4);
  EXPECT_EQ(facts.known_as(0).kinex_id(), kid_);
  EXPECT_EQ(facts.known_as(1).nhs_number(), Nhs(1));
  EXPECT_EQ(facts.known_as(2).upn(), Upn(1));
  EXPECT_EQ(facts.known_as(3).la_child_id().id(), "F1");
  EXPECT_FALSE(facts.facts_version().empty());
  // No record content: nothing of the health, placement or safeguarding
  // data (nor names) is anywhere in the reply's bytes.
  const std::string bytes = facts.SerializeAsString();
  EXPECT_EQ(bytes.find("1 Private Road"), std::string::npos);
  EXPECT_EQ(bytes.find("Amy"), std::string::npos);
  // The scope is the one the full record derives.
  auto full = Read({});
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->record().scope().SerializeAsString(), facts.scope().SerializeAsString());
  // Stable while nothing changes; unknown children are NOT_FOUND.
  EXPECT_EQ(Facts().facts_version(), facts.facts_version());
  rv1::GetChildFactsRequest unknown;
  unknown.mutable_child()->set_kinex_id("kx_aaaaaaaaaaaaaaaa");
  EXPECT_EQ(core_->GetChildFacts(unknown).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RecordsFactsTest, PathsReturnExactlyThoseFieldsOfTheFullRecord) {
  auto full = Read({});
  ASSERT_TRUE(full.ok()) << full.status();
  for (const std::vector<std::string>& paths :
       std::vector<std::vector<std::string>>{{"identity"},
                                             {"identity", "scope", "legal_status"},
                                             {"education.enrolments", "identity.kinex_id"},
                                             {"health"},
                                             {"placement", "placement.address"}}) {
    auto got = Read(paths);
    ASSERT_TRUE(got.ok()) << got.status();
    auto filter = PathFilter::Create(*rec::ChildRecord::descriptor(), paths);
    ASSERT_TRUE(filter.ok()) << filter.status();
    std::string kept;
    ASSERT_TRUE(filter->Apply(full->record().SerializeAsString(), &kept));
    rec::ChildRecord expected;
    ASSERT_TRUE(expected.ParseFromString(kept));
    EXPECT_EQ(got->record().DebugString(), expected.DebugString()) << paths[0];
    EXPECT_EQ(got->facts_version(), Facts().facts_version());
  }
  auto identity = Read({"identity"});
  ASSERT_TRUE(identity.ok());
  EXPECT_FALSE(identity->record().has_health());
  EXPECT_FALSE(identity->record().has_placement());
  EXPECT_FALSE(identity->record().has_safeguarding());
  EXPECT_EQ(identity->record().identity().kinex_id(), kid_);
  EXPECT_THAT(Read({"health.no_such_field"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("paths: \"health.no_such_field\" is not a field path of "
                                 "kinex.record.v1.ChildRecord")));
}

TEST_F(RecordsFactsTest, PinnedReadIsAbortedWhenTheFactsMove) {
  const std::string v0 = Facts().facts_version();
  ASSERT_TRUE(Read({"identity"}, v0).ok());
  // A legal-status change moves the facts.
  rec::ChildRecord la = la_part_;
  la.mutable_legal_status(0)->set_looked_after(false);
  auto put = core_->PutPart(Put(kLa, KinexRef(kid_), la, la_etag_));
  ASSERT_TRUE(put.ok()) << put.status();
  const std::string v1 = Facts().facts_version();
  EXPECT_NE(v1, v0);
  EXPECT_THAT(Read({"identity"}, v0).status(),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("the child's facts changed since facts version")));
  EXPECT_TRUE(Read({"identity"}, v1).ok());
  // A publish that changes no fact (the GP's health data) leaves them.
  rec::ChildRecord health = HealthPart(Nhs(1));
  health.mutable_health()->set_immunisations_up_to_date(false);
  rv1::GetPartRequest mine;
  *mine.mutable_child() = KinexRef(kid_);
  mine.set_principal(kHealth);
  auto part = core_->GetPart(mine);
  ASSERT_TRUE(part.ok()) << part.status();
  ASSERT_TRUE(core_->PutPart(Put(kHealth, KinexRef(kid_), health, part->part().etag())).ok());
  EXPECT_EQ(Facts().facts_version(), v1);
  // A link rejected moves them.
  rv1::DecideLinkRequest reject;
  *reject.mutable_child() = KinexRef(kid_);
  reject.mutable_agency()->set_agency_kind(cv1::HEALTH);
  reject.mutable_agency()->set_agency_code("RJ1");
  reject.set_decision(rec::REJECTED);
  reject.set_principal(kLa);
  reject.set_request_id("req-2");
  ASSERT_TRUE(core_->DecideLink(reject).ok());
  EXPECT_THAT(Read({}, v1).status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("decide again")));
  // A transfer moves them.
  const std::string v2 = Facts().facts_version();
  rv1::TransferResponsibilityRequest transfer;
  *transfer.mutable_child() = KinexRef(kid_);
  transfer.set_to_la_code("E08000025");
  transfer.set_principal(kLaManager);
  transfer.set_request_id("req-3");
  transfer.set_reason("moved to Bristol");
  ASSERT_TRUE(core_->TransferResponsibility(transfer).ok());
  EXPECT_THAT(Read({"identity"}, v2).status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("decide again")));
}

TEST_F(RecordsFactsTest, ListChildrenCarriesFactsAndBatchReadsArePinned) {
  rv1::ListChildrenRequest list;
  list.set_agency_kind(cv1::LOCAL_AUTHORITY);
  list.set_agency_code("E09000033");
  auto page = core_->ListChildren(list);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->children_size(), 1);
  const rv1::ChildFacts facts = Facts();
  EXPECT_EQ(page->children(0).facts().SerializeAsString(), facts.SerializeAsString());
  rv1::BatchGetRecordsRequest batch;
  auto* one = batch.add_requests();
  *one->mutable_child() = KinexRef(kid_);
  one->add_paths("education");
  one->set_facts_version(facts.facts_version());
  auto got = core_->BatchGetRecords(batch);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->records_size(), 1);
  EXPECT_TRUE(got->records(0).record().has_education());
  EXPECT_FALSE(got->records(0).record().has_identity());
  one->set_facts_version("f1:stale");
  EXPECT_THAT(core_->BatchGetRecords(batch).status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("decide again")));
}

}  // namespace
}  // namespace kinex::records::testing
