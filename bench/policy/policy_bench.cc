// Policy engine benchmarks on a fully populated record (every section; 10
// legal status episodes, 200 attendance sessions, 20 Operation Encompass
// notifications). Targets on a 2-core machine (medians): decision with a
// cached plan <= 1 us, without cache <= 20 us, redaction <= 10 us.
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "google/protobuf/text_format.h"
#include "services/policy/evaluator.h"
#include "services/policy/policy_engine.h"
#include "services/policy/redactor.h"
#include "tests/policy/full_record.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace rv1 = ::kinex::record::v1;

const PolicyEngine& Engine() {
  static PolicyEngine* engine = PolicyEngine::Create({.policy_dir = KINEX_POLICY_DIR})->release();
  return *engine;
}

pv1::DecisionRequest Request(int which) {
  static const char* kRequests[] = {
      // 0: VSH with consent for the SDQ band.
      "principal { agency_kind: VIRTUAL_SCHOOL agency_code: \"E09000033\" "
      "role: \"virtual-school-head\" } purpose: EDUCATION_SUPPORT "
      "bases { basis: CONSENT consent_id: \"c1\" categories: HEALTH "
      "recipient_agency_kind: VIRTUAL_SCHOOL purposes: EDUCATION_SUPPORT }",
      // 1: school DSL (row filters).
      "principal { agency_kind: SCHOOL agency_code: \"100869\" role: "
      "\"designated-safeguarding-lead\" } purpose: SAFEGUARDING",
      // 2: social worker, whole record.
      "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" "
      "role: \"social-worker\" } purpose: SAFEGUARDING justification: \"s47\"",
  };
  pv1::DecisionRequest r;
  google::protobuf::TextFormat::ParseFromString(kRequests[which], &r);
  const kinex::record::v1::ChildRecord full = testing::FullRecord();
  kinex::records::v1::ChildFacts facts;
  facts.set_kinex_id("kx_bench");
  *facts.mutable_scope() = full.scope();
  *facts.mutable_legal_status() = full.legal_status();
  *r.mutable_child() = ChildContextFromFacts(facts, absl::Now());
  return r;
}

void BM_DecisionCached(benchmark::State& state) {
  const pv1::DecisionRequest request = Request(state.range(0));
  (void)Engine().Evaluate(request);  // warm the cache
  for (auto _ : state) {
    auto e = Engine().Evaluate(request);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_DecisionCached)->Arg(0)->Arg(1)->Arg(2);

// As the gRPC adapter does: cached evaluation plus a copy of the Decision.
void BM_DecideCachedWithCopy(benchmark::State& state) {
  const pv1::DecisionRequest request = Request(state.range(0));
  (void)Engine().Decide(request);
  for (auto _ : state) {
    auto d = Engine().Decide(request);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecideCachedWithCopy)->Arg(0)->Arg(1)->Arg(2);

void BM_DecisionUncached(benchmark::State& state) {
  const pv1::DecisionRequest request = Request(state.range(0));
  const auto policy = Engine().policy();
  for (auto _ : state) {
    Evaluation e = Evaluate(*policy, request);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_DecisionUncached)->Arg(0)->Arg(1)->Arg(2);

// Baseline for BM_Redaction: copying the record alone.
void BM_RecordCopy(benchmark::State& state) {
  const rv1::ChildRecord full = testing::FullRecord();
  rv1::ChildRecord record;
  for (auto _ : state) {
    record = full;
    benchmark::DoNotOptimize(record);
  }
}
BENCHMARK(BM_RecordCopy);

// Copy + redact; subtract BM_RecordCopy for the redaction alone.
void BM_Redaction(benchmark::State& state) {
  const rv1::ChildRecord full = testing::FullRecord();
  auto e = *Engine().Evaluate(Request(state.range(0)));
  const Redactor redactor;
  rv1::ChildRecord record;
  for (auto _ : state) {
    record = full;
    benchmark::DoNotOptimize(redactor.Apply(*e->plan, &record));
  }
}
BENCHMARK(BM_Redaction)->Arg(0)->Arg(1)->Arg(2);

// Redaction alone on fresh copies of the full record: copies are made in
// batches with the timer paused, so only Apply is timed.
void BM_RedactionFresh(benchmark::State& state) {
  const rv1::ChildRecord full = testing::FullRecord();
  auto e = *Engine().Evaluate(Request(state.range(0)));
  const Redactor redactor;
  constexpr int kBatch = 4;  // small: copies stay in cache, as a just-parsed record would
  std::vector<rv1::ChildRecord> batch(kBatch);
  int next = kBatch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      for (auto& r : batch) r = full;
      next = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(redactor.Apply(*e->plan, &batch[next++]));
  }
}
BENCHMARK(BM_RedactionFresh)->Arg(0)->Arg(1)->Arg(2);

// Redaction alone, on a record already redacted by the same plan (the same
// traversal, nothing left to remove).
void BM_RedactionSteadyState(benchmark::State& state) {
  rv1::ChildRecord record = testing::FullRecord();
  auto e = *Engine().Evaluate(Request(state.range(0)));
  const Redactor redactor;
  (void)redactor.Apply(*e->plan, &record);
  for (auto _ : state) {
    benchmark::DoNotOptimize(redactor.Apply(*e->plan, &record));
  }
}
BENCHMARK(BM_RedactionSteadyState)->Arg(0)->Arg(1)->Arg(2);

}  // namespace
}  // namespace kinex::policy

BENCHMARK_MAIN();
