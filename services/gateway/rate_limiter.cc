#include "services/gateway/rate_limiter.h"

#include <algorithm>

namespace kinex::gateway {

bool RateLimiter::Allow(absl::string_view agency) {
  if (options_.per_second <= 0) return true;
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = buckets_.try_emplace(agency, Bucket{options_.burst, now});
  Bucket& b = it->second;
  if (!inserted) {
    const double elapsed = absl::ToDoubleSeconds(std::max(now - b.last, absl::ZeroDuration()));
    b.tokens = std::min(options_.burst, b.tokens + elapsed * options_.per_second);
    b.last = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace kinex::gateway
