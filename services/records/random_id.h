// Random, unguessable identifiers: a prefix, then the RFC 4648 base32 (no
// padding) of 10 bytes from OpenSSL's CSPRNG, e.g. "kx_" + 16 characters for
// Kinex child ids. Cores take an IdGenerator so tests can inject fixed ids.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(std::string id, RandomId("kx_"));
#ifndef KINEX_SERVICES_RECORDS_RANDOM_ID_H_
#define KINEX_SERVICES_RECORDS_RANDOM_ID_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kinex {

// Produces a new identifier; INTERNAL if randomness is unavailable.
using IdGenerator = std::function<absl::StatusOr<std::string>()>;

// `prefix` + base32(10 random bytes). Thread-safe. INTERNAL if RAND_bytes fails.
absl::StatusOr<std::string> RandomId(absl::string_view prefix);

// RFC 4648 base32 of `bytes`, upper case, no padding. Thread-safe.
std::string Base32(absl::string_view bytes);

}  // namespace kinex

#endif  // KINEX_SERVICES_RECORDS_RANDOM_ID_H_
