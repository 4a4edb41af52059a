// Tamper detection: altering, deleting or reordering rows directly in the
// SQLite database makes verification fail naming the first bad leaf index,
// both at start-up (the log refuses to start) and in the offline verifier
// (`kinexctl audit verify`'s logic) fed by a running log's GetEntries.
#include <sqlite3.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/log_verifier.h"
#include "services/audit/sqlite_log_storage.h"
#include "services/common/fake_clock.h"
#include "tests/audit/test_events.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::SampleEvent;
using ::testing::HasSubstr;

constexpr int kEntries = 10;

class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("kinex_audit_tamper_", ::getpid(), "_", counter++);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "audit.db").string();
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < kEntries; ++i) {
      // Sequential appends: one batch, one signed head each.
      ASSERT_TRUE((*log)->Append(SampleEvent(absl::StrCat("req-", i))).ok());
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<AuditLog>> Open() {
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
    return AuditLog::Create(std::move(options));
  }

  // Runs SQL directly against the database, as an attacker with file access
  // would (first dropping the append-only triggers).
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const std::string all = absl::StrCat(
        "DROP TRIGGER IF EXISTS entries_no_update;"
        "DROP TRIGGER IF EXISTS entries_no_delete;",
        sql);
    EXPECT_EQ(sqlite3_exec(db, all.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // The offline verifier over a log's GetEntries and latest head.
  absl::Status VerifyOffline(const AuditLog& log) {
    auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer_->raw_public_key());
    return VerifyLog(
               [&](uint64_t start, uint64_t end) {
                 v1::GetEntriesRequest req;
                 req.set_start_index(start);
                 req.set_end_index(end);
                 return log.GetEntries(req);
               },
               log.LatestHead(), *verifier)
        .status();
  }

  // Tampers while a log is running, then checks the offline verifier and the
  // query path; then restarts and checks the log refuses to start.
  void ExpectDetected(const std::string& sql, const std::string& startup_message,
                      const std::string& verify_message) {
    auto running = Open();
    ASSERT_TRUE(running.ok()) << running.status();
    ASSERT_TRUE(VerifyOffline(**running).ok());
    Sql(sql);
    absl::Status offline = VerifyOffline(**running);
    EXPECT_EQ(offline.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(offline.message(), HasSubstr(verify_message));
    running->reset();

    absl::StatusOr<std::unique_ptr<AuditLog>> restarted = Open();
    EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(restarted.status().message(),
                HasSubstr("audit log is corrupt; refusing to start"));
    EXPECT_THAT(restarted.status().message(), HasSubstr(startup_message));
  }

  FakeClock clock_;
  std::shared_ptr<const TreeHeadSigner> signer_ = testing::TestSigner();
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<SqliteLogStorage> storage_;
};

TEST_F(TamperTest, UntouchedLogVerifies) {
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(VerifyOffline(**log).ok());
}

TEST_F(TamperTest, AlteredRowIsNamed) {
  // Change the actor inside the stored event (same length, so it decodes).
  const std::string msg = "leaf index 4: stored leaf hash does not match";
  ExpectDetected(
      "UPDATE entries SET leaf_data = CAST(replace(CAST(leaf_data AS TEXT), "
      "'j.smith', 'x.smith') AS BLOB) WHERE leaf_index = 4;",
      msg, msg);
}

TEST_F(TamperTest, DeletedRowIsNamed) {
  const std::string msg = "leaf index 6: entry is missing";
  ExpectDetected("DELETE FROM entries WHERE leaf_index = 6;", msg, msg);
}

TEST_F(TamperTest, ReorderedRowsAreNamed) {
  const std::string msg = "leaf index 2: entry encodes leaf index 7";
  ExpectDetected(
      "UPDATE entries SET leaf_index = -1 WHERE leaf_index = 2;"
      "UPDATE entries SET leaf_index = 2 WHERE leaf_index = 7;"
      "UPDATE entries SET leaf_index = 7 WHERE leaf_index = -1;",
      msg, msg);
}

TEST_F(TamperTest, DeletedAndRenumberedRowsAreNamed) {
  // Delete row 3 and shift the later rows down to hide the gap.
  const std::string msg = "leaf index 3: entry encodes leaf index 4";
  ExpectDetected(
      "DELETE FROM entries WHERE leaf_index = 3;"
      "UPDATE entries SET leaf_index = -leaf_index WHERE leaf_index > 3;"
      "UPDATE entries SET leaf_index = -leaf_index - 1 WHERE leaf_index < 0;",
      msg, msg);
}

TEST_F(TamperTest, TruncationIsNamed) {
  ExpectDetected("DELETE FROM entries WHERE leaf_index >= 8;",
                 "leaf index 8: log is truncated",
                 "leaf index 8: log is truncated");
}

TEST_F(TamperTest, ConsistentRewriteIsCaughtByTheSignedHeads) {
  // Rewrite row 5 with a recomputed leaf hash: each row checks out on its
  // own; only the signed heads reveal it.
  auto log = Open();
  ASSERT_TRUE(log.ok());
  v1::GetEntriesRequest req;
  req.set_start_index(5);
  req.set_end_index(6);
  std::string leaf = (*log)->GetEntries(req)->entries(0).leaf_data();
  log->reset();
  const size_t at = leaf.find("j.smith");
  ASSERT_NE(at, std::string::npos);
  leaf[at] = 'x';
  const std::string hash = HashToHex(HashLeaf(leaf));
  ExpectDetected(
      absl::StrCat("UPDATE entries SET leaf_data = x'",
                   absl::BytesToHexString(leaf), "', leaf_hash = x'", hash,
                   "' WHERE leaf_index = 5;"),
      "leaf index 5: entries in [5, 6) do not match the signed tree head",
      "the recomputed log does not match the signed head");
}

TEST_F(TamperTest, QueriesNeverServeATamperedRow) {
  auto log = Open();
  ASSERT_TRUE(log.ok());
  Sql("UPDATE entries SET leaf_data = CAST(replace(CAST(leaf_data AS TEXT), "
      "'j.smith', 'x.smith') AS BLOB) WHERE leaf_index = 1;");
  absl::StatusOr<v1::QueryEventsResponse> r =
      (*log)->QueryEvents(v1::QueryEventsRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(),
              HasSubstr("leaf index 1: stored entry does not match"));
}

}  // namespace
}  // namespace kinex::audit
