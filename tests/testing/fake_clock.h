// A Clock that tests set and advance by hand.
#ifndef KINEX_TESTS_TESTING_FAKE_CLOCK_H_
#define KINEX_TESTS_TESTING_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/clock.h"

namespace kinex {

// A manually driven clock. Thread-safe.
class FakeClock final : public Clock {
 public:
  // Starts at `start` (default 2026-09-01T08:00:00Z, a school day).
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1788249600)) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  // Sets the time.
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  // Moves the time forward by `d`.
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex

#endif  // KINEX_TESTS_TESTING_FAKE_CLOCK_H_
