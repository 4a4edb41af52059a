// Tamper detection: altering, deleting or reordering rows directly in the
// store makes verification fail naming the first bad leaf index, both at
// start-up (the log refuses to start) and in the offline verifier
// (`kinexctl audit verify`'s logic) fed by a running log's GetEntries. A
// consistent rewrite (data and stored leaf hash changed together) is named
// by the signed heads that bracket it, and, when the attacker re-signed the
// log's heads with the key beside it, by heads held elsewhere (a saved head,
// receipts' heads).
//
// Built twice from this file: audit_tamper_test against SQLite (the file,
// with its append-only triggers dropped) and audit_tamper_postgres_test
// (KINEX_TAMPER_POSTGRES, label postgres) against a real PostgreSQL server
// (the shared per-process server the conformance suites use, triggers
// disabled). Each case is named by the leaf it breaks.
#include <filesystem>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.pb.h"
#include "services/audit/audit_log.h"
#include "services/audit/log_verifier.h"
#include "services/audit/stored_leaf.h"
#include "tests/audit/test_events.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

#ifdef KINEX_TAMPER_POSTGRES
#include <libpq-fe.h>

#include "services/audit/postgres_log_storage.h"
#include "tests/testing/postgres_server.h"
#else
#include <sqlite3.h>

#include "services/audit/sqlite_log_storage.h"
#endif

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::SampleEvent;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kEntries = 10;

// A store an attacker can reach directly.
class Backend {
 public:
  virtual ~Backend() = default;
  // Switches to a new, empty store.
  virtual absl::Status Fresh() = 0;
  // Opens the store (closing any open handle first).
  virtual absl::StatusOr<LogStorage*> Open() = 0;
  virtual void Close() = 0;
  // Runs SQL as an attacker with direct access would, after putting the
  // append-only triggers out of the way.
  virtual absl::Status Attack(const std::string& sql) = 0;
  // Dialect: table names, a blob literal, the stored actor altered in place.
  virtual std::string Table(const std::string& name) const = 0;
  virtual std::string Blob(absl::string_view bytes) const = 0;
};

#ifdef KINEX_TAMPER_POSTGRES
class PostgresBackend final : public Backend {
 public:
  absl::Status Fresh() override {
    static int counter = 0;
    Close();
    auto server = kinex::testing::SharedPostgresServer();
    if (!server.ok()) return server.status();
    auto conninfo =
        (*server)->CreateDatabase(absl::StrCat("audit_tamper_", ::getpid(), "_", counter++));
    if (!conninfo.ok()) return conninfo.status();
    conninfo_ = *conninfo;
    return absl::OkStatus();
  }
  absl::StatusOr<LogStorage*> Open() override {
    Close();
    auto s = PostgresLogStorage::Open({.conninfo = conninfo_});
    if (!s.ok()) return s.status();
    storage_ = *std::move(s);
    return storage_.get();
  }
  void Close() override { storage_.reset(); }
  absl::Status Attack(const std::string& sql) override {
    PGconn* conn = PQconnectdb(conninfo_.c_str());
    const std::string all = absl::StrCat(
        "ALTER TABLE audit_entries DISABLE TRIGGER USER;"
        "ALTER TABLE audit_heads DISABLE TRIGGER USER;"
        "ALTER TABLE audit_signing_keys DISABLE TRIGGER USER;"
        "ALTER TABLE audit_children DISABLE TRIGGER USER;",
        sql);
    PGresult* r = PQexec(conn, all.c_str());
    absl::Status s = PQresultStatus(r) == PGRES_COMMAND_OK
                         ? absl::OkStatus()
                         : absl::InternalError(PQerrorMessage(conn));
    PQclear(r);
    PQfinish(conn);
    return s;
  }
  std::string Table(const std::string& name) const override { return absl::StrCat("audit_", name); }
  std::string Blob(absl::string_view bytes) const override {
    return absl::StrCat("decode('", absl::BytesToHexString(bytes), "', 'hex')");
  }

 private:
  std::string conninfo_;
  std::unique_ptr<PostgresLogStorage> storage_;
};
using TheBackend = PostgresBackend;
#else
class SqliteBackend final : public Backend {
 public:
  ~SqliteBackend() override {
    Close();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  absl::Status Fresh() override {
    Close();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    dir_ = kinex::testing::MakeUniqueTempDir("audit-tamper");
    path_ = (dir_ / "audit.db").string();
    return absl::OkStatus();
  }
  absl::StatusOr<LogStorage*> Open() override {
    Close();
    auto s = SqliteLogStorage::Open({.path = path_});
    if (!s.ok()) return s.status();
    storage_ = *std::move(s);
    return storage_.get();
  }
  void Close() override { storage_.reset(); }
  absl::Status Attack(const std::string& sql) override {
    sqlite3* db = nullptr;
    if (sqlite3_open(path_.c_str(), &db) != SQLITE_OK) {
      return absl::InternalError("cannot open the database");
    }
    char* err = nullptr;
    const std::string all = absl::StrCat(
        "DROP TRIGGER IF EXISTS audit_entries_no_update;"
        "DROP TRIGGER IF EXISTS audit_entries_no_delete;"
        "DROP TRIGGER IF EXISTS audit_heads_no_update;"
        "DROP TRIGGER IF EXISTS audit_heads_no_delete;"
        "DROP TRIGGER IF EXISTS audit_signing_keys_no_update;"
        "DROP TRIGGER IF EXISTS audit_signing_keys_no_delete;"
        "DROP TRIGGER IF EXISTS audit_children_no_update;",
        sql);
    const int rc = sqlite3_exec(db, all.c_str(), nullptr, nullptr, &err);
    absl::Status s =
        rc == SQLITE_OK ? absl::OkStatus() : absl::InternalError(err ? err : "sqlite error");
    sqlite3_free(err);
    sqlite3_close(db);
    return s;
  }
  std::string Table(const std::string& name) const override { return absl::StrCat("audit_", name); }
  std::string Blob(absl::string_view bytes) const override {
    return absl::StrCat("x'", absl::BytesToHexString(bytes), "'");
  }

 private:
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<SqliteLogStorage> storage_;
};
using TheBackend = SqliteBackend;
#endif

class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backend_.Fresh().ok());
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < kEntries; ++i) {
      // Sequential appends: one batch, one signed head each.
      auto r = (*log)->Append(SampleEvent(absl::StrCat("req-", i)));
      ASSERT_TRUE(r.ok()) << r.status();
      results_.push_back(*r);
    }
  }
  void TearDown() override { backend_.Close(); }

  absl::StatusOr<std::unique_ptr<AuditLog>> Open(bool full_verify = false) {
    auto storage = backend_.Open();
    if (!storage.ok()) return storage.status();
    AuditLog::Options options;
    options.full_verify_on_start = full_verify;
    options.storage = *storage;
    options.signer = signer_;
    options.pseudonymizer = testing::TestPseudonymizer();
    options.clock = &clock_;
    options.start_signer_thread = false;
    return AuditLog::Create(std::move(options));
  }

  void Sql(const std::string& sql) {
    absl::Status s = backend_.Attack(sql);
    ASSERT_TRUE(s.ok()) << s << "\n" << sql;
  }
  std::string Entries() const { return backend_.Table("entries"); }

  // The offline verifier over a log's GetEntries (with the stored heads) and
  // latest head, with heads held elsewhere.
  absl::Status VerifyOffline(const AuditLog& log, VerifyOptions options = {},
                             VerifyReport* report = nullptr) {
    auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
    options.report = report;
    return VerifyLog(
               [&](uint64_t start, uint64_t end) {
                 v1::GetEntriesRequest req;
                 req.set_start_index(start);
                 req.set_end_index(end);
                 req.set_include_heads(true);
                 return log.GetEntries(req);
               },
               log.LatestHead(), *verifier, {}, std::move(options))
        .status();
  }

  // Tampers while a log is running, then checks the offline verifier; then
  // restarts and checks the log refuses to start. Both say
  // AUDIT_LOG_TAMPERED, naming `leaf_index` (the first leaf not to trust).
  void ExpectDetected(const std::string& sql, const std::string& startup_message,
                      const std::string& verify_message, const std::string& leaf_index) {
    auto running = Open();
    ASSERT_TRUE(running.ok()) << running.status();
    ASSERT_TRUE(VerifyOffline(**running).ok());
    Sql(sql);
    absl::Status offline = VerifyOffline(**running);
    EXPECT_EQ(offline.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(offline.message(), HasSubstr(verify_message));
    EXPECT_THAT(offline, HasErrorReason("AUDIT_LOG_TAMPERED"));
    EXPECT_THAT(offline, HasErrorMetadata("leaf_index", leaf_index));
    running->reset();

    absl::StatusOr<std::unique_ptr<AuditLog>> restarted = Open();
    EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(restarted.status().message(), HasSubstr("audit log is corrupt; refusing to start"));
    EXPECT_THAT(restarted.status().message(), HasSubstr(startup_message));
    EXPECT_THAT(restarted, HasErrorReason("AUDIT_LOG_TAMPERED"));
    EXPECT_THAT(restarted, HasErrorMetadata("leaf_index", leaf_index));
  }

  // The SQL that stores the leaf at `index` with its actor changed (j.smith
  // to x.smith, same length, so it decodes), in the stored form the store
  // writes (compressed, stored_leaf.h). With `rehash` also its recomputed
  // leaf hash: every row then checks out on its own.
  std::string ActorRewrite(uint64_t index, bool rehash) {
    auto log = Open();
    EXPECT_TRUE(log.ok());
    v1::GetEntriesRequest req;
    req.set_start_index(index);
    req.set_end_index(index + 1);
    std::string leaf = (*log)->GetEntries(req)->entries(0).leaf_data();
    log->reset();
    const size_t at = leaf.find("j.smith");
    EXPECT_NE(at, std::string::npos);
    leaf[at] = 'x';
    std::string sql =
        absl::StrCat("UPDATE ", Entries(), " SET leaf_data = ", backend_.Blob(CompressLeaf(leaf)));
    if (rehash) absl::StrAppend(&sql, ", leaf_hash = ", backend_.Blob(HashToBytes(HashLeaf(leaf))));
    absl::StrAppend(&sql, " WHERE leaf_index = ", index, ";");
    return sql;
  }
  std::string ConsistentRewrite(uint64_t index) { return ActorRewrite(index, /*rehash=*/true); }

  // Replaces every stored head by heads over the (rewritten) entries, signed
  // with the log's key: what an attacker with the key beside the log does.
  void ResignHeads() {
    Sql(absl::StrCat("DELETE FROM ", backend_.Table("heads"), ";"));
    auto storage = backend_.Open();
    ASSERT_TRUE(storage.ok());
    LogRecomputer recomputer;
    ASSERT_TRUE(
        (*storage)
            ->ReadEntries(0, kEntries, [&](const StoredEntry& e) { return recomputer.Add(e); })
            .ok());
    for (uint64_t size = 0; size <= kEntries; ++size) {
      auto head = signer_->Sign(size, *recomputer.tree().RootAt(size), clock_.Now());
      ASSERT_TRUE((*storage)->AddHead(*head).ok());
    }
    backend_.Close();
  }

  kinex::exchange::v1::DisclosureReceipt ReceiptFor(size_t i) {
    const AppendResult& r = results_[i];
    kinex::exchange::v1::DisclosureReceipt receipt;
    receipt.set_leaf_index(r.leaf_index);
    receipt.set_leaf_hash(r.leaf_hash);
    *receipt.mutable_signed_tree_head() = r.signed_tree_head;
    for (const auto& h : r.inclusion_proof) receipt.add_inclusion_proof(h);
    return receipt;
  }

  FakeClock clock_;
  std::shared_ptr<const TreeHeadSigner> signer_ = testing::TestSigner();
  TheBackend backend_;
  std::vector<AppendResult> results_;
};

TEST_F(TamperTest, UntouchedLogVerifies) {
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  VerifyReport report;
  EXPECT_TRUE(VerifyOffline(**log, {}, &report).ok());
  EXPECT_EQ(report.Summary(), "checked against: 10 stored heads");
}

// The heads name their key through audit_signing_keys (schema version 9):
// a key id edited there, or its row deleted, leaves the stored heads naming
// a key the log does not hold (the key id is part of what each head's
// signature covers). The offline verifier, which checks every stored head,
// and a start that verifies the whole log both refuse it; a start from the
// checkpoint reads no head the checkpoint covers.
TEST_F(TamperTest, AnEditedSigningKeyIsNamed) {
  // The second attack is on the store the first left.
  bool first = true;
  for (const auto& [attack, named] :
       {std::pair<std::string, std::string>{"UPDATE audit_signing_keys SET key_id = 'other';",
                                            "other"},
        std::pair<std::string, std::string>{"DELETE FROM audit_signing_keys;", ""}}) {
    SCOPED_TRACE(attack);
    auto running = Open();
    ASSERT_TRUE(running.ok()) << running.status();
    EXPECT_EQ(VerifyOffline(**running).ok(), first);
    first = false;
    Sql(attack);
    const absl::Status offline = VerifyOffline(**running);
    EXPECT_THAT(offline, StatusIs(absl::StatusCode::kFailedPrecondition,
                                  absl::StrCat("tree head is signed by key ", named,
                                               ", not by the expected key ", signer_->key_id())));
    EXPECT_THAT(offline, HasErrorReason("AUDIT_HEAD_KEY_UNKNOWN"));
    running->reset();
    absl::StatusOr<std::unique_ptr<AuditLog>> full = Open(/*full_verify=*/true);
    EXPECT_THAT(full,
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(absl::StrCat("audit log is corrupt; refusing to start: tree "
                                                "head at size 0 is signed by key ",
                                                named, " which is not among the known keys"))));
    EXPECT_THAT(full, HasErrorReason("AUDIT_HEAD_KEY_UNKNOWN"));
  }
}

TEST_F(TamperTest, Leaf4AlteredRowIsNamed) {
  // Change the actor inside the stored event (same length, so it decodes).
  const std::string msg = "leaf index 4: stored leaf hash does not match";
  ExpectDetected(ActorRewrite(4, /*rehash=*/false), msg, msg, "4");
}

// Leaves that name a child are stored with its pseudonym as a reference to
// the query index (schema version 11, stored_leaf.h): the child's number
// given another pseudonym there makes every such leaf read as other bytes,
// which their stored hashes, the tree and the signed heads refuse, from the
// first of them.
TEST_F(TamperTest, ARenamedChildChangesEveryLeafThatNamesIt) {
  const std::string msg = "leaf index 0: stored leaf hash does not match";
  ExpectDetected(absl::StrCat("UPDATE ", backend_.Table("children"), " SET pseudonym = '",
                              std::string(64, 'e'), "';"),
                 msg, msg, "0");
}

TEST_F(TamperTest, Leaf6DeletedRowIsNamed) {
  const std::string msg = "leaf index 6: entry is missing";
  ExpectDetected(absl::StrCat("DELETE FROM ", Entries(), " WHERE leaf_index = 6;"), msg, msg, "6");
}

TEST_F(TamperTest, Leaf2ReorderedRowsAreNamed) {
  const std::string msg = "leaf index 2: entry encodes leaf index 7";
  const std::string t = Entries();
  ExpectDetected(absl::StrCat("UPDATE ", t, " SET leaf_index = -1 WHERE leaf_index = 2;", "UPDATE ",
                              t, " SET leaf_index = 2 WHERE leaf_index = 7;", "UPDATE ", t,
                              " SET leaf_index = 7 WHERE leaf_index = -1;"),
                 msg, msg, "2");
}

TEST_F(TamperTest, Leaf3DeletedAndRenumberedRowsAreNamed) {
  // Delete row 3 and shift the later rows down to hide the gap.
  const std::string msg = "leaf index 3: entry encodes leaf index 4";
  const std::string t = Entries();
  ExpectDetected(absl::StrCat("DELETE FROM ", t, " WHERE leaf_index = 3;", "UPDATE ", t,
                              " SET leaf_index = -leaf_index WHERE leaf_index > 3;", "UPDATE ", t,
                              " SET leaf_index = -leaf_index - 1 WHERE leaf_index < 0;"),
                 msg, msg, "3");
}

TEST_F(TamperTest, Leaf8TruncationIsNamed) {
  ExpectDetected(absl::StrCat("DELETE FROM ", Entries(), " WHERE leaf_index >= 8;"),
                 "leaf index 8: log is truncated", "leaf index 8: log is truncated", "8");
}

TEST_F(TamperTest, Leaf5ConsistentRewriteIsBracketedByTheSignedHeads) {
  // Rewrite row 5 with a recomputed leaf hash: each row checks out on its
  // own; only the signed heads reveal it, and they bracket it exactly (one
  // head per append).
  const std::string msg =
      "leaf range 5-5: entries do not match the signed tree head at size 6 "
      "(the head at size 5 still matches)";
  ExpectDetected(ConsistentRewrite(5), msg, msg, "5");
}

TEST_F(TamperTest, Leaf5ConsistentRewriteWithOnlyTheLatestHead) {
  // A verifier given no stored heads (an older server) has one head only.
  const std::string sql = ConsistentRewrite(5);
  auto log = Open();
  ASSERT_TRUE(log.ok());
  Sql(sql);
  auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
  absl::Status s = VerifyLog(
                       [&](uint64_t start, uint64_t end) {
                         v1::GetEntriesRequest req;
                         req.set_start_index(start);
                         req.set_end_index(end);
                         return (*log)->GetEntries(req);
                       },
                       (*log)->LatestHead(), *verifier)
                       .status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                          "leaf range 0-9: entries do not match the signed tree head at "
                          "size 10 (no earlier head to compare with)"));
  EXPECT_THAT(s, HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_THAT(s, HasErrorMetadata("leaf_index", "0"));
  EXPECT_THAT(s, HasErrorMetadata("tree_size", "10"));
}

TEST_F(TamperTest, Leaf3RewriteWithResignedHeadsIsNamedByHeadsHeldElsewhere) {
  // The attacker holds the signing key (it lives beside the log): rewrites
  // leaf 3 and re-signs every head. The log starts and its own heads agree;
  // a saved head (size 6) and receipts (heads at sizes 2 and 9) do not.
  v1::SignedTreeHead saved = results_[5].signed_tree_head;
  ASSERT_EQ(saved.tree_size(), 6u);
  const std::string sql = ConsistentRewrite(3);
  Sql(sql);
  ResignHeads();
  ASSERT_FALSE(HasFatalFailure());
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(VerifyOffline(**log).ok());

  VerifyOptions options;
  options.held_heads.push_back(
      {.head = saved, .source = SourcedHead::Source::kSaved, .file = "/tmp/x/head.json"});
  options.receipts.emplace_back(ReceiptFor(1), "r1.json");
  options.receipts.emplace_back(ReceiptFor(8), "r8.json");
  VerifyReport report;
  absl::Status s = VerifyOffline(**log, options, &report);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                          "leaf range 2-5: entries do not match the saved head at size 6 "
                          "(head.json) (the receipt's head at size 2 (r1.json) still "
                          "matches); the log's own heads match the rewritten entries: they "
                          "were re-signed"));
  EXPECT_THAT(s, HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_THAT(s, HasErrorMetadata("leaf_index", "2"));
  EXPECT_THAT(s, HasErrorMetadata("tree_size", "6"));
  EXPECT_EQ(report.Summary(),
            "checked against: 10 stored heads, saved head at size 6 (head.json), 2 "
            "receipts");

  // With the receipts alone, the bracket is theirs.
  options.held_heads.clear();
  s = VerifyOffline(**log, options, &report);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                          "leaf range 2-8: entries do not match the receipt's head at size 9 "
                          "(r8.json) (the receipt's head at size 2 (r1.json) still matches); "
                          "the log's own heads match the rewritten entries: they were "
                          "re-signed"));
  EXPECT_THAT(s, HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_EQ(report.Summary(), "checked against: 10 stored heads, 2 receipts");
}

TEST_F(TamperTest, Leaf5ConsistentRewriteInABatchedLog) {
  // A log written in batches of 4 (heads at 4, 8 and 12), built through the
  // storage as a bulk loader would.
  ASSERT_TRUE(backend_.Fresh().ok());
  {
    auto storage = backend_.Open();
    ASSERT_TRUE(storage.ok());
    ASSERT_TRUE((*storage)->AddHead(*signer_->Sign(0, EmptyRoot(), clock_.Now())).ok());
    auto pseudonymizer = testing::TestPseudonymizer();
    ChainTracker chains;
    CompactRange range;
    for (uint64_t base = 0; base < 12; base += 4) {
      std::vector<NewEntry> batch;
      for (uint64_t i = base; i < base + 4; ++i) {
        v1::AuditEvent e = SampleEvent(absl::StrCat("req-", i));
        ASSERT_TRUE(PseudonymizeChildren(*pseudonymizer, e).ok());
        *e.mutable_time() = google::protobuf::Timestamp();
        e.mutable_time()->set_seconds(1788249600);
        chains.Link(e);
        chains.Record(i, e);
        std::string leaf = *EncodeEvent(i, e);
        const Hash h = HashLeaf(leaf);
        range.Append(h);
        batch.push_back(MakeNewEntry(i, h, std::move(leaf), e));
      }
      auto head = signer_->Sign(base + 4, range.Root(), clock_.Now());
      ASSERT_TRUE((*storage)->Append(batch, &*head).ok());
    }
    backend_.Close();
  }
  const std::string msg =
      "leaf range 4-7: entries do not match the signed tree head at size 8 "
      "(the head at size 4 still matches)";
  ExpectDetected(ConsistentRewrite(5), msg, msg, "4");
}

TEST_F(TamperTest, Leaf1QueriesNeverServeATamperedRow) {
  const std::string rewrite = ActorRewrite(1, /*rehash=*/false);
  auto log = Open();
  ASSERT_TRUE(log.ok());
  Sql(rewrite);
  absl::StatusOr<v1::QueryEventsResponse> r = (*log)->QueryEvents(v1::QueryEventsRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("leaf index 1: stored entry does not match"));
  EXPECT_THAT(r, HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_THAT(r, HasErrorMetadata("leaf_index", "1"));
}

}  // namespace
}  // namespace kinex::audit
