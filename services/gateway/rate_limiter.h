// Per-agency rate limiting: a token bucket per agency (kind and code), so one
// agency's runaway integration cannot starve the others.
//
// Example:
//   RateLimiter limiter({.per_second = 50, .burst = 100}, clock);
//   if (!limiter.Allow("school/137000")) return ResourceExhausted(...);
#ifndef KINEX_SERVICES_GATEWAY_RATE_LIMITER_H_
#define KINEX_SERVICES_GATEWAY_RATE_LIMITER_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/clock.h"

namespace kinex::gateway {

// Token buckets keyed by agency. Thread-safe.
class RateLimiter {
 public:
  struct Options {
    // Tokens added per second per agency. Default 50. 0 disables limiting.
    double per_second = 50;
    // Bucket size: the largest burst allowed. Default 100.
    double burst = 100;
  };
  RateLimiter(Options options, const Clock& clock) : options_(options), clock_(clock) {}

  // Takes one token from `agency`'s bucket; false when it is empty.
  bool Allow(absl::string_view agency);

 private:
  struct Bucket {
    double tokens;
    absl::Time last;
  };
  const Options options_;
  const Clock& clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_RATE_LIMITER_H_
