#include "services/consent/consent_storage.h"

namespace kinex::consent {
namespace {

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace

absl::Time InForceFrom(const kinex::consent::v1::ConsentEntry& entry) {
  return FromProto(entry.valid_from());
}

std::optional<absl::Time> InForceUntil(const kinex::consent::v1::ConsentEntry& entry) {
  std::optional<absl::Time> until;
  if (entry.has_valid_until()) until = FromProto(entry.valid_until());
  if (entry.has_withdraw_time()) {
    const absl::Time withdrawn = FromProto(entry.withdraw_time());
    if (!until.has_value() || withdrawn < *until) until = withdrawn;
  }
  return until;
}

bool InForce(const kinex::consent::v1::ConsentEntry& entry, absl::Time now) {
  if (InForceFrom(entry) > now) return false;
  const std::optional<absl::Time> until = InForceUntil(entry);
  return !until.has_value() || *until > now;
}

}  // namespace kinex::consent
