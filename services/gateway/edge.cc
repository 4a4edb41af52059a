#include "services/gateway/edge.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/deadline.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"
#include "services/common/log.h"

namespace kinex::gateway {

grpc::Status Edge::Run(grpc::ServerContext* ctx, const char* method, int purpose,
                       const Body& body) const {
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
      status = absl::ResourceExhaustedError(
          absl::StrCat("rate limit exceeded for agency ", agency, "; retry with backoff"));
    } else {
      // Internal calls made while serving this one inherit its deadline.
      ScopedCallDeadline deadline(absl::FromChrono(ctx->deadline()));
      status = body(*call, outcome);
    }
  }
  const std::string code = absl::StatusCodeToString(status.code());
  metrics_.RecordRequest(method, code, kind);
  std::vector<LogField> fields = {{"request_id", request_id}, {"method", method},
                                  {"principal", principal}};
  if (purpose != 0) {
    fields.emplace_back("purpose", kinex::common::v1::Purpose_IsValid(purpose)
                                       ? kinex::common::v1::Purpose_Name(
                                             static_cast<kinex::common::v1::Purpose>(purpose))
                                       : std::string("INVALID"));
  }
  fields.emplace_back("code", code);
  if (!outcome.empty()) fields.emplace_back("decision", outcome);
  fields.emplace_back("latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start));
  LogJson(log_, status.ok() ? "info" : "warn", "request", fields);
  return ToGrpcStatus(status);
}

}  // namespace kinex::gateway
