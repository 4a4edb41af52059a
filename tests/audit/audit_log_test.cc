// The audit log core over the in-memory fake store: appends, group commit,
// proofs, idle signing, restart, fail-closed behaviour and tamper detection.
#include "services/audit/audit_log.h"

#include <atomic>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/log_verifier.h"
#include "tests/audit/test_events.h"
#include "tests/testing/failing_log_storage.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_log_storage.h"
#include "tests/testing/status_matchers.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::SampleEvent;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

// Fails Append while `fail` is set; otherwise forwards to a FakeLogStorage.
class FlakyLogStorage final : public LogStorage {
 public:
  std::atomic<bool> fail{false};
  // Stores the batch, then reports a failure: memory and storage disagree.
  std::atomic<bool> fail_after_storing{false};
  FakeLogStorage inner;

  absl::Status Append(absl::Span<const NewEntry> entries, const v1::SignedTreeHead* head) override {
    if (fail) return absl::UnavailableError("disk full (injected)");
    if (fail_after_storing) {
      inner.Append(entries, head).IgnoreError();
      return absl::UnavailableError("connection lost after commit (injected)");
    }
    return inner.Append(entries, head);
  }
  absl::Status AddHead(const v1::SignedTreeHead& head) override {
    if (fail) return absl::UnavailableError("disk full (injected)");
    return inner.AddHead(head);
  }
  absl::StatusOr<uint64_t> Size() override { return inner.Size(); }
  absl::StatusOr<std::optional<v1::SignedTreeHead>> LatestHead() override {
    return inner.LatestHead();
  }
  absl::StatusOr<std::vector<v1::SignedTreeHead>> ListHeads() override { return inner.ListHeads(); }
  absl::Status ReadEntries(uint64_t b, uint64_t e,
                           const std::function<absl::Status(const StoredEntry&)>& fn) override {
    return inner.ReadEntries(b, e, fn);
  }
  absl::StatusOr<std::vector<StoredEntry>> Query(const QueryFilter& f, size_t limit) override {
    return inner.Query(f, limit);
  }
  absl::Status ReadChildIndex(uint64_t b, uint64_t e,
                              const std::function<absl::Status(const IndexRow&)>& fn) override {
    return inner.ReadChildIndex(b, e, fn);
  }
  absl::StatusOr<std::optional<uint64_t>> LookupIdempotencyKey(const std::string& key) override {
    return inner.LookupIdempotencyKey(key);
  }
};

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLog::Options TestOptions(LogStorage* storage) {
    AuditLog::Options options;
    options.storage = storage;
    options.signer = signer_;
    options.pseudonymizer = testing::TestPseudonymizer();
    options.clock = &clock_;
    options.start_signer_thread = false;
    return options;
  }

  absl::StatusOr<std::unique_ptr<AuditLog>> Open(LogStorage* storage) {
    return AuditLog::Create(TestOptions(storage));
  }

  std::unique_ptr<TreeHeadVerifier> Verifier() { return Verifier(*signer_); }
  static std::unique_ptr<TreeHeadVerifier> Verifier(const TreeHeadSigner& signer) {
    return *TreeHeadVerifier::FromRawPublicKey(signer.raw_public_key());
  }

  static kinex::exchange::v1::DisclosureReceipt ReceiptOf(const AppendResult& r) {
    kinex::exchange::v1::DisclosureReceipt receipt;
    receipt.set_leaf_index(r.leaf_index);
    receipt.set_leaf_hash(r.leaf_hash);
    *receipt.mutable_signed_tree_head() = r.signed_tree_head;
    for (const auto& h : r.inclusion_proof) receipt.add_inclusion_proof(h);
    return receipt;
  }

  // A log whose tree keeps hashes below level 1 for the newest 2 leaves only.
  absl::StatusOr<std::unique_ptr<AuditLog>> OpenLean(LogStorage* storage) {
    AuditLog::Options options = TestOptions(storage);
    options.max_batch = 1;
    options.lean_level = 1;
    options.recent_leaves = 2;
    return AuditLog::Create(std::move(options));
  }

  FakeClock clock_;
  std::shared_ptr<const TreeHeadSigner> signer_ = testing::TestSigner();
  FakeLogStorage storage_;
};

TEST_F(AuditLogTest, AppendReturnsAReceiptThatVerifies) {
  auto log = *Open(&storage_);
  EXPECT_EQ(log->LatestHead().tree_size(), 0u);  // signed at start
  for (uint64_t i = 0; i < 5; ++i) {
    absl::StatusOr<AppendResult> r = log->Append(SampleEvent("req-" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->leaf_index, i);
    EXPECT_EQ(r->signed_tree_head.tree_size(), i + 1);
    EXPECT_TRUE(Verifier()->Verify(r->signed_tree_head).ok());
    kinex::exchange::v1::DisclosureReceipt receipt = ReceiptOf(*r);
    EXPECT_TRUE(VerifyReceipt(receipt, *Verifier()).ok());
    receipt.set_leaf_index(i == 0 ? 1 : 0);
    EXPECT_FALSE(VerifyReceipt(receipt, *Verifier()).ok());
  }
  EXPECT_EQ(log->Size(), 5u);
  EXPECT_EQ(log->LatestHead().tree_size(), 5u);
}

TEST_F(AuditLogTest, StoredEventHasTimePseudonymAndNoRawIdentifier) {
  auto log = *Open(&storage_);
  ASSERT_TRUE(log->Append(SampleEvent("req-1")).ok());
  v1::GetEntriesRequest req;
  req.set_start_index(0);
  req.set_end_index(1);
  auto entries = *log->GetEntries(req);
  ASSERT_EQ(entries.entries_size(), 1);
  const v1::AuditEvent& e = entries.entries(0).event();
  EXPECT_EQ(absl::FromUnixSeconds(e.time().seconds()), clock_.Now());
  EXPECT_EQ(e.children_size(), 0);
  ASSERT_EQ(e.child_pseudonyms_size(), 1);
  EXPECT_EQ(entries.entries(0).leaf_data().find(testing::kNhsA), std::string::npos);
}

TEST_F(AuditLogTest, ConcurrentAppendsGetDistinctIndicesAndShareCommits) {
  auto log = *Open(&storage_);
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> indices;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = log->Append(SampleEvent(absl::StrCat("req-", t, "-", i)));
        if (!r.ok() || !VerifyReceipt(ReceiptOf(*r), *Verifier()).ok()) {
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        indices.insert(r->leaf_index);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(indices.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*indices.rbegin(), uint64_t{kThreads * kPerThread - 1});
  // Fewer heads than appends: callers shared transactions.
  auto heads = *storage_.ListHeads();
  EXPECT_LE(heads.size(), size_t{kThreads * kPerThread} + 1);
  // The whole log recomputes and matches every head.
  LogRecomputer rec;
  ASSERT_TRUE(
      storage_.ReadEntries(0, UINT64_MAX, [&](const StoredEntry& row) { return rec.Add(row); })
          .ok());
  EXPECT_TRUE(rec.CheckHeads(heads, Verifier().get()).ok());
}

TEST_F(AuditLogTest, InvalidEventChangesNothing) {
  auto log = *Open(&storage_);
  v1::AuditEvent e = SampleEvent("req-1");
  e.clear_purpose();
  absl::StatusOr<AppendResult> r = log->Append(e);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("event.purpose is required"));
  EXPECT_THAT(r, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(r, HasErrorMetadata("field", "event.purpose"));
  e = SampleEvent("req-1");
  e.mutable_children(0)->set_nhs_number("1234567890");
  r = log->Append(e);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("event.children"));
  EXPECT_THAT(r, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(r, HasErrorMetadata("field", "event.children"));
  EXPECT_EQ(log->Size(), 0u);
  EXPECT_EQ(*storage_.Size(), 0u);
}

// A page's events (AppendAll) share one commit: one head covers them all,
// each gets its own leaf and proof; an invalid one fails alone.
TEST_F(AuditLogTest, AppendAllCommitsTheEventsTogether) {
  auto log = *Open(&storage_);
  std::vector<v1::AuditEvent> events;
  for (int i = 0; i < 20; ++i) events.push_back(SampleEvent(absl::StrCat("req-", i)));
  events[7].clear_purpose();
  std::vector<absl::StatusOr<AppendResult>> results = log->AppendAll(events);
  ASSERT_EQ(results.size(), 20u);
  EXPECT_EQ(results[7].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(results[7].status().message(), HasSubstr("event.purpose is required"));
  uint64_t next = 0;
  for (int i = 0; i < 20; ++i) {
    if (i == 7) continue;
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->leaf_index, next++);
    EXPECT_EQ(results[i]->signed_tree_head.tree_size(), 19u);
    EXPECT_TRUE(VerifyReceipt(ReceiptOf(*results[i]), *Verifier()).ok());
  }
  EXPECT_EQ(log->Size(), 19u);
  // The initial head, then one head for the whole page.
  EXPECT_EQ(storage_.ListHeads()->size(), 2u);
  EXPECT_TRUE(log->AppendAll({}).empty());
}

TEST_F(AuditLogTest, FailsClosedWhenStorageIsDown) {
  FailingLogStorage down(/*fail_reads_too=*/true);
  absl::StatusOr<std::unique_ptr<AuditLog>> log = Open(&down);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(log.status().message(), HasSubstr("unavailable"));

  FailingLogStorage writes_down(/*fail_reads_too=*/false);
  log = Open(&writes_down);  // cannot even store its first head
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(AuditLogTest, FailedCommitFailsTheCallerAndLaterAppendsRecover) {
  FlakyLogStorage flaky;
  auto log = *Open(&flaky);
  ASSERT_TRUE(log->Append(SampleEvent("req-0")).ok());
  flaky.fail = true;
  absl::StatusOr<AppendResult> r = log->Append(SampleEvent("req-1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("could not commit: disk full"));
  EXPECT_THAT(r, HasErrorReason("AUDIT_STORAGE_UNAVAILABLE"));
  EXPECT_THAT(r, HasErrorMetadata("cause", "UNAVAILABLE"));
  EXPECT_EQ(log->Size(), 1u);
  flaky.fail = false;
  r = log->Append(SampleEvent("req-2"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->leaf_index, 1u);
}

TEST_F(AuditLogTest, AStoreThatDisagreesAfterAFailedCommitStopsTheLog) {
  FlakyLogStorage flaky;
  auto log = *Open(&flaky);
  ASSERT_TRUE(log->Append(SampleEvent("req-0")).ok());
  flaky.fail_after_storing = true;
  absl::StatusOr<AppendResult> r = log->Append(SampleEvent("req-1"));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnavailable,
                          "audit log could not commit: connection lost after commit (injected)"));
  EXPECT_THAT(r, HasErrorReason("AUDIT_STORAGE_UNAVAILABLE"));
  flaky.fail_after_storing = false;
  r = log->Append(SampleEvent("req-2"));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnavailable,
                          "audit log stopped accepting events after a storage failure; restart "
                          "it to recover"));
  EXPECT_THAT(r, HasErrorReason("AUDIT_LOG_FAILED"));
  clock_.Advance(absl::Minutes(5));
  EXPECT_THAT(log->SignIfIdle(),
              StatusIs(absl::StatusCode::kUnavailable, "audit log is in a failed state"));
  EXPECT_THAT(log->SignIfIdle(), HasErrorReason("AUDIT_LOG_FAILED"));
}

TEST_F(AuditLogTest, MissingOptionsAreNamed) {
  AuditLog::Options options = TestOptions(&storage_);
  options.pseudonymizer = nullptr;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Create(std::move(options));
  EXPECT_THAT(log, StatusIs(absl::StatusCode::kInvalidArgument,
                            "AuditLog: options.pseudonymizer is required"));
  EXPECT_THAT(log, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(log, HasErrorMetadata("field", "options.pseudonymizer"));
  options = TestOptions(&storage_);
  options.lean_level = 31;
  log = AuditLog::Create(std::move(options));
  EXPECT_THAT(log, StatusIs(absl::StatusCode::kInvalidArgument,
                            "AuditLog: options.lean_level must be 1-30 (got 31)"));
  EXPECT_THAT(log, HasErrorMetadata("field", "options.lean_level"));
}

TEST_F(AuditLogTest, SignsAFreshHeadWhenIdle) {
  auto log = *Open(&storage_);
  ASSERT_TRUE(log->Append(SampleEvent("req-0")).ok());
  const v1::SignedTreeHead before = log->LatestHead();
  clock_.Advance(absl::Seconds(59));
  EXPECT_FALSE(*log->SignIfIdle());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(*log->SignIfIdle());
  const v1::SignedTreeHead after = log->LatestHead();
  EXPECT_EQ(after.tree_size(), before.tree_size());
  EXPECT_EQ(after.root_hash(), before.root_hash());
  EXPECT_EQ(after.timestamp().seconds(), before.timestamp().seconds() + 60);
  EXPECT_TRUE(Verifier()->Verify(after).ok());
  EXPECT_EQ((*storage_.LatestHead())->SerializeAsString(), after.SerializeAsString());
}

TEST_F(AuditLogTest, SignerThreadSignsWithTheInjectedClock) {
  AuditLog::Options options;
  options.storage = &storage_;
  options.signer = signer_;
  options.pseudonymizer = testing::TestPseudonymizer();
  options.clock = &clock_;
  options.sign_interval = absl::Milliseconds(1);
  auto log = *AuditLog::Create(std::move(options));
  const int64_t first = log->LatestHead().timestamp().seconds();
  clock_.Advance(absl::Seconds(5));
  // The thread polls every millisecond of real time; wait for its head.
  for (int i = 0; i < 5000 && log->LatestHead().timestamp().seconds() == first; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(log->LatestHead().timestamp().seconds(), first + 5);
}

TEST_F(AuditLogTest, RestartRecomputesAndContinues) {
  {
    auto log = *Open(&storage_);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(SampleEvent("r")).ok());
  }
  auto log = *Open(&storage_);
  EXPECT_EQ(log->Size(), 5u);
  auto r = log->Append(SampleEvent("r"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->leaf_index, 5u);
  v1::GetConsistencyProofRequest req;
  req.set_first_tree_size(5);
  req.set_second_tree_size(6);
  auto proof = *log->GetConsistencyProof(req);
  EXPECT_FALSE(proof.hashes().empty());
}

TEST_F(AuditLogTest, RefusesToStartOnAnAlteredEntry) {
  {
    auto log = *Open(&storage_);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(SampleEvent("r")).ok());
  }
  storage_.MutateRows([](std::vector<NewEntry>& rows) { rows[3].entry.leaf_data[20] ^= 1; });
  absl::StatusOr<std::unique_ptr<AuditLog>> log = Open(&storage_);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(),
              HasSubstr("refusing to start: leaf index 3: stored leaf hash"));
  EXPECT_THAT(log, HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_THAT(log, HasErrorMetadata("leaf_index", "3"));
}

TEST_F(AuditLogTest, RefusesToStartOnAKeyItDoesNotHold) {
  { auto log = *Open(&storage_); }
  const std::string old_id = signer_->key_id();
  signer_ = testing::TestSigner();
  absl::StatusOr<std::unique_ptr<AuditLog>> log = Open(&storage_);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      log.status().message(),
      absl::StrCat("audit log is corrupt; refusing to start: tree head at "
                   "size 0 is signed by key ",
                   old_id, " which is not among the known keys (current ", signer_->key_id(), ")"));
  EXPECT_THAT(log, HasErrorReason("AUDIT_HEAD_KEY_UNKNOWN"));
  EXPECT_THAT(log, HasErrorMetadata("tree_size", "0"));
  // A retired key that is not the one that signed does not help.
  const std::shared_ptr<const TreeHeadSigner> stranger = testing::TestSigner();
  AuditLog::Options options = TestOptions(&storage_);
  options.retired_keys = {Verifier(*stranger)};
  log = AuditLog::Create(std::move(options));
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(),
              HasSubstr(absl::StrCat("signed by key ", old_id,
                                     " which is not among the known keys (current ",
                                     signer_->key_id(), "; retired ", stranger->key_id(), ")")));
}

TEST_F(AuditLogTest, KeyRotationKeepsOldHeadsAndReceiptsVerifiable) {
  AppendResult before;
  {
    auto log = *Open(&storage_);
    for (int i = 0; i < 3; ++i) before = *log->Append(SampleEvent("r"));
  }
  const std::shared_ptr<const TreeHeadSigner> old_signer = signer_;
  signer_ = testing::TestSigner();
  AuditLog::Options options = TestOptions(&storage_);
  options.retired_keys = {Verifier(*old_signer)};
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Create(std::move(options));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->Size(), 3u);

  // New heads are signed by the new key only.
  absl::StatusOr<AppendResult> after = (*log)->Append(SampleEvent("r"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->leaf_index, 3u);
  EXPECT_EQ(after->signed_tree_head.key_id(), signer_->key_id());
  EXPECT_TRUE(Verifier()->Verify(after->signed_tree_head).ok());

  // Every stored head verifies with the keyring, each by its own key.
  TreeHeadKeyring keys;
  keys.Add(Verifier(), /*current=*/true);
  keys.Add(Verifier(*old_signer));
  auto heads = *storage_.ListHeads();
  ASSERT_EQ(heads.front().key_id(), old_signer->key_id());
  ASSERT_EQ(heads.back().key_id(), signer_->key_id());
  LogRecomputer rec;
  ASSERT_TRUE(
      storage_.ReadEntries(0, UINT64_MAX, [&](const StoredEntry& row) { return rec.Add(row); })
          .ok());
  EXPECT_TRUE(rec.CheckHeads(heads, &keys).ok());

  // A receipt issued before the rotation verifies with the keyring (not with
  // the new key alone), and the log after the rotation extends its head.
  const kinex::exchange::v1::DisclosureReceipt receipt = ReceiptOf(before);
  EXPECT_TRUE(VerifyReceipt(receipt, keys).ok());
  absl::Status alone = VerifyReceipt(receipt, *Verifier());
  EXPECT_EQ(alone.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(alone.message(), HasSubstr(old_signer->key_id()));
  EXPECT_THAT(alone, HasErrorReason("AUDIT_HEAD_KEY_UNKNOWN"));
  v1::GetConsistencyProofRequest req;
  req.set_first_tree_size(3);
  req.set_second_tree_size(4);
  auto proof = *(*log)->GetConsistencyProof(req);
  EXPECT_TRUE(VerifyHeadConsistency(
                  before.signed_tree_head, after->signed_tree_head,
                  std::vector<std::string>(proof.hashes().begin(), proof.hashes().end()), keys)
                  .ok());

  // GetSigningKey names the current key and lists both.
  v1::SigningKey key = *(*log)->SigningKey();
  EXPECT_EQ(key.key_id(), signer_->key_id());
  ASSERT_EQ(key.keys_size(), 2);
  EXPECT_EQ(key.keys(0).key_id(), signer_->key_id());
  EXPECT_TRUE(key.keys(0).current());
  EXPECT_EQ(key.keys(1).key_id(), old_signer->key_id());
  EXPECT_FALSE(key.keys(1).current());
  EXPECT_EQ(key.keys(1).public_key_pem(), *old_signer->PublicKeyPem());
}

TEST_F(AuditLogTest, ReceiptsAndHeadsThatDoNotHoldUpAreNamed) {
  auto log = *Open(&storage_);
  const AppendResult a = *log->Append(SampleEvent("req-a"));
  const AppendResult b = *log->Append(SampleEvent("req-b"));
  auto verifier = Verifier();

  kinex::exchange::v1::DisclosureReceipt no_head = ReceiptOf(a);
  no_head.clear_signed_tree_head();
  EXPECT_THAT(VerifyReceipt(no_head, *verifier),
              StatusIs(absl::StatusCode::kInvalidArgument, "receipt has no signed_tree_head"));
  EXPECT_THAT(VerifyReceipt(no_head, *verifier), HasErrorMetadata("field", "signed_tree_head"));
  kinex::exchange::v1::DisclosureReceipt moved = ReceiptOf(a);
  moved.set_leaf_index(1);
  EXPECT_THAT(VerifyReceipt(moved, *verifier),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "receipt inclusion proof is invalid: leaf_index 1 must be less than "
                       "tree_size 1"));
  EXPECT_THAT(VerifyReceipt(moved, *verifier), HasErrorReason("AUDIT_RECEIPT_INVALID"));
  EXPECT_THAT(VerifyReceipt(moved, *verifier), HasErrorMetadata("field", "inclusion_proof"));

  // Against the logged entry: each differing part is named.
  v1::GetEntriesRequest req;
  req.set_start_index(0);
  req.set_end_index(2);
  const v1::GetEntriesResponse entries = *log->GetEntries(req);
  ASSERT_EQ(entries.entries_size(), 2);
  kinex::exchange::v1::DisclosureReceipt receipt = ReceiptOf(a);
  const v1::AuditEvent& logged = entries.entries(0).event();
  *receipt.mutable_disclosed_paths() = logged.disclosed_paths();
  for (const auto& w : logged.withheld()) *receipt.add_withheld() = w;
  receipt.set_policy_version(logged.policy_version());
  ASSERT_TRUE(VerifyReceiptMatchesEntry(receipt, entries.entries(0)).ok());
  EXPECT_THAT(
      VerifyReceiptMatchesEntry(receipt, entries.entries(1)),
      StatusIs(absl::StatusCode::kFailedPrecondition, "log entry has leaf index 1, receipt has 0"));
  EXPECT_THAT(VerifyReceiptMatchesEntry(receipt, entries.entries(1)),
              HasErrorReason("AUDIT_RECEIPT_INVALID"));
  EXPECT_THAT(VerifyReceiptMatchesEntry(receipt, entries.entries(1)),
              HasErrorMetadata("field", "leaf_index"));
  kinex::exchange::v1::DisclosureReceipt other_policy = receipt;
  other_policy.set_policy_version("policy-other");
  EXPECT_THAT(VerifyReceiptMatchesEntry(other_policy, entries.entries(0)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "receipt policy_version differs from the logged event"));
  EXPECT_THAT(VerifyReceiptMatchesEntry(other_policy, entries.entries(0)),
              HasErrorMetadata("field", "policy_version"));
  kinex::exchange::v1::DisclosureReceipt other_paths = receipt;
  other_paths.add_disclosed_paths("identity.nhs_number");
  EXPECT_THAT(VerifyReceiptMatchesEntry(other_paths, entries.entries(0)),
              HasErrorMetadata("field", "disclosed_paths"));

  // A saved head larger than the current one, and heads that go backwards.
  absl::Status truncated =
      VerifyHeadConsistency(b.signed_tree_head, a.signed_tree_head, {}, *verifier);
  EXPECT_THAT(truncated, StatusIs(absl::StatusCode::kFailedPrecondition,
                                  "log is truncated: the saved head commits to 2 entries, the "
                                  "current head to only 1"));
  EXPECT_THAT(truncated, HasErrorReason("AUDIT_HEAD_INCONSISTENT"));
  EXPECT_THAT(truncated, HasErrorMetadata("tree_size", "2"));
  LogRecomputer rec;
  ASSERT_TRUE(
      storage_.ReadEntries(0, UINT64_MAX, [&](const StoredEntry& row) { return rec.Add(row); })
          .ok());
  const absl::Status backwards =
      rec.CheckHeads({b.signed_tree_head, a.signed_tree_head}, verifier.get());
  EXPECT_THAT(backwards, StatusIs(absl::StatusCode::kDataLoss,
                                  "leaf index 1: signed tree heads go backwards (2 then 1)"));
  EXPECT_THAT(backwards, HasErrorReason("AUDIT_HEAD_INCONSISTENT"));
  EXPECT_THAT(backwards, HasErrorMetadata("tree_size", "1"));
}

TEST_F(AuditLogTest, ProofRequestsAreChecked) {
  auto log = *Open(&storage_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(SampleEvent("r")).ok());
  v1::GetInclusionProofRequest inc;
  inc.set_leaf_index(1);
  auto proof = *log->GetInclusionProof(inc);
  EXPECT_EQ(proof.tree_size(), 3u);
  inc.set_leaf_index(3);
  EXPECT_THAT(log->GetInclusionProof(inc), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    "leaf_index 3 must be less than tree_size 3"));
  EXPECT_THAT(log->GetInclusionProof(inc), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(log->GetInclusionProof(inc), HasErrorMetadata("field", "leaf_index"));
  v1::GetConsistencyProofRequest cons;
  cons.set_first_tree_size(0);
  cons.set_second_tree_size(3);
  EXPECT_THAT(log->GetConsistencyProof(cons),
              StatusIs(absl::StatusCode::kInvalidArgument, "first_tree_size must be at least 1"));
  EXPECT_THAT(log->GetConsistencyProof(cons), HasErrorMetadata("field", "first_tree_size"));
  cons.set_first_tree_size(2);
  cons.set_second_tree_size(4);
  EXPECT_THAT(log->GetConsistencyProof(cons).status().message(),
              HasSubstr("exceeds the log size 3"));
  EXPECT_THAT(log->GetConsistencyProof(cons), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(log->GetConsistencyProof(cons), HasErrorMetadata("field", "second_tree_size"));
  v1::GetEntriesRequest entries;
  entries.set_start_index(3);
  entries.set_end_index(4);
  EXPECT_THAT(log->GetEntries(entries).status().message(),
              HasSubstr("start_index 3 is not below the log size 3"));
  EXPECT_THAT(log->GetEntries(entries), HasErrorMetadata("field", "start_index"));
  entries.set_start_index(2);
  entries.set_end_index(2);
  EXPECT_THAT(log->GetEntries(entries), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 "end_index 2 must be greater than start_index 2"));
  EXPECT_THAT(log->GetEntries(entries), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(log->GetEntries(entries), HasErrorMetadata("field", "end_index"));
}

// A long-running log keeps old low-level tree hashes in the store, not in
// memory: proofs and queries of old events still verify, and an old entry
// altered in the store after start-up is refused, never served.
TEST_F(AuditLogTest, LeanTreeServesOldProofsAndRefusesEntriesAlteredAfterStart) {
  auto log = *OpenLean(&storage_);
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(log->Append(SampleEvent("req-" + std::to_string(i))).ok());
  }
  v1::GetInclusionProofRequest inc;
  inc.set_leaf_index(2);
  absl::StatusOr<v1::GetInclusionProofResponse> proof = log->GetInclusionProof(inc);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(proof->tree_size(), 20u);
  absl::StatusOr<Hash> root = HashFromBytes(log->LatestHead().root_hash());
  ASSERT_TRUE(root.ok());
  std::vector<Hash> path;
  for (const std::string& h : proof->hashes()) path.push_back(*HashFromBytes(h));
  EXPECT_TRUE(VerifyInclusion(2, 20, *HashFromBytes(proof->leaf_hash()), path, *root).ok());

  // Time ranges map to leaf ranges exactly, from block start times in memory
  // and the one block read back around each boundary (blocks of 2 here).
  const int64_t last = log->LatestHead().timestamp().seconds();  // leaf 19's time
  auto range = [&](int64_t from, int64_t to) -> std::vector<uint64_t> {
    v1::QueryEventsRequest q;
    q.mutable_start_time()->set_seconds(from);
    q.mutable_end_time()->set_seconds(to);
    absl::StatusOr<v1::QueryEventsResponse> r = log->QueryEvents(q);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<uint64_t> leaves;
    if (r.ok()) {
      for (const auto& e : r->entries()) leaves.push_back(e.leaf_index());
    }
    return leaves;
  };
  EXPECT_EQ(range(last - 17, last - 14), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(range(last - 16, last - 13), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(range(last - 1, last + 5), (std::vector<uint64_t>{18, 19}));
  EXPECT_EQ(range(last - 100, last - 18), (std::vector<uint64_t>{0}));
  EXPECT_EQ(range(last + 1, last + 5), (std::vector<uint64_t>{}));
  v1::QueryEventsRequest query;
  query.mutable_start_time()->set_seconds(last - 17);
  absl::StatusOr<v1::QueryEventsResponse> found = log->QueryEvents(query);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->entries_size(), 18);
  EXPECT_EQ(found->entries(0).leaf_index(), 2u);

  storage_.MutateRows([](std::vector<NewEntry>& rows) {
    rows[5].entry.leaf_data[20] ^= 1;
    rows[5].entry.leaf_hash = HashLeaf(rows[5].entry.leaf_data);
  });
  inc.set_leaf_index(5);
  EXPECT_THAT(log->GetInclusionProof(inc),
              StatusIs(absl::StatusCode::kDataLoss,
                       "leaf index 4: stored leaf hashes 4-5 do not match the verified log"));
  EXPECT_THAT(log->GetInclusionProof(inc), HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_THAT(log->GetInclusionProof(inc), HasErrorMetadata("leaf_index", "4"));
  found = log->QueryEvents(query);
  EXPECT_THAT(found,
              StatusIs(absl::StatusCode::kDataLoss,
                       "leaf index 4: stored leaf hashes 4-5 do not match the verified log"));
  EXPECT_THAT(found, HasErrorReason("AUDIT_LOG_TAMPERED"));
}

}  // namespace
}  // namespace kinex::audit
