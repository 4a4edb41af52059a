// Child process for crash_durability_test: opens the audit log on a SQLite
// file and appends from many threads until killed. For every acknowledged
// Append it writes one line to stdout (a pipe):
//   <leaf_index> <head_tree_size> <head_root_hex>\n
// with a single write(2) (< PIPE_BUF, so lines never interleave), only after
// Append returned OK, i.e. after the commit was durable.
//
// Usage: audit_crash_child DB_PATH SIGNING_KEY_PEM_FILE THREADS
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/audit/audit_log.h"
#include "services/audit/sqlite_log_storage.h"
#include "tests/audit/test_events.h"

int main(int argc, char** argv) {
  using namespace kinex::audit;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DB KEY THREADS\n", argv[0]);
    return 2;
  }
  auto storage = SqliteLogStorage::Open({.path = argv[1]});
  auto signer = TreeHeadSigner::FromPemFile(argv[2]);
  if (!storage.ok() || !signer.ok()) {
    std::fprintf(stderr, "open failed\n");
    return 1;
  }
  AuditLog::Options options;
  options.storage = storage->get();
  options.signer = std::shared_ptr<const TreeHeadSigner>(std::move(*signer));
  options.pseudonymizer = testing::TestPseudonymizer();
  options.clock = &kinex::RealClock::Get();
  options.start_signer_thread = false;
  auto log = AuditLog::Create(std::move(options));
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  const int threads = std::atoi(argv[3]);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        auto r = (*log)->Append(testing::SampleEvent(absl::StrCat("c", t, "-", i)));
        if (!r.ok()) continue;
        const std::string line = absl::StrCat(
            r->leaf_index, " ", r->signed_tree_head.tree_size(), " ",
            HashToHex(*HashFromBytes(r->signed_tree_head.root_hash())), "\n");
        if (write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
