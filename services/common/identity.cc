#include "services/common/identity.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/identifiers.h"

namespace kinex {
namespace {

using kinex::common::v1::AgencyKind;

struct KindSlug {
  AgencyKind kind;
  absl::string_view slug;
};

constexpr KindSlug kKindSlugs[] = {
    {kinex::common::v1::LOCAL_AUTHORITY, "local-authority"},
    {kinex::common::v1::VIRTUAL_SCHOOL, "virtual-school"},
    {kinex::common::v1::SCHOOL, "school"},
    {kinex::common::v1::HEALTH, "health"},
    {kinex::common::v1::POLICE, "police"},
    {kinex::common::v1::AUDITOR, "auditor"},
};

constexpr absl::string_view kServiceNames[] = {"gateway", "policy", "consent", "audit", "records"};

// Roles are lowercase words joined by hyphens: "designated-safeguarding-lead".
bool IsValidRole(absl::string_view role) {
  if (role.empty() || role.size() > 64) return false;
  if (role.front() == '-' || role.back() == '-') return false;
  for (char c : role) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

// Auditor bodies have no national code list: a short lowercase slug or code.
bool IsValidAuditorCode(absl::string_view code) {
  if (code.empty() || code.size() > 32) return false;
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateAgencyCode(AgencyKind kind, absl::string_view code) {
  switch (kind) {
    case kinex::common::v1::LOCAL_AUTHORITY:
    case kinex::common::v1::VIRTUAL_SCHOOL:
      return ValidateLaCode(code);
    case kinex::common::v1::SCHOOL:
      return ValidateSchoolUrn(code);
    case kinex::common::v1::HEALTH:
      return ValidateOdsCode(code);
    case kinex::common::v1::POLICE:
      return ValidatePoliceForceCode(code);
    case kinex::common::v1::AUDITOR:
      return IsValidAuditorCode(code) ? absl::OkStatus()
                                      : absl::InvalidArgumentError(
                                            "auditor code must be 1-32 letters, digits or hyphens");
    default:
      return absl::InvalidArgumentError("unknown agency kind");
  }
}

}  // namespace

absl::string_view AgencyKindSlug(AgencyKind kind) {
  for (const KindSlug& ks : kKindSlugs) {
    if (ks.kind == kind) return ks.slug;
  }
  return "";
}

AgencyKind AgencyKindFromSlug(absl::string_view slug) {
  for (const KindSlug& ks : kKindSlugs) {
    if (ks.slug == slug) return ks.kind;
  }
  return kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
}

bool IsKinexServiceName(absl::string_view name) {
  for (absl::string_view s : kServiceNames) {
    if (s == name) return true;
  }
  return false;
}

absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri, absl::string_view trust_domain) {
  constexpr absl::string_view kScheme = "spiffe://";
  if (!absl::StartsWith(uri, kScheme)) {
    return absl::InvalidArgumentError("SPIFFE ID must start with spiffe://");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(uri.substr(kScheme.size()), '/');
  if (parts[0] != trust_domain) {
    return absl::InvalidArgumentError(
        absl::StrCat("SPIFFE ID is not in trust domain ", trust_domain));
  }
  SpiffeId id;
  id.uri = std::string(uri);
  id.trust_domain = std::string(trust_domain);
  if (parts.size() == 3 && parts[1] == "service") {
    if (!IsKinexServiceName(parts[2])) {
      return absl::InvalidArgumentError(absl::StrCat("unknown Kinex service \"", parts[2], "\""));
    }
    id.is_service = true;
    id.service_name = std::string(parts[2]);
    return id;
  }
  if (parts.size() != 4) {
    return absl::InvalidArgumentError(
        "SPIFFE ID path must be /<agency-kind>/<agency-code>/<role> or "
        "/service/<name>");
  }
  id.agency_kind = AgencyKindFromSlug(parts[1]);
  if (id.agency_kind == kinex::common::v1::AGENCY_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("unknown agency kind \"", parts[1], "\""));
  }
  if (absl::Status s = ValidateAgencyCode(id.agency_kind, parts[2]); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("agency code for ", parts[1], ": ", s.message()));
  }
  if (!IsValidRole(parts[3])) {
    return absl::InvalidArgumentError("role must be lowercase letters, digits and hyphens (1-64)");
  }
  id.agency_code = std::string(parts[2]);
  id.role = std::string(parts[3]);
  return id;
}

}  // namespace kinex
