// AuditClient: the AuditSink (and NotificationReader) of microservices mode. Appends through the
// audit service's gRPC API over mTLS (the caller's channel carries its
// service identity); any RPC failure is returned as is, so the gateway fails
// closed (UNAVAILABLE when the audit service is unreachable).
//
// Example:
//   AuditClient audit(grpc::CreateChannel("localhost:7446", creds));
//   KINEX_ASSIGN_OR_RETURN(AppendResult r, audit.Append(event));
#ifndef KINEX_SERVICES_AUDIT_AUDIT_CLIENT_H_
#define KINEX_SERVICES_AUDIT_AUDIT_CLIENT_H_

#include <memory>
#include <optional>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_sink.h"
#include "services/common/coalescer.h"

namespace kinex::audit {

// Thread-safe (gRPC stubs are).
class AuditClient final : public AuditSink, public NotificationReader {
 public:
  struct Options {
    // Deadline of each call, capped by the deadline of the call being
    // served (services/common/deadline.h).
    absl::Duration timeout = absl::Seconds(10);
    // Appends made at the same moment sent as one AppendBatch (natural
    // batching, services/common/coalescer.h): an Append that finds none in
    // flight is sent at once, alone; those that arrive meanwhile go
    // together when it returns. Each caller still returns only once its own
    // event is durable, with its own result. Only for a caller the audit
    // service allows AppendBatch (the gateway and records).
    bool coalesce_appends = false;
  };

  explicit AuditClient(std::shared_ptr<grpc::ChannelInterface> channel, Options options);
  // `timeout`: deadline of each call (default 10 s); appends not coalesced.
  explicit AuditClient(std::shared_ptr<grpc::ChannelInterface> channel,
                       absl::Duration timeout = absl::Seconds(10))
      : AuditClient(std::move(channel), Options{.timeout = timeout}) {}

  // Coalesced (Options::coalesce_appends): a batch the service refuses
  // whole (one event it would refuse alone must not fail the others) is
  // retried one Append per event, so each caller gets the answer its own
  // Append would have had. The batch's deadline is the latest of its
  // callers' deadlines.
  absl::StatusOr<AppendResult> Append(const kinex::audit::v1::AuditEvent& event) override;
  // Through AppendBatch: one RPC (and one commit) per kMaxAppendBatch events
  // or about 2 MiB of them, whichever comes first. A batch the service
  // refuses whole, or that fails in transit, gives every one of its events
  // that status (nothing of it was appended, or, on a transport failure
  // after the commit, the caller cannot know: it fails closed either way).
  // An audit service from before AppendBatch (UNIMPLEMENTED) gets one Append
  // per event instead.
  std::vector<absl::StatusOr<AppendResult>> AppendAll(
      absl::Span<const kinex::audit::v1::AuditEvent> events) override;
  absl::StatusOr<kinex::audit::v1::ReadNotificationsResponse> ReadNotifications(
      const kinex::audit::v1::ReadNotificationsRequest& request) override;

  // Appends waiting for the batch in flight to return (0 when not
  // coalescing).
  size_t queued_appends() const { return appends_.has_value() ? appends_->queued() : 0; }

 private:
  // An Append waiting to be coalesced: its event and its caller's deadline.
  struct PendingAppend {
    const kinex::audit::v1::AuditEvent* event;
    absl::Time deadline;
  };

  // One Append RPC.
  absl::StatusOr<AppendResult> AppendOne(const kinex::audit::v1::AuditEvent& event);
  // SendBatch per kMaxAppendBatch events or about 2 MiB of them, whichever
  // comes first; one result per event, in order.
  std::vector<absl::StatusOr<AppendResult>> SendChunked(
      absl::Span<const kinex::audit::v1::AuditEvent* const> events, bool isolate_refusals);
  // One AppendBatch RPC for `events` (within the batch limits); one result
  // per event, in order. `isolate_refusals`: a batch refused whole (not for
  // want of the method) is retried one Append per event.
  std::vector<absl::StatusOr<AppendResult>> SendBatch(
      absl::Span<const kinex::audit::v1::AuditEvent* const> events, bool isolate_refusals);

  std::unique_ptr<kinex::audit::v1::Audit::Stub> stub_;
  absl::Duration timeout_;
  std::optional<Coalescer<PendingAppend, AppendResult>> appends_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_AUDIT_CLIENT_H_
