#include "services/gateway/metrics.h"

#include <prometheus/text_serializer.h>

namespace kinex::gateway {

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("kinex_requests_total")
                    .Help("Gateway requests by method, gRPC status code and caller agency kind")
                    .Register(*registry_)),
      decisions_(prometheus::BuildCounter()
                     .Name("kinex_decisions_total")
                     .Help("Policy decisions by outcome")
                     .Register(*registry_)),
      audit_append_(prometheus::BuildHistogram()
                        .Name("kinex_audit_append_seconds")
                        .Help("Latency of durable audit appends before disclosure")
                        .Register(*registry_)),
      break_glass_(prometheus::BuildCounter()
                       .Name("kinex_break_glass_total")
                       .Help("Break-glass disclosures by caller agency kind")
                       .Register(*registry_)),
      link_claims_(prometheus::BuildCounter()
                       .Name("kinex_link_claims_total")
                       .Help("New claimed links (first parts awaiting the responsible LA's "
                             "confirmation) by claiming agency")
                       .Register(*registry_)),
      watchers_(prometheus::BuildGauge()
                    .Name("kinex_notification_watchers")
                    .Help("Open WatchNotifications streams")
                    .Register(*registry_)
                    .Add({})),
      delivered_(prometheus::BuildCounter()
                     .Name("kinex_notifications_delivered_total")
                     .Help("Notifications written to watchers, by kind")
                     .Register(*registry_)),
      delivery_seconds_(prometheus::BuildHistogram()
                            .Name("kinex_notification_delivery_seconds")
                            .Help("From the commit of a notification's cause to its write to a "
                                  "watcher")
                            .Register(*registry_)
                            .Add({}, prometheus::Histogram::BucketBoundaries{
                                         0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60})) {}

void Metrics::WatchersChanged(int delta) { watchers_.Increment(delta); }

void Metrics::Delivered(kinex::notifications::v1::NotificationKind kind, absl::Duration latency) {
  delivered_.Add({{"kind", kinex::notifications::v1::NotificationKind_Name(kind)}}).Increment();
  delivery_seconds_.Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordRequest(absl::string_view method, absl::string_view code,
                            absl::string_view agency_kind) {
  requests_
      .Add({{"method", std::string(method)},
            {"code", std::string(code)},
            {"agency_kind", std::string(agency_kind)}})
      .Increment();
}

void Metrics::RecordDecision(bool allowed) {
  decisions_.Add({{"outcome", allowed ? "allow" : "deny"}}).Increment();
}

void Metrics::RecordAuditAppend(absl::Duration latency) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1};
  audit_append_.Add({}, kBuckets).Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordBreakGlass(absl::string_view agency_kind) {
  break_glass_.Add({{"agency_kind", std::string(agency_kind)}}).Increment();
}

void Metrics::RecordLinkClaim(absl::string_view agency_kind, absl::string_view agency_code) {
  link_claims_
      .Add({{"agency_kind", std::string(agency_kind)}, {"agency_code", std::string(agency_code)}})
      .Increment();
}

std::string Metrics::Text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace kinex::gateway
