// The LogStorage conformance tests (instantiated per backend elsewhere).
#include "tests/audit/log_storage_conformance.h"

#include "gmock/gmock.h"
#include "kinex/notifications/v1/notifications.pb.h"
#include "services/audit/event_codec.h"
#include "services/audit/tree_head.h"
#include "tests/audit/test_events.h"

namespace kinex::audit::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
namespace nv1 = ::kinex::notifications::v1;

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

std::vector<std::pair<uint64_t, TreeBlock>> ReadBlocks(LogStorage& storage, uint64_t begin,
                                                       uint64_t end) {
  std::vector<std::pair<uint64_t, TreeBlock>> rows;
  EXPECT_TRUE(storage
                  .ReadTreeBlocks(begin, end,
                                  [&](uint64_t index, const TreeBlock& block) {
                                    rows.emplace_back(index, block);
                                    return absl::OkStatus();
                                  })
                  .ok());
  return rows;
}

TreeBlock Block(int n) { return {.hash = HashLeaf(absl::StrCat("block ", n)), .first_micros = n}; }

// Checkpoints: the newest is read back, block rows are replaced from the
// first one given, and both survive a reopen.
TEST_P(LogStorageConformanceTest, CheckpointsAndTreeBlocksAreStoredTogether) {
  EXPECT_FALSE(storage_->LatestCheckpoint()->has_value());
  const std::vector<TreeBlock> first = {Block(0), Block(1)};
  ASSERT_TRUE(storage_->PutCheckpoint(0, first, 128, "checkpoint at 128").ok());
  EXPECT_EQ(**storage_->LatestCheckpoint(), "checkpoint at 128");
  const std::vector<TreeBlock> second = {Block(11), Block(12), Block(13)};
  ASSERT_TRUE(storage_->PutCheckpoint(1, second, 256, "checkpoint at 256").ok());
  auto reopened = backend_->Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage_ = *reopened;
  EXPECT_EQ(**storage_->LatestCheckpoint(), "checkpoint at 256");
  const auto all = ReadBlocks(*storage_, 0, 100);
  ASSERT_EQ(all.size(), 4u);
  const int expected[] = {0, 11, 12, 13};
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].first, i);
    EXPECT_EQ(all[i].second.hash, Block(expected[i]).hash);
    EXPECT_EQ(all[i].second.first_micros, expected[i]);
  }
  const auto middle = ReadBlocks(*storage_, 1, 3);
  ASSERT_EQ(middle.size(), 2u);
  EXPECT_EQ(middle[0].first, 1u);
  EXPECT_EQ(middle[1].first, 2u);
  // A checkpoint at a smaller size (a log restarted from an older one)
  // replaces the newer ones.
  ASSERT_TRUE(storage_->PutCheckpoint(1, {}, 100, "checkpoint at 100").ok());
  EXPECT_EQ(**storage_->LatestCheckpoint(), "checkpoint at 100");
  EXPECT_EQ(ReadBlocks(*storage_, 0, 100).size(), 1u);
}

// A block row's eighths are stored with it when given, replaced with it,
// and read back as stored.
TEST_P(LogStorageConformanceTest, BlockEighthsAreStoredWithTheirBlock) {
  auto eighths_of = [](int n) {
    std::vector<Hash> out;
    for (int e = 0; e < 8; ++e) out.push_back(HashLeaf(absl::StrCat("block ", n, " eighth ", e)));
    return out;
  };
  EXPECT_EQ(*storage_->ReadBlockEighths(0), std::nullopt);
  std::vector<TreeBlock> first = {Block(0), Block(1), Block(2)};
  first[0].eighths = eighths_of(0);
  first[2].eighths = eighths_of(2);
  ASSERT_TRUE(storage_->PutCheckpoint(0, first, 192, "checkpoint at 192").ok());
  EXPECT_EQ(*storage_->ReadBlockEighths(0), eighths_of(0));
  EXPECT_EQ(*storage_->ReadBlockEighths(1), std::nullopt);
  EXPECT_EQ(*storage_->ReadBlockEighths(2), eighths_of(2));
  EXPECT_EQ(*storage_->ReadBlockEighths(3), std::nullopt);
  // Rows from block 1 on are replaced, eighths with them.
  std::vector<TreeBlock> second = {Block(11), Block(12)};
  second[0].eighths = eighths_of(11);
  ASSERT_TRUE(storage_->PutCheckpoint(1, second, 192, "checkpoint at 192 again").ok());
  auto reopened = backend_->Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage_ = *reopened;
  EXPECT_EQ(*storage_->ReadBlockEighths(0), eighths_of(0));
  EXPECT_EQ(*storage_->ReadBlockEighths(1), eighths_of(11));
  EXPECT_EQ(*storage_->ReadBlockEighths(2), std::nullopt);
  EXPECT_EQ(ReadBlocks(*storage_, 0, 10).size(), 3u);
}

TEST_P(LogStorageConformanceTest, ReadLeafHashesReturnsTheStoredHashesInOrder) {
  const std::vector<NewEntry> entries = MakeEntries(0, 5);
  ASSERT_TRUE(storage_->Append(entries, nullptr).ok());
  auto hashes = storage_->ReadLeafHashes(1, 4);
  ASSERT_TRUE(hashes.ok()) << hashes.status();
  ASSERT_EQ(hashes->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*hashes)[i], entries[i + 1].entry.leaf_hash);
  EXPECT_EQ(storage_->ReadLeafHashes(5, 9)->size(), 0u);
  EXPECT_EQ(storage_->ReadLeafHashes(3, UINT64_MAX)->size(), 2u);
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

  std::vector<QueryFilter> filters(10);
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
  filters[9].child_pseudonym = pseudonym_b;            // one child within a range
  filters[9].begin_index = 10;
  filters[9].end_index = 40;
  // The leaves each filter must match, in leaf order.
  std::vector<std::vector<uint64_t>> expected(filters.size());
  for (size_t f = 0; f < filters.size(); ++f) {
    for (const NewEntry& e : all) {
      absl::StatusOr<DecodedLeaf> d = DecodeEvent(e.entry.leaf_data);
      if (MatchesFilter(filters[f], e.entry.leaf_index, d->event)) {
        expected[f].push_back(e.entry.leaf_index);
      }
    }
    std::vector<uint64_t> got;
    absl::StatusOr<std::vector<StoredEntry>> rows = storage_->Query(filters[f], 1000);
    ASSERT_TRUE(rows.ok()) << rows.status();
    for (const StoredEntry& e : *rows) got.push_back(e.leaf_index);
    EXPECT_EQ(got, expected[f]) << "filter " << f;
  }
  // Limit and order.
  std::vector<StoredEntry> page = *storage_->Query(filters[2], 3);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].leaf_index, 0u);
  EXPECT_EQ(page[1].leaf_index, 3u);
  EXPECT_EQ(page[2].leaf_index, 6u);
  // Limit and order for one child: its first entries of the range, in order.
  const std::vector<uint64_t>& child_in_range = expected[9];
  ASSERT_GE(child_in_range.size(), 3u);
  absl::StatusOr<std::vector<StoredEntry>> first_two = storage_->Query(filters[9], 2);
  ASSERT_TRUE(first_two.ok()) << first_two.status();
  std::vector<uint64_t> child_page;
  for (const StoredEntry& e : *first_two) child_page.push_back(e.leaf_index);
  EXPECT_EQ(child_page, (std::vector<uint64_t>{child_in_range[0], child_in_range[1]}));
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

// A batch that fails after numbering a new child gives it no number: the
// child's next entry is indexed under the child, not under whichever child
// was numbered next (the numbers the store keeps for pseudonyms it has seen
// are kept only once their batch commits).
TEST_P(LogStorageConformanceTest, AFailedAppendGivesNoChildANumber) {
  std::vector<NewEntry> first = MakeEntries(0, 1);
  first[0].child_pseudonyms = {"aa"};
  first[0].idempotency_key = "k1";
  ASSERT_TRUE(storage_->Append(first, nullptr).ok());
  std::vector<NewEntry> failing = MakeEntries(1, 2);
  failing[0].child_pseudonyms = {"pp"};  // new: numbered, then rolled back
  failing[1].idempotency_key = "k1";     // already stored: the batch fails
  ASSERT_FALSE(storage_->Append(failing, nullptr).ok());
  std::vector<NewEntry> other = MakeEntries(1, 1);
  other[0].child_pseudonyms = {"qq"};
  ASSERT_TRUE(storage_->Append(other, nullptr).ok());
  std::vector<NewEntry> again = MakeEntries(2, 1);
  again[0].child_pseudonyms = {"pp"};
  ASSERT_TRUE(storage_->Append(again, nullptr).ok());
  std::vector<std::pair<uint64_t, std::string>> got;
  ASSERT_TRUE(storage_
                  ->ReadChildIndex(0, UINT64_MAX,
                                   [&](const IndexRow& r) {
                                     got.push_back({r.leaf_index, r.pseudonym});
                                     return absl::OkStatus();
                                   })
                  .ok());
  EXPECT_THAT(got, ElementsAre(Pair(0, "aa"), Pair(1, "qq"), Pair(2, "pp")));
}

// Likewise a principal first seen in a batch that fails: the number it was
// given is rolled back with the batch, so the next entry by it must not
// reuse that number, or a query by it would miss the entry.
TEST_P(LogStorageConformanceTest, AFailedAppendGivesNoPrincipalANumber) {
  std::vector<NewEntry> first = MakeEntries(0, 1);
  first[0].idempotency_key = "k1";
  ASSERT_TRUE(storage_->Append(first, nullptr).ok());
  std::vector<NewEntry> failing = MakeEntries(1, 2);
  failing[0].actor = "carol";         // new: numbered, then rolled back
  failing[1].idempotency_key = "k1";  // already stored: the batch fails
  ASSERT_FALSE(storage_->Append(failing, nullptr).ok());
  std::vector<NewEntry> other = MakeEntries(1, 1);
  other[0].actor = "dave";
  ASSERT_TRUE(storage_->Append(other, nullptr).ok());
  std::vector<NewEntry> again = MakeEntries(2, 2);
  again[0].actor = "carol";
  again[1].actor = "carol";  // twice in one batch: one number
  ASSERT_TRUE(storage_->Append(again, nullptr).ok());
  const auto leaves_by = [&](const QueryFilter& filter) {
    std::vector<uint64_t> out;
    absl::StatusOr<std::vector<StoredEntry>> found = storage_->Query(filter, 10);
    EXPECT_TRUE(found.ok()) << found.status();
    for (const StoredEntry& e : found.value_or(std::vector<StoredEntry>{})) {
      out.push_back(e.leaf_index);
    }
    return out;
  };
  EXPECT_THAT(leaves_by({.actor = "carol"}), ElementsAre(2, 3));
  EXPECT_THAT(leaves_by({.actor = "dave"}), ElementsAre(1));
  EXPECT_THAT(leaves_by({.actor = "alice"}), ElementsAre(0));
  EXPECT_THAT(leaves_by({.agency_code = "E09000033", .actor = "carol"}), IsEmpty());
  EXPECT_THAT(leaves_by({.agency_code = "E08000025", .actor = "carol"}), ElementsAre(2, 3));
  // And across a reopen, with nothing remembered.
  auto reopened = backend_->Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage_ = *reopened;
  std::vector<NewEntry> last = MakeEntries(4, 1);
  last[0].actor = "carol";
  ASSERT_TRUE(storage_->Append(last, nullptr).ok());
  EXPECT_THAT(leaves_by({.actor = "carol"}), ElementsAre(2, 3, 4));
}

// Heads of two keys (a rotation), the new key's first head in a batch that
// fails: every stored head reads back with its own key id, also across a
// reopen. (A number given and then rolled back with the head that used it:
// child_index_schema_test, which can make the head's own insert fail.)
TEST_P(LogStorageConformanceTest, HeadsOfARotatedKeyReadBackWithTheirKeyIds) {
  std::vector<NewEntry> first = MakeEntries(0, 1);
  first[0].idempotency_key = "k1";
  const v1::SignedTreeHead head1 = Head(1, 100);
  ASSERT_TRUE(storage_->Append(first, &head1).ok());
  v1::SignedTreeHead rotated = Head(2, 101);
  rotated.set_key_id("rotated-key");  // new: numbered, then rolled back
  std::vector<NewEntry> failing = MakeEntries(1, 1);
  failing[0].idempotency_key = "k1";  // already stored: the batch fails
  ASSERT_FALSE(storage_->Append(failing, &rotated).ok());
  ASSERT_TRUE(storage_->AddHead(Head(1, 102)).ok());
  ASSERT_TRUE(storage_->Append(MakeEntries(1, 1), &rotated).ok());
  rotated.set_tree_size(3);
  ASSERT_TRUE(storage_->AddHead(rotated).ok());
  const auto key_ids = [&] {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<v1::SignedTreeHead>> heads = storage_->ListHeads();
    EXPECT_TRUE(heads.ok()) << heads.status();
    for (const v1::SignedTreeHead& h : heads.value_or(std::vector<v1::SignedTreeHead>{})) {
      out.push_back(absl::StrCat(h.tree_size(), ":",
                                 h.key_id() == head1.key_id() ? "head1's key" : h.key_id()));
    }
    return out;
  };
  EXPECT_THAT(key_ids(),
              ElementsAre("1:head1's key", "1:head1's key", "2:rotated-key", "3:rotated-key"));
  auto reopened = backend_->Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage_ = *reopened;
  EXPECT_THAT(key_ids(),
              ElementsAre("1:head1's key", "1:head1's key", "2:rotated-key", "3:rotated-key"));
  EXPECT_EQ((*storage_->LatestHead())->key_id(), "rotated-key");
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

// Notifications (docs/notifications.md): rows beside the log, written in the
// transaction of their entry, whose delivery state changes once per kind of
// change.

constexpr int kLa = kinex::common::v1::LOCAL_AUTHORITY;
constexpr int kSchool = kinex::common::v1::SCHOOL;
constexpr int kPolice = kinex::common::v1::POLICE;

// A pending notification `leaf`.`ordinal`, with a payload that is not text.
StoredNotification Note(uint64_t leaf, uint32_t ordinal, int recipient_kind,
                        std::string recipient_code, int kind, int64_t created_us = 1000,
                        int64_t deadline_us = 0) {
  StoredNotification n;
  n.key = {leaf, ordinal};
  n.recipient_kind = recipient_kind;
  n.recipient_code = std::move(recipient_code);
  n.kind = kind;
  n.created_us = created_us;
  n.deadline_us = deadline_us;
  n.payload = absl::StrCat(std::string("\x00\xff\x0a", 3), leaf, ".", ordinal);
  return n;
}

NotificationChange Change(NotificationChange::Type type, uint64_t leaf, uint32_t ordinal,
                          uint64_t recorded_by, int64_t at_us = 0, std::string by = "") {
  NotificationChange c;
  c.type = type;
  c.key = {leaf, ordinal};
  c.leaf_index = recorded_by;
  c.at_us = at_us;
  c.by = std::move(by);
  return c;
}

// One entry at `index` that records `changes`.
std::vector<NewEntry> Recording(uint64_t index, std::vector<NotificationChange> changes) {
  std::vector<NewEntry> batch = MakeEntries(index, 1);
  batch[0].changes = std::move(changes);
  return batch;
}

std::vector<std::string> Ids(const std::vector<StoredNotification>& rows) {
  std::vector<std::string> out;
  for (const StoredNotification& n : rows) out.push_back(NotificationId(n.key));
  return out;
}

// The ids of what `query` reads (up to 100).
std::vector<std::string> Read(LogStorage& storage, const NotificationQuery& query) {
  absl::StatusOr<std::vector<StoredNotification>> rows = storage.ReadNotifications(query, 100);
  EXPECT_TRUE(rows.ok()) << rows.status();
  return rows.ok() ? Ids(*rows) : std::vector<std::string>{"error"};
}

// The one stored notification `leaf`.`ordinal`.
StoredNotification ReadOne(LogStorage& storage, uint64_t leaf, uint32_t ordinal) {
  absl::StatusOr<std::vector<StoredNotification>> rows =
      storage.ReadNotifications({.keys = {{leaf, ordinal}}}, 10);
  EXPECT_TRUE(rows.ok()) << rows.status();
  if (!rows.ok() || rows->size() != 1) {
    ADD_FAILURE() << "notification " << leaf << "." << ordinal << " not read back once";
    return {};
  }
  return (*rows)[0];
}

void ExpectSameNotification(const StoredNotification& got, const StoredNotification& want) {
  EXPECT_EQ(NotificationId(got.key), NotificationId(want.key));
  EXPECT_EQ(got.recipient_kind, want.recipient_kind);
  EXPECT_EQ(got.recipient_code, want.recipient_code);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.created_us, want.created_us);
  EXPECT_EQ(got.deadline_us, want.deadline_us);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.delivered_us, want.delivered_us);
  EXPECT_EQ(got.acked_us, want.acked_us);
  EXPECT_EQ(got.acked_by, want.acked_by);
  EXPECT_EQ(got.review_outcome, want.review_outcome);
  EXPECT_EQ(got.review_note, want.review_note);
  EXPECT_EQ(got.escalated_leaf, want.escalated_leaf);
  EXPECT_EQ(got.payload, want.payload);
}

TEST_P(LogStorageConformanceTest, AnEmptyStoreHasNoNotifications) {
  EXPECT_THAT(Read(*storage_, {}), IsEmpty());
  absl::StatusOr<NotificationStats> stats = storage_->ReadNotificationStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->unacknowledged, 0);
  EXPECT_EQ(stats->oldest_unacknowledged_us, 0);
  EXPECT_EQ(stats->deadline_misses, 0);
  EXPECT_EQ(stats->open_reviews, 0);
}

TEST_P(LogStorageConformanceTest, NotificationsAreStoredWithTheirEntry) {
  std::vector<NewEntry> batch = MakeEntries(0, 3);
  StoredNotification pending = Note(1, 0, kLa, "E09000033", nv1::ACCESS, 1788249601000000);
  // Every column set, none at its default, to see each read back.
  StoredNotification full =
      Note(1, 1, kSchool, "100001", nv1::ENCOMPASS, 1788249601000001, 1788336000000000);
  full.state = nv1::ACKNOWLEDGED;
  full.delivered_us = 1788249602000000;
  full.acked_us = 1788249603000000;
  full.acked_by = "school/100001/j.jones";
  full.review_outcome = nv1::REFERRED;
  full.review_note = "referred to the LADO, \xc2\xa3 note";
  full.escalated_leaf = 2;
  full.payload = std::string("\x00\x01\x02\xfe\xff payload", 13);
  batch[1].notifications = {pending, full};
  const v1::SignedTreeHead head = Head(3, 100);
  ASSERT_TRUE(storage_->Append(batch, &head).ok());

  absl::StatusOr<std::vector<StoredNotification>> rows = storage_->ReadNotifications({}, 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  ExpectSameNotification((*rows)[0], pending);
  ExpectSameNotification((*rows)[1], full);
  EXPECT_EQ((*rows)[0].state, nv1::PENDING);
  EXPECT_EQ((*rows)[0].escalated_leaf, -1);

  // Across a reopen.
  auto reopened = backend_->Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage_ = *reopened;
  ExpectSameNotification(ReadOne(*storage_, 1, 0), pending);
  ExpectSameNotification(ReadOne(*storage_, 1, 1), full);
}

TEST_P(LogStorageConformanceTest, AFailedAppendWritesNoNotifications) {
  std::vector<NewEntry> batch = MakeEntries(0, 2);
  batch[1].notifications = {Note(1, 0, kLa, "E09000033", nv1::ACCESS)};
  batch[1].idempotency_key = "k1";
  ASSERT_TRUE(storage_->Append(batch, nullptr).ok());

  // At the wrong index: neither the new rows nor the changes.
  std::vector<NewEntry> late = MakeEntries(3, 1);
  late[0].notifications = {Note(3, 0, kSchool, "100001", nv1::ENCOMPASS)};
  late[0].changes = {Change(NotificationChange::Type::kAcknowledged, 1, 0, 3, 500, "la/x")};
  absl::Status s = storage_->Append(late, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Read(*storage_, {}), ElementsAre("1.0"));
  EXPECT_EQ(ReadOne(*storage_, 1, 0).acked_us, 0);

  // A batch that fails on a later entry (an idempotency key stored before)
  // writes none of its entries' notifications and applies none of its
  // changes.
  batch = MakeEntries(2, 2);
  batch[0].notifications = {Note(2, 0, kSchool, "100001", nv1::ENCOMPASS)};
  batch[1].idempotency_key = "k1";
  batch[1].changes = {Change(NotificationChange::Type::kDelivered, 1, 0, 3, 600)};
  EXPECT_FALSE(storage_->Append(batch, nullptr).ok());
  EXPECT_EQ(*storage_->Size(), 2u);
  EXPECT_THAT(Read(*storage_, {}), ElementsAre("1.0"));
  EXPECT_EQ(ReadOne(*storage_, 1, 0).state, nv1::PENDING);
}

TEST_P(LogStorageConformanceTest, NotificationsAndChangesNotOfTheirEntryAreRefused) {
  ASSERT_TRUE(storage_->Append(MakeEntries(0, 1), nullptr).ok());
  struct Case {
    std::string name;
    std::function<void(NewEntry&)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"another leaf's key",
       [](NewEntry& e) { e.notifications = {Note(0, 0, kLa, "E09000033", nv1::ACCESS)}; },
       "entry 1: notifications[0].key is 0.0, not 1.0"},
      {"an ordinal out of place",
       [](NewEntry& e) {
         e.notifications = {Note(1, 0, kLa, "E09000033", nv1::ACCESS),
                            Note(1, 2, kLa, "E09000033", nv1::ACCESS)};
       },
       "entry 1: notifications[1].key is 1.2, not 1.1"},
      {"a change recorded by another leaf",
       [](NewEntry& e) {
         e.changes = {Change(NotificationChange::Type::kDelivered, 0, 0, 7, 100)};
       },
       "entry 1: changes[0].leaf_index is 7, not the entry's"},
      {"a change without its time",
       [](NewEntry& e) {
         e.changes = {Change(NotificationChange::Type::kAcknowledged, 0, 0, 1, 0, "la/x")};
       },
       "entry 1: changes[0].at_us is 0; must be positive"},
      {"a review without an outcome",
       [](NewEntry& e) {
         e.changes = {Change(NotificationChange::Type::kReviewed, 0, 0, 1, 100, "la/x")};
       },
       "entry 1: changes[0].review_outcome is 0; a review must have an outcome"},
  };
  for (const Case& c : cases) {
    std::vector<NewEntry> batch = MakeEntries(1, 1);
    c.spoil(batch[0]);
    const absl::Status s = storage_->Append(batch, nullptr);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name << ": " << s;
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.name;
  }
  EXPECT_EQ(*storage_->Size(), 1u);
  EXPECT_THAT(Read(*storage_, {}), IsEmpty());
}

// The store of the filter and stats tests: leaves 0..5; leaf 5 records an
// acknowledgement of 1.0 and 1.1 and the escalation of 3.1.
void AppendFilterFixture(LogStorage& storage) {
  std::vector<NewEntry> batch = MakeEntries(0, 6);
  batch[1].notifications = {Note(1, 0, kLa, "E09000033", nv1::ACCESS, 1000),
                            Note(1, 1, kSchool, "100001", nv1::ENCOMPASS, 1000, 5000)};
  batch[2].notifications = {Note(2, 0, kLa, "E09000033", nv1::BREAK_GLASS_REVIEW, 2000),
                            Note(2, 1, kPolice, "E09000033", nv1::ACCESS, 2000)};
  batch[3].notifications = {Note(3, 0, kSchool, "100001", nv1::ENCOMPASS, 3000, 9000),
                            Note(3, 1, kSchool, "100002", nv1::ENCOMPASS, 3000, 4000),
                            Note(3, 2, kLa, "E08000025", nv1::VSH_ALERT, 3000, 3000)};
  batch[4].notifications = {Note(4, 0, kSchool, "100001", nv1::ENCOMPASS, 4000, 0),
                            Note(4, 1, kLa, "E09000033", nv1::ENCOMPASS_ESCALATION, 4000),
                            Note(4, 2, kSchool, "100002", nv1::ENCOMPASS, 4000, 5000)};
  batch[5].changes = {
      Change(NotificationChange::Type::kAcknowledged, 1, 0, 5, 6000, "la/E09000033/a"),
      Change(NotificationChange::Type::kAcknowledged, 1, 1, 5, 6000, "school/100001/b"),
      Change(NotificationChange::Type::kEscalated, 3, 1, 5)};
  ASSERT_TRUE(storage.Append(batch, nullptr).ok());
}

TEST_P(LogStorageConformanceTest, NotificationFiltersReadExactlyTheirRows) {
  AppendFilterFixture(*storage_);
  EXPECT_THAT(Read(*storage_, {}),
              ElementsAre("1.0", "1.1", "2.0", "2.1", "3.0", "3.1", "3.2", "4.0", "4.1", "4.2"));
  // A recipient is its kind and code: police/E09000033 is not the LA.
  EXPECT_THAT(Read(*storage_, {.recipient_kind = kLa, .recipient_code = "E09000033"}),
              ElementsAre("1.0", "2.0", "4.1"));
  EXPECT_THAT(Read(*storage_, {.recipient_kind = kSchool, .recipient_code = "100001"}),
              ElementsAre("1.1", "3.0", "4.0"));
  EXPECT_THAT(Read(*storage_, {.recipient_kind = kSchool, .recipient_code = "999999"}), IsEmpty());
  // After a cursor: later ordinals of its leaf, then later leaves.
  EXPECT_THAT(Read(*storage_, {.after = NotificationKey{3, 0}}),
              ElementsAre("3.1", "3.2", "4.0", "4.1", "4.2"));
  EXPECT_THAT(Read(*storage_, {.after = NotificationKey{1, 9}}),
              ElementsAre("2.0", "2.1", "3.0", "3.1", "3.2", "4.0", "4.1", "4.2"));
  EXPECT_THAT(Read(*storage_, {.after = NotificationKey{4, 2}}), IsEmpty());
  // Keys, in any order, some absent: read in key order.
  EXPECT_THAT(Read(*storage_, {.keys = {{4, 1}, {1, 0}, {9, 0}, {3, 1}, {1, 5}}}),
              ElementsAre("1.0", "3.1", "4.1"));
  EXPECT_THAT(Read(*storage_, {.unacknowledged_only = true}),
              ElementsAre("2.0", "2.1", "3.0", "3.1", "3.2", "4.0", "4.1", "4.2"));
  EXPECT_THAT(Read(*storage_, {.kinds = {nv1::BREAK_GLASS_REVIEW, nv1::VSH_ALERT}}),
              ElementsAre("2.0", "3.2"));
  // The sweeper's query: ENCOMPASS, unacknowledged (not 1.1), not escalated
  // (not 3.1), with a deadline (not 4.0) at or before the time (3.2 is a
  // VSH alert).
  EXPECT_THAT(Read(*storage_, {.due_at_us = 4999}), IsEmpty());
  EXPECT_THAT(Read(*storage_, {.due_at_us = 5000}), ElementsAre("4.2"));
  EXPECT_THAT(Read(*storage_, {.due_at_us = 9000}), ElementsAre("3.0", "4.2"));
  // Filters combine with AND.
  EXPECT_THAT(Read(*storage_, {.recipient_kind = kSchool,
                               .recipient_code = "100001",
                               .after = NotificationKey{1, 0},
                               .unacknowledged_only = true}),
              ElementsAre("3.0", "4.0"));
  EXPECT_THAT(Read(*storage_, {.recipient_kind = kSchool,
                               .recipient_code = "100002",
                               .kinds = {nv1::ENCOMPASS},
                               .due_at_us = 9000}),
              ElementsAre("4.2"));
  // Limit, and paging by cursor.
  EXPECT_THAT(Ids(*storage_->ReadNotifications({}, 3)), ElementsAre("1.0", "1.1", "2.0"));
  EXPECT_THAT(*storage_->ReadNotifications({}, 0), IsEmpty());
  std::vector<std::string> paged;
  NotificationQuery page;
  for (int pages = 0; pages < 10; ++pages) {
    std::vector<StoredNotification> rows = *storage_->ReadNotifications(page, 4);
    for (const std::string& id : Ids(rows)) paged.push_back(id);
    if (rows.size() < 4) break;
    page.after = rows.back().key;
  }
  EXPECT_EQ(paged, Read(*storage_, {}));
}

TEST_P(LogStorageConformanceTest, ReadingTooManyKeysIsRefused) {
  AppendFilterFixture(*storage_);
  NotificationQuery query;
  for (uint32_t i = 0; i < 1000; ++i) query.keys.push_back({i / 4, i % 4});
  EXPECT_THAT(Read(*storage_, query),
              ElementsAre("1.0", "1.1", "2.0", "2.1", "3.0", "3.1", "3.2", "4.0", "4.1", "4.2"));
  query.keys.push_back({1000, 0});
  absl::StatusOr<std::vector<StoredNotification>> rows = storage_->ReadNotifications(query, 10);
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rows.status().message(), HasSubstr("1001 keys; at most 1000"));
}

TEST_P(LogStorageConformanceTest, EachChangeAppliesOnce) {
  using Type = NotificationChange::Type;
  // Leaf 0 makes three notifications; leaf 1, in the same batch, delivers 0.0.
  std::vector<NewEntry> batch = MakeEntries(0, 2);
  batch[0].notifications = {Note(0, 0, kSchool, "100001", nv1::ENCOMPASS, 50, 5000),
                            Note(0, 1, kLa, "E09000033", nv1::BREAK_GLASS_REVIEW, 50),
                            Note(0, 2, kLa, "E09000033", nv1::BREAK_GLASS_REVIEW, 50)};
  batch[1].changes = {Change(Type::kDelivered, 0, 0, 1, 100)};
  ASSERT_TRUE(storage_->Append(batch, nullptr).ok());
  StoredNotification n = ReadOne(*storage_, 0, 0);
  EXPECT_EQ(n.state, nv1::DELIVERED);
  EXPECT_EQ(n.delivered_us, 100);

  // Delivered again: skipped.
  ASSERT_TRUE(
      storage_->Append(Recording(2, {Change(Type::kDelivered, 0, 0, 2, 200)}), nullptr).ok());
  EXPECT_EQ(ReadOne(*storage_, 0, 0).delivered_us, 100);

  // Acknowledged, then acknowledged again and delivered late: both skipped.
  ASSERT_TRUE(
      storage_
          ->Append(Recording(3, {Change(Type::kAcknowledged, 0, 0, 3, 300, "school/100001/a")}),
                   nullptr)
          .ok());
  ASSERT_TRUE(
      storage_
          ->Append(Recording(4, {Change(Type::kAcknowledged, 0, 0, 4, 400, "school/100001/b"),
                                 Change(Type::kDelivered, 0, 0, 4, 450)}),
                   nullptr)
          .ok());
  n = ReadOne(*storage_, 0, 0);
  EXPECT_EQ(n.state, nv1::ACKNOWLEDGED);
  EXPECT_EQ(n.delivered_us, 100);
  EXPECT_EQ(n.acked_us, 300);
  EXPECT_EQ(n.acked_by, "school/100001/a");

  // Escalated by leaf 5; leaf 6's escalation is skipped.
  ASSERT_TRUE(storage_->Append(Recording(5, {Change(Type::kEscalated, 0, 0, 5)}), nullptr).ok());
  ASSERT_TRUE(storage_->Append(Recording(6, {Change(Type::kEscalated, 0, 0, 6)}), nullptr).ok());
  EXPECT_EQ(ReadOne(*storage_, 0, 0).escalated_leaf, 5);

  // Reviewed (0.1, pending): the review acknowledges it. A second review
  // and a later acknowledgement are skipped.
  NotificationChange upheld = Change(Type::kReviewed, 0, 1, 7, 700, "la/E09000033/tm");
  upheld.review_outcome = nv1::UPHELD;
  upheld.note = "justified: child at risk";
  ASSERT_TRUE(storage_->Append(Recording(7, {upheld}), nullptr).ok());
  NotificationChange referred = Change(Type::kReviewed, 0, 1, 8, 800, "la/E09000033/other");
  referred.review_outcome = nv1::REFERRED;
  referred.note = "second";
  ASSERT_TRUE(
      storage_
          ->Append(Recording(8, {referred, Change(Type::kAcknowledged, 0, 1, 8, 850, "la/x")}),
                   nullptr)
          .ok());
  n = ReadOne(*storage_, 0, 1);
  EXPECT_EQ(n.state, nv1::ACKNOWLEDGED);
  EXPECT_EQ(n.acked_us, 700);
  EXPECT_EQ(n.acked_by, "la/E09000033/tm");
  EXPECT_EQ(n.review_outcome, nv1::UPHELD);
  EXPECT_EQ(n.review_note, "justified: child at risk");
  EXPECT_EQ(n.delivered_us, 0);
  EXPECT_EQ(n.escalated_leaf, -1);

  // Acknowledged (0.2), then reviewed: the review is recorded and the first
  // acknowledgement kept.
  NotificationChange review = Change(Type::kReviewed, 0, 2, 10, 1000, "la/E09000033/tm");
  review.review_outcome = nv1::REFERRED;
  review.note = "referred";
  ASSERT_TRUE(
      storage_
          ->Append(Recording(9, {Change(Type::kAcknowledged, 0, 2, 9, 900, "la/E09000033/sw")}),
                   nullptr)
          .ok());
  ASSERT_TRUE(storage_->Append(Recording(10, {review}), nullptr).ok());
  n = ReadOne(*storage_, 0, 2);
  EXPECT_EQ(n.state, nv1::ACKNOWLEDGED);
  EXPECT_EQ(n.acked_us, 900);
  EXPECT_EQ(n.acked_by, "la/E09000033/sw");
  EXPECT_EQ(n.review_outcome, nv1::REFERRED);
  EXPECT_EQ(n.review_note, "referred");

  // A change of a notification that does not exist changes nothing.
  ASSERT_TRUE(
      storage_
          ->Append(Recording(11, {Change(Type::kAcknowledged, 9, 0, 11, 1100, "la/x")}), nullptr)
          .ok());
  EXPECT_THAT(Read(*storage_, {}), ElementsAre("0.0", "0.1", "0.2"));
  // The content columns never changed.
  StoredNotification want = Note(0, 0, kSchool, "100001", nv1::ENCOMPASS, 50, 5000);
  want.state = nv1::ACKNOWLEDGED;
  want.delivered_us = 100;
  want.acked_us = 300;
  want.acked_by = "school/100001/a";
  want.escalated_leaf = 5;
  ExpectSameNotification(ReadOne(*storage_, 0, 0), want);
}

TEST_P(LogStorageConformanceTest, NotificationStatsCountTheStoredRows) {
  AppendFilterFixture(*storage_);
  // Unacknowledged: all but 1.0 and 1.1, the oldest created at 2000;
  // deadline misses: 3.1; open reviews: 2.0.
  NotificationStats stats = *storage_->ReadNotificationStats();
  EXPECT_EQ(stats.unacknowledged, 8);
  EXPECT_EQ(stats.oldest_unacknowledged_us, 2000);
  EXPECT_EQ(stats.deadline_misses, 1);
  EXPECT_EQ(stats.open_reviews, 1);

  // Leaf 6 reviews 2.0, acknowledges 2.1 and 3.1 (still a deadline miss)
  // and escalates 4.2.
  NotificationChange review = Change(NotificationChange::Type::kReviewed, 2, 0, 6, 7000, "la/tm");
  review.review_outcome = nv1::UPHELD;
  ASSERT_TRUE(storage_
                  ->Append(Recording(6, {review,
                                         Change(NotificationChange::Type::kAcknowledged, 2, 1, 6,
                                                7000, "police/E09000033/c"),
                                         Change(NotificationChange::Type::kAcknowledged, 3, 1, 6,
                                                7000, "school/100002/d"),
                                         Change(NotificationChange::Type::kEscalated, 4, 2, 6)}),
                           nullptr)
                  .ok());
  stats = *storage_->ReadNotificationStats();
  EXPECT_EQ(stats.unacknowledged, 5);  // 3.0, 3.2, 4.0, 4.1, 4.2
  EXPECT_EQ(stats.oldest_unacknowledged_us, 3000);
  EXPECT_EQ(stats.deadline_misses, 2);  // 3.1, 4.2
  EXPECT_EQ(stats.open_reviews, 0);
}

TEST_P(LogStorageConformanceTest, PruningDeletesOnlyRowsAcknowledgedBeforeTheTime) {
  AppendFilterFixture(*storage_);
  // 1.0 and 1.1 were acknowledged at 6000: not before 6000.
  EXPECT_EQ(*storage_->PruneNotifications(6000), 0);
  // Leaf 6 acknowledges 2.1 and the escalated 3.1 at 7000.
  ASSERT_TRUE(storage_
                  ->Append(Recording(6, {Change(NotificationChange::Type::kAcknowledged, 2, 1, 6,
                                                7000, "police/E09000033/c"),
                                         Change(NotificationChange::Type::kAcknowledged, 3, 1, 6,
                                                7000, "school/100002/d")}),
                           nullptr)
                  .ok());
  // Before 8000: 1.0, 1.1 and 2.1; 3.1 is a deadline miss and stays.
  EXPECT_EQ(*storage_->PruneNotifications(8000), 3);
  EXPECT_THAT(Read(*storage_, {}), ElementsAre("2.0", "3.0", "3.1", "3.2", "4.0", "4.1", "4.2"));
  EXPECT_EQ(storage_->ReadNotificationStats()->deadline_misses, 1);
  EXPECT_EQ(*storage_->PruneNotifications(8000), 0);
  EXPECT_EQ(*storage_->Size(), 7u);
}

}  // namespace
}  // namespace kinex::audit::testing
