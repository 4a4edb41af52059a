// Conformance suite for RecordsStorage backends, through the records core:
// the write model (per-agency parts, responsible LA, claimed / confirmed /
// rejected links, attach-don't-create, derived scope), its uniform refusals
// and its audit events, run on every backend.
#include "tests/records/records_conformance.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "services/common/status_macros.h"
#include "services/records/records_core.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/recording_audit_sink.h"
#include "tests/testing/status_matchers.h"

namespace kinex::records::testing {
namespace {

using ::kinex::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
namespace rv1 = kinex::records::v1;
namespace cv1 = kinex::common::v1;
namespace rec = kinex::record::v1;
namespace av1 = kinex::audit::v1;

constexpr char kLaCode[] = "E09000033";
constexpr char kLa2Code[] = "E08000025";
constexpr char kNotResponsible[] =
    "no child you are the responsible local authority for matches this reference (request id "
    "req-1)";
constexpr char kNoPartOfYours[] = "no part of yours exists for this child reference";

class Harness {
 public:
  explicit Harness(const RecordsBackend& backend) {
    auto storage = backend.make();
    EXPECT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    core_ = NewCore();
  }

  // A new core over the same storage and audit log (a restart).
  std::unique_ptr<RecordsCore> NewCore() {
    RecordsCore::Options o;
    o.storage = storage_.get();
    o.clock = &clock_;
    o.audit = &audit_;
    o.new_kinex_id = [this]() -> absl::StatusOr<std::string> {
      return absl::StrCat("kx_TEST", 1000 + next_id_++);
    };
    auto core = RecordsCore::Create(std::move(o));
    EXPECT_TRUE(core.ok()) << core.status();
    return core.ok() ? std::move(*core) : nullptr;
  }
  RecordsCore& core() { return *core_; }
  RecordsStorage& storage() { return *storage_; }
  FakeClock& clock() { return clock_; }
  kinex::testing::RecordingAuditSink& audit() { return audit_; }

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
  absl::StatusOr<rv1::ResolveChildResponse> Resolve(const cv1::ChildRef& ref) {
    rv1::ResolveChildRequest req;
    *req.mutable_child() = ref;
    return core_->ResolveChild(req);
  }
  absl::StatusOr<rv1::GetPartResponse> GetPart(const std::string& principal,
                                               const cv1::ChildRef& ref) {
    rv1::GetPartRequest req;
    req.set_principal(principal);
    *req.mutable_child() = ref;
    return core_->GetPart(req);
  }
  // The current etag of `principal`'s part ("" if it has none).
  std::string EtagOf(const std::string& principal, const cv1::ChildRef& ref) {
    auto part = GetPart(principal, ref);
    return part.ok() ? part->part().etag() : "";
  }
  absl::StatusOr<rv1::DecideLinkResponse> Decide(const std::string& principal,
                                                 const std::string& kinex_id, cv1::AgencyKind kind,
                                                 const std::string& code, rec::LinkState decision) {
    rv1::DecideLinkRequest req;
    *req.mutable_child() = KinexRef(kinex_id);
    req.mutable_agency()->set_agency_kind(kind);
    req.mutable_agency()->set_agency_code(code);
    req.set_decision(decision);
    req.set_principal(principal);
    req.set_actor("team-manager");
    req.set_request_id("req-1");
    auto r = core_->DecideLink(req);
    clock_.Advance(absl::Seconds(1));
    return r;
  }
  absl::StatusOr<rv1::TransferResponsibilityResponse> Transfer(const std::string& principal,
                                                               const cv1::ChildRef& ref,
                                                               const std::string& to,
                                                               const std::string& reason) {
    rv1::TransferResponsibilityRequest req;
    *req.mutable_child() = ref;
    req.set_to_la_code(to);
    req.set_principal(principal);
    req.set_request_id("req-1");
    req.set_reason(reason);
    auto r = core_->TransferResponsibility(req);
    clock_.Advance(absl::Seconds(1));
    return r;
  }
  // The Kinex ids ListChildren gives an agency (every page).
  std::vector<std::string> Cohort(cv1::AgencyKind kind, const std::string& code) {
    rv1::ListChildrenRequest req;
    req.set_agency_kind(kind);
    req.set_agency_code(code);
    std::vector<std::string> out;
    for (;;) {
      auto r = core_->ListChildren(req);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return out;
      for (const auto& c : r->children()) out.push_back(c.kinex_id());
      if (r->next_page_token().empty()) return out;
      req.set_page_token(r->next_page_token());
    }
  }
  // Every link ListLinks shows `la_principal`, one line each.
  std::vector<std::string> Links(const std::string& la_principal,
                                 rec::LinkState state = rec::LINK_STATE_UNSPECIFIED) {
    rv1::ListLinksRequest req;
    req.set_principal(la_principal);
    req.set_state(state);
    std::vector<std::string> out;
    for (;;) {
      auto r = core_->ListLinks(req);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return out;
      for (const auto& l : r->links()) {
        out.push_back(absl::StrCat(l.kinex_id(), " ", l.agency().agency_kind(), "/",
                                   l.agency().agency_code(), " ", rec::LinkState_Name(l.state()),
                                   " by ", l.updated_by()));
      }
      if (r->next_page_token().empty()) return out;
      req.set_page_token(r->next_page_token());
    }
  }
  // Children stored: the fake counts them; on SQL every id the generator
  // issued is looked up (only a child creation draws one).
  size_t ChildCount() {
    if (auto* fake = dynamic_cast<FakeRecordsStorage*>(storage_.get())) {
      return fake->ChildCount();
    }
    size_t n = 0;
    const int issued = next_id_;
    absl::Status s = storage_->Transact([&](RecordsTxn& txn) -> absl::Status {
      n = 0;
      for (int i = 0; i < issued; ++i) {
        auto exists = txn.ChildExists(absl::StrCat("kx_TEST", 1000 + i));
        if (!exists.ok()) return exists.status();
        if (*exists) ++n;
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }
  // Events waiting in the audit outbox.
  size_t PendingEvents() {
    size_t n = 0;
    absl::Status s = storage_->Transact([&](RecordsTxn& txn) -> absl::Status {
      auto pending = txn.PendingAuditEvents(1000);
      if (!pending.ok()) return pending.status();
      n = pending->size();
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    if (auto* fake = dynamic_cast<FakeRecordsStorage*>(storage_.get())) {
      EXPECT_EQ(fake->PendingAuditEventCount(), n);
    }
    return n;
  }
  // The audit events appended since the last call.
  std::vector<av1::AuditEvent> NewEvents() {
    std::vector<av1::AuditEvent> all = audit_.Events();
    std::vector<av1::AuditEvent> out(all.begin() + std::min(seen_, all.size()), all.end());
    seen_ = all.size();
    return out;
  }
  // What a reader sees of a child: the assembled record with its parts, and
  // ResolveChild (Kinex id, derived scope, date of birth).
  std::string ReaderView(const cv1::ChildRef& ref) {
    std::string out;
    auto got = Get(ref);
    absl::StrAppend(&out, got.ok() ? got->DebugString() : got.status().ToString(), "\n");
    auto resolved = Resolve(ref);
    absl::StrAppend(&out, resolved.ok() ? resolved->DebugString() : resolved.status().ToString(),
                    "\n");
    return out;
  }
  // Everything the store holds about a child and the store as a whole that a
  // refused write could have changed: the reader's view, every part version,
  // both LAs' links and cohorts, the number of children, the outbox.
  std::string State(const cv1::ChildRef& ref) {
    std::string out = ReaderView(ref);
    rv1::ListPartVersionsRequest list;
    *list.mutable_child() = ref;
    list.set_page_size(1000);
    auto versions = core_->ListPartVersions(list);
    if (versions.ok()) {
      for (const auto& v : versions->versions()) {
        absl::StrAppend(&out, "version ", v.owner_kind(), "/", v.owner_code(), " v", v.version(),
                        " ", v.etag(), "\n");
      }
    } else {
      absl::StrAppend(&out, versions.status().ToString(), "\n");
    }
    for (const char* la : {kLa, kLa2}) {
      for (const std::string& l : Links(la)) absl::StrAppend(&out, "link ", l, "\n");
    }
    for (const char* code : {kLaCode, kLa2Code}) {
      for (const std::string& k : Cohort(cv1::LOCAL_AUTHORITY, code)) {
        absl::StrAppend(&out, "cohort ", code, " ", k, "\n");
      }
    }
    absl::StrAppend(&out, "children=", ChildCount(), " pending=", PendingEvents(), "\n");
    return out;
  }

 private:
  FakeClock clock_;
  kinex::testing::RecordingAuditSink audit_;
  std::unique_ptr<RecordsStorage> storage_;
  std::unique_ptr<RecordsCore> core_;
  int next_id_ = 0;
  size_t seen_ = 0;
};

// Expects `status` to be exactly `code` / `message`, and exactly one new
// audit event: a WRITE_REFUSED recording that answer (no Kinex id in it).
void ExpectRefused(Harness& h, const absl::Status& status, absl::StatusCode code,
                   const std::string& message) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_EQ(std::string(status.message()), message);
  std::vector<av1::AuditEvent> events = h.NewEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), av1::WRITE_REFUSED);
  EXPECT_EQ(events[0].refusal(), absl::StrCat(absl::StatusCodeToString(code), ": ", message));
  EXPECT_THAT(events[0].refusal(), Not(HasSubstr("kx_")));
  EXPECT_EQ(events[0].request_id(), "req-1");
}

// The uniform refusal of a publish, audited once.
void ExpectUniformRefusal(Harness& h, const absl::Status& status) {
  ExpectRefused(h, status, absl::StatusCode::kPermissionDenied, kNoChild);
}

// Expects exactly one new audit event, of `kind`, queued through the outbox
// (idempotency key "records:..."), and returns it.
av1::AuditEvent ExpectOneEvent(Harness& h, av1::EventKind kind) {
  std::vector<av1::AuditEvent> events = h.NewEvents();
  EXPECT_EQ(events.size(), 1u);
  if (events.empty()) return {};
  EXPECT_EQ(events[0].kind(), kind) << events[0].DebugString();
  EXPECT_THAT(events[0].idempotency_key(), StartsWith("records:"));
  EXPECT_EQ(events[0].request_id(), "req-1");
  return events[0];
}

bool HasKinexId(const av1::AuditEvent& e, const std::string& kinex_id) {
  for (const auto& c : e.children()) {
    if (c.kinex_id() == kinex_id) return true;
  }
  return false;
}

std::vector<std::string> PartOwners(const rv1::GetRecordResponse& got) {
  std::vector<std::string> out;
  for (const auto& p : got.parts()) {
    out.push_back(absl::StrCat(p.owner_kind(), "/", p.owner_code(), " v", p.version()));
  }
  return out;
}

using Named = std::vector<std::pair<cv1::AgencyKind, std::string>>;

// The LA creates a child with LA child id `la_id`, naming `named`.
rv1::PutPartResponse NewChild(Harness& h, const std::string& la_id, const Named& named = {}) {
  rec::ChildRecord part = LaPart(la_id);
  for (const auto& [kind, code] : named) Name(part, kind, code);
  rv1::PutPartResponse put = h.MustPut(Put(kLa, LaRef(kLaCode, la_id), part));
  EXPECT_TRUE(put.created_child());
  return put;
}

// A child (LA child id "C<n>") whose UPN Upn(n) school 100002 and NHS number
// Nhs(n) health RJ1 have published, both named by the LA so confirmed. The
// audit events of the set-up are consumed.
std::string KnownChild(Harness& h, int n) {
  const std::string la_id = absl::StrCat("C", n);
  rv1::PutPartResponse la = NewChild(h, la_id, {{cv1::SCHOOL, "100002"}, {cv1::HEALTH, "RJ1"}});
  rv1::PutPartResponse school =
      h.MustPut(Attach(kSchool2, LaRef(kLaCode, la_id), SchoolPart(Upn(n), "100002")));
  EXPECT_EQ(school.link_state(), rec::CONFIRMED);
  rv1::PutPartResponse health =
      h.MustPut(Attach(kHealth, LaRef(kLaCode, la_id), HealthPart(Nhs(n))));
  EXPECT_EQ(health.link_state(), rec::CONFIRMED);
  EXPECT_EQ(h.NewEvents().size(), 3u);
  return la.kinex_id();
}

// An unlinked agency attacks an existing child: without proof and with a
// wrong date of birth it gets the byte-identical uniform refusal and nothing
// changes; with the right date of birth its link is CLAIMED and its part is
// stored (GetPart), but readers see nothing of it. Returns the claim.
rv1::PutPartResponse ExpectClaimOnly(Harness& h, const std::string& principal,
                                     const cv1::ChildRef& ref, const rec::ChildRecord& part) {
  const std::string before = h.State(ref);
  const std::string reader_before = h.ReaderView(ref);
  const absl::Status no_proof = h.core().PutPart(Put(principal, ref, part)).status();
  ExpectUniformRefusal(h, no_proof);
  const absl::Status wrong_dob =
      h.core().PutPart(Attach(principal, ref, part, Dob(2015, 4, 3))).status();
  ExpectUniformRefusal(h, wrong_dob);
  EXPECT_EQ(no_proof, wrong_dob);
  EXPECT_EQ(h.State(ref), before);

  rv1::PutPartResponse claim = h.MustPut(Attach(principal, ref, part));
  EXPECT_EQ(claim.link_state(), rec::CLAIMED);
  EXPECT_FALSE(claim.created_child());
  EXPECT_EQ(claim.version(), 1);
  av1::AuditEvent event = ExpectOneEvent(h, av1::LINK_CLAIMED);
  EXPECT_EQ(event.principal(), principal);
  EXPECT_TRUE(HasKinexId(event, claim.kinex_id()));
  // Readers see exactly what they saw before.
  EXPECT_EQ(h.ReaderView(ref), reader_before);
  auto own = h.GetPart(principal, ref);
  EXPECT_TRUE(own.ok()) << own.status();
  if (own.ok()) {
    EXPECT_EQ(own->link_state(), rec::CLAIMED);
    EXPECT_EQ(own->part().etag(), claim.etag());
  }
  return claim;
}

// ------------------------------------------------------ publishing and assembly

TEST_P(RecordsConformanceTest, FirstPublishCreatesChildAndAssemblesParts) {
  Harness h(GetParam());
  rec::ChildRecord la_part = LaPart("LA-1");
  Name(la_part, cv1::SCHOOL, "100001");
  Name(la_part, cv1::HEALTH, "RJ1");
  auto la = h.MustPut(Put(kLa, LaRef(kLaCode, "LA-1"), la_part));
  EXPECT_EQ(la.kinex_id(), "kx_TEST1000");
  EXPECT_TRUE(la.created_child());
  EXPECT_EQ(la.version(), 1);
  EXPECT_FALSE(la.etag().empty());
  EXPECT_EQ(la.link_state(), rec::LINK_STATE_UNSPECIFIED);
  av1::AuditEvent published = ExpectOneEvent(h, av1::PART_PUBLISHED);
  EXPECT_EQ(published.principal(), kLa);
  EXPECT_EQ(published.actor(), "test-actor");
  EXPECT_EQ(published.part_version(), 1);
  EXPECT_EQ(published.part_etag(), la.etag());
  EXPECT_TRUE(HasKinexId(published, la.kinex_id()));
  EXPECT_THAT(published.written_paths(), ::testing::Contains("identity.given_name"));

  auto school = h.MustPut(Attach(kSchool, LaRef(kLaCode, "LA-1"), SchoolPart(Upn(1))));
  EXPECT_EQ(school.kinex_id(), la.kinex_id());
  EXPECT_FALSE(school.created_child());
  EXPECT_EQ(school.link_state(), rec::CONFIRMED);  // the LA named it
  EXPECT_EQ(ExpectOneEvent(h, av1::LINK_CLAIMED).subject_agency(), "school/100001");
  auto health = h.MustPut(Attach(kHealth, UpnRef(Upn(1)), HealthPart(Nhs(1))));
  EXPECT_EQ(health.kinex_id(), la.kinex_id());
  EXPECT_EQ(ExpectOneEvent(h, av1::LINK_CLAIMED).subject_agency(), "health/RJ1");
  // The LA publishes the SDQ inside the health section.
  la_part.mutable_health()->mutable_sdq()->set_total_score(15);
  la_part.mutable_health()->mutable_sdq()->set_band(rec::SDQ_BORDERLINE);
  h.MustPut(Put(kLa, LaRef(kLaCode, "LA-1"), la_part, la.etag()));
  EXPECT_EQ(ExpectOneEvent(h, av1::PART_PUBLISHED).part_version(), 2);

  auto got = h.Get(NhsRef(Nhs(1)));
  ASSERT_TRUE(got.ok()) << got.status();
  const auto& record = got->record();
  EXPECT_EQ(record.identity().kinex_id(), la.kinex_id());
  EXPECT_EQ(record.identity().given_name(), "Amy");
  EXPECT_EQ(record.identity().la_child_id(), "LA-1");
  EXPECT_EQ(record.identity().upn(), Upn(1));
  EXPECT_EQ(record.identity().nhs_number(), Nhs(1));
  EXPECT_EQ(record.scope().responsible_la_code(), kLaCode);
  EXPECT_EQ(record.scope().current_school_urn(), "100001");
  EXPECT_EQ(record.scope().registered_gp_ods_code(), "RJ1");
  EXPECT_EQ(record.education().attendance_summary().attended_sessions(), 91);
  EXPECT_EQ(record.health().camhs(), rec::CAMHS_OPEN);
  EXPECT_EQ(record.health().sdq().total_score(), 15);
  // Parts oldest publish first, each with its source agency and version.
  ASSERT_EQ(got->parts_size(), 3);
  EXPECT_EQ(got->parts(0).owner_kind(), cv1::SCHOOL);
  EXPECT_EQ(got->parts(0).owner_code(), "100001");
  EXPECT_EQ(got->parts(1).owner_kind(), cv1::HEALTH);
  EXPECT_EQ(got->parts(1).principal(), kHealth);
  EXPECT_EQ(got->parts(2).owner_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(got->parts(2).version(), 2);

  // Every identifier kind finds the same child.
  for (const auto& ref : {UpnRef(Upn(1)), LaRef(kLaCode, "LA-1"), KinexRef(la.kinex_id())}) {
    auto r = h.Get(ref);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->record().identity().kinex_id(), la.kinex_id());
  }
}

TEST_P(RecordsConformanceTest, NhsNumberWithSpacesMatchesNormalised) {
  Harness h(GetParam());
  auto la = NewChild(h, "N7", {{cv1::HEALTH, "RJ1"}});
  const std::string nhs = Nhs(7);
  h.MustPut(Attach(
      kHealth, LaRef(kLaCode, "N7"),
      HealthPart(absl::StrCat(nhs.substr(0, 3), " ", nhs.substr(3, 3), " ", nhs.substr(6)))));
  auto got = h.Get(NhsRef(absl::StrCat(nhs.substr(0, 3), " ", nhs.substr(3))));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), la.kinex_id());
  EXPECT_EQ(got->record().identity().nhs_number(), nhs);
}

TEST_P(RecordsConformanceTest, EtagsGiveOptimisticConcurrency) {
  Harness h(GetParam());
  NewChild(h, "E2", {{cv1::SCHOOL, "100001"}});
  auto v1 = h.MustPut(Attach(kSchool, LaRef(kLaCode, "E2"), SchoolPart(Upn(2))));
  h.NewEvents();
  // Second publish without an etag: the part exists.
  ExpectRefused(h, h.core().PutPart(Put(kSchool, UpnRef(Upn(2)), SchoolPart(Upn(2)))).status(),
                absl::StatusCode::kAborted,
                "etag: required; this school's part already exists at version 1 (GetMyPart "
                "returns it with its etag; retry with that etag)");
  auto v2 = h.MustPut(Put(kSchool, UpnRef(Upn(2)), SchoolPart(Upn(2)), v1.etag()));
  EXPECT_EQ(v2.version(), 2);
  EXPECT_NE(v2.etag(), v1.etag());
  EXPECT_EQ(ExpectOneEvent(h, av1::PART_PUBLISHED).part_etag(), v2.etag());
  // The first etag is now stale.
  ExpectRefused(
      h, h.core().PutPart(Put(kSchool, UpnRef(Upn(2)), SchoolPart(Upn(2)), v1.etag())).status(),
      absl::StatusCode::kAborted,
      "etag: stale; the part is now at version 2 (GetMyPart returns it with its etag; retry "
      "with that etag)");
  // An etag for a part that does not exist yet (another school, with proof):
  // refused, and its claim is not kept either.
  auto other = Attach(kSchool2, UpnRef(Upn(2)), SchoolPart(Upn(2), "100002"));
  other.set_etag(v2.etag());
  const absl::Status stale = h.core().PutPart(other).status();
  ExpectRefused(h, stale, absl::StatusCode::kAborted,
                "etag: stale; no part exists for this publisher (publish with an empty etag)");
  EXPECT_THAT(stale, HasErrorReason("ETAG_MISMATCH"));
  EXPECT_THAT(h.GetPart(kSchool2, UpnRef(Upn(2))).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, kNoPartOfYours));
  EXPECT_THAT(h.Links(kLa), ElementsAre("kx_TEST1000 3/100001 CONFIRMED by " + std::string(kLa)));
  auto got = h.Get(UpnRef(Upn(2)));
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(PartOwners(*got), ElementsAre("1/E09000033 v1", "3/100001 v2"));
}

TEST_P(RecordsConformanceTest, HistoryKeepsEveryVersionWithWhoAndWhen) {
  Harness h(GetParam());
  const absl::Time t0 = h.clock().Now();
  NewChild(h, "H3", {{cv1::SCHOOL, "100001"}, {cv1::HEALTH, "RJ1"}});
  auto p = h.MustPut(Attach(kSchool, LaRef(kLaCode, "H3"), SchoolPart(Upn(3))));
  auto part2 = SchoolPart(Upn(3));
  part2.mutable_education()->set_missing_education(true);
  p = h.MustPut(Put(kSchool, UpnRef(Upn(3)), part2, p.etag()));
  h.MustPut(Attach(kHealth, UpnRef(Upn(3)), HealthPart(Nhs(3))));
  auto req = Put(kSchool, UpnRef(Upn(3)), SchoolPart(Upn(3)), p.etag());
  req.set_actor("dsl.jones");
  h.MustPut(req);

  rv1::ListPartVersionsRequest list;
  *list.mutable_child() = UpnRef(Upn(3));
  list.set_page_size(2);
  auto page1 = h.core().ListPartVersions(list);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->versions_size(), 2);
  EXPECT_EQ(page1->versions(0).owner_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(page1->versions(0).publish_time().seconds(), absl::ToUnixSeconds(t0));
  EXPECT_EQ(page1->versions(1).version(), 1);
  EXPECT_EQ(page1->versions(1).principal(), kSchool);
  EXPECT_EQ(page1->versions(1).publish_time().seconds(), absl::ToUnixSeconds(t0) + 1);
  EXPECT_FALSE(page1->versions(1).part().education().missing_education());
  ASSERT_FALSE(page1->next_page_token().empty());
  list.set_page_token(page1->next_page_token());
  auto page2 = h.core().ListPartVersions(list);
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->versions_size(), 2);
  EXPECT_TRUE(page2->versions(0).part().education().missing_education());
  EXPECT_EQ(page2->versions(1).owner_kind(), cv1::HEALTH);
  list.set_page_token(page2->next_page_token());
  auto page3 = h.core().ListPartVersions(list);
  ASSERT_TRUE(page3.ok()) << page3.status();
  ASSERT_EQ(page3->versions_size(), 1);
  EXPECT_EQ(page3->versions(0).version(), 3);
  EXPECT_EQ(page3->versions(0).actor(), "dsl.jones");
  EXPECT_TRUE(page3->next_page_token().empty());
  // The token is bound to the listing's filter (child and owner kind).
  list.set_page_token(page1->next_page_token());
  list.set_owner_kind(cv1::HEALTH);
  EXPECT_THAT(h.core().ListPartVersions(list).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: not a token from ListPartVersions for this caller and filter "
                       "(list again from the first page)"));

  list.clear_page_token();
  list.set_page_size(0);
  list.set_owner_kind(cv1::HEALTH);
  auto health_only = h.core().ListPartVersions(list);
  ASSERT_TRUE(health_only.ok());
  EXPECT_EQ(health_only->versions_size(), 1);
}

TEST_P(RecordsConformanceTest, LaChildIdIsQualifiedByLaCode) {
  Harness h(GetParam());
  auto a = h.MustPut(Put(kLa, LaRef(kLaCode, "123"), LaPart("123")));
  auto b = h.MustPut(Put(kLa2, LaRef(kLa2Code, "123"), LaPart("123", kLa2Code)));
  EXPECT_NE(a.kinex_id(), b.kinex_id());
  EXPECT_TRUE(b.created_child());
  auto got = h.Get(LaRef(kLa2Code, "123"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().identity().kinex_id(), b.kinex_id());
  EXPECT_EQ(got->record().scope().responsible_la_code(), kLa2Code);
}

TEST_P(RecordsConformanceTest, ChildWithoutNhsNumberIsMatchedByOthers) {
  Harness h(GetParam());
  auto la = NewChild(h, "UASC-9", {{cv1::SCHOOL, "100001"}});
  auto school = h.MustPut(Attach(kSchool, LaRef(kLaCode, "UASC-9"), SchoolPart(Upn(9))));
  EXPECT_EQ(school.kinex_id(), la.kinex_id());
  auto got = h.Get(UpnRef(Upn(9)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), la.kinex_id());
  EXPECT_TRUE(got->record().identity().nhs_number().empty());
  EXPECT_THAT(h.Get(NhsRef(Nhs(9))).status(),
              StatusIs(absl::StatusCode::kNotFound, "no child matches child.nhs_number"));
}

TEST_P(RecordsConformanceTest, IdentifierConflictFailsAndStoresNothing) {
  Harness h(GetParam());
  const std::string a = KnownChild(h, 10);
  const std::string b = KnownChild(h, 11);
  ASSERT_NE(a, b);
  const std::string before_a = h.State(KinexRef(a));
  const std::string before_b = h.State(KinexRef(b));
  // The responsible LA names child A by its LA child id but publishes B's.
  absl::Status s = h.core().PutPart(Put(kLa, LaRef(kLaCode, "C10"), LaPart("C11"))).status();
  ExpectRefused(h, s, absl::StatusCode::kFailedPrecondition,
                "identifiers match 2 different children (child 1: child.la_child_id; child 2: "
                "part.identity.la_child_id); nothing was stored");
  // Any other agency, linked to both or to neither, learns nothing: the
  // uniform refusal.
  ExpectUniformRefusal(
      h, h.core().PutPart(Put(kSchool2, NhsRef(Nhs(10)), SchoolPart(Upn(11), "100002"))).status());
  ExpectUniformRefusal(
      h,
      h.core().PutPart(Attach(kSchool3, NhsRef(Nhs(10)), SchoolPart(Upn(11), "100003"))).status());
  EXPECT_EQ(h.State(KinexRef(a)), before_a);
  EXPECT_EQ(h.State(KinexRef(b)), before_b);
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100003"), IsEmpty());
}

TEST_P(RecordsConformanceTest, FailedPublishLeavesNoNewChild) {
  Harness h(GetParam());
  // The child is new, so a non-empty etag fails after the child, its
  // identifier and its responsibility were created: the transaction undoes all.
  ExpectRefused(h,
                h.core().PutPart(Put(kLa, LaRef(kLaCode, "F12"), LaPart("F12"), "bogus")).status(),
                absl::StatusCode::kAborted,
                "etag: stale; no part exists for this publisher (publish with an empty etag)");
  EXPECT_THAT(h.Get(LaRef(kLaCode, "F12")).status(),
              StatusIs(absl::StatusCode::kNotFound, "no child matches child.la_child_id"));
  EXPECT_EQ(h.ChildCount(), 0u);
  EXPECT_THAT(h.Cohort(cv1::LOCAL_AUTHORITY, kLaCode), IsEmpty());
  EXPECT_EQ(h.PendingEvents(), 0u);
  // The next publish succeeds normally.
  auto put = h.MustPut(Put(kLa, LaRef(kLaCode, "F12"), LaPart("F12")));
  EXPECT_TRUE(put.created_child());
  EXPECT_EQ(h.ChildCount(), 1u);
}

TEST_P(RecordsConformanceTest, UnknownKinexIdGetsTheUniformRefusal) {
  Harness h(GetParam());
  ExpectUniformRefusal(h,
                       h.core().PutPart(Put(kLa, KinexRef("kx_NOSUCHCHILD"), LaPart())).status());
  ExpectUniformRefusal(
      h, h.core().PutPart(Attach(kSchool, KinexRef("kx_NOSUCHCHILD"), SchoolPart(""))).status());
  EXPECT_EQ(h.ChildCount(), 0u);
}

TEST_P(RecordsConformanceTest, PartsOfTwoSchoolsCombine) {
  Harness h(GetParam());
  auto la = NewChild(h, "S20", {{cv1::SCHOOL, "100001"}, {cv1::SCHOOL, "100002"}});
  auto a = h.MustPut(Attach(kSchool, LaRef(kLaCode, "S20"), SchoolPart(Upn(20), "100001")));
  EXPECT_EQ(a.link_state(), rec::CONFIRMED);
  auto b_part = SchoolPart(Upn(20), "100002");
  b_part.mutable_education()->mutable_attendance_summary()->set_attended_sessions(50);
  b_part.mutable_education()->mutable_enrolments(0)->mutable_entry_date()->set_year(2025);
  auto* session = b_part.mutable_education()->add_attendance_sessions();
  *session->mutable_date() = Dob(2025, 9, 3);
  session->set_half(rec::AM);
  session->set_code("/");  // school_urn left empty: filled with the publisher's
  auto b = h.MustPut(Attach(kSchool2, UpnRef(Upn(20)), b_part));
  EXPECT_EQ(b.link_state(), rec::CONFIRMED);

  auto got = h.Get(UpnRef(Upn(20)));
  ASSERT_TRUE(got.ok()) << got.status();
  const auto& ed = got->record().education();
  ASSERT_EQ(ed.enrolments_size(), 2);
  EXPECT_EQ(ed.enrolments(0).urn(), "100001");
  EXPECT_EQ(ed.enrolments(1).urn(), "100002");
  ASSERT_EQ(ed.attendance_sessions_size(), 1);
  EXPECT_EQ(ed.attendance_sessions(0).school_urn(), "100002");
  // A singular field both set: the latest publish.
  EXPECT_EQ(ed.attendance_summary().attended_sessions(), 50);
  EXPECT_EQ(got->record().scope().current_school_urn(), "100002");  // the later entry
  EXPECT_THAT(PartOwners(*got), ElementsAre("1/E09000033 v1", "3/100001 v1", "3/100002 v1"));
  // The first school publishing again makes its singular values the latest;
  // nothing of the other school's part is replaced.
  auto a2 = SchoolPart(Upn(20), "100001");
  a2.mutable_education()->mutable_attendance_summary()->set_attended_sessions(77);
  h.MustPut(Put(kSchool, UpnRef(Upn(20)), a2, a.etag()));
  got = h.Get(UpnRef(Upn(20)));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().education().attendance_summary().attended_sessions(), 77);
  EXPECT_EQ(got->record().education().enrolments_size(), 2);
  EXPECT_EQ(got->record().education().attendance_sessions_size(), 1);
  EXPECT_THAT(PartOwners(*got), ElementsAre("1/E09000033 v1", "3/100002 v1", "3/100001 v2"));
}

TEST_P(RecordsConformanceTest, ListChildrenPagesTheCohortInKinexIdOrder) {
  Harness h(GetParam());
  std::vector<std::string> in_scope;
  for (int i = 0; i < 5; ++i) {
    in_scope.push_back(NewChild(h, absl::StrCat("C", i)).kinex_id());
  }
  h.MustPut(Put(kLa2, LaRef(kLa2Code, "X"), LaPart("X", kLa2Code)));
  rv1::ListChildrenRequest req;
  req.set_agency_kind(cv1::VIRTUAL_SCHOOL);
  req.set_agency_code(kLaCode);
  req.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto r = h.core().ListChildren(req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& c : r->children()) {
      seen.push_back(c.kinex_id());
      EXPECT_EQ(c.scope().responsible_la_code(), kLaCode);
    }
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  std::sort(in_scope.begin(), in_scope.end());
  EXPECT_EQ(seen, in_scope);

  // Health cohort: a claim lists nothing; the LA's confirmation lists the
  // child, by GP and by provider, once.
  const std::string kid = in_scope[0];
  h.MustPut(Attach(kHealth, KinexRef(kid), HealthPart(Nhs(30))));
  EXPECT_THAT(h.Cohort(cv1::HEALTH, "RJ1"), IsEmpty());
  ASSERT_TRUE(h.Decide(kLa, kid, cv1::HEALTH, "RJ1", rec::CONFIRMED).ok());
  EXPECT_THAT(h.Cohort(cv1::HEALTH, "RJ1"), ElementsAre(kid));

  // School cohorts: only confirmed schools.
  h.MustPut(Attach(kSchool, KinexRef(kid), SchoolPart(Upn(30), "100001")));
  h.MustPut(Attach(kSchool3, KinexRef(kid), SchoolPart(Upn(30), "100003")));
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100001"), IsEmpty());
  ASSERT_TRUE(h.Decide(kLa, kid, cv1::SCHOOL, "100001", rec::CONFIRMED).ok());
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100001"), ElementsAre(kid));
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100003"), IsEmpty());
}

TEST_P(RecordsConformanceTest, ResolveChildReturnsKinexIdAndScope) {
  Harness h(GetParam());
  auto put = h.MustPut(Put(kLa, LaRef(kLaCode, "R1"), LaPart("R1")));
  auto r = h.Resolve(LaRef(kLaCode, "R1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kinex_id(), put.kinex_id());
  EXPECT_EQ(r->scope().responsible_la_code(), kLaCode);
  EXPECT_EQ(r->date_of_birth().year(), 2015);
}

TEST_P(RecordsConformanceTest, ConcurrentPublishersSerialiseThroughEtags) {
  Harness h(GetParam());
  NewChild(h, "K40", {{cv1::SCHOOL, "100001"}});
  auto first = h.MustPut(Attach(kSchool, LaRef(kLaCode, "K40"), SchoolPart(Upn(40))));
  h.NewEvents();
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kEach;) {
        // GetPart (GetMyPart) gives the current etag.
        rv1::GetPartRequest get;
        get.set_principal(kSchool);
        *get.mutable_child() = UpnRef(Upn(40));
        auto got = h.core().GetPart(get);
        if (!got.ok()) continue;
        auto put = h.core().PutPart(
            Put(kSchool, UpnRef(Upn(40)), SchoolPart(Upn(40)), got->part().etag()));
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
  list.set_owner_kind(cv1::SCHOOL);
  list.set_page_size(1000);
  auto versions = h.core().ListPartVersions(list);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->versions_size(), 1 + kThreads * kEach);
  for (int i = 0; i < versions->versions_size(); ++i) {
    EXPECT_EQ(versions->versions(i).version(), i + 1);
  }
  EXPECT_NE(first.etag(), versions->versions(kThreads * kEach).etag());
  // One event per write: every publish, every lost race.
  std::vector<av1::AuditEvent> events = h.NewEvents();
  int published = 0, refused = 0;
  for (const auto& e : events) {
    if (e.kind() == av1::PART_PUBLISHED) ++published;
    if (e.kind() == av1::WRITE_REFUSED) ++refused;
  }
  EXPECT_EQ(published, kThreads * kEach);
  EXPECT_EQ(refused, aborted.load());
  EXPECT_EQ(events.size(), static_cast<size_t>(published + refused));
  EXPECT_EQ(h.PendingEvents(), 0u);
}

// ------------------------------------------------------ relationships (issue 11)

TEST_P(RecordsConformanceTest, AnotherLaCannotTakeOverAChild) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 50);
  const std::string before = h.State(KinexRef(kid));
  // The child's NHS number alone, naming itself responsible.
  const absl::Status by_nhs =
      h.core().PutPart(Put(kLa2, NhsRef(Nhs(50)), LaPart("", kLa2Code))).status();
  ExpectUniformRefusal(h, by_nhs);
  // Its own LA child id plus the NHS number.
  const absl::Status with_own_id =
      h.core().PutPart(Put(kLa2, NhsRef(Nhs(50)), LaPart("X50", kLa2Code))).status();
  ExpectUniformRefusal(h, with_own_id);
  // The Kinex id (leaked, say), and the UPN.
  ExpectUniformRefusal(
      h, h.core().PutPart(Put(kLa2, KinexRef(kid), LaPart("X50", kLa2Code))).status());
  ExpectUniformRefusal(
      h, h.core().PutPart(Put(kLa2, UpnRef(Upn(50)), LaPart("X50", kLa2Code))).status());
  EXPECT_EQ(by_nhs, with_own_id);
  // Nothing created, nothing changed; the responsible LA is unchanged.
  EXPECT_EQ(h.State(KinexRef(kid)), before);
  EXPECT_THAT(h.Resolve(LaRef(kLa2Code, "X50")).status(),
              StatusIs(absl::StatusCode::kNotFound, "no child matches child.la_child_id"));
  auto resolved = h.Resolve(NhsRef(Nhs(50)));
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->scope().responsible_la_code(), kLaCode);
  EXPECT_THAT(h.Cohort(cv1::LOCAL_AUTHORITY, kLa2Code), IsEmpty());
  EXPECT_THAT(h.Cohort(cv1::LOCAL_AUTHORITY, kLaCode), ElementsAre(kid));
  EXPECT_THAT(h.Links(kLa2), IsEmpty());
  EXPECT_THAT(h.GetPart(kLa2, KinexRef(kid)).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, kNoPartOfYours));
  // The responsible LA still publishes.
  auto next = h.MustPut(Put(kLa, KinexRef(kid), LaPart("C50"), h.EtagOf(kLa, KinexRef(kid))));
  EXPECT_EQ(next.version(), 2);
  ExpectOneEvent(h, av1::PART_PUBLISHED);
}

TEST_P(RecordsConformanceTest, AnLaCannotCreateAChildInAnotherLasNamespace) {
  Harness h(GetParam());
  // LA2 names a new child by an LA child id of LA1's: it would hold
  // "E09000033/SQ1" and LA1 could never create its own child SQ1.
  ExpectUniformRefusal(
      h, h.core().PutPart(Put(kLa2, LaRef(kLaCode, "SQ1"), LaPart("SQ1", kLa2Code))).status());
  EXPECT_EQ(h.ChildCount(), 0u);
  EXPECT_THAT(h.Resolve(LaRef(kLaCode, "SQ1")).status(),
              StatusIs(absl::StatusCode::kNotFound, "no child matches child.la_child_id"));
  auto own = NewChild(h, "SQ1");
  EXPECT_EQ(h.Resolve(LaRef(kLaCode, "SQ1"))->scope().responsible_la_code(), kLaCode);
}

TEST_P(RecordsConformanceTest, UnlinkedSchoolClaimsButGainsNothingUntilConfirmed) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 60);  // on the roll of 100002
  const cv1::ChildRef ref = UpnRef(Upn(60));
  auto part = SchoolPart(Upn(60), "100001");
  part.mutable_education()->mutable_enrolments(0)->mutable_entry_date()->set_year(2025);
  part.mutable_education()->mutable_attendance_summary()->set_attended_sessions(10);
  auto claim = ExpectClaimOnly(h, kSchool, ref, part);
  EXPECT_EQ(claim.kinex_id(), kid);
  auto resolved = h.Resolve(ref);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->scope().current_school_urn(), "100002");
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100001"), IsEmpty());
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100002"), ElementsAre(kid));
  // Publishing again keeps it claimed and out of the record.
  const std::string reader = h.ReaderView(ref);
  auto again = h.MustPut(Put(kSchool, ref, part, claim.etag()));
  EXPECT_EQ(again.link_state(), rec::CLAIMED);
  EXPECT_EQ(again.version(), 2);
  ExpectOneEvent(h, av1::PART_PUBLISHED);
  EXPECT_EQ(h.ReaderView(ref), reader);
  EXPECT_THAT(h.Links(kLa, rec::CLAIMED),
              ElementsAre(absl::StrCat(kid, " 3/100001 CLAIMED by ", kSchool)));

  // The responsible LA confirms: its data and scope appear.
  auto decided = h.Decide(kLa, kid, cv1::SCHOOL, "100001", rec::CONFIRMED);
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_EQ(decided->link().state(), rec::CONFIRMED);
  EXPECT_EQ(decided->link().updated_by(), kLa);
  EXPECT_EQ(decided->link().kinex_id(), kid);
  av1::AuditEvent confirmed = ExpectOneEvent(h, av1::LINK_CONFIRMED);
  EXPECT_EQ(confirmed.subject_agency(), "school/100001");
  EXPECT_EQ(confirmed.principal(), kLa);
  EXPECT_TRUE(HasKinexId(confirmed, kid));
  auto got = h.Get(ref);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().scope().current_school_urn(), "100001");
  EXPECT_EQ(got->record().education().enrolments_size(), 2);
  EXPECT_EQ(got->record().education().attendance_summary().attended_sessions(), 10);
  EXPECT_THAT(PartOwners(*got), ::testing::Contains("3/100001 v2"));
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100001"), ElementsAre(kid));
  auto own = h.GetPart(kSchool, ref);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->link_state(), rec::CONFIRMED);
}

TEST_P(RecordsConformanceTest, UnlinkedGpClaimsButGainsNothingUntilConfirmed) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 62);  // RJ1 is GP and provider
  const cv1::ChildRef ref = NhsRef(Nhs(62));
  rec::ChildRecord part;
  part.mutable_scope()->set_registered_gp_ods_code("A81001");
  part.mutable_health()->set_camhs(rec::CAMHS_REFERRED);
  ExpectClaimOnly(h, kGp, ref, part);
  auto got = h.Get(ref);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().scope().registered_gp_ods_code(), "RJ1");
  EXPECT_EQ(got->record().health().camhs(), rec::CAMHS_OPEN);
  EXPECT_THAT(h.Cohort(cv1::HEALTH, "A81001"), IsEmpty());

  ASSERT_TRUE(h.Decide(kLa, kid, cv1::HEALTH, "A81001", rec::CONFIRMED).ok());
  EXPECT_EQ(ExpectOneEvent(h, av1::LINK_CONFIRMED).subject_agency(), "health/A81001");
  got = h.Get(ref);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().scope().registered_gp_ods_code(), "A81001");  // latest publish
  EXPECT_EQ(got->record().health().camhs(), rec::CAMHS_REFERRED);
  EXPECT_THAT(got->record().scope().health_provider_ods_codes(), ElementsAre("RJ1"));
  EXPECT_THAT(h.Cohort(cv1::HEALTH, "A81001"), ElementsAre(kid));
}

TEST_P(RecordsConformanceTest, UnlinkedForceClaimsButGainsNothingUntilConfirmed) {
  Harness h(GetParam());
  auto la = NewChild(h, "P1", {{cv1::POLICE, "01"}});
  const std::string kid = la.kinex_id();
  rec::ChildRecord force1;
  force1.mutable_scope()->set_police_force_code("01");
  force1.mutable_police()->set_criminal_exploitation_risk(true);
  EXPECT_EQ(h.MustPut(Attach(kPolice, KinexRef(kid), force1)).link_state(), rec::CONFIRMED);
  h.NewEvents();
  rec::ChildRecord force2;
  force2.mutable_scope()->set_police_force_code("02");
  force2.mutable_police()->set_sexual_exploitation_risk(true);
  ExpectClaimOnly(h, kPolice2, KinexRef(kid), force2);
  auto got = h.Get(KinexRef(kid));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().scope().police_force_code(), "01");
  EXPECT_FALSE(got->record().police().sexual_exploitation_risk());
  EXPECT_THAT(h.Cohort(cv1::POLICE, "02"), IsEmpty());

  ASSERT_TRUE(h.Decide(kLa, kid, cv1::POLICE, "02", rec::CONFIRMED).ok());
  EXPECT_EQ(ExpectOneEvent(h, av1::LINK_CONFIRMED).subject_agency(), "police/02");
  got = h.Get(KinexRef(kid));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().scope().police_force_code(), "02");  // latest publish
  EXPECT_TRUE(got->record().police().sexual_exploitation_risk());
  EXPECT_TRUE(got->record().police().criminal_exploitation_risk());
  EXPECT_THAT(h.Cohort(cv1::POLICE, "02"), ElementsAre(kid));
}

TEST_P(RecordsConformanceTest, AgenciesNameOnlyThemselves) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 61);
  const cv1::ChildRef ref = KinexRef(kid);
  const std::string before = h.State(ref);
  auto refuse = [&](const std::string& principal, const rec::ChildRecord& part,
                    const std::string& message) {
    SCOPED_TRACE(message);
    auto req = Attach(principal, ref, part);
    req.set_etag(h.EtagOf(principal, ref));
    ExpectRefused(h, h.core().PutPart(req).status(), absl::StatusCode::kPermissionDenied, message);
  };
  auto school = SchoolPart(Upn(61), "100002");
  school.mutable_scope()->set_current_school_urn("100001");
  refuse(kSchool2, school,
         "part.scope.current_school_urn: a school may name only itself (the code in its "
         "certificate)");
  // An unlinked school too, with the right proof.
  refuse(kSchool, SchoolPart(Upn(61), "100002"),
         "part.scope.current_school_urn: a school may name only itself (the code in its "
         "certificate)");
  school = SchoolPart(Upn(61), "100002");
  school.mutable_education()->mutable_enrolments(0)->set_urn("100001");
  refuse(kSchool2, school,
         "part.education.enrolments.urn: a school may name only itself (the code in its "
         "certificate)");
  school = SchoolPart(Upn(61), "100002");
  school.mutable_education()->add_attendance_sessions()->set_school_urn("100001");
  refuse(kSchool2, school,
         "part.education.attendance_sessions.school_urn: a school may name only itself (the "
         "code in its certificate)");
  auto health = HealthPart(Nhs(61));
  health.mutable_scope()->set_registered_gp_ods_code("A81001");
  refuse(
      kHealth, health,
      "part.scope.registered_gp_ods_code: a health provider may name only itself (the code in its "
      "certificate)");
  health = HealthPart(Nhs(61));
  health.mutable_scope()->add_health_provider_ods_codes("RX4");
  refuse(kHealth, health,
         "part.scope.health_provider_ods_codes: a health provider may name only itself (the code "
         "in its "
         "certificate)");
  rec::ChildRecord police;
  police.mutable_scope()->set_police_force_code("02");
  refuse(kPolice, police,
         "part.scope.police_force_code: a police force may name only itself (the code in its "
         "certificate)");
  refuse(kLa, LaPart("C61", kLa2Code),
         "part.scope.responsible_la_code: a local authority may name only itself (the code in "
         "its certificate)");
  EXPECT_EQ(h.State(ref), before);
}

TEST_P(RecordsConformanceTest, OnlyALocalAuthorityCreatesChildren) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 70);
  const size_t children = h.ChildCount();
  rec::ChildRecord police;
  police.mutable_scope()->set_police_force_code("01");
  rec::ChildRecord pep;
  pep.mutable_education()->mutable_pep()->set_status(rec::PEP_DUE);
  struct Orphan {
    const char* principal;
    cv1::ChildRef ref;
    rec::ChildRecord part;
  };
  const std::vector<Orphan> orphans = {
      {kSchool, UpnRef(Upn(71)), SchoolPart(Upn(71))},
      {kHealth, NhsRef(Nhs(71)), HealthPart(Nhs(71))},
      {kPolice, NhsRef(Nhs(72)), police},
      {kVirtualSchool, LaRef(kLaCode, "O73"), pep},
      // A confirmed agency of another child gets no further.
      {kSchool2, UpnRef(Upn(74)), SchoolPart(Upn(74), "100002")},
  };
  for (const Orphan& o : orphans) {
    SCOPED_TRACE(o.principal);
    for (bool proof : {false, true}) {
      auto req = proof ? Attach(o.principal, o.ref, o.part) : Put(o.principal, o.ref, o.part);
      auto put = h.core().PutPart(req);
      ExpectUniformRefusal(h, put.status());
      EXPECT_THAT(std::string(put.status().message()), Not(HasSubstr("kx_")));
    }
    EXPECT_EQ(h.Resolve(o.ref).status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_EQ(h.ChildCount(), children);
  auto resolved = h.Resolve(KinexRef(kid));
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(h.PendingEvents(), 0u);
}

TEST_P(RecordsConformanceTest, RejectedLinkKeepsTheAgencyOut) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 63);
  const cv1::ChildRef ref = UpnRef(Upn(63));
  auto part = SchoolPart(Upn(63), "100001");
  part.mutable_education()->mutable_enrolments(0)->mutable_entry_date()->set_year(2025);
  auto claim = h.MustPut(Attach(kSchool, ref, part));
  ASSERT_TRUE(h.Decide(kLa, kid, cv1::SCHOOL, "100001", rec::CONFIRMED).ok());
  h.NewEvents();
  auto resolved = h.Resolve(ref);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->scope().current_school_urn(), "100001");

  auto rejected = h.Decide(kLa, kid, cv1::SCHOOL, "100001", rec::REJECTED);
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(rejected->link().state(), rec::REJECTED);
  EXPECT_EQ(ExpectOneEvent(h, av1::LINK_REJECTED).subject_agency(), "school/100001");
  // Its part is out of the record and its scope gone.
  auto got = h.Get(ref);
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(PartOwners(*got), ElementsAre("1/E09000033 v1", "3/100002 v1", "4/RJ1 v1"));
  EXPECT_EQ(got->record().scope().current_school_urn(), "100002");
  EXPECT_EQ(got->record().education().enrolments_size(), 1);
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100001"), IsEmpty());
  // It may not publish for the child, however it asks.
  const std::string before = h.State(ref);
  const absl::Status with_etag = h.core().PutPart(Put(kSchool, ref, part, claim.etag())).status();
  ExpectUniformRefusal(h, with_etag);
  const absl::Status with_proof = h.core().PutPart(Attach(kSchool, ref, part)).status();
  ExpectUniformRefusal(h, with_proof);
  EXPECT_EQ(with_etag, with_proof);
  EXPECT_EQ(h.State(ref), before);
  // It still reads its own part, and sees the decision.
  auto own = h.GetPart(kSchool, ref);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->link_state(), rec::REJECTED);
}

TEST_P(RecordsConformanceTest, NamingAnAgencyConfirmsItsLink) {
  Harness h(GetParam());
  auto la = NewChild(h, "NM1", {{cv1::SCHOOL, "100001"}});
  const std::string kid = la.kinex_id();
  h.NewEvents();
  // Named before its first part: confirmed at once.
  auto named = h.MustPut(Attach(kSchool, LaRef(kLaCode, "NM1"), SchoolPart(Upn(64))));
  EXPECT_EQ(named.link_state(), rec::CONFIRMED);
  EXPECT_EQ(ExpectOneEvent(h, av1::LINK_CLAIMED).subject_agency(), "school/100001");
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100001"), ElementsAre(kid));
  EXPECT_THAT(h.Links(kLa), ElementsAre(absl::StrCat(kid, " 3/100001 CONFIRMED by ", kLa)));
  // A claim made before the naming...
  auto claim = h.MustPut(Attach(kSchool2, KinexRef(kid), SchoolPart(Upn(64), "100002")));
  EXPECT_EQ(claim.link_state(), rec::CLAIMED);
  ExpectOneEvent(h, av1::LINK_CLAIMED);
  auto got = h.Get(KinexRef(kid));
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(PartOwners(*got), ElementsAre("1/E09000033 v1", "3/100001 v1"));
  // ...is confirmed when the LA republishes naming it.
  rec::ChildRecord la_part = LaPart("NM1");
  Name(la_part, cv1::SCHOOL, "100001");
  Name(la_part, cv1::SCHOOL, "100002");
  h.MustPut(Put(kLa, KinexRef(kid), la_part, la.etag()));
  // Two events: the confirmation of school 100002's link by the naming, and
  // the LA's publish itself.
  std::vector<av1::AuditEvent> events = h.NewEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind(), av1::LINK_CONFIRMED);
  EXPECT_EQ(events[0].subject_agency(), "school/100002");
  EXPECT_EQ(events[0].principal(), kLa);
  EXPECT_TRUE(HasKinexId(events[0], kid));
  const av1::AuditEvent& published = events[1];
  EXPECT_EQ(published.kind(), av1::PART_PUBLISHED);
  EXPECT_THAT(published.written_paths(),
              ::testing::Contains(::testing::StartsWith("named_agencies")));
  auto own = h.GetPart(kSchool2, KinexRef(kid));
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->link_state(), rec::CONFIRMED);
  got = h.Get(KinexRef(kid));
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(PartOwners(*got), ElementsAre("3/100001 v1", "3/100002 v1", "1/E09000033 v2"));
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100002"), ElementsAre(kid));
  EXPECT_THAT(h.Links(kLa), ElementsAre(absl::StrCat(kid, " 3/100001 CONFIRMED by ", kLa),
                                        absl::StrCat(kid, " 3/100002 CONFIRMED by ", kLa)));
}

TEST_P(RecordsConformanceTest, SchoolMoveMidYearKeepsBothSchoolsParts) {
  Harness h(GetParam());
  ASSERT_GT(h.clock().Now(), absl::FromCivil(absl::CivilDay(2026, 2, 16), absl::UTCTimeZone()));
  auto la = NewChild(h, "MV1", {{cv1::SCHOOL, "100001"}, {cv1::SCHOOL, "100002"}});
  const std::string kid = la.kinex_id();
  // School A: on roll 2024-09-04 to 2026-02-13.
  rec::ChildRecord a;
  a.mutable_identity()->set_upn(Upn(65));
  auto* a_enrol = a.mutable_education()->add_enrolments();
  *a_enrol->mutable_entry_date() = Dob(2024, 9, 4);
  *a_enrol->mutable_leaving_date() = Dob(2026, 2, 13);
  auto* a_session = a.mutable_education()->add_attendance_sessions();
  *a_session->mutable_date() = Dob(2026, 2, 13);
  a_session->set_half(rec::PM);
  a_session->set_code("/");
  a.mutable_education()->mutable_attendance_summary()->set_possible_sessions(200);
  a.mutable_education()->mutable_attendance_summary()->set_attended_sessions(180);
  EXPECT_EQ(h.MustPut(Attach(kSchool, KinexRef(kid), a)).link_state(), rec::CONFIRMED);
  // School B: from 2026-02-16.
  rec::ChildRecord b;
  b.mutable_identity()->set_upn(Upn(65));
  b.mutable_scope()->set_current_school_urn("100002");
  auto* b_enrol = b.mutable_education()->add_enrolments();
  b_enrol->set_urn("100002");
  *b_enrol->mutable_entry_date() = Dob(2026, 2, 16);
  auto* b_session = b.mutable_education()->add_attendance_sessions();
  *b_session->mutable_date() = Dob(2026, 2, 16);
  b_session->set_half(rec::AM);
  b_session->set_code("L");
  b_session->set_school_urn("100002");
  b.mutable_education()->mutable_attendance_summary()->set_possible_sessions(20);
  b.mutable_education()->mutable_attendance_summary()->set_attended_sessions(19);
  EXPECT_EQ(h.MustPut(Attach(kSchool2, UpnRef(Upn(65)), b)).link_state(), rec::CONFIRMED);

  auto got = h.Get(UpnRef(Upn(65)));
  ASSERT_TRUE(got.ok()) << got.status();
  const auto& ed = got->record().education();
  ASSERT_EQ(ed.enrolments_size(), 2);
  EXPECT_EQ(ed.enrolments(0).urn(), "100001");
  EXPECT_EQ(ed.enrolments(0).leaving_date().day(), 13);
  EXPECT_EQ(ed.enrolments(1).urn(), "100002");
  EXPECT_FALSE(ed.enrolments(1).has_leaving_date());
  ASSERT_EQ(ed.attendance_sessions_size(), 2);
  EXPECT_EQ(ed.attendance_sessions(0).school_urn(), "100001");
  EXPECT_EQ(ed.attendance_sessions(1).school_urn(), "100002");
  EXPECT_EQ(ed.attendance_summary().attended_sessions(), 19);  // the latest publish
  EXPECT_EQ(got->record().scope().current_school_urn(), "100002");
  EXPECT_THAT(PartOwners(*got), ElementsAre("1/E09000033 v1", "3/100001 v1", "3/100002 v1"));
  for (const auto& p : got->parts()) {
    if (p.owner_code() == "100001") EXPECT_EQ(p.principal(), kSchool);
  }
  EXPECT_THAT(h.Cohort(cv1::SCHOOL, "100002"), ElementsAre(kid));
  auto resolved = h.Resolve(KinexRef(kid));
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->scope().current_school_urn(), "100002");
  // School A keeps its own part and can still correct it.
  auto own = h.GetPart(kSchool, KinexRef(kid));
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->part().part().education().enrolments(0).urn(), "100001");
}

TEST_P(RecordsConformanceTest, GpAndCamhsPartsCombine) {
  Harness h(GetParam());
  auto la = NewChild(h, "GC1", {{cv1::HEALTH, "A81001"}, {cv1::HEALTH, "RX4"}});
  const std::string kid = la.kinex_id();
  rec::ChildRecord gp;
  gp.mutable_identity()->set_nhs_number(Nhs(66));
  gp.mutable_scope()->set_registered_gp_ods_code("A81001");
  gp.mutable_health()->set_immunisations_up_to_date(true);
  EXPECT_EQ(h.MustPut(Attach(kGp, LaRef(kLaCode, "GC1"), gp)).link_state(), rec::CONFIRMED);
  rec::ChildRecord camhs;
  camhs.mutable_scope()->add_health_provider_ods_codes("RX4");
  camhs.mutable_health()->set_camhs(rec::CAMHS_OPEN);
  EXPECT_EQ(h.MustPut(Attach(kCamhs, NhsRef(Nhs(66)), camhs)).link_state(), rec::CONFIRMED);
  auto got = h.Get(NhsRef(Nhs(66)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().scope().registered_gp_ods_code(), "A81001");
  EXPECT_THAT(got->record().scope().health_provider_ods_codes(), ElementsAre("RX4"));
  EXPECT_TRUE(got->record().health().immunisations_up_to_date());
  EXPECT_EQ(got->record().health().camhs(), rec::CAMHS_OPEN);
  EXPECT_EQ(got->record().identity().nhs_number(), Nhs(66));
  EXPECT_THAT(PartOwners(*got), ElementsAre("1/E09000033 v1", "4/A81001 v1", "4/RX4 v1"));
  EXPECT_THAT(h.Cohort(cv1::HEALTH, "A81001"), ElementsAre(kid));
  EXPECT_THAT(h.Cohort(cv1::HEALTH, "RX4"), ElementsAre(kid));
}

TEST_P(RecordsConformanceTest, ResponsibilityTransfersBetweenLocalAuthorities) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 67);
  const cv1::ChildRef ref = KinexRef(kid);
  const std::string la1_etag = h.EtagOf(kLa, ref);
  const std::string before = h.State(ref);
  // Refusals, each audited, nothing changed.
  ExpectRefused(h, h.Transfer(kLaManager, ref, kLa2Code, "").status(),
                absl::StatusCode::kInvalidArgument,
                "reason: required, at most 2000 characters (recorded in the audit log)");
  ExpectRefused(h, h.Transfer(kLaManager, ref, kLaCode, "moved").status(),
                absl::StatusCode::kInvalidArgument,
                "to_la_code: names the local authority already responsible");
  const absl::Status not_responsible = h.Transfer(kLa2Manager, ref, kLa2Code, "moved").status();
  ExpectRefused(h, not_responsible, absl::StatusCode::kPermissionDenied, kNotResponsible);
  const absl::Status unknown =
      h.Transfer(kLaManager, KinexRef("kx_NOSUCHCHILD"), kLa2Code, "moved").status();
  ExpectRefused(h, unknown, absl::StatusCode::kPermissionDenied, kNotResponsible);
  EXPECT_EQ(not_responsible, unknown);
  ExpectRefused(h, h.Transfer(kSchool2, ref, kLa2Code, "moved").status(),
                absl::StatusCode::kPermissionDenied,
                "only the child's responsible local authority transfers responsibility");
  ExpectRefused(h, h.Transfer(kLa, ref, kLa2Code, "moved").status(),
                absl::StatusCode::kPermissionDenied,
                "transferring responsibility is a team-manager's decision (role social-worker "
                "may not)");
  EXPECT_EQ(h.State(ref), before);

  const std::string reason = "child moved to Manchester; placement with grandmother";
  auto moved = h.Transfer(kLaManager, UpnRef(Upn(67)), kLa2Code, reason);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->kinex_id(), kid);
  EXPECT_EQ(moved->responsible_la_code(), kLa2Code);
  av1::AuditEvent event = ExpectOneEvent(h, av1::RESPONSIBILITY_TRANSFERRED);
  EXPECT_EQ(event.subject_agency(), "local-authority/E08000025");
  EXPECT_EQ(event.justification(), reason);
  EXPECT_EQ(event.principal(), kLaManager);
  EXPECT_TRUE(HasKinexId(event, kid));

  auto resolved = h.Resolve(ref);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->scope().responsible_la_code(), kLa2Code);
  EXPECT_EQ(resolved->scope().current_school_urn(), "100002");
  // Until LA2 publishes, LA1's part still describes the child.
  auto got = h.Get(ref);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().identity().given_name(), "Amy");
  EXPECT_THAT(h.Cohort(cv1::LOCAL_AUTHORITY, kLaCode), IsEmpty());
  EXPECT_THAT(h.Cohort(cv1::VIRTUAL_SCHOOL, kLaCode), IsEmpty());
  EXPECT_THAT(h.Cohort(cv1::LOCAL_AUTHORITY, kLa2Code), ElementsAre(kid));
  EXPECT_THAT(h.Links(kLa), IsEmpty());
  EXPECT_EQ(h.Links(kLa2).size(), 2u);

  // LA1 may no longer publish, transfer or decide.
  const std::string after = h.State(ref);
  ExpectUniformRefusal(h, h.core().PutPart(Put(kLa, ref, LaPart("C67"), la1_etag)).status());
  ExpectUniformRefusal(
      h, h.core().PutPart(Put(kLa, LaRef(kLaCode, "C67"), LaPart("C67"), la1_etag)).status());
  ExpectRefused(h, h.Transfer(kLaManager, ref, kLaCode, "take it back").status(),
                absl::StatusCode::kPermissionDenied, kNotResponsible);
  ExpectRefused(h, h.Decide(kLa, kid, cv1::SCHOOL, "100002", rec::REJECTED).status(),
                absl::StatusCode::kPermissionDenied, kNotResponsible);
  EXPECT_EQ(h.State(ref), after);

  // LA2, responsible now, publishes by Kinex id.
  rec::ChildRecord la2_part = LaPart("M67", kLa2Code);
  la2_part.mutable_identity()->set_given_name("Amelia");
  auto put = h.MustPut(Put(kLa2, ref, la2_part));
  EXPECT_FALSE(put.created_child());
  EXPECT_EQ(put.version(), 1);
  EXPECT_EQ(put.link_state(), rec::LINK_STATE_UNSPECIFIED);
  ExpectOneEvent(h, av1::PART_PUBLISHED);
  got = h.Get(ref);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->record().identity().given_name(), "Amelia");
  EXPECT_EQ(got->record().identity().la_child_id(), "M67");
  EXPECT_EQ(got->record().scope().responsible_la_code(), kLa2Code);
  EXPECT_THAT(PartOwners(*got), ElementsAre("3/100002 v1", "4/RJ1 v1", "1/E08000025 v1"));
  auto by_new_id = h.Resolve(LaRef(kLa2Code, "M67"));
  ASSERT_TRUE(by_new_id.ok()) << by_new_id.status();
  EXPECT_EQ(by_new_id->kinex_id(), kid);
  // And decides links.
  ASSERT_TRUE(h.Decide(kLa2, kid, cv1::SCHOOL, "100002", rec::REJECTED).ok());
  ExpectOneEvent(h, av1::LINK_REJECTED);
}

TEST_P(RecordsConformanceTest, GetPartReturnsOnlyTheCallersOwnPart) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 68);
  auto own = h.GetPart(kSchool2, UpnRef(Upn(68)));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->kinex_id(), kid);
  EXPECT_EQ(own->link_state(), rec::CONFIRMED);
  EXPECT_EQ(own->part().owner_kind(), cv1::SCHOOL);
  EXPECT_EQ(own->part().owner_code(), "100002");
  EXPECT_EQ(own->part().version(), 1);
  EXPECT_EQ(own->part().principal(), kSchool2);
  EXPECT_EQ(own->part().part().education().attendance_summary().attended_sessions(), 91);
  EXPECT_FALSE(own->part().part().has_health());
  auto la = h.GetPart(kLa, KinexRef(kid));
  ASSERT_TRUE(la.ok()) << la.status();
  EXPECT_EQ(la->link_state(), rec::LINK_STATE_UNSPECIFIED);
  EXPECT_EQ(la->part().owner_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_FALSE(la->part().part().has_education());
  // Unknown child, and a child the caller has no part of: one answer.
  const absl::Status unknown = h.GetPart(kSchool, UpnRef(Upn(99))).status();
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kPermissionDenied, kNoPartOfYours));
  const absl::Status no_part = h.GetPart(kSchool, KinexRef(kid)).status();
  EXPECT_EQ(unknown, no_part);
  EXPECT_EQ(h.GetPart(kSchool, KinexRef("kx_NOSUCHCHILD")).status(), unknown);
  EXPECT_EQ(h.GetPart(kLa2, KinexRef(kid)).status(), unknown);
  // A lost etag is recovered through GetPart.
  auto v2 =
      h.MustPut(Put(kSchool2, UpnRef(Upn(68)), SchoolPart(Upn(68), "100002"), own->part().etag()));
  h.NewEvents();
  ExpectRefused(h,
                h.core()
                    .PutPart(Put(kSchool2, UpnRef(Upn(68)), SchoolPart(Upn(68), "100002"),
                                 own->part().etag()))
                    .status(),
                absl::StatusCode::kAborted,
                "etag: stale; the part is now at version 2 (GetMyPart returns it with its etag; "
                "retry with that etag)");
  auto current = h.GetPart(kSchool2, UpnRef(Upn(68)));
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->part().etag(), v2.etag());
  EXPECT_EQ(current->part().version(), 2);
  auto v3 = h.MustPut(
      Put(kSchool2, UpnRef(Upn(68)), SchoolPart(Upn(68), "100002"), current->part().etag()));
  EXPECT_EQ(v3.version(), 3);
  ExpectOneEvent(h, av1::PART_PUBLISHED);
  // Reading is not a write: no events.
  h.GetPart(kSchool2, UpnRef(Upn(68))).IgnoreError();
  EXPECT_THAT(h.NewEvents(), IsEmpty());
}

TEST_P(RecordsConformanceTest, ListLinksPagesTheResponsibleLasLinks) {
  Harness h(GetParam());
  const std::string a = NewChild(h, "L1", {{cv1::HEALTH, "RJ1"}}).kinex_id();
  const std::string b = NewChild(h, "L2").kinex_id();
  const std::string c =
      h.MustPut(Put(kLa2, LaRef(kLa2Code, "L3"), LaPart("L3", kLa2Code))).kinex_id();
  ASSERT_LT(a, b);
  h.MustPut(Attach(kSchool, KinexRef(a), SchoolPart(Upn(80))));
  h.MustPut(Attach(kHealth, KinexRef(a), HealthPart(Nhs(80))));
  h.MustPut(Attach(kSchool2, KinexRef(b), SchoolPart(Upn(81), "100002")));
  h.MustPut(Attach(kSchool3, KinexRef(c), SchoolPart(Upn(82), "100003")));
  const std::string la = kLa;
  EXPECT_THAT(h.Links(kLa), ElementsAre(absl::StrCat(a, " 3/100001 CLAIMED by ", kSchool),
                                        absl::StrCat(a, " 4/RJ1 CONFIRMED by ", la),
                                        absl::StrCat(b, " 3/100002 CLAIMED by ", kSchool2)));
  EXPECT_THAT(h.Links(kLa, rec::CLAIMED),
              ElementsAre(absl::StrCat(a, " 3/100001 CLAIMED by ", kSchool),
                          absl::StrCat(b, " 3/100002 CLAIMED by ", kSchool2)));
  EXPECT_THAT(h.Links(kLa, rec::CONFIRMED),
              ElementsAre(absl::StrCat(a, " 4/RJ1 CONFIRMED by ", la)));
  EXPECT_THAT(h.Links(kLa, rec::REJECTED), IsEmpty());
  EXPECT_THAT(h.Links(kLa2), ElementsAre(absl::StrCat(c, " 3/100003 CLAIMED by ", kSchool3)));

  // Paging, with a token bound to the LA and the state filter.
  rv1::ListLinksRequest req;
  req.set_principal(kLa);
  req.set_state(rec::CLAIMED);
  req.set_page_size(1);
  auto page1 = h.core().ListLinks(req);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->links_size(), 1);
  EXPECT_EQ(page1->links(0).kinex_id(), a);
  EXPECT_EQ(page1->links(0).agency().agency_code(), "100001");
  EXPECT_EQ(page1->links(0).update_time().seconds() > 0, true);
  ASSERT_FALSE(page1->next_page_token().empty());
  req.set_page_token(page1->next_page_token());
  auto page2 = h.core().ListLinks(req);
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->links_size(), 1);
  EXPECT_EQ(page2->links(0).kinex_id(), b);
  EXPECT_TRUE(page2->next_page_token().empty());
  // The token is bound to the state filter and to the caller: another LA
  // replaying it is refused.
  req.set_state(rec::CONFIRMED);
  EXPECT_THAT(h.core().ListLinks(req).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: not a token from ListLinks for this caller and filter "
                       "(list again from the first page)"));
  req.set_state(rec::CLAIMED);
  req.set_principal(kLa2);
  EXPECT_THAT(h.core().ListLinks(req).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: not a token from ListLinks for this caller and filter "
                       "(list again from the first page)"));
}

// ------------------------------------------------------ audit outbox

TEST_P(RecordsConformanceTest, AuditOutboxKeepsEventsTheLogCouldNotTake) {
  Harness h(GetParam());
  constexpr char kStoredNotLogged[] =
      "the write is stored but its audit event is not in the audit log yet (it is kept and "
      "logged as soon as the log answers); retry reading with GetMyPart later";
  h.audit().set_failing(true);
  EXPECT_THAT(h.core().PutPart(Put(kLa, LaRef(kLaCode, "AO1"), LaPart("AO1"))).status(),
              StatusIs(absl::StatusCode::kUnavailable, kStoredNotLogged));
  // The write is stored; its event waits in the outbox.
  auto own = h.GetPart(kLa, LaRef(kLaCode, "AO1"));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->part().version(), 1);
  EXPECT_EQ(h.PendingEvents(), 1u);
  EXPECT_THAT(h.NewEvents(), IsEmpty());
  // A refused write while the log is down stores nothing and says so.
  EXPECT_THAT(h.core().PutPart(Put(kSchool, UpnRef(Upn(90)), SchoolPart(Upn(90)))).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the audit log could not record this refused write; nothing was stored"));
  EXPECT_EQ(h.PendingEvents(), 1u);
  // A second write queues its own event; a restart while the log is down
  // keeps both.
  h.clock().Advance(absl::Seconds(1));
  EXPECT_THAT(
      h.core().PutPart(Put(kLa, LaRef(kLaCode, "AO1"), LaPart("AO1"), own->part().etag())).status(),
      StatusIs(absl::StatusCode::kUnavailable, kStoredNotLogged));
  EXPECT_EQ(h.PendingEvents(), 2u);
  ASSERT_NE(h.NewCore(), nullptr);
  EXPECT_EQ(h.PendingEvents(), 2u);
  EXPECT_THAT(h.NewEvents(), IsEmpty());

  // The log answers again: DrainAuditOutbox appends both, oldest first.
  h.audit().set_failing(false);
  ASSERT_TRUE(h.core().DrainAuditOutbox().ok());
  std::vector<av1::AuditEvent> events = h.NewEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind(), av1::PART_PUBLISHED);
  EXPECT_EQ(events[0].part_version(), 1);
  EXPECT_EQ(events[1].part_version(), 2);
  EXPECT_THAT(events[0].idempotency_key(), StartsWith("records:"));
  EXPECT_THAT(events[1].idempotency_key(), StartsWith("records:"));
  EXPECT_NE(events[0].idempotency_key(), events[1].idempotency_key());
  EXPECT_EQ(h.PendingEvents(), 0u);
  ASSERT_TRUE(h.core().DrainAuditOutbox().ok());
  EXPECT_THAT(h.NewEvents(), IsEmpty());

  // A crash after the append, before the outbox row was deleted: start-up
  // appends it again and the idempotency key makes that a no-op.
  PendingAuditEvent replay;
  replay.id = events[1].idempotency_key().substr(std::string("records:").size());
  ASSERT_TRUE(events[1].SerializeToString(&replay.event));
  ASSERT_TRUE(
      h.storage().Transact([&](RecordsTxn& txn) { return txn.AddPendingAuditEvent(replay); }).ok());
  EXPECT_EQ(h.PendingEvents(), 1u);
  ASSERT_NE(h.NewCore(), nullptr);
  EXPECT_EQ(h.PendingEvents(), 0u);
  EXPECT_THAT(h.NewEvents(), IsEmpty());
  EXPECT_EQ(h.audit().Events().size(), 2u);

  // A pending event is appended by the next write, before that write's own.
  h.audit().set_failing(true);
  const std::string etag = h.EtagOf(kLa, LaRef(kLaCode, "AO1"));
  EXPECT_THAT(h.core().PutPart(Put(kLa, LaRef(kLaCode, "AO1"), LaPart("AO1"), etag)).status(),
              StatusIs(absl::StatusCode::kUnavailable, kStoredNotLogged));
  h.audit().set_failing(false);
  h.clock().Advance(absl::Seconds(1));
  h.MustPut(Put(kLa, LaRef(kLaCode, "AO1"), LaPart("AO1"), h.EtagOf(kLa, LaRef(kLaCode, "AO1"))));
  events = h.NewEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].part_version(), 3);
  EXPECT_EQ(events[1].part_version(), 4);
  EXPECT_EQ(h.PendingEvents(), 0u);

  // And by a new core over the same storage (start-up).
  h.audit().set_failing(true);
  EXPECT_THAT(h.core()
                  .PutPart(Put(kLa, LaRef(kLaCode, "AO1"), LaPart("AO1"),
                               h.EtagOf(kLa, LaRef(kLaCode, "AO1"))))
                  .status(),
              StatusIs(absl::StatusCode::kUnavailable, kStoredNotLogged));
  h.audit().set_failing(false);
  ASSERT_NE(h.NewCore(), nullptr);
  events = h.NewEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].part_version(), 5);
  EXPECT_EQ(h.PendingEvents(), 0u);
}

// ------------------------------------------------------ the reads' view cache

// Two cores over one store are two records processes (or replicas): each
// keeps the views its reads assembled, and neither may ever serve a view
// older than its read's own snapshot, whichever of them wrote.
TEST_P(RecordsConformanceTest, CachedViewsNeverOutliveAWriteByAnyProcess) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 71);
  const cv1::ChildRef ref = UpnRef(Upn(71));
  std::unique_ptr<RecordsCore> other = h.NewCore();
  ASSERT_NE(other, nullptr);
  auto given_name = [&](RecordsCore& core) -> std::string {
    rv1::GetRecordRequest req;
    *req.mutable_child() = ref;
    auto got = core.GetRecord(req);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? got->record().identity().given_name() : "";
  };
  auto facts = [&](RecordsCore& core) -> rv1::ChildFacts {
    rv1::GetChildFactsRequest req;
    *req.mutable_child() = ref;
    auto got = core.GetChildFacts(req);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : rv1::ChildFacts();
  };
  for (RecordsCore* core : {&h.core(), other.get()}) {
    EXPECT_EQ(given_name(*core), "Amy");
    EXPECT_EQ(given_name(*core), "Amy");
  }
  // The second read of each core came from its cache where the backend
  // keeps view generations (SQL); the fake keeps none, so nothing is cached.
  const bool cached = GetParam().name != "Fake";
  EXPECT_EQ(h.core().view_cache_stats().hits, cached ? 1 : 0);
  EXPECT_EQ(other->view_cache_stats().hits, cached ? 1 : 0);
  EXPECT_EQ(other->view_cache_stats().entries, cached ? 1 : 0);

  // A publish by the first process: the other's next read has it.
  rec::ChildRecord la_part = LaPart("C71");
  Name(la_part, cv1::SCHOOL, "100002");
  Name(la_part, cv1::HEALTH, "RJ1");
  la_part.mutable_identity()->set_given_name("Bea");
  h.MustPut(Put(kLa, ref, la_part, h.EtagOf(kLa, ref)));
  EXPECT_EQ(given_name(*other), "Bea");
  EXPECT_EQ(given_name(h.core()), "Bea");

  // A shield recorded by the other process: the first's facts name it.
  EXPECT_THAT(facts(h.core()).shielded_paths(), IsEmpty());
  rv1::RecordSharingDecisionRequest shield;
  shield.set_principal(kLa);
  shield.set_actor("test-actor");
  shield.set_request_id("req-1");
  *shield.mutable_child() = ref;
  shield.mutable_decision()->set_kind(cv1::SHIELD);
  shield.mutable_decision()->set_reason(cv1::RISK_OF_HARM_TO_A_PERSON);
  shield.mutable_decision()->set_rationale("Kinship carers' address must not reach the father.");
  shield.mutable_decision()->add_field_paths("identity.given_name");
  auto shielded = other->RecordSharingDecision(shield);
  ASSERT_TRUE(shielded.ok()) << shielded.status();
  EXPECT_THAT(facts(h.core()).shielded_paths(), ElementsAre("identity.given_name"));

  // A link rejected by the first process: the other's record loses the
  // school's part, and its cohort listing the child's school.
  ASSERT_TRUE(h.Decide(kLa, kid, cv1::SCHOOL, "100002", rec::REJECTED).ok());
  rv1::GetRecordRequest req;
  *req.mutable_child() = ref;
  auto got = other->GetRecord(req);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(PartOwners(*got), ElementsAre("4/RJ1 v1", "1/E09000033 v2"));
  EXPECT_EQ(got->record().education().enrolments_size(), 0);
  // The other process read afresh exactly where the view had changed: its
  // first read, after the publish and after the rejection (its own shield
  // write read what it decided on in its transaction, not from the cache).
  EXPECT_EQ(other->view_cache_stats().misses, cached ? 3 : 0);
}

// Readers and a writer at once (also under TSan): each reader's views of the
// child never go back in time, read after read, while the cache is filled
// and replaced under it; the last read of every reader sees the last write.
TEST_P(RecordsConformanceTest, ConcurrentReadsThroughTheCacheNeverGoBack) {
  Harness h(GetParam());
  rv1::PutPartResponse la = NewChild(h, "K75");
  const cv1::ChildRef ref = LaRef(kLaCode, "K75");
  constexpr int kWrites = 15;
  std::atomic<bool> written{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      int seen = 0;  // the highest version this reader has seen
      for (bool last = false; !last;) {
        last = written.load();
        rv1::GetChildFactsRequest about;
        *about.mutable_child() = ref;
        auto facts = h.core().GetChildFacts(about);
        ASSERT_TRUE(facts.ok()) << facts.status();
        rv1::GetRecordRequest get;
        get.mutable_child()->set_kinex_id(facts->kinex_id());
        if (t % 2 == 0) get.set_facts_version(facts->facts_version());
        auto got = h.core().GetRecord(get);
        if (!last && got.status().code() == absl::StatusCode::kAborted) continue;  // moved
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(got->parts_size(), 1);
        const int version = static_cast<int>(got->parts(0).version());
        ASSERT_GE(version, seen) << "reader " << t << " went back in time";
        seen = version;
        if (last) EXPECT_EQ(version, kWrites + 1) << "reader " << t;
      }
    });
  }
  std::string etag = la.etag();
  for (int i = 0; i < kWrites; ++i) {
    rec::ChildRecord part = LaPart("K75");
    part.mutable_identity()->set_given_name(absl::StrCat("V", i + 2));
    etag = h.MustPut(Put(kLa, ref, part, etag)).etag();
  }
  written = true;
  for (auto& r : readers) r.join();
}

// The facts a kept view derives are of one day: the day after the child
// leaves its school, a read of the same view (no write in between) no
// longer names that school.
TEST_P(RecordsConformanceTest, CachedFactsFollowTheDay) {
  Harness h(GetParam());
  KnownChild(h, 74);
  const cv1::ChildRef ref = UpnRef(Upn(74));
  const absl::CivilDay today = absl::ToCivilDay(h.clock().Now(), absl::UTCTimeZone());
  rec::ChildRecord part = SchoolPart(Upn(74), "100002");
  rec::Date* leaving = part.mutable_education()->mutable_enrolments(0)->mutable_leaving_date();
  leaving->set_year(static_cast<int>(today.year()));
  leaving->set_month(today.month());
  leaving->set_day(today.day());
  h.MustPut(Put(kSchool2, ref, part, h.EtagOf(kSchool2, ref)));
  auto facts = [&]() -> rv1::ChildFacts {
    rv1::GetChildFactsRequest req;
    *req.mutable_child() = ref;
    auto got = h.core().GetChildFacts(req);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : rv1::ChildFacts();
  };
  const rv1::ChildFacts on_the_day = facts();
  EXPECT_EQ(on_the_day.scope().current_school_urn(), "100002");
  EXPECT_EQ(facts().facts_version(), on_the_day.facts_version());
  h.clock().Advance(absl::Hours(24));
  const rv1::ChildFacts after = facts();
  EXPECT_EQ(after.scope().current_school_urn(), "");
  EXPECT_NE(after.facts_version(), on_the_day.facts_version());
  if (GetParam().name != "Fake") EXPECT_EQ(h.core().view_cache_stats().hits, 2);
}

TEST_P(RecordsConformanceTest, ViewCacheCanBeTurnedOffAndRefusesANegativeSize) {
  Harness h(GetParam());
  KnownChild(h, 72);
  kinex::testing::RecordingAuditSink audit;
  FakeClock clock;
  RecordsCore::Options o;
  o.storage = &h.storage();
  o.clock = &clock;
  o.audit = &audit;
  o.view_cache_bytes = -1;
  EXPECT_THAT(RecordsCore::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "RecordsCore: view_cache_bytes must not be negative (got -1)"));
  o.view_cache_bytes = 0;
  auto off = RecordsCore::Create(o);
  ASSERT_TRUE(off.ok()) << off.status();
  rv1::GetRecordRequest req;
  *req.mutable_child() = UpnRef(Upn(72));
  for (int i = 0; i < 2; ++i) {
    auto got = (*off)->GetRecord(req);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->record().identity().given_name(), "Amy");
  }
  const ChildViewCache::Stats stats = (*off)->view_cache_stats();
  EXPECT_EQ(stats.hits + stats.misses + stats.entries + stats.bytes, 0);
}

// ------------------------------------------------------ storage primitives

TEST_P(RecordsConformanceTest, ViewGenerationAdvancesWithEveryChangeToAView) {
  Harness h(GetParam());
  const std::string kid = KnownChild(h, 73);
  auto generation = [&](const std::string& id) -> std::optional<int64_t> {
    std::optional<int64_t> out;
    absl::Status s = h.storage().Read([&](RecordsTxn& txn) -> absl::Status {
      KINEX_ASSIGN_OR_RETURN(out, txn.ViewGeneration(id));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  };
  EXPECT_EQ(generation("kx_NOBODY"), std::nullopt);
  if (GetParam().name == "Fake") {
    // The fake keeps no generations: readers reuse nothing.
    EXPECT_EQ(generation(kid), std::nullopt);
    return;
  }
  // Each change, in its own transaction, through the storage primitives
  // (the store advances the generation, not the core).
  const std::vector<std::pair<std::string, std::function<absl::Status(RecordsTxn&)>>> changes = {
      {"a new part version and head",
       [&](RecordsTxn& txn) -> absl::Status {
         KINEX_ASSIGN_OR_RETURN(std::optional<StoredPart> part,
                                txn.LatestPart(kid, cv1::HEALTH, "RJ1"));
         if (!part.has_value()) return absl::NotFoundError("no health part");
         part->version += 1;
         return txn.InsertPart(*part);
       }},
      {"the responsible LA",
       [&](RecordsTxn& txn) { return txn.SetResponsibleLa(kid, "E08000025", absl::Now()); }},
      {"an agency link",
       [&](RecordsTxn& txn) {
         return txn.PutLink({.kinex_id = kid,
                             .agency_kind = cv1::POLICE,
                             .agency_code = "01",
                             .state = LinkState::kClaimed,
                             .update_time = absl::Now(),
                             .updated_by = kPolice});
       }},
      {"a shield",
       [&](RecordsTxn& txn) {
         return txn.InsertSharingDecision({.decision_id = "sd_GEN1",
                                           .kinex_id = kid,
                                           .kind = cv1::SHIELD,
                                           .decider_kind = cv1::LOCAL_AUTHORITY,
                                           .decider_code = kLaCode,
                                           .decided_at = absl::Now(),
                                           .payload = "x"});
       }},
      {"a shield removed",
       [&](RecordsTxn& txn) { return txn.RemoveSharingDecision("sd_GEN1", "y"); }},
  };
  std::optional<int64_t> before = generation(kid);
  ASSERT_TRUE(before.has_value());
  for (const auto& [what, change] : changes) {
    ASSERT_TRUE(h.storage().Transact(change).ok()) << what;
    const std::optional<int64_t> after = generation(kid);
    ASSERT_TRUE(after.has_value()) << what;
    EXPECT_GT(*after, *before) << what;
    before = after;
  }
  // A change that rolls back leaves it where it was.
  EXPECT_EQ(h.storage()
                .Transact([&](RecordsTxn& txn) -> absl::Status {
                  KINEX_RETURN_IF_ERROR(txn.SetResponsibleLa(kid, kLaCode, absl::Now()));
                  return absl::CancelledError("caller gave up");
                })
                .code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(generation(kid), before);
}

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
    return (*exists || found->has_value()) ? absl::InternalError("left behind") : absl::OkStatus();
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
  EXPECT_THAT(h.storage().Transact([](RecordsTxn& txn) {
    return txn.AddIdentifier(IdentifierKind::kNhsNumber, "N", "kx_B");
  }),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("another child")));
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
  EXPECT_THAT(h.storage().Transact([&](RecordsTxn& txn) { return txn.InsertPart(p); }),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("concurrent")));
  p.version = 1;
  EXPECT_TRUE(h.storage().Transact([&](RecordsTxn& txn) { return txn.InsertPart(p); }).ok());
  EXPECT_THAT(h.storage().Transact([&](RecordsTxn& txn) { return txn.InsertPart(p); }),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("concurrent")));
  EXPECT_THAT(h.storage().Transact(
                  [](RecordsTxn& txn) { return txn.CreateChild("kx_A", absl::UnixEpoch()); }),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("")));
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
    c.links = {{cv1::LOCAL_AUTHORITY, "E09000033"}, {cv1::HEALTH, "RJ1"}};
    c.responsible_la = "E09000033";
    StoredLink link;
    link.kinex_id = c.kinex_id;
    link.agency_kind = cv1::HEALTH;
    link.agency_code = "RJ1";
    link.state = LinkState::kConfirmed;
    link.update_time = h.clock().Now();
    link.updated_by = kLa;
    c.agency_links.push_back(link);
    children.push_back(std::move(c));
  }
  ASSERT_TRUE(
      h.storage()
          .Transact([&](RecordsTxn& txn) { return txn.BulkLoad(children, h.clock().Now()); })
          .ok());
  auto got = h.Get(NhsRef(Nhs(125)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record().identity().kinex_id(), "kx_BULK125");
  EXPECT_EQ(got->record().health().camhs(), kinex::record::v1::CAMHS_OPEN);
  ASSERT_EQ(got->parts_size(), 1);
  EXPECT_EQ(got->parts(0).etag(), children[25].parts[0].etag);
  EXPECT_EQ(got->record().scope().responsible_la_code(), "E09000033");
  // Bulk-loaded parts continue their version history.
  auto next =
      h.MustPut(Put(kHealth, NhsRef(Nhs(125)), HealthPart(Nhs(125)), children[25].parts[0].etag));
  EXPECT_EQ(next.version(), 2);
}

// The overdue-PEP sweep's enumeration: each child's latest part of one
// owner kind whose owner is the child's responsible LA (or its virtual
// school), paged in Kinex id order; a previous LA's parts never.
TEST_P(RecordsConformanceTest, LatestPartsOfResponsibleLaPageInKinexIdOrder) {
  Harness h(GetParam());
  auto pep = [](int day) {
    rec::ChildRecord part;
    rec::PersonalEducationPlan* p = part.mutable_education()->mutable_pep();
    p->mutable_last_review_date()->set_year(2026);
    p->mutable_last_review_date()->set_month(5);
    p->mutable_last_review_date()->set_day(day);
    p->set_status(rec::PEP_CURRENT);
    return part;
  };
  std::vector<std::string> kids;
  for (const char* id : {"V1", "V2", "V3", "V4"}) {
    kids.push_back(h.MustPut(Put(kLa, LaRef(kLaCode, id), LaPart(id))).kinex_id());
  }
  ASSERT_TRUE(std::is_sorted(kids.begin(), kids.end()));
  // V1: two versions; V2: transferred to Sandwell after its plan; V3: none;
  // V4: one version.
  const std::string etag = h.MustPut(Put(kVirtualSchool, KinexRef(kids[0]), pep(1))).etag();
  h.MustPut(Put(kVirtualSchool, KinexRef(kids[0]), pep(2), etag));
  h.MustPut(Put(kVirtualSchool, KinexRef(kids[1]), pep(3)));
  ASSERT_TRUE(h.Transfer(kLaManager, KinexRef(kids[1]), kLa2Code, "moved").ok());
  h.MustPut(Put(kVirtualSchool, KinexRef(kids[3]), pep(4)));

  auto page = [&](int kind, const std::string& after, int limit) {
    std::vector<std::string> out;
    absl::Status s = h.storage().Read([&](RecordsTxn& txn) -> absl::Status {
      auto parts = txn.LatestPartsOfResponsibleLa(kind, after, limit);
      if (!parts.ok()) return parts.status();
      for (const StoredPart& p : *parts) {
        rec::ChildRecord record;
        EXPECT_TRUE(record.ParseFromString(p.payload));
        out.push_back(absl::StrCat(p.kinex_id, " ", p.owner_kind, "/", p.owner_code, " v",
                                   p.version, " day ",
                                   record.education().pep().last_review_date().day()));
        EXPECT_EQ(p.etag, PartEtag(p));
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  };
  const int vs = cv1::VIRTUAL_SCHOOL;
  EXPECT_THAT(page(vs, "", 500), ElementsAre(absl::StrCat(kids[0], " 2/E09000033 v2 day 2"),
                                             absl::StrCat(kids[3], " 2/E09000033 v1 day 4")));
  EXPECT_THAT(page(vs, "", 1), ElementsAre(absl::StrCat(kids[0], " 2/E09000033 v2 day 2")));
  EXPECT_THAT(page(vs, kids[0], 1), ElementsAre(absl::StrCat(kids[3], " 2/E09000033 v1 day 4")));
  EXPECT_THAT(page(vs, kids[3], 1), IsEmpty());
  // The LA's own parts: V2's is Westminster's, no longer responsible.
  EXPECT_THAT(page(cv1::LOCAL_AUTHORITY, "", 500),
              ElementsAre(absl::StrCat(kids[0], " 1/E09000033 v1 day 0"),
                          absl::StrCat(kids[2], " 1/E09000033 v1 day 0"),
                          absl::StrCat(kids[3], " 1/E09000033 v1 day 0")));
  // Sandwell's virtual school publishes for V2: now it is listed.
  h.MustPut(Put("spiffe://kinex.dev/virtual-school/E08000025/virtual-school-head",
                KinexRef(kids[1]), pep(5)));
  EXPECT_THAT(page(vs, "", 500), ElementsAre(absl::StrCat(kids[0], " 2/E09000033 v2 day 2"),
                                             absl::StrCat(kids[1], " 2/E08000025 v1 day 5"),
                                             absl::StrCat(kids[3], " 2/E09000033 v1 day 4")));
}

}  // namespace
}  // namespace kinex::records::testing
