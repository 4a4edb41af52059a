#include "services/gateway/exchange_service.h"

#include "absl/strings/str_cat.h"

namespace kinex::gateway {

namespace ev1 = kinex::exchange::v1;

grpc::Status ExchangeService::PublishRecord(grpc::ServerContext* ctx,
                                            const ev1::PublishRecordRequest* request,
                                            ev1::PublishRecordResponse* response) {
  return edge_.Run(ctx, "PublishRecord", 0, [&](const CallContext& call, std::string& outcome) {
    absl::StatusOr<ev1::PublishRecordResponse> r = gateway_.PublishRecord(call, *request);
    if (!r.ok()) return r.status();
    *response = std::move(*r);
    outcome = "published";
    return absl::OkStatus();
  });
}

grpc::Status ExchangeService::GetChildRecord(grpc::ServerContext* ctx,
                                             const ev1::GetChildRecordRequest* request,
                                             ev1::GetChildRecordResponse* response) {
  return edge_.Run(ctx, "GetChildRecord", request->purpose(),
                   [&](const CallContext& call, std::string& outcome) {
                     absl::StatusOr<ev1::GetChildRecordResponse> r =
                         gateway_.GetChildRecord(call, *request);
                     if (!r.ok()) {
                       if (r.status().code() == absl::StatusCode::kPermissionDenied) {
                         outcome = "deny";
                       }
                       return r.status();
                     }
                     outcome = r->receipt().withheld().empty() ? "allow" : "partial";
                     if (request->break_glass()) outcome += "+break-glass";
                     *response = std::move(*r);
                     return absl::OkStatus();
                   });
}

grpc::Status ExchangeService::ListChildren(grpc::ServerContext* ctx,
                                           const ev1::ListChildrenRequest* request,
                                           ev1::ListChildrenResponse* response) {
  return edge_.Run(
      ctx, "ListChildren", request->purpose(), [&](const CallContext& call, std::string& outcome) {
        absl::StatusOr<ev1::ListChildrenResponse> r = gateway_.ListChildren(call, *request);
        if (!r.ok()) return r.status();
        outcome = absl::StrCat("listed:", r->children_size());
        *response = std::move(*r);
        return absl::OkStatus();
      });
}

namespace {

// The edge around a call whose body is one Gateway method: its status and
// reply as they are, outcome word `done` on success.
template <typename Req, typename Resp, typename Method>
grpc::Status Forward(const Edge& edge, Gateway& gateway, grpc::ServerContext* ctx, const char* name,
                     Method method, const Req* request, Resp* response, const char* done) {
  return edge.Run(ctx, name, 0, [&](const CallContext& call, std::string& outcome) {
    absl::StatusOr<Resp> r = (gateway.*method)(call, *request);
    if (!r.ok()) return r.status();
    *response = std::move(*r);
    outcome = done;
    return absl::OkStatus();
  });
}

}  // namespace

grpc::Status ExchangeService::GetMyPart(grpc::ServerContext* ctx,
                                        const ev1::GetMyPartRequest* request,
                                        ev1::GetMyPartResponse* response) {
  return Forward(edge_, gateway_, ctx, "GetMyPart", &Gateway::GetMyPart, request, response, "read");
}

grpc::Status ExchangeService::ListLinkClaims(grpc::ServerContext* ctx,
                                             const ev1::ListLinkClaimsRequest* request,
                                             ev1::ListLinkClaimsResponse* response) {
  return Forward(edge_, gateway_, ctx, "ListLinkClaims", &Gateway::ListLinkClaims, request,
                 response, "listed");
}

grpc::Status ExchangeService::DecideLinkClaim(grpc::ServerContext* ctx,
                                              const ev1::DecideLinkClaimRequest* request,
                                              ev1::DecideLinkClaimResponse* response) {
  return Forward(edge_, gateway_, ctx, "DecideLinkClaim", &Gateway::DecideLinkClaim, request,
                 response, "decided");
}

grpc::Status ExchangeService::TransferResponsibility(
    grpc::ServerContext* ctx, const ev1::TransferResponsibilityRequest* request,
    ev1::TransferResponsibilityResponse* response) {
  return Forward(edge_, gateway_, ctx, "TransferResponsibility", &Gateway::TransferResponsibility,
                 request, response, "transferred");
}

grpc::Status ExchangeService::RecordSharingDecision(
    grpc::ServerContext* ctx, const ev1::RecordSharingDecisionRequest* request,
    kinex::records::v1::SharingDecision* response) {
  return Forward(edge_, gateway_, ctx, "RecordSharingDecision", &Gateway::RecordSharingDecision,
                 request, response, "recorded");
}

grpc::Status ExchangeService::ListSharingDecisions(
    grpc::ServerContext* ctx, const ev1::ListSharingDecisionsRequest* request,
    kinex::records::v1::ListSharingDecisionsResponse* response) {
  return Forward(edge_, gateway_, ctx, "ListSharingDecisions", &Gateway::ListSharingDecisions,
                 request, response, "listed");
}

grpc::Status ExchangeService::RemoveShield(grpc::ServerContext* ctx,
                                           const ev1::RemoveShieldRequest* request,
                                           kinex::records::v1::SharingDecision* response) {
  return Forward(edge_, gateway_, ctx, "RemoveShield", &Gateway::RemoveShield, request, response,
                 "removed");
}

grpc::Status ExchangeService::PublishSchoolCalendar(
    grpc::ServerContext* ctx, const ev1::PublishSchoolCalendarRequest* request,
    ev1::PublishSchoolCalendarResponse* response) {
  return Forward(edge_, gateway_, ctx, "PublishSchoolCalendar", &Gateway::PublishSchoolCalendar,
                 request, response, "published");
}

grpc::Status ExchangeService::GetSchoolCalendar(grpc::ServerContext* ctx,
                                                const ev1::GetSchoolCalendarRequest* request,
                                                ev1::GetSchoolCalendarResponse* response) {
  return Forward(edge_, gateway_, ctx, "GetSchoolCalendar", &Gateway::GetSchoolCalendar, request,
                 response, "read");
}

}  // namespace kinex::gateway
