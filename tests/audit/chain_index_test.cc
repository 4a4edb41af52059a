// The tamper-evident query index, idempotent appends, version-1 entries and
// audited queries, on the SQLite store:
//   - the sequencer links each event to the previous event of each of its
//     child pseudonyms and of its agency, within a batch too;
//   - a deleted or altered child-pseudonym row is named ("index: leaf N")
//     by the offline verifier, by the chain check of a per-child answer and
//     by the log's start-up check (which refuses to start); since leaves
//     are stored with their children's pseudonyms as references to the
//     index (schema version 11), a row that gives a leaf another child
//     makes the leaf read as other bytes, named as an altered entry
//     ("leaf index N: stored leaf hash does not match");
//   - an event with an idempotency key already logged (earlier, in the same
//     batch, or before a restart) returns the original leaf;
//   - a log written with the version-1 encoding still verifies after
//     version-2 entries are appended to it;
//   - every audited query appends one AUDIT_QUERIED event with its result
//     count, and fails UNAVAILABLE (returning nothing) when it cannot;
//   - GetEntries and QueryEvents page by bytes (1,500 events of ~3 KB).
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/log_verifier.h"
#include "services/audit/sqlite_log_storage.h"
#include "tests/audit/test_events.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::kNhsA;
using ::kinex::audit::testing::kNhsB;
using ::kinex::audit::testing::SampleEvent;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

// Forwards to a store; Append can be held (to gather a batch) or failed.
class GateStorage final : public LogStorage {
 public:
  explicit GateStorage(LogStorage* inner) : inner_(inner) {}
  std::atomic<bool> fail{false};
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  // Waits until an Append is blocked in the gate.
  void AwaitBlocked() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&blocked_));
  }

  absl::Status Append(absl::Span<const NewEntry> entries, const v1::SignedTreeHead* head) override {
    {
      absl::MutexLock lock(&mu_);
      blocked_ = held_;
      mu_.Await(absl::Condition(
          +[](bool* held) { return !*held; }, &held_));
      blocked_ = false;
    }
    if (fail) return absl::UnavailableError("disk full (injected)");
    return inner_->Append(entries, head);
  }
  absl::Status AddHead(const v1::SignedTreeHead& head) override { return inner_->AddHead(head); }
  absl::StatusOr<uint64_t> Size() override { return inner_->Size(); }
  absl::StatusOr<std::optional<v1::SignedTreeHead>> LatestHead() override {
    return inner_->LatestHead();
  }
  absl::StatusOr<std::vector<v1::SignedTreeHead>> ListHeads() override {
    return inner_->ListHeads();
  }
  absl::Status ReadEntries(uint64_t b, uint64_t e,
                           const std::function<absl::Status(const StoredEntry&)>& fn) override {
    return inner_->ReadEntries(b, e, fn);
  }
  absl::StatusOr<std::vector<StoredEntry>> Query(const QueryFilter& f, size_t limit) override {
    return inner_->Query(f, limit);
  }
  absl::Status ReadChildIndex(uint64_t b, uint64_t e,
                              const std::function<absl::Status(const IndexRow&)>& fn) override {
    return inner_->ReadChildIndex(b, e, fn);
  }
  absl::StatusOr<std::optional<uint64_t>> LookupIdempotencyKey(const std::string& key) override {
    return inner_->LookupIdempotencyKey(key);
  }

 private:
  LogStorage* inner_;
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
};

class ChainIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kinex::testing::MakeUniqueTempDir("audit-chain");
    path_ = (dir_ / "audit.db").string();
  }
  void TearDown() override {
    log_.reset();
    gate_.reset();
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<AuditLog*> Open() {
    log_.reset();
    gate_.reset();
    storage_.reset();
    auto storage = SqliteLogStorage::Open({.path = path_, .synchronous_full = false});
    if (!storage.ok()) return storage.status();
    storage_ = *std::move(storage);
    gate_ = std::make_unique<GateStorage>(storage_.get());
    AuditLog::Options options;
    options.storage = gate_.get();
    options.signer = signer_;
    options.pseudonymizer = pseudonymizer_;
    options.clock = &clock_;
    options.start_signer_thread = false;
    auto log = AuditLog::Create(std::move(options));
    if (!log.ok()) return log.status();
    log_ = *std::move(log);
    return log_.get();
  }

  std::string Pseudonym(const std::string& nhs) {
    kinex::common::v1::ChildRef child;
    child.set_nhs_number(nhs);
    return *pseudonymizer_->Pseudonym(child);
  }

  // Runs SQL as an attacker with file access (dropping the index triggers).
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const std::string all = absl::StrCat(
        "DROP TRIGGER IF EXISTS audit_entry_child_sets_no_update;"
        "DROP TRIGGER IF EXISTS audit_entry_child_sets_no_delete;"
        "DROP TRIGGER IF EXISTS audit_child_sets_no_update;"
        "DROP TRIGGER IF EXISTS audit_child_sets_no_delete;"
        "DROP TRIGGER IF EXISTS audit_child_set_members_no_update;"
        "DROP TRIGGER IF EXISTS audit_child_set_members_no_delete;"
        "DROP TRIGGER IF EXISTS audit_children_no_update;"
        "DROP TRIGGER IF EXISTS audit_children_no_delete;",
        sql);
    EXPECT_EQ(sqlite3_exec(db, all.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // SQL that numbers the child `nhs` (if it is not yet) and makes the set
  // of that one child, with its member row, as the log would.
  std::string MakeSetOf(const std::string& nhs) {
    return absl::StrCat(
        "INSERT OR IGNORE INTO audit_children (pseudonym) VALUES ('", Pseudonym(nhs), "');",
        "INSERT OR IGNORE INTO audit_child_sets (members) SELECT CAST(child_id AS TEXT) FROM "
        "audit_children WHERE pseudonym = '",
        Pseudonym(nhs), "';", "INSERT OR IGNORE INTO audit_child_set_members (set_id, child_id) ",
        SetIdOf(nhs), ";");
  }
  // A query for (set number, child number) of the set of the one child `nhs`.
  std::string SetIdOf(const std::string& nhs) {
    return absl::StrCat(
        "SELECT s.set_id, c.child_id FROM audit_child_sets s JOIN audit_children c ON s.members = "
        "CAST(c.child_id AS TEXT) WHERE c.pseudonym = '",
        Pseudonym(nhs), "'");
  }

  v1::AuditEvent Decoded(uint64_t index) {
    v1::GetEntriesRequest req;
    req.set_start_index(index);
    req.set_end_index(index + 1);
    return log_->GetEntries(req)->entries(0).event();
  }

  // `kinexctl audit verify`'s check, over GetEntries with the index rows.
  absl::Status VerifyOffline() {
    auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
    return VerifyLog(
               [&](uint64_t start, uint64_t end) {
                 v1::GetEntriesRequest req;
                 req.set_start_index(start);
                 req.set_end_index(end);
                 req.set_include_index(true);
                 return log_->GetEntries(req);
               },
               log_->LatestHead(), *verifier, {}, {.check_index = true})
        .status();
  }

  // `kinexctl audit query --child-nhs=...`'s check: every page, then the
  // chain.
  absl::Status ChildChainCheck(const std::string& nhs) {
    v1::QueryEventsRequest req;
    req.mutable_child()->set_nhs_number(nhs);
    req.set_page_size(3);
    std::vector<v1::LogEntry> entries;
    std::string pseudonym;
    int64_t head = -2;
    while (true) {
      absl::StatusOr<v1::QueryEventsResponse> page = log_->QueryEvents(req);
      if (!page.ok()) return page.status();
      if (req.page_token().empty()) {
        pseudonym = page->child_pseudonym();
        head = page->child_chain_head();
      }
      entries.insert(entries.end(), page->entries().begin(), page->entries().end());
      if (page->next_page_token().empty()) break;
      req.set_page_token(page->next_page_token());
    }
    return CheckChildChain(pseudonym, entries, head);
  }

  FakeClock clock_;
  std::shared_ptr<const TreeHeadSigner> signer_ = testing::TestSigner();
  std::shared_ptr<const ChildPseudonymizer> pseudonymizer_ = testing::TestPseudonymizer();
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<SqliteLogStorage> storage_;
  std::unique_ptr<GateStorage> gate_;
  std::unique_ptr<AuditLog> log_;
};

int64_t LinkOf(const v1::AuditEvent& e, const std::string& pseudonym) {
  for (const auto& link : e.child_chain()) {
    if (link.pseudonym() == pseudonym) return link.previous_leaf_index();
  }
  return -100;
}

TEST_F(ChainIndexTest, LinksChainEachChildAndAgency) {
  ASSERT_TRUE(Open().ok());
  const std::string a = Pseudonym(kNhsA);
  const std::string b = Pseudonym(kNhsB);
  ASSERT_TRUE(log_->Append(SampleEvent("r0", kNhsA)).ok());
  ASSERT_TRUE(log_->Append(SampleEvent("r1", kNhsB)).ok());
  v1::AuditEvent both = SampleEvent("r2", kNhsA);
  both.add_children()->set_nhs_number(kNhsB);
  ASSERT_TRUE(log_->Append(both).ok());
  v1::AuditEvent health = SampleEvent("r3", kNhsA);
  health.set_agency_kind(kinex::common::v1::HEALTH);
  health.set_agency_code("RJ1");
  ASSERT_TRUE(log_->Append(health).ok());

  EXPECT_EQ(LinkOf(Decoded(0), a), -1);
  EXPECT_EQ(Decoded(0).previous_agency_leaf_index(), -1);
  EXPECT_EQ(LinkOf(Decoded(1), b), -1);
  EXPECT_EQ(Decoded(1).previous_agency_leaf_index(), 0);
  EXPECT_EQ(Decoded(2).child_chain_size(), 2);
  EXPECT_EQ(LinkOf(Decoded(2), a), 0);
  EXPECT_EQ(LinkOf(Decoded(2), b), 1);
  EXPECT_EQ(Decoded(2).previous_agency_leaf_index(), 1);
  EXPECT_EQ(LinkOf(Decoded(3), a), 2);
  EXPECT_EQ(Decoded(3).previous_agency_leaf_index(), -1);
  EXPECT_TRUE(VerifyOffline().ok());
  EXPECT_TRUE(ChildChainCheck(kNhsA).ok());
  EXPECT_TRUE(ChildChainCheck(kNhsB).ok());
  // Links survive a restart (the tracker is rebuilt from the leaves).
  ASSERT_TRUE(Open().ok());
  ASSERT_TRUE(log_->Append(SampleEvent("r4", kNhsB)).ok());
  EXPECT_EQ(LinkOf(Decoded(4), b), 2);
  EXPECT_EQ(Decoded(4).previous_agency_leaf_index(), 2);
}

TEST_F(ChainIndexTest, LinksWithinOneBatch) {
  ASSERT_TRUE(Open().ok());
  const std::string a = Pseudonym(kNhsA);
  ASSERT_TRUE(log_->Append(SampleEvent("r0", kNhsA)).ok());
  gate_->Hold();
  std::thread first([&] { EXPECT_TRUE(log_->Append(SampleEvent("r1", kNhsB)).ok()); });
  gate_->AwaitBlocked();  // the sequencer holds batch {r1}; the rest queue
  std::vector<std::thread> more;
  for (int i = 0; i < 3; ++i) {
    more.emplace_back(
        [&, i] { EXPECT_TRUE(log_->Append(SampleEvent(absl::StrCat("b", i), kNhsA)).ok()); });
  }
  absl::SleepFor(absl::Milliseconds(300));
  gate_->Release();
  first.join();
  for (auto& t : more) t.join();
  ASSERT_EQ(log_->Size(), 5u);
  // Leaves 2-4 were one batch: they chain to each other and to leaf 0.
  EXPECT_EQ(log_->LatestHead().tree_size(), 5u);
  EXPECT_EQ(LinkOf(Decoded(2), a), 0);
  EXPECT_EQ(LinkOf(Decoded(3), a), 2);
  EXPECT_EQ(LinkOf(Decoded(4), a), 3);
  EXPECT_EQ(Decoded(4).previous_agency_leaf_index(), 3);
  EXPECT_TRUE(VerifyOffline().ok());
  EXPECT_TRUE(ChildChainCheck(kNhsA).ok());
}

class ChainIndexTamperTest : public ChainIndexTest {
 protected:
  void SetUp() override {
    ChainIndexTest::SetUp();
    ASSERT_TRUE(Open().ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(log_->Append(SampleEvent(absl::StrCat("req-", i), kNhsA)).ok());
    }
    ASSERT_TRUE(VerifyOffline().ok());
    ASSERT_TRUE(ChildChainCheck(kNhsA).ok());
  }

  // The log refuses to start with AUDIT_INDEX_TAMPERED naming `leaf_index`.
  void ExpectRefusesToStart(const std::string& message, const std::string& leaf_index,
                            const std::string& reason = "AUDIT_INDEX_TAMPERED") {
    absl::StatusOr<AuditLog*> restarted = Open();
    EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(restarted.status().message(),
                HasSubstr(absl::StrCat("audit log is corrupt; refusing to start: ", message)));
    EXPECT_THAT(restarted, HasErrorReason(reason));
    EXPECT_THAT(restarted, HasErrorMetadata("leaf_index", leaf_index));
  }
};

TEST_F(ChainIndexTamperTest, DeletedIndexRowIsNamedEverywhere) {
  Sql("DELETE FROM audit_entry_child_sets WHERE leaf_index = 4;");
  // The leaf is stored with its child's pseudonym as a reference to its
  // set (schema version 11), so the store names the missing row as it reads
  // the leaf.
  absl::Status verify = VerifyOffline();
  EXPECT_EQ(verify.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(verify.message(),
              HasSubstr("index: leaf 4: child pseudonym row missing (its stored leaf refers to "
                        "more children than the index gives it: "));
  EXPECT_THAT(verify, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  EXPECT_THAT(verify, HasErrorMetadata("leaf_index", "4"));
  absl::Status chain = ChildChainCheck(kNhsA);
  EXPECT_EQ(chain.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(chain.message(),
            "index: leaf 4: child pseudonym row missing (leaf 5 links to it; "
            "the answer skips it)");
  EXPECT_THAT(chain, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  ExpectRefusesToStart("index: leaf 4: child pseudonym row missing", "4");
}

TEST_F(ChainIndexTamperTest, AlteredIndexRowIsNamedEverywhere) {
  // The row of leaf 7 now says it is about another child.
  Sql(absl::StrCat(MakeSetOf(kNhsB),
                   "UPDATE audit_entry_child_sets SET set_id = (SELECT set_id FROM (",
                   SetIdOf(kNhsB), ")) WHERE leaf_index = 7;"));
  // Leaf 7 is stored with its child's pseudonym as a reference to its set
  // (schema version 11): read through B's set it is other bytes, which its
  // hash refuses wherever it is read.
  const std::string altered =
      "leaf index 7: stored leaf hash does not match the entry's data (the entry, or the query "
      "index rows its stored form refers to, was altered)";
  absl::Status verify = VerifyOffline();
  EXPECT_EQ(verify.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(verify.message(), HasSubstr(altered));
  EXPECT_THAT(verify, HasErrorMetadata("leaf_index", "7"));
  EXPECT_EQ(ChildChainCheck(kNhsA).message(),
            "index: leaf 7: child pseudonym row missing (leaf 8 links to it; "
            "the answer skips it)");
  // The row now claims leaf 7 is about child B, but the log re-checks every
  // row against the verified tree: B's answer is refused, never served.
  v1::QueryEventsRequest b;
  b.mutable_child()->set_nhs_number(kNhsB);
  absl::StatusOr<v1::QueryEventsResponse> answer = log_->QueryEvents(b);
  EXPECT_THAT(answer, StatusIs(absl::StatusCode::kDataLoss,
                               "leaf index 7: stored entry does not match the verified log"));
  EXPECT_THAT(answer, HasErrorReason("AUDIT_LOG_TAMPERED"));
  ExpectRefusesToStart(altered, "7", "AUDIT_LOG_TAMPERED");
}

TEST_F(ChainIndexTamperTest, DeletedNewestRowBreaksTheChainHead) {
  Sql("DELETE FROM audit_entry_child_sets WHERE leaf_index = 9;");
  EXPECT_EQ(ChildChainCheck(kNhsA).message(),
            "index: leaf 9: child pseudonym row missing (the newest event about "
            "the child; the answer ends at leaf 8)");
  EXPECT_THAT(VerifyOffline().message(), HasSubstr("index: leaf 9: child pseudonym row missing"));
  ExpectRefusesToStart("index: leaf 9: child pseudonym row missing", "9");
}

TEST_F(ChainIndexTamperTest, AddedRowForAMissingLeafIsNamedAtStartUp) {
  Sql(absl::StrCat(
      MakeSetOf(kNhsB),
      "INSERT INTO audit_entry_child_sets (leaf_index, set_id) SELECT 12, set_id FROM (",
      SetIdOf(kNhsB), ");"));
  ExpectRefusesToStart("index: leaf 12: child pseudonym row for a leaf the log does not hold",
                       "12");
}

// The index keeps each pseudonym once (audit_children) and names it by number
// in its sets (audit_child_sets): renaming a number moves every row of it at
// once, and every leaf stored with a reference to it then reads as other
// bytes. A number no pseudonym has is still a row the leaf does not name.
TEST_F(ChainIndexTamperTest, RenumberedChildMovesEveryRowAndIsNamedEverywhere) {
  Sql(absl::StrCat("UPDATE audit_children SET pseudonym = '", Pseudonym(kNhsB),
                   "' WHERE pseudonym = '", Pseudonym(kNhsA), "';"));
  // A's leaves are stored with A's pseudonym as a reference to the index
  // (schema version 11): each now reads with B's, which its hash refuses.
  const std::string altered =
      "leaf index 0: stored leaf hash does not match the entry's data (the entry, or the query "
      "index rows its stored form refers to, was altered)";
  absl::Status verify = VerifyOffline();
  EXPECT_EQ(verify.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(verify.message(), HasSubstr(altered));
  EXPECT_THAT(verify, HasErrorMetadata("leaf_index", "0"));
  // B's answer would now be A's ten leaves, but each is re-checked against
  // the verified tree: it is refused, never served.
  v1::QueryEventsRequest b;
  b.mutable_child()->set_nhs_number(kNhsB);
  absl::StatusOr<v1::QueryEventsResponse> answer = log_->QueryEvents(b);
  EXPECT_THAT(answer, StatusIs(absl::StatusCode::kDataLoss,
                               "leaf index 0: stored entry does not match the verified log"));
  EXPECT_THAT(answer, HasErrorReason("AUDIT_LOG_TAMPERED"));
  ExpectRefusesToStart(altered, "0", "AUDIT_LOG_TAMPERED");
}

TEST_F(ChainIndexTamperTest, RowOfAnUnnumberedChildIsNamedAtStartUp) {
  // Leaf 4 now names the set of child A and a child numbered 999.
  Sql(absl::StrCat("INSERT INTO audit_child_sets (members) SELECT members || ',999' FROM (",
                   "SELECT members FROM audit_child_sets s JOIN (", SetIdOf(kNhsA),
                   ") a ON a.set_id = s.set_id);",
                   "INSERT INTO audit_child_set_members (set_id, child_id) SELECT MAX(set_id), 999 "
                   "FROM audit_child_sets; INSERT INTO audit_child_set_members (set_id, child_id) "
                   "SELECT (SELECT MAX(set_id) FROM audit_child_sets), child_id FROM (",
                   SetIdOf(kNhsA),
                   "); UPDATE audit_entry_child_sets SET set_id = (SELECT MAX(set_id) FROM "
                   "audit_child_sets) WHERE leaf_index = 4;"));
  EXPECT_THAT(VerifyOffline().message(),
              HasSubstr("index: leaf 4: child pseudonym row \"\" matches nothing in the leaf"));
  ExpectRefusesToStart("index: leaf 4: child pseudonym row \"\" matches nothing in the leaf", "4");
}

// A second number for a child (the UNIQUE constraint removed by rebuilding
// the table) would let the child's query read the number with no rows: the
// query refuses, and the store refuses to open.
TEST_F(ChainIndexTamperTest, ASecondNumberForOneChildIsRefused) {
  Sql(
      absl::StrCat("CREATE TABLE numbered AS SELECT * FROM audit_children;"
                   "DROP TABLE audit_children;"
                   "CREATE TABLE audit_children (child_id INTEGER PRIMARY KEY, pseudonym TEXT);"
                   "INSERT INTO audit_children SELECT * FROM numbered; DROP TABLE numbered;"
                   "INSERT INTO audit_children VALUES (0, '",
                   Pseudonym(kNhsA), "');"));
  v1::QueryEventsRequest a;
  a.mutable_child()->set_nhs_number(kNhsA);
  absl::StatusOr<v1::QueryEventsResponse> answer = log_->QueryEvents(a);
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(answer.status().message(),
              HasSubstr("the query index numbers this child's pseudonym more than once"));
  EXPECT_THAT(answer, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  absl::StatusOr<AuditLog*> restarted = Open();
  EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(restarted.status().message(),
              HasSubstr("the query index numbers one pseudonym more than once (child numbers 0 "
                        "and "));
  EXPECT_THAT(restarted, HasErrorReason("AUDIT_INDEX_TAMPERED"));
}

// Deleting a set's member row would hide the set's events from a query for
// that child, which the start-up check of the leaves cannot see (it reads
// the set's members text): the query's chain check names the gap, and the
// store refuses to open.
TEST_F(ChainIndexTamperTest, DeletedSetMemberRowIsRefusedAtOpen) {
  Sql("DELETE FROM audit_child_set_members;");
  v1::QueryEventsRequest a;
  a.mutable_child()->set_nhs_number(kNhsA);
  EXPECT_EQ(log_->QueryEvents(a)->entries_size(), 0);
  absl::Status chain = ChildChainCheck(kNhsA);
  EXPECT_EQ(chain.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(chain, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  absl::StatusOr<AuditLog*> restarted = Open();
  EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(restarted.status().message(),
              HasSubstr("audit store: the query index's member rows of child set 1 are not the "
                        "children it lists: the index was edited; refusing to open"));
  EXPECT_THAT(restarted, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  EXPECT_THAT(restarted, HasErrorMetadata("set_id", "1"));
}

// A set's members text edited to list another child: its member rows no
// longer match, and the store refuses to open.
TEST_F(ChainIndexTamperTest, EditedSetMembersAreRefusedAtOpen) {
  Sql(absl::StrCat("INSERT OR IGNORE INTO audit_children (pseudonym) VALUES ('", Pseudonym(kNhsB),
                   "'); UPDATE audit_child_sets SET members = (SELECT CAST(child_id AS TEXT) FROM "
                   "audit_children WHERE pseudonym = '",
                   Pseudonym(kNhsB), "');"));
  absl::StatusOr<AuditLog*> restarted = Open();
  EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(restarted.status().message(),
              HasSubstr("the query index's member rows of child set 1 are not the children it "
                        "lists"));
  EXPECT_THAT(restarted, HasErrorReason("AUDIT_INDEX_TAMPERED"));
}

// A member row of a set that does not exist (here with a number far past
// every set's) is refused as well, without reading a range of numbers.
TEST_F(ChainIndexTamperTest, AMemberRowOfNoSetIsRefusedAtOpen) {
  Sql("INSERT INTO audit_child_set_members (set_id, child_id) VALUES (1000000000000, 1);");
  absl::StatusOr<AuditLog*> restarted = Open();
  EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(restarted.status().message(),
              HasSubstr("the query index's member rows of child set 1000000000000 are not the "
                        "children it lists"));
  EXPECT_THAT(restarted, HasErrorMetadata("set_id", "1000000000000"));
}

// A valid NHS number (modulus-11 check digit) for each `i`, none of them
// kNhsA or kNhsB.
std::string NhsNumber(int i) {
  for (int base = 912000000 + 13 * i;; ++base) {
    const std::string digits = absl::StrCat(base);
    int sum = 0;
    for (int k = 0; k < 9; ++k) sum += (digits[k] - '0') * (10 - k);
    const int check = (11 - sum % 11) % 11;
    if (check == 10) continue;
    return absl::StrCat(digits, check);
  }
}

// A child named by more sets than one read of the index unions (64): each
// event names it with one of 70 other children. Its answer is every event
// about it, in leaf order, page by page; its chain holds; the log verifies
// and opens again.
TEST_F(ChainIndexTest, AChildInManySetsIsAnsweredWholeInLeafOrder) {
  ASSERT_TRUE(Open().ok());
  constexpr int kSets = 70;
  for (int i = 0; i < 2 * kSets; ++i) {
    v1::AuditEvent e = SampleEvent(absl::StrCat("req-", i), kNhsA);
    e.add_children()->set_nhs_number(NhsNumber(i % kSets));
    ASSERT_TRUE(log_->Append(e).ok()) << i;
  }
  ASSERT_TRUE(log_->Append(SampleEvent("req-b", kNhsB)).ok());
  v1::QueryEventsRequest req;
  req.mutable_child()->set_nhs_number(kNhsA);
  req.set_page_size(7);
  std::vector<uint64_t> leaves;
  while (true) {
    absl::StatusOr<v1::QueryEventsResponse> page = log_->QueryEvents(req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& entry : page->entries()) leaves.push_back(entry.leaf_index());
    if (page->next_page_token().empty()) break;
    req.set_page_token(page->next_page_token());
  }
  std::vector<uint64_t> want;
  for (uint64_t i = 0; i < 2 * kSets; ++i) want.push_back(i);
  EXPECT_EQ(leaves, want);
  EXPECT_TRUE(ChildChainCheck(kNhsA).ok());
  v1::QueryEventsRequest b;
  b.mutable_child()->set_nhs_number(NhsNumber(3));
  absl::StatusOr<v1::QueryEventsResponse> three = log_->QueryEvents(b);
  ASSERT_TRUE(three.ok());
  ASSERT_EQ(three->entries_size(), 2);
  EXPECT_EQ(three->entries(0).leaf_index(), 3u);
  EXPECT_EQ(three->entries(1).leaf_index(), 3u + kSets);
  EXPECT_TRUE(VerifyOffline().ok());
  EXPECT_TRUE(Open().ok());
}

TEST_F(ChainIndexTest, IdempotentAppendReturnsTheOriginalLeaf) {
  ASSERT_TRUE(Open().ok());
  auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
  v1::AuditEvent event = SampleEvent("w-1");
  event.set_kind(v1::PART_PUBLISHED);
  event.set_idempotency_key("records:part:kx1:school/100001:v3");
  absl::StatusOr<AppendResult> first = log_->Append(event);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(log_->Append(SampleEvent("other")).ok());
  absl::StatusOr<AppendResult> again = log_->Append(event);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->leaf_index, first->leaf_index);
  EXPECT_EQ(again->leaf_hash, first->leaf_hash);
  EXPECT_EQ(log_->Size(), 2u);
  // A current head, and a proof to it.
  EXPECT_EQ(again->signed_tree_head.tree_size(), 2u);
  kinex::exchange::v1::DisclosureReceipt receipt;
  receipt.set_leaf_index(again->leaf_index);
  receipt.set_leaf_hash(again->leaf_hash);
  *receipt.mutable_signed_tree_head() = again->signed_tree_head;
  for (const auto& h : again->inclusion_proof) receipt.add_inclusion_proof(h);
  EXPECT_TRUE(VerifyReceipt(receipt, *verifier).ok());

  // Across a restart (the key is stored with its leaf).
  ASSERT_TRUE(Open().ok());
  absl::StatusOr<AppendResult> restarted = log_->Append(event);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(restarted->leaf_index, first->leaf_index);
  EXPECT_EQ(restarted->leaf_hash, first->leaf_hash);
  EXPECT_EQ(log_->Size(), 2u);
  EXPECT_TRUE(VerifyOffline().ok());
}

TEST_F(ChainIndexTest, IdempotentAppendInOneBatchMakesOneLeaf) {
  ASSERT_TRUE(Open().ok());
  gate_->Hold();
  std::thread first([&] { EXPECT_TRUE(log_->Append(SampleEvent("r0")).ok()); });
  gate_->AwaitBlocked();
  v1::AuditEvent event = SampleEvent("w-1");
  event.set_kind(v1::WRITE_REFUSED);
  event.set_refusal("FAILED_PRECONDITION: stale etag");
  event.set_idempotency_key("same-key");
  std::vector<absl::StatusOr<AppendResult>> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = log_->Append(event); });
  }
  absl::SleepFor(absl::Milliseconds(300));
  gate_->Release();
  first.join();
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->leaf_index, 1u);
    EXPECT_EQ(r->leaf_hash, results[0]->leaf_hash);
    EXPECT_EQ(r->signed_tree_head.tree_size(), 2u);
  }
  EXPECT_EQ(log_->Size(), 2u);
  EXPECT_EQ(**storage_->LookupIdempotencyKey("same-key"), 1u);
}

TEST_F(ChainIndexTest, Version1EntriesStillVerifyWithNewerVersionsAfterThem) {
  // A log written before event kinds: three version-1 leaves and a head.
  {
    auto storage = SqliteLogStorage::Open({.path = path_});
    ASSERT_TRUE(storage.ok());
    MerkleTree tree;
    std::vector<NewEntry> entries;
    for (uint64_t i = 0; i < 3; ++i) {
      v1::AuditEvent e = SampleEvent(absl::StrCat("old-", i), i == 1 ? kNhsB : kNhsA);
      e.clear_kind();
      ASSERT_TRUE(PseudonymizeChildren(*pseudonymizer_, e).ok());
      e.mutable_time()->set_seconds(1700000000 + i);
      absl::StatusOr<std::string> leaf = EncodeEventV1(i, e);
      ASSERT_TRUE(leaf.ok()) << leaf.status();
      const Hash h = HashLeaf(*leaf);
      tree.Append(h);
      entries.push_back(MakeNewEntry(i, h, *std::move(leaf), e));
    }
    auto head = signer_->Sign(3, *tree.RootAt(3), absl::FromUnixSeconds(1700000003));
    ASSERT_TRUE(head.ok());
    ASSERT_TRUE((*storage)->Append(entries, &*head).ok());
  }
  ASSERT_TRUE(Open().ok()) << "start-up must accept version-1 leaves";
  ASSERT_TRUE(log_->Append(SampleEvent("new-0", kNhsA)).ok());
  ASSERT_TRUE(log_->Append(SampleEvent("new-1", kNhsB)).ok());
  v1::GetEntriesRequest req;
  req.set_start_index(0);
  req.set_end_index(5);
  v1::GetEntriesResponse entries = *log_->GetEntries(req);
  ASSERT_EQ(entries.entries_size(), 5);
  EXPECT_EQ(entries.entries(0).leaf_data().substr(0, 5), std::string("KXAE\x01"));
  // New appends write the newest encoding (version 4).
  EXPECT_EQ(entries.entries(3).leaf_data().substr(0, 5), std::string("KXAE\x04"));
  EXPECT_EQ(entries.entries(0).event().kind(), v1::EVENT_KIND_UNSPECIFIED);
  // The new leaves link back into the version-1 ones.
  EXPECT_EQ(LinkOf(entries.entries(3).event(), Pseudonym(kNhsA)), 2);
  EXPECT_EQ(LinkOf(entries.entries(4).event(), Pseudonym(kNhsB)), 1);
  EXPECT_EQ(entries.entries(4).event().previous_agency_leaf_index(), 3);
  EXPECT_TRUE(VerifyOffline().ok());
  EXPECT_TRUE(ChildChainCheck(kNhsA).ok());
  EXPECT_TRUE(ChildChainCheck(kNhsB).ok());
  ASSERT_TRUE(Open().ok());  // and again after a restart
}

TEST_F(ChainIndexTest, EveryQueryAppendsOneAuditQueriedEvent) {
  ASSERT_TRUE(Open().ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log_->Append(SampleEvent(absl::StrCat("r", i), i < 3 ? kNhsA : kNhsB)).ok());
  }
  AuditLog::QueryCaller caller;
  caller.principal = "spiffe://kinex.dev/auditor/kinex-dpo/auditor";
  caller.agency_kind = kinex::common::v1::AUDITOR;
  caller.agency_code = "kinex-dpo";
  caller.actor = "dpo";
  caller.request_id = "query-1";
  v1::QueryEventsRequest req;
  req.mutable_child()->set_nhs_number(kNhsA);
  req.add_kinds(v1::DISCLOSURE);
  absl::StatusOr<v1::QueryEventsResponse> r = log_->AuditedQueryEvents(caller, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entries_size(), 3);
  ASSERT_EQ(log_->Size(), 6u);
  const v1::AuditEvent queried = Decoded(5);
  EXPECT_EQ(queried.kind(), v1::AUDIT_QUERIED);
  EXPECT_EQ(queried.result_count(), 3);
  EXPECT_EQ(queried.principal(), caller.principal);
  EXPECT_EQ(queried.agency_kind(), kinex::common::v1::AUDITOR);
  EXPECT_EQ(queried.agency_code(), "kinex-dpo");
  EXPECT_EQ(queried.actor(), "dpo");
  EXPECT_EQ(queried.request_id(), "query-1");
  EXPECT_EQ(queried.method(), "QueryEvents");
  EXPECT_EQ(queried.query(), absl::StrCat("child=", Pseudonym(kNhsA), " kinds=DISCLOSURE"));
  EXPECT_EQ(queried.child_pseudonyms_size(), 0);  // not about the child

  // An empty answer is recorded too; the kinds filter finds the queries.
  v1::QueryEventsRequest queries;
  queries.add_kinds(v1::AUDIT_QUERIED);
  caller.request_id.clear();  // generated
  r = log_->AuditedQueryEvents(caller, queries);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->entries_size(), 1);
  EXPECT_EQ(r->entries(0).leaf_index(), 5u);
  ASSERT_EQ(log_->Size(), 7u);
  EXPECT_EQ(Decoded(6).result_count(), 1);
  EXPECT_EQ(Decoded(6).query(), "kinds=AUDIT_QUERIED");
  EXPECT_EQ(Decoded(6).request_id().size(), 32u);
  EXPECT_EQ(log_->QueryEvents(queries)->entries_size(), 2);
  v1::QueryEventsRequest bad;
  bad.add_kinds(static_cast<v1::EventKind>(42));
  EXPECT_THAT(log_->QueryEvents(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, "kinds: unknown event kind 42"));
  EXPECT_THAT(log_->QueryEvents(bad), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(log_->QueryEvents(bad), HasErrorMetadata("field", "kinds"));

  // When the event cannot be appended, the query returns nothing.
  gate_->fail = true;
  r = log_->AuditedQueryEvents(caller, req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("audit log could not record this query, so it returns "
                        "nothing: audit log could not commit"));
  EXPECT_THAT(r, HasErrorReason("AUDIT_QUERY_NOT_RECORDED"));
  EXPECT_THAT(r, HasErrorMetadata("cause", "AUDIT_STORAGE_UNAVAILABLE"));
}

TEST_F(ChainIndexTest, LargeEntriesArePagedByBytesAndVerify) {
  ASSERT_TRUE(Open().ok());
  constexpr int kEvents = 1500;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kEvents; i = next++) {
        v1::AuditEvent e = SampleEvent(absl::StrCat("big-", i), i % 2 ? kNhsA : kNhsB);
        for (int p = 0; p < 100; ++p) {
          e.add_disclosed_paths(absl::StrCat("education.attendance_summary.field_", p));
        }
        ASSERT_TRUE(log_->Append(e).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(log_->Size(), static_cast<uint64_t>(kEvents));
  v1::GetEntriesRequest req;
  req.set_start_index(0);
  req.set_end_index(kEvents);
  req.set_include_index(true);
  v1::GetEntriesResponse page = *log_->GetEntries(req);
  EXPECT_GT(page.entries(0).leaf_data().size(), 3000u);
  EXPECT_GT(page.entries_size(), 0);
  EXPECT_LT(page.entries_size(), 1000);
  EXPECT_LT(page.ByteSizeLong(), 4u << 20);
  // The verifier keeps paging until done.
  EXPECT_TRUE(VerifyOffline().ok());
  v1::QueryEventsRequest query;
  query.set_page_size(1000);
  v1::QueryEventsResponse q = *log_->QueryEvents(query);
  EXPECT_LT(q.ByteSizeLong(), 4u << 20);
  EXPECT_LT(q.entries_size(), 1000);
  EXPECT_FALSE(q.next_page_token().empty());
  EXPECT_TRUE(ChildChainCheck(kNhsA).ok());
}

}  // namespace
}  // namespace kinex::audit
