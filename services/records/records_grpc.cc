#include "services/records/records_grpc.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "services/common/deadline.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"
#include "services/common/status_macros.h"

namespace kinex::records {
namespace {

// Runs `call` on the store after authorizing the peer; converts once.
template <typename Resp, typename Fn>
grpc::Status Serve(absl::Status authorized, Fn call, Resp* response) {
  if (!authorized.ok()) return ToGrpcStatus(authorized);
  absl::StatusOr<Resp> r = call();
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

template <typename Resp, typename Req, typename Method>
absl::StatusOr<Resp> Call(v1::Records::Stub& stub, Method method, const Req& request,
                          absl::Duration timeout) {
  grpc::ClientContext ctx;
  SetOutgoingDeadline(ctx, timeout);  // capped by the served call's deadline
  Resp response;
  grpc::Status s = (stub.*method)(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

}  // namespace

absl::Status RecordsGrpcService::Authorize(const grpc::ServerContext& ctx,
                                           bool gateway_only) const {
  KINEX_ASSIGN_OR_RETURN(SpiffeId peer, AuthenticatePeer(ctx, trust_domain_));
  if (!peer.is_service) {
    return absl::PermissionDeniedError(
        "the records service accepts Kinex services only (agencies use the gateway)");
  }
  if (gateway_only && peer.service_name != "gateway") {
    return absl::PermissionDeniedError("only the gateway publishes record parts");
  }
  return absl::OkStatus();
}

grpc::Status RecordsGrpcService::PutPart(grpc::ServerContext* ctx,
                                         const v1::PutPartRequest* request,
                                         v1::PutPartResponse* response) {
  return Serve(Authorize(*ctx, true), [&] { return store_->PutPart(*request); }, response);
}

grpc::Status RecordsGrpcService::GetRecord(grpc::ServerContext* ctx,
                                           const v1::GetRecordRequest* request,
                                           v1::GetRecordResponse* response) {
  return Serve(Authorize(*ctx, false), [&] { return store_->GetRecord(*request); }, response);
}

grpc::Status RecordsGrpcService::ResolveChild(grpc::ServerContext* ctx,
                                              const v1::ResolveChildRequest* request,
                                              v1::ResolveChildResponse* response) {
  return Serve(Authorize(*ctx, false), [&] { return store_->ResolveChild(*request); },
               response);
}

grpc::Status RecordsGrpcService::ListChildren(grpc::ServerContext* ctx,
                                              const v1::ListChildrenRequest* request,
                                              v1::ListChildrenResponse* response) {
  return Serve(Authorize(*ctx, false), [&] { return store_->ListChildren(*request); },
               response);
}

grpc::Status RecordsGrpcService::ListPartVersions(grpc::ServerContext* ctx,
                                                  const v1::ListPartVersionsRequest* request,
                                                  v1::ListPartVersionsResponse* response) {
  return Serve(Authorize(*ctx, false), [&] { return store_->ListPartVersions(*request); },
               response);
}

absl::StatusOr<v1::PutPartResponse> RecordsGrpcClient::PutPart(
    const v1::PutPartRequest& request) {
  return Call<v1::PutPartResponse>(*stub_, &v1::Records::Stub::PutPart, request, timeout_);
}
absl::StatusOr<v1::GetRecordResponse> RecordsGrpcClient::GetRecord(
    const v1::GetRecordRequest& request) {
  return Call<v1::GetRecordResponse>(*stub_, &v1::Records::Stub::GetRecord, request, timeout_);
}
absl::StatusOr<v1::ResolveChildResponse> RecordsGrpcClient::ResolveChild(
    const v1::ResolveChildRequest& request) {
  return Call<v1::ResolveChildResponse>(*stub_, &v1::Records::Stub::ResolveChild, request,
                                        timeout_);
}
absl::StatusOr<v1::ListChildrenResponse> RecordsGrpcClient::ListChildren(
    const v1::ListChildrenRequest& request) {
  return Call<v1::ListChildrenResponse>(*stub_, &v1::Records::Stub::ListChildren, request,
                                        timeout_);
}
absl::StatusOr<v1::ListPartVersionsResponse> RecordsGrpcClient::ListPartVersions(
    const v1::ListPartVersionsRequest& request) {
  return Call<v1::ListPartVersionsResponse>(*stub_, &v1::Records::Stub::ListPartVersions,
                                            request, timeout_);
}

}  // namespace kinex::records
