// `kinexctl audit` against a real audit service over mTLS (test PKI), as an
// auditor: query output, full verification (and its failure naming the first
// bad index after tampering), saved heads, and receipt verification.
#include "tools/kinexctl/audit_command.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.pb.h"
#include "services/audit/audit_target.h"
#include "services/audit/sqlite_log_storage.h"
#include "services/audit/stored_leaf.h"
#include "services/common/tls.h"
#include "tests/audit/audit_target_fixture.h"
#include "tests/audit/large_log.h"
#include "tests/audit/test_events.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_pki.h"

namespace kinex::ctl {
namespace {

using ::kinex::audit::testing::SampleEvent;
using ::testing::HasSubstr;
using ::testing::Not;

class AuditCommandTest : public audit::testing::AuditTargetTest {
 protected:
  // The canonical leaf at `index` with its actor changed (j.smith to
  // x.smith: same length, so it still decodes); empty if it has none.
  std::string ActorAlteredLeaf(uint64_t index) {
    audit::v1::GetEntriesRequest req;
    req.set_start_index(index);
    req.set_end_index(index + 1);
    std::string leaf = target_->log->GetEntries(req)->entries(0).leaf_data();
    const size_t at = leaf.find("j.smith");
    if (at == std::string::npos) return "";
    leaf[at] = 'x';
    return leaf;
  }

  void SetUp() override {
    AuditTargetTest::SetUp();
    Start();
    ASSERT_FALSE(HasFatalFailure());
    for (int i = 0; i < 6; ++i) {
      auto event = SampleEvent(absl::StrCat("req-", i),
                               i % 2 == 0 ? audit::testing::kNhsA : audit::testing::kNhsB);
      auto r = target_->log->Append(event);
      ASSERT_TRUE(r.ok()) << r.status();
      results_.push_back(*r);
    }
  }
  // Rotates the signing key: restarts the audit target signing with a fresh
  // Ed25519 key (generated now, never committed; private half 0600 in the
  // test's temp dir) and the test PKI's key retired. Returns the new public
  // key's file.
  std::string RotateKey() {
    const std::string key_file = (dir_ / "signing-2.key").string();
    const std::string pub_file = (dir_ / "signing-2.pub.pem").string();
    audit::PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    EXPECT_NE(key, nullptr);
    const int fd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE* f = ::fdopen(fd, "w");
    EXPECT_EQ(PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
    std::fclose(f);
    f = std::fopen(pub_file.c_str(), "w");
    EXPECT_EQ(PEM_write_PUBKEY(f, key.get()), 1);
    std::fclose(f);
    Stop();
    config_.mutable_audit()->set_signing_key_file(key_file);
    config_.mutable_audit()->add_retired_public_key_files(PublicKey());
    Start();
    return pub_file;
  }

  // Runs `kinexctl audit <words>` against the audit service; returns the
  // exit code. The service ACL admits only the gateway (auditors reach the
  // log through its audit front), so the test calls with the gateway's
  // certificate, as the front does.
  int Run(const std::vector<std::string>& words, OutputFormat format = OutputFormat::kTable) {
    out_.str("");
    err_.str("");
    const TlsFiles files = kinex::testing::ServiceTlsFiles("gateway");
    CommandContext ctx({.address = absl::StrCat("localhost:", port_),
                        .ca_file = files.ca_file,
                        .cert_file = files.cert_file,
                        .key_file = files.key_file,
                        .actor = "dpo"},
                       format, out_, err_);
    return MakeAuditCommandGroup().run(ctx, words);
  }

  std::string PublicKey() { return kinex::testing::TestPkiDir() + "/audit-signing.pub.pem"; }

  std::string WriteReceipt(const kinex::exchange::v1::DisclosureReceipt& r) {
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(r, &json).ok());
    const std::string path = (dir_ / "receipt.json").string();
    std::ofstream(path) << json;
    return path;
  }

  kinex::exchange::v1::DisclosureReceipt ReceiptFor(size_t i) {
    const audit::AppendResult& r = results_[i];
    kinex::exchange::v1::DisclosureReceipt receipt;
    receipt.set_leaf_index(r.leaf_index);
    receipt.set_leaf_hash(r.leaf_hash);
    *receipt.mutable_signed_tree_head() = r.signed_tree_head;
    for (const auto& h : r.inclusion_proof) receipt.add_inclusion_proof(h);
    receipt.add_disclosed_paths("education.attendance_summary");
    receipt.add_disclosed_paths("identity.upn");
    auto* w = receipt.add_withheld();
    w->set_category(kinex::record::v1::HEALTH);
    w->set_reason(kinex::policy::v1::NOT_GRANTED);
    receipt.set_policy_version("policy-sha256-abc");
    return receipt;
  }

  std::vector<audit::AppendResult> results_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(AuditCommandTest, QueryFiltersByChildAndPrintsEachFormat) {
  ASSERT_EQ(Run({"query", "--child-nhs=943 476 5919", "--page-size=2", "--wide"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("req-0"));
  EXPECT_THAT(out_.str(), HasSubstr("req-4"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("req-1")));
  EXPECT_THAT(out_.str(), Not(HasSubstr(audit::testing::kNhsA)));
  ASSERT_EQ(Run({"query", "--practitioner=j.smith", "--output=json"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\"request_id\""));
  ASSERT_EQ(Run({"query", "--decision=partial", "--purpose=education-support",
                 "--agency-kind=virtual-school"},
                OutputFormat::kCsv),
            0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("index,time,kind,request_id"));
  EXPECT_EQ(Run({"query", "--purpose=gossip"}), 2);
  EXPECT_THAT(
      err_.str(),
      HasSubstr("--purpose: unknown value \"gossip\" (one of safeguarding, education-support"));
  EXPECT_EQ(Run({"query", "--since=yesterday"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("not an RFC 3339 time"));
}

TEST_F(AuditCommandTest, VerifyChecksTheWholeLogAndSavedHeads) {
  const std::string saved = (dir_ / "head.json").string();
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--save-head=" + saved}), 0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("OK: verified 6 entries"));
  ASSERT_TRUE(target_->log->Append(SampleEvent("req-later")).ok());
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--saved-head=" + saved}), 0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("consistent with the saved head of 6 entries"));
  // Without a pinned key the server's key is used, with a warning.
  ASSERT_EQ(Run({"verify"}), 0) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("pin it with --public-key"));
}

TEST_F(AuditCommandTest, VerifyNamesTheFirstBadIndexAfterTampering) {
  // Leaf 3's actor changed, stored compressed as the store writes leaves.
  const std::string leaf = ActorAlteredLeaf(3);
  ASSERT_FALSE(leaf.empty());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "audit.db").c_str(), &db), SQLITE_OK);
  const std::string sql =
      absl::StrCat("DROP TRIGGER audit_entries_no_update; UPDATE audit_entries SET leaf_data = x'",
                   absl::BytesToHexString(audit::CompressLeaf(leaf)), "' WHERE leaf_index = 3;");
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(Run({"verify", "--public-key=" + PublicKey()}), 1);
  EXPECT_THAT(out_.str(), HasSubstr("FAILED"));
  EXPECT_THAT(err_.str(), HasSubstr("DATA_LOSS: leaf index 3: stored leaf hash"));
}

TEST_F(AuditCommandTest, VerifyDetectsTruncationAgainstASavedHead) {
  audit::v1::SignedTreeHead future = target_->log->LatestHead();
  future.set_tree_size(100);
  const std::string saved = (dir_ / "future.bin").string();
  std::ofstream(saved, std::ios::binary) << future.SerializeAsString();
  EXPECT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--saved-head=" + saved}), 1);
  // The forged size breaks the saved head's signature first.
  EXPECT_THAT(err_.str(), HasSubstr("signature is invalid"));
}

TEST_F(AuditCommandTest, ReceiptVerifyChecksProofSignatureAndEntry) {
  const std::string path = WriteReceipt(ReceiptFor(2));
  ASSERT_EQ(Run({"receipt", "verify", path, "--public-key=" + PublicKey()}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("OK: receipt for leaf 2 verified"));
  EXPECT_THAT(out_.str(), HasSubstr("logged entry matches"));
  EXPECT_THAT(out_.str(), HasSubstr("current log consistent"));
  ASSERT_EQ(Run({"receipt", "verify", path, "--public-key=" + PublicKey(), "--offline"}), 0)
      << err_.str();

  kinex::exchange::v1::DisclosureReceipt lying = ReceiptFor(2);
  lying.add_disclosed_paths("health.camhs");
  EXPECT_EQ(Run({"receipt", "verify", WriteReceipt(lying), "--public-key=" + PublicKey()}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("disclosed_paths differ"));

  kinex::exchange::v1::DisclosureReceipt forged = ReceiptFor(2);
  forged.set_leaf_index(3);
  EXPECT_EQ(
      Run({"receipt", "verify", WriteReceipt(forged), "--public-key=" + PublicKey(), "--offline"}),
      1);
  EXPECT_THAT(err_.str(), HasSubstr("inclusion proof is invalid"));

  EXPECT_EQ(Run({"receipt", "verify", path, "--offline"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--public-key is required with --offline"));
}

TEST_F(AuditCommandTest, VerifyAcrossAKeyRotationNeedsEveryKey) {
  // Before the rotation: an auditor saves a head and keeps a receipt, both
  // signed by the old key (the test PKI's).
  const std::string saved = (dir_ / "head.json").string();
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--save-head=" + saved}), 0)
      << err_.str();
  const std::string receipt = WriteReceipt(ReceiptFor(2));
  const std::string old_id = target_->log->LatestHead().key_id();
  const std::string new_key = RotateKey();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(target_->log->Append(SampleEvent("req-after")).ok());
  const std::string new_id = target_->log->LatestHead().key_id();
  ASSERT_NE(new_id, old_id);

  // Both keys pinned: the saved head by the old key, the current by the new.
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey() + "," + new_key, "--saved-head=" + saved}),
            0)
      << err_.str();
  // 6 entries, the AUDIT_QUERIED event of the first verify's entry read,
  // and req-after (reading raw entries is itself an audited query).
  EXPECT_THAT(out_.str(), HasSubstr("OK: verified 8 entries"));
  EXPECT_THAT(out_.str(), HasSubstr("key id     " + new_id));
  EXPECT_THAT(out_.str(), HasSubstr("consistent with the saved head of 6 entries"));
  ASSERT_EQ(Run({"receipt", "verify", receipt, "--public-key=" + new_key + "," + PublicKey()}), 0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("current log consistent"));

  // Only the new key: the old key's heads cannot be checked.
  EXPECT_EQ(Run({"verify", "--public-key=" + new_key, "--saved-head=" + saved}), 1);
  EXPECT_THAT(out_.str(), HasSubstr("FAILED"));
  EXPECT_EQ(err_.str(), absl::StrCat("kinexctl: FAILED_PRECONDITION: tree head at size 6 "
                                     "is signed by key ",
                                     old_id, " which is not among the known keys (", new_id,
                                     ") [AUDIT_HEAD_KEY_UNKNOWN]\n"));
  EXPECT_EQ(Run({"receipt", "verify", receipt, "--public-key=" + new_key, "--offline"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("signed by key " + old_id + " which is not among"));

  // Unpinned, the server sends both keys.
  ASSERT_EQ(Run({"verify", "--saved-head=" + saved}), 0) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("(key id " + new_id + "; retired key ids " + old_id + ")"));
}

TEST_F(AuditCommandTest, QueryByKindShowsTheKindColumn) {
  ASSERT_EQ(Run({"query", "--child-nhs=" + std::string(audit::testing::kNhsA), "--wide"}), 0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("disclosure"));
  // That query was itself logged.
  ASSERT_EQ(Run({"query", "--kind=audit-queried", "--output=csv"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("index,time,kind,request_id"));
  EXPECT_THAT(out_.str(), HasSubstr(",audit-queried,"));
  EXPECT_THAT(out_.str(), Not(HasSubstr(",disclosure,")));
  ASSERT_EQ(Run({"query", "--kind=part-published,write-refused", "--all"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("req-")));
  EXPECT_EQ(Run({"query", "--kind=part-published,bogus"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--kind: unknown value \"bogus\" (one of disclosure, "
                                    "part-published, write-refused"));
}

TEST_F(AuditCommandTest, VerifyAndChildQueriesNameAMissingIndexRow) {
  ASSERT_EQ(Run({"query", "--child-nhs=" + std::string(audit::testing::kNhsA)}), 0) << err_.str();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "audit.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TRIGGER audit_entry_child_sets_no_delete;"
                         "DELETE FROM audit_entry_child_sets WHERE leaf_index = 2;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(Run({"verify", "--public-key=" + PublicKey()}), 1);
  EXPECT_THAT(out_.str(), HasSubstr("FAILED"));
  EXPECT_THAT(err_.str(), HasSubstr("DATA_LOSS: index: leaf 2: child pseudonym row missing"));
  EXPECT_EQ(Run({"query", "--child-nhs=" + std::string(audit::testing::kNhsA)}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("DATA_LOSS: index: leaf 2: child pseudonym row "
                                    "missing (leaf 4 links to it; the answer skips it)"));
}

TEST_F(AuditCommandTest, VerifyPagesThroughLargeEntries) {
  // ~3 KB events: 1,000 of them would not fit one 4 MiB message.
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < 1500; i = next++) {
        auto e = SampleEvent(absl::StrCat("big-", i));
        for (int p = 0; p < 100; ++p) {
          e.add_disclosed_paths(absl::StrCat("education.attendance_summary.field_", p));
        }
        ASSERT_TRUE(target_->log->Append(e).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey()}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("OK: verified 1506 entries"));
  ASSERT_EQ(Run({"query", "--all", "--page-size=1000", "--output=csv"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("big-1499"));
}

// A consistent rewrite of leaf 3 (data and leaf hash together): verify names
// the range the stored heads bracket, and says which heads it used.
TEST_F(AuditCommandTest, VerifyNamesTheRangeOfAConsistentRewriteAndTheHeadsUsed) {
  const std::string saved = (dir_ / "head.json").string();
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--save-head=" + saved,
                 "--receipt=" + WriteReceipt(ReceiptFor(1))}),
            0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("  checked against: 6 stored heads, 1 receipt\n"));
  const std::string r1 = (dir_ / "r1.json").string();
  std::filesystem::rename(dir_ / "receipt.json", r1);
  const std::string r4 = (dir_ / "r4.json").string();
  WriteReceipt(ReceiptFor(4));
  std::filesystem::rename(dir_ / "receipt.json", r4);

  const std::string leaf = ActorAlteredLeaf(3);
  ASSERT_FALSE(leaf.empty());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "audit.db").c_str(), &db), SQLITE_OK);
  const std::string sql =
      absl::StrCat("DROP TRIGGER audit_entries_no_update; UPDATE audit_entries SET leaf_data = x'",
                   absl::BytesToHexString(leaf), "', leaf_hash = x'",
                   audit::HashToHex(audit::HashLeaf(leaf)), "' WHERE leaf_index = 3;");
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  // The running log still serves its verified tree: GetEntries returns the
  // rows as stored, so verify sees the rewrite.
  EXPECT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--saved-head=" + saved,
                 "--receipt=" + r1, "--receipt", r4}),
            1);
  // The head after the first verify's own AUDIT_QUERIED event makes 7.
  EXPECT_EQ(out_.str(),
            "FAILED\nchecked against: 7 stored heads, saved head at size 6 "
            "(head.json), 2 receipts\n");
  EXPECT_EQ(err_.str(),
            "kinexctl: DATA_LOSS: leaf range 3-3: entries do not match the signed "
            "tree head at size 4 (the head at size 3 still matches) [AUDIT_LOG_TAMPERED]\n");
  // A receipt that does not verify on its own is named.
  kinex::exchange::v1::DisclosureReceipt forged = ReceiptFor(2);
  forged.set_leaf_index(3);
  EXPECT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--receipt=" + WriteReceipt(forged)}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("receipt receipt.json: receipt inclusion proof is "
                                    "invalid"));
  EXPECT_THAT(err_.str(), HasSubstr("[AUDIT_RECEIPT_INVALID]\n"));
}

// Verification at any size: a log of whole-record disclosure events (~2.4 KB
// each), built through the storage, verified and queried in full by
// kinexctl over mTLS: 100,000 events (about 30 s on 2 cores; the figures
// are printed). KINEX_AUDIT_LARGE_LOG_ENTRIES overrides the size.
TEST_F(AuditCommandTest, VerifyAndQueryAllOnALargeLogOfWholeRecordDisclosures) {
  uint64_t n = 100000;
  if (const char* env = std::getenv("KINEX_AUDIT_LARGE_LOG_ENTRIES")) {
    n = std::strtoull(env, nullptr, 10);
  }
  Stop();
  std::filesystem::remove(dir_ / "audit.db");
  std::filesystem::remove(dir_ / "audit.db-wal");
  std::filesystem::remove(dir_ / "audit.db-shm");
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };
  auto t0 = Clock::now();
  {
    auto storage = audit::SqliteLogStorage::Open({.path = (dir_ / "audit.db").string()});
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto signer = audit::TreeHeadSigner::FromPemFile(config_.audit().signing_key_file());
    ASSERT_TRUE(signer.ok()) << signer.status();
    ASSERT_TRUE(audit::testing::BuildLargeDisclosureLog(**storage, **signer, n).ok());
  }
  const double build = seconds(t0);
  t0 = Clock::now();
  Start();  // the start-up check reads and checks every entry
  ASSERT_FALSE(HasFatalFailure());
  const double startup = seconds(t0);
  const auto leaf_bytes = audit::EncodeEvent(0, audit::testing::LargeDisclosureEvent(0))->size();
  EXPECT_GE(leaf_bytes, 2300u);
  EXPECT_LE(leaf_bytes, 2600u);

  t0 = Clock::now();
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey()}), 0) << err_.str();
  const double verify = seconds(t0);
  EXPECT_THAT(out_.str(), HasSubstr(absl::StrCat("OK: verified ", n, " entries")));
  EXPECT_THAT(out_.str(), HasSubstr("checked against: "));

  t0 = Clock::now();
  ASSERT_EQ(
      Run({"query", "--all", "--page-size=1000", "--output=csv", "--agency-kind=local-authority"}),
      0)
      << err_.str();
  const double query = seconds(t0);
  EXPECT_THAT(out_.str(), HasSubstr(absl::StrCat("bulk-", n - 1, ",")));
  const std::string csv = out_.str();
  const size_t lines = std::count(csv.begin(), csv.end(), '\n');
  EXPECT_EQ(lines, n + 1);
  std::printf(
      "large log: %llu entries of %zu bytes: build %.1f s, start-up check %.1f s, "
      "kinexctl audit verify %.1f s, kinexctl audit query --all %.1f s (%zu MB csv)\n",
      static_cast<unsigned long long>(n), leaf_bytes, build, startup, verify, query,
      csv.size() >> 20);
}

TEST_F(AuditCommandTest, QueryTableIsNarrowByDefaultAndWideOnRequest) {
  auto event = SampleEvent("req-long", audit::testing::kNhsB);
  event.set_actor("a.very-long-practitioner-name");
  event.set_method("RecordSharingDecisionWithExtras");
  ASSERT_TRUE(target_->log->Append(event).ok());
  ASSERT_EQ(Run({"query", "--child-nhs=" + std::string(audit::testing::kNhsB)}), 0) << err_.str();
  const std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << out_.str();
  EXPECT_EQ(lines[0],
            "leaf  time              agency                    actor         purpose            "
            "decision  method          disclosed");
  EXPECT_THAT(lines[1],
              ::testing::MatchesRegex(
                  "1     2[0-9]{3}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}  "
                  "virtual-school/E09000033  j\\.smith       education-support  partial   "
                  "GetChildRecord  2"));
  EXPECT_THAT(lines[4], ::testing::MatchesRegex(
                            "6     2[0-9]{3}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}  "
                            "virtual-school/E09000033  a\\.very-lo\\.\\.\\.  education-support  "
                            "partial   RecordShari\\.\\.\\.  2"));
  for (const std::string& line : lines) EXPECT_LE(line.size(), 120u) << line;
  EXPECT_THAT(out_.str(), Not(HasSubstr("req-")));
  EXPECT_THAT(out_.str(), Not(HasSubstr("policy-sha256-abc")));

  ASSERT_EQ(Run({"query", "--child-nhs=" + std::string(audit::testing::kNhsB), "--wide"}), 0)
      << err_.str();
  EXPECT_THAT(out_.str(), ::testing::StartsWith("index  time                         kind "));
  EXPECT_THAT(out_.str(), HasSubstr("a.very-long-practitioner-name"));
  EXPECT_THAT(out_.str(), HasSubstr("policy-sha256-abc"));
  // json and csv keep every column, --wide or not.
  ASSERT_EQ(Run({"query", "--child-nhs=" + std::string(audit::testing::kNhsB)}, OutputFormat::kCsv),
            0)
      << err_.str();
  EXPECT_THAT(out_.str(), ::testing::StartsWith("index,time,kind,request_id,principal,"));
}

TEST_F(AuditCommandTest, QueryByLaChildId) {
  auto event = SampleEvent("req-la", "");
  event.add_children()->mutable_la_child_id()->set_la_code("E09000033");
  event.mutable_children(0)->mutable_la_child_id()->set_id("WCC-123");
  ASSERT_TRUE(target_->log->Append(event).ok());
  ASSERT_EQ(Run({"query", "--child-la-child-id=E09000033:WCC-123", "--wide"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("req-la"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("req-0")));
  EXPECT_THAT(out_.str(), Not(HasSubstr("WCC-123")));
  ASSERT_EQ(Run({"query", "--child-la-child-id=E09000033:WCC-999"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("GetChildRecord")));

  EXPECT_EQ(Run({"query", "--child-la-child-id=WCC-123"}), 2);
  EXPECT_EQ(err_.str(),
            "kinexctl: INVALID_ARGUMENT: --child-la-child-id must be LACODE:ID, e.g. "
            "E09000033:WCC-123, not \"WCC-123\"\n"
            "usage: kinexctl audit query [filters] [--page-size=N] [--max=N | --all]\n"
            "                            [--output=table|json|csv] [--wide]\n");
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(Run({"query", "--child-la-child-id=E09000033:X", "--child-upn=A1"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("give at most one of --child-nhs, --child-upn, "
                                    "--child-kinex-id, --child-la-child-id"));
}

TEST_F(AuditCommandTest, SavedHeadIsSnakeCaseAndOldCamelCaseHeadsStillRead) {
  const std::string saved = (dir_ / "head.json").string();
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--save-head=" + saved}), 0)
      << err_.str();
  std::stringstream text;
  text << std::ifstream(saved).rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\"tree_size\": \"6\""));
  EXPECT_THAT(text.str(), HasSubstr("\"root_hash\""));
  EXPECT_THAT(text.str(), Not(HasSubstr("treeSize")));

  // A head an older kinexctl saved (camelCase protobuf JSON) still verifies.
  kinex::audit::v1::SignedTreeHead head;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &head).ok());
  std::string camel;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(head, &camel).ok());
  ASSERT_THAT(camel, HasSubstr("\"treeSize\""));
  const std::string old = (dir_ / "old-head.json").string();
  std::ofstream(old) << camel;
  ASSERT_TRUE(target_->log->Append(SampleEvent("req-later")).ok());
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--saved-head=" + old}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("consistent with the saved head of 6 entries"));
  ASSERT_EQ(Run({"verify", "--public-key=" + PublicKey(), "--saved-head=" + saved}), 0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("consistent with the saved head of 6 entries"));
}

TEST_F(AuditCommandTest, UsageErrorsGoToStderrWithExitTwo) {
  EXPECT_EQ(Run({}), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(err_.str(), ::testing::StartsWith("usage: kinexctl audit <query|verify|receipt"));
  EXPECT_EQ(Run({"receipt"}), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(err_.str(), ::testing::StartsWith("usage: kinexctl audit receipt verify FILE"));
  EXPECT_EQ(Run({"query", "--colour=red"}), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(),
            "kinexctl: INVALID_ARGUMENT: unknown flag --colour (see --help)\n"
            "usage: kinexctl audit query [filters] [--page-size=N] [--max=N | --all]\n"
            "                            [--output=table|json|csv] [--wide]\n");
  EXPECT_EQ(Run({"frobnicate"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("unknown audit command \"frobnicate\""));
  EXPECT_THAT(err_.str(), HasSubstr("usage: kinexctl audit <query|verify|receipt verify>"));
  // --help anywhere: usage on stdout, exit 0.
  EXPECT_EQ(Run({"frobnicate", "--help"}), 0);
  EXPECT_THAT(out_.str(), ::testing::StartsWith("usage: kinexctl audit <query|verify|receipt"));
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(Run({"query", "--since=yesterday", "-h"}), 0);
  EXPECT_THAT(out_.str(), ::testing::StartsWith("usage: kinexctl audit query"));
  EXPECT_EQ(Run({"receipt", "--help"}), 0);
  EXPECT_THAT(out_.str(), ::testing::StartsWith("usage: kinexctl audit receipt verify"));
}

TEST_F(AuditCommandTest, EveryCommandAnswersHelp) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_EQ(Run({"query", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("usage: kinexctl audit query"));
  EXPECT_EQ(Run({"verify", "--help"}), 0);
  EXPECT_EQ(Run({"receipt", "verify", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("usage: kinexctl audit receipt verify"));
  EXPECT_EQ(Run({"frobnicate"}), 2);
}

}  // namespace
}  // namespace kinex::ctl
