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

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_sink.h"

namespace kinex::audit {

// Thread-safe (gRPC stubs are).
class AuditClient final : public AuditSink, public NotificationReader {
 public:
  // `timeout`: deadline of each Append (default 10 s).
  explicit AuditClient(std::shared_ptr<grpc::ChannelInterface> channel,
                       absl::Duration timeout = absl::Seconds(10))
      : stub_(kinex::audit::v1::Audit::NewStub(std::move(channel))), timeout_(timeout) {}

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

 private:
  std::unique_ptr<kinex::audit::v1::Audit::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_AUDIT_CLIENT_H_
