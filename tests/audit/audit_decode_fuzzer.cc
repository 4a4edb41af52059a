// Fuzzes the parsers of untrusted audit data: the canonical event decoder
// (leaves come from storage or, in kinexctl, from a server) and the proof
// verifiers (proofs come from a server). Neither may crash, and a decoded
// leaf (version 1, 2 or 3) must re-encode to the same bytes with its version's
// encoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "services/audit/event_codec.h"
#include "services/audit/merkle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kinex::audit;
  const std::string input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<DecodedLeaf> decoded = DecodeEvent(input);
  if (decoded.ok()) {
    absl::StatusOr<std::string> again =
        EncodeEventVersion(decoded->version, decoded->leaf_index, decoded->event);
    if (!again.ok() || *again != input) std::abort();
  }
  if (size >= 16) {
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 8; ++i) a = (a << 8) | data[i];
    for (int i = 8; i < 16; ++i) b = (b << 8) | data[i];
    std::vector<Hash> proof;
    for (size_t off = 16; off + kHashSize <= size && proof.size() < 70; off += kHashSize) {
      proof.push_back(*HashFromBytes(input.substr(off, kHashSize)));
    }
    const Hash h = HashLeaf(input);
    (void)VerifyInclusion(a % 4096, b % 4096, h, proof, h);
    (void)VerifyConsistency(a % 4096, b % 4096, proof, h, h);
  }
  return 0;
}
