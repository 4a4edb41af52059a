#include "services/gateway/call_context.h"

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::gateway {

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
    return WithErrorReason(
        absl::InvalidArgumentError(absl::StrCat(
            kActorHeader, " metadata is required: name the practitioner making this request")),
        reason::kInvalidField, {{"field", kActorHeader}});
  }
  if (actor.size() > 200) {
    return WithErrorReason(
        absl::InvalidArgumentError(absl::StrCat(kActorHeader, " must be at most 200 bytes")),
        reason::kInvalidField, {{"field", kActorHeader}});
  }
  for (unsigned char c : actor) {
    if (c < 0x20 || c == 0x7f) {
      return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                                 kActorHeader, " must not contain control characters")),
                             reason::kInvalidField, {{"field", kActorHeader}});
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) {
    return WithErrorReason(
        absl::InvalidArgumentError(absl::StrCat(kRequestIdHeader, " must be 1-64 characters")),
        reason::kInvalidField, {{"field", kRequestIdHeader}});
  }
  for (char c : id) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return WithErrorReason(
          absl::InvalidArgumentError(absl::StrCat(
              kRequestIdHeader, " may contain only letters, digits, '.', '_' and '-'")),
          reason::kInvalidField, {{"field", kRequestIdHeader}});
    }
  }
  return absl::OkStatus();
}

}  // namespace kinex::gateway
