// Kinex identities: SPIFFE IDs carried as the only URI SAN of a certificate
// issued by the Kinex CA.
//
//   agency:  spiffe://<trust-domain>/<agency-kind>/<agency-code>/<role>
//            e.g. spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head
//   service: spiffe://<trust-domain>/service/<name>
//            e.g. spiffe://kinex.dev/service/audit
//
// Plain C++ (library kinex::identity, a core): parsing only. Reading the
// peer's identity off a gRPC call is services/common/peer_identity.h.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(SpiffeId who, ParseSpiffeId(uri, "kinex.dev"));
//   if (!who.is_service) return absl::PermissionDeniedError("...");
#ifndef KINEX_SERVICES_COMMON_IDENTITY_H_
#define KINEX_SERVICES_COMMON_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kinex/common/v1/common.pb.h"

namespace kinex {

// A parsed Kinex SPIFFE ID. Either an agency identity (is_service false:
// agency_kind, agency_code, role set) or a service identity (is_service true:
// service_name set).
struct SpiffeId {
  std::string uri;
  std::string trust_domain;
  bool is_service = false;
  kinex::common::v1::AgencyKind agency_kind = kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
  std::string agency_code;
  std::string role;
  std::string service_name;
};

// The path spelling of an agency kind ("local-authority", "virtual-school",
// "school", "health", "police", "auditor"); "" for UNSPECIFIED.
absl::string_view AgencyKindSlug(kinex::common::v1::AgencyKind kind);

// The agency kind for a path spelling; AGENCY_KIND_UNSPECIFIED if unknown.
kinex::common::v1::AgencyKind AgencyKindFromSlug(absl::string_view slug);

// The Kinex service names ("gateway", "policy", "consent", "audit",
// "records") are the only valid <name> in a service identity.
bool IsKinexServiceName(absl::string_view name);

// Parses `uri` as a Kinex SPIFFE ID in `trust_domain`. INVALID_ARGUMENT
// naming the problem (wrong scheme, other trust domain, unknown agency kind,
// agency code invalid for its kind, empty or malformed role, extra segments).
absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri, absl::string_view trust_domain);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_IDENTITY_H_
