#include "bench/load/load_driver.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace kinex::bench {
namespace {

constexpr size_t kMaxUnexpectedSamples = 5;

// Runs `callers` closed-loop calls on one CompletionQueue until `end`.
void ClientLoop(int thread, int callers, absl::Time window_start, absl::Time end,
                const LoadDriver::Options& options, const LoadDriver::Factory& factory,
                std::map<std::string, KindReport>& out) {
  grpc::CompletionQueue cq;
  int outstanding = 0;
  auto issue = [&] {
    std::unique_ptr<Call> call = factory(thread, &cq);
    if (call == nullptr) return;  // this caller has no more work
    call->started = absl::Now();
    call->ctx.set_deadline(absl::ToChronoTime(call->started + options.call_deadline));
    call->StartAndFinish();
    call.release();  // owned by the queue until its tag comes back
    ++outstanding;
  };
  for (int i = 0; i < callers; ++i) issue();
  void* tag = nullptr;
  bool ok = false;
  while (outstanding > 0 && cq.Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    --outstanding;
    const absl::Time now = absl::Now();
    KindReport& k = out[call->kind()];
    const grpc::StatusCode code = call->status.error_code();
    ++k.all_codes[code];
    const bool expected =
        call->expected.empty() ? code == grpc::StatusCode::OK : call->expected.count(code) > 0;
    if (!expected) {
      ++k.unexpected;
      if (k.unexpected_samples.size() < kMaxUnexpectedSamples) {
        k.unexpected_samples.push_back(
            absl::StrCat(static_cast<int>(code), ": ", call->status.error_message()));
      }
    }
    if (now >= window_start && now < end) {
      ++k.window_codes[code];
      k.window_latency_us.push_back(
          static_cast<uint32_t>(absl::ToInt64Microseconds(now - call->started)));
    }
    if (call->on_done) call->on_done(*call);
    if (now < end) issue();
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

int64_t LoadReport::TotalCalls() const {
  int64_t n = 0;
  for (const auto& [kind, k] : kinds) {
    for (const auto& [code, c] : k.all_codes) n += c;
  }
  return n;
}

int64_t LoadReport::WindowCalls() const {
  int64_t n = 0;
  for (const auto& [kind, k] : kinds) {
    for (const auto& [code, c] : k.window_codes) n += c;
  }
  return n;
}

int64_t LoadReport::WindowOk() const {
  int64_t n = 0;
  for (const auto& [kind, k] : kinds) {
    auto it = k.window_codes.find(grpc::StatusCode::OK);
    if (it != k.window_codes.end()) n += it->second;
  }
  return n;
}

std::vector<uint32_t> LoadReport::SortedWindowLatencies() const {
  std::vector<uint32_t> all;
  for (const auto& [kind, k] : kinds) {
    all.insert(all.end(), k.window_latency_us.begin(), k.window_latency_us.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

double PercentileMs(const std::vector<uint32_t>& sorted_us, double q) {
  if (sorted_us.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted_us.size()));
  if (i >= sorted_us.size()) i = sorted_us.size() - 1;
  return sorted_us[i] / 1000.0;
}

LoadReport LoadDriver::Run(const Options& options, const Factory& factory) {
  const int threads = std::max(1, std::min(options.threads, options.callers));
  const absl::Time start = absl::Now();
  const absl::Time window_start = start + options.warmup;
  const absl::Time end = window_start + options.duration;
  std::vector<std::map<std::string, KindReport>> per_thread(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    const int callers = options.callers / threads + (t < options.callers % threads ? 1 : 0);
    workers.emplace_back([&, t, callers] {
      ClientLoop(t, callers, window_start, end, options, factory, per_thread[t]);
    });
  }
  absl::Notification done;
  std::thread ticker;
  if (options.on_tick) {
    ticker = std::thread([&] {
      absl::Time next = start + options.tick;
      while (!done.WaitForNotificationWithDeadline(next)) {
        options.on_tick(absl::Now() - start);
        next += options.tick;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  done.Notify();
  if (ticker.joinable()) ticker.join();

  LoadReport report;
  report.window = options.duration;
  for (auto& kinds : per_thread) {
    for (auto& [name, k] : kinds) {
      KindReport& into = report.kinds[name];
      for (const auto& [code, c] : k.all_codes) into.all_codes[code] += c;
      for (const auto& [code, c] : k.window_codes) into.window_codes[code] += c;
      into.unexpected += k.unexpected;
      for (auto& s : k.unexpected_samples) {
        if (into.unexpected_samples.size() < kMaxUnexpectedSamples) {
          into.unexpected_samples.push_back(std::move(s));
        }
      }
      into.window_latency_us.insert(into.window_latency_us.end(), k.window_latency_us.begin(),
                                    k.window_latency_us.end());
    }
  }
  return report;
}

}  // namespace kinex::bench
