// Start-up from a checkpoint (services/audit/checkpoint.h): a restart
// re-hashes only the leaves after the checkpoint's last full block, serves
// the same roots, proofs, queries and chains as before, and never trusts a
// checkpoint it cannot verify: an altered, foreign-key, stale-level or
// out-of-range checkpoint sends start-up back to the whole log, which names
// any tampering. Against SQLite files an attacker edits directly.
#include <sqlite3.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/checkpoint.h"
#include "services/audit/sqlite_log_storage.h"
#include "services/audit/stored_leaf.h"
#include "tests/audit/test_events.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::kNhsA;
using ::kinex::audit::testing::kNhsB;
using ::kinex::audit::testing::SampleEvent;
using ::kinex::testing::HasErrorReason;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// 200 leaves: three full blocks of 64 (lean_level 6) and 8 more.
constexpr int kEntries = 200;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < kEntries; ++i) Append(**log, i);
  }
  void TearDown() override {
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      const std::function<void(AuditLog::Options&)>& customize = nullptr) {
    storage_.reset();
    auto storage = SqliteLogStorage::Open({.path = path_});
    if (!storage.ok()) return storage.status();
    storage_ = *std::move(storage);
    AuditLog::Options options;
    options.storage = storage_.get();
    options.signer = signer_;
    options.pseudonymizer = testing::TestPseudonymizer();
    options.clock = &clock_;
    options.start_signer_thread = false;
    if (customize) customize(options);
    return AuditLog::Create(std::move(options));
  }

  // Alternates two children and two agencies, one second apart.
  // The canonical leaf at `index` (read through a log opened and closed
  // here) with its actor changed (j.smith to x.smith: same length, so it
  // still decodes); empty if it has none.
  std::string ActorAlteredLeaf(uint64_t index) {
    auto log = Open();
    if (!log.ok()) return "";
    v1::GetEntriesRequest req;
    req.set_start_index(index);
    req.set_end_index(index + 1);
    std::string leaf = (*log)->GetEntries(req)->entries(0).leaf_data();
    const size_t at = leaf.find("j.smith");
    if (at == std::string::npos) return "";
    leaf[at] = 'x';
    return leaf;
  }

  // Rewrites leaf `index` in the store as ActorAlteredLeaf gives it, with
  // its own leaf hash: an edit only the tree's hashes can catch.
  void RewriteLeaf(uint64_t index) {
    const std::string leaf = ActorAlteredLeaf(index);
    ASSERT_FALSE(leaf.empty());
    Sql(absl::StrCat("UPDATE audit_entries SET leaf_data = x'", absl::BytesToHexString(leaf),
                     "', leaf_hash = x'", absl::BytesToHexString(HashToBytes(HashLeaf(leaf))),
                     "' WHERE leaf_index = ", index, ";"));
  }

  // Blocks 0 to blocks - 1 of the store each have their eight eighths'
  // hashes stored, computed here from the stored leaf hashes.
  void ExpectEighthsStored(uint64_t blocks) {
    auto hashes = storage_->ReadLeafHashes(0, blocks * 64);
    ASSERT_TRUE(hashes.ok()) << hashes.status();
    for (uint64_t block = 0; block < blocks; ++block) {
      std::vector<Hash> expected;
      for (uint64_t e = 0; e < 8; ++e) {
        expected.push_back(RootOf(absl::MakeConstSpan(*hashes).subspan(block * 64 + e * 8, 8)));
      }
      EXPECT_EQ(*storage_->ReadBlockEighths(block), expected) << block;
    }
  }

  void Append(AuditLog& log, int i) {
    v1::AuditEvent e = SampleEvent(absl::StrCat("req-", i), i % 3 == 0 ? kNhsB : kNhsA);
    if (i % 2 == 0) e.set_agency_code("E09000001");
    clock_.Advance(absl::Seconds(1));
    auto r = log.Append(e);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const std::string all = absl::StrCat(
        "DROP TRIGGER IF EXISTS audit_entries_no_update;"
        "DROP TRIGGER IF EXISTS audit_entries_no_delete;",
        sql);
    const int rc = sqlite3_exec(db, all.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << "\n" << sql;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  std::string StoredCheckpoint() {
    auto sealed = storage_->LatestCheckpoint();
    EXPECT_TRUE(sealed.ok() && sealed->has_value());
    return sealed.ok() && sealed->has_value() ? **sealed : "";
  }

  static std::vector<uint64_t> Leaves(const v1::QueryEventsResponse& r) {
    std::vector<uint64_t> out;
    for (const auto& e : r.entries()) out.push_back(e.leaf_index());
    return out;
  }

  v1::QueryEventsResponse QueryChild(const AuditLog& log, const std::string& nhs,
                                     int64_t from_seconds = 0) {
    v1::QueryEventsRequest q;
    q.mutable_child()->set_nhs_number(nhs);
    q.set_page_size(1000);
    if (from_seconds > 0) q.mutable_start_time()->set_seconds(from_seconds);
    auto r = log.QueryEvents(q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::QueryEventsResponse();
  }

  std::filesystem::path dir_ = kinex::testing::MakeUniqueTempDir("audit-checkpoint");
  std::string path_ = (dir_ / "audit.db").string();
  FakeClock clock_;
  std::shared_ptr<const TreeHeadSigner> signer_ = testing::TestSigner();
  std::unique_ptr<SqliteLogStorage> storage_;
};

TEST_F(CheckpointTest, RestartStartsFromTheCheckpointAndServesTheSameLog) {
  v1::SignedTreeHead head;
  v1::GetInclusionProofResponse proof;
  v1::QueryEventsResponse child_b, recent_a;
  const int64_t midway = absl::ToUnixSeconds(clock_.Now()) - 50;
  {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    head = (*log)->LatestHead();
    v1::GetInclusionProofRequest req;
    req.set_leaf_index(5);
    proof = *(*log)->GetInclusionProof(req);
    child_b = QueryChild(**log, kNhsB);
    recent_a = QueryChild(**log, kNhsA, midway);
  }  // a clean stop writes a checkpoint at 200
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->start_info().checkpoint_size, 200u);
  EXPECT_EQ((*log)->start_info().rehashed, 8u);  // 192-199: after the last full block
  EXPECT_EQ((*log)->start_info().fallback, "");
  EXPECT_EQ((*log)->LatestHead().root_hash(), head.root_hash());
  EXPECT_EQ((*log)->LatestHead().tree_size(), 200u);
  v1::GetInclusionProofRequest req;
  req.set_leaf_index(5);
  auto again = (*log)->GetInclusionProof(req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), proof.SerializeAsString());
  EXPECT_THAT(Leaves(QueryChild(**log, kNhsB)), ElementsAreArray(Leaves(child_b)));
  EXPECT_EQ(Leaves(child_b).size(), 67u);  // i % 3 == 0 below 200
  // A time-range query needs each block's first time, restored from the rows.
  EXPECT_THAT(Leaves(QueryChild(**log, kNhsA, midway)), ElementsAreArray(Leaves(recent_a)));
  EXPECT_GT(Leaves(recent_a).size(), 0u);

  // New leaves link to the leaves before the restart: child B's last was 198.
  Append(**log, 201);  // 201 % 3 == 0: child B
  v1::GetEntriesRequest entries;
  entries.set_start_index(200);
  entries.set_end_index(201);
  auto stored = (*log)->GetEntries(entries);
  ASSERT_TRUE(stored.ok());
  auto decoded = DecodeEvent(stored->entries(0).leaf_data());
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->event.child_chain_size(), 1);
  EXPECT_EQ(decoded->event.child_chain(0).previous_leaf_index(), 198);
  log->reset();

  // The whole log, re-hashed, agrees (chains, index rows and every head).
  auto full = Open([](AuditLog::Options& o) { o.full_verify_on_start = true; });
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ((*full)->start_info().checkpoint_size, 0u);
  EXPECT_EQ((*full)->start_info().rehashed, 201u);
  EXPECT_EQ((*full)->start_info().fallback, "full verification on start was asked for");
}

TEST_F(CheckpointTest, AStoreWithoutCheckpointsIsReHashedOnceThenCheckpointed) {
  Sql("DELETE FROM audit_checkpoints; DELETE FROM audit_tree_blocks;");
  {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->start_info().checkpoint_size, 0u);
    EXPECT_EQ((*log)->start_info().rehashed, 200u);
    EXPECT_EQ((*log)->start_info().fallback, "no checkpoint is stored");
    // Create wrote one at once (not waiting for the stop).
    EXPECT_NE(StoredCheckpoint(), "");
  }
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->start_info().checkpoint_size, 200u);
}

TEST_F(CheckpointTest, AnAlteredCheckpointIsNotUsed) {
  std::string sealed = StoredCheckpoint();
  v1::SealedLogCheckpoint parsed;
  ASSERT_TRUE(parsed.ParseFromString(sealed));
  v1::LogCheckpoint body;
  ASSERT_TRUE(body.ParseFromString(parsed.body()));
  body.set_last_micros(body.last_micros() - 1);  // a plausible edit
  parsed.set_body(body.SerializeAsString());
  Sql(absl::StrCat("UPDATE audit_checkpoints SET sealed = x'",
                   absl::BytesToHexString(parsed.SerializeAsString()), "';"));
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->start_info().checkpoint_size, 0u);
  EXPECT_EQ((*log)->start_info().fallback,
            "audit checkpoint refused: the signature does not verify");
}

TEST_F(CheckpointTest, AnAlteredTreeBlockIsNotUsed) {
  Sql(absl::StrCat("UPDATE audit_tree_blocks SET subtree_hash = x'", std::string(64, '0'),
                   "' WHERE block_index = 1;"));
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->start_info().checkpoint_size, 0u);
  EXPECT_EQ((*log)->start_info().fallback,
            "the stored tree blocks do not match the checkpoint's digest");
  EXPECT_EQ((*log)->start_info().rehashed, 200u);
}

TEST_F(CheckpointTest, AMissingTreeBlockIsNotUsed) {
  Sql("DELETE FROM audit_tree_blocks WHERE block_index = 2;");
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->start_info().fallback, "the store holds 2 tree blocks, the checkpoint names 3");
}

TEST_F(CheckpointTest, ACheckpointByARetiredKeyIsNotUsed) {
  const std::string old_key = signer_->key_id();
  auto retired = TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
  ASSERT_TRUE(retired.ok());
  signer_ = testing::TestSigner();
  auto log = Open([&](AuditLog::Options& o) { o.retired_keys = {std::move(*retired)}; });
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->start_info().checkpoint_size, 0u);
  EXPECT_EQ((*log)->start_info().fallback,
            absl::StrCat("audit checkpoint refused: signed by key ", old_key,
                         ", not the current key ", signer_->key_id()));
}

TEST_F(CheckpointTest, ACheckpointAtAnotherBlockLevelIsNotUsed) {
  auto log = Open([](AuditLog::Options& o) { o.lean_level = 5; });
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->start_info().fallback,
            "the checkpoint's block level is 6, the log's lean_level 5");
}

TEST_F(CheckpointTest, ALeafAfterTheLastFullBlockAlteredRefusesToStart) {
  const std::string leaf = ActorAlteredLeaf(195);
  ASSERT_FALSE(leaf.empty());
  // Stored compressed, as the store writes leaves; the hash left as it was.
  Sql(absl::StrCat("UPDATE audit_entries SET leaf_data = x'",
                   absl::BytesToHexString(CompressLeaf(leaf)), "' WHERE leaf_index = 195;"));
  auto log = Open();
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("audit log is corrupt; refusing to start"));
  EXPECT_THAT(log.status().message(), HasSubstr("leaf index 195: stored leaf hash does not match"));
  EXPECT_THAT(log, HasErrorReason("AUDIT_LOG_TAMPERED"));
}

TEST_F(CheckpointTest, ATruncatedLogRefusesToStart) {
  Sql("DELETE FROM audit_entries WHERE leaf_index >= 150;");
  auto log = Open();
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("log is truncated: it holds 150 entries"));
}

// What start-up from a checkpoint no longer does: re-hash the leaves below
// its last full block. A consistent rewrite there (data and stored hash
// changed together) is caught when the block is read for a proof, and by a
// full verification.
TEST_F(CheckpointTest, ARewriteBelowTheCheckpointIsCaughtWhenReadAndByFullVerification) {
  RewriteLeaf(10);
  {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->start_info().checkpoint_size, 200u);
    v1::GetInclusionProofRequest req;
    req.set_leaf_index(10);
    auto proof = (*log)->GetInclusionProof(req);
    EXPECT_EQ(proof.status().code(), absl::StatusCode::kDataLoss);
    // The proof read the eighth of block 0 that holds leaf 10.
    EXPECT_THAT(proof.status().message(),
                HasSubstr("stored leaf hashes 8-15 do not match the verified log"));
  }
  auto full = Open([](AuditLog::Options& o) { o.full_verify_on_start = true; });
  EXPECT_EQ(full.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(full.status().message(), HasSubstr("audit log is corrupt; refusing to start"));
}

// Each checkpoint stores its new blocks' eighths: the hashes of the eight
// subtrees of 8 leaves in each block of 64, also for blocks completed long
// after the recent window (64 leaves here) let their leaves go.
TEST_F(CheckpointTest, CheckpointsStoreTheEighthsOfEachNewBlock) {
  auto small_window = [](AuditLog::Options& o) {
    o.recent_leaves = 64;
    o.max_batch = 8;
  };
  {
    auto log = Open(small_window);  // from the checkpoint at 200
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = kEntries; i < 500; ++i) Append(**log, i);
  }  // a clean stop: a checkpoint at 500, blocks 3-6 new
  ExpectEighthsStored(7);
  EXPECT_EQ(*storage_->ReadBlockEighths(7), std::nullopt);  // 448-511: not full
}

// Blocks checkpointed by a binary from before the eighths have none, and a
// start from the checkpoint leaves them so; a full start checkpoints the
// whole log again, every block's eighths with it.
TEST_F(CheckpointTest, AFullStartStoresTheEighthsAStoreLacks) {
  Sql("DELETE FROM audit_tree_block_eighths;");
  {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->start_info().checkpoint_size, 200u);
  }
  EXPECT_EQ(*storage_->ReadBlockEighths(0), std::nullopt);
  {
    auto full = Open([](AuditLog::Options& o) { o.full_verify_on_start = true; });
    ASSERT_TRUE(full.ok()) << full.status();
  }
  ExpectEighthsStored(3);
}

// The eighths are derived and checked: altered or deleted, a proof reads
// the whole block instead and the answers are the same.
TEST_F(CheckpointTest, AlteredOrMissingEighthsAreReadPast) {
  v1::GetInclusionProofRequest req;
  req.set_leaf_index(70);
  std::string before;
  {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    before = (*log)->GetInclusionProof(req)->SerializeAsString();
  }
  for (const std::string& edit :
       {"UPDATE audit_tree_block_eighths SET hashes = zeroblob(256) WHERE block_index = 1;",
        "UPDATE audit_tree_block_eighths SET hashes = x'00' WHERE block_index = 1;",
        "DELETE FROM audit_tree_block_eighths;"}) {
    Sql(edit);
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->start_info().checkpoint_size, 200u) << edit;
    auto proof = (*log)->GetInclusionProof(req);
    ASSERT_TRUE(proof.ok()) << edit << ": " << proof.status();
    EXPECT_EQ(proof->SerializeAsString(), before) << edit;
  }
  // With the eighths gone, a rewritten leaf is named by its whole block.
  RewriteLeaf(70);
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  auto proof = (*log)->GetInclusionProof(req);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(proof.status().message(),
              HasSubstr("stored leaf hashes 64-127 do not match the verified log"));
}

TEST_F(CheckpointTest, WriteCheckpointSignsTheCurrentSizeAndKeepsTwo) {
  auto log = Open();
  ASSERT_TRUE(log.ok());
  auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 70; ++i) Append(**log, 1000 + round * 100 + i);
    ASSERT_TRUE((*log)->WriteCheckpoint().ok());
    auto opened = OpenCheckpoint(StoredCheckpoint(), *verifier);
    ASSERT_TRUE(opened.ok()) << opened.status();
    const uint64_t size = kEntries + 70 * (round + 1);
    EXPECT_EQ(opened->tree_size(), size);
    EXPECT_EQ(opened->head().tree_size(), size);
    EXPECT_EQ(opened->head().root_hash(), (*log)->LatestHead().root_hash());
    EXPECT_EQ(opened->level(), 6);
    // Two children, two agencies (E09000033, E09000001).
    EXPECT_EQ(opened->child_last_leaf_size(), 2);
    EXPECT_EQ(opened->agency_last_leaf_size(), 2);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT group_concat(tree_size) FROM audit_checkpoints", -1,
                               &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))), "340,410");
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM audit_tree_blocks", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 410 / 64);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(CheckpointTest, SealCheckpointOfSetsTheStateAndKeepsTheChains) {
  // Chain heads as ChainTracker::ExportTo writes them: two children.
  v1::LogCheckpoint chains;
  chains.set_child_keys(std::string(32, 'a') + std::string(32, 'b'));
  chains.add_child_last_leaf(41);
  chains.add_child_last_leaf(7);
  (*chains.mutable_agency_last_leaf())["1/E09000033"] = 41;
  v1::SignedTreeHead head;
  head.set_tree_size(130);
  head.set_root_hash(std::string(32, 'r'));
  CheckpointState state{.tree_size = 130,
                        .level = 6,
                        .blocks_digest = EmptyBlocksDigest(),
                        .partial_first_micros = 1788220800000002,
                        .last_micros = 1788220800000009,
                        .head = head};
  auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
  auto sealed = SealCheckpointOf(state, chains, *signer_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  auto opened = OpenCheckpoint(*sealed, *verifier);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->version(), kCheckpointVersion);
  EXPECT_EQ(opened->tree_size(), 130u);
  EXPECT_EQ(opened->level(), 6u);
  EXPECT_EQ(opened->blocks_digest(), HashToBytes(EmptyBlocksDigest()));
  EXPECT_EQ(opened->partial_first_micros(), 1788220800000002);
  EXPECT_EQ(opened->last_micros(), 1788220800000009);
  EXPECT_EQ(opened->head().tree_size(), 130u);
  EXPECT_EQ(opened->head().root_hash(), std::string(32, 'r'));
  EXPECT_EQ(opened->child_keys(), std::string(32, 'a') + std::string(32, 'b'));
  EXPECT_THAT(opened->child_last_leaf(), ElementsAreArray({41, 7}));
  EXPECT_EQ(opened->agency_last_leaf().at("1/E09000033"), 41);

  // At a size that ends a block there is no partial block: the field is
  // left unset.
  state.tree_size = 128;
  state.head.set_tree_size(128);
  state.partial_first_micros.reset();
  sealed = SealCheckpointOf(state, chains, *signer_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  opened = OpenCheckpoint(*sealed, *verifier);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->tree_size(), 128u);
  EXPECT_EQ(opened->partial_first_micros(), 0);
}

TEST_F(CheckpointTest, ACheckpointSignatureIsNotATreeHeadSignature) {
  // The sealed signature covers "kinex-audit-checkpoint-v1\0" || SHA-256(body);
  // presented as a head's it must not verify.
  v1::SealedLogCheckpoint sealed;
  ASSERT_TRUE(sealed.ParseFromString(StoredCheckpoint()));
  v1::LogCheckpoint body;
  ASSERT_TRUE(body.ParseFromString(sealed.body()));
  v1::SignedTreeHead forged = body.head();
  forged.set_signature(sealed.signature());
  auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
  EXPECT_THAT(verifier->Verify(forged), HasErrorReason("AUDIT_HEAD_SIGNATURE_INVALID"));
}

}  // namespace
}  // namespace kinex::audit
