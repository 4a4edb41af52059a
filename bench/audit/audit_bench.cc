// Audit log benchmarks:
//   BM_Append/appenders:N     appends per second with N concurrent appenders
//                             on SQLite (WAL, synchronous=FULL), group commit.
//   BM_InclusionProof1M       one inclusion proof at 1,000,000 entries,
//                             through AuditLog::GetInclusionProof.
//   BM_Startup1M              opening a 1,000,000-entry log: read back,
//                             re-hash, decode and check every entry and head.
//   BM_VerifyOffline1M        full offline verification of 1,000,000 entries
//                             (kinexctl audit verify's logic, pages of 1000
//                             from GetEntries, minus the network).
//
// The 1M-entry SQLite database is built once per run by bulk insertion
// (batches of 10,000 with one signed head each) under $TMPDIR.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "services/audit/audit_log.h"
#include "services/audit/log_verifier.h"
#include "services/audit/sqlite_log_storage.h"

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

std::unique_ptr<AuditLog> OpenLog(LogStorage* storage) {
  AuditLog::Options options;
  options.storage = storage;
  options.signer = Signer();
  options.pseudonymizer = Pseudonymizer();
  options.clock = &kinex::RealClock::Get();
  options.start_signer_thread = false;
  auto log = AuditLog::Create(std::move(options));
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", std::string(log.status().message()).c_str());
    std::abort();
  }
  return *std::move(log);
}

void BM_Append(benchmark::State& state) {
  const int appenders = static_cast<int>(state.range(0));
  const bool full = state.range(1) != 0;
  const auto dir = TempDir(absl::StrCat("append", appenders));
  auto storage =
      *SqliteLogStorage::Open({.path = (dir / "audit.db").string(), .synchronous_full = full});
  auto log = OpenLog(storage.get());
  // About 40,000 appends per run; fewer for a lone appender, which waits
  // one fsync per append.
  const int per_thread = appenders == 1 ? 2000 : std::max(200, 40000 / appenders);
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
  log.reset();
  storage.reset();
  std::filesystem::remove_all(dir);
}
// sync_full:1 is the configuration the target is for; sync_full:0
// (synchronous=NORMAL: no fsync per commit) shows the CPU-bound ceiling of
// the same code, i.e. what a fast disk would approach.
BENCHMARK(BM_Append)
    ->ArgNames({"appenders", "sync_full"})
    ->Args({1, 1})
    ->Args({16, 1})
    ->Args({64, 1})
    ->Args({64, 0})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

constexpr uint64_t kBig = 1000000;

// The 1M-entry database, built once.
const std::string& BigDb() {
  static const std::string path = [] {
    const auto dir = TempDir("1m");
    const std::string db = (dir / "audit.db").string();
    auto storage = *SqliteLogStorage::Open({.path = db});
    const absl::Time start = absl::Now();
    CompactRange range;
    auto signer = Signer();
    auto pseudonymizer = Pseudonymizer();
    absl::flat_hash_map<std::string, std::string> pseudonyms;
    ChainTracker chains;
    if (!storage->AddHead(*signer->Sign(0, EmptyRoot(), absl::FromUnixSeconds(1788249600))).ok()) {
      std::abort();
    }
    constexpr int kBatch = 10000;
    for (uint64_t base = 0; base < kBig; base += kBatch) {
      std::vector<NewEntry> batch;
      batch.reserve(kBatch);
      for (uint64_t i = base; i < base + kBatch; ++i) {
        v1::AuditEvent e = Event(static_cast<int>(i));
        // 5,000 distinct children: pseudonymise each once.
        std::string& p = pseudonyms[e.children(0).kinex_id()];
        if (p.empty()) p = *pseudonymizer->Pseudonym(e.children(0));
        e.clear_children();
        e.add_child_pseudonyms(p);
        e.mutable_time()->set_seconds(1788249600 + static_cast<int64_t>(i / 100));
        // The links the log's sequencer would set (checked at start-up).
        chains.Link(e);
        chains.Record(i, e);
        std::string leaf = *EncodeEvent(i, e);
        const Hash h = HashLeaf(leaf);
        range.Append(h);
        batch.push_back(MakeNewEntry(i, h, std::move(leaf), e));
      }
      auto head = signer->Sign(base + kBatch, range.Root(),
                               absl::FromUnixSeconds(1788249600 + (base + kBatch) / 100));
      if (!storage->Append(batch, &*head).ok()) std::abort();
    }
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

}  // namespace
}  // namespace kinex::audit

BENCHMARK_MAIN();
