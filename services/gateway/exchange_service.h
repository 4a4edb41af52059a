// The gRPC edge of the Exchange API: each call goes through the Edge
// (identity, rate limit, metrics, log line) into the Gateway core.
#ifndef KINEX_SERVICES_GATEWAY_EXCHANGE_SERVICE_H_
#define KINEX_SERVICES_GATEWAY_EXCHANGE_SERVICE_H_

#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/gateway/edge.h"
#include "services/gateway/gateway.h"

namespace kinex::gateway {

// Thread-safe; the gateway and edge must outlive it.
class ExchangeService final : public kinex::exchange::v1::Exchange::Service {
 public:
  ExchangeService(Gateway& gateway, const Edge& edge) : gateway_(gateway), edge_(edge) {}

  grpc::Status PublishRecord(grpc::ServerContext* ctx,
                             const kinex::exchange::v1::PublishRecordRequest* request,
                             kinex::exchange::v1::PublishRecordResponse* response) override;
  grpc::Status GetChildRecord(grpc::ServerContext* ctx,
                              const kinex::exchange::v1::GetChildRecordRequest* request,
                              kinex::exchange::v1::GetChildRecordResponse* response) override;
  grpc::Status ListChildren(grpc::ServerContext* ctx,
                            const kinex::exchange::v1::ListChildrenRequest* request,
                            kinex::exchange::v1::ListChildrenResponse* response) override;
  grpc::Status GetMyPart(grpc::ServerContext* ctx,
                         const kinex::exchange::v1::GetMyPartRequest* request,
                         kinex::exchange::v1::GetMyPartResponse* response) override;
  grpc::Status ListLinkClaims(grpc::ServerContext* ctx,
                              const kinex::exchange::v1::ListLinkClaimsRequest* request,
                              kinex::exchange::v1::ListLinkClaimsResponse* response) override;
  grpc::Status DecideLinkClaim(grpc::ServerContext* ctx,
                               const kinex::exchange::v1::DecideLinkClaimRequest* request,
                               kinex::exchange::v1::DecideLinkClaimResponse* response) override;
  grpc::Status TransferResponsibility(
      grpc::ServerContext* ctx, const kinex::exchange::v1::TransferResponsibilityRequest* request,
      kinex::exchange::v1::TransferResponsibilityResponse* response) override;
  grpc::Status RecordSharingDecision(
      grpc::ServerContext* ctx, const kinex::exchange::v1::RecordSharingDecisionRequest* request,
      kinex::records::v1::SharingDecision* response) override;
  grpc::Status ListSharingDecisions(
      grpc::ServerContext* ctx, const kinex::exchange::v1::ListSharingDecisionsRequest* request,
      kinex::records::v1::ListSharingDecisionsResponse* response) override;
  grpc::Status RemoveShield(grpc::ServerContext* ctx,
                            const kinex::exchange::v1::RemoveShieldRequest* request,
                            kinex::records::v1::SharingDecision* response) override;
  grpc::Status PublishSchoolCalendar(
      grpc::ServerContext* ctx, const kinex::exchange::v1::PublishSchoolCalendarRequest* request,
      kinex::exchange::v1::PublishSchoolCalendarResponse* response) override;
  grpc::Status GetSchoolCalendar(grpc::ServerContext* ctx,
                                 const kinex::exchange::v1::GetSchoolCalendarRequest* request,
                                 kinex::exchange::v1::GetSchoolCalendarResponse* response) override;

 private:
  Gateway& gateway_;
  const Edge& edge_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_EXCHANGE_SERVICE_H_
