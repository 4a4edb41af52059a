// kinex-bench's realistic workload over a Population (population.h):
//
//   SeedPopulation   publishes every part of every child through the public
//                    API, each as its owning agency (the LA first; the others
//                    by the Kinex id it returned), `concurrency` publishes in
//                    flight: bulk, but over the same path agencies use.
//   RealisticLoad    the closed-loop mix, the same client code for Kinex and
//                    for the baseline: reads spread over the children by a
//                    ChildSampler, each by a principal that may lawfully read
//                    the child (or, for --deny_share, one that may not);
//                    ListChildren pages through a principal's cohort
//                    (--list_share); republishes of a part with its current
//                    etag (--publish_share).
//   RealisticBaseline  the bare mTLS server serving the same records: per
//                    child (by the Kinex id asked for) the unredacted merged
//                    record with a receipt of the size Kinex sends the same
//                    principal; ListChildren pages of the caller's cohort;
//                    publishes answered with a reply of Kinex's size. No
//                    policy, consent or audit: the caller's identity only
//                    picks its cohort and refuses what Kinex refuses.
//
// Operation kinds (LoadReport keys) and the codes they may end with:
// "get" (OK), "get.denied" (PERMISSION_DENIED), "list" (OK), "publish" (OK).
// ABORTED is expected too, from races with republishes: a publish whose
// etag went stale because another republish of the part won (Kinex audits
// the refusal), and a read or page whose child's facts moved twice while it
// was decided (records' facts version hashes the parts in publish order, so
// any republish moves it; nothing is disclosed or audited).
//
// Example:
//   auto seeded = SeedPopulation(gw, pop, 64, 2);
//   PartStates parts(*seeded);
//   RealisticLoad load(pop, sampler, seeded->kinex_ids, &parts, {.kinex = true});
//   KINEX_RETURN_IF_ERROR(load.Connect(gw, 2));
//   LoadReport r = LoadDriver::Run(o, [&](int t, grpc::CompletionQueue* cq) {
//     return load.Next(t, cq);
//   });
//   int64_t audited = AuditedEvents(r, load.list_entries());
#ifndef KINEX_BENCH_LOAD_REALISTIC_H_
#define KINEX_BENCH_LOAD_REALISTIC_H_

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/load/load_driver.h"
#include "bench/load/population.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"

namespace kinex::bench {

// The practitioner named in x-kinex-actor on every call.
inline constexpr char kBenchActor[] = "kinex-bench practitioner";
// The justification reads give where policy asks for one.
inline constexpr char kBenchJustification[] =
    "kinex-bench: preparing for a multi-agency meeting about the child's plan";

// An mTLS channel of its own as `cert_base` (a path under the test PKI):
// `index` makes the channel arguments differ, so gRPC does not share the
// connection.
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewBenchChannel(const std::string& address,
                                                               const std::string& cert_base,
                                                               int index);

struct SeededPopulation {
  std::vector<std::string> kinex_ids;  // by child index
  // The etag of each part (child * kPartKinds + kind); empty without one.
  std::vector<std::string> etags;
  int64_t publishes = 0;
  int64_t bytes = 0;  // serialized parts published
  absl::Duration took;
};

// Publishes every part of every child (see the file comment). Fails on the
// first refusal, with up to five samples.
absl::StatusOr<SeededPopulation> SeedPopulation(const std::string& address, const Population& pop,
                                                int concurrency, int threads);

// The current etag and revision of every part, shared by the Kinex rounds
// (a baseline run reads them and changes nothing).
class PartStates {
 public:
  explicit PartStates(const SeededPopulation& seeded);
  // The part to republish and its etag; false when its etag is unknown (a
  // republish ended in an unexpected way and may or may not have stored).
  bool Get(int child, PartKind kind, std::string& etag, int& revision) const;
  void Published(int child, PartKind kind, const std::string& etag, int revision);
  void Forget(int child, PartKind kind);

 private:
  struct State {
    std::string etag;
    int revision = 0;
    bool known = false;
  };
  mutable absl::Mutex mu_;
  std::vector<State> states_ ABSL_GUARDED_BY(mu_);
};

class RealisticLoad {
 public:
  struct Options {
    double list_share = 0.05;
    double publish_share = 0.05;
    double deny_share = 0;
    int list_page_size = 20;
    // Against Kinex: publishes keep the etags they get back. Against the
    // baseline (false) nothing is kept.
    bool kinex = true;
    uint64_t seed = 1;
  };

  RealisticLoad(const Population& pop, const ChildSampler& sampler,
                const std::vector<std::string>& kinex_ids, PartStates* parts, Options options);

  // One channel per principal per client thread.
  absl::Status Connect(const std::string& address, int threads);

  // The next call for client thread `thread` (the driver's factory).
  std::unique_ptr<Call> Next(int thread, grpc::CompletionQueue* cq);

  // Records disclosed by ListChildren pages answered OK so far (each one a
  // decision Kinex audited), every call counted (warm-up and drain too).
  int64_t list_entries() const { return list_entries_.load(); }

 private:
  struct PerThread {
    std::mt19937_64 rng;
    std::vector<std::unique_ptr<kinex::exchange::v1::Exchange::Stub>> stubs;  // by principal
    std::vector<std::string> list_tokens;                                     // by principal
  };

  std::unique_ptr<Call> Get(int thread, grpc::CompletionQueue* cq, int child, bool deny);
  std::unique_ptr<Call> List(int thread, grpc::CompletionQueue* cq);
  std::unique_ptr<Call> Publish(int thread, grpc::CompletionQueue* cq, int child);

  const Population& pop_;
  const ChildSampler& sampler_;
  const std::vector<std::string>& kinex_ids_;
  PartStates* parts_;
  const Options options_;
  std::vector<int> listers_;      // principals with a non-empty cohort
  std::vector<double> list_cdf_;  // cumulative weights over listers_
  std::vector<PerThread> threads_;
  std::atomic<int64_t> list_entries_{0};
};

// The audit events a Kinex run's calls imply: every GetChildRecord decision
// (OK or PERMISSION_DENIED; an ABORTED read disclosed and audited nothing),
// one per record a ListChildren page disclosed (every child in a lister's
// cohort is allowed, so none is decided and dropped), and one per
// republish stored (PART_PUBLISHED) or refused (ABORTED: WRITE_REFUSED).
// Every completed call counts, warm-up included.
int64_t AuditedEvents(const LoadReport& report, int64_t list_entries);

// One GetChildRecord from Kinex per principal that reads anyone, for the
// first child it may read, as the workload reads it: each must be a real
// disclosure (OK), or the population and the policy disagree. By principal
// (an empty response for one that reads no child). `report` gets a line per
// principal with the sizes.
absl::StatusOr<std::vector<kinex::exchange::v1::GetChildRecordResponse>> SampleKinexReplies(
    const std::string& address, const Population& pop, const std::vector<std::string>& kinex_ids,
    std::string& report);

// The bare baseline server (see the file comment).
class RealisticBaseline final : public kinex::exchange::v1::Exchange::Service {
 public:
  // `samples`: SampleKinexReplies' (each principal's receipt and a request
  // id, so each reply is the size Kinex's would be, the record unredacted).
  RealisticBaseline(const Population& pop, const std::vector<std::string>& kinex_ids,
                    const std::vector<kinex::exchange::v1::GetChildRecordResponse>& samples);

  grpc::Status GetChildRecord(grpc::ServerContext* ctx,
                              const kinex::exchange::v1::GetChildRecordRequest* request,
                              kinex::exchange::v1::GetChildRecordResponse* response) override;
  grpc::Status ListChildren(grpc::ServerContext* ctx,
                            const kinex::exchange::v1::ListChildrenRequest* request,
                            kinex::exchange::v1::ListChildrenResponse* response) override;
  grpc::Status PublishRecord(grpc::ServerContext* ctx,
                             const kinex::exchange::v1::PublishRecordRequest* request,
                             kinex::exchange::v1::PublishRecordResponse* response) override;

  // Bytes of the records it serves (the unredacted merged records).
  int64_t record_bytes() const { return record_bytes_; }

 private:
  // The caller's principal index, or -1.
  int Caller(const grpc::ServerContext& ctx) const;

  const Population& pop_;
  std::vector<kinex::record::v1::ChildRecord> records_;
  std::vector<kinex::exchange::v1::DisclosureReceipt> receipts_;
  absl::flat_hash_map<std::string, int> child_by_id_;
  absl::flat_hash_map<std::string, int> principal_by_uri_;
  std::vector<std::vector<int>> cohorts_;  // by principal, in Kinex id order
  std::string request_id_;
  std::atomic<uint64_t> etags_{0};
  int64_t record_bytes_ = 0;
};

}  // namespace kinex::bench

#endif  // KINEX_BENCH_LOAD_REALISTIC_H_
