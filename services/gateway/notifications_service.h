// The public kinex.notifications.v1.Notifications service on the gateway
// (docs/notifications.md): ListNotifications, AckNotification and
// ReviewBreakGlass as unary calls through the Edge, and WatchNotifications
// on gRPC's callback API, so an idle watcher holds no thread.
//
// Watchers are fed by one WatchHub per process: a poller thread reads the
// notifications committed since its last look (one query per interval for
// every recipient, not one per watcher) and wakes the watchers of their
// recipients; a few worker threads then read each woken watcher's own
// notifications after its cursor, audit the delivery and start the writes.
// A watcher therefore never misses a notification (it always reads from the
// store after its own cursor) and may see one twice only across a
// reconnect (at least once).
//
// Example:
//   WatchHub hub(notifications, reader, {});
//   NotificationsService service(notifications, hub, edge);
//   builder.RegisterService(&service);
#ifndef KINEX_SERVICES_GATEWAY_NOTIFICATIONS_SERVICE_H_
#define KINEX_SERVICES_GATEWAY_NOTIFICATIONS_SERVICE_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kinex/notifications/v1/notifications.grpc.pb.h"
#include "services/audit/audit_sink.h"
#include "services/gateway/edge.h"
#include "services/gateway/metrics.h"
#include "services/gateway/notifications.h"

namespace kinex::gateway {

class WatchReactor;

// Feeds watchers. Thread-safe.
class WatchHub {
 public:
  struct Options {
    // Default 100 ms. How often the poller looks for new notifications.
    absl::Duration poll_interval = absl::Milliseconds(100);
    // Default 8. Threads that audit deliveries and start writes: each waits
    // for its delivery event to be durable, so more of them share each
    // audit commit (the log group-commits concurrent appends).
    int workers = 8;
    // Default 16. Most notifications one watcher is sent per delivery.
    size_t batch = 16;
    // Optional.
    WatchMetrics* metrics = nullptr;
  };

  // `core` and `reader` must outlive the hub.
  WatchHub(Notifications& core, kinex::audit::NotificationReader& reader, Options options);
  // Stops the threads. Every watcher must have ended first (the server is
  // shut down before the hub is destroyed).
  ~WatchHub();

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Starts the poller and workers (idempotent).
  void Start();

  WatchMetrics* metrics() const { return options_.metrics; }

  // Ends every open watch with UNAVAILABLE ("the server is shutting down;
  // reconnect with your last notification id"), after the write in flight.
  // Watches opened afterwards are served as usual.
  void EndAll();

  // One watcher's delivery state, shared by its reactor and the hub.
  struct Watch;

 private:
  friend class WatchReactor;
  void Add(const std::shared_ptr<Watch>& watch);
  void Remove(const std::shared_ptr<Watch>& watch);
  // Every watch open now.
  std::vector<std::shared_ptr<Watch>> Open();
  // Queues `watch` for a worker (once, however often it is woken).
  void Wake(const std::shared_ptr<Watch>& watch);
  void PollLoop();
  void WorkLoop();
  // One delivery round for `watch`.
  void Serve(const std::shared_ptr<Watch>& watch);

  Notifications& core_;
  kinex::audit::NotificationReader& reader_;
  const Options options_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Watchers by recipient ("<kind>/<code>").
  absl::flat_hash_map<std::string, std::vector<std::shared_ptr<Watch>>> by_recipient_
      ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Watch>> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// The gRPC service. Unary calls run through the Edge like Exchange's;
// WatchNotifications is a callback-API stream admitted by the Edge as a
// stream (the agency's stream quota) and logged when it ends.
class NotificationsService final
    : public kinex::notifications::v1::Notifications::WithCallbackMethod_WatchNotifications<
          kinex::notifications::v1::Notifications::Service> {
 public:
  NotificationsService(Notifications& core, WatchHub& hub, const Edge& edge)
      : core_(core), hub_(hub), edge_(edge) {}

  grpc::ServerWriteReactor<kinex::notifications::v1::Notification>* WatchNotifications(
      grpc::CallbackServerContext* ctx,
      const kinex::notifications::v1::WatchNotificationsRequest* request) override;
  grpc::Status ListNotifications(
      grpc::ServerContext* ctx, const kinex::notifications::v1::ListNotificationsRequest* request,
      kinex::notifications::v1::ListNotificationsResponse* response) override;
  grpc::Status AckNotification(grpc::ServerContext* ctx,
                               const kinex::notifications::v1::AckNotificationRequest* request,
                               kinex::notifications::v1::Notification* response) override;
  grpc::Status ReviewBreakGlass(grpc::ServerContext* ctx,
                                const kinex::notifications::v1::ReviewBreakGlassRequest* request,
                                kinex::notifications::v1::Notification* response) override;

 private:
  Notifications& core_;
  WatchHub& hub_;
  const Edge& edge_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_NOTIFICATIONS_SERVICE_H_
