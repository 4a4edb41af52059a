// The LogStorage conformance tests (instantiated per backend elsewhere).
#include "tests/audit/log_storage_conformance.h"

#include "gmock/gmock.h"
#include "services/audit/event_codec.h"
#include "services/audit/tree_head.h"
#include "tests/audit/test_events.h"

namespace kinex::audit::testing {
namespace {

using ::testing::HasSubstr;

// Entries [first, first + n) with varied query columns.
std::vector<NewEntry> MakeEntries(uint64_t first, int n) {
  auto pseudonymizer = TestPseudonymizer();
  std::vector<NewEntry> out;
  for (int i = 0; i < n; ++i) {
    const uint64_t index = first + i;
    v1::AuditEvent e = SampleEvent(absl::StrCat("req-", index), index % 2 == 0 ? kNhsA : kNhsB);
    e.set_actor(index % 3 == 0 ? "alice" : "bob");
    e.set_agency_code(index % 4 == 0 ? "E09000033" : "E08000025");
    e.set_purpose(index % 5 == 0 ? kinex::common::v1::SAFEGUARDING
                                 : kinex::common::v1::EDUCATION_SUPPORT);
    e.set_decision(index % 7 == 0 ? v1::DENY : v1::PARTIAL);
    e.set_break_glass(index % 11 == 0);
    EXPECT_TRUE(PseudonymizeChildren(*pseudonymizer, e).ok());
    e.mutable_time()->set_seconds(1788249600 + index);
    std::string leaf = *EncodeEvent(index, e);
    const Hash h = HashLeaf(leaf);
    out.push_back(MakeNewEntry(index, h, std::move(leaf), e));
  }
  return out;
}

v1::SignedTreeHead Head(uint64_t size, int64_t seconds) {
  static const auto* signer = TreeHeadSigner::Generate()->release();
  return *signer->Sign(size, HashLeaf(absl::StrCat(size)), absl::FromUnixSeconds(seconds));
}

std::vector<StoredEntry> ReadAll(LogStorage& storage) {
  std::vector<StoredEntry> rows;
  EXPECT_TRUE(storage
                  .ReadEntries(0, UINT64_MAX,
                               [&](const StoredEntry& e) {
                                 rows.push_back(e);
                                 return absl::OkStatus();
                               })
                  .ok());
  return rows;
}

TEST_P(LogStorageConformanceTest, StartsEmpty) {
  EXPECT_EQ(*storage_->Size(), 0u);
  EXPECT_FALSE(storage_->LatestHead()->has_value());
  EXPECT_TRUE(storage_->ListHeads()->empty());
  EXPECT_TRUE(ReadAll(*storage_).empty());
  EXPECT_TRUE(storage_->Query(QueryFilter{}, 10)->empty());
}

TEST_P(LogStorageConformanceTest, AppendStoresEntriesAndHeadTogether) {
  const std::vector<NewEntry> batch = MakeEntries(0, 5);
  const v1::SignedTreeHead head = Head(5, 100);
  ASSERT_TRUE(storage_->Append(batch, &head).ok());
  EXPECT_EQ(*storage_->Size(), 5u);
  std::vector<StoredEntry> rows = ReadAll(*storage_);
  ASSERT_EQ(rows.size(), 5u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].leaf_index, i);
    EXPECT_EQ(rows[i].leaf_hash, batch[i].entry.leaf_hash);
    EXPECT_EQ(rows[i].leaf_data, batch[i].entry.leaf_data);
  }
  ASSERT_TRUE(storage_->LatestHead()->has_value());
  EXPECT_EQ((*storage_->LatestHead())->SerializeAsString(), head.SerializeAsString());
}

TEST_P(LogStorageConformanceTest, AppendAtTheWrongIndexWritesNothing) {
  ASSERT_TRUE(storage_->Append(MakeEntries(0, 3), nullptr).ok());
  const v1::SignedTreeHead head = Head(7, 100);
  absl::Status s = storage_->Append(MakeEntries(4, 3), &head);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("append at leaf index 4"));
  EXPECT_EQ(*storage_->Size(), 3u);
  EXPECT_TRUE(storage_->ListHeads()->empty());
  s = storage_->Append(MakeEntries(2, 1), nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadAll(*storage_).size(), 3u);
}

TEST_P(LogStorageConformanceTest, HeadsAreKeptInOrder) {
  ASSERT_TRUE(storage_->AddHead(Head(0, 100)).ok());
  const v1::SignedTreeHead h1 = Head(2, 101);
  ASSERT_TRUE(storage_->Append(MakeEntries(0, 2), &h1).ok());
  ASSERT_TRUE(storage_->AddHead(Head(2, 160)).ok());
  std::vector<v1::SignedTreeHead> heads = *storage_->ListHeads();
  ASSERT_EQ(heads.size(), 3u);
  EXPECT_EQ(heads[0].tree_size(), 0u);
  EXPECT_EQ(heads[1].SerializeAsString(), h1.SerializeAsString());
  EXPECT_EQ(heads[2].timestamp().seconds(), 160);
  EXPECT_EQ((*storage_->LatestHead())->timestamp().seconds(), 160);
}

TEST_P(LogStorageConformanceTest, DataSurvivesReopen) {
  const v1::SignedTreeHead head = Head(4, 100);
  ASSERT_TRUE(storage_->Append(MakeEntries(0, 4), &head).ok());
  auto reopened = backend_->Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage_ = *reopened;
  EXPECT_EQ(*storage_->Size(), 4u);
  EXPECT_EQ(ReadAll(*storage_).size(), 4u);
  EXPECT_EQ((*storage_->LatestHead())->tree_size(), 4u);
  ASSERT_TRUE(storage_->Append(MakeEntries(4, 1), nullptr).ok());
  EXPECT_EQ(*storage_->Size(), 5u);
}

TEST_P(LogStorageConformanceTest, ReadEntriesHonoursBounds) {
  ASSERT_TRUE(storage_->Append(MakeEntries(0, 10), nullptr).ok());
  std::vector<uint64_t> seen;
  ASSERT_TRUE(storage_
                  ->ReadEntries(3, 6,
                                [&](const StoredEntry& e) {
                                  seen.push_back(e.leaf_index);
                                  return absl::OkStatus();
                                })
                  .ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 4, 5}));
  absl::Status stop = storage_->ReadEntries(0, 10, [](const StoredEntry& e) {
    return e.leaf_index == 2 ? absl::CancelledError("stop") : absl::OkStatus();
  });
  EXPECT_EQ(stop.code(), absl::StatusCode::kCancelled);
}

TEST_P(LogStorageConformanceTest, QueryMatchesExactlyTheFilteredRows) {
  const std::vector<NewEntry> all = MakeEntries(0, 60);
  ASSERT_TRUE(storage_->Append(all, nullptr).ok());
  auto pseudonymizer = TestPseudonymizer();
  kinex::common::v1::ChildRef child;
  child.set_nhs_number(kNhsB);
  const std::string pseudonym_b = *pseudonymizer->Pseudonym(child);

  std::vector<QueryFilter> filters(9);
  filters[1].child_pseudonym = pseudonym_b;
  filters[2].actor = "alice";
  filters[3].agency_code = "E09000033";
  filters[3].agency_kind = kinex::common::v1::VIRTUAL_SCHOOL;
  filters[4].purpose = kinex::common::v1::SAFEGUARDING;
  filters[5].decision = v1::DENY;
  filters[6].break_glass_only = true;
  filters[7].begin_index = 10;
  filters[7].end_index = 20;
  filters[7].actor = "bob";
  filters[8].child_pseudonym = pseudonym_b;
  filters[8].actor = "alice";
  filters[8].agency_kind = kinex::common::v1::POLICE;  // matches nothing
  for (size_t f = 0; f < filters.size(); ++f) {
    std::vector<uint64_t> expected;
    for (const NewEntry& e : all) {
      absl::StatusOr<DecodedLeaf> d = DecodeEvent(e.entry.leaf_data);
      if (MatchesFilter(filters[f], e.entry.leaf_index, d->event)) {
        expected.push_back(e.entry.leaf_index);
      }
    }
    std::vector<uint64_t> got;
    absl::StatusOr<std::vector<StoredEntry>> rows = storage_->Query(filters[f], 1000);
    ASSERT_TRUE(rows.ok()) << rows.status();
    for (const StoredEntry& e : *rows) got.push_back(e.leaf_index);
    EXPECT_EQ(got, expected) << "filter " << f;
  }
  // Limit and order.
  std::vector<StoredEntry> page = *storage_->Query(filters[2], 3);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].leaf_index, 0u);
  EXPECT_EQ(page[1].leaf_index, 3u);
  EXPECT_EQ(page[2].leaf_index, 6u);
}

TEST_P(LogStorageConformanceTest, ChildIndexRowsComeInLeafOrder) {
  std::vector<NewEntry> batch = MakeEntries(0, 6);
  batch[3].child_pseudonyms = {"aa", "bb", "cc"};  // several rows for one leaf
  ASSERT_TRUE(storage_->Append(batch, nullptr).ok());
  std::vector<std::pair<uint64_t, std::string>> expected;
  for (uint64_t i = 1; i < 5; ++i) {
    for (const std::string& p : batch[i].child_pseudonyms) expected.push_back({i, p});
  }
  std::vector<std::pair<uint64_t, std::string>> got;
  ASSERT_TRUE(storage_
                  ->ReadChildIndex(1, 5,
                                   [&](const IndexRow& r) {
                                     got.push_back({r.leaf_index, r.pseudonym});
                                     return absl::OkStatus();
                                   })
                  .ok());
  EXPECT_EQ(got, expected);
  // Bounds past the end, and stopping early.
  int rows = 0;
  ASSERT_TRUE(storage_
                  ->ReadChildIndex(6, UINT64_MAX,
                                   [&](const IndexRow&) {
                                     ++rows;
                                     return absl::OkStatus();
                                   })
                  .ok());
  EXPECT_EQ(rows, 0);
  absl::Status stop = storage_->ReadChildIndex(0, UINT64_MAX, [](const IndexRow& r) {
    return r.leaf_index == 3 ? absl::CancelledError("stop") : absl::OkStatus();
  });
  EXPECT_EQ(stop.code(), absl::StatusCode::kCancelled);
}

TEST_P(LogStorageConformanceTest, IdempotencyKeysAreStoredWithTheirLeaf) {
  std::vector<NewEntry> batch = MakeEntries(0, 3);
  batch[1].idempotency_key = "records:part:kx1:v3";
  const v1::SignedTreeHead head = Head(3, 100);
  ASSERT_TRUE(storage_->Append(batch, &head).ok());
  EXPECT_EQ(**storage_->LookupIdempotencyKey("records:part:kx1:v3"), 1u);
  EXPECT_FALSE(storage_->LookupIdempotencyKey("other")->has_value());
  // A key stored twice fails the whole batch.
  std::vector<NewEntry> again = MakeEntries(3, 2);
  again[1].idempotency_key = "records:part:kx1:v3";
  EXPECT_FALSE(storage_->Append(again, nullptr).ok());
  EXPECT_EQ(*storage_->Size(), 3u);
  // Across a reopen.
  auto reopened = backend_->Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage_ = *reopened;
  EXPECT_EQ(**storage_->LookupIdempotencyKey("records:part:kx1:v3"), 1u);
}

}  // namespace
}  // namespace kinex::audit::testing
