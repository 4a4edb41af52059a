// CopyOnWriteState: in-memory state changed all or nothing, for the fake
// stores that tests run the storage conformance suites against. A
// transaction works on a copy, which replaces the state only when the
// transaction returns OK; one transaction runs at a time.
//
// Example:
//   CopyOnWriteState<State> state_;
//   absl::Status Transact(const std::function<absl::Status(Txn&)>& fn) {
//     return state_.Transact([&](State& s) { Txn txn(s); return fn(txn); });
//   }
//   size_t Count() const { return state_.Read([](const State& s) { return s.rows.size(); }); }
#ifndef KINEX_SERVICES_COMMON_COPY_ON_WRITE_STATE_H_
#define KINEX_SERVICES_COMMON_COPY_ON_WRITE_STATE_H_

#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace kinex {

template <typename State>
class CopyOnWriteState {
 public:
  // Runs `fn` on a copy of the state; keeps the copy only if `fn` is OK.
  absl::Status Transact(const std::function<absl::Status(State&)>& fn) {
    absl::MutexLock lock(&mu_);
    State copy = state_;
    absl::Status status = fn(copy);
    if (status.ok()) state_ = std::move(copy);
    return status;
  }

  // `fn(const State&)`'s result, read under the lock.
  template <typename Fn>
  auto Read(Fn fn) const {
    absl::MutexLock lock(&mu_);
    return fn(state_);
  }

 private:
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_COPY_ON_WRITE_STATE_H_
