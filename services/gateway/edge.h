// What every public gateway call goes through, whatever its API: the call
// context (mTLS identity, actor, request id) and the request id returned in
// `x-kinex-request-id` response metadata; only declared principals (the
// certificate's role must be declared for its agency kind in the policy
// set's roles, checked on every call so a reload takes effect at once); the
// caller agency's rate limit and its limit on calls in flight; one status
// conversion, with internal addresses stripped from the message (the full
// message goes to the log); a metrics count; one JSON log line (request id,
// principal, method, purpose, outcome, latency — never child identifiers or
// record contents).
//
// Example:
//   return edge_.Run(ctx, "GetChildRecord", request->purpose(),
//                    [&](const CallContext& call, std::string& outcome) {
//                      ...; outcome = "allow"; return absl::OkStatus();
//                    });
#ifndef KINEX_SERVICES_GATEWAY_EDGE_H_
#define KINEX_SERVICES_GATEWAY_EDGE_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"
#include "services/common/declared_roles.h"
#include "services/gateway/call_context.h"
#include "services/gateway/metrics.h"
#include "services/gateway/rate_limiter.h"

namespace kinex::gateway {

// Builds the context of a gateway call. UNAUTHENTICATED without a valid
// agency certificate (service identities are refused at the public front
// door: PERMISSION_DENIED); INVALID_ARGUMENT for a missing or malformed
// actor or request id.
absl::StatusOr<CallContext> ExtractCallContext(const grpc::ServerContextBase& ctx,
                                               absl::string_view trust_domain);

// What an Edge enforces beyond identity and the rate limit.
struct EdgeOptions {
  // The roles each agency kind may assert, consulted on every call. Default
  // (empty): no role check (unit tests of other parts only; the kinex
  // binary always sets it from the loaded policy set).
  RoleSource declared_roles;
  // Default 0: unlimited. Most unary calls one agency (kind/code) may have
  // in flight at once; more get RESOURCE_EXHAUSTED naming the limit. The
  // binary sets gateway.max_in_flight_per_agency (default 32).
  int max_in_flight_per_agency = 0;
  // Default 0: unlimited. Most long-lived streams (CallClass::kStream, e.g.
  // a notification watch) one agency may hold open at once, counted apart
  // from unary calls so held streams never starve them; more get
  // RESOURCE_EXHAUSTED naming the limit. The binary sets
  // gateway.max_streams_per_agency (default 4).
  int max_streams_per_agency = 0;
};

// Which of an agency's quotas a call counts against.
enum class CallClass {
  // A unary call: EdgeOptions::max_in_flight_per_agency.
  kUnary,
  // A long-lived stream, held for as long as the body runs:
  // EdgeOptions::max_streams_per_agency.
  kStream,
};

// Thread-safe; the limiter, metrics and log stream must outlive it.
class Edge {
 public:
  // The body of a call: gets the established context, may set a short
  // outcome word for the log ("allow", "deny", ...), returns the status.
  using Body = std::function<absl::Status(const CallContext& call, std::string& outcome)>;

  using Options = EdgeOptions;

  Edge(RateLimiter& limiter, Metrics& metrics, std::string trust_domain, std::ostream& log,
       Options options = {})
      : limiter_(limiter),
        metrics_(metrics),
        trust_domain_(std::move(trust_domain)),
        log_(log),
        options_(std::move(options)) {}

  // Runs `body` for one call of `method`; `purpose` (a Purpose value, 0 when
  // the API has none) goes to the log line. `call_class` says which of the
  // agency's quotas the call holds while `body` runs.
  grpc::Status Run(grpc::ServerContext* ctx, const char* method, int purpose, const Body& body,
                   CallClass call_class = CallClass::kUnary) const;

  // Run in two halves, for calls whose body outlives the handler (a
  // callback-API stream): Admit establishes the context and takes the
  // agency's slot (status not OK: refused, nothing to run); Complete, exactly
  // once when the call ends, releases the slot, counts, logs and converts.
  struct Admission {
    absl::Status status;
    std::optional<CallContext> call;
    std::string principal = "-";
    std::string kind = "unknown";
    std::string request_id;
    std::string agency;
    CallClass call_class = CallClass::kUnary;
    bool holds_slot = false;
    absl::Time start;
  };
  Admission Admit(grpc::ServerContextBase& ctx, CallClass call_class) const;
  grpc::Status Complete(Admission& admission, const char* method, int purpose,
                        absl::Status status, absl::string_view outcome) const;

 private:
  // The limit for `call_class` (<= 0: none).
  int LimitOf(CallClass call_class) const;
  // Takes one of `agency`'s slots of `call_class`; false when all are taken.
  bool Acquire(const std::string& agency, CallClass call_class) const;
  void Release(const std::string& agency, CallClass call_class) const;

  RateLimiter& limiter_;
  Metrics& metrics_;
  const std::string trust_domain_;
  std::ostream& log_;
  const Options options_;
  mutable absl::Mutex in_flight_mu_;
  // Slots taken, by (agency, class).
  mutable absl::flat_hash_map<std::pair<std::string, CallClass>, int> in_flight_
      ABSL_GUARDED_BY(in_flight_mu_);
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_EDGE_H_
