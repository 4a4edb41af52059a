#include "services/gateway/call_context.h"

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/status_macros.h"

namespace kinex::gateway {

kinex::policy::v1::Principal ToPolicyPrincipal(const SpiffeId& id) {
  kinex::policy::v1::Principal p;
  p.set_spiffe_id(id.uri);
  p.set_agency_kind(id.agency_kind);
  p.set_agency_code(id.agency_code);
  p.set_role(id.role);
  return p;
}

std::string NewRequestId() {
  // 128 random bits, for uniqueness only: callers may set their own id, so
  // it is no secret. absl::BitGen (per thread, seeded from the OS) costs a
  // fraction of OpenSSL's locked DRBG, which showed in the per-call profile.
  thread_local absl::BitGen gen;
  const uint64_t hi = absl::Uniform<uint64_t>(gen);
  const uint64_t lo = absl::Uniform<uint64_t>(gen);
  return absl::StrFormat("%016x%016x", hi, lo);
}

absl::Status ValidateActor(absl::string_view actor) {
  if (actor.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kActorHeader, " metadata is required: name the practitioner making this request"));
  }
  if (actor.size() > 200) {
    return absl::InvalidArgumentError(absl::StrCat(kActorHeader, " must be at most 200 bytes"));
  }
  for (unsigned char c : actor) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(kActorHeader, " must not contain control characters"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(kRequestIdHeader, " must be 1-64 characters"));
  }
  for (char c : id) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-')) {
      return absl::InvalidArgumentError(absl::StrCat(
          kRequestIdHeader, " may contain only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CallContext> ExtractCallContext(const grpc::ServerContext& ctx,
                                               absl::string_view trust_domain) {
  CallContext call;
  KINEX_ASSIGN_OR_RETURN(call.principal, AuthenticatePeer(ctx, trust_domain));
  if (call.principal.is_service) {
    return absl::PermissionDeniedError(
        "service identities cannot call the public Exchange API");
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

RoleSource PolicyDeclaredRoles(std::shared_ptr<const kinex::policy::PolicyEngine> engine) {
  return [engine = std::move(engine)]() -> std::shared_ptr<const RoleTable> {
    std::shared_ptr<const kinex::policy::CompiledPolicy> p = engine->policy();
    if (p == nullptr) return nullptr;
    // Shares ownership of the whole compiled set; no copy per call.
    return std::shared_ptr<const RoleTable>(p, &p->roles);
  };
}

}  // namespace kinex::gateway
