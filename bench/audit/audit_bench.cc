// Audit log benchmarks:
//   BM_Append/appenders:N     appends per second with N concurrent appenders
//                             on SQLite (WAL, synchronous=FULL), group commit;
//                             bg_checkpoint:1 as production (WAL checkpoints
//                             on a background thread), 0 by the writer.
//   BM_RawSqliteCommit/batch:B  the durability ceiling: rows per second that
//                             raw SQLite commits (the sqlite3 C API, no Kinex
//                             code) with the log's connection settings (WAL,
//                             synchronous=FULL, the same cache and checkpoint
//                             pragmas as SqliteLogStorage, and with
//                             bg_checkpoint:1 the same background
//                             checkpointer) and the log's own
//                             tables (services/audit/schema/0001_log.sql,
//                             0005_child_index.sql, 0010_child_sets.sql),
//                             one writer thread, B rows per transaction;
//                             each row is an audit_entries row whose leaf
//                             is as long as a BM_Append leaf, plus its
//                             audit_entry_child_sets row (the query index;
//                             its 5,000 children numbered in audit_children
//                             and each child's set in audit_child_sets
//                             beforehand).
//                             children:1 (the baseline) draws each row's
//                             child at random, as a BM_Append batch's
//                             events carry children spread over all 5,000;
//                             children:0 gives consecutive rows consecutive
//                             children (so a commit's index rows share a
//                             few pages: the baseline before 2026-12-06).
//   BM_InclusionProof1M       one inclusion proof at 1,000,000 entries,
//                             through AuditLog::GetInclusionProof.
//   BM_Startup1M              opening the bulk-built 1,000,000-entry log
//                             (AuditLog::Create, whatever start-up
//                             verification the log does; the builder stores
//                             no checkpoint, so this is the first open).
//   BM_VerifyOffline1M        full offline verification of 1,000,000 entries
//                             (kinexctl audit verify's logic, pages of 1000
//                             from GetEntries, minus the network).
//
// After the benchmarks a summary compares, in the same run, the log's rate
// (BM_Append appenders:64 sync_full:1 bg_checkpoint:1) with the raw rate at
// batch 64 (issue #17's target: >= 0.9) and at batch 32 (about the log's
// own grouping), the same with both checkpointing in the writer, and with
// the consecutive-children raw.
//
// The 1M-entry SQLite database is built once per run by the bulk builder
// (bulk_log.h: batches of 10,000 with one signed head each) under $TMPDIR,
// and removed at exit.
//
// Example:
//   build/bin/audit_bench                                  # everything
//   build/bin/audit_bench --benchmark_filter='Append|Raw'  # the ceiling only
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/audit/bulk_log.h"
#include "bench/audit/event_mix.h"
#include "embedded_sql/audit_schema.h"
#include "services/audit/audit_log.h"
#include "services/audit/log_verifier.h"
#include "services/audit/sqlite_log_storage.h"
#include "services/audit/stored_leaf.h"
#include "services/common/sql/sql_db.h"
#include "services/common/sql/wal_checkpointer.h"

namespace kinex::audit {
namespace {

v1::AuditEvent Event(int i) {
  v1::AuditEvent e;
  e.set_kind(v1::DISCLOSURE);
  e.set_request_id(absl::StrCat("req-", i));
  e.set_principal("spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head");
  e.set_agency_kind(kinex::common::v1::VIRTUAL_SCHOOL);
  e.set_agency_code("E09000033");
  e.set_actor(absl::StrCat("actor-", i % 50));
  e.set_purpose(kinex::common::v1::EDUCATION_SUPPORT);
  e.set_legal_basis(kinex::common::v1::PUBLIC_TASK);
  e.set_decision(v1::PARTIAL);
  e.add_disclosed_paths("education.attendance_summary");
  e.add_disclosed_paths("identity.upn");
  auto* w = e.add_withheld();
  w->set_category(kinex::record::v1::HEALTH);
  w->set_reason(kinex::policy::v1::NOT_GRANTED);
  e.set_policy_version("policy-sha256-abc");
  e.set_method("GetChildRecord");
  e.add_children()->set_kinex_id(absl::StrCat("kx_", i % 5000));
  return e;
}

std::shared_ptr<const ChildPseudonymizer> Pseudonymizer() {
  static auto* p = ChildPseudonymizer::Create(std::string(32, 'k'))->release();
  return std::shared_ptr<const ChildPseudonymizer>(p, [](auto*) {});
}

std::shared_ptr<const TreeHeadSigner> Signer() {
  static auto* s = TreeHeadSigner::Generate()->release();
  return std::shared_ptr<const TreeHeadSigner>(s, [](auto*) {});
}

std::filesystem::path TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             absl::StrCat("kinex_audit_bench_", ::getpid(), "_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

[[noreturn]] void Die(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "audit_bench: %s: %s\n", std::string(what).c_str(),
               status.ToString().c_str());
  std::abort();
}

std::unique_ptr<AuditLog> OpenLog(LogStorage* storage) {
  AuditLog::Options options;
  options.storage = storage;
  options.signer = Signer();
  options.pseudonymizer = Pseudonymizer();
  options.clock = &kinex::RealClock::Get();
  options.start_signer_thread = false;
  auto log = AuditLog::Create(std::move(options));
  if (!log.ok()) Die("AuditLog::Create", log.status());
  return *std::move(log);
}

// Appends per BM_Append run with `appenders` appenders: about 40,000; fewer
// for a lone appender, which waits one fsync per append.
int AppendsPerThread(int appenders) {
  return appenders == 1 ? 2000 : std::max(200, 40000 / appenders);
}

void BM_Append(benchmark::State& state) {
  const int appenders = static_cast<int>(state.range(0));
  const bool full = state.range(1) != 0;
  const bool background = state.range(2) != 0;
  const auto dir = TempDir(absl::StrCat("append", appenders));
  auto storage = *SqliteLogStorage::Open({.path = (dir / "audit.db").string(),
                                          .synchronous_full = full,
                                          .background_checkpoints = background});
  auto log = OpenLog(storage.get());
  const int per_thread = AppendsPerThread(appenders);
  int64_t total = 0;
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int t = 0; t < appenders; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          auto r = log->Append(Event(t * per_thread + i));
          if (!r.ok()) std::abort();
          benchmark::DoNotOptimize(r);
        }
      });
    }
    for (auto& th : threads) th.join();
    total += int64_t{appenders} * per_thread;
  }
  state.SetItemsProcessed(total);
  state.counters["heads"] = static_cast<double>((*storage->ListHeads()).size());
  state.counters["entries"] = static_cast<double>(log->Size());
  state.counters["checkpoints"] = static_cast<double>(storage->checkpointer_stats().checkpoints);
  log.reset();
  storage.reset();
  std::filesystem::remove_all(dir);
}
// sync_full:1 is the configuration the target is for; sync_full:0
// (synchronous=NORMAL: no fsync per commit) shows the CPU-bound ceiling of
// the same code, i.e. what a fast disk would approach. bg_checkpoint:1 is
// production's WAL checkpointing (a background sql::WalCheckpointer);
// bg_checkpoint:0 the writer checkpointing itself, for comparison.
BENCHMARK(BM_Append)
    ->ArgNames({"appenders", "sync_full", "bg_checkpoint"})
    ->Args({1, 1, 1})
    ->Args({16, 1, 1})
    ->Args({64, 1, 1})
    ->Args({64, 1, 0})
    ->Args({64, 0, 1})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- The durability ceiling: raw SQLite commits ---------------------------

// The connection settings of SqliteLogStorage::Open (sqlite_log_storage.cc:
// synchronous_full, cache_kib = 8192, and wal_autocheckpoint_pages, the
// backstop with its background checkpointer, else the writer's interval)
// as sql::OpenSqlite (services/common/sql/sql_db.cc) turns them into
// pragmas. Keep in step with those two files.
std::string LogPragmas(bool background_checkpoints) {
  return absl::StrCat(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
      "PRAGMA busy_timeout=10000; PRAGMA cache_size=-8192; PRAGMA wal_autocheckpoint=",
      background_checkpoints ? SqliteLogStorage::kBackstopCheckpointPages
                             : SqliteLogStorage::kWriterCheckpointPages,
      ";");
}

// The sizes of a BM_Append row: its leaf as the log stores it (the
// canonical encoding, pseudonymised, timed, chained, then compressed with
// its child pseudonyms as SqlLogStorage stores it, stored_leaf.h; averaged
// over the indices
// BM_Append writes) and its one child pseudonym.
struct RowShape {
  size_t leaf_bytes = 0;
  size_t pseudonym_bytes = 0;
};

const RowShape& AppendRowShape() {
  static const RowShape shape = [] {
    ChainTracker chains;
    uint64_t total = 0, n = 0;
    size_t pseudonym = 0;
    constexpr int kSpan = 40000;
    for (int i = 0; i < kSpan; ++i) {
      v1::AuditEvent e = Event(i);
      if (!PseudonymizeChildren(*Pseudonymizer(), e).ok()) std::abort();
      e.mutable_time()->set_seconds(1788249600 + i / 100);
      e.mutable_time()->set_nanos(123456000);
      chains.Link(e);
      chains.Record(i, e);
      absl::StatusOr<std::string> leaf = EncodeEvent(i, e);
      if (!leaf.ok()) Die("EncodeEvent", leaf.status());
      total += CompressLeaf(*leaf, std::vector<std::string>(e.child_pseudonyms().begin(),
                                                            e.child_pseudonyms().end()))
                   .size();
      ++n;
      pseudonym = e.child_pseudonyms(0).size();
    }
    return RowShape{.leaf_bytes = static_cast<size_t>((total + n / 2) / n),
                    .pseudonym_bytes = pseudonym};
  }();
  return shape;
}

void Check(sqlite3* db, int rc, absl::string_view what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "audit_bench: sqlite %s: %s\n", std::string(what).c_str(),
                 sqlite3_errmsg(db));
    std::abort();
  }
}

std::string PragmaValue(sqlite3* db, const char* pragma) {
  sqlite3_stmt* stmt = nullptr;
  Check(db, sqlite3_prepare_v2(db, absl::StrCat("PRAGMA ", pragma).c_str(), -1, &stmt, nullptr),
        pragma);
  std::string out;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return out;
}

// What the raw benchmark ran with, read back from its connection.
std::string& RawSettings() {
  static std::string s;
  return s;
}

// Rows per BM_RawSqliteCommit run: as many rows as BM_Append commits at the
// same grouping (2,000 for single-row commits, 40,000 at batches 32 and 64).
int RawRows(int batch) { return batch == 1 ? 2000 : batch == 8 ? 16000 : 40000; }

void BM_RawSqliteCommit(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const bool background = state.range(1) != 0;
  const bool spread = state.range(2) != 0;
  const RowShape& shape = AppendRowShape();
  const auto dir = TempDir(absl::StrCat("raw", batch, "_", spread));
  const std::string path = (dir / "raw.db").string();
  sqlite3* db = nullptr;
  Check(db,
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr),
        "open");
  Check(db, sqlite3_exec(db, LogPragmas(background).c_str(), nullptr, nullptr, nullptr), "pragmas");
  const std::string ddl = sql::ExpandPlaceholders(
      absl::StrCat(kinex::audit::schema::k0001Log, kinex::audit::schema::k0005ChildIndex,
                   kinex::audit::schema::k0010ChildSets),
      sql::Dialect::kSqlite);
  Check(db, sqlite3_exec(db, ddl.c_str(), nullptr, nullptr, nullptr), "schema");
  // The log's background checkpointer, notified after each commit as
  // SqliteLogStorage::Append does.
  std::unique_ptr<sql::WalCheckpointer> checkpointer;
  if (background) {
    auto started = sql::WalCheckpointer::Start({.sqlite = {.path = path}});
    if (!started.ok()) Die("WalCheckpointer::Start", started.status());
    checkpointer = *std::move(started);
    RawSettings() = absl::StrCat("journal_mode=", PragmaValue(db, "journal_mode"),
                                 " synchronous=", PragmaValue(db, "synchronous"),
                                 " (2 = FULL) cache_size=", PragmaValue(db, "cache_size"),
                                 " wal_autocheckpoint=", PragmaValue(db, "wal_autocheckpoint"),
                                 ", WAL checkpoints in the background as the log's");
  }
  sqlite3_stmt* entry = nullptr;
  sqlite3_stmt* child = nullptr;
  Check(db,
        sqlite3_prepare_v2(db,
                           "INSERT INTO audit_entries (leaf_index, leaf_hash, leaf_data, "
                           "time_micros, principal_id, purpose, decision, break_glass) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &entry, nullptr),
        "prepare entry");
  Check(db,
        sqlite3_prepare_v2(db,
                           "INSERT INTO audit_entry_child_sets (set_id, leaf_index) "
                           "VALUES (?1, ?2)",
                           -1, &child, nullptr),
        "prepare child");
  // Incompressible bytes of the log's sizes (SQLite does not compress, but
  // nothing should flatter it); 5,000 children as BM_Append's events.
  std::mt19937_64 rng(batch);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  const std::string leaf = random_bytes(shape.leaf_bytes);
  // The children numbered once, and each child's set (an event names one
  // child), before the measured commits (the log numbers a child and a set
  // the first time it indexes them).
  constexpr int kChildren = 5000;
  Check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
  for (int i = 0; i < kChildren; ++i) {
    const std::string insert =
        absl::StrCat("INSERT INTO audit_children (pseudonym) VALUES ('",
                     absl::BytesToHexString(random_bytes(shape.pseudonym_bytes / 2)), "')");
    Check(db, sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr), "number child");
    const std::string set =
        absl::StrCat("INSERT INTO audit_child_sets (members) VALUES ('", i + 1,
                     "'); INSERT INTO audit_child_set_members (set_id, child_id) VALUES (", i + 1,
                     ", ", i + 1, ")");
    Check(db, sqlite3_exec(db, set.c_str(), nullptr, nullptr, nullptr), "number set");
  }
  Check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
  const int rows = RawRows(batch);
  // Each row's child: drawn at random (a BM_Append commit's events come
  // from many appenders, each at its own place in the 5,000), or the next
  // after the row before's.
  std::mt19937_64 pick(batch + 1);
  auto child_of = [&](int64_t row) -> int64_t {
    return 1 + static_cast<int64_t>(spread ? pick() % kChildren : row % kChildren);
  };
  int64_t next = 0;
  int64_t total = 0;
  for (auto _ : state) {
    for (int done = 0; done < rows; done += batch) {
      Check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
      for (int r = 0; r < batch; ++r, ++next) {
        const std::string hash = random_bytes(32);
        sqlite3_bind_int64(entry, 1, next);
        sqlite3_bind_blob(entry, 2, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
        sqlite3_bind_blob(entry, 3, leaf.data(), static_cast<int>(leaf.size()), SQLITE_STATIC);
        sqlite3_bind_int64(entry, 4, 1788249600000000 + next * 10000);
        // BM_Append's 50 actors of one agency, numbered as the log numbers
        // them (audit_principals), once, before these commits.
        sqlite3_bind_int64(entry, 5, 1 + next % 50);
        sqlite3_bind_int64(entry, 6, kinex::common::v1::EDUCATION_SUPPORT);
        sqlite3_bind_int64(entry, 7, v1::PARTIAL);
        sqlite3_bind_int64(entry, 8, 0);
        Check(db, sqlite3_step(entry), "insert entry");
        sqlite3_reset(entry);
        sqlite3_bind_int64(child, 1, child_of(next));
        sqlite3_bind_int64(child, 2, next);
        Check(db, sqlite3_step(child), "insert child");
        sqlite3_reset(child);
      }
      Check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
      if (checkpointer != nullptr) checkpointer->Notify();
    }
    total += rows;
  }
  state.SetItemsProcessed(total);
  state.counters["row_bytes"] = static_cast<double>(shape.leaf_bytes + 32 + 2 * sizeof(int64_t));
  state.counters["leaf_bytes"] = static_cast<double>(shape.leaf_bytes);
  sqlite3_finalize(entry);
  sqlite3_finalize(child);
  checkpointer.reset();
  sqlite3_close_v2(db);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RawSqliteCommit)
    ->ArgNames({"batch", "bg_checkpoint", "children"})
    ->Args({1, 1, 1})
    ->Args({8, 1, 1})
    ->Args({32, 1, 1})
    ->Args({64, 1, 1})
    ->Args({64, 0, 1})
    ->Args({64, 1, 0})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- The 1M-entry log ------------------------------------------------------

constexpr uint64_t kBig = 1000000;

// The 1M-entry database, built once.
const std::string& BigDb() {
  static const std::string path = [] {
    const auto dir = TempDir("1m");
    const std::string db = (dir / "audit.db").string();
    auto storage = *SqliteLogStorage::Open({.path = db});
    const absl::Time start = absl::Now();
    // 100 events a second from 2026-09-01T08:00:00Z.
    auto builder = bench::BulkLogBuilder::Create({.signer = Signer(),
                                                  .pseudonymizer = Pseudonymizer(),
                                                  .batch_size = 10000,
                                                  .first_time = absl::FromUnixSeconds(1788249600),
                                                  .spacing = absl::Milliseconds(10),
                                                  .checkpoints = false});
    if (!builder.ok()) Die("BulkLogBuilder::Create", builder.status());
    absl::Status built =
        (*builder)->GrowTo(*storage, kBig, [](uint64_t i) { return Event(static_cast<int>(i)); });
    if (!built.ok()) Die("building the 1M-entry log", built);
    // Removed at exit: half a gigabyte must not outlive the run.
    static const struct Cleanup {
      std::filesystem::path dir;
      ~Cleanup() { std::filesystem::remove_all(dir); }
    } cleanup{dir};
    std::fprintf(stderr, "built 1M-entry database in %.1f s (%s, %.0f MB)\n",
                 absl::ToDoubleSeconds(absl::Now() - start), db.c_str(),
                 std::filesystem::file_size(db) / 1e6);
    return db;
  }();
  return path;
}

struct BigLog {
  std::unique_ptr<SqliteLogStorage> storage;
  std::unique_ptr<AuditLog> log;
};

BigLog& Big() {
  static BigLog* big = [] {
    auto* b = new BigLog;
    b->storage = *SqliteLogStorage::Open({.path = BigDb()});
    b->log = OpenLog(b->storage.get());
    return b;
  }();
  return *big;
}

void BM_Startup1M(benchmark::State& state) {
  BigDb();
  for (auto _ : state) {
    auto storage = *SqliteLogStorage::Open({.path = BigDb()});
    auto log = OpenLog(storage.get());
    benchmark::DoNotOptimize(log->Size());
  }
  state.SetItemsProcessed(state.iterations() * kBig);
}
BENCHMARK(BM_Startup1M)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

void BM_InclusionProof1M(benchmark::State& state) {
  AuditLog& log = *Big().log;
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    v1::GetInclusionProofRequest req;
    req.set_leaf_index(rng() % kBig);
    req.set_tree_size(kBig);
    auto proof = log.GetInclusionProof(req);
    if (!proof.ok()) std::abort();
    benchmark::DoNotOptimize(proof);
  }
}
BENCHMARK(BM_InclusionProof1M)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProof1M(benchmark::State& state) {
  AuditLog& log = *Big().log;
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    v1::GetConsistencyProofRequest req;
    req.set_first_tree_size(1 + rng() % (kBig - 1));
    req.set_second_tree_size(kBig);
    auto proof = log.GetConsistencyProof(req);
    if (!proof.ok()) std::abort();
    benchmark::DoNotOptimize(proof);
  }
}
BENCHMARK(BM_ConsistencyProof1M)->Unit(benchmark::kMicrosecond);

void BM_VerifyOffline1M(benchmark::State& state) {
  AuditLog& log = *Big().log;
  auto verifier = *TreeHeadVerifier::FromRawPublicKey(Signer()->raw_public_key());
  const v1::SignedTreeHead head = log.LatestHead();
  for (auto _ : state) {
    auto verified = VerifyLog(
        [&](uint64_t start, uint64_t end) {
          v1::GetEntriesRequest req;
          req.set_start_index(start);
          req.set_end_index(end);
          return log.GetEntries(req);
        },
        head, *verifier);
    if (!verified.ok() || verified->tree_size != kBig) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * kBig);
}
BENCHMARK(BM_VerifyOffline1M)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// --- Stored leaves: compression ---------------------------------------------

// 1,000 canonical leaves of the realistic mix (bench/audit/event_mix.h:
// mostly whole-record disclosures), each child as three 64-hex pseudonyms as
// the log writes them.
const std::vector<std::string>& MixLeaves() {
  static const std::vector<std::string> leaves = [] {
    bench::EventMix mix({});
    std::vector<std::string> out;
    for (uint64_t i = 0; i < 1000; ++i) {
      v1::AuditEvent e = mix.Event(i);
      if (!PseudonymizeChildren(*Pseudonymizer(), e).ok()) std::abort();
      e.mutable_time()->set_seconds(1788249600 + static_cast<int64_t>(i));
      absl::StatusOr<std::string> leaf = EncodeEvent(i, e);
      if (!leaf.ok()) Die("EncodeEvent", leaf.status());
      out.push_back(*std::move(leaf));
    }
    return out;
  }();
  return leaves;
}

// CompressLeaf per leaf of the mix; counters: mean canonical and stored bytes.
void BM_CompressLeaf(benchmark::State& state) {
  const std::vector<std::string>& leaves = MixLeaves();
  size_t i = 0;
  uint64_t canonical = 0, stored = 0, n = 0;
  for (auto _ : state) {
    const std::string& leaf = leaves[i++ % leaves.size()];
    const std::string out = CompressLeaf(leaf);
    canonical += leaf.size();
    stored += out.size();
    ++n;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["canonical_bytes"] = static_cast<double>(canonical) / static_cast<double>(n);
  state.counters["stored_bytes"] = static_cast<double>(stored) / static_cast<double>(n);
}
BENCHMARK(BM_CompressLeaf)->Unit(benchmark::kMicrosecond);

// ExpandLeaf per stored leaf of the mix (what every read of a leaf adds).
void BM_ExpandLeaf(benchmark::State& state) {
  std::vector<std::string> stored;
  for (const std::string& leaf : MixLeaves()) stored.push_back(CompressLeaf(leaf));
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> out = ExpandLeaf(stored[i++ % stored.size()]);
    if (!out.ok()) Die("ExpandLeaf", out.status());
    benchmark::DoNotOptimize(out->data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExpandLeaf)->Unit(benchmark::kMicrosecond);

// One child's pseudonyms as an event carries them (its Kinex id, NHS
// number, UPN and local-authority id), per pseudonym; threads:N runs N
// threads on one ChildPseudonymizer, as the log's appenders do (32: more
// threads than cores, as a server's request threads are). Measures the
// lever in bench/load/README.md "Fewer allocations per call".
void BM_Pseudonym(benchmark::State& state) {
  std::vector<kinex::common::v1::ChildRef> children(4);
  children[0].set_kinex_id("kx_01HZX4Q8W6T2N9");
  children[1].set_nhs_number("9434765919");
  children[2].set_upn("A123456789012");
  children[3].mutable_la_child_id()->set_la_code("E09000033");
  children[3].mutable_la_child_id()->set_id("LA-000123");
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> p = Pseudonymizer()->Pseudonym(children[i++ % children.size()]);
    if (!p.ok()) Die("Pseudonym", p.status());
    benchmark::DoNotOptimize(p->data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Pseudonym)->Threads(1)->Threads(2)->Threads(32)->Unit(benchmark::kMicrosecond);

// --- The summary -----------------------------------------------------------

// The console reporter, keeping each run's counters for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      auto& counters = runs_[run.run_name.function_name + run.run_name.args];
      for (const auto& [name, counter] : run.counters) counters[name] = counter.value;
      counters["real_seconds"] = run.real_accumulated_time;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // The counter `name` of the run of `function` with args `args`.
  std::optional<double> Get(const std::string& function, const std::string& args,
                            const std::string& name) const {
    auto run = runs_.find(function + args);
    if (run == runs_.end()) return std::nullopt;
    auto it = run->second.find(name);
    if (it == run->second.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::map<std::string, double>> runs_;
};

void PrintSummary(const SummaryReporter& r) {
  std::printf("\n== Durability ceiling (issue #17): the log against raw SQLite, same run ==\n");
  constexpr char kLogArgs[] = "appenders:64/sync_full:1/bg_checkpoint:1";
  const std::optional<double> log_rate = r.Get("BM_Append", kLogArgs, "items_per_second");
  if (!RawSettings().empty()) {
    const RowShape& shape = AppendRowShape();
    std::printf(
        "raw SQLite: %s; one writer; row = audit_entries (leaf %zu B, hash 32 B, "
        "columns) + audit_entry_child_sets (leaf_index, set_id), each row's child drawn at "
        "random of 5,000 as the log's batches carry them\n",
        RawSettings().c_str(), shape.leaf_bytes);
  }
  std::printf(
      "log: SqliteLogStorage (WAL, synchronous=FULL, background checkpoints), 64 appender "
      "threads, group commit\n");
  for (int batch : {1, 8, 32, 64}) {
    const std::optional<double> raw =
        r.Get("BM_RawSqliteCommit", absl::StrCat("batch:", batch, "/bg_checkpoint:1/children:1"),
              "items_per_second");
    if (raw.has_value()) {
      std::printf("  raw SQLite, %2d rows/commit   %10.0f rows/s\n", batch, *raw);
    }
  }
  if (log_rate.has_value()) {
    const std::optional<double> heads = r.Get("BM_Append", kLogArgs, "heads");
    const std::optional<double> entries = r.Get("BM_Append", kLogArgs, "entries");
    std::printf("  log, 64 appenders (sync_full) %10.0f appends/s", *log_rate);
    if (heads.has_value() && entries.has_value() && *heads > 1) {
      // One head per commit, plus the empty log's.
      std::printf("  (%.1f events per commit on average)", *entries / (*heads - 1));
    }
    std::printf("\n");
  }
  const std::optional<double> raw64 =
      r.Get("BM_RawSqliteCommit", "batch:64/bg_checkpoint:1/children:1", "items_per_second");
  if (log_rate.has_value() && raw64.has_value() && *raw64 > 0) {
    const double ratio = *log_rate / *raw64;
    std::printf("  ratio log / raw(batch 64)     %10.2f   (target >= 0.90: %s)\n", ratio,
                ratio >= 0.9 ? "met" : "NOT met");
  } else {
    std::printf(
        "  ratio: not computed (run both BM_Append/appenders:64/sync_full:1/bg_checkpoint:1 and "
        "BM_RawSqliteCommit/batch:64/bg_checkpoint:1/children:1)\n");
  }
  // The log's own work per event, apart from batching: 64 appenders that
  // each wait for their commit form batches of about 32 (half commit while
  // the other half queue), so raw SQLite at 32 rows per commit is about the
  // same grouping, and raw(32) / raw(64) about the ratio a log with no work
  // of its own would reach.
  const std::optional<double> raw32 =
      r.Get("BM_RawSqliteCommit", "batch:32/bg_checkpoint:1/children:1", "items_per_second");
  if (log_rate.has_value() && raw32.has_value() && *raw32 > 0 && raw64.has_value()) {
    std::printf(
        "  ratio log / raw(batch 32)     %10.2f   (about the log's own grouping; "
        "raw(batch 32) / raw(batch 64) = %.2f, about the most a group commit of 64 "
        "appenders that each wait for their commit can reach)\n",
        *log_rate / *raw32, *raw32 / *raw64);
  }
  // The same with the writer checkpointing itself (both sides), when run.
  const std::optional<double> log_inline =
      r.Get("BM_Append", "appenders:64/sync_full:1/bg_checkpoint:0", "items_per_second");
  const std::optional<double> raw_inline =
      r.Get("BM_RawSqliteCommit", "batch:64/bg_checkpoint:0/children:1", "items_per_second");
  if (log_inline.has_value() && raw_inline.has_value() && *raw_inline > 0) {
    std::printf(
        "  writer checkpointing itself: log %.0f appends/s, raw(batch 64) %.0f rows/s, "
        "ratio %.2f\n",
        *log_inline, *raw_inline, *log_inline / *raw_inline);
  }
  // The baseline before 2026-12-06: consecutive rows, consecutive children.
  const std::optional<double> raw_consecutive =
      r.Get("BM_RawSqliteCommit", "batch:64/bg_checkpoint:1/children:0", "items_per_second");
  if (log_rate.has_value() && raw_consecutive.has_value() && *raw_consecutive > 0) {
    std::printf(
        "  raw(batch 64) with consecutive children (a commit's index rows on a few pages; the "
        "baseline before 2026-12-06): %.0f rows/s, ratio %.2f\n",
        *raw_consecutive, *log_rate / *raw_consecutive);
  }
}

}  // namespace
}  // namespace kinex::audit

int main(int argc, char** argv) {
  // The log runs here as in the kinex binary (services/kinex/main.cc):
  // Abseil's Mutex deadlock detection off (Debian builds Abseil without
  // NDEBUG) and jemalloc (CMakeLists.txt).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  kinex::audit::SummaryReporter reporter(isatty(STDOUT_FILENO)
                                             ? benchmark::ConsoleReporter::OO_Color
                                             : benchmark::ConsoleReporter::OO_None);
  // Nothing run (--benchmark_list_tests, a filter matching nothing): no
  // summary.
  if (benchmark::RunSpecifiedBenchmarks(&reporter) > 0) kinex::audit::PrintSummary(reporter);
  benchmark::Shutdown();
  return 0;
}
