// Assembled-record lookup by NHS number with 100,000 children stored, on
// SQLite and PostgreSQL. Reports p50 and p99 latency (microseconds) as
// counters alongside Google Benchmark's mean.
//
// Setup is one bulk load per backend (a prepared INSERT in one transaction
// on SQLite, COPY on PostgreSQL): each child has an LA part and a health part
// (about 300 bytes together), an NHS number, an LA child id and scope links.
// PostgreSQL runs with its durable defaults (PostgresServer durable=true).
//
// Run: build-dir/bin/records_lookup_bench [--benchmark_min_time=5]
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "services/common/clock.h"
#include "services/common/identifiers.h"
#include "services/records/records_core.h"
#include "services/records/sql_records_storage.h"
#include "tests/testing/postgres_server.h"

namespace kinex::records {
namespace {

constexpr int kChildren = 100000;

std::string NhsFor(int i) {
  for (int s = i;; s += 1000003) {
    const std::string nine = absl::StrFormat("6%08d", s % 100000000);
    const int check = NhsNumberCheckDigit(nine);
    if (check >= 0) return absl::StrCat(nine, check);
  }
}

std::vector<RecordsTxn::BulkChild> MakeChildren(absl::Time now) {
  std::vector<RecordsTxn::BulkChild> out;
  out.reserve(kChildren);
  for (int i = 0; i < kChildren; ++i) {
    RecordsTxn::BulkChild c;
    c.kinex_id = absl::StrFormat("kx_BENCH%08d", i);
    const std::string nhs = NhsFor(i);
    const std::string la_code = i % 2 ? "E09000033" : "E08000025";
    c.identifiers.push_back({IdentifierKind::kNhsNumber, nhs});
    c.identifiers.push_back({IdentifierKind::kLaChildId, absl::StrCat(la_code, "/C", i)});

    kinex::record::v1::ChildRecord la;
    la.mutable_identity()->set_la_child_id(absl::StrCat("C", i));
    la.mutable_identity()->set_given_name("Given");
    la.mutable_identity()->set_family_name(absl::StrCat("Family", i));
    la.mutable_identity()->mutable_date_of_birth()->set_year(2010 + i % 15);
    la.mutable_identity()->mutable_date_of_birth()->set_month(1 + i % 12);
    la.mutable_identity()->mutable_date_of_birth()->set_day(1 + i % 28);
    la.mutable_scope()->set_responsible_la_code(la_code);
    auto* ep = la.add_legal_status();
    ep->set_arrangement(kinex::record::v1::SPECIAL_GUARDIANSHIP_ORDER);
    ep->mutable_start_date()->set_year(2022);
    ep->set_previously_looked_after(true);
    auto* carer = la.mutable_placement()->add_carers();
    carer->set_name("Grandparent Name");
    carer->set_relationship(kinex::record::v1::GRANDPARENT);
    carer->set_holds_parental_responsibility(true);
    la.mutable_safeguarding()->set_child_in_need_plan_open(i % 7 == 0);

    kinex::record::v1::ChildRecord health;
    health.mutable_identity()->set_nhs_number(nhs);
    health.mutable_scope()->set_registered_gp_ods_code("A81001");
    auto* a = health.mutable_health()->add_assessments();
    a->set_type(kinex::record::v1::REVIEW_HEALTH_ASSESSMENT);
    a->mutable_due_date()->set_year(2026);
    a->set_status(kinex::record::v1::ASSESSMENT_DUE);
    health.mutable_health()->set_immunisations_up_to_date(true);

    int kind = kinex::common::v1::LOCAL_AUTHORITY;
    for (const auto* part : {&la, &health}) {
      StoredPart p;
      p.kinex_id = c.kinex_id;
      p.owner_kind = kind;
      p.owner_code = kind == kinex::common::v1::LOCAL_AUTHORITY ? la_code : "A81001";
      p.version = 1;
      p.publish_time = now;
      p.principal = "spiffe://kinex.dev/bench";
      part->SerializeToString(&p.payload);
      p.etag = PartEtag(p);
      c.parts.push_back(std::move(p));
      kind = kinex::common::v1::HEALTH;
    }
    c.links = {{kinex::common::v1::LOCAL_AUTHORITY, la_code},
               {kinex::common::v1::HEALTH, "A81001"}};
    c.responsible_la = la_code;
    StoredLink gp;
    gp.kinex_id = c.kinex_id;
    gp.agency_kind = kinex::common::v1::HEALTH;
    gp.agency_code = "A81001";
    gp.state = LinkState::kConfirmed;
    gp.update_time = now;
    gp.updated_by = "spiffe://kinex.dev/bench";
    c.agency_links = {gp};
    out.push_back(std::move(c));
  }
  return out;
}

// Lookups write nothing, so no event ever reaches it.
class NoWritesAuditSink final : public kinex::audit::AuditSink {
 public:
  absl::StatusOr<kinex::audit::AppendResult> Append(const kinex::audit::v1::AuditEvent&) override {
    return absl::FailedPreconditionError("the lookup benchmark writes nothing");
  }
};

struct Backend {
  std::unique_ptr<kinex::testing::PostgresServer> pg;  // destroyed last
  NoWritesAuditSink audit;
  std::string dir;
  std::unique_ptr<RecordsStorage> storage;
  std::unique_ptr<RecordsCore> core;
  double load_seconds = 0;
  ~Backend() {
    core.reset();
    storage.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

Backend* Setup(bool postgres) {
  auto b = new Backend();
  std::unique_ptr<sql::Db> db;
  if (postgres) {
    kinex::testing::PostgresServer::Options o;
    o.durable = true;
    auto server = kinex::testing::PostgresServer::Start(o);
    if (!server.ok()) return nullptr;
    b->pg = std::move(*server);
    auto conninfo = b->pg->CreateDatabase("records_bench");
    if (!conninfo.ok()) return nullptr;
    auto opened = sql::OpenPostgres(*conninfo);
    if (!opened.ok()) return nullptr;
    db = std::move(*opened);
  } else {
    b->dir = absl::StrCat(std::filesystem::temp_directory_path().string(), "/records_bench_XXXXXX");
    if (mkdtemp(b->dir.data()) == nullptr) return nullptr;
    auto opened = sql::OpenSqlite(b->dir + "/records.db");
    if (!opened.ok()) return nullptr;
    db = std::move(*opened);
  }
  auto storage = SqlRecordsStorage::Create(std::move(db));
  if (!storage.ok()) return nullptr;
  b->storage = std::move(*storage);
  const auto children = MakeChildren(RealClock::Get().Now());
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = b->storage->Transact(
      [&](RecordsTxn& txn) { return txn.BulkLoad(children, RealClock::Get().Now()); });
  if (!s.ok()) {
    fprintf(stderr, "bulk load failed: %s\n", std::string(s.message()).c_str());
    return nullptr;
  }
  b->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordsCore::Options o;
  o.storage = b->storage.get();
  o.clock = &RealClock::Get();
  o.audit = &b->audit;  // lookups append nothing; Create requires a sink
  b->core = std::move(*RecordsCore::Create(std::move(o)));
  return b;
}

// Set up on first use; deleted by main after the run (stops PostgreSQL,
// removes the SQLite directory).
Backend* backends[2] = {nullptr, nullptr};

void BM_GetRecordByNhs(benchmark::State& state, bool postgres) {
  Backend*& b = backends[postgres ? 1 : 0];
  if (b == nullptr) b = Setup(postgres);
  if (b == nullptr) {
    state.SkipWithError("backend setup failed (PostgreSQL installed?)");
    return;
  }
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, kChildren - 1);
  std::vector<double> micros;
  micros.reserve(1 << 16);
  kinex::records::v1::GetRecordRequest req;
  for (auto _ : state) {
    req.mutable_child()->set_nhs_number(NhsFor(pick(rng)));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = b->core->GetRecord(req);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r.ok() || r->parts_size() != 2) {
      state.SkipWithError("lookup failed");
      return;
    }
    benchmark::DoNotOptimize(r);
    micros.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(micros.begin(), micros.end());
  if (!micros.empty()) {
    state.counters["p50_us"] = micros[micros.size() / 2];
    state.counters["p99_us"] = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
    state.counters["children"] = kChildren;
    state.counters["load_s"] = b->load_seconds;
  }
}

// What a disclosure asks of records, as the gateway asks it: the child's
// facts (GetChildFacts, by NHS number), then the record pinned to those
// facts (GetRecord by Kinex id with facts_version), on SQLite, draws 80/20
// over the first 10,000 children (kinex-bench's default skew), with the
// reads' view cache at its default size (`cached`) or off, two cores over
// the one store. Nothing writes meanwhile, so SQLite's own page cache is
// never reset by a commit as it is under load: the cache's gain here is a
// floor.
void BM_FactsThenRecord(benchmark::State& state, bool cached) {
  Backend*& b = backends[0];
  if (b == nullptr) b = Setup(false);
  if (b == nullptr) {
    state.SkipWithError("backend setup failed");
    return;
  }
  RecordsCore::Options o;
  o.storage = b->storage.get();
  o.clock = &RealClock::Get();
  o.audit = &b->audit;
  o.view_cache_bytes = cached ? int64_t{32} << 20 : 0;
  std::unique_ptr<RecordsCore> core = std::move(*RecordsCore::Create(std::move(o)));
  constexpr int kDrawn = 10000;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> coin(0, 1);
  std::uniform_int_distribution<int> hot(0, kDrawn / 5 - 1), cold(kDrawn / 5, kDrawn - 1);
  kinex::records::v1::GetChildFactsRequest about;
  kinex::records::v1::GetRecordRequest get;
  get.add_paths("identity");
  get.add_paths("health");
  for (auto _ : state) {
    const int i = coin(rng) < 0.8 ? hot(rng) : cold(rng);
    about.mutable_child()->set_nhs_number(NhsFor(i));
    auto facts = core->GetChildFacts(about);
    if (!facts.ok()) {
      state.SkipWithError("facts failed");
      return;
    }
    get.mutable_child()->set_kinex_id(facts->kinex_id());
    get.set_facts_version(facts->facts_version());
    auto r = core->GetRecord(get);
    if (!r.ok() || r->parts_size() != 2) {
      state.SkipWithError("record failed");
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  const ChildViewCache::Stats stats = core->view_cache_stats();
  state.counters["hit_share"] = stats.hits + stats.misses > 0
                                    ? static_cast<double>(stats.hits) / (stats.hits + stats.misses)
                                    : 0;
}

BENCHMARK_CAPTURE(BM_FactsThenRecord, view_cache_off, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FactsThenRecord, view_cache_on, true)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_GetRecordByNhs, sqlite, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_GetRecordByNhs, postgres, true)->Unit(benchmark::kMicrosecond);

}  // namespace

void DeleteBackends() {
  for (Backend*& b : backends) {
    delete b;
    b = nullptr;
  }
}

}  // namespace kinex::records

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  kinex::records::DeleteBackends();
  return 0;
}
