// What the gateway core counts, as an interface: the core stays plain C++
// (no prometheus); the Prometheus implementation is gateway::Metrics
// (metrics.h, in the adapter library kinex::gateway_service). Labels are
// operational only: never child identifiers or record contents.
#ifndef KINEX_SERVICES_GATEWAY_GATEWAY_METRICS_H_
#define KINEX_SERVICES_GATEWAY_GATEWAY_METRICS_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kinex::gateway {

// Thread-safe implementations only.
class GatewayMetrics {
 public:
  virtual ~GatewayMetrics() = default;
  // Counts a policy decision (allow or deny).
  virtual void RecordDecision(bool allowed) = 0;
  // Observes the latency of one audit append.
  virtual void RecordAuditAppend(absl::Duration latency) = 0;
  // Counts a break-glass disclosure by the caller's agency kind.
  virtual void RecordBreakGlass(absl::string_view agency_kind) = 0;
  // Counts a new claimed link (an agency's first part about a child that the
  // responsible LA has not confirmed). Agency codes are not child data.
  virtual void RecordLinkClaim(absl::string_view agency_kind, absl::string_view agency_code) = 0;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_GATEWAY_METRICS_H_
