// Crash durability: a child process appends under load (16 threads) to a
// SQLite-backed log and reports each acknowledged Append through a pipe; the
// test SIGKILLs it mid-flight, reopens the log (which recomputes and checks
// everything), and checks that every acknowledged entry is present and that
// the new head is consistent with the last acknowledged one.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/log_verifier.h"
#include "services/audit/sqlite_log_storage.h"
#include "tests/audit/test_events.h"

namespace kinex::audit {
namespace {

// An Ed25519 key used only by this test (the child must sign with the same
// key the parent verifies with).
constexpr char kPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIKGf/h4H1qigc6aeMsabwsDk5tOF2WvFVD2sVOVHH8t/\n"
    "-----END PRIVATE KEY-----\n";

struct Ack {
  uint64_t leaf_index;
  uint64_t tree_size;
  std::string root_hex;
};

TEST(CrashDurabilityTest, EveryAcknowledgedAppendSurvivesSigkill) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("kinex_audit_crash_", ::getpid());
  std::filesystem::create_directories(dir);
  // Removed however the test ends.
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  const std::string db = (dir / "audit.db").string();
  const std::string key = (dir / "signing.key").string();
  std::ofstream(key) << kPem;
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  const std::string child = KINEX_AUDIT_CRASH_CHILD;
  ASSERT_TRUE(std::filesystem::exists(child)) << child;

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(child.c_str(), child.c_str(), db.c_str(), key.c_str(), "16",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);

  // Read acknowledgements until enough have arrived, then kill mid-flight.
  std::vector<Ack> acks;
  std::string buffer;
  char chunk[4096];
  bool killed = false;
  while (true) {
    const ssize_t n = ::read(fds[0], chunk, sizeof(chunk));
    if (n <= 0) break;  // EOF once the child is dead
    buffer.append(chunk, n);
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      std::vector<std::string> f = absl::StrSplit(buffer.substr(0, nl), ' ');
      buffer.erase(0, nl + 1);
      ASSERT_EQ(f.size(), 3u);
      acks.push_back({std::stoull(f[0]), std::stoull(f[1]), f[2]});
    }
    if (!killed && acks.size() >= 3000) {
      ASSERT_EQ(::kill(pid, SIGKILL), 0);
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(killed) << "child exited early, status " << status;
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(acks.size(), 3000u);

  // Reopen: the log recomputes and checks every entry and head.
  auto storage = SqliteLogStorage::Open({.path = db});
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto signer = TreeHeadSigner::FromPemFile(key);
  ASSERT_TRUE(signer.ok());
  auto verifier = *TreeHeadVerifier::FromRawPublicKey((*signer)->raw_public_key());
  AuditLog::Options options;
  options.storage = storage->get();
  options.signer = std::shared_ptr<const TreeHeadSigner>(std::move(*signer));
  options.pseudonymizer = testing::TestPseudonymizer();
  options.clock = &kinex::RealClock::Get();
  options.start_signer_thread = false;
  auto log = AuditLog::Create(std::move(options));
  ASSERT_TRUE(log.ok()) << log.status();

  const uint64_t size = (*log)->Size();
  const Ack* last = &acks[0];
  for (const Ack& a : acks) {
    ASSERT_LT(a.leaf_index, size) << "acknowledged entry lost";
    ASSERT_LE(a.tree_size, size);
    if (a.tree_size > last->tree_size) last = &a;
  }
  // The entries acknowledged are really there and decode.
  v1::GetEntriesRequest req;
  req.set_start_index(acks.back().leaf_index);
  req.set_end_index(acks.back().leaf_index + 1);
  auto entries = (*log)->GetEntries(req);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->entries_size(), 1);
  EXPECT_TRUE(entries->entries(0).has_event());

  // The new head is consistent with the last acknowledged head.
  const v1::SignedTreeHead now = (*log)->LatestHead();
  ASSERT_TRUE(verifier->Verify(now).ok());
  v1::GetConsistencyProofRequest cons;
  cons.set_first_tree_size(last->tree_size);
  cons.set_second_tree_size(now.tree_size());
  auto proof = (*log)->GetConsistencyProof(cons);
  ASSERT_TRUE(proof.ok()) << proof.status();
  std::vector<Hash> hashes;
  for (const auto& h : proof->hashes()) hashes.push_back(*HashFromBytes(h));
  EXPECT_TRUE(VerifyConsistency(last->tree_size, now.tree_size(), hashes,
                                *HashFromHex(last->root_hex),
                                *HashFromBytes(now.root_hash()))
                  .ok());
  log->reset();
  storage->reset();
}

}  // namespace
}  // namespace kinex::audit
