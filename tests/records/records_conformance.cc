// Conformance suite for RecordsStorage backends, through the records core.
#include "tests/records/records_conformance.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/common/fake_clock.h"
#include "services/records/records_core.h"
#include "tests/records/records_test_util.h"

namespace kinex::records::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace rv1 = kinex::records::v1;
namespace cv1 = kinex::common::v1;


class Harness {
 public:
  explicit Harness(const RecordsBackend& backend) {
    auto storage = backend.make();
    EXPECT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    RecordsCore::Options o;
    o.storage = storage_.get();
    o.clock = &clock_;
    o.new_kinex_id = [this]() -> absl::StatusOr<std::string> {
      return absl::StrCat("kx_TEST", 1000 + next_id_++);
    };
    auto core = RecordsCore::Create(std::move(o));
    EXPECT_TRUE(core.ok()) << core.status();
    core_ = std::move(*core);
  }
  RecordsCore& core() { return *core_; }
  RecordsStorage& storage() { return *storage_; }
  FakeClock& clock() { return clock_; }

  rv1::PutPartResponse MustPut(const rv1::PutPartRequest& req) {
    auto r = core_->PutPart(req);
    EXPECT_TRUE(r.ok()) << r.status();
    clock_.Advance(absl::Seconds(1));
    return r.ok() ? *r : rv1::PutPartResponse();
  }
  absl::StatusOr<rv1::GetRecordResponse> Get(const cv1::ChildRef& ref) {
    rv1::GetRecordRequest req;
    *req.mutable_child() = ref;
    return core_->GetRecord(req);
  }

 private:
  FakeClock clock_;
  std::unique_ptr<RecordsStorage> storage_;
  std::unique_ptr<RecordsCore> core_;
  int next_id_ = 0;
};

TEST_P(RecordsConformanceTest, FirstPublishCreatesChildAndAssemblesParts) {
  Harness h(GetParam());
  auto la = h.MustPut(Put(kLa, LaRef("E09000033", "LA-1"), LaPart("LA-1")));
  EXPECT_EQ(la.kinex_id(), "kx_TEST1000");
  EXPECT_TRUE(la.created_child());
  EXPECT_EQ(la.version(), 1);
  EXPECT_FALSE(la.etag().empty());

  auto school = h.MustPut(Put(kSchool, LaRef("E09000033", "LA-1"), SchoolPart(Upn(1))));
  EXPECT_EQ(school.kinex_id(), la.kinex_id());
  EXPECT_FALSE(school.created_child());
  auto health = h.MustPut(Put(kHealth, UpnRef(Upn(1)), HealthPart(Nhs(1))));
  EXPECT_EQ(health.kinex_id(), la.kinex_id());
  // The LA publishes the SDQ inside the health section.
  auto la_part = LaPart("LA-1");
  la_part.mutable_health()->mutable_sdq()->set_total_score(15);
  la_part.mutable_health()->mutable_sdq()->set_band(kinex::record::v1::SDQ_BORDERLINE);
  h.MustPut(Put(kLa, LaRef("E09000033", "LA-1"), la_part, la.etag()));

  auto got = h.Get(NhsRef(Nhs(1)));
  ASSERT_TRUE(got.ok()) << got.status();
  const auto& rec = got->record();
  EXPECT_EQ(rec.identity().kinex_id(), la.kinex_id());
  EXPECT_EQ(rec.identity().given_name(), "Amy");
  EXPECT_EQ(rec.identity().la_child_id(), "LA-1");
  EXPECT_EQ(rec.identity().upn(), Upn(1));
  EXPECT_EQ(rec.identity().nhs_number(), Nhs(1));
  EXPECT_EQ(rec.scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(rec.scope().current_school_urn(), "100001");
  EXPECT_EQ(rec.scope().registered_gp_ods_code(), "A81001");
  EXPECT_EQ(rec.education().attendance_summary().attended_sessions(), 91);
  EXPECT_EQ(rec.health().camhs(), kinex::record::v1::CAMHS_OPEN);
  EXPECT_EQ(rec.health().sdq().total_score(), 15);
  ASSERT_EQ(got->parts_size(), 3);
  EXPECT_EQ(got->parts(0).owner_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(got->parts(0).version(), 2);
  EXPECT_EQ(got->parts(1).owner_kind(), cv1::SCHOOL);
  EXPECT_EQ(got->parts(2).owner_kind(), cv1::HEALTH);
  EXPECT_EQ(got->parts(2).principal(), kHealth);

  // Every identifier kind finds the same child.
  for (const auto& ref : {UpnRef(Upn(1)), LaRef("E09000033", "LA-1"),
                          KinexRef(la.kinex_id())}) {
    auto r = h.Get(ref);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->record().identity().kinex_id(), la.kinex_id());
  }
}

TEST_P(RecordsConformanceTest, NhsNumberWithSpacesMatchesNormalised) {
  Harness h(GetParam());
  const std::string nhs = Nhs(7);
  auto put = h.MustPut(Put(kHealth, NhsRef(nhs), HealthPart(
      absl::StrCat(nhs.substr(0, 3), " ", nhs.substr(3, 3), " ", nhs.substr(6)))));
  auto got = h.Get(NhsRef(absl::StrCat(nhs.substr(0, 3), " ", nhs.substr(3))));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), put.kinex_id());
  EXPECT_EQ(got->record().identity().nhs_number(), nhs);
}

TEST_P(RecordsConformanceTest, EtagsGiveOptimisticConcurrency) {
  Harness h(GetParam());
  auto v1 = h.MustPut(Put(kSchool, UpnRef(Upn(2)), SchoolPart(Upn(2))));
  // Second publish without an etag: the part exists.
  EXPECT_STATUS(h.core().PutPart(Put(kSchool, UpnRef(Upn(2)), SchoolPart(Upn(2)))).status(),
                absl::StatusCode::kAborted, "etag: required");
  auto v2 = h.MustPut(Put(kSchool, UpnRef(Upn(2)), SchoolPart(Upn(2)), v1.etag()));
  EXPECT_EQ(v2.version(), 2);
  EXPECT_NE(v2.etag(), v1.etag());
  // The first etag is now stale.
  EXPECT_STATUS(
      h.core().PutPart(Put(kSchool, UpnRef(Upn(2)), SchoolPart(Upn(2)), v1.etag())).status(),
      absl::StatusCode::kAborted, "etag: stale; the part is now at version 2");
  // An etag for a part that does not exist yet (another school).
  EXPECT_STATUS(
      h.core().PutPart(Put(kSchool2, UpnRef(Upn(2)), SchoolPart(Upn(2)), v2.etag())).status(),
      absl::StatusCode::kAborted, "no part exists for this publisher");
  auto got = h.Get(UpnRef(Upn(2)));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->parts(0).version(), 2);
}

TEST_P(RecordsConformanceTest, HistoryKeepsEveryVersionWithWhoAndWhen) {
  Harness h(GetParam());
  const absl::Time t0 = h.clock().Now();
  auto p = h.MustPut(Put(kSchool, UpnRef(Upn(3)), SchoolPart(Upn(3))));
  auto part2 = SchoolPart(Upn(3));
  part2.mutable_education()->set_missing_education(true);
  p = h.MustPut(Put(kSchool, UpnRef(Upn(3)), part2, p.etag()));
  h.MustPut(Put(kHealth, UpnRef(Upn(3)), HealthPart(Nhs(3))));
  auto part3 = SchoolPart(Upn(3));
  auto req = Put(kSchool, UpnRef(Upn(3)), part3, p.etag());
  req.set_actor("dsl.jones");
  h.MustPut(req);

  rv1::ListPartVersionsRequest list;
  *list.mutable_child() = UpnRef(Upn(3));
  list.set_page_size(2);
  auto page1 = h.core().ListPartVersions(list);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->versions_size(), 2);
  EXPECT_EQ(page1->versions(0).version(), 1);
  EXPECT_EQ(page1->versions(0).principal(), kSchool);
  EXPECT_EQ(page1->versions(0).publish_time().seconds(), absl::ToUnixSeconds(t0));
  EXPECT_FALSE(page1->versions(0).part().education().missing_education());
  EXPECT_TRUE(page1->versions(1).part().education().missing_education());
  ASSERT_FALSE(page1->next_page_token().empty());
  list.set_page_token(page1->next_page_token());
  auto page2 = h.core().ListPartVersions(list);
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->versions_size(), 2);
  EXPECT_EQ(page2->versions(0).owner_kind(), cv1::HEALTH);
  EXPECT_EQ(page2->versions(1).version(), 3);
  EXPECT_EQ(page2->versions(1).actor(), "dsl.jones");
  EXPECT_TRUE(page2->next_page_token().empty());

  list.clear_page_token();
  list.set_page_size(0);
  list.set_owner_kind(cv1::HEALTH);
  auto health_only = h.core().ListPartVersions(list);
  ASSERT_TRUE(health_only.ok());
  EXPECT_EQ(health_only->versions_size(), 1);
}

TEST_P(RecordsConformanceTest, LaChildIdIsQualifiedByLaCode) {
  Harness h(GetParam());
  auto a = h.MustPut(Put(kLa, LaRef("E09000033", "123"), LaPart("123")));
  auto b = h.MustPut(Put(kLa2, LaRef("E08000025", "123"), LaPart("123", "E08000025")));
  EXPECT_NE(a.kinex_id(), b.kinex_id());
  auto got = h.Get(LaRef("E08000025", "123"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().identity().kinex_id(), b.kinex_id());
}

TEST_P(RecordsConformanceTest, ChildWithoutNhsNumberIsMatchedByOthers) {
  Harness h(GetParam());
  auto la = h.MustPut(Put(kLa, LaRef("E09000033", "UASC-9"), LaPart("UASC-9")));
  auto school = h.MustPut(Put(kSchool, LaRef("E09000033", "UASC-9"), SchoolPart(Upn(9))));
  EXPECT_EQ(school.kinex_id(), la.kinex_id());
  auto got = h.Get(UpnRef(Upn(9)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), la.kinex_id());
  EXPECT_TRUE(got->record().identity().nhs_number().empty());
  EXPECT_STATUS(h.Get(NhsRef(Nhs(9))).status(), absl::StatusCode::kNotFound,
                "no child matches child.nhs_number");
}

TEST_P(RecordsConformanceTest, IdentifierConflictFailsAndStoresNothing) {
  Harness h(GetParam());
  auto a = h.MustPut(Put(kHealth, NhsRef(Nhs(10)), HealthPart(Nhs(10))));
  auto b = h.MustPut(Put(kSchool, UpnRef(Upn(11)), SchoolPart(Upn(11))));
  ASSERT_NE(a.kinex_id(), b.kinex_id());
  // A school refers to child A by NHS number but publishes child B's UPN.
  auto part = SchoolPart(Upn(11), "100002");
  absl::Status s = h.core().PutPart(Put(kSchool2, NhsRef(Nhs(10)), part)).status();
  EXPECT_STATUS(s, absl::StatusCode::kFailedPrecondition,
                "identifiers match 2 different children (child 1: child.nhs_number; "
                "child 2: part.identity.upn); nothing was stored");
  // The message names identifier kinds only: no values, no Kinex ids.
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(Nhs(10))));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(Upn(11))));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("kx_")));
  // Nothing merged: neither child has a part from the second school, and the
  // cohort of that school is empty.
  for (const auto& ref : {NhsRef(Nhs(10)), UpnRef(Upn(11))}) {
    auto got = h.Get(ref);
    ASSERT_TRUE(got.ok());
    for (const auto& p : got->parts()) EXPECT_NE(p.owner_code(), "100002");
  }
  rv1::ListChildrenRequest cohort;
  cohort.set_agency_kind(cv1::SCHOOL);
  cohort.set_agency_code("100002");
  auto listed = h.core().ListChildren(cohort);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->children_size(), 0);
}

TEST_P(RecordsConformanceTest, FailedPublishLeavesNoNewChild) {
  Harness h(GetParam());
  // The child is new, so a non-empty etag fails after the child and its
  // identifier would have been created: the transaction must undo both.
  EXPECT_STATUS(
      h.core().PutPart(Put(kHealth, NhsRef(Nhs(12)), HealthPart(Nhs(12)), "bogus")).status(),
      absl::StatusCode::kAborted, "etag: stale");
  EXPECT_STATUS(h.Get(NhsRef(Nhs(12))).status(), absl::StatusCode::kNotFound,
                "no child matches");
  absl::Status s = h.storage().Transact([](RecordsTxn& txn) -> absl::Status {
    auto exists = txn.ChildExists("kx_TEST1000");
    if (!exists.ok()) return exists.status();
    return *exists ? absl::InternalError("child left behind") : absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  // The next publish succeeds normally.
  auto put = h.MustPut(Put(kHealth, NhsRef(Nhs(12)), HealthPart(Nhs(12))));
  EXPECT_TRUE(put.created_child());
}

TEST_P(RecordsConformanceTest, UnknownKinexIdIsNotFound) {
  Harness h(GetParam());
  EXPECT_STATUS(
      h.core().PutPart(Put(kLa, KinexRef("kx_NOSUCHCHILD"), LaPart())).status(),
      absl::StatusCode::kNotFound, "no child matches child.kinex_id");
}

TEST_P(RecordsConformanceTest, AssemblyTakesLatestPartPerOwnerKind) {
  Harness h(GetParam());
  auto a = h.MustPut(Put(kSchool, UpnRef(Upn(20)), SchoolPart(Upn(20), "100001")));
  auto moved = SchoolPart(Upn(20), "100002");
  moved.mutable_education()->mutable_attendance_summary()->set_attended_sessions(50);
  h.MustPut(Put(kSchool2, UpnRef(Upn(20)), moved));
  auto got = h.Get(UpnRef(Upn(20)));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().scope().current_school_urn(), "100002");
  EXPECT_EQ(got->record().education().attendance_summary().attended_sessions(), 50);
  ASSERT_EQ(got->parts_size(), 1);
  EXPECT_EQ(got->parts(0).owner_code(), "100002");
  // The first school keeps its own versioned part; publishing again makes it
  // the latest.
  h.MustPut(Put(kSchool, UpnRef(Upn(20)), SchoolPart(Upn(20), "100001"), a.etag()));
  got = h.Get(UpnRef(Upn(20)));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->parts(0).owner_code(), "100001");
  EXPECT_EQ(got->parts(0).version(), 2);
}

TEST_P(RecordsConformanceTest, ListChildrenPagesTheCohortInKinexIdOrder) {
  Harness h(GetParam());
  std::vector<std::string> in_scope;
  for (int i = 0; i < 5; ++i) {
    in_scope.push_back(h.MustPut(Put(kLa, LaRef("E09000033", absl::StrCat("C", i)),
                                     LaPart(absl::StrCat("C", i))))
                           .kinex_id());
  }
  h.MustPut(Put(kLa2, LaRef("E08000025", "X"), LaPart("X", "E08000025")));
  rv1::ListChildrenRequest req;
  req.set_agency_kind(cv1::VIRTUAL_SCHOOL);
  req.set_agency_code("E09000033");
  req.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto r = h.core().ListChildren(req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& c : r->children()) {
      seen.push_back(c.kinex_id());
      EXPECT_EQ(c.scope().responsible_la_code(), "E09000033");
    }
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  std::sort(in_scope.begin(), in_scope.end());
  EXPECT_EQ(seen, in_scope);

  // Health cohort: by GP and by provider, each child once.
  const std::string kid = in_scope[0];
  h.MustPut(Put(kHealth, KinexRef(kid), HealthPart(Nhs(30), "RJ1")));
  rv1::ListChildrenRequest health;
  health.set_agency_kind(cv1::HEALTH);
  health.set_agency_code("RJ1");
  auto hr = h.core().ListChildren(health);
  ASSERT_TRUE(hr.ok()) << hr.status();
  ASSERT_EQ(hr->children_size(), 1);
  EXPECT_EQ(hr->children(0).kinex_id(), kid);

  // A move of school re-indexes the school cohort.
  auto s1 = h.MustPut(Put(kSchool, KinexRef(kid), SchoolPart(Upn(30), "100001")));
  h.MustPut(Put(kSchool, KinexRef(kid), SchoolPart(Upn(30), "100003"), s1.etag()));
  rv1::ListChildrenRequest school;
  school.set_agency_kind(cv1::SCHOOL);
  school.set_agency_code("100001");
  auto sr = h.core().ListChildren(school);
  ASSERT_TRUE(sr.ok());
  EXPECT_EQ(sr->children_size(), 0);
  school.set_agency_code("100003");
  sr = h.core().ListChildren(school);
  ASSERT_TRUE(sr.ok());
  EXPECT_EQ(sr->children_size(), 1);
}

TEST_P(RecordsConformanceTest, ResolveChildReturnsKinexIdAndScope) {
  Harness h(GetParam());
  auto put = h.MustPut(Put(kLa, LaRef("E09000033", "R1"), LaPart("R1")));
  rv1::ResolveChildRequest req;
  *req.mutable_child() = LaRef("E09000033", "R1");
  auto r = h.core().ResolveChild(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kinex_id(), put.kinex_id());
  EXPECT_EQ(r->scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(r->date_of_birth().year(), 2015);
}

TEST_P(RecordsConformanceTest, ConcurrentPublishersSerialiseThroughEtags) {
  Harness h(GetParam());
  auto first = h.MustPut(Put(kSchool, UpnRef(Upn(40)), SchoolPart(Upn(40))));
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kEach;) {
        rv1::GetRecordRequest get;
        *get.mutable_child() = UpnRef(Upn(40));
        auto got = h.core().GetRecord(get);
        if (!got.ok()) continue;
        auto put = h.core().PutPart(
            Put(kSchool, UpnRef(Upn(40)), SchoolPart(Upn(40)), got->parts(0).etag()));
        if (put.ok()) {
          ++done;
        } else if (put.status().code() == absl::StatusCode::kAborted) {
          ++aborted;  // lost the race: read again and retry
        } else {
          ADD_FAILURE() << put.status();
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  rv1::ListPartVersionsRequest list;
  *list.mutable_child() = UpnRef(Upn(40));
  list.set_page_size(1000);
  auto versions = h.core().ListPartVersions(list);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->versions_size(), 1 + kThreads * kEach);
  for (int i = 0; i < versions->versions_size(); ++i) {
    EXPECT_EQ(versions->versions(i).version(), i + 1);
  }
  EXPECT_NE(first.etag(), versions->versions(kThreads * kEach).etag());
}

// ------------------------------------------------------ storage primitives

TEST_P(RecordsConformanceTest, StorageRollsBackFailedTransactions) {
  Harness h(GetParam());
  absl::Status s = h.storage().Transact([](RecordsTxn& txn) -> absl::Status {
    if (absl::Status c = txn.CreateChild("kx_A", absl::UnixEpoch()); !c.ok()) return c;
    if (absl::Status c = txn.AddIdentifier(IdentifierKind::kUpn, "U", "kx_A"); !c.ok()) {
      return c;
    }
    return absl::CancelledError("caller gave up");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  s = h.storage().Transact([](RecordsTxn& txn) -> absl::Status {
    auto exists = txn.ChildExists("kx_A");
    if (!exists.ok()) return exists.status();
    auto found = txn.FindChild(IdentifierKind::kUpn, "U");
    if (!found.ok()) return found.status();
    return (*exists || found->has_value()) ? absl::InternalError("left behind")
                                           : absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST_P(RecordsConformanceTest, StorageRefusesConflictingIdentifiersAndVersions) {
  Harness h(GetParam());
  ASSERT_TRUE(h.storage()
                  .Transact([](RecordsTxn& txn) -> absl::Status {
                    if (auto s = txn.CreateChild("kx_A", absl::UnixEpoch()); !s.ok()) return s;
                    if (auto s = txn.CreateChild("kx_B", absl::UnixEpoch()); !s.ok()) return s;
                    return txn.AddIdentifier(IdentifierKind::kNhsNumber, "N", "kx_A");
                  })
                  .ok());
  EXPECT_STATUS(h.storage().Transact([](RecordsTxn& txn) {
    return txn.AddIdentifier(IdentifierKind::kNhsNumber, "N", "kx_B");
  }),
                absl::StatusCode::kAborted, "another child");
  EXPECT_TRUE(h.storage()
                  .Transact([](RecordsTxn& txn) {
                    return txn.AddIdentifier(IdentifierKind::kNhsNumber, "N", "kx_A");
                  })
                  .ok());
  StoredPart p;
  p.kinex_id = "kx_A";
  p.owner_kind = cv1::SCHOOL;
  p.owner_code = "100001";
  p.version = 2;  // no version 1 yet
  p.etag = "e";
  p.payload = "";
  EXPECT_STATUS(h.storage().Transact([&](RecordsTxn& txn) { return txn.InsertPart(p); }),
                absl::StatusCode::kAborted, "concurrent");
  p.version = 1;
  EXPECT_TRUE(h.storage().Transact([&](RecordsTxn& txn) { return txn.InsertPart(p); }).ok());
  EXPECT_STATUS(h.storage().Transact([&](RecordsTxn& txn) { return txn.InsertPart(p); }),
                absl::StatusCode::kAborted, "concurrent");
  EXPECT_STATUS(h.storage().Transact([](RecordsTxn& txn) {
    return txn.CreateChild("kx_A", absl::UnixEpoch());
  }),
                absl::StatusCode::kAborted, "");
}

TEST_P(RecordsConformanceTest, BulkLoadedChildrenAreFound) {
  Harness h(GetParam());
  std::vector<RecordsTxn::BulkChild> children;
  for (int i = 0; i < 50; ++i) {
    RecordsTxn::BulkChild c;
    c.kinex_id = absl::StrCat("kx_BULK", 100 + i);
    c.identifiers.push_back({IdentifierKind::kNhsNumber, Nhs(100 + i)});
    StoredPart p;
    p.kinex_id = c.kinex_id;
    p.owner_kind = cv1::HEALTH;
    p.owner_code = "RJ1";
    p.version = 1;
    p.publish_time = h.clock().Now();
    p.principal = kHealth;
    auto part = HealthPart(Nhs(100 + i));
    part.SerializeToString(&p.payload);
    p.etag = PartEtag(p);
    c.parts.push_back(p);
    c.links = {{cv1::HEALTH, "RJ1"}};
    children.push_back(std::move(c));
  }
  ASSERT_TRUE(h.storage()
                  .Transact([&](RecordsTxn& txn) {
                    return txn.BulkLoad(children, h.clock().Now());
                  })
                  .ok());
  auto got = h.Get(NhsRef(Nhs(125)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), "kx_BULK125");
  EXPECT_EQ(got->record().health().camhs(), kinex::record::v1::CAMHS_OPEN);
  EXPECT_EQ(got->parts(0).etag(), children[25].parts[0].etag);
  // Bulk-loaded parts continue their version history.
  auto next = h.MustPut(Put(kHealth, NhsRef(Nhs(125)), HealthPart(Nhs(125)),
                            children[25].parts[0].etag));
  EXPECT_EQ(next.version(), 2);
}

}  // namespace
}  // namespace kinex::records::testing
