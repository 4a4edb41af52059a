// The one place absl::Status and grpc::Status convert into each other.
// Handlers call a core that returns absl::Status and convert once at the edge.
#ifndef KINEX_SERVICES_COMMON_GRPC_STATUS_H_
#define KINEX_SERVICES_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace kinex {

// Converts a core status to the gRPC status sent to the caller: same code,
// same message. (Security failures keep their messages generic in the core.)
grpc::Status ToGrpcStatus(const absl::Status& status);

// Converts a status received from another Kinex service back to absl.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_GRPC_STATUS_H_
