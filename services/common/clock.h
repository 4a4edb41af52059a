// An injectable clock. Kinex logic never reads the wall clock directly: it
// takes a Clock, so tests control time (see tests/testing/fake_clock.h).
#ifndef KINEX_SERVICES_COMMON_CLOCK_H_
#define KINEX_SERVICES_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kinex {

// A source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // The current time.
  virtual absl::Time Now() const = 0;
};

// The system's real-time clock. Thread-safe.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance.
  static const Clock& Get() {
    static const RealClock clock;
    return clock;
  }
};

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_CLOCK_H_
