// The Notifications API's logic, without gRPC (docs/notifications.md): a
// caller's own notifications, read from the store beside the audit log
// (NotificationReader: the AuditLog in process, the audit service's
// internal ReadNotifications in microservices mode), each checked there
// against the leaf that created it.
//
// Every delivery is an audit event before anything leaves:
// NOTIFICATION_DELIVERED names the notifications and their children, one
// event per at most 16 children (the log's limit per event); then the
// notifications go out. An acknowledgement (NOTIFICATION_ACKNOWLEDGED) and
// a review (BREAK_GLASS_REVIEWED) change the stored state in their own
// leaf's transaction, with an idempotency key per notification so a retried
// or concurrent second one is the first. Another agency's notification is
// NOT_FOUND, exactly like one that does not exist.
//
// Example:
//   Notifications notifications({.audit = sink, .reader = reader});
//   KINEX_ASSIGN_OR_RETURN(auto page, notifications.List(call, request));
#ifndef KINEX_SERVICES_GATEWAY_NOTIFICATIONS_H_
#define KINEX_SERVICES_GATEWAY_NOTIFICATIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kinex/notifications/v1/notifications.pb.h"
#include "services/audit/audit_sink.h"
#include "services/gateway/call_context.h"

namespace kinex::gateway {

// Thread-safe.
class Notifications {
 public:
  struct Dependencies {
    // Not owned; must outlive this.
    kinex::audit::AuditSink* audit = nullptr;
    kinex::audit::NotificationReader* reader = nullptr;
  };

  explicit Notifications(Dependencies deps) : deps_(deps) {}

  // One page of the caller's notifications (ListNotificationsRequest),
  // audited as delivered before it is returned.
  absl::StatusOr<kinex::notifications::v1::ListNotificationsResponse> List(
      const CallContext& call, const kinex::notifications::v1::ListNotificationsRequest& request);

  // Acknowledges one of the caller's notifications (idempotent). A
  // BREAK_GLASS_REVIEW is closed by Review, not here (FAILED_PRECONDITION).
  absl::StatusOr<kinex::notifications::v1::Notification> Ack(
      const CallContext& call, const kinex::notifications::v1::AckNotificationRequest& request);

  // Closes a break-glass review: the caller must be a local authority's
  // team-manager and the recipient.
  absl::StatusOr<kinex::notifications::v1::Notification> Review(
      const CallContext& call, const kinex::notifications::v1::ReviewBreakGlassRequest& request);

  // For a watch: up to `limit` of the caller's notifications after `after`
  // (none: from the start), only those not yet acknowledged when
  // `unacknowledged_only`, delivered (audited) before they are returned.
  // `method` names the API method in the event.
  absl::StatusOr<std::vector<kinex::notifications::v1::Notification>> DeliverNext(
      const CallContext& call, const std::optional<std::string>& after,
      bool unacknowledged_only, size_t limit, absl::string_view method);

  // Checks a cursor the caller sent: empty, or a notification id.
  // INVALID_ARGUMENT naming `field` otherwise.
  static absl::Status ValidateCursor(absl::string_view cursor, absl::string_view field);

 private:
  // The caller's notification `id`; NOT_FOUND when there is none.
  absl::StatusOr<kinex::notifications::v1::Notification> ReadOwn(const CallContext& call,
                                                                 const std::string& id);
  // Appends the NOTIFICATION_DELIVERED events of `delivered` and marks the
  // ones not delivered before as delivered now (state, deliver_time: the
  // time their event was logged).
  absl::Status RecordDelivery(const CallContext& call, absl::string_view method,
                              std::vector<kinex::notifications::v1::Notification>& delivered);

  const Dependencies deps_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_NOTIFICATIONS_H_
