// The gateway's Prometheus metrics: the GatewayMetrics the core counts
// through, plus the edge's request counts; `kinex` serves the registry on
// its metrics endpoint beside every process's own (process_metrics.h). In
// the adapter library kinex::gateway_service (prometheus stays out of
// cores). Labels are operational only (method, status code, agency kind,
// decision outcome): never child identifiers, agency codes of children, or
// record contents.
//
// Example:
//   Metrics metrics;
//   metrics.RecordRequest("GetChildRecord", grpc::StatusCode::OK, "school");
//   exposer.RegisterCollectable(metrics.registry());  // kinex serves it (process_metrics.h)
#ifndef KINEX_SERVICES_GATEWAY_METRICS_H_
#define KINEX_SERVICES_GATEWAY_METRICS_H_

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kinex/notifications/v1/notifications.pb.h"
#include "services/gateway/gateway_metrics.h"

namespace kinex::gateway {

// The watch's counters (notifications_service.h).
class WatchMetrics {
 public:
  virtual ~WatchMetrics() = default;
  virtual void WatchersChanged(int delta) = 0;
  virtual void Delivered(kinex::notifications::v1::NotificationKind kind,
                         absl::Duration latency) = 0;
};

// Metric families on one registry. Thread-safe (prometheus-cpp is).
class Metrics final : public GatewayMetrics, public WatchMetrics {
 public:
  Metrics();

  // Counts a finished request: kinex_requests_total{method,code,agency_kind}.
  void RecordRequest(absl::string_view method, absl::string_view code,
                     absl::string_view agency_kind);
  // Counts a policy decision: kinex_decisions_total{outcome="allow"|"deny"}.
  void RecordDecision(bool allowed) override;
  // Observes an audit append: kinex_audit_append_seconds.
  void RecordAuditAppend(absl::Duration latency) override;
  // Counts a break-glass disclosure: kinex_break_glass_total{agency_kind}.
  void RecordBreakGlass(absl::string_view agency_kind) override;
  // Counts a new claimed link (an agency's first part about a child that
  // the responsible LA has not confirmed):
  // kinex_link_claims_total{agency_kind, agency_code}. Agency codes are not
  // child data; a sudden rise for one agency is the alert
  // (helm/kinex/alerts: KinexUnusualLinkClaims).
  void RecordLinkClaim(absl::string_view agency_kind, absl::string_view agency_code) override;

  // Open notification watches: kinex_notification_watchers.
  void WatchersChanged(int delta) override;
  // A notification written to a watcher:
  // kinex_notifications_delivered_total{kind} and
  // kinex_notification_delivery_seconds (cause committed to written).
  void Delivered(kinex::notifications::v1::NotificationKind kind, absl::Duration latency) override;

  // The registry, for tests and for serving.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // The registry in the Prometheus text format.
  std::string Text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Histogram>& audit_append_;
  prometheus::Family<prometheus::Counter>& break_glass_;
  prometheus::Family<prometheus::Counter>& link_claims_;
  prometheus::Gauge& watchers_;
  prometheus::Family<prometheus::Counter>& delivered_;
  prometheus::Histogram& delivery_seconds_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_METRICS_H_
