// kinex-bench: load for the exchange, on real processes over real mTLS.
//
// Benchmark (default): starts the full Kinex stack (KinexCluster: `kinex`
// processes, SQLite, durable audit), seeds children, then drives N
// closed-loop callers for --seconds after --warmup_seconds. In the same run
// it drives the same load, with the same client code, against a baseline: a
// bare in-process mTLS gRPC server (same gateway certificate, client
// certificate required) serving the same records unredacted, with no
// policy, consent or audit. Two workloads:
//   --workload=realistic (default): --children distinct children in kinship
//     care (population.h: parts from the LA, virtual school, school, health
//     and, for a share, police; records of varied size), seeded in bulk
//     through the API; reads spread over them with --skew by the principals
//     that may read each child, mixed with ListChildren pages
//     (--list_share) and republishes with current etags (--publish_share)
//     (realistic.h).
//   --workload=single: one child (the demo's Maisie, padded to about
//     --record_bytes) read over and over by the LA social worker.
// It prints per operation kind calls, errors by code, throughput and
// latency percentiles for both, the audit log's durability as read back from
// the running kinex (audit_durability.h), the Kinex/baseline ratios of
// throughput and p99 (only when the log is durable exactly as in
// production), and checks that the audit log grew by exactly one event per
// audited decision or write.
//
// Soak (--soak): load against `kinex --target=all` for --minutes: with
// --workload=realistic the realistic mix over --children; with
// --workload=single the mixed soak over the seven demo children (reads as
// several agencies and purposes, publishes with etags and stale etags,
// consent records and withdrawals, denials, break-glass reads). It reports
// operations by kind and outcome, unexpected outcomes, the kinex process's
// resident memory every 10 s and its growth after a warm-up, and audit
// events against the events the calls imply.
//
// Example:
//   build/bin/kinex-bench --callers=64 --seconds=10 --rounds=3
//   build/bin/kinex-bench --workload=single --callers=64 --seconds=10
//   build/bin/kinex-bench --soak --minutes=10 --callers=16
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/load/audit_durability.h"
#include "bench/load/audit_store_bytes.h"
#include "bench/load/load_driver.h"
#include "bench/load/population.h"
#include "bench/load/realistic.h"
#include "google/protobuf/util/json_util.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"
#include "tests/testing/paths.h"
#include "tests/testing/proc_fields.h"
#include "tests/testing/test_pki.h"

ABSL_FLAG(int, callers, 64, "Concurrent outstanding calls (default 64; soak: use fewer)");
ABSL_FLAG(int, client_threads, 2, "Client threads, each with its own CompletionQueue and channel");
ABSL_FLAG(double, seconds, 10, "Measured seconds per system per round (benchmark)");
ABSL_FLAG(int, rounds, 1,
          "Benchmark rounds, each Kinex then the baseline; with more than one, the "
          "ratio is of the median throughputs (this machine's speed drifts between runs)");
ABSL_FLAG(double, warmup_seconds, 2, "Warm-up seconds before measuring (benchmark)");
ABSL_FLAG(std::string, mode, "all", "Kinex topology: all (one process) or microservices");
ABSL_FLAG(std::string, only, "both", "kinex, baseline or both (benchmark)");
ABSL_FLAG(std::string, workload, "realistic",
          "realistic: --children distinct children, reads spread by --skew, ListChildren "
          "pages and republishes mixed in (bench/load/README.md); single: one child read "
          "over and over by the LA social worker (the benchmark before issue #17; with "
          "--soak, the demo children's mixed soak)");
ABSL_FLAG(int, children, 10000, "Realistic: distinct children seeded (1-100000)");
ABSL_FLAG(std::string, skew, "80/20",
          "Realistic: which children calls go to, over a random permutation of them: "
          "80/20 (80% of calls to a hot 20%), zipf (P(rank k) ~ 1/k^--zipf_s) or uniform");
ABSL_FLAG(double, zipf_s, 1.0, "Realistic, --skew=zipf: the exponent");
ABSL_FLAG(double, list_share, 0.05,
          "Realistic: share (0-1) of calls that are ListChildren pages (each principal pages "
          "on through its cohort)");
ABSL_FLAG(int, list_page_size, 20, "Realistic: ListChildren page size (1-500)");
ABSL_FLAG(double, publish_share, 0.05,
          "Realistic: share (0-1) of calls that republish a part with its current etag");
ABSL_FLAG(double, police_share, 0.25, "Realistic: share (0-1) of children with a police part");
ABSL_FLAG(int, record_median_bytes, 4000,
          "Realistic: median serialized size of a child's merged record (log-normal, "
          "sigma 0.45, clipped to --record_bytes)");
ABSL_FLAG(int, seed_concurrency, 64, "Realistic: publishes in flight while seeding");
ABSL_FLAG(uint64_t, seed, 1, "Realistic: seed of the population and of the call mix");
ABSL_FLAG(std::string, record, "full",
          "Single: full: the demo child padded with attendance sessions to --record_bytes; "
          "demo: the demo child as it is");
ABSL_FLAG(int, record_bytes, 8192,
          "Single (full): target serialized size of the assembled record. Realistic: the "
          "largest merged record");
ABSL_FLAG(double, deny_share, 0,
          "Benchmark: share (0-1) of reads made by an agency out of the child's scope (single: "
          "school 141999, not the child's school; realistic: the other school's DSL, the other "
          "LA's social worker or the other force), each answered PERMISSION_DENIED and "
          "audited");
ABSL_FLAG(bool, soak, false,
          "Run the soak (Kinex only, memory sampled) instead of the benchmark; --workload "
          "chooses its load");
ABSL_FLAG(double, minutes, 10, "Soak length in minutes");
ABSL_FLAG(double, rss_warmup_seconds, 60, "Soak: memory growth is measured after this");
ABSL_FLAG(double, sample_seconds, 10, "Soak: resident memory sampling period");
ABSL_FLAG(std::string, policy_decisions, "local",
          "--mode=microservices: where the gateway has reads decided, local (its own copy of "
          "the policy set, the default) or service (a call to the policy service per read)");
ABSL_FLAG(std::string, records_config, "",
          "Fields added to the records block of Kinex's config, to compare settings in one "
          "session, e.g. 'view_cache_mib: 0' (default: none)");

namespace kinex::bench {
namespace {

namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace av1 = kinex::audit::v1;
namespace consv1 = kinex::consent::v1;
namespace rv1 = kinex::record::v1;
using kinex::testing::KinexCluster;

constexpr const char* kActor = kBenchActor;

using kinex::testing::Agency;
const Agency kLaSw{"local-authority", "E09000033", "social-worker"};
const Agency kIro{"local-authority", "E09000033", "independent-reviewing-officer"};
const Agency kVsh{"virtual-school", "E09000033", "virtual-school-head"};
const Agency kDsl{"school", "137000", "designated-safeguarding-lead"};
const Agency kDt{"school", "137000", "designated-teacher"};
const Agency kOtherDsl{"school", "141999", "designated-safeguarding-lead"};
const Agency kHealth{"health", "Y01234", "health-practitioner"};
const Agency kPolice{"police", "01", "public-protection-officer"};
const Agency kAuditor{"auditor", "kinex-dpo", "auditor"};

// Makes the test PKI if it is missing (the script is idempotent).
absl::Status EnsurePki() {
  const std::string dir = kinex::testing::TestPkiDir();
  if (std::filesystem::exists(dir + "/ca.pem") &&
      std::filesystem::exists(dir + "/agencies/" + std::string("auditor-kinex-dpo-auditor.pem"))) {
    return absl::OkStatus();
  }
  const std::string cmd =
      absl::StrCat(kinex::testing::SourceDir(), "/certs/make-dev-pki.sh '", dir, "' >/dev/null");
  if (std::system(cmd.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("failed: ", cmd));
  }
  return absl::OkStatus();
}

// An mTLS channel of its own (its own connection: `index` makes the channel
// arguments differ, so gRPC does not share the subchannel).
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(const std::string& address,
                                                          const std::string& cert_base, int index) {
  return NewBenchChannel(address, cert_base, index);
}

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

// ---------------------------------------------------------------------------
// Seeding.

absl::StatusOr<ev1::PublishRecordResponse> PublishSync(const std::string& address, const Agency& a,
                                                       const ev1::PublishRecordRequest& req) {
  KINEX_ASSIGN_OR_RETURN(auto channel, NewChannel(address, a.CertBase(), 0));
  auto stub = ev1::Exchange::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", kActor);
  ev1::PublishRecordResponse resp;
  KINEX_RETURN_IF_ERROR(FromGrpc(stub->PublishRecord(&ctx, req, &resp),
                                 absl::StrCat("PublishRecord as ", a.CertBase())));
  return resp;
}

// Adds `n` morning/afternoon attendance sessions on school days from
// September 2025 to the school part.
void AddAttendanceSessions(rv1::ChildRecord& record, int n, const std::string& urn) {
  static const char* const kCodes[] = {"/", "\\", "/", "\\", "I", "M", "/", "\\", "O", "C"};
  absl::CivilDay day(2025, 9, 1);
  int added = 0;
  while (added < n) {
    const absl::Weekday wd = absl::GetWeekday(day);
    if (wd != absl::Weekday::saturday && wd != absl::Weekday::sunday) {
      for (rv1::SessionHalf half : {rv1::AM, rv1::PM}) {
        if (added == n) break;
        rv1::AttendanceSession* s = record.mutable_education()->add_attendance_sessions();
        s->mutable_date()->set_year(static_cast<int>(day.year()));
        s->mutable_date()->set_month(day.month());
        s->mutable_date()->set_day(day.day());
        s->set_half(half);
        s->set_code(kCodes[added % 10]);
        s->set_school_urn(urn);
        ++added;
      }
    }
    day += 1;
  }
}

// One published part that the soak may republish: who owns it and its etag.
struct Part {
  Agency owner;
  ev1::PublishRecordRequest request;  // child by kinex id, no etag
  std::string etag;
  std::string stale_etag;  // an etag this part had before: always stale now
  bool busy = false;
};

struct Seeded {
  std::map<std::string, std::string> kinex_ids;  // demo slug -> kinex id
  std::vector<Part> parts;
};

// Publishes a demo child from tools/demo/children/<slug>: the LA part first
// (by its la_child_id), then every other part by the returned kinex id.
absl::Status SeedChild(const std::string& address, const std::string& slug, Seeded& out,
                       int extra_sessions) {
  KINEX_ASSIGN_OR_RETURN(std::vector<kinex::testing::DemoPart> parts,
                         kinex::testing::DemoParts(slug));
  std::string kid;
  const kinex::record::v1::Date dob = parts.front().request.record().identity().date_of_birth();
  for (kinex::testing::DemoPart& p : parts) {
    ev1::PublishRecordRequest& req = p.request;
    if (!kid.empty()) {
      // Attach as demo_children.h does: the LA's Kinex id and the child's
      // date of birth (the LA's part names every agency, so each is confirmed).
      req.mutable_child()->set_kinex_id(kid);
      *req.mutable_proof_date_of_birth() = dob;
    }
    if (p.file == "school.json" && extra_sessions > 0) {
      AddAttendanceSessions(*req.mutable_record(), extra_sessions, p.owner.code);
    }
    KINEX_ASSIGN_OR_RETURN(ev1::PublishRecordResponse resp, PublishSync(address, p.owner, req));
    kid = resp.kinex_id();
    Part part{p.owner, req, resp.etag(), "", false};
    part.request.mutable_child()->set_kinex_id(kid);
    out.parts.push_back(std::move(part));
  }
  out.kinex_ids[slug] = kid;
  return absl::OkStatus();
}

absl::StatusOr<ev1::GetChildRecordResponse> GetSync(const std::string& address, const Agency& a,
                                                    const std::string& kinex_id,
                                                    cv1::Purpose purpose) {
  KINEX_ASSIGN_OR_RETURN(auto channel, NewChannel(address, a.CertBase(), 0));
  auto stub = ev1::Exchange::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", kActor);
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(kinex_id);
  req.set_purpose(purpose);
  ev1::GetChildRecordResponse resp;
  KINEX_RETURN_IF_ERROR(FromGrpc(stub->GetChildRecord(&ctx, req, &resp),
                                 absl::StrCat("GetChildRecord as ", a.CertBase())));
  return resp;
}

// The audit log's size, from a signed tree head fetched as the auditor
// through the gateway (in either topology: the audit service itself accepts
// Kinex services only).
absl::StatusOr<uint64_t> AuditTreeSize(const KinexCluster& cluster, const std::string& /*mode*/) {
  KINEX_ASSIGN_OR_RETURN(auto channel,
                         NewChannel(cluster.gateway_address(), kAuditor.CertBase(), 0));
  auto stub = av1::Audit::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", kActor);
  av1::SignedTreeHead head;
  KINEX_RETURN_IF_ERROR(
      FromGrpc(stub->GetSignedTreeHead(&ctx, {}, &head), "GetSignedTreeHead as the auditor"));
  return head.tree_size();
}

// ---------------------------------------------------------------------------
// Resident memory of the kinex processes this process started.

std::vector<pid_t> KinexChildPids() {
  std::vector<pid_t> pids;
  const pid_t self = getpid();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    const std::optional<kinex::testing::ProcStat> stat =
        kinex::testing::ReadProcStat(entry.path() / "stat");
    if (stat.has_value() && stat->ppid == self && stat->comm == "kinex") pids.push_back(pid);
  }
  return pids;
}

// A field of /proc/<pid>/status in kB (VmRSS, RssAnon, RssFile), or -1.
int64_t StatusKb(pid_t pid, const std::string& field = "VmRSS") {
  return kinex::testing::ProcField(absl::StrCat("/proc/", pid, "/status"), field);
}

// CPU seconds (user + system) used so far by `pid` (0 when it is gone).
double ProcessCpuSeconds(pid_t pid) {
  const std::optional<kinex::testing::ProcStat> stat =
      kinex::testing::ReadProcStat(absl::StrCat("/proc/", pid, "/stat"));
  return stat.has_value() ? stat->cpu_seconds : 0;
}

// CPU seconds used by the kinex processes this process started, and by this
// process itself (the client; in the baseline run also the baseline server).
struct CpuUse {
  double kinex = 0;
  double self = 0;
};
CpuUse CpuNow() {
  CpuUse c;
  for (pid_t p : KinexChildPids()) c.kinex += ProcessCpuSeconds(p);
  c.self = ProcessCpuSeconds(getpid());
  return c;
}

std::string CpuLine(const CpuUse& before, const CpuUse& after, int64_t calls) {
  const double n = calls > 0 ? static_cast<double>(calls) : 1;
  return absl::StrFormat(
      "cpu: kinex processes %.2f s (%.0f us/call), kinex-bench process %.2f s (%.0f us/call)",
      after.kinex - before.kinex, 1e6 * (after.kinex - before.kinex) / n, after.self - before.self,
      1e6 * (after.self - before.self) / n);
}

// The data directory of a kinex process (its --config file's directory).
std::string DataDirOf(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (absl::string_view arg : absl::StrSplit(all, '\0')) {
    if (absl::ConsumePrefix(&arg, "--config=")) {
      return std::filesystem::path(std::string(arg)).parent_path().string();
    }
  }
  return "";
}

// "audit 12.3 MB, records 1.0 MB, ..." for the SQLite files (with WAL) in `dir`.
std::string StoreSizes(const std::string& dir) {
  std::map<std::string, uintmax_t> sizes;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const std::string name = e.path().filename().string();
    if (name.find(".db") == std::string::npos && name.find("sqlite") == std::string::npos) {
      continue;
    }
    sizes[name.substr(0, name.find('.'))] += e.file_size(ec);
  }
  std::vector<std::string> parts;
  for (const auto& [name, bytes] : sizes) {
    parts.push_back(absl::StrFormat("%s %.1f MB", name, static_cast<double>(bytes) / 1e6));
  }
  return absl::StrJoin(parts, ", ");
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string line;
  std::getline(f, line);
  return line;
}

// The audit store's bytes now (audit_store_bytes.h), from the SQLite file
// the running kinex's config names; none (the reason printed) when the log
// is not on SQLite or the file cannot be read. `leaves_from`: the first
// entry whose stored leaf to count (the snapshot before's entries).
std::optional<AuditStoreSnapshot> SnapshotAuditStore(const std::string& audit_db,
                                                     int64_t leaves_from = 0) {
  if (audit_db.empty()) {
    std::cout << "audit store growth: not measured (the audit log is not on SQLite)\n";
    return std::nullopt;
  }
  absl::StatusOr<AuditStoreSnapshot> s = ReadAuditStore(audit_db, leaves_from);
  if (!s.ok()) {
    std::cout << "audit store growth: not measured (" << s.status() << ")\n";
    return std::nullopt;
  }
  return *std::move(s);
}

// Prints the store's growth between two snapshots, when both were taken.
void PrintAuditStoreGrowth(const std::optional<AuditStoreSnapshot>& before,
                           const std::optional<AuditStoreSnapshot>& after) {
  if (before.has_value() && after.has_value()) {
    std::cout << DescribeAuditStoreGrowth(*before, *after);
  }
}

std::string MachineLine() {
  return absl::StrCat("machine: nproc=", std::thread::hardware_concurrency(), " loadavg=\"",
                      LoadAverage(), "\"");
}

// ---------------------------------------------------------------------------
// Reporting.

std::string CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : absl::StrCat("CODE_", i);
}

std::string Codes(const std::map<grpc::StatusCode, int64_t>& codes, bool errors_only) {
  std::vector<std::string> parts;
  for (const auto& [code, n] : codes) {
    if (errors_only && code == grpc::StatusCode::OK) continue;
    parts.push_back(absl::StrCat(CodeName(code), "=", n));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, " ");
}

struct Summary {
  std::string name;
  int64_t calls = 0;
  int64_t ok = 0;
  double throughput = 0;  // calls/s completed in the window
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
  std::map<grpc::StatusCode, int64_t> codes;
};

Summary Summarize(const std::string& name, const LoadReport& r) {
  Summary s;
  s.name = name;
  s.calls = r.WindowCalls();
  s.ok = r.WindowOk();
  s.throughput = static_cast<double>(s.calls) / absl::ToDoubleSeconds(r.window);
  const std::vector<uint32_t> lat = r.SortedWindowLatencies();
  s.p50 = PercentileMs(lat, 0.50);
  s.p90 = PercentileMs(lat, 0.90);
  s.p99 = PercentileMs(lat, 0.99);
  s.max = lat.empty() ? 0 : lat.back() / 1000.0;
  for (const auto& [kind, k] : r.kinds) {
    for (const auto& [code, n] : k.window_codes) s.codes[code] += n;
  }
  return s;
}

void PrintSummary(const Summary& s) {
  std::cout << absl::StrFormat(
      "%-9s calls=%d errors=[%s] throughput=%.0f calls/s p50=%.2f ms p90=%.2f ms p99=%.2f ms "
      "max=%.2f ms\n",
      s.name, s.calls, Codes(s.codes, true), s.throughput, s.p50, s.p90, s.p99, s.max);
}

// ---------------------------------------------------------------------------
// The baseline: a bare mTLS server answering GetChildRecord with a fixed
// response. No policy, consent or audit.

class BaselineExchange final : public ev1::Exchange::Service {
 public:
  explicit BaselineExchange(ev1::GetChildRecordResponse response)
      : response_(std::move(response)) {}
  grpc::Status GetChildRecord(grpc::ServerContext*, const ev1::GetChildRecordRequest*,
                              ev1::GetChildRecordResponse* response) override {
    *response = response_;
    return grpc::Status::OK;
  }

 private:
  const ev1::GetChildRecordResponse response_;
};

// ---------------------------------------------------------------------------
// The benchmark.

LoadDriver::Options DriverOptions(double warmup, double seconds) {
  LoadDriver::Options o;
  o.callers = absl::GetFlag(FLAGS_callers);
  o.threads = absl::GetFlag(FLAGS_client_threads);
  o.warmup = absl::Seconds(warmup);
  o.duration = absl::Seconds(seconds);
  return o;
}

// Drives GetChildRecord load at `address` as the LA social worker; with
// `deny_share` > 0 that share of the reads (chosen at random per call) comes
// from an out-of-scope school instead (kind "GetChildRecord.denied",
// expected PERMISSION_DENIED).
absl::StatusOr<LoadReport> DriveReads(const std::string& address, const std::string& kinex_id,
                                      const LoadDriver::Options& options, double deny_share = 0) {
  std::vector<std::unique_ptr<ev1::Exchange::Stub>> stubs, deny_stubs;
  std::vector<std::mt19937> rngs;
  for (int t = 0; t < std::max(1, options.threads); ++t) {
    KINEX_ASSIGN_OR_RETURN(auto channel, NewChannel(address, kLaSw.CertBase(), t + 1));
    if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
      return absl::UnavailableError(absl::StrCat("could not connect to ", address));
    }
    stubs.push_back(ev1::Exchange::NewStub(channel));
    if (deny_share > 0) {
      KINEX_ASSIGN_OR_RETURN(auto other, NewChannel(address, kOtherDsl.CertBase(), t + 1));
      if (!other->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
        return absl::UnavailableError(absl::StrCat("could not connect to ", address));
      }
      deny_stubs.push_back(ev1::Exchange::NewStub(other));
    }
    rngs.emplace_back(1234 + t);
  }
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(kinex_id);
  req.set_purpose(cv1::CARE_PLANNING);
  ev1::GetChildRecordRequest deny_req = req;
  deny_req.set_purpose(cv1::EDUCATION_SUPPORT);
  return LoadDriver::Run(options, [&](int thread, grpc::CompletionQueue* cq) {
    const bool deny =
        deny_share > 0 && std::uniform_real_distribution<double>(0, 1)(rngs[thread]) < deny_share;
    auto call = std::make_unique<UnaryCall<ev1::GetChildRecordResponse>>(
        deny ? "GetChildRecord.denied" : "GetChildRecord");
    call->ctx.AddMetadata("x-kinex-actor", kActor);
    if (deny) {
      call->expected = {grpc::StatusCode::PERMISSION_DENIED};
      call->reader = deny_stubs[thread]->PrepareAsyncGetChildRecord(&call->ctx, deny_req, cq);
    } else {
      call->reader = stubs[thread]->PrepareAsyncGetChildRecord(&call->ctx, req, cq);
    }
    return call;
  });
}

// Kinex on SQLite with durable audit, in --mode's topology, with the
// gateway's per-agency rate limits and in-flight cap raised out of the way
// of the load (the cap, default 32, would refuse half of 64 callers).
// `probe` (audit_durability.h) is preloaded into every kinex process, to
// read back how durable its audit log is.
absl::StatusOr<std::unique_ptr<KinexCluster>> StartLoadCluster(const std::string& mode,
                                                               const DurabilityProbe& probe) {
  if (!probe.available()) {
    std::cout << "durability probe unavailable: " << probe.unavailable_reason() << "\n";
  }
  return KinexCluster::Start({.mode = mode == "microservices" ? KinexCluster::Mode::kMicroservices
                                                              : KinexCluster::Mode::kAllInOne,
                              .postgres = false,
                              .extra_config =
                                  "gateway { rate_limit_per_agency: 1e9 rate_limit_burst: 1000000 "
                                  "max_in_flight_per_agency: 100000 }\n",
                              .records_config = absl::GetFlag(FLAGS_records_config),
                              .env = probe.Env(),
                              .policy_service_decides =
                                  absl::GetFlag(FLAGS_policy_decisions) == "service"});
}

// The Kinex/baseline ratios against issue #17's targets (throughput at
// least 0.8x the bare server's, p99 at most 1.5x its p99), or why none may
// be given: a figure measured with an audit log that is not durable as in
// production is not Kinex's.
std::string RatioLine(double kinex_tp, double baseline_tp, double kinex_p99, double baseline_p99,
                      const Durability& durability) {
  if (!durability.durable) {
    return absl::StrCat("NO RATIO: the audit log did not run as in production (",
                        durability.why_not, ")");
  }
  const double tp = baseline_tp > 0 ? kinex_tp / baseline_tp : 0;
  const double p99 = baseline_p99 > 0 ? kinex_p99 / baseline_p99 : 0;
  return absl::StrFormat(
      "throughput %.1f%% of the baseline's (target >= 80%%: %s); p99 %.2fx the baseline's "
      "(%.2f ms against %.2f ms; target <= 1.5x: %s)",
      100 * tp, tp >= 0.8 ? "met" : "NOT met", p99, kinex_p99, baseline_p99,
      p99 <= 1.5 ? "met" : "NOT met");
}

// Runs --rounds rounds, Kinex then the baseline in each (either may be
// off), and prints each round's ratio after `label` and, over several
// rounds, the medians, the per-round throughput ratios and the ratio of the
// medians; ratios are withheld unless every round's audit log was durable
// (`durabilities`, one per Kinex run, filled by `kinex_once`). 1 when a run
// failed, else 0.
int RunRounds(bool run_kinex, bool run_baseline,
              const std::function<std::optional<Summary>(int round)>& kinex_once,
              const std::function<std::optional<Summary>(int round)>& baseline_once,
              const std::vector<Durability>& durabilities, absl::string_view label) {
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  std::vector<Summary> kinex_runs, baseline_runs;
  for (int round = 1; round <= rounds; ++round) {
    if (rounds > 1) std::cout << "round " << round << " of " << rounds << "\n";
    if (run_kinex) {
      std::optional<Summary> k = kinex_once(round);
      if (!k.has_value()) return 1;
      kinex_runs.push_back(*k);
    }
    if (run_baseline) {
      std::optional<Summary> b = baseline_once(round);
      if (!b.has_value()) return 1;
      baseline_runs.push_back(*b);
    }
    if (run_kinex && run_baseline) {
      const Summary& k = kinex_runs.back();
      const Summary& b = baseline_runs.back();
      std::cout << label << ": "
                << RatioLine(k.throughput, b.throughput, k.p99, b.p99, durabilities.back()) << "\n";
    }
  }
  if (rounds == 1 || !run_kinex || !run_baseline) return 0;
  auto median = [](std::vector<Summary> runs, double Summary::*field) {
    std::sort(runs.begin(), runs.end(),
              [field](const Summary& a, const Summary& b) { return a.*field < b.*field; });
    const size_t n = runs.size();
    return n % 2 ? runs[n / 2].*field : (runs[n / 2 - 1].*field + runs[n / 2].*field) / 2;
  };
  Durability all_rounds = durabilities.front();
  for (const Durability& d : durabilities) {
    if (!d.durable) all_rounds = d;
  }
  std::vector<std::string> ratios;
  for (int i = 0; i < rounds && all_rounds.durable; ++i) {
    ratios.push_back(absl::StrFormat(
        "%.1f%%", 100 * kinex_runs[i].throughput / std::max(1e-9, baseline_runs[i].throughput)));
  }
  const double k = median(kinex_runs, &Summary::throughput);
  const double b = median(baseline_runs, &Summary::throughput);
  std::cout << absl::StrFormat(
      "medians over %d rounds: kinex %.0f calls/s p50 %.2f ms p99 %.2f ms; baseline %.0f "
      "calls/s p50 %.2f ms p99 %.2f ms; per-round throughput ratios [%s]\n",
      rounds, k, median(kinex_runs, &Summary::p50), median(kinex_runs, &Summary::p99), b,
      median(baseline_runs, &Summary::p50), median(baseline_runs, &Summary::p99),
      all_rounds.durable ? absl::StrJoin(ratios, ", ") : "withheld");
  std::cout << "kinex/baseline, medians: "
            << RatioLine(k, b, median(kinex_runs, &Summary::p99),
                         median(baseline_runs, &Summary::p99), all_rounds)
            << "\n";
  return 0;
}

int RunSingleBenchmark() {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string only = absl::GetFlag(FLAGS_only);
  const bool run_kinex = only == "both" || only == "kinex";
  const bool run_baseline = only == "both" || only == "baseline";
  std::cout << MachineLine() << "\n";
  std::cout << absl::StrFormat(
      "config: workload=single callers=%d client_threads=%d warmup=%.0fs seconds=%.0fs "
      "mode=%s record=%s deny_share=%.2f\n",
      absl::GetFlag(FLAGS_callers), absl::GetFlag(FLAGS_client_threads),
      absl::GetFlag(FLAGS_warmup_seconds), absl::GetFlag(FLAGS_seconds), mode,
      absl::GetFlag(FLAGS_record), absl::GetFlag(FLAGS_deny_share));

  // The Kinex stack (also the source of the record the baseline serves).
  absl::StatusOr<DurabilityProbe> probe = DurabilityProbe::Create();
  if (!probe.ok()) {
    std::cerr << "durability probe: " << probe.status() << "\n";
    return 1;
  }
  auto cluster = StartLoadCluster(mode, *probe);
  if (!cluster.ok()) {
    std::cerr << "starting Kinex: " << cluster.status() << "\n";
    return 1;
  }
  const std::string gw = (*cluster)->gateway_address();

  // Seed: the demo child, then (full) pad the school part so the assembled
  // record is about --record_bytes.
  Seeded seeded;
  if (absl::Status s = SeedChild(gw, "maisie-thornbury", seeded, 0); !s.ok()) {
    std::cerr << "seeding: " << s << "\n";
    return 1;
  }
  const std::string kid = seeded.kinex_ids["maisie-thornbury"];
  if (absl::GetFlag(FLAGS_record) == "full") {
    auto first = GetSync(gw, kLaSw, kid, cv1::CARE_PLANNING);
    if (!first.ok()) {
      std::cerr << first.status() << "\n";
      return 1;
    }
    rv1::ChildRecord one, two;
    AddAttendanceSessions(one, 1, "137000");
    AddAttendanceSessions(two, 2, "137000");
    const int64_t per = static_cast<int64_t>(two.ByteSizeLong() - one.ByteSizeLong());
    const int64_t missing =
        absl::GetFlag(FLAGS_record_bytes) - static_cast<int64_t>(first->record().ByteSizeLong());
    const int n = missing > 0 ? static_cast<int>(missing / per) : 0;
    for (Part& p : seeded.parts) {
      if (p.owner.kind != "school") continue;
      ev1::PublishRecordRequest update = p.request;
      AddAttendanceSessions(*update.mutable_record(), n, "137000");
      update.set_etag(p.etag);
      auto done = PublishSync(gw, p.owner, update);
      if (!done.ok()) {
        std::cerr << "padding the school part: " << done.status() << "\n";
        return 1;
      }
      update.clear_etag();
      p.request = std::move(update);
      p.stale_etag = p.etag;
      p.etag = done->etag();
    }
    std::cout << "seeded: school part padded with " << n << " attendance sessions (" << per
              << " bytes each)\n";
  }
  auto check = GetSync(gw, kLaSw, kid, cv1::CARE_PLANNING);
  if (!check.ok()) {
    std::cerr << "first GetChildRecord: " << check.status() << "\n";
    return 1;
  }
  std::cout << "first Kinex reply: OK, record " << check->record().ByteSizeLong()
            << " bytes, whole response " << check->ByteSizeLong() << " bytes ("
            << check->receipt().disclosed_paths_size() << " disclosed paths, "
            << check->receipt().withheld_size() << " withheld categories)\n";

  // The unredacted record: every published part merged, as records stores
  // them. The baseline returns it with the same receipt bytes Kinex sent,
  // so both replies are about the same size on the wire.
  ev1::GetChildRecordResponse baseline_reply;
  {
    rv1::ChildRecord full;
    for (const Part& p : seeded.parts) full.MergeFrom(p.request.record());
    full.mutable_identity()->set_kinex_id(kid);
    *baseline_reply.mutable_record() = std::move(full);
    *baseline_reply.mutable_receipt() = check->receipt();
    baseline_reply.set_request_id(check->request_id());
  }
  std::cout << "baseline reply: record " << baseline_reply.record().ByteSizeLong()
            << " bytes (unredacted), whole response " << baseline_reply.ByteSizeLong()
            << " bytes\n";

  const LoadDriver::Options options =
      DriverOptions(absl::GetFlag(FLAGS_warmup_seconds), absl::GetFlag(FLAGS_seconds));

  // One Kinex run: load, CPU, the audit check (one event per OK call), and
  // the audit log's durability as it ran.
  std::vector<Durability> durabilities;
  auto run_kinex_once = [&]() -> std::optional<Summary> {
    auto before = AuditTreeSize(**cluster, mode);
    if (!before.ok()) {
      std::cerr << before.status() << "\n";
      return std::nullopt;
    }
    const std::string audit_db = CheckDurability(*probe, KinexChildPids(), {}, 0).audit_db;
    const std::optional<AuditStoreSnapshot> store0 = SnapshotAuditStore(audit_db);
    std::cout << "running Kinex (" << mode << ") ..." << std::endl;
    const SyncCounts syncs0 = probe->Syncs();
    const CpuUse cpu0 = CpuNow();
    auto report = DriveReads(gw, kid, options, absl::GetFlag(FLAGS_deny_share));
    const CpuUse cpu1 = CpuNow();
    const SyncCounts syncs1 = probe->Syncs();
    if (!report.ok()) {
      std::cerr << report.status() << "\n";
      return std::nullopt;
    }
    auto after = AuditTreeSize(**cluster, mode);
    if (!after.ok()) {
      std::cerr << after.status() << "\n";
      return std::nullopt;
    }
    const std::optional<AuditStoreSnapshot> store1 =
        store0.has_value() ? SnapshotAuditStore(audit_db, store0->entries) : std::nullopt;
    Summary summary = Summarize("kinex", *report);
    PrintSummary(summary);
    std::cout << CpuLine(cpu0, cpu1, report->TotalCalls()) << " over all " << report->TotalCalls()
              << " calls (warm-up included)\n";
    // Every decision is one audit event: each allowed read and each denial.
    std::map<grpc::StatusCode, int64_t> all = report->kinds["GetChildRecord"].all_codes;
    const auto& denied_codes = report->kinds["GetChildRecord.denied"].all_codes;
    for (const auto& [code, n] : denied_codes) {
      if (code != grpc::StatusCode::OK) all[code] += n;
    }
    const int64_t all_ok = all.count(grpc::StatusCode::OK) ? all.at(grpc::StatusCode::OK) : 0;
    const int64_t denied = denied_codes.count(grpc::StatusCode::PERMISSION_DENIED)
                               ? denied_codes.at(grpc::StatusCode::PERMISSION_DENIED)
                               : 0;
    if (denied_codes.count(grpc::StatusCode::OK)) {
      std::cerr << "an out-of-scope read was answered OK\n";
      return std::nullopt;
    }
    if (report->kinds.count("GetChildRecord.denied")) {
      for (const auto& [kind, k] : report->kinds) {
        std::vector<uint32_t> lat = k.window_latency_us;
        std::sort(lat.begin(), lat.end());
        std::cout << absl::StrFormat("  %-21s window calls=%d p50=%.2f ms p99=%.2f ms\n", kind,
                                     lat.size(), PercentileMs(lat, 0.5), PercentileMs(lat, 0.99));
      }
    }
    const int64_t delta = static_cast<int64_t>(*after - *before);
    std::cout << absl::StrFormat(
        "kinex audit: tree_size %d -> %d (+%d); successful calls including warm-up %d, "
        "denials %d; all calls [%s]: %s\n",
        *before, *after, delta, all_ok, denied, Codes(all, false),
        delta == all_ok + denied ? "OK, one event per decision"
                                 : "MISMATCH: not one event per decision");
    PrintAuditStoreGrowth(store0, store1);
    durabilities.push_back(
        CheckDurability(*probe, KinexChildPids(), syncs1 - syncs0, all_ok + denied));
    std::cout << durabilities.back().Describe();
    std::cout << MachineLine() << "\n";
    if (delta != all_ok + denied) return std::nullopt;
    return summary;
  };

  // The baseline server stays up across rounds.
  std::unique_ptr<BaselineExchange> baseline_service;
  std::unique_ptr<grpc::Server> baseline_server;
  std::string baseline_address;
  if (run_baseline) {
    kinex::TlsFiles files = kinex::testing::ServiceTlsFiles("gateway");
    auto creds = MakeServerCredentials(files);
    if (!creds.ok()) {
      std::cerr << creds.status() << "\n";
      return 1;
    }
    baseline_service = std::make_unique<BaselineExchange>(baseline_reply);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port);
    builder.RegisterService(baseline_service.get());
    baseline_server = builder.BuildAndStart();
    if (baseline_server == nullptr || port == 0) {
      std::cerr << "baseline server did not start\n";
      return 1;
    }
    baseline_address = absl::StrCat("localhost:", port);
    auto first = GetSync(baseline_address, kLaSw, kid, cv1::CARE_PLANNING);
    if (!first.ok()) {
      std::cerr << "baseline first call: " << first.status() << "\n";
      return 1;
    }
  }
  auto run_baseline_once = [&]() -> std::optional<Summary> {
    std::cout << "running baseline (bare mTLS server in-process) ..." << std::endl;
    const CpuUse cpu0 = CpuNow();
    auto report = DriveReads(baseline_address, kid, options);
    const CpuUse cpu1 = CpuNow();
    if (!report.ok()) {
      std::cerr << report.status() << "\n";
      return std::nullopt;
    }
    Summary summary = Summarize("baseline", *report);
    PrintSummary(summary);
    std::cout << CpuLine(cpu0, cpu1, report->TotalCalls()) << " over all " << report->TotalCalls()
              << " calls (client and baseline server)\n";
    std::cout << MachineLine() << "\n";
    return summary;
  };

  const int status = RunRounds(
      run_kinex, run_baseline, [&](int) { return run_kinex_once(); },
      [&](int) { return run_baseline_once(); }, durabilities, "kinex/baseline");
  if (baseline_server != nullptr) {
    baseline_server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }
  return status;
}

// ---------------------------------------------------------------------------
// The soak.

class Soak {
 public:
  Soak(const KinexCluster& cluster, Seeded seeded)
      : cluster_(cluster),
        ids_(seeded.kinex_ids),
        seeded_parts_size_(seeded.parts.size()),
        seeded_(std::move(seeded)) {}

  // Opens one channel per agency per client thread (before the run).
  absl::Status Connect(int threads) {
    std::vector<Agency> agencies = {kLaSw,     kIro,    kVsh,    kDsl,    kDt,
                                    kOtherDsl, kHealth, kPolice, kAuditor};
    {
      absl::MutexLock lock(&mu_);
      for (const Part& p : seeded_.parts) agencies.push_back(p.owner);
    }
    for (int t = 0; t < threads; ++t) {
      std::map<std::string, Stubs> by_agency;
      for (const Agency& a : agencies) {
        if (by_agency.count(a.CertBase())) continue;
        KINEX_ASSIGN_OR_RETURN(auto ch,
                               NewChannel(cluster_.gateway_address(), a.CertBase(), t + 1));
        by_agency[a.CertBase()] = {ev1::Exchange::NewStub(ch), consv1::Consent::NewStub(ch)};
      }
      stubs_.push_back(std::move(by_agency));
    }
    return absl::OkStatus();
  }

  // The next operation, by weight.
  std::unique_ptr<Call> Next(int thread, grpc::CompletionQueue* cq) {
    int pick;
    {
      absl::MutexLock lock(&mu_);
      pick = std::uniform_int_distribution<int>(0, 99)(rng_);
    }
    const std::string& maisie = ids_.at("maisie-thornbury");
    const std::string& leo = ids_.at("leo-ashworth");
    const std::string& esme = ids_.at("esme-caldwell");
    const std::string& ruby = ids_.at("ruby-hartwell");
    const std::string why = "Soak: reviewing the care plan ahead of a statutory visit";
    const std::string urgent = "Child reported missing overnight; urgent risk assessment";
    using C = grpc::StatusCode;
    // Allowed reads.
    if (pick < 20)
      return Read(thread, cq, "read.la_sw.care_planning", kLaSw, maisie, cv1::CARE_PLANNING, "",
                  false, {C::OK});
    if (pick < 30)
      return Read(thread, cq, "read.vsh.education_support", kVsh, leo, cv1::EDUCATION_SUPPORT, "",
                  false, {C::OK});
    if (pick < 38)
      return Read(thread, cq, "read.dsl.safeguarding", kDsl, ruby, cv1::SAFEGUARDING, "", false,
                  {C::OK});
    if (pick < 46)
      return Read(thread, cq, "read.health.health_care", kHealth, maisie, cv1::HEALTH_CARE, why,
                  false, {C::OK});
    if (pick < 52)
      return Read(thread, cq, "read.iro.care_planning", kIro, maisie, cv1::CARE_PLANNING, why,
                  false, {C::OK});
    if (pick < 58)
      return Read(thread, cq, "read.police.safeguarding", kPolice, maisie, cv1::SAFEGUARDING, why,
                  false, {C::OK});
    // Break-glass.
    if (pick < 63)
      return Read(thread, cq, "read.police.break_glass", kPolice, maisie, cv1::SAFEGUARDING, urgent,
                  true, {C::OK});
    // Denials.
    if (pick < 67)
      return Read(thread, cq, "deny.auditor_read", kAuditor, maisie, cv1::SAFEGUARDING, "", false,
                  {C::PERMISSION_DENIED});
    if (pick < 71)
      return Read(thread, cq, "deny.school_out_of_scope", kOtherDsl, maisie, cv1::SAFEGUARDING, "",
                  false, {C::PERMISSION_DENIED});
    if (pick < 74)
      return Read(thread, cq, "deny.vsh_other_la", kVsh, esme, cv1::EDUCATION_SUPPORT, "", false,
                  {C::PERMISSION_DENIED});
    if (pick < 76)
      return Read(thread, cq, "deny.unknown_child", kLaSw, "kx_0000benchunknownchild0000",
                  cv1::CARE_PLANNING, "", false, {C::PERMISSION_DENIED});
    // Invalid break-glass: refused before any decision (not audited).
    if (pick < 77)
      return Read(thread, cq, "invalid.break_glass_short_justification", kPolice, maisie,
                  cv1::SAFEGUARDING, "urgent", true, {C::INVALID_ARGUMENT});
    // Publishes.
    if (pick < 85) return Publish(thread, cq, false);
    if (pick < 87) return Publish(thread, cq, true);
    // Consent changes.
    if (pick < 93) return ConsentChange(thread, cq, maisie, leo);
    if (pick < 95) return ConsentDenied(thread, cq, maisie);
    return Read(thread, cq, "read.la_sw.care_planning", kLaSw, maisie, cv1::CARE_PLANNING, "",
                false, {C::OK});
  }

  int64_t decisions() const { return decisions_.load(); }

 private:
  struct Stubs {
    std::unique_ptr<ev1::Exchange::Stub> exchange;
    std::unique_ptr<consv1::Consent::Stub> consent;
  };

  Stubs& StubsFor(int thread, const Agency& a) { return stubs_[thread].at(a.CertBase()); }

  std::unique_ptr<Call> Read(int thread, grpc::CompletionQueue* cq, const std::string& kind,
                             const Agency& a, const std::string& kid, cv1::Purpose purpose,
                             const std::string& justification, bool break_glass,
                             std::set<grpc::StatusCode> expected) {
    auto call = std::make_unique<UnaryCall<ev1::GetChildRecordResponse>>(kind);
    call->expected = std::move(expected);
    call->ctx.AddMetadata("x-kinex-actor", kActor);
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kid);
    req.set_purpose(purpose);
    req.set_justification(justification);
    req.set_break_glass(break_glass);
    call->on_done = [this](Call& c) {
      const grpc::StatusCode code = c.status.error_code();
      if (code == grpc::StatusCode::OK || code == grpc::StatusCode::PERMISSION_DENIED) {
        decisions_.fetch_add(1);
      }
    };
    call->reader = StubsFor(thread, a).exchange->PrepareAsyncGetChildRecord(&call->ctx, req, cq);
    return call;
  }

  // Republishes a part with its current etag (an update: the attendance
  // summary changes), or with a stale one (expected ABORTED). Parts are
  // updated one at a time each; when every part is busy, reads instead.
  std::unique_ptr<Call> Publish(int thread, grpc::CompletionQueue* cq, bool stale) {
    ev1::PublishRecordRequest req;
    Agency owner;
    size_t index = 0;
    {
      absl::MutexLock lock(&mu_);
      std::vector<size_t> free;
      for (size_t i = 0; i < seeded_.parts.size(); ++i) {
        const Part& p = seeded_.parts[i];
        if (stale ? !p.stale_etag.empty() : !p.busy) free.push_back(i);
      }
      if (free.empty()) {
        stale = false;
      } else {
        index = free[std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng_)];
        Part& p = seeded_.parts[index];
        req = p.request;
        req.set_etag(stale ? p.stale_etag : p.etag);
        owner = p.owner;
        if (!stale) p.busy = true;
        ++publish_serial_;
        // A real change to school parts, so a new version differs.
        if (p.owner.kind == "school") {
          req.mutable_record()
              ->mutable_education()
              ->mutable_attendance_summary()
              ->set_possible_sessions(100 + static_cast<int>(publish_serial_ % 1000));
        }
      }
      if (free.empty()) index = seeded_.parts.size();
    }
    if (index == seeded_parts_size_) {
      return Read(thread, cq, "read.la_sw.care_planning", kLaSw, ids_.at("maisie-thornbury"),
                  cv1::CARE_PLANNING, "", false, {grpc::StatusCode::OK});
    }
    auto call = std::make_unique<UnaryCall<ev1::PublishRecordResponse>>(stale ? "publish.stale_etag"
                                                                              : "publish.update");
    call->expected = {stale ? grpc::StatusCode::ABORTED : grpc::StatusCode::OK};
    call->ctx.AddMetadata("x-kinex-actor", kActor);
    if (!stale) {
      call->on_done = [this, index](Call& c) {
        auto& typed = static_cast<UnaryCall<ev1::PublishRecordResponse>&>(c);
        absl::MutexLock lock(&mu_);
        Part& p = seeded_.parts[index];
        if (c.status.ok()) {
          p.stale_etag = p.etag;
          p.etag = typed.response.etag();
        }
        p.busy = false;
      };
    }
    call->reader = StubsFor(thread, owner).exchange->PrepareAsyncPublishRecord(&call->ctx, req, cq);
    return call;
  }

  // Records a consent (the LA social worker for Maisie, or the VSH for Leo)
  // or withdraws one recorded earlier by the same agency.
  std::unique_ptr<Call> ConsentChange(int thread, grpc::CompletionQueue* cq,
                                      const std::string& maisie, const std::string& leo) {
    std::string withdraw_id;
    Agency who;
    bool by_vsh;
    {
      absl::MutexLock lock(&mu_);
      by_vsh = std::uniform_int_distribution<int>(0, 1)(rng_) == 1;
      auto& queue = by_vsh ? vsh_consents_ : la_consents_;
      const bool withdraw =
          !queue.empty() && (queue.size() > 50 || std::uniform_int_distribution<int>(0, 1)(rng_));
      if (withdraw) {
        withdraw_id = queue.front();
        queue.pop_front();
      }
      who = by_vsh ? kVsh : kLaSw;
    }
    if (!withdraw_id.empty()) {
      auto call = std::make_unique<UnaryCall<consv1::WithdrawConsentResponse>>(
          by_vsh ? "consent.withdraw.vsh" : "consent.withdraw.la_sw");
      call->ctx.AddMetadata("x-kinex-actor", kActor);
      consv1::WithdrawConsentRequest req;
      req.set_consent_id(withdraw_id);
      req.set_reason("Soak: the person with parental responsibility changed their mind");
      call->reader =
          StubsFor(thread, who).consent->PrepareAsyncWithdrawConsent(&call->ctx, req, cq);
      return call;
    }
    auto call = std::make_unique<UnaryCall<consv1::RecordConsentResponse>>(
        by_vsh ? "consent.record.vsh" : "consent.record.la_sw");
    call->ctx.AddMetadata("x-kinex-actor", kActor);
    consv1::RecordConsentRequest req;
    req.mutable_child()->set_kinex_id(by_vsh ? leo : maisie);
    auto* grant = req.mutable_entry()->mutable_consent();
    grant->set_decision(consv1::CONSENT_GIVEN);
    grant->mutable_given_by()->set_kind(consv1::PARENTAL_RESPONSIBILITY_HOLDER);
    grant->mutable_given_by()->set_name(by_vsh ? "Margaret Ashworth" : "Jean Thornbury");
    grant->mutable_given_by()->set_relationship(by_vsh ? consv1::SPECIAL_GUARDIAN
                                                       : consv1::OTHER_PR_HOLDER);
    grant->mutable_scope()->add_categories(rv1::HEALTH);
    grant->mutable_scope()->add_recipient_kinds(cv1::VIRTUAL_SCHOOL);
    grant->mutable_scope()->add_purposes(cv1::EDUCATION_SUPPORT);
    call->on_done = [this, by_vsh](Call& c) {
      if (!c.status.ok()) return;
      auto& typed = static_cast<UnaryCall<consv1::RecordConsentResponse>&>(c);
      absl::MutexLock lock(&mu_);
      (by_vsh ? vsh_consents_ : la_consents_).push_back(typed.response.consent_id());
    };
    call->reader = StubsFor(thread, who).consent->PrepareAsyncRecordConsent(&call->ctx, req, cq);
    return call;
  }

  // A school may not record consent: expected PERMISSION_DENIED.
  std::unique_ptr<Call> ConsentDenied(int thread, grpc::CompletionQueue* cq,
                                      const std::string& maisie) {
    auto call =
        std::make_unique<UnaryCall<consv1::RecordConsentResponse>>("deny.consent_record_by_school");
    call->expected = {grpc::StatusCode::PERMISSION_DENIED};
    call->ctx.AddMetadata("x-kinex-actor", kActor);
    consv1::RecordConsentRequest req;
    req.mutable_child()->set_kinex_id(maisie);
    auto* grant = req.mutable_entry()->mutable_consent();
    grant->set_decision(consv1::CONSENT_GIVEN);
    grant->mutable_given_by()->set_kind(consv1::PARENTAL_RESPONSIBILITY_HOLDER);
    grant->mutable_given_by()->set_name("Jean Thornbury");
    grant->mutable_given_by()->set_relationship(consv1::OTHER_PR_HOLDER);
    grant->mutable_scope()->add_categories(rv1::HEALTH);
    grant->mutable_scope()->add_recipient_kinds(cv1::SCHOOL);
    grant->mutable_scope()->add_purposes(cv1::SAFEGUARDING);
    call->reader = StubsFor(thread, kDsl).consent->PrepareAsyncRecordConsent(&call->ctx, req, cq);
    return call;
  }

  const KinexCluster& cluster_;
  const std::map<std::string, std::string> ids_;  // demo slug -> kinex id
  const size_t seeded_parts_size_;                // parts never change in number
  absl::Mutex mu_;
  Seeded seeded_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_){42};
  int64_t publish_serial_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::string> la_consents_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> vsh_consents_ ABSL_GUARDED_BY(mu_);
  // Written before the run only; read-only while it runs.
  std::vector<std::map<std::string, Stubs>> stubs_;
  std::atomic<int64_t> decisions_{0};
};

// ---------------------------------------------------------------------------
// The realistic workload (population.h, realistic.h).

// After a failure: the last lines the kinex processes logged (stopping them;
// their directory goes with the cluster).
void PrintKinexLogTail(KinexCluster& cluster, size_t lines = 20) {
  std::vector<std::string> all = absl::StrSplit(cluster.Logs(), '\n', absl::SkipEmpty());
  std::cerr << "last kinex log lines:\n";
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    std::cerr << "  " << all[i] << "\n";
  }
}

// A seeded population and how calls pick its children. Kept in one place
// (RealisticLoad holds references into it).
struct Realistic {
  Population pop;
  ChildSampler sampler;
  SeededPopulation seeded;
};

std::string Percentiles(const std::vector<int>& sorted) {
  if (sorted.empty()) return "none";
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size()));
    return sorted[std::min(i, sorted.size() - 1)];
  };
  int64_t total = 0;
  for (int v : sorted) total += v;
  return absl::StrFormat("min %d, p10 %d, p50 %d, p90 %d, p99 %d, max %d, mean %d", sorted.front(),
                         at(0.1), at(0.5), at(0.9), at(0.99), sorted.back(),
                         total / static_cast<int64_t>(sorted.size()));
}

// What the population is made of, for the report.
void PrintPopulation(const Population& pop) {
  int parts[kPartKinds] = {};
  std::map<std::string, int> arrangements;
  int looked_after = 0, previously = 0, cp = 0;
  for (int i = 0; i < pop.size(); ++i) {
    const ChildSpec& c = pop.child(i);
    for (int k = 0; k < kPartKinds; ++k) parts[k] += c.HasPart(static_cast<PartKind>(k));
    ++arrangements[kinex::record::v1::ArrangementType_Name(c.arrangement)];
    looked_after += c.looked_after;
    previously += c.previously_looked_after;
    cp += c.cp_plan;
  }
  const double n = std::max(1, pop.size());
  std::vector<std::string> arr;
  for (const auto& [name, count] : arrangements) {
    arr.push_back(absl::StrFormat("%s %.0f%%", name, 100 * count / n));
  }
  std::cout << absl::StrFormat(
      "population: %d children; parts: la %d, virtual-school %d, school %d, health %d, police "
      "%d; looked after %.0f%%, previously looked after %.0f%%, child protection plan %.0f%%\n"
      "  arrangements: %s\n",
      pop.size(), parts[0], parts[1], parts[2], parts[3], parts[4], 100 * looked_after / n,
      100 * previously / n, 100 * cp / n, absl::StrJoin(arr, ", "));
  std::vector<std::string> cohorts;
  for (int p = 0; p < kPrincipalCount; ++p) {
    if (Population::Lists(p)) {
      cohorts.push_back(absl::StrCat(Principals()[p].Name(), " ", pop.Cohort(p).size()));
    }
  }
  std::cout << "  cohorts (ListChildren): " << absl::StrJoin(cohorts, ", ") << "\n";
  std::cout << absl::StrFormat(
      "  merged record sizes, unredacted, bytes (log-normal, median %d, sigma 0.45, clipped "
      "to %d): %s\n",
      pop.options().median_bytes, pop.options().max_bytes, Percentiles(pop.SortedRecordSizes()));
}

// Generates the population the flags describe and seeds it through `gw`.
absl::StatusOr<std::unique_ptr<Realistic>> SeedRealistic(const std::string& gw) {
  const absl::Time t0 = absl::Now();
  Population pop = Population::Generate({.children = absl::GetFlag(FLAGS_children),
                                         .seed = absl::GetFlag(FLAGS_seed),
                                         .police_share = absl::GetFlag(FLAGS_police_share),
                                         .median_bytes = absl::GetFlag(FLAGS_record_median_bytes),
                                         .max_bytes = absl::GetFlag(FLAGS_record_bytes)});
  std::cout << absl::StrFormat("generated %d children in %.2f s\n", pop.size(),
                               absl::ToDoubleSeconds(absl::Now() - t0));
  PrintPopulation(pop);
  KINEX_ASSIGN_OR_RETURN(
      ChildSampler sampler,
      ChildSampler::Create(absl::GetFlag(FLAGS_skew), absl::GetFlag(FLAGS_zipf_s), pop.size(),
                           absl::GetFlag(FLAGS_seed)));
  std::cout << "skew: " << sampler.Describe() << "\n";
  std::cout << "seeding through the API (" << absl::GetFlag(FLAGS_seed_concurrency)
            << " publishes in flight) ..." << std::endl;
  KINEX_ASSIGN_OR_RETURN(SeededPopulation seeded,
                         SeedPopulation(gw, pop, absl::GetFlag(FLAGS_seed_concurrency),
                                        absl::GetFlag(FLAGS_client_threads)));
  const double secs = absl::ToDoubleSeconds(seeded.took);
  std::cout << absl::StrFormat(
      "seeded %d children (%d publishes, %.1f MB of parts) in %.1f s: %.0f publishes/s, %.0f "
      "children/s\n",
      pop.size(), seeded.publishes, static_cast<double>(seeded.bytes) / 1e6, secs,
      static_cast<double>(seeded.publishes) / std::max(1e-9, secs),
      static_cast<double>(pop.size()) / std::max(1e-9, secs));
  return std::make_unique<Realistic>(
      Realistic{std::move(pop), std::move(sampler), std::move(seeded)});
}

RealisticLoad::Options LoadOptions(bool kinex, int round) {
  return {.list_share = absl::GetFlag(FLAGS_list_share),
          .publish_share = absl::GetFlag(FLAGS_publish_share),
          .deny_share = absl::GetFlag(FLAGS_deny_share),
          .list_page_size = absl::GetFlag(FLAGS_list_page_size),
          .kinex = kinex,
          .seed = absl::GetFlag(FLAGS_seed) * 1000 + static_cast<uint64_t>(round)};
}

// Events in the audit log between leaves `from` and `to` that no call made:
// notification deliveries, acknowledgements and escalations (an Operation
// Encompass notification a seeded police part raised can pass its deadline
// during a run), overdue-PEP alerts, break-glass reviews. Queried as the
// auditor (itself an AUDIT_QUERIED event, after `to`).
absl::StatusOr<int64_t> BackgroundEvents(const KinexCluster& cluster, uint64_t from, uint64_t to,
                                         absl::Time since) {
  KINEX_ASSIGN_OR_RETURN(auto channel,
                         NewChannel(cluster.gateway_address(), kAuditor.CertBase(), 0));
  auto stub = av1::Audit::NewStub(channel);
  av1::QueryEventsRequest q;
  for (av1::EventKind k :
       {av1::NOTIFICATION_DELIVERED, av1::NOTIFICATION_ACKNOWLEDGED, av1::NOTIFICATION_ESCALATED,
        av1::PEP_REVIEW_OVERDUE, av1::BREAK_GLASS_REVIEWED}) {
    q.add_kinds(k);
  }
  q.mutable_start_time()->set_seconds(absl::ToUnixSeconds(since - absl::Seconds(10)));
  q.set_page_size(1000);
  int64_t n = 0;
  do {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", kActor);
    av1::QueryEventsResponse resp;
    KINEX_RETURN_IF_ERROR(
        FromGrpc(stub->QueryEvents(&ctx, q, &resp), "QueryEvents as the auditor"));
    for (const av1::LogEntry& e : resp.entries()) {
      if (e.leaf_index() >= from && e.leaf_index() < to) ++n;
    }
    q.set_page_token(resp.next_page_token());
  } while (!q.page_token().empty());
  return n;
}

// Per operation kind, inside the measured window: calls, errors by code,
// throughput, latency percentiles; and unexpected outcomes over the run.
void PrintKinds(const LoadReport& r) {
  const double secs = std::max(1e-9, absl::ToDoubleSeconds(r.window));
  for (const auto& [kind, k] : r.kinds) {
    std::vector<uint32_t> lat = k.window_latency_us;
    std::sort(lat.begin(), lat.end());
    int64_t calls = 0;
    for (const auto& [code, c] : k.window_codes) calls += c;
    std::cout << absl::StrFormat(
        "  %-10s calls=%d errors=[%s] throughput=%.0f calls/s p50=%.2f ms p90=%.2f ms p99=%.2f "
        "ms max=%.2f ms unexpected=%d\n",
        kind, calls, Codes(k.window_codes, true), static_cast<double>(calls) / secs,
        PercentileMs(lat, 0.5), PercentileMs(lat, 0.9), PercentileMs(lat, 0.99),
        lat.empty() ? 0.0 : lat.back() / 1000.0, k.unexpected);
    for (const std::string& s : k.unexpected_samples) std::cout << "      e.g. " << s << "\n";
  }
}

int RunRealisticBenchmark() {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string only = absl::GetFlag(FLAGS_only);
  const bool run_kinex = only == "both" || only == "kinex";
  const bool run_baseline = only == "both" || only == "baseline";
  const int threads = absl::GetFlag(FLAGS_client_threads);
  std::cout << MachineLine() << "\n";
  std::cout << absl::StrFormat(
      "config: workload=realistic callers=%d client_threads=%d warmup=%.0fs seconds=%.0fs "
      "rounds=%d mode=%s policy_decisions=%s children=%d skew=%s list_share=%.3f "
      "list_page_size=%d publish_share=%.3f deny_share=%.3f police_share=%.2f seed=%d "
      "records_config='%s'\n",
      absl::GetFlag(FLAGS_callers), threads, absl::GetFlag(FLAGS_warmup_seconds),
      absl::GetFlag(FLAGS_seconds), absl::GetFlag(FLAGS_rounds), mode,
      mode == "microservices" ? absl::GetFlag(FLAGS_policy_decisions) : "local",
      absl::GetFlag(FLAGS_children), absl::GetFlag(FLAGS_skew), absl::GetFlag(FLAGS_list_share),
      absl::GetFlag(FLAGS_list_page_size), absl::GetFlag(FLAGS_publish_share),
      absl::GetFlag(FLAGS_deny_share), absl::GetFlag(FLAGS_police_share), absl::GetFlag(FLAGS_seed),
      absl::GetFlag(FLAGS_records_config));

  absl::StatusOr<DurabilityProbe> probe = DurabilityProbe::Create();
  if (!probe.ok()) {
    std::cerr << "durability probe: " << probe.status() << "\n";
    return 1;
  }
  auto cluster = StartLoadCluster(mode, *probe);
  if (!cluster.ok()) {
    std::cerr << "starting Kinex: " << cluster.status() << "\n";
    return 1;
  }
  const std::string gw = (*cluster)->gateway_address();
  absl::StatusOr<std::unique_ptr<Realistic>> r = SeedRealistic(gw);
  if (!r.ok()) {
    std::cerr << r.status() << "\n";
    PrintKinexLogTail(**cluster);
    return 1;
  }
  const Population& pop = (*r)->pop;
  const std::vector<std::string>& ids = (*r)->seeded.kinex_ids;
  std::string sample_report;
  auto samples = SampleKinexReplies(gw, pop, ids, sample_report);
  if (!samples.ok()) {
    std::cerr << samples.status() << "\n";
    return 1;
  }
  std::cout << "one Kinex reply per principal (record redacted, of the merged record's size):\n"
            << sample_report;
  std::cout << CheckDurability(*probe, KinexChildPids(), {}, 0).Describe();
  PartStates parts((*r)->seeded);
  const LoadDriver::Options options =
      DriverOptions(absl::GetFlag(FLAGS_warmup_seconds), absl::GetFlag(FLAGS_seconds));

  // One Kinex run: load, CPU, the audit check, the log's durability.
  std::vector<Durability> durabilities;
  auto run_kinex_once = [&](int round) -> std::optional<Summary> {
    auto before = AuditTreeSize(**cluster, mode);
    if (!before.ok()) {
      std::cerr << before.status() << "\n";
      return std::nullopt;
    }
    const std::string audit_db = CheckDurability(*probe, KinexChildPids(), {}, 0).audit_db;
    const std::optional<AuditStoreSnapshot> store0 = SnapshotAuditStore(audit_db);
    RealisticLoad load(pop, (*r)->sampler, ids, &parts, LoadOptions(true, round));
    if (absl::Status s = load.Connect(gw, threads); !s.ok()) {
      std::cerr << s << "\n";
      return std::nullopt;
    }
    std::cout << "running Kinex (" << mode << ") ..." << std::endl;
    const absl::Time started = absl::Now();
    const SyncCounts syncs0 = probe->Syncs();
    const CpuUse cpu0 = CpuNow();
    LoadReport report = LoadDriver::Run(
        options, [&](int thread, grpc::CompletionQueue* cq) { return load.Next(thread, cq); });
    const CpuUse cpu1 = CpuNow();
    const SyncCounts syncs1 = probe->Syncs();
    auto after = AuditTreeSize(**cluster, mode);
    if (!after.ok()) {
      std::cerr << after.status() << "\n";
      return std::nullopt;
    }
    const std::optional<AuditStoreSnapshot> store1 =
        store0.has_value() ? SnapshotAuditStore(audit_db, store0->entries) : std::nullopt;
    auto background = BackgroundEvents(**cluster, *before, *after, started);
    if (!background.ok()) {
      std::cerr << background.status() << "\n";
      return std::nullopt;
    }
    Summary summary = Summarize("kinex", report);
    PrintSummary(summary);
    PrintKinds(report);
    std::cout << CpuLine(cpu0, cpu1, report.TotalCalls()) << " over all " << report.TotalCalls()
              << " calls (warm-up included)\n";
    const int64_t audited = AuditedEvents(report, load.list_entries());
    const int64_t delta = static_cast<int64_t>(*after - *before);
    const bool match = delta == audited + *background;
    std::cout << absl::StrFormat(
        "kinex audit: tree_size %d -> %d (+%d); events the calls imply %d (reads decided, %d "
        "records listed, republishes stored or refused; warm-up included) + %d not made by a "
        "call: %s\n",
        *before, *after, delta, audited, load.list_entries(), *background,
        match ? "OK, one event per audited call" : "MISMATCH");
    PrintAuditStoreGrowth(store0, store1);
    durabilities.push_back(CheckDurability(*probe, KinexChildPids(), syncs1 - syncs0, audited));
    std::cout << durabilities.back().Describe();
    std::cout << MachineLine() << "\n";
    if (!match) {
      PrintKinexLogTail(**cluster);
      return std::nullopt;
    }
    return summary;
  };

  // The baseline server, serving the same records, stays up across rounds.
  std::unique_ptr<RealisticBaseline> baseline_service;
  std::unique_ptr<grpc::Server> baseline_server;
  std::string baseline_address;
  if (run_baseline) {
    auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles("gateway"));
    if (!creds.ok()) {
      std::cerr << creds.status() << "\n";
      return 1;
    }
    baseline_service = std::make_unique<RealisticBaseline>(pop, ids, *samples);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port);
    builder.RegisterService(baseline_service.get());
    baseline_server = builder.BuildAndStart();
    if (baseline_server == nullptr || port == 0) {
      std::cerr << "baseline server did not start\n";
      return 1;
    }
    baseline_address = absl::StrCat("localhost:", port);
    std::cout << absl::StrFormat(
        "baseline: bare mTLS server in-process serving the %d merged records unredacted (%.1f "
        "MB), each reply with the receipt Kinex sent the same principal\n",
        pop.size(), static_cast<double>(baseline_service->record_bytes()) / 1e6);
    auto first =
        GetSync(baseline_address, kLaSw,
                ids[pop.Cohort(kLaSwWestminster).empty() ? 0 : pop.Cohort(kLaSwWestminster)[0]],
                cv1::CARE_PLANNING);
    if (!first.ok()) {
      std::cerr << "baseline first call: " << first.status() << "\n";
      return 1;
    }
  }
  auto run_baseline_once = [&](int round) -> std::optional<Summary> {
    RealisticLoad load(pop, (*r)->sampler, ids, &parts, LoadOptions(false, round));
    if (absl::Status s = load.Connect(baseline_address, threads); !s.ok()) {
      std::cerr << s << "\n";
      return std::nullopt;
    }
    std::cout << "running baseline (bare mTLS server in-process) ..." << std::endl;
    const CpuUse cpu0 = CpuNow();
    LoadReport report = LoadDriver::Run(
        options, [&](int thread, grpc::CompletionQueue* cq) { return load.Next(thread, cq); });
    const CpuUse cpu1 = CpuNow();
    Summary summary = Summarize("baseline", report);
    PrintSummary(summary);
    PrintKinds(report);
    std::cout << CpuLine(cpu0, cpu1, report.TotalCalls()) << " over all " << report.TotalCalls()
              << " calls (client and baseline server)\n";
    std::cout << MachineLine() << "\n";
    return summary;
  };

  const int status = RunRounds(run_kinex, run_baseline, run_kinex_once, run_baseline_once,
                               durabilities, "kinex/baseline, all operations");
  if (baseline_server != nullptr) {
    baseline_server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }
  return status;
}

// The audit events the single soak's calls imply: every read decided (OK
// or PERMISSION_DENIED), every publish stored or refused (OK, ABORTED for a
// stale etag), every consent write and its refusals (OK, PERMISSION_DENIED
// for a school). Break-glass with too short a justification
// ("invalid.", INVALID_ARGUMENT) is refused before any decision: no event.
int64_t SingleSoakEvents(const LoadReport& report) {
  int64_t n = 0;
  for (const auto& [kind, k] : report.kinds) {
    if (absl::StartsWith(kind, "invalid.")) continue;
    for (const auto& [code, c] : k.all_codes) {
      if (code == grpc::StatusCode::OK || code == grpc::StatusCode::PERMISSION_DENIED ||
          code == grpc::StatusCode::ABORTED) {
        n += c;
      }
    }
  }
  return n;
}

int RunBenchmark() {
  return absl::GetFlag(FLAGS_workload) == "single" ? RunSingleBenchmark() : RunRealisticBenchmark();
}

// ---------------------------------------------------------------------------
// The soak (either workload).

int RunSoak() {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string workload = absl::GetFlag(FLAGS_workload);
  const double minutes = absl::GetFlag(FLAGS_minutes);
  std::cout << MachineLine() << "\n";
  std::cout << absl::StrFormat(
      "soak: workload=%s callers=%d client_threads=%d minutes=%.1f mode=%s\n", workload,
      absl::GetFlag(FLAGS_callers), absl::GetFlag(FLAGS_client_threads), minutes, mode);
  absl::StatusOr<DurabilityProbe> probe = DurabilityProbe::Create();
  if (!probe.ok()) {
    std::cerr << "durability probe: " << probe.status() << "\n";
    return 1;
  }
  auto cluster = StartLoadCluster(mode, *probe);
  if (!cluster.ok()) {
    std::cerr << "starting Kinex: " << cluster.status() << "\n";
    return 1;
  }
  const std::string gw = (*cluster)->gateway_address();
  const std::vector<pid_t> pids = KinexChildPids();
  if (pids.empty()) {
    std::cerr << "could not find the kinex process(es) under /proc\n";
    return 1;
  }
  const std::string data_dir = DataDirOf(pids.front());
  std::cout << "kinex pids: " << absl::StrJoin(pids, ",") << " data dir: " << data_dir << "\n";

  const int threads = absl::GetFlag(FLAGS_client_threads);
  // The load: the demo children's mixed soak, or the realistic mix.
  std::unique_ptr<Soak> soak;
  std::unique_ptr<Realistic> realistic;
  std::unique_ptr<PartStates> parts;
  std::unique_ptr<RealisticLoad> load;
  if (workload == "single") {
    Seeded seeded;
    for (const std::string& slug : kinex::testing::DemoChildren()) {
      if (absl::Status s = SeedChild(gw, slug, seeded, 0); !s.ok()) {
        std::cerr << "seeding: " << s << "\n";
        return 1;
      }
    }
    std::cout << "seeded " << seeded.kinex_ids.size() << " children, " << seeded.parts.size()
              << " parts\n";
    soak = std::make_unique<Soak>(**cluster, std::move(seeded));
    if (absl::Status s = soak->Connect(threads); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
  } else {
    absl::StatusOr<std::unique_ptr<Realistic>> r = SeedRealistic(gw);
    if (!r.ok()) {
      std::cerr << r.status() << "\n";
      PrintKinexLogTail(**cluster);
      return 1;
    }
    realistic = *std::move(r);
    parts = std::make_unique<PartStates>(realistic->seeded);
    load = std::make_unique<RealisticLoad>(realistic->pop, realistic->sampler,
                                           realistic->seeded.kinex_ids, parts.get(),
                                           LoadOptions(true, 0));
    if (absl::Status s = load->Connect(gw, threads); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
  }
  const Durability durability0 = CheckDurability(*probe, pids, {}, 0);
  std::cout << durability0.Describe();
  auto before = AuditTreeSize(**cluster, mode);
  if (!before.ok()) {
    std::cerr << before.status() << "\n";
    return 1;
  }
  const std::optional<AuditStoreSnapshot> store0 = SnapshotAuditStore(durability0.audit_db);

  struct Sample {
    double t;
    int64_t rss_kb;
  };
  absl::Mutex samples_mu;
  std::vector<Sample> samples;
  auto rss_now = [&](const std::string& field = "VmRSS") {
    int64_t total = 0;
    for (pid_t p : pids) {
      const int64_t kb = StatusKb(p, field);
      if (kb < 0) return int64_t{-1};
      total += kb;
    }
    return total;
  };
  {
    absl::MutexLock lock(&samples_mu);
    samples.push_back({0, rss_now()});
  }
  std::cout << absl::StrFormat("t=%4.0fs rss=%d kB loadavg=\"%s\"\n", 0.0, samples[0].rss_kb,
                               LoadAverage())
            << std::flush;

  LoadDriver::Options o = DriverOptions(0, minutes * 60);
  o.tick = absl::Seconds(absl::GetFlag(FLAGS_sample_seconds));
  o.on_tick = [&](absl::Duration elapsed) {
    const int64_t kb = rss_now();
    const double t = absl::ToDoubleSeconds(elapsed);
    {
      absl::MutexLock lock(&samples_mu);
      samples.push_back({t, kb});
    }
    const std::string progress = soak != nullptr
                                     ? absl::StrCat(" decisions=", soak->decisions())
                                     : absl::StrCat(" records_listed=", load->list_entries());
    std::cout << absl::StrFormat(
                     "t=%4.0fs rss=%d kB (anon %d, file %d) threads=%d%s stores=[%s] "
                     "loadavg=\"%s\"\n",
                     t, kb, rss_now("RssAnon"), rss_now("RssFile"), rss_now("Threads"), progress,
                     StoreSizes(data_dir), LoadAverage())
              << std::flush;
  };
  const absl::Time started = absl::Now();
  const SyncCounts syncs0 = probe->Syncs();
  LoadReport report = LoadDriver::Run(o, [&](int thread, grpc::CompletionQueue* cq) {
    return soak != nullptr ? soak->Next(thread, cq) : load->Next(thread, cq);
  });
  const SyncCounts syncs1 = probe->Syncs();
  const int64_t final_rss = rss_now();

  auto after = AuditTreeSize(**cluster, mode);
  if (!after.ok()) {
    std::cerr << after.status() << "\n";
    return 1;
  }
  const std::optional<AuditStoreSnapshot> store1 =
      store0.has_value() ? SnapshotAuditStore(durability0.audit_db, store0->entries) : std::nullopt;

  std::cout << "\noperations by kind and outcome (whole run):\n";
  int64_t unexpected = 0, total = 0;
  for (const auto& [kind, k] : report.kinds) {
    int64_t n = 0;
    for (const auto& [code, c] : k.all_codes) n += c;
    total += n;
    unexpected += k.unexpected;
    std::vector<uint32_t> lat = k.window_latency_us;
    std::sort(lat.begin(), lat.end());
    std::cout << absl::StrFormat("  %-40s %8d  [%s] unexpected=%d p50=%.2f ms p99=%.2f ms\n", kind,
                                 n, Codes(k.all_codes, false), k.unexpected, PercentileMs(lat, 0.5),
                                 PercentileMs(lat, 0.99));
    for (const std::string& s : k.unexpected_samples) std::cout << "      e.g. " << s << "\n";
  }
  const std::vector<uint32_t> lat = report.SortedWindowLatencies();
  std::cout << absl::StrFormat(
      "total operations %d (%.0f/s), p50=%.2f ms p99=%.2f ms max=%.2f ms\n", total,
      static_cast<double>(total) / (minutes * 60), PercentileMs(lat, 0.5), PercentileMs(lat, 0.99),
      lat.empty() ? 0.0 : lat.back() / 1000.0);
  std::cout << "unexpected outcomes: " << unexpected << (unexpected == 0 ? " (OK)" : " (FAIL)")
            << "\n";

  // Memory growth after the warm-up.
  const double warm = absl::GetFlag(FLAGS_rss_warmup_seconds);
  int64_t base = -1, peak = 0;
  for (const Sample& s : samples) {
    if (base < 0 && s.t >= warm) base = s.rss_kb;
    peak = std::max(peak, s.rss_kb);
  }
  if (base > 0) {
    const double growth = 100.0 * static_cast<double>(final_rss - base) / static_cast<double>(base);
    std::cout << absl::StrFormat(
        "resident memory: start %d kB, after %.0f s warm-up %d kB, end %d kB, peak %d kB: "
        "growth after warm-up %.1f%% (target <= 10%%: %s)\n",
        samples.front().rss_kb, warm, base, final_rss, peak, growth,
        growth <= 10 ? "met" : "NOT met");
  } else {
    std::cout << "resident memory: run shorter than the warm-up; no growth figure\n";
  }
  const int64_t delta = static_cast<int64_t>(*after - *before);
  auto background = BackgroundEvents(**cluster, *before, *after, started);
  if (!background.ok()) {
    std::cerr << background.status() << "\n";
    return 1;
  }
  const int64_t expected_events =
      soak != nullptr ? SingleSoakEvents(report) : AuditedEvents(report, load->list_entries());
  const bool match = delta == expected_events + *background;
  if (soak != nullptr) {
    std::cout << absl::StrFormat(
        "audit: tree_size %d -> %d (+%d); events the calls imply %d (%d reads decided, OK or "
        "PERMISSION_DENIED; %d writes stored or refused) + %d not made by a call: %s\n",
        *before, *after, delta, expected_events, soak->decisions(),
        expected_events - soak->decisions(), *background,
        match ? "OK, one event per audited call" : "MISMATCH");
  } else {
    std::cout << absl::StrFormat(
        "audit: tree_size %d -> %d (+%d); events the calls imply %d (reads decided, %d records "
        "listed, republishes stored or refused) + %d not made by a call: %s\n",
        *before, *after, delta, expected_events, load->list_entries(), *background,
        match ? "OK, one event per audited call" : "MISMATCH");
  }
  PrintAuditStoreGrowth(store0, store1);
  std::cout << CheckDurability(*probe, pids, syncs1 - syncs0, expected_events).Describe();
  std::cout << MachineLine() << "\n";
  return unexpected == 0 && match ? 0 : 3;
}

}  // namespace
}  // namespace kinex::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kinex-bench: side-by-side load benchmark of Kinex against a bare mTLS server (the "
      "realistic workload, or --workload=single), or (--soak) a soak of kinex --target=all");
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock
  // detection on: a global graph update on every lock, gRPC's included.
  // The tests keep it; a serving process does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string only = absl::GetFlag(FLAGS_only);
  const std::string record = absl::GetFlag(FLAGS_record);
  const std::string workload = absl::GetFlag(FLAGS_workload);
  if (mode != "all" && mode != "microservices") {
    std::cerr << "--mode: \"" << mode << "\" is not one of all, microservices\n";
    return 2;
  }
  const std::string policy_decisions = absl::GetFlag(FLAGS_policy_decisions);
  if (policy_decisions != "local" && policy_decisions != "service") {
    std::cerr << "--policy_decisions: \"" << policy_decisions
              << "\" is not one of local, service\n";
    return 2;
  }
  if (only != "kinex" && only != "baseline" && only != "both") {
    std::cerr << "--only: \"" << only << "\" is not one of kinex, baseline, both\n";
    return 2;
  }
  if (record != "full" && record != "demo") {
    std::cerr << "--record: \"" << record << "\" is not one of full, demo\n";
    return 2;
  }
  if (workload != "realistic" && workload != "single") {
    std::cerr << "--workload: \"" << workload << "\" is not one of realistic, single\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_callers) < 1 || absl::GetFlag(FLAGS_client_threads) < 1) {
    std::cerr << "--callers and --client_threads must be at least 1\n";
    return 2;
  }
  if (workload == "realistic") {
    const int children = absl::GetFlag(FLAGS_children);
    const double list = absl::GetFlag(FLAGS_list_share);
    const double publish = absl::GetFlag(FLAGS_publish_share);
    const double deny = absl::GetFlag(FLAGS_deny_share);
    const double police = absl::GetFlag(FLAGS_police_share);
    const std::string skew = absl::GetFlag(FLAGS_skew);
    if (children < 1 || children > 100000) {
      std::cerr << "--children: " << children << " is not in 1-100000\n";
      return 2;
    }
    if (list < 0 || publish < 0 || list + publish > 1) {
      std::cerr << "--list_share (" << list << ") and --publish_share (" << publish
                << ") must be at least 0 and sum to at most 1\n";
      return 2;
    }
    if (deny < 0 || deny > 1 || police < 0 || police > 1) {
      std::cerr << "--deny_share (" << deny << ") and --police_share (" << police
                << ") must be in 0-1\n";
      return 2;
    }
    const int page = absl::GetFlag(FLAGS_list_page_size);
    if (page < 1 || page > 500) {
      std::cerr << "--list_page_size: " << page << " is not in 1-500\n";
      return 2;
    }
    if (skew != "80/20" && skew != "zipf" && skew != "uniform") {
      std::cerr << "--skew: \"" << skew << "\" is not one of 80/20, zipf, uniform\n";
      return 2;
    }
    if (absl::GetFlag(FLAGS_record_median_bytes) < 1 || absl::GetFlag(FLAGS_record_bytes) < 1 ||
        absl::GetFlag(FLAGS_seed_concurrency) < 1) {
      std::cerr << "--record_median_bytes, --record_bytes and --seed_concurrency must be "
                   "positive\n";
      return 2;
    }
  }
  if (absl::Status s = kinex::bench::EnsurePki(); !s.ok()) {
    std::cerr << "test PKI: " << s << "\n";
    return 1;
  }
  return absl::GetFlag(FLAGS_soak) ? kinex::bench::RunSoak() : kinex::bench::RunBenchmark();
}
