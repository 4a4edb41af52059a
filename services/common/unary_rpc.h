// The two halves of every internal unary hop, written once: ServeUnary is
// the body of a gRPC handler over a core (authorize, run the core under the
// caller's deadline, convert the status once), CallUnary the body of a
// client method (set the outgoing deadline, add metadata, call, convert
// back). Library kinex::unary_rpc: adapters and clients only (it is gRPC).
//
// Deadlines: ServeUnary opens a ScopedCallDeadline with the served call's
// deadline, and CallUnary caps its own timeout by it (deadline.h), so every
// hop made while serving a call (consent -> records, records -> audit,
// gateway -> anything) ends when the original caller gives up.
//
// Example:
//   grpc::Status RecordsGrpcService::GetPart(grpc::ServerContext* ctx,
//                                            const v1::GetPartRequest* req,
//                                            v1::GetPartResponse* resp) {
//     return ServeUnary(*ctx, Allowed(*ctx, "GetPart"),
//                       [&] { return store_->GetPart(*req); }, resp);
//   }
//   absl::StatusOr<v1::GetPartResponse> RecordsGrpcClient::GetPart(
//       const v1::GetPartRequest& req) {
//     return CallUnary(*stub_, &v1::Records::Stub::GetPart, req, timeout_);
//   }
#ifndef KINEX_SERVICES_COMMON_UNARY_RPC_H_
#define KINEX_SERVICES_COMMON_UNARY_RPC_H_

#include <string>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/deadline.h"
#include "services/common/grpc_status.h"

namespace kinex {

// Metadata a client adds to an outgoing call: (key, value) pairs.
using OutgoingMetadata = std::vector<std::pair<std::string, std::string>>;

// Serves one unary call: `authorized` not OK is returned as is; otherwise
// `call()` (returning absl::StatusOr<Resp>) runs with `ctx`'s deadline as
// the deadline of every internal call it makes, and its result is
// converted once (grpc_status.h).
template <typename Resp, typename Fn>
grpc::Status ServeUnary(const grpc::ServerContext& ctx, const absl::Status& authorized, Fn&& call,
                        Resp* response) {
  if (!authorized.ok()) return ToGrpcStatus(authorized);
  ScopedCallDeadline deadline(absl::FromChrono(ctx.deadline()));
  absl::StatusOr<Resp> r = std::forward<Fn>(call)();
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

// Calls `method` of `stub` with `request`: deadline now + `timeout`, capped
// by the deadline of the call this thread serves; `metadata` added. The
// reply, or the callee's status converted back (grpc_status.h).
template <typename Stub, typename Req, typename Resp>
absl::StatusOr<Resp> CallUnary(
    Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
    const Req& request, absl::Duration timeout, const OutgoingMetadata& metadata = {}) {
  grpc::ClientContext ctx;
  SetOutgoingDeadline(ctx, timeout);
  for (const auto& [key, value] : metadata) ctx.AddMetadata(key, value);
  Resp response;
  grpc::Status s = (stub.*method)(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_UNARY_RPC_H_
