// Child process for crash_durability_test: opens the audit log on a SQLite
// file (or, given "postgres:<conninfo>", a PostgreSQL database) and appends
// from many threads until killed, each event with one notification for the
// LA. For every acknowledged
// Append it writes one line to stdout (a pipe):
//   <leaf_index> <head_tree_size> <head_root_hex>\n
// with a single write(2) (< PIPE_BUF, so lines never interleave), only after
// Append returned OK, i.e. after the commit was durable.
//
// Usage: audit_crash_child DB_PATH|postgres:CONNINFO SIGNING_KEY_PEM_FILE THREADS
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/audit/audit_log.h"
#include "services/audit/postgres_log_storage.h"
#include "services/audit/sqlite_log_storage.h"
#include "tests/audit/test_events.h"

int main(int argc, char** argv) {
  using namespace kinex::audit;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DB KEY THREADS\n", argv[0]);
    return 2;
  }
  absl::string_view target = argv[1];
  absl::StatusOr<std::unique_ptr<LogStorage>> storage;
  if (absl::ConsumePrefix(&target, "postgres:")) {
    auto pg = PostgresLogStorage::Open({.conninfo = std::string(target)});
    if (pg.ok())
      storage = std::unique_ptr<LogStorage>(std::move(*pg));
    else
      storage = pg.status();
  } else {
    auto lite = SqliteLogStorage::Open({.path = std::string(target)});
    if (lite.ok())
      storage = std::unique_ptr<LogStorage>(std::move(*lite));
    else
      storage = lite.status();
  }
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
        // Every event also tells the LA (a notification written in the
        // same transaction as its leaf).
        kinex::audit::v1::AuditEvent event = testing::SampleEvent(absl::StrCat("c", t, "-", i));
        event.add_children()->set_kinex_id("kx_crash");
        auto* intent = event.add_notify();
        intent->set_recipient_kind(kinex::common::v1::LOCAL_AUTHORITY);
        intent->set_recipient_code("E09000033");
        intent->mutable_notification()->set_kind(kinex::notifications::v1::ACCESS);
        intent->mutable_notification()->set_kinex_id("kx_crash");
        auto r = (*log)->Append(event);
        if (!r.ok()) continue;
        const std::string line =
            absl::StrCat(r->leaf_index, " ", r->signed_tree_head.tree_size(), " ",
                         HashToHex(*HashFromBytes(r->signed_tree_head.root_hash())), "\n");
        if (write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
