#include "services/audit/checkpoint.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

constexpr absl::string_view kSealDomain("kinex-audit-checkpoint-v1\0", 26);
constexpr absl::string_view kBlocksDomain("kinex-audit-blocks-v1\0", 22);

void PutBigEndian(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::string SealInput(absl::string_view body) {
  const Hash digest = Sha256(body);
  return absl::StrCat(
      kSealDomain, absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::Status Refused(absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat("audit checkpoint refused: ", why));
}

}  // namespace

Hash EmptyBlocksDigest() { return Sha256(kBlocksDomain); }

Hash ExtendBlocksDigest(const Hash& digest, uint64_t index, const TreeBlock& block) {
  std::string input(kBlocksDomain);
  input.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  PutBigEndian(input, index);
  input.append(reinterpret_cast<const char*>(block.hash.data()), block.hash.size());
  PutBigEndian(input, static_cast<uint64_t>(block.first_micros));
  return Sha256(input);
}

absl::StatusOr<std::string> SealCheckpoint(const kinex::audit::v1::LogCheckpoint& checkpoint,
                                           const TreeHeadSigner& signer) {
  kinex::audit::v1::SealedLogCheckpoint sealed;
  if (!checkpoint.SerializeToString(sealed.mutable_body())) {
    return absl::InternalError("audit checkpoint: cannot serialise");
  }
  KINEX_ASSIGN_OR_RETURN(*sealed.mutable_signature(), signer.SignMessage(SealInput(sealed.body())));
  sealed.set_key_id(signer.key_id());
  return sealed.SerializeAsString();
}

absl::StatusOr<std::string> SealCheckpointOf(const CheckpointState& state,
                                             kinex::audit::v1::LogCheckpoint cp,
                                             const TreeHeadSigner& signer) {
  cp.set_version(kCheckpointVersion);
  cp.set_tree_size(state.tree_size);
  cp.set_level(state.level);
  cp.set_blocks_digest(HashToBytes(state.blocks_digest));
  if (state.partial_first_micros.has_value()) {
    cp.set_partial_first_micros(*state.partial_first_micros);
  }
  cp.set_last_micros(state.last_micros);
  *cp.mutable_head() = state.head;
  return SealCheckpoint(cp, signer);
}

absl::StatusOr<kinex::audit::v1::LogCheckpoint> OpenCheckpoint(absl::string_view sealed_bytes,
                                                               const TreeHeadVerifier& verifier) {
  kinex::audit::v1::SealedLogCheckpoint sealed;
  if (!sealed.ParseFromString(std::string(sealed_bytes))) {
    return Refused("not a sealed checkpoint");
  }
  if (sealed.key_id() != verifier.key_id()) {
    return Refused(absl::StrCat("signed by key ", sealed.key_id(), ", not the current key ",
                                verifier.key_id()));
  }
  if (!verifier.VerifyMessage(SealInput(sealed.body()), sealed.signature()).ok()) {
    return Refused("the signature does not verify");
  }
  kinex::audit::v1::LogCheckpoint checkpoint;
  if (!checkpoint.ParseFromString(sealed.body())) return Refused("the body does not parse");
  if (checkpoint.version() != kCheckpointVersion) {
    return Refused(absl::StrCat("format version ", checkpoint.version(), ", this binary reads ",
                                kCheckpointVersion));
  }
  if (checkpoint.level() < 1 || checkpoint.level() > 30) {
    return Refused(absl::StrCat("level ", checkpoint.level(), " is outside 1-30"));
  }
  if (checkpoint.blocks_digest().size() != kHashSize) {
    return Refused(absl::StrCat("blocks_digest is ", checkpoint.blocks_digest().size(),
                                " bytes, not ", kHashSize));
  }
  if (checkpoint.child_keys().size() != checkpoint.child_last_leaf_size() * kHashSize) {
    return Refused("child keys and leaves differ in number");
  }
  if (checkpoint.head().tree_size() != checkpoint.tree_size()) {
    return Refused(absl::StrCat("its head is at size ", checkpoint.head().tree_size(),
                                ", not at its size ", checkpoint.tree_size()));
  }
  return checkpoint;
}

}  // namespace kinex::audit
