#include "bench/load/realistic.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/peer_identity.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "tests/testing/test_pki.h"

namespace kinex::bench {
namespace {

namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;

constexpr int kMaxSamples = 5;

// Relative frequency of republishes by part (school registers change most).
int PublishWeight(PartKind kind) {
  switch (kind) {
    case PartKind::kSchool:
      return 45;
    case PartKind::kLa:
      return 25;
    case PartKind::kHealth:
      return 15;
    case PartKind::kPolice:
      return 10;
    case PartKind::kVsh:
      return 5;
  }
  return 0;
}

// Relative frequency of ListChildren by kind of principal (split between
// the agencies of a kind by the size of their cohorts).
int ListWeight(int p) {
  switch (p) {
    case kLaSwWestminster:
    case kLaSwWestMidlands:
      return 30;
    default:
      return 15;
  }
}

void FillRead(const ReadAs& as, ev1::GetChildRecordRequest& req) {
  req.set_purpose(as.purpose);
  if (as.justified) req.set_justification(kBenchJustification);
}

// "bl-<principal>-<offset>", padded to the length of a Kinex page token.
std::string BaselineToken(int p, size_t offset) {
  std::string t = absl::StrCat("bl-", p, "-", offset, "-");
  t.resize(96, 'x');
  return t;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewBenchChannel(const std::string& address,
                                                               const std::string& cert_base,
                                                               int index) {
  const std::string pki = kinex::testing::TestPkiDir();
  TlsFiles f;
  f.ca_file = pki + "/ca.pem";
  f.cert_file = absl::StrCat(pki, "/", cert_base, ".pem");
  f.key_file = absl::StrCat(pki, "/", cert_base, ".key");
  f.crl_dir = pki + "/crl";
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                         MakeChannelCredentials(f));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt("kinex.bench.channel_index", index);
  return grpc::CreateCustomChannel(address, creds, args);
}

namespace {

// One channel per principal in Principals() (index `channel_index`).
absl::StatusOr<std::vector<std::unique_ptr<ev1::Exchange::Stub>>> StubsFor(
    const std::string& address, int channel_index) {
  std::vector<std::unique_ptr<ev1::Exchange::Stub>> stubs;
  for (const BenchPrincipal& p : Principals()) {
    KINEX_ASSIGN_OR_RETURN(auto channel, NewBenchChannel(address, p.CertBase(), channel_index));
    if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
      return absl::UnavailableError(
          absl::StrCat("could not connect to ", address, " as ", p.Name()));
    }
    stubs.push_back(ev1::Exchange::NewStub(channel));
  }
  return stubs;
}

}  // namespace

absl::StatusOr<SeededPopulation> SeedPopulation(const std::string& address, const Population& pop,
                                                int concurrency, int threads) {
  threads = std::max(1, std::min(threads, concurrency));
  const int n = pop.size();
  SeededPopulation out;
  out.kinex_ids.resize(n);
  out.etags.resize(static_cast<size_t>(n) * kPartKinds);
  std::vector<std::vector<std::unique_ptr<ev1::Exchange::Stub>>> stubs;
  for (int t = 0; t < threads; ++t) {
    KINEX_ASSIGN_OR_RETURN(auto s, StubsFor(address, 100 + t));
    stubs.push_back(std::move(s));
  }
  // Each child is a chain of publishes (LA, then each other part it has),
  // one at a time; a caller that finishes a step issues the chain's next
  // step, else starts the next child. Steps are kept per client thread
  // (the thread that completes a step issues the next), so no locks.
  struct Step {
    int child;
    int kind;
  };
  std::vector<std::vector<Step>> pending(threads);
  std::atomic<int> next_child{0};
  std::atomic<int> children_done{0};
  std::atomic<int64_t> failed{0}, publishes{0}, bytes{0};
  absl::Mutex mu;
  std::vector<std::string> samples;

  LoadDriver::Options o;
  o.callers = std::max(1, concurrency);
  o.threads = threads;
  o.warmup = absl::ZeroDuration();
  o.duration = absl::Hours(24);
  o.tick = absl::Seconds(5);
  o.on_tick = [&](absl::Duration elapsed) {
    std::cout << absl::StrFormat("  seeding: %d of %d children after %.0f s\n",
                                 children_done.load(), n, absl::ToDoubleSeconds(elapsed))
              << std::flush;
  };
  const absl::Time start = absl::Now();
  LoadDriver::Run(o, [&](int t, grpc::CompletionQueue* cq) -> std::unique_ptr<Call> {
    if (failed.load() > 0) return nullptr;
    Step step;
    if (!pending[t].empty()) {
      step = pending[t].back();
      pending[t].pop_back();
    } else {
      const int i = next_child.fetch_add(1);
      if (i >= n) return nullptr;
      step = {i, static_cast<int>(PartKind::kLa)};
    }
    const PartKind kind = static_cast<PartKind>(step.kind);
    const ChildSpec& c = pop.child(step.child);
    ev1::PublishRecordRequest req =
        pop.Part(step.child, kind, 0, kind == PartKind::kLa ? "" : out.kinex_ids[step.child]);
    bytes.fetch_add(static_cast<int64_t>(req.record().ByteSizeLong()));
    auto call = std::make_unique<UnaryCall<ev1::PublishRecordResponse>>(
        absl::StrCat("seed.", PartKindName(kind)));
    call->ctx.AddMetadata("x-kinex-actor", kBenchActor);
    call->on_done = [&, step, t](Call& done) {
      auto& typed = static_cast<UnaryCall<ev1::PublishRecordResponse>&>(done);
      if (!done.status.ok()) {
        failed.fetch_add(1);
        absl::MutexLock lock(&mu);
        if (samples.size() < kMaxSamples) {
          samples.push_back(absl::StrCat("child ", step.child, " ",
                                         PartKindName(static_cast<PartKind>(step.kind)),
                                         " part: code ", static_cast<int>(done.status.error_code()),
                                         ": ", done.status.error_message()));
        }
        return;
      }
      if (step.kind == static_cast<int>(PartKind::kLa)) {
        out.kinex_ids[step.child] = typed.response.kinex_id();
      }
      out.etags[static_cast<size_t>(step.child) * kPartKinds + step.kind] = typed.response.etag();
      publishes.fetch_add(1);
      const ChildSpec& spec = pop.child(step.child);
      for (int k = step.kind + 1; k < kPartKinds; ++k) {
        if (spec.HasPart(static_cast<PartKind>(k))) {
          pending[t].push_back({step.child, k});
          return;
        }
      }
      children_done.fetch_add(1);
    };
    call->reader = stubs[t][c.Publisher(kind)]->PrepareAsyncPublishRecord(&call->ctx, req, cq);
    return call;
  });
  out.took = absl::Now() - start;
  if (failed.load() > 0) {
    absl::MutexLock lock(&mu);
    return absl::InternalError(absl::StrCat("seeding: ", failed.load(), " publishes failed, e.g. ",
                                            absl::StrJoin(samples, "; ")));
  }
  if (children_done.load() != n) {
    return absl::InternalError(
        absl::StrCat("seeding: only ", children_done.load(), " of ", n, " children seeded"));
  }
  out.publishes = publishes.load();
  out.bytes = bytes.load();
  return out;
}

PartStates::PartStates(const SeededPopulation& seeded) {
  absl::MutexLock lock(&mu_);
  states_.resize(seeded.etags.size());
  for (size_t i = 0; i < seeded.etags.size(); ++i) {
    states_[i].etag = seeded.etags[i];
    states_[i].known = !seeded.etags[i].empty();
  }
}

bool PartStates::Get(int child, PartKind kind, std::string& etag, int& revision) const {
  absl::MutexLock lock(&mu_);
  const State& s = states_[static_cast<size_t>(child) * kPartKinds + static_cast<int>(kind)];
  if (!s.known) return false;
  etag = s.etag;
  revision = s.revision;
  return true;
}

void PartStates::Published(int child, PartKind kind, const std::string& etag, int revision) {
  absl::MutexLock lock(&mu_);
  State& s = states_[static_cast<size_t>(child) * kPartKinds + static_cast<int>(kind)];
  s.etag = etag;
  s.revision = std::max(s.revision, revision);
  s.known = true;
}

void PartStates::Forget(int child, PartKind kind) {
  absl::MutexLock lock(&mu_);
  states_[static_cast<size_t>(child) * kPartKinds + static_cast<int>(kind)].known = false;
}

RealisticLoad::RealisticLoad(const Population& pop, const ChildSampler& sampler,
                             const std::vector<std::string>& kinex_ids, PartStates* parts,
                             Options options)
    : pop_(pop), sampler_(sampler), kinex_ids_(kinex_ids), parts_(parts), options_(options) {
  // Listers: each kind's weight split between its agencies by cohort size.
  std::vector<double> kind_total(kPrincipalCount, 0);
  auto kind_of = [](int p) { return Principals()[p].kind; };
  for (int p = 0; p < kPrincipalCount; ++p) {
    if (!Population::Lists(p) || pop.Cohort(p).empty()) continue;
    listers_.push_back(p);
  }
  double total = 0;
  for (int p : listers_) {
    double same_kind = 0;
    for (int q : listers_) {
      if (kind_of(q) == kind_of(p)) same_kind += static_cast<double>(pop.Cohort(q).size());
    }
    total += ListWeight(p) * static_cast<double>(pop.Cohort(p).size()) / same_kind;
    list_cdf_.push_back(total);
  }
  for (double& v : list_cdf_) v /= total;
}

absl::Status RealisticLoad::Connect(const std::string& address, int threads) {
  threads_.clear();
  for (int t = 0; t < std::max(1, threads); ++t) {
    PerThread pt;
    pt.rng.seed(options_.seed * 7919 + static_cast<uint64_t>(t));
    KINEX_ASSIGN_OR_RETURN(pt.stubs, StubsFor(address, t + 1));
    pt.list_tokens.resize(kPrincipalCount);
    threads_.push_back(std::move(pt));
  }
  return absl::OkStatus();
}

std::unique_ptr<Call> RealisticLoad::Next(int thread, grpc::CompletionQueue* cq) {
  PerThread& pt = threads_[thread];
  const double u = std::uniform_real_distribution<double>(0, 1)(pt.rng);
  if (u < options_.publish_share) {
    std::unique_ptr<Call> call = Publish(thread, cq, sampler_.Next(pt.rng));
    if (call != nullptr) return call;  // else (etag unknown) a read instead
  } else if (u < options_.publish_share + options_.list_share && !listers_.empty()) {
    return List(thread, cq);
  }
  const bool deny = options_.deny_share > 0 &&
                    std::uniform_real_distribution<double>(0, 1)(pt.rng) < options_.deny_share;
  return Get(thread, cq, sampler_.Next(pt.rng), deny);
}

std::unique_ptr<Call> RealisticLoad::Get(int thread, grpc::CompletionQueue* cq, int child,
                                         bool deny) {
  PerThread& pt = threads_[thread];
  ReadAs as{};
  if (deny) {
    const std::vector<ReadAs> denied = pop_.DeniedReadersOf(child);
    as = denied[std::uniform_int_distribution<size_t>(0, denied.size() - 1)(pt.rng)];
  } else {
    const auto& readers = pop_.ReadersOf(child);
    int total = 0;
    for (const auto& [read, weight] : readers) total += weight;
    int pick = std::uniform_int_distribution<int>(0, total - 1)(pt.rng);
    for (const auto& [read, weight] : readers) {
      as = read;
      if (pick < weight) break;
      pick -= weight;
    }
  }
  auto call = std::make_unique<UnaryCall<ev1::GetChildRecordResponse>>(deny ? "get.denied" : "get");
  // ABORTED: the child's facts moved twice while it was decided (any
  // republish moves its facts version); nothing disclosed, nothing audited.
  call->expected = {deny ? grpc::StatusCode::PERMISSION_DENIED : grpc::StatusCode::OK};
  if (!deny) call->expected.insert(grpc::StatusCode::ABORTED);
  call->ctx.AddMetadata("x-kinex-actor", kBenchActor);
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(kinex_ids_[child]);
  FillRead(as, req);
  call->reader = pt.stubs[as.principal]->PrepareAsyncGetChildRecord(&call->ctx, req, cq);
  return call;
}

std::unique_ptr<Call> RealisticLoad::List(int thread, grpc::CompletionQueue* cq) {
  PerThread& pt = threads_[thread];
  const double u = std::uniform_real_distribution<double>(0, 1)(pt.rng);
  size_t i = static_cast<size_t>(std::lower_bound(list_cdf_.begin(), list_cdf_.end(), u) -
                                 list_cdf_.begin());
  if (i >= listers_.size()) i = listers_.size() - 1;
  const int p = listers_[i];
  const ReadAs as = Population::ListAs(p);
  auto call = std::make_unique<UnaryCall<ev1::ListChildrenResponse>>("list");
  call->expected = {grpc::StatusCode::OK, grpc::StatusCode::ABORTED};  // as for reads
  call->ctx.AddMetadata("x-kinex-actor", kBenchActor);
  ev1::ListChildrenRequest req;
  req.set_purpose(as.purpose);
  if (as.justified) req.set_justification(kBenchJustification);
  req.set_page_size(options_.list_page_size);
  req.set_page_token(pt.list_tokens[p]);
  call->on_done = [this, thread, p](Call& done) {
    auto& typed = static_cast<UnaryCall<ev1::ListChildrenResponse>&>(done);
    PerThread& mine = threads_[thread];
    if (!done.status.ok()) {
      mine.list_tokens[p].clear();
      return;
    }
    list_entries_.fetch_add(typed.response.children_size());
    // Page on through the cohort; from the start again after the last page.
    mine.list_tokens[p] = typed.response.next_page_token();
  };
  call->reader = pt.stubs[p]->PrepareAsyncListChildren(&call->ctx, req, cq);
  return call;
}

std::unique_ptr<Call> RealisticLoad::Publish(int thread, grpc::CompletionQueue* cq, int child) {
  PerThread& pt = threads_[thread];
  const ChildSpec& c = pop_.child(child);
  int total = 0;
  for (int k = 0; k < kPartKinds; ++k) {
    if (c.HasPart(static_cast<PartKind>(k))) total += PublishWeight(static_cast<PartKind>(k));
  }
  int pick = std::uniform_int_distribution<int>(0, total - 1)(pt.rng);
  PartKind kind = PartKind::kLa;
  for (int k = 0; k < kPartKinds; ++k) {
    const PartKind candidate = static_cast<PartKind>(k);
    if (!c.HasPart(candidate)) continue;
    kind = candidate;
    if (pick < PublishWeight(candidate)) break;
    pick -= PublishWeight(candidate);
  }
  std::string etag;
  int revision = 0;
  if (!parts_->Get(child, kind, etag, revision)) return nullptr;
  ev1::PublishRecordRequest req = pop_.Part(child, kind, revision + 1, kinex_ids_[child]);
  req.set_etag(etag);
  auto call = std::make_unique<UnaryCall<ev1::PublishRecordResponse>>("publish");
  call->expected = {grpc::StatusCode::OK, grpc::StatusCode::ABORTED};
  call->ctx.AddMetadata("x-kinex-actor", kBenchActor);
  if (options_.kinex) {
    call->on_done = [this, child, kind, revision](Call& done) {
      auto& typed = static_cast<UnaryCall<ev1::PublishRecordResponse>&>(done);
      const grpc::StatusCode code = done.status.error_code();
      if (code == grpc::StatusCode::OK) {
        parts_->Published(child, kind, typed.response.etag(), revision + 1);
      } else if (code != grpc::StatusCode::ABORTED) {
        parts_->Forget(child, kind);  // it may or may not have been stored
      }
    };
  }
  call->reader = pt.stubs[c.Publisher(kind)]->PrepareAsyncPublishRecord(&call->ctx, req, cq);
  return call;
}

int64_t AuditedEvents(const LoadReport& report, int64_t list_entries) {
  auto count = [&](const std::string& kind, grpc::StatusCode code) -> int64_t {
    auto k = report.kinds.find(kind);
    if (k == report.kinds.end()) return 0;
    auto c = k->second.all_codes.find(code);
    return c == k->second.all_codes.end() ? 0 : c->second;
  };
  using C = grpc::StatusCode;
  return count("get", C::OK) + count("get", C::PERMISSION_DENIED) + count("get.denied", C::OK) +
         count("get.denied", C::PERMISSION_DENIED) + list_entries + count("publish", C::OK) +
         count("publish", C::ABORTED);
}

absl::StatusOr<std::vector<ev1::GetChildRecordResponse>> SampleKinexReplies(
    const std::string& address, const Population& pop, const std::vector<std::string>& kinex_ids,
    std::string& report) {
  std::vector<ev1::GetChildRecordResponse> out(kPrincipalCount);
  for (int p = 0; p < kPrincipalCount; ++p) {
    int child = -1;
    ReadAs as{};
    for (int i = 0; i < pop.size() && child < 0; ++i) {
      for (const auto& [read, weight] : pop.ReadersOf(i)) {
        if (read.principal == p) {
          child = i;
          as = read;
        }
      }
    }
    const BenchPrincipal& who = Principals()[p];
    if (child < 0) {
      absl::StrAppend(&report, absl::StrFormat("  %-58s reads no child here\n", who.Name()));
      continue;
    }
    KINEX_ASSIGN_OR_RETURN(auto channel, NewBenchChannel(address, who.CertBase(), 0));
    auto stub = ev1::Exchange::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", kBenchActor);
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kinex_ids[child]);
    FillRead(as, req);
    grpc::Status s = stub->GetChildRecord(&ctx, req, &out[p]);
    if (!s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "GetChildRecord as ", who.Name(), " for child ", child, " (",
          cv1::Purpose_Name(as.purpose), ") was refused (code ", static_cast<int>(s.error_code()),
          ": ", s.error_message(), "): the population and the policy disagree"));
    }
    absl::StrAppend(
        &report,
        absl::StrFormat("  %-58s %-17s record %5d of %5d bytes, receipt %5d bytes (%d paths)\n",
                        who.Name(), cv1::Purpose_Name(as.purpose), out[p].record().ByteSizeLong(),
                        pop.child(child).record_bytes, out[p].receipt().ByteSizeLong(),
                        out[p].receipt().disclosed_paths_size()));
  }
  return out;
}

RealisticBaseline::RealisticBaseline(const Population& pop,
                                     const std::vector<std::string>& kinex_ids,
                                     const std::vector<ev1::GetChildRecordResponse>& samples)
    : pop_(pop) {
  records_.reserve(pop.size());
  for (int i = 0; i < pop.size(); ++i) {
    records_.push_back(pop.MergedRecord(i, kinex_ids[i]));
    record_bytes_ += static_cast<int64_t>(records_.back().ByteSizeLong());
    child_by_id_[kinex_ids[i]] = i;
  }
  for (const ev1::GetChildRecordResponse& s : samples) {
    receipts_.push_back(s.receipt());
    if (request_id_.empty()) request_id_ = s.request_id();
  }
  receipts_.resize(kPrincipalCount);
  for (int p = 0; p < kPrincipalCount; ++p) principal_by_uri_[Principals()[p].SpiffeId()] = p;
  cohorts_.resize(kPrincipalCount);
  for (int p = 0; p < kPrincipalCount; ++p) {
    cohorts_[p] = pop.Cohort(p);
    std::sort(cohorts_[p].begin(), cohorts_[p].end(),
              [&](int a, int b) { return kinex_ids[a] < kinex_ids[b]; });
  }
}

int RealisticBaseline::Caller(const grpc::ServerContext& ctx) const {
  absl::StatusOr<SpiffeId> who = AuthenticatePeer(ctx, kinex::testing::kTrustDomain);
  if (!who.ok()) return -1;
  auto it = principal_by_uri_.find(who->uri);
  return it == principal_by_uri_.end() ? -1 : it->second;
}

grpc::Status RealisticBaseline::GetChildRecord(grpc::ServerContext* ctx,
                                               const ev1::GetChildRecordRequest* request,
                                               ev1::GetChildRecordResponse* response) {
  const int p = Caller(*ctx);
  auto it = child_by_id_.find(request->child().kinex_id());
  if (p < 0 || it == child_by_id_.end() || (pop_.ReaderMask(it->second) & (1u << p)) == 0) {
    // Kinex's refusal, the same length.
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("no record you may see for this child and purpose (request id ", request_id_,
                     ")"));
  }
  *response->mutable_record() = records_[it->second];
  *response->mutable_receipt() = receipts_[p];
  response->set_request_id(request_id_);
  return grpc::Status::OK;
}

grpc::Status RealisticBaseline::ListChildren(grpc::ServerContext* ctx,
                                             const ev1::ListChildrenRequest* request,
                                             ev1::ListChildrenResponse* response) {
  const int p = Caller(*ctx);
  if (p < 0) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "unknown caller");
  size_t offset = 0;
  if (!request->page_token().empty()) {
    std::vector<std::string> parts = absl::StrSplit(request->page_token(), '-');
    if (parts.size() < 3 || !absl::SimpleAtoi(parts[2], &offset)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token: not a token this listing returned");
    }
  }
  const std::vector<int>& cohort = cohorts_[p];
  const size_t want = request->page_size() > 0 ? static_cast<size_t>(request->page_size()) : 50;
  const size_t end = std::min(cohort.size(), offset + want);
  for (size_t i = offset; i < end; ++i) {
    ev1::CohortEntry* entry = response->add_children();
    *entry->mutable_record() = records_[cohort[i]];
    *entry->mutable_receipt() = receipts_[p];
  }
  if (end < cohort.size()) response->set_next_page_token(BaselineToken(p, end));
  return grpc::Status::OK;
}

grpc::Status RealisticBaseline::PublishRecord(grpc::ServerContext* ctx,
                                              const ev1::PublishRecordRequest* request,
                                              ev1::PublishRecordResponse* response) {
  const int p = Caller(*ctx);
  if (p < 0) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "unknown caller");
  response->set_kinex_id(request->child().kinex_id());
  response->set_etag(absl::StrFormat("%024x", etags_.fetch_add(1) + 1));
  response->set_version(2);
  const cv1::AgencyKind kind = Principals()[p].agency_kind;
  if (kind != cv1::LOCAL_AUTHORITY && kind != cv1::VIRTUAL_SCHOOL) {
    response->set_link_state(kinex::record::v1::CONFIRMED);
  }
  return grpc::Status::OK;
}

}  // namespace kinex::bench
