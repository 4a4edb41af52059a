// A closed-loop load driver for unary gRPC calls on the async API: `callers`
// calls are always outstanding, spread over a few client threads, each with
// its own CompletionQueue (and, usually, its own channel). When a call
// completes, its caller issues the next one until the run ends. Latency is
// measured from issue to completion on the client.
//
// Used by kinex-bench for the side-by-side benchmark (every call the same
// GetChildRecord, or the realistic mix of realistic.h), for the soak (a
// weighted mix of operations, each with the status codes it is expected to
// end with), and for bulk seeding (a fixed set of publishes: the factory
// returns null when it has none left).
//
// Example:
//   LoadDriver::Options o{.callers = 64, .threads = 2, .warmup = absl::Seconds(2),
//                         .duration = absl::Seconds(10)};
//   LoadReport r = LoadDriver::Run(o, [&](int thread, grpc::CompletionQueue* cq) {
//     auto call = std::make_unique<UnaryCall<GetChildRecordResponse>>("read");
//     call->reader = stubs[thread]->PrepareAsyncGetChildRecord(&call->ctx, req, cq);
//     return call;  // the driver starts it and finishes it
//   });
#ifndef KINEX_BENCH_LOAD_LOAD_DRIVER_H_
#define KINEX_BENCH_LOAD_LOAD_DRIVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"

namespace kinex::bench {

// One in-flight unary call. Subclasses hold the typed response reader.
// Owned by the driver while outstanding; touched by one client thread only.
class Call {
 public:
  explicit Call(std::string kind) : kind_(std::move(kind)) {}
  virtual ~Call() = default;

  // Starts the RPC and asks for its completion with `this` as the tag.
  virtual void StartAndFinish() = 0;

  // Runs on the client thread after completion (before the next call is
  // issued), e.g. to keep an etag or a consent id. Optional.
  std::function<void(Call&)> on_done;
  // Codes this call may end with and still be a correct answer (e.g. OK, or
  // PERMISSION_DENIED for a request that must be refused). Empty: only OK.
  std::set<grpc::StatusCode> expected;

  const std::string& kind() const { return kind_; }
  grpc::ClientContext ctx;
  grpc::Status status;
  absl::Time started;

 private:
  std::string kind_;
};

// A unary call returning `Response`. Set `reader` from the stub's
// PrepareAsync<Method>(&ctx, request, cq) before returning it to the driver.
template <typename Response>
class UnaryCall : public Call {
 public:
  using Call::Call;
  void StartAndFinish() override {
    reader->StartCall();
    reader->Finish(&response, &status, this);
  }
  Response response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
};

// Counts and latencies of one kind of operation.
struct KindReport {
  // Every completed call, by status code (including warm-up and drain).
  std::map<grpc::StatusCode, int64_t> all_codes;
  // Calls that ended with a code not in Call::expected.
  int64_t unexpected = 0;
  // First few unexpected outcomes, "CODE: message".
  std::vector<std::string> unexpected_samples;
  // Calls completed inside the measurement window, by status code.
  std::map<grpc::StatusCode, int64_t> window_codes;
  // Latencies (microseconds) of calls completed inside the window.
  std::vector<uint32_t> window_latency_us;
};

// The result of one run.
struct LoadReport {
  // By Call::kind().
  std::map<std::string, KindReport> kinds;
  // Length of the measurement window actually run.
  absl::Duration window;
  // Every call completed (window, warm-up and drain).
  int64_t TotalCalls() const;
  // Calls completed in the window, and how many of them were OK.
  int64_t WindowCalls() const;
  int64_t WindowOk() const;
  // All window latencies merged, sorted ascending.
  std::vector<uint32_t> SortedWindowLatencies() const;
};

// Runs closed-loop load. Thread-compatible (one Run at a time per factory).
class LoadDriver {
 public:
  struct Options {
    // Calls outstanding at all times. Default 64.
    int callers = 64;
    // Client threads, each with its own CompletionQueue. Default 2.
    int threads = 2;
    // Calls completing during the warm-up are not measured. Default 2 s.
    absl::Duration warmup = absl::Seconds(2);
    // Length of the measured window after the warm-up. Default 10 s.
    absl::Duration duration = absl::Seconds(10);
    // Deadline of every call. Default 30 s.
    absl::Duration call_deadline = absl::Seconds(30);
    // Optional: called on a separate thread every `tick` until the run ends
    // (e.g. to print progress or sample memory), with the time since the start.
    std::function<void(absl::Duration elapsed)> on_tick;
    absl::Duration tick = absl::Seconds(10);
  };
  // Makes the next call for client thread `thread`, prepared on `cq` but not
  // started. Called concurrently from every client thread. Null when there
  // is no more work (a fixed set, e.g. seeding): that caller stops, and the
  // run ends when every caller has stopped or `duration` is over.
  using Factory = std::function<std::unique_ptr<Call>(int thread, grpc::CompletionQueue* cq)>;

  static LoadReport Run(const Options& options, const Factory& factory);
};

// "p50 1.23 ms"-style percentile of sorted latencies, in milliseconds.
double PercentileMs(const std::vector<uint32_t>& sorted_us, double q);

}  // namespace kinex::bench

#endif  // KINEX_BENCH_LOAD_LOAD_DRIVER_H_
