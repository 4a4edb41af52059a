// sql::WalCheckpointer: SQLite's WAL copied into the database file by a
// thread of its own after commits, never blocking the writer; what it did
// in its counters; a database it cannot open refused at Start; stopping with
// a checkpoint pending; another connection's checkpoint counted as busy,
// not as a failure, and tried again.
#include "services/common/sql/wal_checkpointer.h"

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/sql/sql_db.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::sql {
namespace {

using ::kinex::testing::StatusIs;

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The writer never checkpoints by itself here (a backstop far away), so
    // whatever reaches the database file is the checkpointer's doing.
    auto writer = OpenSqlite({.path = path_, .wal_autocheckpoint_pages = 1 << 20});
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = *std::move(writer);
    ASSERT_TRUE(writer_->ExecScript("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)").ok());
  }

  // `n` commits of one 2 KiB row each.
  void Commit(int n, WalCheckpointer* notify = nullptr) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(writer_->Exec("INSERT INTO t (v) VALUES (zeroblob(2048))").ok());
      if (notify != nullptr) notify->Notify();
    }
  }

  uintmax_t DatabaseBytes() const { return std::filesystem::file_size(path_); }

  kinex::testing::ScopedTempDir dir_{"wal-checkpointer"};
  const std::string path_ = dir_.File("a.db");
  std::unique_ptr<Db> writer_;
};

TEST_F(WalCheckpointerTest, CopiesTheWalIntoTheDatabaseFile) {
  auto checkpointer = WalCheckpointer::Start({.sqlite = {.path = path_}});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  Commit(200);
  // 200 rows of 2 KiB are in the WAL only: the database file holds the
  // schema's pages.
  const uintmax_t before = DatabaseBytes();
  EXPECT_LT(before, 200u * 2048);

  (*checkpointer)->Flush();
  EXPECT_GE(DatabaseBytes(), 200u * 2048);
  const WalCheckpointer::Stats stats = (*checkpointer)->stats();
  EXPECT_GE(stats.checkpoints, 1u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GT(stats.wal_frames, 100);
  EXPECT_EQ(stats.backfilled_frames, stats.wal_frames);
  // The writer's and a new reader's view are the rows committed.
  auto reader = OpenSqlite({.path = path_, .create = false});
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->Query("SELECT COUNT(*) FROM t").value().at(0).Int(0), 200);
}

TEST_F(WalCheckpointerTest, ANotifiedCommitIsCheckpointedByItsThread) {
  auto checkpointer =
      WalCheckpointer::Start({.sqlite = {.path = path_}, .interval = absl::Milliseconds(1)});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  EXPECT_EQ((*checkpointer)->stats().checkpoints, 0u);  // nothing to do before a commit
  Commit(50, checkpointer->get());
  // The thread runs on its own: wait (bounded) until it has copied the WAL.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (DatabaseBytes() < 50u * 2048 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(DatabaseBytes(), 50u * 2048);
  EXPECT_GE((*checkpointer)->stats().checkpoints, 1u);
  EXPECT_EQ((*checkpointer)->stats().failures, 0u);
}

TEST_F(WalCheckpointerTest, ACheckpointHeldElsewhereIsBusyAndTriedAgain) {
  auto checkpointer = WalCheckpointer::Start({.sqlite = {.path = path_}});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  // A reader's open snapshot makes another connection's FULL checkpoint
  // wait (up to the busy timeout) while it holds SQLite's checkpoint lock.
  auto reader = OpenSqlite({.path = path_, .create = false});
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*reader)->Exec("BEGIN").ok());
  ASSERT_TRUE((*reader)->Query("SELECT COUNT(*) FROM t").ok());
  Commit(20);
  auto other = OpenSqlite({.path = path_, .create = false});
  ASSERT_TRUE(other.ok()) << other.status();
  std::atomic<bool> released{false};
  absl::StatusOr<std::vector<Row>> full;
  std::thread holder([&] {
    // A FULL checkpoint that finds the lock taken returns busy at once:
    // tried again until it has run after the reader let go.
    bool done = false;
    while (!done) {
      const bool after_release = released.load();
      full = (*other)->Query("PRAGMA wal_checkpoint(FULL)");
      done = !full.ok() || (after_release && full->at(0).Int(0) == 0);
    }
  });
  auto succeeded = [&] {
    const WalCheckpointer::Stats s = (*checkpointer)->stats();
    return s.checkpoints - s.busy - s.failures;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(8);
  while ((*checkpointer)->stats().busy == 0 && absl::Now() < deadline) {
    (*checkpointer)->Flush();
    absl::SleepFor(absl::Milliseconds(2));
  }
  const uint64_t succeeded_while_held = succeeded();
  ASSERT_TRUE((*reader)->Exec("COMMIT").ok());
  released = true;
  holder.join();
  ASSERT_TRUE(full.ok()) << full.status();

  // Counted as busy, not as a failure, and tried again without another
  // commit's notification.
  EXPECT_GE((*checkpointer)->stats().busy, 1u);
  EXPECT_EQ((*checkpointer)->stats().failures, 0u);
  const absl::Time retry_deadline = absl::Now() + absl::Seconds(10);
  while (succeeded() == succeeded_while_held && absl::Now() < retry_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GT(succeeded(), succeeded_while_held);
  EXPECT_EQ((*checkpointer)->stats().failures, 0u);
}

TEST_F(WalCheckpointerTest, WithoutANotificationNothingIsCopied) {
  auto checkpointer =
      WalCheckpointer::Start({.sqlite = {.path = path_}, .interval = absl::Milliseconds(1)});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  Commit(50);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ((*checkpointer)->stats().checkpoints, 0u);
  EXPECT_LT(DatabaseBytes(), 50u * 2048);
}

TEST_F(WalCheckpointerTest, ADatabaseThatIsNotThereIsRefused) {
  EXPECT_THAT(WalCheckpointer::Start({.sqlite = {.path = dir_.File("missing.db")}}),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::HasSubstr("cannot open SQLite database")));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("missing.db")));
}

TEST_F(WalCheckpointerTest, StopsWithACheckpointPending) {
  auto checkpointer =
      WalCheckpointer::Start({.sqlite = {.path = path_}, .interval = absl::Hours(1)});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  Commit(10, checkpointer->get());
  Commit(10, checkpointer->get());  // pending while the hour's interval runs
  checkpointer->reset();            // returns: the wait ends at the stop
  EXPECT_EQ(writer_->Query("SELECT COUNT(*) FROM t").value().at(0).Int(0), 20);
}

}  // namespace
}  // namespace kinex::sql
