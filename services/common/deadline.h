// Deadline propagation from an incoming call to the internal calls made
// while serving it. The gateway's edge opens a ScopedCallDeadline with the
// caller's deadline; every gRPC client inside Kinex sets its outgoing
// deadline with SetOutgoingDeadline, which takes the earlier of its own
// timeout and the caller's. A caller that gives up after 2 s therefore never
// leaves a 5 s internal call running on its behalf.
//
// Synchronous gRPC handlers serve one call per thread, so the deadline is
// kept per thread.
//
// Example:
//   ScopedCallDeadline scope(absl::FromChrono(server_ctx->deadline()));
//   ...
//   grpc::ClientContext ctx;
//   SetOutgoingDeadline(ctx, absl::Seconds(5));
#ifndef KINEX_SERVICES_COMMON_DEADLINE_H_
#define KINEX_SERVICES_COMMON_DEADLINE_H_

#include <grpcpp/client_context.h>

#include <optional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kinex {

// Marks the deadline of the call this thread serves until destroyed. Scopes
// nest; the inner one wins while it lives.
class ScopedCallDeadline {
 public:
  explicit ScopedCallDeadline(absl::Time deadline) : previous_(current()) { current() = deadline; }
  ~ScopedCallDeadline() { current() = previous_; }
  ScopedCallDeadline(const ScopedCallDeadline&) = delete;
  ScopedCallDeadline& operator=(const ScopedCallDeadline&) = delete;

  // The deadline of the call this thread serves (InfiniteFuture if none).
  static absl::Time Current() { return current(); }

 private:
  static absl::Time& current() {
    thread_local absl::Time deadline = absl::InfiniteFuture();
    return deadline;
  }
  absl::Time previous_;
};

// Sets `ctx`'s deadline to the earlier of now + `timeout` and the deadline
// of the call this thread serves.
inline void SetOutgoingDeadline(grpc::ClientContext& ctx, absl::Duration timeout) {
  const absl::Time own = absl::Now() + timeout;
  const absl::Time inherited = ScopedCallDeadline::Current();
  ctx.set_deadline(absl::ToChronoTime(inherited < own ? inherited : own));
}

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_DEADLINE_H_
