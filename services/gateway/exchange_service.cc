#include "services/gateway/exchange_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"
#include "services/common/log.h"

namespace kinex::gateway {

namespace ev1 = kinex::exchange::v1;

template <typename Body>
grpc::Status ExchangeService::Handle(grpc::ServerContext* ctx, const char* method, int purpose,
                                     Body body) {
  const absl::Time start = absl::Now();
  absl::StatusOr<CallContext> call = ExtractCallContext(*ctx, trust_domain_);
  absl::Status status;
  std::string principal = "-";
  std::string kind = "unknown";
  std::string request_id;
  std::string outcome;
  if (!call.ok()) {
    status = call.status();
  } else {
    principal = call->principal.uri;
    kind = std::string(AgencyKindSlug(call->principal.agency_kind));
    request_id = call->request_id;
    ctx->AddInitialMetadata(kRequestIdHeader, request_id);
    const std::string agency = absl::StrCat(kind, "/", call->principal.agency_code);
    if (!limiter_.Allow(agency)) {
      status = absl::ResourceExhaustedError(absl::StrCat(
          "rate limit exceeded for agency ", agency, "; retry with backoff"));
    } else {
      status = body(*call, outcome);
    }
  }
  const std::string code = absl::StatusCodeToString(status.code());
  metrics_.RecordRequest(method, code, kind);
  std::vector<LogField> fields = {
      {"request_id", request_id},
      {"method", method},
      {"principal", principal},
      {"purpose", kinex::common::v1::Purpose_IsValid(purpose)
                      ? kinex::common::v1::Purpose_Name(
                            static_cast<kinex::common::v1::Purpose>(purpose))
                      : std::string("INVALID")},
      {"code", code},
      {"latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start)}};
  if (!outcome.empty()) fields.emplace_back("decision", outcome);
  LogJson(log_, status.ok() ? "info" : "warn", "request", fields);
  return ToGrpcStatus(status);
}

grpc::Status ExchangeService::PublishRecord(grpc::ServerContext* ctx,
                                            const ev1::PublishRecordRequest* request,
                                            ev1::PublishRecordResponse* response) {
  return Handle(ctx, "PublishRecord", 0, [&](const CallContext& call, std::string& outcome) {
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
  return Handle(ctx, "GetChildRecord", request->purpose(),
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
  return Handle(ctx, "ListChildren", request->purpose(),
                [&](const CallContext& call, std::string& outcome) {
                  absl::StatusOr<ev1::ListChildrenResponse> r =
                      gateway_.ListChildren(call, *request);
                  if (!r.ok()) return r.status();
                  outcome = absl::StrCat("listed:", r->children_size());
                  *response = std::move(*r);
                  return absl::OkStatus();
                });
}

}  // namespace kinex::gateway
