#include "services/common/sql/wal_checkpointer.h"

#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"

namespace kinex::sql {

absl::StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(Options options) {
  options.sqlite.create = false;
  KINEX_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, OpenSqlite(options.sqlite));
  std::unique_ptr<WalCheckpointer> checkpointer(
      new WalCheckpointer(std::move(db), options.interval));
  checkpointer->thread_ = std::thread([raw = checkpointer.get()] { raw->Loop(); });
  return checkpointer;
}

WalCheckpointer::~WalCheckpointer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void WalCheckpointer::Notify() {
  absl::MutexLock lock(&mu_);
  pending_ = true;
}

void WalCheckpointer::Flush() {
  absl::MutexLock run(&run_mu_);
  {
    absl::MutexLock lock(&mu_);
    pending_ = false;
  }
  Checkpoint();
}

WalCheckpointer::Stats WalCheckpointer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void WalCheckpointer::Checkpoint() {
  // PASSIVE: copies what no reader still needs from the WAL, without
  // waiting for (or blocking) the writer or any reader. One row: busy (1
  // when it could not run at all), log (the WAL's frames) and checkpointed.
  absl::StatusOr<std::vector<Row>> rows = db_->Query("PRAGMA wal_checkpoint(PASSIVE)");
  const bool answered = rows.ok() && rows->size() == 1;
  absl::MutexLock lock(&mu_);
  ++stats_.checkpoints;
  if (answered && rows->front().Int(0) != 0) {
    // Another connection held the checkpoint lock (a checkpoint of its own)
    // or was rewriting the WAL's header: nothing is wrong. Tried again
    // after the interval, commit or not.
    ++stats_.busy;
    pending_ = true;
    return;
  }
  if (answered) {
    stats_.wal_frames = rows->front().Int(1);
    stats_.backfilled_frames = rows->front().Int(2);
    return;
  }
  ++stats_.failures;
  // Logged at the 1st, 2nd, 4th, 8th ... failure, so a store that keeps
  // failing does not flood the log (the writer's own checkpoint still runs).
  if ((stats_.failures & (stats_.failures - 1)) == 0) {
    LogJson(std::cerr, "warn", "sqlite wal checkpoint failed",
            {{"failures", static_cast<int64_t>(stats_.failures)},
             {"error", rows.ok() ? absl::StrCat("checkpoint returned ", rows->size(), " rows")
                                 : std::string(rows.status().message())}});
  }
}

void WalCheckpointer::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WalCheckpointer* c)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->pending_ || c->stopping_; },
          this));
      if (stopping_) return;
      pending_ = false;
    }
    {
      absl::MutexLock run(&run_mu_);
      Checkpoint();
    }
    // The commits of the next `interval` go into one checkpoint.
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
    if (stopping_) return;
  }
}

}  // namespace kinex::sql
