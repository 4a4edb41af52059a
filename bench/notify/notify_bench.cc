// kinex-notify-bench: what WatchNotifications costs the gateway and how fast
// it delivers (issue #15), on real `kinex` processes over real mTLS.
//
// 1. Starts Kinex (KinexCluster, SQLite, durable audit; --mode=all or
//    microservices) with the gateway's rate limits, in-flight cap and stream
//    quota out of the way, and publishes the maisie-thornbury demo child (the
//    Met has a part, so it may read her for safeguarding).
// 2. Baseline: a closed-loop read load (bench/load's driver) of --callers
//    GetChildRecord calls, with no watcher open. A share --notify_share of
//    them (default all) are the Met's (SAFEGUARDING, with a justification),
//    each raising one ACCESS notification to the responsible LA (E09000033);
//    the rest are the LA social worker's CARE_PLANNING read (kinex-bench's
//    load), which raises none.
// 3. Idle: opens --watchers WatchNotifications streams on the callback client
//    API (no client thread per stream), --streams_per_channel on each
//    connection (the server's default SETTINGS_MAX_CONCURRENT_STREAMS is
//    100), all resuming after the newest notification so none replays. The
//    first --active_watchers watch as the LA social worker of E09000033 and
//    receive every notification of the load; the rest watch as the other
//    agencies of the test PKI (only a dozen have certificates), which are
//    told nothing during the run. The gateway's resident memory and thread
//    count (/proc/<pid>/status of the kinex process serving the gateway) are
//    read before, with the watchers open, with their streams closed and with
//    their connections closed; --cycles times, so a leak shows as growth from
//    one cycle to the next.
// 4. Loaded: the watchers again, and the same read load. Every message an
//    active watcher receives is timed from its create_time (the commit time
//    of the read's audit leaf) to its arrival: the first watcher's arrival
//    per notification, and every watcher's. After the load, waits (up to
//    --drain_seconds) until every active watcher has every notification.
// 5. Closes every watcher and reads the gateway again.
//
// Not part of ctest: figures are reported (bench/notify/README.md).
//
// Example:
//   build/bin/kinex-notify-bench --watchers=1000
//   build/bin/kinex-notify-bench --watchers=10000 --notify_share=0.01
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
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
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/load/load_driver.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "kinex/notifications/v1/notifications.grpc.pb.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/paths.h"
#include "tests/testing/proc_fields.h"
#include "tests/testing/test_pki.h"

ABSL_FLAG(std::string, mode, "all", "Kinex topology: all (one process) or microservices");
ABSL_FLAG(int, watchers, 10000, "WatchNotifications streams held open (0: only the baseline)");
ABSL_FLAG(int, active_watchers, 100,
          "How many of --watchers watch as the LA (E09000033) and so receive every "
          "notification of the read load; the rest watch as agencies told nothing");
ABSL_FLAG(int, streams_per_channel, 100,
          "Streams per client connection (the server's max_concurrent_streams_per_connection "
          "is 100 by default; more would wait in the client's queue)");
ABSL_FLAG(int, channels, 0,
          "Client connections; 0: enough for --streams_per_channel (overrides it when set)");
ABSL_FLAG(int, callers, 16, "Read load: concurrent outstanding GetChildRecord calls");
ABSL_FLAG(int, client_threads, 2, "Read load: client threads, each with its own connection");
ABSL_FLAG(double, seconds, 20, "Read load: measured seconds per phase (baseline, loaded)");
ABSL_FLAG(double, warmup_seconds, 2, "Read load: warm-up seconds before each measured window");
ABSL_FLAG(double, notify_share, 1,
          "Read load: share (0-1) of calls that are the Met's safeguarding read (one ACCESS "
          "notification to the LA each); the rest are the LA's CARE_PLANNING read (none)");
ABSL_FLAG(bool, baseline, true, "Run the read load with no watcher open first");
ABSL_FLAG(int, poll_millis, 100, "gateway.notification_poll_millis");
ABSL_FLAG(int, cycles, 2, "Idle open/close cycles before the loaded phase (leak check)");
ABSL_FLAG(double, settle_seconds, 5, "Idle seconds before each memory reading");
ABSL_FLAG(double, open_timeout_seconds, 120, "Most seconds to wait for every watcher to open");
ABSL_FLAG(double, drain_seconds, 60,
          "After the load: most seconds to wait for every active watcher to have every "
          "notification");

namespace kinex::bench {
namespace {

namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace nv1 = kinex::notifications::v1;
using kinex::testing::Agency;
using kinex::testing::KinexCluster;

constexpr char kActor[] = "kinex-notify-bench practitioner";
constexpr char kChild[] = "maisie-thornbury";
constexpr char kJustification[] = "Section 47 strategy discussion, ref MPS/2026/11/0042";
// Ordinals of one leaf's notifications are below this
// (services/audit/notification_id.h, kMaxNotify).
constexpr int kMaxNotify = 64;

// The reader (police, the demo child's force) and the recipient of its ACCESS
// notifications (the responsible LA).
const Agency kMet{"police", "01", "public-protection-officer"};
const Agency kLa{"local-authority", "E09000033", "social-worker"};
const Agency kAuditor{"auditor", "kinex-dpo", "auditor"};
// Agencies of the test PKI (certs/agencies.txt) that are told nothing while
// the Met reads maisie-thornbury: not E09000033 (any of its roles is the
// recipient), not the Met. Idle watchers take them in turn.
const std::vector<Agency>& IdleAgencies() {
  static const auto* const kIdle = new std::vector<Agency>{
      {"local-authority", "E08000025", "social-worker"},
      {"local-authority", "W06000015", "social-worker"},
      {"virtual-school", "E09000033", "virtual-school-head"},
      {"virtual-school", "E08000025", "virtual-school-head"},
      {"virtual-school", "W06000015", "virtual-school-head"},
      {"school", "137000", "designated-safeguarding-lead"},
      {"school", "137000", "designated-teacher"},
      {"school", "141999", "designated-safeguarding-lead"},
      {"school", "141999", "designated-teacher"},
      {"health", "Y01234", "health-practitioner"},
      {"health", "RJ1", "health-practitioner"},
      {"police", "20", "public-protection-officer"},
  };
  return *kIdle;
}

// ---------------------------------------------------------------------------
// Set-up helpers.

// Makes the test PKI if it is missing (the script is idempotent).
absl::Status EnsurePki() {
  const std::string dir = kinex::testing::TestPkiDir();
  if (std::filesystem::exists(dir + "/ca.pem") &&
      std::filesystem::exists(dir + "/agencies/auditor-kinex-dpo-auditor.pem")) {
    return absl::OkStatus();
  }
  const std::string cmd =
      absl::StrCat(kinex::testing::SourceDir(), "/certs/make-dev-pki.sh '", dir, "' >/dev/null");
  if (std::system(cmd.c_str()) != 0) return absl::InternalError(absl::StrCat("failed: ", cmd));
  return absl::OkStatus();
}

// An mTLS channel of its own as `a` (`index` makes the channel arguments
// differ, so gRPC does not share one connection between channels).
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(const std::string& address,
                                                          const Agency& a, int index) {
  KINEX_ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ChannelCredentials> creds,
      MakeChannelCredentials(kinex::testing::AgencyTlsFiles(a.kind, a.code, a.role)));
  grpc::ChannelArguments args;
  args.SetInt("kinex.notify_bench.channel_index", index);
  return grpc::CreateCustomChannel(address, creds, args);
}

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

ev1::GetChildRecordRequest PoliceRead(const std::string& kinex_id) {
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(kinex_id);
  req.set_purpose(cv1::SAFEGUARDING);
  req.set_justification(kJustification);
  return req;
}

// The audit log's size, from the signed tree head (as the auditor, through
// the gateway: the audit service itself takes Kinex services only).
absl::StatusOr<uint64_t> AuditTreeSize(const KinexCluster& cluster) {
  KINEX_ASSIGN_OR_RETURN(auto channel, NewChannel(cluster.gateway_address(), kAuditor, 0));
  auto stub = av1::Audit::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", kActor);
  av1::SignedTreeHead head;
  KINEX_RETURN_IF_ERROR(
      FromGrpc(stub->GetSignedTreeHead(&ctx, {}, &head), "GetSignedTreeHead as the auditor"));
  return head.tree_size();
}

// ---------------------------------------------------------------------------
// The gateway process: its pid, memory, threads and CPU.

// The kinex process serving the gateway: a child of this process (KinexCluster
// forks them) named "kinex" whose --config is <cluster dir>/all.textproto or
// gateway.textproto. KinexCluster does not expose pids, so /proc is scanned.
std::optional<pid_t> GatewayPid(bool all_in_one) {
  const std::string config = all_in_one ? "/all.textproto" : "/gateway.textproto";
  const pid_t self = getpid();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    const std::optional<kinex::testing::ProcStat> stat =
        kinex::testing::ReadProcStat(entry.path() / "stat");
    if (!stat.has_value() || stat->comm != "kinex" || stat->ppid != self) continue;
    std::ifstream f(entry.path() / "cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
    for (absl::string_view arg : absl::StrSplit(cmdline, '\0')) {
      if (absl::StartsWith(arg, "--config=") && absl::EndsWith(arg, config)) return pid;
    }
  }
  return std::nullopt;
}

// VmRSS, RssAnon (kB) and Threads from /proc/<pid>/status.
struct ProcStatus {
  int64_t rss_kb = -1;
  int64_t anon_kb = -1;
  int64_t threads = -1;
};

ProcStatus ReadStatus(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  return {.rss_kb = kinex::testing::ProcField(path, "VmRSS"),
          .anon_kb = kinex::testing::ProcField(path, "RssAnon"),
          .threads = kinex::testing::ProcField(path, "Threads")};
}

std::string StatusLine(const ProcStatus& s) {
  return absl::StrFormat("VmRSS %.1f MB, RssAnon %.1f MB, Threads %d", s.rss_kb / 1024.0,
                         s.anon_kb / 1024.0, s.threads);
}

// CPU seconds (user + system) used so far by `pid` (0 when it is gone).
double CpuSeconds(pid_t pid) {
  const std::optional<kinex::testing::ProcStat> stat =
      kinex::testing::ReadProcStat(absl::StrCat("/proc/", pid, "/stat"));
  return stat.has_value() ? stat->cpu_seconds : 0;
}

// Samples the gateway's status every 200 ms; the maxima since the last Reset
// show threads or memory growing during a phase, not only at its ends.
class Sampler {
 public:
  explicit Sampler(pid_t pid) : pid_(pid), thread_([this] { Loop(); }) {}
  ~Sampler() {
    stop_.Notify();
    thread_.join();
  }
  void Reset() {
    absl::MutexLock lock(&mu_);
    max_ = ProcStatus{};
  }
  ProcStatus Max() {
    absl::MutexLock lock(&mu_);
    return max_;
  }

 private:
  void Loop() {
    while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
      const ProcStatus s = ReadStatus(pid_);
      absl::MutexLock lock(&mu_);
      max_.rss_kb = std::max(max_.rss_kb, s.rss_kb);
      max_.anon_kb = std::max(max_.anon_kb, s.anon_kb);
      max_.threads = std::max(max_.threads, s.threads);
    }
  }
  const pid_t pid_;
  absl::Notification stop_;
  absl::Mutex mu_;
  ProcStatus max_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// Watchers.

// What the watchers received: every arrival's latency, and per notification
// id the earliest. Thread-safe.
class Deliveries {
 public:
  void Record(const nv1::Notification& n, absl::Time now) {
    const absl::Time cause = absl::FromUnixSeconds(n.create_time().seconds()) +
                             absl::Nanoseconds(n.create_time().nanos());
    const int64_t us = std::max<int64_t>(0, absl::ToInt64Microseconds(now - cause));
    const uint32_t lat = static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX));
    absl::MutexLock lock(&mu_);
    all_us_.push_back(lat);
    auto [it, fresh] = by_id_.try_emplace(n.notification_id(), lat);
    if (!fresh) it->second = std::min(it->second, lat);
  }
  // Sorted latencies of every arrival, and of each notification's first.
  std::vector<uint32_t> All() {
    absl::MutexLock lock(&mu_);
    std::vector<uint32_t> v = all_us_;
    std::sort(v.begin(), v.end());
    return v;
  }
  std::vector<uint32_t> First() {
    absl::MutexLock lock(&mu_);
    std::vector<uint32_t> v;
    v.reserve(by_id_.size());
    for (const auto& [id, lat] : by_id_) v.push_back(lat);
    std::sort(v.begin(), v.end());
    return v;
  }

 private:
  absl::Mutex mu_;
  std::vector<uint32_t> all_us_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> by_id_ ABSL_GUARDED_BY(mu_);
};

class WatchSet;

// One WatchNotifications stream on the callback API: reads until the stream
// ends; each message is timed into the set's Deliveries.
class Watcher final : public grpc::ClientReadReactor<nv1::Notification> {
 public:
  Watcher(WatchSet& set, bool active) : set_(set), active_(active) {}
  void Start(nv1::Notifications::Stub& stub, const std::string& after) {
    ctx_.AddMetadata("x-kinex-actor", kActor);
    request_.set_after(after);
    stub.async()->WatchNotifications(&ctx_, &request_, this);
    StartRead(&message_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  bool active() const { return active_; }
  int64_t received() const { return received_.load(); }
  bool done() const { return done_.load(); }

 private:
  WatchSet& set_;
  const bool active_;
  grpc::ClientContext ctx_;
  nv1::WatchNotificationsRequest request_;
  nv1::Notification message_;
  std::atomic<int64_t> received_{0};
  std::atomic<bool> done_{false};
};

// Every watcher, their connections and what they received.
class WatchSet {
 public:
  Deliveries deliveries;

  // Opens `total` watchers, the first `active` as the LA, over connections of
  // `per_channel` streams each; all resume after `after`.
  absl::Status Open(const std::string& address, int total, int active, int per_channel,
                    const std::string& after) {
    int index = 1000;
    auto open_group = [&](int n, bool is_active) -> absl::Status {
      for (int done = 0, channel = 0; done < n; ++channel) {
        const Agency& as = is_active ? kLa : IdleAgencies()[channel % IdleAgencies().size()];
        KINEX_ASSIGN_OR_RETURN(auto ch, NewChannel(address, as, ++index));
        stubs_.push_back(nv1::Notifications::NewStub(ch));
        channels_.push_back(ch);
        for (int k = 0; k < per_channel && done < n; ++k, ++done) {
          watchers_.push_back(std::make_unique<Watcher>(*this, is_active));
          {
            absl::MutexLock lock(&mu_);
            ++started_;
          }
          watchers_.back()->Start(*stubs_.back(), after);
        }
      }
      return absl::OkStatus();
    };
    KINEX_RETURN_IF_ERROR(open_group(active, true));
    return open_group(total - active, false);
  }

  int connections() const { return static_cast<int>(channels_.size()); }

  void Ended(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    ++ended_;
    ++end_codes_[status.error_code()];
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
        end_samples_.size() < 5) {
      end_samples_.push_back(
          absl::StrCat(static_cast<int>(status.error_code()), ": ", status.error_message()));
    }
  }
  int ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }
  std::string EndCodes() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> parts;
    for (const auto& [code, n] : end_codes_) parts.push_back(absl::StrCat(code, "=", n));
    for (const auto& s : end_samples_) parts.push_back(absl::StrCat("[", s, "]"));
    return parts.empty() ? "none" : absl::StrJoin(parts, " ");
  }

  // Received counts: the least and most over active watchers still open,
  // the total over idle ones, and how many active ones have ended.
  struct Counts {
    int64_t active_min = 0, active_max = 0, idle_total = 0;
    int active_ended = 0;
  };
  Counts Received() const {
    Counts c;
    bool first = true;
    for (const auto& w : watchers_) {
      const int64_t r = w->received();
      if (!w->active()) {
        c.idle_total += r;
      } else if (w->done()) {
        ++c.active_ended;
      } else if (first) {
        c.active_min = c.active_max = r;
        first = false;
      } else {
        c.active_min = std::min(c.active_min, r);
        c.active_max = std::max(c.active_max, r);
      }
    }
    return c;
  }

  // Cancels every stream and waits (up to `timeout`) for all to end.
  bool CloseAll(absl::Duration timeout) {
    for (auto& w : watchers_) w->Cancel();
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](WatchSet* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
                                      return s->ended_ == s->started_;
                                    },
                                    this),
                                timeout);
  }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<nv1::Notifications::Stub>> stubs_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  absl::Mutex mu_;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int ended_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, int> end_codes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> end_samples_ ABSL_GUARDED_BY(mu_);
};

void Watcher::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended: OnDone follows
  set_.deliveries.Record(message_, absl::Now());
  received_.fetch_add(1);
  StartRead(&message_);
}

void Watcher::OnDone(const grpc::Status& status) {
  done_.store(true);
  set_.Ended(status);
}

// The gateway's gauge of open watches, or -1.
double GaugeWatchers(const KinexCluster& cluster, const std::string& metrics_target) {
  auto v = kinex::testing::MetricValue(cluster.ScrapeMetrics(metrics_target),
                                       "kinex_notification_watchers");
  return v.has_value() ? *v : -1;
}

// The gateway's delivery histogram (cause committed -> write started):
// its sum in seconds and its count, for a mean between two scrapes.
struct Histo {
  double sum = 0, count = 0;
};
Histo DeliveryHistogram(const KinexCluster& cluster, const std::string& metrics_target) {
  const std::string text = cluster.ScrapeMetrics(metrics_target);
  Histo h;
  h.sum = kinex::testing::MetricValue(text, "kinex_notification_delivery_seconds_sum").value_or(0);
  h.count =
      kinex::testing::MetricValue(text, "kinex_notification_delivery_seconds_count").value_or(0);
  return h;
}

// ---------------------------------------------------------------------------
// The read load.

struct LoadSummary {
  int64_t window_calls = 0, window_ok = 0, unexpected = 0;
  // OK police reads, warm-up and drain included: one notification each.
  int64_t police_ok = 0;
  // Every OK read, warm-up and drain included: one audit event each.
  int64_t all_ok = 0;
  double calls_per_s = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  std::string samples;
};

// --callers closed-loop reads of `kinex_id`: each, with probability
// --notify_share, the Met's SAFEGUARDING read (one ACCESS notification to the
// LA), else the LA social worker's CARE_PLANNING read (kinex-bench's load;
// no notification).
absl::StatusOr<LoadSummary> DriveReads(const std::string& address, const std::string& kinex_id) {
  LoadDriver::Options o;
  o.callers = absl::GetFlag(FLAGS_callers);
  o.threads = absl::GetFlag(FLAGS_client_threads);
  o.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  o.duration = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const double share = absl::GetFlag(FLAGS_notify_share);
  std::vector<std::unique_ptr<ev1::Exchange::Stub>> police, la;
  std::vector<std::mt19937> rngs;
  for (int t = 0; t < std::max(1, o.threads); ++t) {
    for (auto [agency, into] : {std::pair{&kMet, &police}, std::pair{&kLa, &la}}) {
      KINEX_ASSIGN_OR_RETURN(auto channel, NewChannel(address, *agency, t + 1));
      if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
        return absl::UnavailableError(absl::StrCat("could not connect to ", address));
      }
      into->push_back(ev1::Exchange::NewStub(channel));
    }
    rngs.emplace_back(1234 + t);
  }
  const ev1::GetChildRecordRequest police_req = PoliceRead(kinex_id);
  ev1::GetChildRecordRequest la_req;
  la_req.mutable_child()->set_kinex_id(kinex_id);
  la_req.set_purpose(cv1::CARE_PLANNING);
  LoadReport r = LoadDriver::Run(o, [&](int thread, grpc::CompletionQueue* cq) {
    const bool notify =
        share >= 1 || std::uniform_real_distribution<double>(0, 1)(rngs[thread]) < share;
    auto call = std::make_unique<UnaryCall<ev1::GetChildRecordResponse>>(
        notify ? "GetChildRecord.police" : "GetChildRecord.la");
    call->ctx.AddMetadata("x-kinex-actor", kActor);
    call->reader = notify ? police[thread]->PrepareAsyncGetChildRecord(&call->ctx, police_req, cq)
                          : la[thread]->PrepareAsyncGetChildRecord(&call->ctx, la_req, cq);
    return call;
  });
  LoadSummary s;
  s.window_calls = r.WindowCalls();
  s.window_ok = r.WindowOk();
  std::vector<std::string> samples;
  for (const auto& [kind, k] : r.kinds) {
    auto it = k.all_codes.find(grpc::StatusCode::OK);
    if (it != k.all_codes.end()) s.all_ok += it->second;
    s.unexpected += k.unexpected;
    samples.insert(samples.end(), k.unexpected_samples.begin(), k.unexpected_samples.end());
  }
  s.samples = absl::StrJoin(samples, "; ");
  const auto& pk = r.kinds["GetChildRecord.police"].all_codes;
  auto ok = pk.find(grpc::StatusCode::OK);
  s.police_ok = ok == pk.end() ? 0 : ok->second;
  s.calls_per_s = static_cast<double>(s.window_calls) / absl::ToDoubleSeconds(r.window);
  const std::vector<uint32_t> lat = r.SortedWindowLatencies();
  s.p50 = PercentileMs(lat, 0.50);
  s.p90 = PercentileMs(lat, 0.90);
  s.p99 = PercentileMs(lat, 0.99);
  s.max = lat.empty() ? 0 : lat.back() / 1000.0;
  return s;
}

std::string LoadLine(const LoadSummary& s) {
  return absl::StrFormat(
      "calls=%d ok=%d unexpected=%d%s throughput=%.0f calls/s p50=%.2f ms p90=%.2f ms "
      "p99=%.2f ms max=%.2f ms; notifying (police) reads OK incl. warm-up and drain: %d",
      s.window_calls, s.window_ok, s.unexpected,
      s.samples.empty() ? "" : absl::StrCat(" [", s.samples, "]"), s.calls_per_s, s.p50, s.p90,
      s.p99, s.max, s.police_ok);
}

std::string LatencyLine(const std::vector<uint32_t>& sorted_us) {
  return absl::StrFormat("n=%d p50=%.1f ms p90=%.1f ms p99=%.1f ms max=%.1f ms", sorted_us.size(),
                         PercentileMs(sorted_us, 0.50), PercentileMs(sorted_us, 0.90),
                         PercentileMs(sorted_us, 0.99),
                         sorted_us.empty() ? 0.0 : sorted_us.back() / 1000.0);
}

std::string MachineLine() {
  std::ifstream f("/proc/loadavg");
  std::string load;
  std::getline(f, load);
  return absl::StrCat("machine: nproc=", std::thread::hardware_concurrency(), " loadavg=\"", load,
                      "\"");
}

std::string Growth(const ProcStatus& from, const ProcStatus& to) {
  return absl::StrFormat("%+.1f MB RSS, %+.1f MB anon, threads %+d",
                         (to.rss_kb - from.rss_kb) / 1024.0, (to.anon_kb - from.anon_kb) / 1024.0,
                         to.threads - from.threads);
}

// ---------------------------------------------------------------------------
// The run.

class Bench {
 public:
  Bench(KinexCluster& cluster, bool all_in_one, pid_t pid)
      : c_(cluster), metrics_target_(all_in_one ? "all" : "gateway"), pid_(pid), sampler_(pid) {}

  Sampler& sampler() { return sampler_; }

  // Opens --watchers streams resuming after the newest notification and
  // waits for the gateway's gauge to count them all. Null when they did not
  // all open (reported).
  std::unique_ptr<WatchSet> Open(const std::string& label, int total, int active, int per_channel) {
    gauge0_ = GaugeWatchers(c_, metrics_target_);
    auto size = AuditTreeSize(c_);
    if (!size.ok()) {
      std::cerr << size.status() << "\n";
      return nullptr;
    }
    // After every notification of every leaf so far: nothing replays.
    const std::string cursor = *size == 0 ? "" : absl::StrCat(*size - 1, ".", kMaxNotify - 1);
    auto set = std::make_unique<WatchSet>();
    sampler_.Reset();
    const absl::Time start = absl::Now();
    if (absl::Status s = set->Open(c_.gateway_address(), total, active, per_channel, cursor);
        !s.ok()) {
      std::cerr << "opening watchers: " << s << "\n";
      return nullptr;
    }
    const absl::Time deadline = start + absl::Seconds(absl::GetFlag(FLAGS_open_timeout_seconds));
    double gauge = 0;
    while (true) {
      gauge = GaugeWatchers(c_, metrics_target_) - gauge0_;
      if (gauge >= total || set->ended() > 0 || absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    std::cout << absl::StrFormat(
        "%s: gauge %.0f of %d watchers after %.1f s over %d connections; ended early: %d "
        "(codes: %s); gateway max while opening: %s\n",
        label, gauge, total, absl::ToDoubleSeconds(absl::Now() - start), set->connections(),
        set->ended(), set->EndCodes(), StatusLine(sampler_.Max()));
    if (gauge < total) {
      std::cout << "NOT every watcher opened\n";
      set->CloseAll(absl::Seconds(30));
      return nullptr;
    }
    return set;
  }

  // Cancels every stream, waits for the gauge to fall back and the process
  // to settle; returns the gateway's status then.
  // Cancels every stream, waits for the gauge to fall back and the process
  // to settle, and reads the gateway (connections still open); then closes
  // the connections (drops the channels) and reads it again, which is
  // returned.
  ProcStatus Close(const std::string& label, std::unique_ptr<WatchSet>& set,
                   const ProcStatus& before) {
    const absl::Time start = absl::Now();
    const bool closed = set->CloseAll(absl::Seconds(60));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (GaugeWatchers(c_, metrics_target_) > gauge0_ && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    const absl::Duration took = absl::Now() - start;
    Settle();
    const ProcStatus streams_closed = ReadStatus(pid_);
    std::cout << absl::StrFormat(
        "%s: %s in %.1f s (end codes: %s); watchers gauge %.0f; gateway %s; vs before "
        "opening: %s\n",
        label, closed ? "every stream ended" : "NOT every stream ended within 60 s",
        absl::ToDoubleSeconds(took), set->EndCodes(), GaugeWatchers(c_, metrics_target_),
        StatusLine(streams_closed), Growth(before, streams_closed));
    const int connections = set->connections();
    set.reset();
    Settle();
    const ProcStatus after = ReadStatus(pid_);
    std::cout << absl::StrFormat("%s, and its %d connections closed: gateway %s; vs before: %s\n",
                                 label, connections, StatusLine(after), Growth(before, after));
    return after;
  }

  void Settle() { absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_settle_seconds))); }
  ProcStatus Status() const { return ReadStatus(pid_); }
  double Cpu() const { return CpuSeconds(pid_); }
  absl::StatusOr<uint64_t> TreeSize() const { return AuditTreeSize(c_); }
  Histo Histogram() const { return DeliveryHistogram(c_, metrics_target_); }

 private:
  KinexCluster& c_;
  const std::string metrics_target_;
  const pid_t pid_;
  Sampler sampler_;
  double gauge0_ = 0;
};

int Run(const std::string& command) {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const bool all_in_one = mode == "all";
  const int total = absl::GetFlag(FLAGS_watchers);
  const int active = std::min(absl::GetFlag(FLAGS_active_watchers), total);
  int per_channel = absl::GetFlag(FLAGS_streams_per_channel);
  if (absl::GetFlag(FLAGS_channels) > 0 && total > 0) {
    per_channel = (total + absl::GetFlag(FLAGS_channels) - 1) / absl::GetFlag(FLAGS_channels);
  }
  const int poll_millis = absl::GetFlag(FLAGS_poll_millis);

  std::cout << "command: " << command << "\n" << MachineLine() << "\n";
  std::cout << absl::StrFormat(
      "settings: mode=%s watchers=%d (active, as %s/%s: %d; idle, over %d other agencies: %d) "
      "streams_per_connection=%d callers=%d client_threads=%d notify_share=%.3f warmup=%.0fs "
      "seconds=%.0fs poll=%d ms; audit: SQLite WAL synchronous=FULL (each event durable "
      "before the reply, and before the delivery it records)\n",
      mode, total, kLa.kind, kLa.code, active, IdleAgencies().size(), total - active, per_channel,
      absl::GetFlag(FLAGS_callers), absl::GetFlag(FLAGS_client_threads),
      absl::GetFlag(FLAGS_notify_share), absl::GetFlag(FLAGS_warmup_seconds),
      absl::GetFlag(FLAGS_seconds), poll_millis);
  if (per_channel > 100) {
    std::cout << "warning: more than 100 streams per connection: the server's default "
                 "max_concurrent_streams_per_connection (100) leaves the rest queued in the "
                 "client\n";
  }

  auto cluster = KinexCluster::Start(
      {.mode = all_in_one ? KinexCluster::Mode::kAllInOne : KinexCluster::Mode::kMicroservices,
       .postgres = false,
       .extra_config =
           absl::StrCat("gateway { rate_limit_per_agency: 1e9 rate_limit_burst: 1000000 "
                        "max_in_flight_per_agency: 100000 max_streams_per_agency: -1 "
                        "notification_poll_millis: ",
                        poll_millis, " }\n")});
  if (!cluster.ok()) {
    std::cerr << "starting Kinex: " << cluster.status() << "\n";
    return 1;
  }
  KinexCluster& c = **cluster;
  const std::string gw = c.gateway_address();
  const std::optional<pid_t> pid = GatewayPid(all_in_one);
  if (!pid.has_value()) {
    std::cerr << "no kinex child process with --config=.../" << (all_in_one ? "all" : "gateway")
              << ".textproto\n";
    return 1;
  }
  std::cout << "gateway process: pid " << *pid
            << " (found in /proc: the child kinex process whose --config is the cluster's "
            << (all_in_one ? "all" : "gateway") << ".textproto)\n";
  Bench bench(c, all_in_one, *pid);

  auto kid = kinex::testing::PublishDemoChild(c, kChild, kActor);
  if (!kid.ok()) {
    std::cerr << "seeding " << kChild << ": " << kid.status() << "\n";
    return 1;
  }
  {
    auto ch = NewChannel(gw, kMet, 0);
    if (!ch.ok()) {
      std::cerr << ch.status() << "\n";
      return 1;
    }
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", kActor);
    ev1::GetChildRecordResponse resp;
    grpc::Status s = ev1::Exchange::NewStub(*ch)->GetChildRecord(&ctx, PoliceRead(*kid), &resp);
    if (!s.ok()) {
      std::cerr << "first police read: " << s.error_message() << "\n";
      return 1;
    }
  }
  std::cout << "seeded " << kChild << " (" << *kid << "); the Met's read is allowed\n";

  // 1. The read load with no watcher.
  std::optional<LoadSummary> baseline;
  if (absl::GetFlag(FLAGS_baseline)) {
    std::cout << "baseline: read load, no watcher open ..." << std::endl;
    const double cpu0 = bench.Cpu();
    const absl::Time start = absl::Now();
    auto b = DriveReads(gw, *kid);
    const double cpu = bench.Cpu() - cpu0;
    if (!b.ok()) {
      std::cerr << b.status() << "\n";
      return 1;
    }
    baseline = *b;
    std::cout << "baseline reads: " << LoadLine(*baseline) << "\n";
    std::cout << absl::StrFormat(
        "gateway during baseline: CPU %.1f s (%.0f%% of one core), %.0f us per read\n", cpu,
        100 * cpu / absl::ToDoubleSeconds(absl::Now() - start),
        1e6 * cpu / std::max<int64_t>(1, b->all_ok));
  }
  if (total == 0) return 0;

  // 2. Idle watchers: memory and threads; then closed: what is given back.
  // Repeated (--cycles): memory that stays level from one close to the next
  // is the allocator keeping pages, memory that climbs is a leak.
  bench.Settle();
  const ProcStatus before = bench.Status();
  std::cout << "gateway before watchers: " << StatusLine(before) << "\n";
  ProcStatus idle, closed;
  std::vector<std::string> closes;
  const int cycles = std::max(1, absl::GetFlag(FLAGS_cycles));
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    std::unique_ptr<WatchSet> set =
        bench.Open(absl::StrCat("opened (idle, cycle ", cycle, ")"), total, active, per_channel);
    if (set == nullptr) return 1;
    bench.Settle();
    const ProcStatus now = bench.Status();
    if (cycle == 1) idle = now;
    const WatchSet::Counts replayed = set->Received();
    std::cout << absl::StrFormat(
        "gateway with %d idle watchers: %s; vs before: %s (%.2f KB RSS, %.2f KB anon per "
        "watcher); messages received while idle: %d\n",
        total, StatusLine(now), Growth(before, now),
        static_cast<double>(now.rss_kb - before.rss_kb) / total,
        static_cast<double>(now.anon_kb - before.anon_kb) / total,
        replayed.active_max + replayed.idle_total);
    closed = bench.Close(absl::StrCat("closed (idle, cycle ", cycle, ")"), set, before);
    closes.push_back(absl::StrFormat("%+.1f", (closed.rss_kb - before.rss_kb) / 1024.0));
  }
  const double per_watcher_kb = static_cast<double>(idle.rss_kb - before.rss_kb) / total;
  const ProcStatus closed1 = closed;

  // 3. Watchers again, under the read load.
  std::unique_ptr<WatchSet> set = bench.Open("reopened", total, active, per_channel);
  if (set == nullptr) return 1;
  bench.Settle();
  const ProcStatus reopened = bench.Status();
  std::cout << "gateway with " << total << " watchers reopened: " << StatusLine(reopened)
            << "; vs after the last close: " << Growth(closed1, reopened) << "\n";
  auto tree0 = bench.TreeSize();
  const Histo h0 = bench.Histogram();
  const double cpu0 = bench.Cpu();
  bench.sampler().Reset();
  const absl::Time load_start = absl::Now();
  std::cout << "loaded: read load with " << total << " watchers open ..." << std::endl;
  auto loaded = DriveReads(gw, *kid);
  if (!loaded.ok()) {
    std::cerr << loaded.status() << "\n";
    set->CloseAll(absl::Seconds(30));
    return 1;
  }
  const absl::Time load_end = absl::Now();
  const absl::Time drain_deadline = load_end + absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  while (active > 0 && set->Received().active_ended < active &&
         set->Received().active_min < loaded->police_ok && absl::Now() < drain_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const absl::Duration drain = absl::Now() - load_end;
  const double cpu1 = bench.Cpu();
  const ProcStatus load_max = bench.sampler().Max();
  auto tree1 = bench.TreeSize();
  const Histo h1 = bench.Histogram();
  const WatchSet::Counts got = set->Received();
  const std::vector<uint32_t> first = set->deliveries.First();
  const std::vector<uint32_t> every = set->deliveries.All();
  const bool all_delivered = got.active_min >= loaded->police_ok && got.active_ended == 0;
  std::cout << "loaded reads:   " << LoadLine(*loaded) << "\n";
  if (baseline.has_value()) {
    std::cout << absl::StrFormat(
        "reads vs baseline: throughput %.0f -> %.0f calls/s (%.0f%%), p99 %.2f -> %.2f ms\n",
        baseline->calls_per_s, loaded->calls_per_s,
        baseline->calls_per_s > 0 ? 100 * loaded->calls_per_s / baseline->calls_per_s : 0,
        baseline->p99, loaded->p99);
  }
  std::cout << absl::StrFormat(
      "notifications: %d distinct received (notifying reads OK: %d); per active watcher still "
      "open %d-%d; %s %.1f s after the load ended; idle watchers received %d\n",
      first.size(), loaded->police_ok, got.active_min, got.active_max,
      got.active_min >= loaded->police_ok ? "every open active watcher had every one"
                                          : "NOT all delivered",
      absl::ToDoubleSeconds(drain), got.idle_total);
  if (set->ended() > 0) {
    std::cout << absl::StrFormat(
        "STREAMS ENDED BY THE SERVER during the load: %d (%d of them active); codes: %s\n",
        set->ended(), got.active_ended, set->EndCodes());
  }
  std::cout << "latency, first watcher per notification: " << LatencyLine(first) << "\n";
  std::cout << "latency, every watcher:                  " << LatencyLine(every) << "\n";
  if (h1.count > h0.count) {
    std::cout << absl::StrFormat(
        "gateway's histogram (cause committed -> write started): %.0f writes, mean %.1f ms\n",
        h1.count - h0.count, 1000 * (h1.sum - h0.sum) / (h1.count - h0.count));
  }
  if (tree0.ok() && tree1.ok()) {
    const int64_t events = static_cast<int64_t>(*tree1 - *tree0);
    const int64_t delivery_events = events - loaded->all_ok;
    std::cout << absl::StrFormat(
        "audit: +%d events over the phase: %d reads, so about %d NOTIFICATION_DELIVERED "
        "(one per watcher per delivery batch) for %d messages (%.1f messages per event)\n",
        events, loaded->all_ok, delivery_events, every.size(),
        delivery_events > 0 ? static_cast<double>(every.size()) / delivery_events : 0.0);
  }
  const double phase_s = absl::ToDoubleSeconds(load_end - load_start + drain);
  std::cout << absl::StrFormat(
      "gateway during load and drain (%.1f s): max %s; CPU %.1f s (%.0f%% of one core)\n", phase_s,
      StatusLine(load_max), cpu1 - cpu0, 100 * (cpu1 - cpu0) / phase_s);

  // 4. Closed again.
  const ProcStatus closed2 = bench.Close("closed (after load)", set, before);

  const double p99 = PercentileMs(every, 0.99);
  std::cout << absl::StrFormat(
      "summary: %d idle watchers: %+.1f MB RSS (%.2f KB each), threads %d -> %d; RSS vs "
      "before once streams and connections are closed: idle cycles %s MB, after the load "
      "%+.1f MB; delivery to every "
      "watcher p50 %.1f ms p99 %.1f ms (first watcher p99 %.1f ms), target p99 <= 1000 ms: "
      "%s\n",
      total, (idle.rss_kb - before.rss_kb) / 1024.0, per_watcher_kb, before.threads, idle.threads,
      absl::StrJoin(closes, ", "), (closed2.rss_kb - before.rss_kb) / 1024.0,
      PercentileMs(every, 0.5), p99, PercentileMs(first, 0.99),
      p99 <= 1000 && all_delivered ? "met" : "NOT met");
  std::cout << MachineLine() << "\n";
  return 0;
}

}  // namespace
}  // namespace kinex::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kinex-notify-bench: memory and threads of idle WatchNotifications streams on the "
      "gateway, and delivery latency under a read load");
  std::vector<std::string> args(argv, argv + argc);
  absl::ParseCommandLine(argc, argv);
  // As kinex-bench: Abseil's deadlock detection off (Debian builds it on).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "all" && mode != "microservices") {
    std::cerr << "--mode: \"" << mode << "\" is not one of all, microservices\n";
    return 2;
  }
  const double share = absl::GetFlag(FLAGS_notify_share);
  if (absl::GetFlag(FLAGS_watchers) < 0 || absl::GetFlag(FLAGS_active_watchers) < 0 ||
      absl::GetFlag(FLAGS_streams_per_channel) < 1 || absl::GetFlag(FLAGS_callers) < 1 ||
      absl::GetFlag(FLAGS_client_threads) < 1 || absl::GetFlag(FLAGS_poll_millis) < 1 ||
      share < 0 || share > 1) {
    std::cerr << "--watchers and --active_watchers must be at least 0; --streams_per_channel, "
                 "--callers, --client_threads and --poll_millis at least 1; --notify_share "
                 "0-1\n";
    return 2;
  }
  if (absl::Status s = kinex::bench::EnsurePki(); !s.ok()) {
    std::cerr << "test PKI: " << s << "\n";
    return 1;
  }
  return kinex::bench::Run(absl::StrJoin(args, " "));
}
