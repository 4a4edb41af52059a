// Query filter isolation: for many filter combinations, paging through
// QueryEvents returns exactly the events an independent oracle says match,
// never one outside the filters; page tokens are bound to their filters.
#include <filesystem>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/sqlite_log_storage.h"
#include "tests/audit/test_events.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_log_storage.h"
#include "tests/testing/temp_dir.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::SampleEvent;
using ::testing::HasSubstr;

// What the test knows about each appended event, independently of the log.
struct Truth {
  std::string nhs;
  kinex::common::v1::AgencyKind kind;
  std::string code;
  std::string actor;
  kinex::common::v1::Purpose purpose;
  v1::Decision decision;
  bool break_glass;
  int64_t second;  // seconds since the start
};

const std::vector<std::string> kNhs = {"9434765919", "9434765870", "9876543210"};
const std::vector<std::pair<kinex::common::v1::AgencyKind, std::string>> kAgencies = {
    {kinex::common::v1::VIRTUAL_SCHOOL, "E09000033"},
    {kinex::common::v1::HEALTH, "RJ1"},
    {kinex::common::v1::POLICE, "01"},
    {kinex::common::v1::LOCAL_AUTHORITY, "E09000033"}};
const std::vector<std::string> kActors = {"alice", "bob", "carol"};
const std::vector<kinex::common::v1::Purpose> kPurposes = {kinex::common::v1::SAFEGUARDING,
                                                           kinex::common::v1::EDUCATION_SUPPORT,
                                                           kinex::common::v1::HEALTH_CARE};
const std::vector<v1::Decision> kDecisions = {v1::ALLOW, v1::PARTIAL, v1::DENY};

class QueryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      dir_ = kinex::testing::MakeUniqueTempDir("audit-query");
      auto s =
          SqliteLogStorage::Open({.path = (dir_ / "audit.db").string(), .synchronous_full = false});
      ASSERT_TRUE(s.ok()) << s.status();
      sqlite_ = *std::move(s);
      storage_ = sqlite_.get();
    } else {
      storage_ = &fake_;
    }
    AuditLog::Options options;
    options.storage = storage_;
    options.signer = testing::TestSigner();
    options.pseudonymizer = testing::TestPseudonymizer();
    options.clock = &clock_;
    options.start_signer_thread = false;
    auto log = AuditLog::Create(std::move(options));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    start_ = clock_.Now();
    std::mt19937 rng(42);
    for (int i = 0; i < 240; ++i) {
      Truth t;
      t.nhs = kNhs[rng() % kNhs.size()];
      const auto& agency = kAgencies[rng() % kAgencies.size()];
      t.kind = agency.first;
      t.code = agency.second;
      t.actor = kActors[rng() % kActors.size()];
      t.purpose = kPurposes[rng() % kPurposes.size()];
      t.decision = kDecisions[rng() % kDecisions.size()];
      t.break_glass = rng() % 5 == 0;
      t.second = absl::ToInt64Seconds(clock_.Now() - start_);
      v1::AuditEvent e = SampleEvent(absl::StrCat("req-", i), t.nhs);
      e.set_agency_kind(t.kind);
      e.set_agency_code(t.code);
      e.set_actor(t.actor);
      e.set_purpose(t.purpose);
      e.set_decision(t.decision);
      e.set_break_glass(t.break_glass);
      ASSERT_TRUE(log_->Append(e).ok());
      truth_.push_back(t);
      if (i % 10 == 9) clock_.Advance(absl::Seconds(1));
    }
  }
  void TearDown() override {
    log_.reset();
    sqlite_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Pages through a query; returns the leaf indices, checking each returned
  // event against the filter itself too.
  std::vector<uint64_t> QueryAll(v1::QueryEventsRequest req) {
    std::vector<uint64_t> out;
    req.set_page_size(7);
    for (int pages = 0; pages < 100; ++pages) {
      auto resp = log_->QueryEvents(req);
      EXPECT_TRUE(resp.ok()) << resp.status();
      if (!resp.ok()) break;
      EXPECT_LE(resp->entries_size(), 7);
      for (const auto& e : resp->entries()) out.push_back(e.leaf_index());
      if (resp->next_page_token().empty()) break;
      req.set_page_token(resp->next_page_token());
    }
    return out;
  }

  std::vector<uint64_t> Expected(const std::function<bool(const Truth&)>& match) {
    std::vector<uint64_t> out;
    for (size_t i = 0; i < truth_.size(); ++i) {
      if (match(truth_[i])) out.push_back(i);
    }
    return out;
  }

  google::protobuf::Timestamp At(int64_t second) {
    google::protobuf::Timestamp t;
    t.set_seconds(absl::ToUnixSeconds(start_) + second);
    return t;
  }

  FakeClock clock_;
  absl::Time start_;
  FakeLogStorage fake_;
  std::filesystem::path dir_;
  std::unique_ptr<SqliteLogStorage> sqlite_;
  LogStorage* storage_ = nullptr;
  std::unique_ptr<AuditLog> log_;
  std::vector<Truth> truth_;
};

TEST_P(QueryTest, EachFilterReturnsExactlyItsEvents) {
  EXPECT_EQ(QueryAll({}), Expected([](const Truth&) { return true; }));
  for (const std::string& nhs : kNhs) {
    v1::QueryEventsRequest req;
    req.mutable_child()->set_nhs_number(nhs);
    EXPECT_EQ(QueryAll(req), Expected([&](const Truth& t) { return t.nhs == nhs; })) << nhs;
  }
  for (const auto& agency : kAgencies) {
    const auto kind = agency.first;
    const std::string& code = agency.second;
    v1::QueryEventsRequest req;
    req.set_agency_kind(kind);
    req.set_agency_code(code);
    EXPECT_EQ(QueryAll(req),
              Expected([&](const Truth& t) { return t.kind == kind && t.code == code; }));
  }
  for (const std::string& actor : kActors) {
    v1::QueryEventsRequest req;
    req.set_actor(actor);
    EXPECT_EQ(QueryAll(req), Expected([&](const Truth& t) { return t.actor == actor; }));
  }
  for (auto purpose : kPurposes) {
    v1::QueryEventsRequest req;
    req.set_purpose(purpose);
    EXPECT_EQ(QueryAll(req), Expected([&](const Truth& t) { return t.purpose == purpose; }));
  }
  for (auto decision : kDecisions) {
    v1::QueryEventsRequest req;
    req.set_decision(decision);
    EXPECT_EQ(QueryAll(req), Expected([&](const Truth& t) { return t.decision == decision; }));
  }
  v1::QueryEventsRequest bg;
  bg.set_break_glass_only(true);
  EXPECT_EQ(QueryAll(bg), Expected([](const Truth& t) { return t.break_glass; }));
  v1::QueryEventsRequest range;
  *range.mutable_start_time() = At(5);
  *range.mutable_end_time() = At(12);
  EXPECT_EQ(QueryAll(range),
            Expected([](const Truth& t) { return t.second >= 5 && t.second < 12; }));
}

TEST_P(QueryTest, CombinedFiltersNeverLeak) {
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    v1::QueryEventsRequest req;
    std::optional<std::string> nhs;
    if (rng() % 2) nhs = kNhs[rng() % kNhs.size()];
    if (nhs) req.mutable_child()->set_nhs_number(*nhs);
    std::optional<std::string> actor;
    if (rng() % 2) actor = kActors[rng() % kActors.size()];
    if (actor) req.set_actor(*actor);
    std::optional<kinex::common::v1::AgencyKind> kind;
    if (rng() % 2) kind = kAgencies[rng() % kAgencies.size()].first;
    if (kind) req.set_agency_kind(*kind);
    std::optional<kinex::common::v1::Purpose> purpose;
    if (rng() % 2) purpose = kPurposes[rng() % kPurposes.size()];
    if (purpose) req.set_purpose(*purpose);
    const bool bg = rng() % 4 == 0;
    req.set_break_glass_only(bg);
    const int64_t from = rng() % 24;
    *req.mutable_start_time() = At(from);
    EXPECT_EQ(QueryAll(req), Expected([&](const Truth& t) {
                return (!nhs || t.nhs == *nhs) && (!actor || t.actor == *actor) &&
                       (!kind || t.kind == *kind) && (!purpose || t.purpose == *purpose) &&
                       (!bg || t.break_glass) && t.second >= from;
              }))
        << req.ShortDebugString();
  }
}

TEST_P(QueryTest, PageTokensAreBoundToTheAuditor) {
  AuditLog::QueryCaller a;
  a.principal = "spiffe://kinex.dev/auditor/kinex-dpo/auditor";
  a.agency_kind = kinex::common::v1::AUDITOR;
  a.agency_code = "kinex-dpo";
  a.actor = "dpo";
  a.request_id = "query-a";
  v1::QueryEventsRequest req;
  req.set_actor("alice");
  req.set_page_size(5);
  auto first = log_->AuditedQueryEvents(a, req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  req.set_page_token(first->next_page_token());
  a.request_id = "query-a2";
  EXPECT_TRUE(log_->AuditedQueryEvents(a, req).ok());
  AuditLog::QueryCaller b = a;
  b.principal = "spiffe://kinex.dev/auditor/ico/auditor";
  b.agency_code = "ico";
  b.request_id = "query-b";
  auto replayed = log_->AuditedQueryEvents(b, req);
  EXPECT_EQ(replayed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(replayed.status().message(),
            "page_token: not a token from QueryEvents for this caller and filter (list again "
            "from the first page)");
}

TEST_P(QueryTest, PageTokensAreBoundToTheirFilters) {
  v1::QueryEventsRequest req;
  req.set_actor("alice");
  req.set_page_size(5);
  auto first = log_->QueryEvents(req);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token().empty());
  v1::QueryEventsRequest other;
  other.set_actor("bob");
  other.set_page_token(first->next_page_token());
  auto r = log_->QueryEvents(other);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "page_token: not a token from QueryEvents for this caller and filter (list again "
            "from the first page)");
  other.set_page_token("garbage!");
  r = log_->QueryEvents(other);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "page_token: not a token from QueryEvents");
  // A forged resume position (the token's bytes altered) is refused too.
  std::string forged = first->next_page_token();
  forged[2] = forged[2] == 'A' ? 'B' : 'A';
  req.set_page_token(forged);
  EXPECT_EQ(log_->QueryEvents(req).status().code(), absl::StatusCode::kInvalidArgument);
  // AIP-158: a page size above the maximum is served as the maximum.
  v1::QueryEventsRequest big;
  big.set_page_size(1001);
  EXPECT_TRUE(log_->QueryEvents(big).ok());
  big.set_page_size(-1);
  EXPECT_EQ(log_->QueryEvents(big).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->QueryEvents(big).status().message(), "page_size: must not be negative (got -1)");
  v1::QueryEventsRequest bad_child;
  bad_child.mutable_child()->set_nhs_number("123");
  EXPECT_EQ(log_->QueryEvents(bad_child).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(QueryTest, PagingIsStableWhileTheLogGrows) {
  v1::QueryEventsRequest req;
  req.set_page_size(100);
  auto first = log_->QueryEvents(req);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(log_->Append(SampleEvent("late")).ok());
  req.set_page_token(first->next_page_token());
  std::vector<uint64_t> rest;
  while (true) {
    auto page = log_->QueryEvents(req);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->entries()) rest.push_back(e.leaf_index());
    if (page->next_page_token().empty()) break;
    req.set_page_token(page->next_page_token());
  }
  // The appended event (index 240) is after the snapshot the pages cover.
  EXPECT_EQ(rest.size(), 140u);
  EXPECT_EQ(rest.back(), 239u);
}

INSTANTIATE_TEST_SUITE_P(Storage, QueryTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "sqlite" : "fake"; });

}  // namespace
}  // namespace kinex::audit
