#include "services/gateway/edge.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/deadline.h"
#include "services/common/declared_roles.h"
#include "services/common/error_reason.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/peer_identity.h"
#include "services/common/status_macros.h"

namespace kinex::gateway {

absl::StatusOr<CallContext> ExtractCallContext(const grpc::ServerContextBase& ctx,
                                               absl::string_view trust_domain) {
  CallContext call;
  KINEX_ASSIGN_OR_RETURN(call.principal, AuthenticatePeer(ctx, trust_domain));
  if (call.principal.is_service) {
    return WithErrorReason(
        absl::PermissionDeniedError("service identities cannot call the public Exchange API"),
        reason::kIdentityInvalid);
  }
  const auto& md = ctx.client_metadata();
  auto actor = md.find(kActorHeader);
  std::string actor_value =
      actor == md.end() ? "" : std::string(actor->second.data(), actor->second.size());
  KINEX_RETURN_IF_ERROR(ValidateActor(actor_value));
  call.actor = std::move(actor_value);
  auto rid = md.find(kRequestIdHeader);
  if (rid != md.end()) {
    std::string id(rid->second.data(), rid->second.size());
    KINEX_RETURN_IF_ERROR(ValidateRequestId(id));
    call.request_id = std::move(id);
  } else {
    call.request_id = NewRequestId();
  }
  return call;
}

int Edge::LimitOf(CallClass call_class) const {
  return call_class == CallClass::kStream ? options_.max_streams_per_agency
                                          : options_.max_in_flight_per_agency;
}

bool Edge::Acquire(const std::string& agency, CallClass call_class) const {
  const int limit = LimitOf(call_class);
  if (limit <= 0) return true;
  absl::MutexLock lock(&in_flight_mu_);
  int& n = in_flight_[{agency, call_class}];
  if (n >= limit) return false;
  ++n;
  return true;
}

void Edge::Release(const std::string& agency, CallClass call_class) const {
  if (LimitOf(call_class) <= 0) return;
  absl::MutexLock lock(&in_flight_mu_);
  auto it = in_flight_.find(std::make_pair(agency, call_class));
  if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
}

Edge::Admission Edge::Admit(grpc::ServerContextBase& ctx, CallClass call_class) const {
  Admission a;
  a.start = absl::Now();
  a.call_class = call_class;
  absl::StatusOr<CallContext> call = ExtractCallContext(ctx, trust_domain_);
  if (call.ok() && options_.declared_roles) {
    std::shared_ptr<const RoleTable> roles = options_.declared_roles();
    absl::Status declared = roles == nullptr ? absl::UnavailableError("no policy set loaded")
                                             : CheckRoleDeclared(call->principal, *roles);
    if (!declared.ok()) {
      a.principal = call->principal.uri;
      a.request_id = call->request_id;
      ctx.AddInitialMetadata(kRequestIdHeader, a.request_id);
      a.status = declared;
      return a;
    }
  }
  if (!call.ok()) {
    a.status = call.status();
    return a;
  }
  a.principal = call->principal.uri;
  a.kind = std::string(AgencyKindSlug(call->principal.agency_kind));
  a.request_id = call->request_id;
  ctx.AddInitialMetadata(kRequestIdHeader, a.request_id);
  const std::string agency = absl::StrCat(a.kind, "/", call->principal.agency_code);
  if (!limiter_.Allow(agency)) {
    a.status =
        WithErrorReason(absl::ResourceExhaustedError(absl::StrCat(
                            "rate limit exceeded for agency ", agency, "; retry with backoff")),
                        reason::kRateLimited);
  } else if (!Acquire(agency, call_class)) {
    const bool stream = call_class == CallClass::kStream;
    a.status = WithErrorReason(
        absl::ResourceExhaustedError(
            stream ? absl::StrCat("too many streams open for agency ", agency, " (limit ",
                                  options_.max_streams_per_agency, "); close one first")
                   : absl::StrCat("too many calls in flight for agency ", agency, " (limit ",
                                  options_.max_in_flight_per_agency,
                                  "); retry when one completes")),
        stream ? reason::kTooManyStreams : reason::kTooManyCallsInFlight,
        {{"limit", absl::StrCat(LimitOf(call_class))}});
  } else {
    a.holds_slot = true;
    a.agency = agency;
    a.call = *std::move(call);
  }
  return a;
}

grpc::Status Edge::Complete(Admission& admission, const char* method, int purpose,
                            absl::Status status, absl::string_view outcome) const {
  if (admission.holds_slot) {
    Release(admission.agency, admission.call_class);
    admission.holds_slot = false;
  }
  if (!admission.status.ok()) status = admission.status;
  // No internal address or hostname leaves the gateway; the log keeps them.
  absl::Status returned = StripInternalAddresses(status);
  // Every error names the request in its ErrorInfo too (a stable field).
  if (!admission.request_id.empty()) {
    AddErrorMetadata(returned, "request_id", admission.request_id);
  }
  const bool stripped = returned.message() != status.message();
  const std::string code = absl::StatusCodeToString(status.code());
  metrics_.RecordRequest(method, code, admission.kind);
  std::vector<LogField> fields = {{"request_id", admission.request_id},
                                  {"method", method},
                                  {"principal", admission.principal}};
  if (purpose != 0) {
    fields.emplace_back("purpose", kinex::common::v1::Purpose_IsValid(purpose)
                                       ? kinex::common::v1::Purpose_Name(
                                             static_cast<kinex::common::v1::Purpose>(purpose))
                                       : std::string("INVALID"));
  }
  fields.emplace_back("code", code);
  if (!outcome.empty()) fields.emplace_back("decision", std::string(outcome));
  // The full message, addresses and all, only when the caller got it
  // stripped (a dependency's transport error): operators need it.
  if (stripped) fields.emplace_back("error", std::string(status.message()));
  fields.emplace_back("latency_ms", absl::ToDoubleMilliseconds(absl::Now() - admission.start));
  LogJson(log_, status.ok() ? "info" : "warn", "request", fields);
  return ToGrpcStatus(returned);
}

grpc::Status Edge::Run(grpc::ServerContext* ctx, const char* method, int purpose, const Body& body,
                       CallClass call_class) const {
  Admission admission = Admit(*ctx, call_class);
  absl::Status status;
  std::string outcome;
  if (admission.status.ok()) {
    // Internal calls made while serving this one inherit its deadline.
    ScopedCallDeadline deadline(absl::FromChrono(ctx->deadline()));
    status = body(*admission.call, outcome);
  }
  return Complete(admission, method, purpose, std::move(status), outcome);
}

}  // namespace kinex::gateway
