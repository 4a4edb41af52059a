// What every public gateway call goes through, whatever its API: the call
// context (mTLS identity, actor, request id) and the request id returned in
// `x-kinex-request-id` response metadata; the caller agency's rate limit; one
// status conversion; a metrics count; one JSON log line (request id,
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
#include <ostream>
#include <string>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "services/gateway/call_context.h"
#include "services/gateway/metrics.h"
#include "services/gateway/rate_limiter.h"

namespace kinex::gateway {

// Thread-safe; the limiter, metrics and log stream must outlive it.
class Edge {
 public:
  // The body of a call: gets the established context, may set a short
  // outcome word for the log ("allow", "deny", ...), returns the status.
  using Body = std::function<absl::Status(const CallContext& call, std::string& outcome)>;

  Edge(RateLimiter& limiter, Metrics& metrics, std::string trust_domain, std::ostream& log)
      : limiter_(limiter), metrics_(metrics), trust_domain_(std::move(trust_domain)), log_(log) {}

  // Runs `body` for one call of `method`; `purpose` (a Purpose value, 0 when
  // the API has none) goes to the log line.
  grpc::Status Run(grpc::ServerContext* ctx, const char* method, int purpose,
                   const Body& body) const;

 private:
  RateLimiter& limiter_;
  Metrics& metrics_;
  const std::string trust_domain_;
  std::ostream& log_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_EDGE_H_
