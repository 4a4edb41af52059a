// Copies an SQLite database's write-ahead log back into the database file on
// a thread of its own, so the writer's commits stop waiting for it.
//
// In WAL mode SQLite checkpoints from the committing connection: once the
// WAL holds wal_autocheckpoint pages, the commit that crossed the line
// copies every page written since the last checkpoint into the database
// file and fsyncs it before it returns. On an append-heavy store (the audit
// log) that is a stall of tens of milliseconds every few thousand commits,
// while every caller of the batch waits. A WalCheckpointer runs SQLite's
// PASSIVE checkpoint (which never blocks a writer or a reader) on its own
// connection after commits, at most once per `interval`, so by the time the
// writer's own checkpoint comes due almost every page is already in the
// database file: it copies the few left, and the WAL restarts from its
// beginning as before. The writer's wal_autocheckpoint stays the backstop
// (set it larger than what one interval writes).
//
// Durability is SQLite's: a checkpoint moves committed pages only, and with
// synchronous=FULL or NORMAL fsyncs the WAL before and the database after.
// A checkpoint that finds the checkpoint lock held elsewhere is counted as
// busy and tried again after the interval; one that fails is counted,
// logged (no database contents) and tried again after the next commit. The
// writer's backstop still runs.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto checkpointer,
//                          sql::WalCheckpointer::Start({.sqlite = {.path = path}}));
//   ... commit ...
//   checkpointer->Notify();
#ifndef KINEX_SERVICES_COMMON_SQL_WAL_CHECKPOINTER_H_
#define KINEX_SERVICES_COMMON_SQL_WAL_CHECKPOINTER_H_

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/sql/sql_db.h"

namespace kinex::sql {

class WalCheckpointer {
 public:
  struct Options {
    // Required: the database (`create` is ignored: it must exist). The
    // checkpointer's connection takes `synchronous_full` from here.
    SqliteOptions sqlite;
    // Default 50 ms: the least time between two checkpoints.
    absl::Duration interval = absl::Milliseconds(50);
  };

  // What the checkpointer has done, for tests and benchmarks.
  struct Stats {
    // Checkpoints run; of them those that found another connection holding
    // the checkpoint lock (busy: harmless, tried again after the interval)
    // and those that failed (an error, logged).
    uint64_t checkpoints = 0;
    uint64_t busy = 0;
    uint64_t failures = 0;
    // The WAL's frames and those in the database file, as the last
    // checkpoint reported them (SQLite's "log" and "checkpointed").
    int64_t wal_frames = 0;
    int64_t backfilled_frames = 0;
  };

  // Opens the checkpointer's connection and starts its thread. UNAVAILABLE
  // naming the path when the database cannot be opened.
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(Options options);

  // Stops the thread (after the checkpoint it is running, if any).
  ~WalCheckpointer();

  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // A commit happened: a checkpoint runs once `interval` has passed since
  // the last one. Cheap; never blocks on the checkpoint.
  void Notify();

  // Waits until no notification is pending and no checkpoint is running,
  // then runs one more checkpoint. For tests and benchmarks.
  void Flush();

  Stats stats() const;

 private:
  WalCheckpointer(std::unique_ptr<Db> db, absl::Duration interval)
      : db_(std::move(db)), interval_(interval) {}
  void Loop();
  // Runs one checkpoint on db_ (only the checkpointing thread, or Flush
  // while it holds run_mu_).
  void Checkpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);

  // Held while a checkpoint runs; db_ is only used under it.
  absl::Mutex run_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  const std::unique_ptr<Db> db_ ABSL_PT_GUARDED_BY(run_mu_);
  const absl::Duration interval_;

  mutable absl::Mutex mu_;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace kinex::sql

#endif  // KINEX_SERVICES_COMMON_SQL_WAL_CHECKPOINTER_H_
