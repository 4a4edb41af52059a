// The one place absl::Status and grpc::Status convert into each other.
// Handlers call a core that returns absl::Status and convert once at the edge.
#ifndef KINEX_SERVICES_COMMON_GRPC_STATUS_H_
#define KINEX_SERVICES_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"

namespace kinex {

// Converts a core status to the gRPC status sent to the caller: same code,
// same message, and as details (grpc-status-details-bin) a google.rpc.Status
// holding the status's google.rpc.ErrorInfo (error_reason.h: the reason
// attached in the core, or one derived from the code). (Security failures
// keep their messages generic in the core.)
grpc::Status ToGrpcStatus(const absl::Status& status);

// Converts a status received from another Kinex service back to absl: same
// code and message, and the sender's ErrorInfo kept (ErrorReasonOf reads it).
absl::Status FromGrpcStatus(const grpc::Status& status);

// The google.rpc.Status of a core status (code, message, its ErrorInfo in
// details), as ToGrpcStatus sends it; and back, as FromGrpcStatus reads it.
// For statuses carried inside a response (AppendBatchResult).
google::rpc::Status ToRpcStatus(const absl::Status& status);
absl::Status FromRpcStatus(const google::rpc::Status& status);

// `status` with every internal address and hostname in its message replaced
// by "<internal address>" (the reason and metadata kept): gRPC target and peer URIs
// ("ipv4:127.0.0.1:7447", "ipv6:[::1]:7447", "unix:/run/kinex.sock", "dns:///records:7447"),
// host:port pairs ("records.kinex.svc:7447", "10.0.0.7:7447"), and c-ares
// "name=<host>". Same code; the same object when nothing changed. The
// gateway's edge applies it to every reply to an agency (and logs the full
// message with the request id), so a failing dependency's error never tells
// an agency where Kinex runs.
absl::Status StripInternalAddresses(const absl::Status& status);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_GRPC_STATUS_H_
