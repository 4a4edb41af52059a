// audit_scale_bench: the audit log at scale (issue #17). Grows a log to
// --entries (default 20,000,000) and, at each size of --report_at (default
// 1M and 10M, plus --entries), measures through AuditLog:
//   - start-up: wall time of AuditLog::Create on the grown log, as a restart
//     (the second open after growth; the first, from the checkpoint the
//     bulk builder wrote, is reported apart with the leaves it re-hashed),
//     and of opening the storage before it;
//   - appends: --appends (default 20,000) AuditLog::Append calls from
//     --appenders (default 64) threads, durable (SQLite WAL with
//     synchronous=FULL; PostgreSQL with fsync and synchronous_commit on),
//     appends/s and latency percentiles, bytes passed to write(2) per
//     append, and the rate as a ratio to the rate at the first size
//     (target: >= 0.9, no decline);
//   - interleaved appends (--interleave_rounds, default 3): the
//     sizes are measured a run's length apart, and this machine's append
//     rate moves by more than the target's 10 % from one hour to the next,
//     so after the last size each size is measured again in turn, from a
//     restart, each earlier size on a copy of the store made when it was
//     measured; the ratio to the first size is taken within each round;
//   - inclusion proofs: GetInclusionProof of --proofs random leaves from the
//     older half of the log against the latest head, mean, p50, p99 and max
//     (target <= 1 ms);
//   - the auditor's per-child query: QueryEvents for the child of median
//     popularity (every page of up to 1,000), and the same through
//     AuditedQueryEvents (each page also appends its AUDIT_QUERIED event);
//     the first page for the most frequent child;
//   - store size per entry, indexes included (SQLite: the db and its -wal
//     file, the log closed; PostgreSQL: pg_total_relation_size of the
//     audit_* tables), with a per-table breakdown;
//   - resident memory (VmRSS) before start-up (after the bulk phase's memory
//     is handed back), after it and after the appends.
// Growth between sizes uses the bulk builder (bulk_log.h: real encoding,
// hashes, pseudonyms, chain links, a signed head per batch) straight into
// LogStorage::Append, with the log closed. Every event, bulk or measured,
// comes from the realistic mix of event_mix.h (printed at the start, with
// the encoded leaf size of each kind).
//
// PostgreSQL (--backend=postgres): a throwaway server with durable settings
// (tests/testing/postgres_server.h) whose data directory is under --dir,
// removed at the end. Before each growth the free disk space is checked
// against the store size projected from the bytes per entry measured so
// far: the run stops, printing what it measured, rather than fill the disk.
// SIGINT / SIGTERM stop it between steps, cleaning up the same way.
// --postgres_settings sets the server as a deployment would (for example
// shared_buffers, 128 MB by default); the settings are printed read back,
// and settings that make the log less durable than production's are refused.
//
// Example:
//   build/bin/audit_scale_bench                          # 1M, 10M, 20M on SQLite
//   build/bin/audit_scale_bench --backend=postgres --entries=10000000
//   build/bin/audit_scale_bench --entries=300000 --report_at=100000,300000
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/audit/bulk_log.h"
#include "bench/audit/event_mix.h"
#include "services/audit/audit_log.h"
#include "services/audit/postgres_log_storage.h"
#include "services/audit/sqlite_log_storage.h"
#include "services/audit/stored_leaf.h"
#include "services/common/clock.h"
#include "services/common/sql/sql_db.h"
#include "services/common/status_macros.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/proc_fields.h"

ABSL_FLAG(uint64_t, entries, 20000000, "Size to grow the log to");
ABSL_FLAG(std::string, report_at, "1000000,10000000",
          "Comma-separated sizes to measure at (below --entries); --entries is always added");
ABSL_FLAG(std::string, backend, "sqlite", "sqlite or postgres");
ABSL_FLAG(std::string, dir, "",
          "Directory for the store (SQLite db; PostgreSQL data directory); default a new "
          "directory under $TMPDIR (else /tmp), removed at the end unless --keep");
ABSL_FLAG(std::vector<std::string>, postgres_settings, {},
          "PostgreSQL only: comma-separated server settings beyond the durable defaults, each "
          "name=value as postgres -c takes it (e.g. shared_buffers=2GB); printed with the "
          "durability settings read back");
ABSL_FLAG(bool, keep, false, "Keep the SQLite database (PostgreSQL's server is always removed)");
ABSL_FLAG(int, appenders, 64, "Concurrent AuditLog::Append threads in each measurement");
ABSL_FLAG(int, appends, 20000, "Measured appends per size (after 1,000 unmeasured)");
ABSL_FLAG(int, proofs, 2000, "Inclusion proofs per size");
ABSL_FLAG(int, children, 10000, "Distinct children of the event mix");
ABSL_FLAG(double, zipf_s, 1.0, "Zipf exponent of the children's popularity (0: uniform)");
ABSL_FLAG(double, whole_record_share, 0.80,
          "Share of whole-record disclosures in the mix (0.8 to 1; the other kinds keep their "
          "proportions in the rest); 1 gives the store's bytes per whole-record disclosure");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the event mix");
ABSL_FLAG(int, batch, 10000, "Entries per bulk transaction (one signed head each)");
ABSL_FLAG(double, spacing_ms, 315,
          "Event time step of bulk entries in ms (default 315: 100 million events a year)");
ABSL_FLAG(int, interleave_rounds, 3,
          "After the last size, rounds of --appends appends at every size in turn, each "
          "earlier size on a copy of the store made when it was measured, so the growth ratio "
          "compares rates measured minutes apart instead of a run's length apart; 0: none");
ABSL_FLAG(bool, background_checkpoints, true,
          "SQLite: WAL checkpoints on a background thread, as production (false: the writer "
          "checkpoints itself, for comparison)");
ABSL_FLAG(int, compare_writer_cache_mib, 0,
          "SQLite: in each interleaved round, also measure every size with this page cache (MiB) "
          "on the writer connection instead of production's 8 MiB, in alternating order, and "
          "print both tables (0: off)");
ABSL_FLAG(bool, cold_proofs, false,
          "At each size, after the per-child query, measure the inclusion proofs again with the "
          "machine's page cache dropped first (sync, then 1 > /proc/sys/vm/drop_caches: needs "
          "root and empties the cache of the whole machine), as a log far larger than memory "
          "reads an old leaf's block");
ABSL_FLAG(bool, leaf_hash_index_experiment, false,
          "After the last size (and the interleaved rounds), measure the proofs with the page "
          "cache dropped (as --cold_proofs; needs root) and warm on the same log in the product's "
          "layout (the blocks' eighths stored), with the eighths set aside (a proof reads its "
          "whole block) and, SQLite only, that with a covering index of the leaves' hashes, "
          "audit_entries(leaf_index, leaf_hash); print the eighths' and the index's sizes; the "
          "store is put back as it was");
ABSL_FLAG(bool, table_sizes, true,
          "Per-table store sizes (SQLite: the dbstat table, a scan of the whole file)");

// jemalloc's control interface, when linked (the kinex binary links it).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace kinex::audit::bench {
namespace {

namespace v1 = kinex::audit::v1;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Stops the PostgreSQL server and removes the run's files; set by Run, also
// called by Die.
std::function<void()>* g_cleanup = nullptr;

// VmRSS of this process, in MB.
double RssMb() {
  return std::max<int64_t>(0, kinex::testing::ProcField("/proc/self/status", "VmRSS")) / 1024.0;
}

// Bytes this process has passed to write(2) and its kin so far (the
// "wchar" of /proc/self/io): for the log, its WAL frames and checkpoints.
uint64_t WrittenBytes() {
  return std::max<int64_t>(0, kinex::testing::ProcField("/proc/self/io", "wchar"));
}

// This process's read(2)/pread(2) calls ("syscr" of /proc/self/io; for
// SQLite, one per page its connection's own cache missed) and the bytes the
// kernel fetched from the disk for them ("read_bytes": page-cache misses,
// readahead included), so far.
struct ReadCounters {
  int64_t calls = 0;
  int64_t disk_bytes = 0;
  static ReadCounters Now() {
    return {.calls = kinex::testing::ProcField("/proc/self/io", "syscr"),
            .disk_bytes = kinex::testing::ProcField("/proc/self/io", "read_bytes")};
  }
  // Calls and disk KiB per operation since `before`.
  std::pair<double, double> PerOp(const ReadCounters& before, int ops) const {
    return {1.0 * (calls - before.calls) / ops, (disk_bytes - before.disk_bytes) / 1024.0 / ops};
  }
};

// Hands memory freed by the bulk phase back to the system before resident
// memory is read (jemalloc keeps freed pages for a while; under another
// allocator mallctl is absent and this does nothing).
void ReleaseFreeMemory() {
  if (&mallctl == nullptr) return;
  // MALLCTL_ARENAS_ALL is 4096.
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

[[noreturn]] void Die(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "audit_scale_bench: %s: %s\n", std::string(what).c_str(),
               status.ToString().c_str());
  if (g_cleanup != nullptr) {
    std::function<void()>* cleanup = std::exchange(g_cleanup, nullptr);
    (*cleanup)();
  }
  std::exit(1);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

double Mean(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  return v.empty() ? 0 : total / v.size();
}

std::string Thousands(uint64_t n) {
  std::string s = absl::StrCat(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

// The real clock, shifted to continue the log's own timeline (bulk entries
// are spaced --spacing_ms apart, whatever the wall clock says), so events
// AuditLog appends are later than the bulk-built ones and the bulk builder's
// next entries later again.
class ShiftedClock final : public kinex::Clock {
 public:
  void StartAt(absl::Time log_time) {
    absl::MutexLock lock(&mu_);
    offset_ = log_time - absl::Now();
  }
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return absl::Now() + offset_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_);
};

// The store under test: opens LogStorage instances and measures their size.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<std::unique_ptr<LogStorage>> Open() = 0;
  // A connection of the SQL layer to the store, for what the benchmark
  // reads or changes beside the log.
  virtual absl::StatusOr<std::unique_ptr<sql::Db>> OpenDb() = 0;
  // Bytes of the store, indexes included.
  virtual absl::StatusOr<uint64_t> StoreBytes() = 0;
  // Per-table sizes in bytes, largest first (may be empty).
  virtual std::vector<std::pair<std::string, uint64_t>> TableBytes() = 0;
  // The durability settings, read back where possible.
  virtual std::string Durability() = 0;
  // After a bulk growth, what the server would have done meanwhile to a log
  // grown gradually (PostgreSQL: autovacuum's ANALYZE).
  virtual void AfterGrowth() {}
  // SQLite: the writer connection's page cache for the next Open (KiB);
  // PostgreSQL's is the server's (shared_buffers).
  virtual void SetWriterCacheKib(int /*kib*/) {}
  // A copy of the store as it is now (the log closed), named `name`
  // (letters, digits, underscores; SQLite: `name`.db beside the store), as
  // a backend of its own.
  virtual absl::StatusOr<std::unique_ptr<Backend>> Copy(const std::string& name) = 0;
  // Removes a copy's files (SQLite; PostgreSQL's go with its server).
  virtual void RemoveFiles() {}
  // Whether the store's writes are this process's (SQLite), so that its
  // bytes written per append mean something.
  virtual bool WritesInProcess() const { return false; }
};

class SqliteBackend final : public Backend {
 public:
  explicit SqliteBackend(std::string path) : path_(std::move(path)) {}
  absl::StatusOr<std::unique_ptr<LogStorage>> Open() override {
    KINEX_ASSIGN_OR_RETURN(auto s, SqliteLogStorage::Open({.path = path_,
                                                           .synchronous_full = true,
                                                           .background_checkpoints = absl::GetFlag(
                                                               FLAGS_background_checkpoints),
                                                           .writer_cache_kib = writer_cache_kib_}));
    return std::unique_ptr<LogStorage>(std::move(s));
  }
  absl::StatusOr<std::unique_ptr<sql::Db>> OpenDb() override {
    return sql::OpenSqlite({.path = path_, .create = false});
  }
  void SetWriterCacheKib(int kib) override { writer_cache_kib_ = kib; }
  absl::StatusOr<uint64_t> StoreBytes() override {
    uint64_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
      std::error_code ec;
      const uintmax_t n = std::filesystem::file_size(path_ + suffix, ec);
      if (!ec) total += n;
    }
    return total;
  }
  std::vector<std::pair<std::string, uint64_t>> TableBytes() override {
    std::vector<std::pair<std::string, uint64_t>> out;
    absl::StatusOr<std::unique_ptr<sql::Db>> db = OpenDb();
    if (!db.ok()) return out;
    absl::StatusOr<std::vector<sql::Row>> rows =
        (*db)->Query("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC");
    if (!rows.ok()) return out;
    for (const sql::Row& r : *rows) out.emplace_back(r.Str(0), static_cast<uint64_t>(r.Int(1)));
    return out;
  }
  absl::StatusOr<std::unique_ptr<Backend>> Copy(const std::string& name) override {
    const std::string path = (std::filesystem::path(path_).parent_path() / (name + ".db")).string();
    for (const char* suffix : {"", "-wal"}) {
      std::error_code ec;
      std::filesystem::remove(path + suffix, ec);
      if (!std::filesystem::exists(path_ + suffix)) continue;
      if (!std::filesystem::copy_file(path_ + suffix, path + suffix, ec)) {
        return absl::InternalError(absl::StrCat("copying ", path_, suffix, ": ", ec.message()));
      }
    }
    return std::unique_ptr<Backend>(new SqliteBackend(path));
  }
  bool WritesInProcess() const override { return true; }
  void RemoveFiles() override {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      std::filesystem::remove(path_ + suffix, ec);
    }
  }
  std::string Durability() override {
    std::string mode = "?";
    absl::StatusOr<std::unique_ptr<sql::Db>> db = OpenDb();
    if (db.ok()) {
      absl::StatusOr<std::vector<sql::Row>> rows = (*db)->Query("PRAGMA journal_mode");
      if (rows.ok() && !rows->empty()) mode = rows->front().Str(0);
    }
    return absl::StrCat("SQLite ", path_,
                        ": SqliteLogStorage synchronous_full=true, i.e. "
                        "PRAGMA synchronous=FULL (an fsync per commit); journal_mode=",
                        mode, " (read back); WAL checkpoints ",
                        absl::GetFlag(FLAGS_background_checkpoints)
                            ? "in the background (as production)"
                            : "by the writer (--background_checkpoints=false)");
  }

 private:
  const std::string path_;
  int writer_cache_kib_ = SqliteLogStorage::kCacheKib;
};

class PostgresBackend final : public Backend {
 public:
  // `settings`: server settings beyond the durable defaults ("name=value").
  static absl::StatusOr<std::unique_ptr<PostgresBackend>> Start(std::vector<std::string> settings) {
    KINEX_ASSIGN_OR_RETURN(
        std::shared_ptr<kinex::testing::PostgresServer> server,
        kinex::testing::PostgresServer::Start({.durable = true, .settings = settings}));
    KINEX_ASSIGN_OR_RETURN(std::string conninfo, server->CreateDatabase(kDatabase));
    // The figures count only for a log as durable as production's: settings
    // that turn that off are refused, not reported.
    KINEX_ASSIGN_OR_RETURN(std::unique_ptr<sql::Db> db, sql::OpenPostgres(conninfo));
    for (const char* setting : {"fsync", "synchronous_commit", "full_page_writes"}) {
      const std::string value = Show(*db, setting);
      if (value != "on") {
        return absl::FailedPreconditionError(absl::StrCat(
            "the server is not durable as in production: ", setting, "=", value,
            " (read back; --postgres_settings may not turn off fsync, synchronous_commit or "
            "full_page_writes)"));
      }
    }
    return std::unique_ptr<PostgresBackend>(new PostgresBackend(
        std::move(server), std::move(settings), kDatabase, std::move(conninfo)));
  }
  // A database copied from this one (CREATE DATABASE ... TEMPLATE) on the
  // same server, which stops when the last backend using it goes.
  absl::StatusOr<std::unique_ptr<Backend>> Copy(const std::string& name) override {
    KINEX_ASSIGN_OR_RETURN(std::string conninfo, server_->CreateDatabase(name, database_));
    return std::unique_ptr<Backend>(
        new PostgresBackend(server_, settings_, name, std::move(conninfo)));
  }
  absl::StatusOr<std::unique_ptr<LogStorage>> Open() override {
    KINEX_ASSIGN_OR_RETURN(auto s, PostgresLogStorage::Open({.conninfo = conninfo_}));
    return std::unique_ptr<LogStorage>(std::move(s));
  }
  absl::StatusOr<std::unique_ptr<sql::Db>> OpenDb() override {
    return sql::OpenPostgres(conninfo_);
  }
  absl::StatusOr<uint64_t> StoreBytes() override {
    uint64_t total = 0;
    for (const auto& [name, bytes] : TableBytes()) total += bytes;
    return total;
  }
  std::vector<std::pair<std::string, uint64_t>> TableBytes() override {
    std::vector<std::pair<std::string, uint64_t>> out;
    absl::StatusOr<std::unique_ptr<sql::Db>> db = OpenDb();
    if (!db.ok()) return out;
    absl::StatusOr<std::vector<sql::Row>> rows = (*db)->Query(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'audit\\_%' "
        "ORDER BY 2 DESC");
    if (!rows.ok()) return out;
    for (const sql::Row& r : *rows) out.emplace_back(r.Str(0), static_cast<uint64_t>(r.Int(1)));
    return out;
  }
  void AfterGrowth() override {
    absl::StatusOr<std::unique_ptr<sql::Db>> db = OpenDb();
    if (!db.ok()) return;
    absl::Status s = (*db)->ExecScript(
        "ANALYZE audit_entries; ANALYZE audit_children; ANALYZE audit_child_sets; "
        "ANALYZE audit_child_set_members; ANALYZE audit_entry_child_sets; "
        "ANALYZE audit_heads");
    if (!s.ok()) std::printf("  ANALYZE failed: %s\n", s.ToString().c_str());
  }
  std::string Durability() override {
    std::string out = "PostgreSQL (throwaway server, durable defaults";
    if (!settings_.empty()) absl::StrAppend(&out, "; set: ", absl::StrJoin(settings_, " "));
    out += "):";
    absl::StatusOr<std::unique_ptr<sql::Db>> db = OpenDb();
    for (const char* setting : {"server_version", "fsync", "synchronous_commit", "full_page_writes",
                                "wal_sync_method", "shared_buffers"}) {
      absl::StrAppend(&out, " ", setting, "=", db.ok() ? Show(**db, setting) : "?");
    }
    return out;
  }

 private:
  // A server setting as SHOW gives it; "?" when it cannot be read.
  static std::string Show(sql::Db& db, const char* setting) {
    absl::StatusOr<std::vector<sql::Row>> rows = db.Query(absl::StrCat("SHOW ", setting));
    return rows.ok() && !rows->empty() ? rows->front().Str(0) : "?";
  }

  static constexpr char kDatabase[] = "audit_scale";
  PostgresBackend(std::shared_ptr<kinex::testing::PostgresServer> server,
                  std::vector<std::string> settings, std::string database, std::string conninfo)
      : server_(std::move(server)),
        settings_(std::move(settings)),
        database_(std::move(database)),
        conninfo_(std::move(conninfo)) {}
  const std::shared_ptr<kinex::testing::PostgresServer> server_;
  // The server's settings beyond the durable defaults (--postgres_settings).
  const std::vector<std::string> settings_;
  const std::string database_;
  const std::string conninfo_;
};

// One round of appends: 1,000 unmeasured, then `appends` measured.
struct AppendFigures {
  double rate = 0, p50_ms = 0, p99_ms = 0;
  // Bytes this process passed to write(2) per append, its read(2)/pread(2)
  // calls per append (SQLite: pages the connections' own caches missed) and
  // the KiB the kernel read from the disk for them per append (none for a
  // store that is another process's: PostgreSQL).
  std::optional<double> written_per_append;
  std::optional<double> reads_per_append, disk_kib_per_append;
};

std::string WrittenText(const AppendFigures& f) {
  return f.written_per_append.has_value() ? absl::StrFormat("%.0f B", *f.written_per_append)
                                          : "- (the server's)";
}

std::string ReadText(const AppendFigures& f) {
  return f.reads_per_append.has_value() ? absl::StrFormat("%.2f / %.2f", *f.reads_per_append,
                                                          f.disk_kib_per_append.value_or(0))
                                        : std::string("- (the server's)");
}

// Inclusion proofs of random leaves of the older half of a log, with what
// each cost beyond its wall time: this thread's CPU (SQLite runs in the
// calling thread) and its reads (ReadCounters).
struct ProofFigures {
  double mean_us = 0, p50_us = 0, p99_us = 0, max_us = 0;
  double cpu_us = 0;    // mean per proof
  double reads = 0;     // read calls per proof
  double disk_kib = 0;  // KiB read from the disk per proof
};

double ThreadCpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

ProofFigures MeasureProofs(const AuditLog& log, uint64_t size, int proofs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> us;
  us.reserve(proofs);
  const uint64_t old = std::max<uint64_t>(1, size / 2);
  const ReadCounters reads = ReadCounters::Now();
  const double cpu0 = ThreadCpuUs();
  for (int i = 0; i < proofs; ++i) {
    v1::GetInclusionProofRequest req;
    req.set_leaf_index(rng() % old);
    const absl::Time p0 = absl::Now();
    absl::StatusOr<v1::GetInclusionProofResponse> proof = log.GetInclusionProof(req);
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - p0));
    if (!proof.ok()) Die("GetInclusionProof", proof.status());
  }
  ProofFigures f{.mean_us = Mean(us),
                 .p50_us = Percentile(us, 0.50),
                 .p99_us = Percentile(us, 0.99),
                 .max_us = Percentile(us, 1.0),
                 .cpu_us = (ThreadCpuUs() - cpu0) / proofs};
  std::tie(f.reads, f.disk_kib) = ReadCounters::Now().PerOp(reads, proofs);
  return f;
}

std::string ProofText(const ProofFigures& f) {
  return absl::StrFormat("%.0f / %.0f / %.0f / %.0f", f.mean_us, f.p50_us, f.p99_us, f.max_us);
}

std::string ProofCostText(const ProofFigures& f) {
  return absl::StrFormat("%.0f / %.1f / %.1f", f.cpu_us, f.reads, f.disk_kib);
}

// Empties the machine's page cache (after writing back what is dirty), so
// the next reads come from the disk. Needs root.
void DropPageCache() {
  ::sync();
  std::ofstream drop("/proc/sys/vm/drop_caches");
  drop << "1\n";
  drop.close();
  if (!drop) {
    Die("dropping the page cache",
        absl::PermissionDeniedError("cannot write /proc/sys/vm/drop_caches (--cold_proofs and "
                                    "--leaf_hash_index_experiment need root)"));
  }
}

// The figures at one size.
struct Measurement {
  uint64_t size = 0;  // entries when measured (before the measured appends)
  double bulk_seconds = 0;
  uint64_t bulk_entries = 0;
  double storage_open_s = 0;
  double create_s = 0;
  double first_open_s = 0;
  uint64_t first_open_rehashed = 0;
  double rss_before_mb = 0, rss_startup_mb = 0, rss_appends_mb = 0;
  AppendFigures appends;
  ProofFigures proofs;
  std::optional<ProofFigures> cold_proofs;  // --cold_proofs
  uint64_t query_events = 0;
  int query_pages = 0;
  double query_ms = 0, first_page_ms = 0, audited_query_ms = 0;
  double heavy_first_page_ms = 0;
  uint64_t heavy_first_page_events = 0;
  uint64_t store_bytes = 0;
  uint64_t store_entries = 0;
  std::vector<std::pair<std::string, uint64_t>> tables;
};

AuditLog::Options LogOptions(LogStorage* storage, std::shared_ptr<const TreeHeadSigner> signer,
                             std::shared_ptr<const ChildPseudonymizer> pseudonymizer,
                             const kinex::Clock* clock) {
  AuditLog::Options options;
  options.storage = storage;
  options.signer = std::move(signer);
  options.pseudonymizer = std::move(pseudonymizer);
  options.clock = clock;
  options.start_signer_thread = false;
  return options;
}

// `appends` appends from `threads` threads, each taking the next event of
// the mix; returns the per-append latencies (ms) and the wall time.
std::pair<std::vector<double>, double> RunAppends(AuditLog& log, const EventMix& mix,
                                                  uint64_t first_event, int appends, int threads) {
  std::atomic<int> next{0};
  std::vector<std::vector<double>> latencies(threads);
  const absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (true) {
        const int k = next.fetch_add(1);
        if (k >= appends) return;
        const v1::AuditEvent e = mix.Event(first_event + k);
        const absl::Time t0 = absl::Now();
        absl::StatusOr<AppendResult> r = log.Append(e);
        if (!r.ok()) Die("AuditLog::Append", r.status());
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      }
    });
  }
  for (auto& th : pool) th.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  return {std::move(all), seconds};
}

AppendFigures MeasureAppends(AuditLog& log, const Backend& backend, const EventMix& mix,
                             uint64_t& event_counter, int appends, int threads) {
  RunAppends(log, mix, event_counter, 1000, threads);
  event_counter += 1000;
  const uint64_t written = WrittenBytes();
  const ReadCounters reads = ReadCounters::Now();
  auto [latencies, seconds] = RunAppends(log, mix, event_counter, appends, threads);
  event_counter += appends;
  AppendFigures out{.rate = appends / seconds,
                    .p50_ms = Percentile(latencies, 0.50),
                    .p99_ms = Percentile(latencies, 0.99)};
  if (backend.WritesInProcess()) {
    out.written_per_append = 1.0 * (WrittenBytes() - written) / appends;
    std::tie(out.reads_per_append, out.disk_kib_per_append) =
        ReadCounters::Now().PerOp(reads, appends);
  }
  return out;
}

// Every page of a per-child query; returns (events, pages, total ms,
// first page ms).
struct QueryResult {
  uint64_t events = 0;
  int pages = 0;
  double ms = 0;
  double first_page_ms = 0;
};

QueryResult QueryChild(AuditLog& log, const kinex::common::v1::ChildRef& child, bool audited,
                       int max_pages) {
  QueryResult out;
  v1::QueryEventsRequest request;
  *request.mutable_child() = child;
  request.set_page_size(1000);
  AuditLog::QueryCaller caller{.principal = "spiffe://kinex.dev/auditor/kinex-dpo/auditor",
                               .agency_kind = kinex::common::v1::AUDITOR,
                               .agency_code = "kinex-dpo",
                               .actor = "DPO"};
  const absl::Time start = absl::Now();
  while (out.pages < max_pages) {
    const absl::Time t0 = absl::Now();
    absl::StatusOr<v1::QueryEventsResponse> page =
        audited ? log.AuditedQueryEvents(caller, request) : log.QueryEvents(request);
    if (!page.ok()) Die("QueryEvents", page.status());
    if (out.pages == 0) out.first_page_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
    ++out.pages;
    out.events += page->entries_size();
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  out.ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  return out;
}

std::string Mb(double bytes) { return absl::StrFormat("%.1f MB", bytes / 1e6); }

void PrintTable(const std::vector<Measurement>& ms, absl::string_view backend) {
  std::printf("\n== audit_scale_bench results (%s) ==\n", std::string(backend).c_str());
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  auto row = [&](std::string name, auto fn) {
    std::vector<std::string> cells;
    for (const Measurement& m : ms) cells.push_back(fn(m));
    rows.emplace_back(std::move(name), std::move(cells));
  };
  const double base_rate = ms.empty() ? 0 : ms.front().appends.rate;
  row("log size (entries)", [](const Measurement& m) { return Thousands(m.size); });
  row("bulk growth to here (s)", [](const Measurement& m) {
    return absl::StrFormat("%.1f (%s)", m.bulk_seconds, Thousands(m.bulk_entries));
  });
  row("bulk rate (entries/s)", [](const Measurement& m) {
    return absl::StrFormat("%.0f", m.bulk_seconds > 0 ? m.bulk_entries / m.bulk_seconds : 0);
  });
  row("first open after growth (s)",
      [](const Measurement& m) { return absl::StrFormat("%.2f", m.first_open_s); });
  row("  leaves it re-hashed",
      [](const Measurement& m) { return Thousands(m.first_open_rehashed); });
  row("start-up: storage open (s)",
      [](const Measurement& m) { return absl::StrFormat("%.2f", m.storage_open_s); });
  row("start-up: AuditLog::Create (s)",
      [](const Measurement& m) { return absl::StrFormat("%.2f", m.create_s); });
  row("appends/s (64 threads, durable)",
      [](const Measurement& m) { return absl::StrFormat("%.0f", m.appends.rate); });
  row("  ratio to first size (>= 0.9)", [&](const Measurement& m) {
    return base_rate > 0 ? absl::StrFormat("%.2f", m.appends.rate / base_rate) : "-";
  });
  row("  append latency p50 / p99 (ms)", [](const Measurement& m) {
    return absl::StrFormat("%.1f / %.1f", m.appends.p50_ms, m.appends.p99_ms);
  });
  row("  bytes written per append", [](const Measurement& m) { return WrittenText(m.appends); });
  row("  reads / disk KiB per append", [](const Measurement& m) { return ReadText(m.appends); });
  row("inclusion proof mean (us)",
      [](const Measurement& m) { return absl::StrFormat("%.0f", m.proofs.mean_us); });
  row("  p50 / p99 / max (us) (<= 1000)", [](const Measurement& m) {
    return absl::StrFormat("%.0f / %.0f / %.0f", m.proofs.p50_us, m.proofs.p99_us, m.proofs.max_us);
  });
  row("  CPU us / reads / disk KiB per proof",
      [](const Measurement& m) { return ProofCostText(m.proofs); });
  if (std::any_of(ms.begin(), ms.end(),
                  [](const Measurement& m) { return m.cold_proofs.has_value(); })) {
    row("proof, page cache dropped: mean / p50 / p99 / max (us)", [](const Measurement& m) {
      return m.cold_proofs.has_value() ? ProofText(*m.cold_proofs) : std::string("-");
    });
    row("  CPU us / reads / disk KiB per proof", [](const Measurement& m) {
      return m.cold_proofs.has_value() ? ProofCostText(*m.cold_proofs) : std::string("-");
    });
  }
  row("child query: events (median child)",
      [](const Measurement& m) { return Thousands(m.query_events); });
  row("  QueryEvents, all pages (ms)", [](const Measurement& m) {
    return absl::StrFormat("%.1f (%d pg)", m.query_ms, m.query_pages);
  });
  row("  first page (ms)",
      [](const Measurement& m) { return absl::StrFormat("%.1f", m.first_page_ms); });
  row("  AuditedQueryEvents, all (ms)",
      [](const Measurement& m) { return absl::StrFormat("%.1f", m.audited_query_ms); });
  row("top child: first page (ms)", [](const Measurement& m) {
    return absl::StrFormat("%.1f (%s ev)", m.heavy_first_page_ms,
                           Thousands(m.heavy_first_page_events));
  });
  row("store size", [](const Measurement& m) { return Mb(static_cast<double>(m.store_bytes)); });
  row("store bytes per entry", [](const Measurement& m) {
    return absl::StrFormat("%.0f B", m.store_entries ? 1.0 * m.store_bytes / m.store_entries : 0);
  });
  row("RSS before start-up (MB)",
      [](const Measurement& m) { return absl::StrFormat("%.0f", m.rss_before_mb); });
  row("RSS after start-up (MB)",
      [](const Measurement& m) { return absl::StrFormat("%.0f", m.rss_startup_mb); });
  row("RSS after appends (MB)",
      [](const Measurement& m) { return absl::StrFormat("%.0f", m.rss_appends_mb); });
  size_t name_width = 0;
  for (const auto& [name, cells] : rows) name_width = std::max(name_width, name.size());
  std::vector<size_t> widths(ms.size(), 0);
  for (const auto& [name, cells] : rows) {
    for (size_t i = 0; i < cells.size(); ++i) widths[i] = std::max(widths[i], cells[i].size());
  }
  for (const auto& [name, cells] : rows) {
    std::printf("%-*s", static_cast<int>(name_width), name.c_str());
    for (size_t i = 0; i < cells.size(); ++i) {
      std::printf("  %*s", static_cast<int>(widths[i]), cells[i].c_str());
    }
    std::printf("\n");
  }
  for (const Measurement& m : ms) {
    if (m.tables.empty()) continue;
    std::printf("store by table at %s entries:", Thousands(m.size).c_str());
    for (const auto& [name, bytes] : m.tables) {
      if (m.store_entries == 0 || 2 * bytes < m.store_entries) continue;  // under 0.5 B
      std::printf(" %s %.0f B/entry;", name.c_str(),
                  m.store_entries ? 1.0 * bytes / m.store_entries : 0.0);
    }
    std::printf("\n");
  }
}

// The interleaved rounds: appends/s at each size per round, with the ratio
// to the first size in the same round, and the range of those ratios.
void PrintRounds(const std::vector<std::pair<uint64_t, Backend*>>& stores,
                 const std::vector<std::vector<AppendFigures>>& rounds, const std::string& what) {
  if (rounds.empty()) return;
  std::printf("\n== interleaved appends%s (%zu rounds; each size in turn, from a restart) ==\n",
              what.c_str(), rounds.size());
  std::printf("%-12s", "entries");
  for (size_t r = 0; r < rounds.size(); ++r)
    std::printf("  %18s", absl::StrCat("round ", r + 1).c_str());
  std::printf("  %s\n", "ratio to first size");
  for (size_t i = 0; i < stores.size(); ++i) {
    std::printf("%-12s", Thousands(stores[i].first).c_str());
    double lo = 1e9, hi = 0;
    for (const std::vector<AppendFigures>& round : rounds) {
      const double ratio = round[0].rate > 0 ? round[i].rate / round[0].rate : 0;
      lo = std::min(lo, ratio);
      hi = std::max(hi, ratio);
      std::printf("  %18s", absl::StrFormat("%.0f/s (%.2f)", round[i].rate, ratio).c_str());
    }
    std::printf("  %.2f-%.2f%s\n", lo, hi, i == 0 ? "" : " (>= 0.9)");
  }
  std::printf("bytes written per append, round 1:");
  for (size_t i = 0; i < stores.size(); ++i) {
    std::printf(" %s at %s;", WrittenText(rounds[0][i]).c_str(),
                Thousands(stores[i].first).c_str());
  }
  std::printf("\n");
}

// Prints the encoded leaf of the first event of each kind the mix makes, as
// the log would encode it (pseudonymised, timed, first of its chains); for a
// whole-record disclosure also what its disclosed paths and lawful bases
// take; then the mean stored leaf (CompressLeaf, with the event's
// pseudonyms) of each kind. Returns the
// average encoded leaf over the mix's first 2,000 events.
double PrintLeafSizes(const EventMix& mix, const ChildPseudonymizer& pseudonymizer) {
  auto encoded = [&](v1::AuditEvent e) -> std::string {
    if (!PseudonymizeChildren(pseudonymizer, e).ok()) return std::string();
    e.mutable_time()->set_seconds(1788220800);
    ChainTracker().Link(e);
    absl::StatusOr<std::string> leaf = EncodeEvent(1000000, e);
    return leaf.ok() ? *leaf : std::string();
  };
  std::map<std::string, std::string> sizes;
  std::map<std::string, std::pair<double, int>> stored;  // bytes, leaves
  constexpr int kSample = 2000;
  double total_bytes = 0;
  for (uint64_t i = 0; i < kSample; ++i) {
    const v1::AuditEvent e = mix.Event(i);
    const std::string leaf = encoded(e);
    const size_t total = leaf.size();
    total_bytes += total;
    std::string name = v1::EventKind_Name(e.kind());
    if (e.kind() == v1::DISCLOSURE) name = e.decision() == v1::DENY ? "DENIED" : "whole-record";
    // Stored with its sorted pseudonyms, as SqlLogStorage stores it.
    v1::AuditEvent named = e;
    if (!PseudonymizeChildren(pseudonymizer, named).ok()) return 0;
    stored[name].first +=
        CompressLeaf(leaf, std::vector<std::string>(named.child_pseudonyms().begin(),
                                                    named.child_pseudonyms().end()))
            .size();
    ++stored[name].second;
    if (sizes.contains(name)) continue;
    std::string text = absl::StrCat(total, " B");
    if (name == "whole-record") {
      v1::AuditEvent no_paths = e;
      no_paths.clear_disclosed_paths();
      v1::AuditEvent no_bases = e;
      no_bases.clear_lawful_bases();
      absl::StrAppend(&text, " (disclosed_paths ", total - encoded(no_paths).size(),
                      " B, lawful_bases ", total - encoded(no_bases).size(), " B)");
    }
    sizes[name] = std::move(text);
  }
  std::printf("encoded leaf by kind:");
  for (const auto& [name, text] : sizes) std::printf(" %s %s;", name.c_str(), text.c_str());
  std::printf(" average of the mix %.0f B\n", total_bytes / kSample);
  std::printf("stored leaf by kind (mean):");
  for (const auto& [name, sum] : stored) {
    std::printf(" %s %.0f B;", name.c_str(), sum.first / sum.second);
  }
  std::printf("\n");
  return total_bytes / kSample;
}

int Run() {
  const absl::Time run_start = absl::Now();
  const uint64_t entries = absl::GetFlag(FLAGS_entries);
  const std::string backend_name = absl::GetFlag(FLAGS_backend);
  if (backend_name != "sqlite" && backend_name != "postgres") {
    std::fprintf(stderr, "--backend: must be sqlite or postgres (got \"%s\")\n",
                 backend_name.c_str());
    return 2;
  }
  if (backend_name != "postgres" && !absl::GetFlag(FLAGS_postgres_settings).empty()) {
    std::fprintf(stderr, "--postgres_settings: only with --backend=postgres\n");
    return 2;
  }
  std::vector<uint64_t> sizes;
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_report_at), ',', absl::SkipWhitespace())) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n == 0) {
      std::fprintf(stderr, "--report_at: not a positive size: \"%s\"\n", std::string(s).c_str());
      return 2;
    }
    if (n < entries) sizes.push_back(n);
  }
  sizes.push_back(entries);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  const int appenders = std::max(1, absl::GetFlag(FLAGS_appenders));
  const int appends = std::max(1, absl::GetFlag(FLAGS_appends));
  const int proofs = std::max(1, absl::GetFlag(FLAGS_proofs));
  int interleave_rounds = std::max(0, absl::GetFlag(FLAGS_interleave_rounds));

  // The directory.
  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool made_dir = dir.empty();
  if (made_dir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/kinex-audit-scale-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "cannot create a directory from %s\n", tmpl.c_str());
      return 1;
    }
    dir = tmpl;
  } else {
    std::filesystem::create_directories(dir);
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const std::string sqlite_path = dir + "/audit.db";

  std::unique_ptr<Backend> backend;
  // Copies of the store at the earlier sizes, for the interleaved rounds.
  std::vector<std::pair<uint64_t, std::unique_ptr<Backend>>> copies;
  // Stops the server, then removes the run's files (keeps the SQLite
  // database with --keep).
  std::function<void()> cleanup = [&] {
    for (auto& [size, copy] : copies) {
      if (!absl::GetFlag(FLAGS_keep)) copy->RemoveFiles();
    }
    copies.clear();
    backend.reset();
    if (absl::GetFlag(FLAGS_keep) && backend_name == "sqlite") {
      std::printf("kept %s\n", dir.c_str());
    } else if (made_dir) {
      std::filesystem::remove_all(dir);
    } else {
      // A directory the caller named: remove only what this run made.
      for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(sqlite_path + suffix);
      }
    }
  };
  g_cleanup = &cleanup;
  if (backend_name == "sqlite") {
    backend = std::make_unique<SqliteBackend>(sqlite_path);
  } else {
    // The server's data directory under `dir` (PostgresServer makes it
    // under the temp directory); as root it runs as `nobody`, which must be
    // able to reach it.
    ::chmod(dir.c_str(), 0711);
    ::setenv("TMPDIR", dir.c_str(), 1);
    auto pg = PostgresBackend::Start(absl::GetFlag(FLAGS_postgres_settings));
    if (!pg.ok()) Die("starting PostgreSQL", pg.status());
    backend = *std::move(pg);
  }

  auto signer_or = TreeHeadSigner::Generate();
  if (!signer_or.ok()) Die("TreeHeadSigner::Generate", signer_or.status());
  std::shared_ptr<const TreeHeadSigner> signer = *std::move(signer_or);
  auto pseudonymizer_or = ChildPseudonymizer::Create(std::string(32, 'k'));
  if (!pseudonymizer_or.ok()) Die("ChildPseudonymizer::Create", pseudonymizer_or.status());
  std::shared_ptr<const ChildPseudonymizer> pseudonymizer = *std::move(pseudonymizer_or);
  const EventMix mix({.children = absl::GetFlag(FLAGS_children),
                      .zipf_s = absl::GetFlag(FLAGS_zipf_s),
                      .seed = absl::GetFlag(FLAGS_seed),
                      .whole_record_share = absl::GetFlag(FLAGS_whole_record_share)});
  const absl::Duration spacing =
      absl::Microseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_spacing_ms) * 1000));
  auto builder_or = BulkLogBuilder::Create(
      {.signer = signer,
       .pseudonymizer = pseudonymizer,
       .batch_size = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_batch))),
       .first_time = absl::FromUnixSeconds(1788220800),  // 2026-09-01T00:00:00Z
       .spacing = spacing});
  if (!builder_or.ok()) Die("BulkLogBuilder::Create", builder_or.status());
  BulkLogBuilder& builder = **builder_or;
  ShiftedClock clock;

  std::printf("audit_scale_bench: grow to %s entries, measure at", Thousands(entries).c_str());
  for (uint64_t s : sizes) std::printf(" %s", Thousands(s).c_str());
  std::printf("\nbackend: %s; directory %s\n", backend_name.c_str(), dir.c_str());
  std::printf("%s", mix.Describe().c_str());
  // Before anything is measured, the store's bytes per entry are guessed
  // from the leaves (plus the query index) for the disk-space check.
  const double average_leaf = PrintLeafSizes(mix, *pseudonymizer);
  std::printf(
      "bulk growth: batches of %d entries, one signed head each; event times %.0f ms "
      "apart from 2026-09-01\n",
      absl::GetFlag(FLAGS_batch), absl::GetFlag(FLAGS_spacing_ms));
  std::printf(
      "measured: %d appends from %d threads through AuditLog::Append (after 1,000 "
      "unmeasured), %d inclusion proofs of random leaves of the older half, the "
      "auditor's query for the median child (rank %d) and the top child\n",
      appends, appenders, proofs, absl::GetFlag(FLAGS_children) / 2);
  std::fflush(stdout);

  std::vector<Measurement> results;
  std::optional<double> bytes_per_entry;
  uint64_t event_counter = 0;  // events drawn from the mix so far
  bool durability_printed = false;
  std::string stop_reason;
  for (uint64_t target : sizes) {
    if (g_stop.load()) break;
    Measurement m;
    // Growth, with the log closed.
    {
      auto storage = backend->Open();
      if (!storage.ok()) Die("opening the store", storage.status());
      if (!durability_printed) {
        std::printf("durability: %s\n", backend->Durability().c_str());
        durability_printed = true;
      }
      if (absl::Status s = builder.CatchUp(**storage); !s.ok()) Die("catching up", s);
      const uint64_t from = builder.size();
      // Refuse to fill the disk: the growth at the bytes per entry measured
      // so far (before the first measurement, a guess from the leaves).
      const std::filesystem::space_info space = std::filesystem::space(dir);
      const double per_entry = bytes_per_entry.value_or(1.1 * average_leaf + 500);
      const double needed = per_entry * static_cast<double>(target - std::min(target, from));
      if (needed > static_cast<double>(space.available) - 2e9) {
        stop_reason = absl::StrFormat(
            "STOP: growing to %s entries needs about %.1f GB more at %.0f B/entry; %.1f GB free "
            "under %s (2 GB kept free)",
            Thousands(target), needed / 1e9, per_entry, space.available / 1e9, dir);
        std::printf("%s\n", stop_reason.c_str());
        break;
      }
      const absl::Time t0 = absl::Now();
      uint64_t next_report = from;
      while (builder.size() < target && !g_stop.load()) {
        // Steps of 1M, so a signal stops the run between them.
        const uint64_t step_to = std::min(target, builder.size() + 1000000);
        absl::Status s = builder.GrowTo(**storage, step_to,
                                        [&](uint64_t) { return mix.Event(event_counter++); });
        if (!s.ok()) Die("bulk growth", s);
        if (builder.size() >= next_report) {
          const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
          std::printf("  grown to %s entries (%.0f s, %.0f entries/s)\n",
                      Thousands(builder.size()).c_str(), secs,
                      secs > 0 ? (builder.size() - from) / secs : 0.0);
          std::fflush(stdout);
          next_report = builder.size() + 1000000;
        }
      }
      m.bulk_seconds = absl::ToDoubleSeconds(absl::Now() - t0);
      m.bulk_entries = builder.size() - from;
      backend->AfterGrowth();
    }
    if (g_stop.load()) break;
    m.size = builder.size();
    std::printf(
        "at %s entries: average encoded leaf %.0f B (bulk-built leaves so far)\n",
        Thousands(m.size).c_str(),
        builder.encoded_leaves() ? 1.0 * builder.encoded_bytes() / builder.encoded_leaves() : 0.0);

    // The first open after growth starts from the builder's checkpoint
    // (bulk_log.h), as the log would from its own, so it re-hashes no
    // bulk-built leaf; it is reported apart, with what it re-hashed (the
    // leaves after the checkpoint's last full block) and, should the
    // checkpoint not be used, why.
    clock.StartAt(builder.last_time());
    {
      auto storage = backend->Open();
      if (!storage.ok()) Die("opening the store", storage.status());
      const absl::Time t0 = absl::Now();
      auto log = AuditLog::Create(LogOptions(storage->get(), signer, pseudonymizer, &clock));
      if (!log.ok()) Die("AuditLog::Create (first open after growth)", log.status());
      m.first_open_s = absl::ToDoubleSeconds(absl::Now() - t0);
      const AuditLog::StartInfo info = (*log)->start_info();
      m.first_open_rehashed = info.rehashed;
      if (info.checkpoint_size == 0) {
        std::printf("  first open after growth: no checkpoint used (%s)\n", info.fallback.c_str());
      }
      clock.StartAt(clock.Now());
    }
    // Start-up, as a restart: the second open.
    ReleaseFreeMemory();
    m.rss_before_mb = RssMb();
    absl::Time t0 = absl::Now();
    auto storage = backend->Open();
    if (!storage.ok()) Die("opening the store", storage.status());
    m.storage_open_s = absl::ToDoubleSeconds(absl::Now() - t0);
    t0 = absl::Now();
    auto log_or = AuditLog::Create(LogOptions(storage->get(), signer, pseudonymizer, &clock));
    if (!log_or.ok()) Die("AuditLog::Create", log_or.status());
    m.create_s = absl::ToDoubleSeconds(absl::Now() - t0);
    std::unique_ptr<AuditLog> log = *std::move(log_or);
    m.rss_startup_mb = RssMb();
    std::printf(
        "  first open after growth: AuditLog::Create %.2f s (%s leaves re-hashed); restart: "
        "storage open %.2f s, AuditLog::Create %.2f s, RSS %.0f -> %.0f MB\n",
        m.first_open_s, Thousands(m.first_open_rehashed).c_str(), m.storage_open_s, m.create_s,
        m.rss_before_mb, m.rss_startup_mb);
    std::fflush(stdout);

    // Appends.
    m.appends = MeasureAppends(*log, *backend, mix, event_counter, appends, appenders);
    m.rss_appends_mb = RssMb();
    std::printf("  appends: %.0f/s (p50 %.1f ms, p99 %.1f ms, written %s each), RSS %.0f MB\n",
                m.appends.rate, m.appends.p50_ms, m.appends.p99_ms, WrittenText(m.appends).c_str(),
                m.rss_appends_mb);
    std::fflush(stdout);

    // Inclusion proofs of old leaves.
    m.proofs = MeasureProofs(*log, m.size, proofs, m.size);

    // The auditor's per-child query.
    {
      const auto median = mix.ChildOfRank(absl::GetFlag(FLAGS_children) / 2);
      QueryResult q = QueryChild(*log, median, /*audited=*/false, 1 << 30);
      m.query_events = q.events;
      m.query_pages = q.pages;
      m.query_ms = q.ms;
      m.first_page_ms = q.first_page_ms;
      m.audited_query_ms = QueryChild(*log, median, /*audited=*/true, 1 << 30).ms;
      QueryResult top = QueryChild(*log, mix.ChildOfRank(0), /*audited=*/false, 1);
      m.heavy_first_page_ms = top.first_page_ms;
      m.heavy_first_page_events = top.events;
    }
    std::printf("  proofs: mean %.0f us, p99 %.0f us; median child: %s events in %.1f ms\n",
                m.proofs.mean_us, m.proofs.p99_us, Thousands(m.query_events).c_str(), m.query_ms);
    // The same proofs from the disk, after the query (which is measured as
    // it always was: on whatever the page cache holds).
    if (absl::GetFlag(FLAGS_cold_proofs)) {
      DropPageCache();
      m.cold_proofs = MeasureProofs(*log, m.size, proofs, m.size + 1);
      std::printf(
          "  proofs, page cache dropped: mean %.0f us, p99 %.0f us (%s CPU us / reads / "
          "disk KiB each)\n",
          m.cold_proofs->mean_us, m.cold_proofs->p99_us, ProofCostText(*m.cold_proofs).c_str());
    }
    std::fflush(stdout);

    // Store size.
    m.store_entries = log->Size();
    log.reset();
    storage->reset();
    absl::StatusOr<uint64_t> bytes = backend->StoreBytes();
    if (bytes.ok()) m.store_bytes = *bytes;
    if (m.store_entries > 0) bytes_per_entry = 1.0 * m.store_bytes / m.store_entries;
    if (absl::GetFlag(FLAGS_table_sizes)) m.tables = backend->TableBytes();

    std::printf("  store: %.1f MB, %.0f B/entry\n", m.store_bytes / 1e6,
                bytes_per_entry.value_or(0));
    std::fflush(stdout);
    results.push_back(std::move(m));
    if (interleave_rounds > 0 && target != sizes.back()) {
      const std::filesystem::space_info space = std::filesystem::space(dir);
      const uint64_t copy_bytes = results.back().store_bytes;
      if (static_cast<double>(copy_bytes) > static_cast<double>(space.available) - 2e9) {
        std::printf("  no copy for the interleaved rounds: %.1f GB free under %s\n",
                    space.available / 1e9, dir.c_str());
        interleave_rounds = 0;
      } else {
        absl::StatusOr<std::unique_ptr<Backend>> copy =
            backend->Copy(absl::StrCat("audit_at_", results.back().size));
        if (!copy.ok()) Die("copying the store", copy.status());
        copies.emplace_back(results.back().size, *std::move(copy));
      }
    }
    if (bytes_per_entry.has_value() && target == sizes.front() && entries > target) {
      std::printf("  projected store at %s entries: %.1f GB\n", Thousands(entries).c_str(),
                  *bytes_per_entry * entries / 1e9);
    }
  }

  // The interleaved rounds: every size in turn (smallest first in odd
  // rounds, largest first in even ones), each from a restart.
  std::vector<std::pair<uint64_t, Backend*>> stores;
  if (interleave_rounds > 0 && !copies.empty() && !results.empty()) {
    for (auto& [size, copy] : copies) stores.emplace_back(size, copy.get());
    stores.emplace_back(results.back().size, backend.get());
  }
  // With --compare_writer_cache_mib, every size is measured with both
  // writer caches in each round, production's first in odd rounds.
  const int compare_cache_kib =
      backend_name == "sqlite" ? 1024 * std::max(0, absl::GetFlag(FLAGS_compare_writer_cache_mib))
                               : 0;
  std::vector<int> caches_kib = {SqliteLogStorage::kCacheKib};
  if (compare_cache_kib > 0) caches_kib.push_back(compare_cache_kib);
  // What names cache `c` in the output: nothing unless two are compared.
  auto cache_label = [&](size_t c) {
    return compare_cache_kib > 0 ? absl::StrFormat(", writer cache %d MiB", caches_kib[c] / 1024)
                                 : std::string();
  };
  // [cache][round][store]
  std::vector<std::vector<std::vector<AppendFigures>>> rounds(caches_kib.size());
  for (int r = 0; r < interleave_rounds && !stores.empty() && !g_stop.load(); ++r) {
    std::vector<std::vector<AppendFigures>> round(caches_kib.size(),
                                                  std::vector<AppendFigures>(stores.size()));
    for (size_t k = 0; k < stores.size(); ++k) {
      const size_t i = r % 2 == 0 ? k : stores.size() - 1 - k;
      for (size_t ck = 0; ck < caches_kib.size(); ++ck) {
        const size_t c = r % 2 == 0 ? ck : caches_kib.size() - 1 - ck;
        stores[i].second->SetWriterCacheKib(caches_kib[c]);
        auto storage = stores[i].second->Open();
        if (!storage.ok()) Die("opening the store (interleaved round)", storage.status());
        auto log = AuditLog::Create(LogOptions(storage->get(), signer, pseudonymizer, &clock));
        if (!log.ok()) Die("AuditLog::Create (interleaved round)", log.status());
        round[c][i] =
            MeasureAppends(**log, *stores[i].second, mix, event_counter, appends, appenders);
        std::printf(
            "  interleaved round %d at %s entries%s: %.0f appends/s (written %s, reads / disk "
            "KiB %s each)\n",
            r + 1, Thousands(stores[i].first).c_str(), cache_label(c).c_str(), round[c][i].rate,
            WrittenText(round[c][i]).c_str(), ReadText(round[c][i]).c_str());
        std::fflush(stdout);
      }
      stores[i].second->SetWriterCacheKib(SqliteLogStorage::kCacheKib);
    }
    for (size_t c = 0; c < caches_kib.size(); ++c) rounds[c].push_back(std::move(round[c]));
  }

  PrintTable(results, backend_name);
  for (size_t c = 0; c < caches_kib.size(); ++c) PrintRounds(stores, rounds[c], cache_label(c));

  // --leaf_hash_index_experiment: the proofs of the largest log, the page
  // cache dropped and again warm, the same leaves each time, each from a
  // fresh open, in the product's layout (the blocks' eighths stored), with
  // the eighths set aside (as before them: a proof reads its whole block)
  // and, on SQLite, that with a covering index of the leaves' hashes.
  if (absl::GetFlag(FLAGS_leaf_hash_index_experiment) && !results.empty() && !g_stop.load()) {
    const bool sqlite = backend_name == "sqlite";
    constexpr char kIndex[] = "audit_leaf_hashes_experiment";
    constexpr char kEighths[] = "audit_tree_block_eighths";
    constexpr char kAside[] = "audit_tree_block_eighths_aside";
    uint64_t log_size = 0;
    auto measure = [&](const char* label) {
      auto storage = backend->Open();
      if (!storage.ok()) Die("opening the store (layout experiment)", storage.status());
      auto log = AuditLog::Create(LogOptions(storage->get(), signer, pseudonymizer, &clock));
      if (!log.ok()) Die("AuditLog::Create (layout experiment)", log.status());
      log_size = (*log)->Size();
      DropPageCache();
      const ProofFigures cold = MeasureProofs(**log, log_size, proofs, log_size + 2);
      const ProofFigures warm = MeasureProofs(**log, log_size, proofs, log_size + 2);
      for (const auto& [what, f] : {std::pair{"dropped", cold}, std::pair{"warm", warm}}) {
        std::printf("  %-30s %-7s %-32s %s\n", label, what, ProofText(f).c_str(),
                    ProofCostText(f).c_str());
      }
      std::fflush(stdout);
    };
    auto open_db = [&] {
      absl::StatusOr<std::unique_ptr<sql::Db>> db = backend->OpenDb();
      if (!db.ok()) Die("opening the store (layout experiment)", db.status());
      return *std::move(db);
    };
    auto exec = [](sql::Db& db, const std::string& statement) {
      absl::StatusOr<int64_t> done = db.Exec(statement);
      if (!done.ok()) Die(statement, done.status());
    };
    auto bytes_of = [&](sql::Db& db, const char* name) {
      absl::StatusOr<std::vector<sql::Row>> bytes =
          db.Query(sqlite ? absl::StrCat("SELECT SUM(pgsize) FROM dbstat WHERE name = '", name, "'")
                          : absl::StrCat("SELECT pg_total_relation_size('", name, "')"));
      return bytes.ok() && !bytes->empty() ? static_cast<double>(bytes->front().Int(0)) : 0.0;
    };
    std::printf(
        "\n== inclusion proofs by the layout of the leaf hashes (%s; %d proofs, the same leaves "
        "each time; \"dropped\": the machine's page cache dropped first%s) ==\n"
        "  %-30s %-7s %-32s %s\n",
        backend_name.c_str(), proofs, sqlite ? "" : ", not the server's shared_buffers", "",
        "cache", "mean / p50 / p99 / max (us)", "CPU us / reads / disk KiB per proof");
    measure("eighths stored (product)");
    std::unique_ptr<sql::Db> db = open_db();
    const double eighths_bytes = bytes_of(*db, kEighths);
    std::printf("  the eighths: %s, %.1f B/entry over %s entries\n", Mb(eighths_bytes).c_str(),
                eighths_bytes / std::max<uint64_t>(1, log_size), Thousands(log_size).c_str());
    exec(*db, absl::StrCat("CREATE TABLE ", kAside, " AS SELECT * FROM ", kEighths));
    exec(*db, absl::StrCat("DELETE FROM ", kEighths));
    db.reset();
    measure("eighths set aside");
    if (sqlite) {
      db = open_db();
      const absl::Time t0 = absl::Now();
      exec(*db, absl::StrCat("CREATE INDEX ", kIndex, " ON audit_entries(leaf_index, leaf_hash)"));
      const double build_s = absl::ToDoubleSeconds(absl::Now() - t0);
      const double index_bytes = bytes_of(*db, kIndex);
      absl::StatusOr<std::vector<sql::Row>> plan = db->Query(
          "EXPLAIN QUERY PLAN SELECT leaf_index, leaf_hash FROM audit_entries "
          "WHERE leaf_index >= 0 AND leaf_index < 64 ORDER BY leaf_index LIMIT 64");
      std::printf("  index built in %.1f s: %s, %.1f B/entry; the leaf hashes' query plan: %s\n",
                  build_s, Mb(index_bytes).c_str(), index_bytes / std::max<uint64_t>(1, log_size),
                  plan.ok() && !plan->empty() ? plan->back().Str(3).c_str() : "?");
      db.reset();
      measure("aside, with a covering index");
    }
    // Back to the product's layout, should the store be kept.
    db = open_db();
    if (sqlite) exec(*db, absl::StrCat("DROP INDEX ", kIndex));
    exec(*db, absl::StrCat("INSERT INTO ", kEighths, " SELECT * FROM ", kAside));
    exec(*db, absl::StrCat("DROP TABLE ", kAside));
  }
  if (g_stop.load()) std::printf("stopped by a signal: the figures above are partial\n");
  if (!stop_reason.empty()) std::printf("%s\n", stop_reason.c_str());
  std::printf("total wall time: %.0f s\n", absl::ToDoubleSeconds(absl::Now() - run_start));
  cleanup();
  g_cleanup = nullptr;
  return 0;
}

}  // namespace
}  // namespace kinex::audit::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Grows an audit log to --entries and measures it through AuditLog at --report_at "
      "sizes (bench/audit/README.md).\n"
      "  audit_scale_bench [--entries=20000000] [--report_at=1000000,10000000] "
      "[--backend=sqlite|postgres] [--dir=DIR] [--keep]");
  absl::ParseCommandLine(argc, argv);
  // As the kinex binary runs the log (services/kinex/main.cc): Abseil's
  // Mutex deadlock detection off (Debian builds Abseil without NDEBUG).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return kinex::audit::bench::Run();
}
