// The common SQL layer on SQLite: the durability settings every store gets,
// row streaming, the connection pool, a store's writer and readers
// (Connections), schema versions (sql::Migrate), the
// dialect placeholders of the schema files, and the reasons its errors
// carry. The PostgreSQL side runs in the audit, records and consent
// conformance suites (label postgres).
#include "services/common/sql/sql_db.h"

#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/status_macros.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::sql {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;

int64_t Pragma(Db& db, const std::string& name) {
  return db.Query(absl::StrCat("PRAGMA ", name)).value().at(0).Int(0);
}

TEST(OpenSqlite, DurableByDefaultWithOneBusyTimeout) {
  kinex::testing::ScopedTempDir dir("sql");
  auto db = OpenSqlite(dir.File("a.db"));
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(Pragma(**db, "synchronous"), 2);  // FULL
  EXPECT_EQ((*db)->Query("PRAGMA journal_mode").value().at(0).Str(0), "wal");
  EXPECT_EQ(Pragma(**db, "foreign_keys"), 1);
  EXPECT_EQ(Pragma(**db, "busy_timeout"), kSqliteBusyTimeoutMs);

  auto tuned = OpenSqlite({.path = dir.File("a.db"),
                           .create = false,
                           .synchronous_full = false,
                           .cache_kib = 8192,
                           .wal_autocheckpoint_pages = 8192});
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_EQ(Pragma(**tuned, "synchronous"), 1);  // NORMAL
  EXPECT_EQ(Pragma(**tuned, "cache_size"), -8192);
  EXPECT_EQ(Pragma(**tuned, "wal_autocheckpoint"), 8192);

  EXPECT_THAT(OpenSqlite({.path = dir.File("missing.db"), .create = false}),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::HasSubstr("cannot open SQLite database")));
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Sets the umask for a scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(OpenSqlite, StoreFilesAreOwnerOnlyWhateverTheUmask) {
  kinex::testing::ScopedTempDir dir("sql");
  ScopedUmask umask(022);
  const std::string path = dir.File("log.db");
  auto db = OpenSqlite(path);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->ExecScript("CREATE TABLE t (k INTEGER); INSERT INTO t VALUES (1);").ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(path + "-wal"), 0600u);
  EXPECT_EQ(ModeOf(path + "-shm"), 0600u);
}

TEST(OpenSqlite, TightensAnExistingStoreReadableByOthers) {
  kinex::testing::ScopedTempDir dir("sql");
  ScopedUmask umask(022);
  const std::string path = dir.File("old.db");
  {
    auto db = OpenSqlite(path);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->ExecScript("CREATE TABLE t (k INTEGER)").ok());
  }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  std::ofstream(path + "-wal", std::ios::app).close();
  ASSERT_EQ(::chmod((path + "-wal").c_str(), 0664), 0);
  ::testing::internal::CaptureStderr();
  auto db = OpenSqlite({.path = path, .create = false});
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(path + "-wal"), 0600u);
  // One JSON warning per file, naming it and its old mode.
  EXPECT_THAT(log, ::testing::HasSubstr("\"level\":\"warning\",\"msg\":\"SQLite file was "
                                        "readable by others: made owner-only\",\"file\":\"" +
                                        path + "\",\"mode\":\"0644\"}"));
  EXPECT_THAT(log, ::testing::HasSubstr("\"file\":\"" + path + "-wal\",\"mode\":\"0664\"}"));
  // An owner-only read-only file stays read-only: only others' bits go.
  db->reset();
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  EXPECT_TRUE(OpenSqlite({.path = path, .create = false}).ok());
  EXPECT_EQ(ModeOf(path), 0400u);
}

TEST(Db, ForEachStreamsRowsAndStopsAtTheFirstError) {
  auto db = OpenSqlite(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->ExecScript("CREATE TABLE t (k INTEGER, v {BLOB})").ok());
  for (int64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        (*db)->Exec("INSERT INTO t VALUES ($1, $2)", {i, Blob{std::string(1, 'a' + i)}}).ok());
  }
  ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES (9, NULL)").ok());
  std::string seen;
  ASSERT_TRUE((*db)
                  ->ForEach("SELECT k, v FROM t ORDER BY k", {},
                            [&](const Row& row) {
                              absl::StrAppend(&seen, row.Int(0), row.IsNull(1) ? "-" : row.Str(1),
                                              ";");
                              return absl::OkStatus();
                            })
                  .ok());
  EXPECT_EQ(seen, "0a;1b;2c;3d;4e;9-;");
  int calls = 0;
  EXPECT_THAT((*db)->ForEach("SELECT k FROM t", {},
                             [&](const Row&) {
                               ++calls;
                               return absl::CancelledError("enough");
                             }),
              StatusIs(absl::StatusCode::kCancelled, "enough"));
  EXPECT_EQ(calls, 1);
  // The statement is reusable after a stop.
  EXPECT_EQ((*db)->Query("SELECT k FROM t").value().size(), 6u);
}

TEST(Pool, ReusesIdleConnectionsUpToItsBound) {
  kinex::testing::ScopedTempDir dir("sql");
  int opened = 0;
  Pool pool(
      [&] {
        ++opened;
        return OpenSqlite(dir.File("p.db"));
      },
      /*max_idle=*/1);
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(opened, 2);
    EXPECT_TRUE((**a).Query("SELECT 1").ok());
  }
  // One was kept (max_idle 1), the other closed.
  { auto c = pool.Acquire(); }
  EXPECT_EQ(opened, 2);
  {
    auto c = pool.Acquire();
    auto d = pool.Acquire();
  }
  EXPECT_EQ(opened, 3);
}

TEST(Pool, ReportsAConnectionThatCannotBeOpened) {
  Pool pool([] { return OpenSqlite({.path = "/nonexistent/dir/p.db", .create = false}); });
  EXPECT_THAT(pool.Acquire(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(Pool, WaitsWhileMaxOpenAreLeased) {
  kinex::testing::ScopedTempDir dir("sql");
  std::atomic<int> opened{0};
  Pool pool(
      [&] {
        ++opened;
        return OpenSqlite(dir.File("p.db"));
      },
      /*max_idle=*/8, /*max_open=*/1);
  std::optional<absl::StatusOr<Pool::Lease>> first(pool.Acquire());
  ASSERT_TRUE(first->ok());
  std::atomic<bool> second_leased{false};
  std::thread waiter([&] {
    absl::StatusOr<Pool::Lease> second = pool.Acquire();
    second_leased = second.ok();
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(second_leased);  // still waiting for the one connection
  first.reset();
  waiter.join();
  EXPECT_TRUE(second_leased);
  EXPECT_EQ(opened, 1);  // the second lease got the first's connection
}

TEST(Pool, AFailedOpenFreesItsPlace) {
  Pool pool([] { return OpenSqlite({.path = "/nonexistent/dir/p.db", .create = false}); },
            /*max_idle=*/1, /*max_open=*/1);
  EXPECT_THAT(pool.Acquire(), StatusIs(absl::StatusCode::kUnavailable));
  // Not waiting for a place the failure took.
  EXPECT_THAT(pool.Acquire(), StatusIs(absl::StatusCode::kUnavailable));
}

int64_t CountRows(Db& db) { return db.Query("SELECT COUNT(*) FROM t").value().at(0).Int(0); }

// A store of one table `t` at `path`, its reads on their own connections
// (none for ":memory:").
std::unique_ptr<Connections> StoreOfT(const std::string& path) {
  auto writer = OpenSqlite(path);
  EXPECT_TRUE(writer.ok());
  EXPECT_TRUE((*writer)->ExecScript("CREATE TABLE t (k INTEGER)").ok());
  Pool::Opener readers;
  if (path != ":memory:") readers = [path] { return OpenSqlite({.path = path, .create = false}); };
  return std::make_unique<Connections>(*std::move(writer), std::move(readers));
}

// The rows of `t` a new read sees.
int64_t RowsARead(Connections& db) {
  int64_t rows = -1;
  EXPECT_TRUE(db.Read([&](Db& r) {
                  rows = CountRows(r);
                  return absl::OkStatus();
                }).ok());
  return rows;
}

TEST(Connections, AReadNeitherWaitsForAWriteNorSeesItHalfDone) {
  kinex::testing::ScopedTempDir dir("sql");
  std::unique_ptr<Connections> db = StoreOfT(dir.File("c.db"));

  // A write holds its transaction open (one row in, not committed).
  absl::Notification inserted, release;
  std::thread write([&] {
    EXPECT_TRUE(db->Write([&](Db& w) -> absl::Status {
                    KINEX_RETURN_IF_ERROR(w.Exec("INSERT INTO t VALUES (1)").status());
                    inserted.Notify();
                    release.WaitForNotification();
                    return w.Exec("INSERT INTO t VALUES (2)").status();
                  }).ok());
  });
  inserted.WaitForNotification();
  // The read does not wait for the writer's lock, and sees nothing of the
  // open transaction.
  int64_t before = -1, after_commit = -1;
  ASSERT_TRUE(db->Read([&](Db& r) {
                  before = CountRows(r);
                  // The write commits while this read is still going...
                  release.Notify();
                  write.join();
                  // ...and the read's snapshot does not move.
                  after_commit = CountRows(r);
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(before, 0);
  EXPECT_EQ(after_commit, 0);
  EXPECT_EQ(RowsARead(*db), 2);  // the next read sees the whole write
}

TEST(Connections, AFailedWriteLeavesNothingAndAFailedReadKeepsItsError) {
  kinex::testing::ScopedTempDir dir("sql");
  std::unique_ptr<Connections> db = StoreOfT(dir.File("c.db"));
  EXPECT_THAT(db->Write([](Db& w) -> absl::Status {
    KINEX_RETURN_IF_ERROR(w.Exec("INSERT INTO t VALUES (1)").status());
    return absl::AbortedError("changed my mind");
  }),
              StatusIs(absl::StatusCode::kAborted, "changed my mind"));
  EXPECT_THAT(db->Read([](Db&) { return absl::NotFoundError("no such child"); }),
              StatusIs(absl::StatusCode::kNotFound, "no such child"));
  EXPECT_EQ(RowsARead(*db), 0);
}

TEST(Connections, WithoutAnOpenerReadsShareTheWriter) {
  std::unique_ptr<Connections> db = StoreOfT(":memory:");
  ASSERT_TRUE(db->Write([](Db& w) { return w.Exec("INSERT INTO t VALUES (1)").status(); }).ok());
  EXPECT_EQ(RowsARead(*db), 1);  // the same private database, not a second empty one
}

TEST(Connections, ReadersFollowTheCoresThisThreadMayUseFromTwoToEight) {
  cpu_set_t all;
  ASSERT_EQ(::sched_getaffinity(0, sizeof(all), &all), 0);
  const size_t cores = static_cast<size_t>(CPU_COUNT(&all));
  EXPECT_EQ(Connections::DefaultMaxReaders(), std::clamp<size_t>(cores, 2, 8));
  // One core (a container's cpuset) still gets two.
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &all)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  ASSERT_EQ(::sched_setaffinity(0, sizeof(one), &one), 0);
  const size_t on_one = Connections::DefaultMaxReaders();
  ASSERT_EQ(::sched_setaffinity(0, sizeof(all), &all), 0);
  EXPECT_EQ(on_one, 2u);
}

TEST(Migrate, AppliesEachVersionOnceAndRefusesANewerStore) {
  auto db = OpenSqlite(":memory:");
  ASSERT_TRUE(db.ok());
  int applied = 0;
  const std::vector<Migration> v2 = {{1,
                                      [&](Db& d) {
                                        ++applied;
                                        return d.ExecScript("CREATE TABLE a (x INTEGER)");
                                      }},
                                     {2, [&](Db& d) {
                                        ++applied;
                                        return d.ExecScript("CREATE TABLE b (x INTEGER)");
                                      }}};
  EXPECT_EQ(*SchemaVersion(**db, "demo"), 0);
  ASSERT_TRUE(Migrate(**db, "demo", v2).ok());
  EXPECT_EQ(applied, 2);
  EXPECT_EQ(*SchemaVersion(**db, "demo"), 2);
  ASSERT_TRUE(Migrate(**db, "demo", v2).ok());
  EXPECT_EQ(applied, 2);
  EXPECT_THAT(Migrate(**db, "demo", {v2[0]}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "demo store is at schema version 2, newer than this binary knows (1); "
                       "run a newer kinex"));
  // A failed step leaves the store as it was.
  const std::vector<Migration> v3 = {
      v2[0], v2[1], {3, [](Db& d) -> absl::Status {
                       if (absl::Status s = d.ExecScript("CREATE TABLE c (x INTEGER)"); !s.ok())
                         return s;
                       return absl::InternalError("boom");
                     }}};
  EXPECT_THAT(
      Migrate(**db, "demo", v3),
      StatusIs(absl::StatusCode::kInternal, "demo: schema migration to version 3 failed: boom"));
  EXPECT_EQ(*SchemaVersion(**db, "demo"), 2);
  EXPECT_TRUE((*db)->Query("SELECT 1 FROM sqlite_master WHERE name = 'c'").value().empty());
}

TEST(Migrate, ANewerStoreIsSchemaTooNewAndAFailedStepSchemaMigrationFailed) {
  auto db = OpenSqlite(":memory:");
  ASSERT_TRUE(db.ok());
  const Migration one = {1, [](Db& d) { return d.ExecScript("CREATE TABLE a (x INTEGER)"); }};
  ASSERT_TRUE(Migrate(**db, "demo", {one, {2, [](Db&) { return absl::OkStatus(); }}}).ok());

  const absl::Status too_new = Migrate(**db, "demo", {one});
  EXPECT_THAT(too_new, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(too_new, HasErrorReason("SCHEMA_TOO_NEW"));
  EXPECT_THAT(too_new, HasErrorMetadata("store", "demo"));
  EXPECT_THAT(too_new, HasErrorMetadata("dialect", "sqlite"));

  // A step failing in the database keeps its code; its reason is the cause.
  const absl::Status failed =
      Migrate(**db, "demo",
              {one,
               {2, [](Db&) { return absl::OkStatus(); }},
               {3, [](Db& d) { return d.ExecScript("CREATE TABLE a (x INTEGER)"); }}});
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kInternal,
                               "demo: schema migration to version 3 failed: sqlite schema: SQL "
                               "logic error: table a already exists"));
  EXPECT_THAT(failed, HasErrorReason("SCHEMA_MIGRATION_FAILED"));
  EXPECT_THAT(failed, HasErrorMetadata("cause", "STORAGE_FAILED"));
  EXPECT_THAT(failed, HasErrorMetadata("store", "demo"));
  EXPECT_THAT(failed, HasErrorMetadata("dialect", "sqlite"));
  EXPECT_EQ(*SchemaVersion(**db, "demo"), 2);

  // A gap in the steps is refused before anything runs.
  const absl::Status gap = Migrate(**db, "demo", {one, {2, {}}, {4, {}}});
  EXPECT_THAT(gap,
              StatusIs(absl::StatusCode::kInternal, "demo: migration 4 does not follow version 2"));
  EXPECT_THAT(gap, HasErrorReason("SCHEMA_MIGRATION_FAILED"));
}

TEST(ExpandPlaceholders, OneTableForBothDialects) {
  const std::string script =
      "CREATE TABLE t (id {SERIAL}, n {INT}, b {BLOB}, s {CTEXT}){WITHOUT_ROWID};";
  EXPECT_EQ(ExpandPlaceholders(script, Dialect::kSqlite),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, b BLOB, s TEXT) "
            "WITHOUT ROWID;");
  EXPECT_EQ(ExpandPlaceholders(script, Dialect::kPostgres),
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, n BIGINT, b BYTEA, s TEXT COLLATE \"C\");");
  // Dollar quoting and anything else pass through untouched.
  EXPECT_EQ(ExpandPlaceholders("AS $$ BEGIN {x} END $$;", Dialect::kPostgres),
            "AS $$ BEGIN {x} END $$;");
}

TEST(Db, ExecScriptExpandsThePlaceholders) {
  auto db = OpenSqlite(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(
      (*db)
          ->ExecScript("-- a comment first, as in the schema files\n"
                       "CREATE TABLE k (key TEXT PRIMARY KEY, n {INT} NOT NULL){WITHOUT_ROWID};"
                       "CREATE TABLE h (id {SERIAL}, v {BLOB});")
          .ok());
  auto rows = (*db)->Query("SELECT sql FROM sqlite_master WHERE name IN ('k', 'h') ORDER BY name");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].Str(0), "CREATE TABLE h (id INTEGER PRIMARY KEY AUTOINCREMENT, v BLOB)");
  EXPECT_EQ((*rows)[1].Str(0),
            "CREATE TABLE k (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID");
}

TEST(ErrorReasons, EachCauseHasItsReasonAndTheDialect) {
  kinex::testing::ScopedTempDir dir("sql");
  // A file that is not a database: INTERNAL, STORAGE_FAILED.
  { std::ofstream(dir.File("junk.db")) << std::string(4096, 'x'); }
  const auto junk = OpenSqlite(dir.File("junk.db"));
  EXPECT_THAT(
      junk, StatusIs(absl::StatusCode::kInternal, ::testing::HasSubstr("file is not a database")));
  EXPECT_THAT(junk, HasErrorReason("STORAGE_FAILED"));
  EXPECT_THAT(junk, HasErrorMetadata("dialect", "sqlite"));

  // A database that cannot be opened: UNAVAILABLE, STORAGE_UNAVAILABLE.
  const auto missing = OpenSqlite({.path = dir.File("no/such/dir.db")});
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(missing, HasErrorReason("STORAGE_UNAVAILABLE"));
  EXPECT_THAT(missing, HasErrorMetadata("dialect", "sqlite"));

  // A constraint: ABORTED, STORAGE_CONFLICT, naming no value.
  auto db = OpenSqlite(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->ExecScript("CREATE TABLE u (k TEXT PRIMARY KEY)").ok());
  ASSERT_TRUE((*db)->Exec("INSERT INTO u VALUES ($1)", {std::string("kx_secret")}).ok());
  const absl::Status dup =
      (*db)->Exec("INSERT INTO u VALUES ($1)", {std::string("kx_secret")}).status();
  EXPECT_THAT(
      dup, StatusIs(absl::StatusCode::kAborted, ::testing::Not(::testing::HasSubstr("kx_secret"))));
  EXPECT_THAT(dup, HasErrorReason("STORAGE_CONFLICT"));
  EXPECT_THAT(dup, HasErrorMetadata("dialect", "sqlite"));

  // A malformed statement: INTERNAL, STORAGE_FAILED.
  EXPECT_THAT((*db)->Query("SELECT nope FROM u"), HasErrorReason("STORAGE_FAILED"));

  // A store adds its name to the SQL layer's errors only.
  EXPECT_THAT(WithStore(dup, "records"), HasErrorMetadata("store", "records"));
  EXPECT_THAT(WithStore(dup, "records"), HasErrorReason("STORAGE_CONFLICT"));
  const absl::Status other = absl::AbortedError("not from the SQL layer");
  EXPECT_EQ(WithStore(other, "records"), other);
  EXPECT_FALSE(HasExplicitErrorReason(WithStore(other, "records")));
}

}  // namespace
}  // namespace kinex::sql
