// The gRPC edge of the Exchange API: establishes the call context (mTLS
// identity, actor, request id), applies the caller agency's rate limit,
// calls the Gateway core, converts its status once, returns the request id
// in `x-kinex-request-id` response metadata, counts the request in metrics,
// and writes one JSON log line (request id, principal, method, purpose,
// outcome, latency; never child identifiers or record contents).
#ifndef KINEX_SERVICES_GATEWAY_EXCHANGE_SERVICE_H_
#define KINEX_SERVICES_GATEWAY_EXCHANGE_SERVICE_H_

#include <ostream>
#include <string>

#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/gateway/gateway.h"
#include "services/gateway/rate_limiter.h"

namespace kinex::gateway {

// Thread-safe; the gateway, limiter and metrics must outlive it.
class ExchangeService final : public kinex::exchange::v1::Exchange::Service {
 public:
  ExchangeService(Gateway& gateway, RateLimiter& limiter, Metrics& metrics,
                  std::string trust_domain, std::ostream& log)
      : gateway_(gateway),
        limiter_(limiter),
        metrics_(metrics),
        trust_domain_(std::move(trust_domain)),
        log_(log) {}

  grpc::Status PublishRecord(grpc::ServerContext* ctx,
                             const kinex::exchange::v1::PublishRecordRequest* request,
                             kinex::exchange::v1::PublishRecordResponse* response) override;
  grpc::Status GetChildRecord(grpc::ServerContext* ctx,
                              const kinex::exchange::v1::GetChildRecordRequest* request,
                              kinex::exchange::v1::GetChildRecordResponse* response) override;
  grpc::Status ListChildren(grpc::ServerContext* ctx,
                            const kinex::exchange::v1::ListChildrenRequest* request,
                            kinex::exchange::v1::ListChildrenResponse* response) override;

 private:
  // Runs `body` for one call with identity, limits, metrics and logging.
  template <typename Body>
  grpc::Status Handle(grpc::ServerContext* ctx, const char* method, int purpose, Body body);

  Gateway& gateway_;
  RateLimiter& limiter_;
  Metrics& metrics_;
  const std::string trust_domain_;
  std::ostream& log_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_EXCHANGE_SERVICE_H_
