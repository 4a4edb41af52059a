#include "services/records/random_id.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"

namespace kinex {

std::string Base32(absl::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

absl::StatusOr<std::string> RandomId(absl::string_view prefix) {
  unsigned char bytes[10];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("random number generator unavailable");
  }
  return absl::StrCat(prefix,
                      Base32(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes))));
}

}  // namespace kinex
