// How long the audit store's steps to schema versions 8, 9 and 10 take on a
// grown store, and what they give back: what an operator needs to plan the
// upgrade's first start (docs/deploy.md, "Upgrades"), on SQLite or
// PostgreSQL.
//
// The store is grown to --entries through the bulk builder (bulk_log.h: the
// event mix of event_mix.h, a signed head per 10,000 entries), then given
// --heads more signed-head rows, as a store whose events commit one at a
// time holds about one head per event. Those rows are synthetic (random
// roots and signatures, for the step's time and bytes only: a log opened on
// them would refuse them). Then, --rounds times:
//   1. the store taken back to version 9 (tests/audit/store_downgrade.h),
//      compacted (SQLite VACUUM; PostgreSQL VACUUM FULL, ANALYZE and
//      CHECKPOINT, so the step starts from a store as an append-only log
//      leaves it), and opened: the step to version 10 alone;
//   2. taken back to version 9 and then 8, compacted, and opened: the steps
//      to 9 and 10 (the step to 9 is the difference);
//   3. taken back to 9, 8 and 7, compacted, and opened: the steps to 8, 9
//      and 10 (the step to 8 is the difference from 2).
// Then a plain open (no step), and another after --check_sets synthetic
// child sets are added: the check of every set's member rows that each
// open makes.
// Each open is the storage's own (SqliteLogStorage / PostgresLogStorage
// Open: sql::Migrate, each step in one transaction, synchronous commits).
// The bytes of audit_entries, audit_heads and the query index by child
// (indexes included) are printed at each version, compacted, and after each
// open before any compaction.
//
// PostgreSQL: a throwaway server with durable settings
// (tests/testing/postgres_server.h), removed at the end.
//
// Example:
//   build/bin/audit_migration_bench                      # SQLite, 1M entries, 1M heads
//   build/bin/audit_migration_bench --backend=postgres
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/audit/bulk_log.h"
#include "bench/audit/event_mix.h"
#include "services/audit/postgres_log_storage.h"
#include "services/audit/sqlite_log_storage.h"
#include "services/common/sql/sql_db.h"
#include "tests/audit/store_downgrade.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/temp_dir.h"

ABSL_FLAG(std::string, backend, "sqlite", "sqlite or postgres");
ABSL_FLAG(uint64_t, entries, 1000000, "Entries to grow the store to");
ABSL_FLAG(uint64_t, heads, 1000000, "Synthetic signed-head rows added to the grown store");
ABSL_FLAG(int, rounds, 2, "Times each step is measured");
ABSL_FLAG(uint64_t, check_sets, 500000,
          "Synthetic child sets (two children each) added at the end, to time the check of "
          "every set's member rows each open makes");
ABSL_FLAG(double, whole_record_share, 1.0,
          "Share of whole-record disclosures in the event mix (0.8 to 1)");

namespace kinex::audit {
namespace {

[[noreturn]] void Die(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "audit_migration_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

void Check(const absl::Status& status, const char* what) {
  if (!status.ok()) Die(what, status);
}

// One store and how to open it, its raw connection and how to compact it.
class Store {
 public:
  virtual ~Store() = default;
  virtual absl::StatusOr<std::unique_ptr<LogStorage>> Open() = 0;
  virtual absl::StatusOr<std::unique_ptr<sql::Db>> Raw() = 0;
  virtual const char* compaction() const = 0;
  // A query of one table's bytes with its indexes, the table's name $1.
  virtual const char* bytes_query() const = 0;

  // The bytes of each of `tables` with its indexes.
  std::vector<uint64_t> Bytes(const std::vector<std::string>& tables) {
    std::vector<uint64_t> out;
    auto db = Raw();
    Check(db.status(), "raw connection");
    for (const std::string& table : tables) {
      auto rows = (*db)->Query(bytes_query(), {table});
      Check(rows.status(), bytes_query());
      out.push_back(static_cast<uint64_t>(rows->at(0).Int(0)));
    }
    return out;
  }

  void Compact() {
    auto db = Raw();
    Check(db.status(), "raw connection");
    for (absl::string_view statement : absl::StrSplit(compaction(), ';', absl::SkipEmpty())) {
      Check((*db)->Exec(statement).status(), compaction());
    }
  }
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}
  absl::StatusOr<std::unique_ptr<LogStorage>> Open() override {
    auto s = SqliteLogStorage::Open({.path = path_});
    if (!s.ok()) return s.status();
    return std::unique_ptr<LogStorage>(*std::move(s));
  }
  absl::StatusOr<std::unique_ptr<sql::Db>> Raw() override { return sql::OpenSqlite(path_); }
  const char* compaction() const override { return "VACUUM"; }
  const char* bytes_query() const override {
    return "SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m ON m.name = "
           "d.name WHERE m.tbl_name = $1";
  }

 private:
  const std::string path_;
};

class PostgresStore final : public Store {
 public:
  static std::unique_ptr<PostgresStore> Start() {
    auto server = kinex::testing::PostgresServer::Start({.durable = true});
    Check(server.status(), "starting PostgreSQL");
    auto conninfo = (*server)->CreateDatabase("audit");
    Check(conninfo.status(), "creating the database");
    return std::unique_ptr<PostgresStore>(new PostgresStore(*std::move(server), *conninfo));
  }
  absl::StatusOr<std::unique_ptr<LogStorage>> Open() override {
    auto s = PostgresLogStorage::Open({.conninfo = conninfo_});
    if (!s.ok()) return s.status();
    return std::unique_ptr<LogStorage>(*std::move(s));
  }
  absl::StatusOr<std::unique_ptr<sql::Db>> Raw() override { return sql::OpenPostgres(conninfo_); }
  const char* compaction() const override { return "VACUUM FULL;ANALYZE;CHECKPOINT"; }
  const char* bytes_query() const override {
    return "SELECT COALESCE(SUM(pg_total_relation_size(oid)), 0) FROM pg_class WHERE relname = $1 "
           "AND relkind = 'r'";
  }

 private:
  PostgresStore(std::unique_ptr<kinex::testing::PostgresServer> server, std::string conninfo)
      : server_(std::move(server)), conninfo_(std::move(conninfo)) {}
  const std::unique_ptr<kinex::testing::PostgresServer> server_;
  const std::string conninfo_;
};

// Prints audit_entries' and audit_heads' bytes, each per row, and the query
// index's per entry: version 9's audit_child_entries or version 10's tables
// of child sets, with audit_children (the pseudonyms, in both).
void PrintBytes(Store& store, const char* when, uint64_t entries, uint64_t heads) {
  const std::vector<uint64_t> bytes =
      store.Bytes({"audit_entries", "audit_heads", "audit_children", "audit_child_entries",
                   "audit_child_sets", "audit_child_set_members", "audit_entry_child_sets"});
  const uint64_t index = bytes[2] + bytes[3] + bytes[4] + bytes[5] + bytes[6];
  std::printf(
      "  %-46s audit_entries %7.1f MB (%5.1f B an entry), audit_heads %7.1f MB (%5.1f B "
      "a head), query index %7.1f MB (%5.1f B an entry)\n",
      when, bytes[0] / 1e6, static_cast<double>(bytes[0]) / entries, bytes[1] / 1e6,
      static_cast<double>(bytes[1]) / heads, index / 1e6, static_cast<double>(index) / entries);
}

// Opens the store (running the steps its version needs) and returns the
// seconds it took.
double TimedOpen(Store& store) {
  const absl::Time start = absl::Now();
  auto storage = store.Open();
  Check(storage.status(), "opening the store (the migration)");
  return absl::ToDoubleSeconds(absl::Now() - start);
}

void Run(Store& store, const std::string& backend) {
  const uint64_t entries = absl::GetFlag(FLAGS_entries);
  const uint64_t extra_heads = absl::GetFlag(FLAGS_heads);
  auto signer = TreeHeadSigner::Generate();
  Check(signer.status(), "TreeHeadSigner::Generate");
  auto pseudonymizer = ChildPseudonymizer::Create(std::string(32, 'k'));
  Check(pseudonymizer.status(), "ChildPseudonymizer::Create");
  const bench::EventMix mix({.whole_record_share = absl::GetFlag(FLAGS_whole_record_share)});
  std::printf("audit_migration_bench: %s, %llu entries, %llu synthetic heads\n%s", backend.c_str(),
              static_cast<unsigned long long>(entries),
              static_cast<unsigned long long>(extra_heads), mix.Describe().c_str());
  {
    auto storage = store.Open();
    Check(storage.status(), "opening the new store");
    auto builder = bench::BulkLogBuilder::Create(
        {.signer = *std::move(signer), .pseudonymizer = *std::move(pseudonymizer)});
    Check(builder.status(), "BulkLogBuilder::Create");
    const absl::Time start = absl::Now();
    Check((*builder)->GrowTo(**storage, entries, [&](uint64_t i) { return mix.Event(i); }),
          "growing the store");
    std::printf("grown in %.1f s\n", absl::ToDoubleSeconds(absl::Now() - start));
  }
  auto db = store.Raw();
  Check(db.status(), "raw connection");
  const bool postgres = (*db)->dialect() == sql::Dialect::kPostgres;
  // Heads of the grown log's key, at its size, a second apart.
  Check(
      (*db)->ExecScript(absl::StrCat(
          "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ", extra_heads,
          ") INSERT INTO audit_heads (tree_size, root_hash, ts_seconds, ts_nanos, "
          "key_number, signature) SELECT ",
          entries, ", ", postgres ? "sha256(int8send(x))" : "randomblob(32)",
          ", 1788220800 + x, 0, (SELECT MIN(key_number) FROM audit_signing_keys), ",
          postgres ? "sha256(int8send(x)) || sha256(int8send(-x))" : "randomblob(64)", " FROM g")),
      "adding the heads");
  auto counted = (*db)->Query("SELECT COUNT(*) FROM audit_heads");
  Check(counted.status(), "counting the heads");
  const uint64_t heads = static_cast<uint64_t>(counted->at(0).Int(0));
  db->reset();
  std::printf("compaction before each open: %s\n", store.compaction());
  store.Compact();
  PrintBytes(store, "version 10, compacted", entries, heads);

  auto back = [&](const std::string& script) {
    auto raw = store.Raw();
    Check(raw.status(), "raw connection");
    Check((*raw)->ExecScript(script), "taking the store back a version");
  };
  const sql::Dialect dialect = postgres ? sql::Dialect::kPostgres : sql::Dialect::kSqlite;
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    back(testing::BackToVersion9Script(dialect));
    store.Compact();
    if (round == 1) PrintBytes(store, "version 9, compacted", entries, heads);
    const double step10 = TimedOpen(store);
    if (round == 1) {
      PrintBytes(store, "after the step to 10, before compaction", entries, heads);
      store.Compact();
      PrintBytes(store, "after the step to 10, compacted", entries, heads);
    }
    back(testing::BackToVersion9Script(dialect));
    back(testing::BackToVersion8Script(dialect));
    store.Compact();
    if (round == 1) PrintBytes(store, "version 8, compacted", entries, heads);
    const double steps9 = TimedOpen(store);
    if (round == 1)
      PrintBytes(store, "after the steps to 9 and 10, before compaction", entries, heads);
    back(testing::BackToVersion9Script(dialect));
    back(testing::BackToVersion8Script(dialect));
    back(testing::BackToVersion7Script(dialect));
    store.Compact();
    if (round == 1) PrintBytes(store, "version 7, compacted", entries, heads);
    const double steps8 = TimedOpen(store);
    if (round == 1) {
      PrintBytes(store, "after the steps to 8, 9 and 10, before compaction", entries, heads);
      store.Compact();
      PrintBytes(store, "after the steps to 8, 9 and 10, compacted", entries, heads);
    }
    std::printf(
        "round %d: step to 10 (%llu entries) %.2f s; steps to 9 and 10 (%llu heads) %.2f s, so "
        "the step to 9 about %.2f s; steps to 8, 9 and 10 %.2f s, so the step to 8 about %.2f s\n",
        round, static_cast<unsigned long long>(entries), step10,
        static_cast<unsigned long long>(heads), steps9, steps9 - step10, steps8, steps8 - steps9);
    std::fflush(stdout);
  }
  // Each open checks every child set's member rows (the sets grow with
  // the children, not the log): a plain open (no step to run) before and
  // after --check_sets more sets of two synthetic children each.
  const double plain = TimedOpen(store);
  const uint64_t extra_sets = absl::GetFlag(FLAGS_check_sets);
  auto raw = store.Raw();
  Check(raw.status(), "raw connection");
  if (extra_sets > 0) {
    auto before = (*raw)->Query("SELECT COALESCE(MAX(set_id), 0) FROM audit_child_sets");
    Check(before.status(), "the largest set number");
    // Sets numbered after `first`, each "a,b" of two ten-digit numbers.
    const int64_t first = before->at(0).Int(0);
    Check(
        (*raw)->ExecScript(absl::StrCat(
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ", extra_sets,
            ") INSERT INTO audit_child_sets (members) SELECT CAST(1000000000 + 2 * x AS TEXT) "
            "|| ',' || CAST(1000000001 + 2 * x AS TEXT) FROM g;"
            "INSERT INTO audit_child_set_members (set_id, child_id) SELECT set_id, "
            "CAST(substr(members, 1, 10) AS BIGINT) FROM audit_child_sets WHERE set_id > ",
            first,
            " UNION ALL SELECT set_id, CAST(substr(members, 12, 10) AS BIGINT) FROM "
            "audit_child_sets WHERE set_id > ",
            first, ";")),
        "adding the sets");
  }
  auto counted_sets = (*raw)->Query(
      "SELECT COUNT(*), (SELECT COUNT(*) FROM audit_child_set_members) FROM audit_child_sets");
  Check(counted_sets.status(), "counting the sets");
  const double checked = TimedOpen(store);
  std::printf(
      "open with no step to run: %.2f s; with %llu more child sets: %.2f s (%lld sets, %lld "
      "member rows checked)\n",
      plain, static_cast<unsigned long long>(extra_sets), checked,
      static_cast<long long>(counted_sets->at(0).Int(0)),
      static_cast<long long>(counted_sets->at(0).Int(1)));
}

}  // namespace
}  // namespace kinex::audit

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Times the audit store's steps to schema versions 8, 9 and 10 on a grown store.\n"
      "usage: audit_migration_bench [--backend=sqlite|postgres] [--entries=N] [--heads=N] "
      "[--rounds=N]");
  absl::ParseCommandLine(argc, argv);
  const std::string backend = absl::GetFlag(FLAGS_backend);
  std::unique_ptr<kinex::audit::Store> store;
  kinex::testing::ScopedTempDir dir("kinex-audit-migration");
  if (backend == "sqlite") {
    store = std::make_unique<kinex::audit::SqliteStore>(dir.File("audit.db"));
  } else if (backend == "postgres") {
    store = kinex::audit::PostgresStore::Start();
  } else {
    std::fprintf(stderr, "audit_migration_bench: --backend must be sqlite or postgres, not %s\n",
                 backend.c_str());
    return 2;
  }
  kinex::audit::Run(*store, backend);
  return 0;
}
