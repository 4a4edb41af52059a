#include "services/audit/tree_head.h"

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

constexpr absl::string_view kDomain("kinex-audit-sth-v1\0", 19);

void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// Unusable key material; `key` says which (signing_key, public_key).
absl::Status BadKey(absl::string_view key, absl::Status status) {
  return WithErrorReason(std::move(status), reason::kKeyInvalid, {{"key", std::string(key)}});
}

absl::Status CryptoFailed(absl::string_view what) {
  return WithErrorReason(absl::InternalError(what), reason::kCryptoFailed);
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key, absl::string_view which) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    return BadKey(which, absl::InvalidArgumentError("key is not an Ed25519 key"));
  }
  std::string raw(32, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != 32) {
    return CryptoFailed("cannot extract the Ed25519 public key");
  }
  return raw;
}

std::unique_ptr<BIO, BioDeleter> MemBio(absl::string_view data) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

absl::StatusOr<std::string> PublicKeyPemOf(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return CryptoFailed("cannot encode the public key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

std::string TreeHeadSigningInput(uint64_t tree_size, const Hash& root_hash, int64_t seconds,
                                 int32_t nanos, absl::string_view key_id) {
  std::string out(kDomain);
  PutU64(out, tree_size);
  out.append(reinterpret_cast<const char*>(root_hash.data()), root_hash.size());
  PutU64(out, static_cast<uint64_t>(seconds));
  PutU32(out, static_cast<uint32_t>(nanos));
  const size_t len = std::min<size_t>(key_id.size(), 255);
  out.push_back(static_cast<char>(len));
  out.append(key_id.data(), len);
  return out;
}

absl::StatusOr<std::string> TreeHeadSigningInput(const kinex::audit::v1::SignedTreeHead& sth) {
  KINEX_ASSIGN_OR_RETURN(Hash root, HashFromBytes(sth.root_hash(), "root_hash"));
  if (sth.key_id().size() > 255) {
    return WithErrorReason(absl::InvalidArgumentError("key_id is longer than 255 bytes"),
                           reason::kInvalidField, {{"field", "key_id"}});
  }
  return TreeHeadSigningInput(sth.tree_size(), root, sth.timestamp().seconds(),
                              sth.timestamp().nanos(), sth.key_id());
}

std::string KeyIdForPublicKey(absl::string_view raw_public_key) {
  return HashToHex(Sha256(raw_public_key));
}

TreeHeadSigner::TreeHeadSigner(PkeyPtr key, std::string raw_public_key)
    : key_(std::move(key)),
      raw_public_key_(std::move(raw_public_key)),
      key_id_(KeyIdForPublicKey(raw_public_key_)) {}

absl::StatusOr<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::FromPemFile(
    const std::string& path) {
  KINEX_ASSIGN_OR_RETURN(std::string pem, ReadPrivateKeyFile(path));
  absl::StatusOr<std::unique_ptr<TreeHeadSigner>> signer = FromPem(pem);
  if (!signer.ok()) {
    return CopyErrorReason(
        signer.status(),
        absl::Status(signer.status().code(), absl::StrCat(path, ": ", signer.status().message())));
  }
  return signer;
}

absl::StatusOr<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::FromPem(absl::string_view pem) {
  auto bio = MemBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return BadKey("signing_key", absl::InvalidArgumentError("not a PEM private key"));
  }
  KINEX_ASSIGN_OR_RETURN(std::string raw, RawPublicKey(key.get(), "signing_key"));
  return std::unique_ptr<TreeHeadSigner>(new TreeHeadSigner(std::move(key), std::move(raw)));
}

absl::StatusOr<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::Generate() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (key == nullptr) return CryptoFailed("Ed25519 key generation failed");
  KINEX_ASSIGN_OR_RETURN(std::string raw, RawPublicKey(key.get(), "signing_key"));
  return std::unique_ptr<TreeHeadSigner>(new TreeHeadSigner(std::move(key), std::move(raw)));
}

absl::StatusOr<kinex::audit::v1::SignedTreeHead> TreeHeadSigner::Sign(uint64_t tree_size,
                                                                      const Hash& root,
                                                                      absl::Time time) const {
  const int64_t micros = absl::ToUnixMicros(time);
  const int64_t seconds = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  const int32_t nanos = static_cast<int32_t>((micros - seconds * 1000000) * 1000);
  KINEX_ASSIGN_OR_RETURN(
      std::string sig, SignMessage(TreeHeadSigningInput(tree_size, root, seconds, nanos, key_id_)));
  kinex::audit::v1::SignedTreeHead sth;
  sth.set_tree_size(tree_size);
  sth.set_root_hash(HashToBytes(root));
  sth.mutable_timestamp()->set_seconds(seconds);
  sth.mutable_timestamp()->set_nanos(nanos);
  sth.set_key_id(key_id_);
  sth.set_signature(std::move(sig));
  return sth;
}

absl::StatusOr<std::string> TreeHeadSigner::SignMessage(absl::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t sig_len = sig.size();
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return CryptoFailed("Ed25519 signing failed");
  }
  sig.resize(sig_len);
  return sig;
}

absl::StatusOr<std::string> TreeHeadSigner::PublicKeyPem() const {
  return PublicKeyPemOf(key_.get());
}

TreeHeadVerifier::TreeHeadVerifier(PkeyPtr key, std::string raw_public_key)
    : key_(std::move(key)), key_id_(KeyIdForPublicKey(raw_public_key)) {}

absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> TreeHeadVerifier::FromPublicKeyPem(
    absl::string_view pem) {
  auto bio = MemBio(pem);
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    auto bio2 = MemBio(pem);
    key.reset(PEM_read_bio_PrivateKey(bio2.get(), nullptr, nullptr, nullptr));
  }
  if (key == nullptr) {
    return BadKey("public_key", absl::InvalidArgumentError("not a PEM public key"));
  }
  KINEX_ASSIGN_OR_RETURN(std::string raw, RawPublicKey(key.get(), "public_key"));
  return FromRawPublicKey(raw);
}

absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> TreeHeadVerifier::FromRawPublicKey(
    absl::string_view raw) {
  if (raw.size() != 32) {
    return BadKey("public_key", absl::InvalidArgumentError(absl::StrCat(
                                    "an Ed25519 public key is 32 bytes, got ", raw.size())));
  }
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
  if (key == nullptr) {
    return BadKey("public_key", absl::InvalidArgumentError("bad Ed25519 public key"));
  }
  return std::unique_ptr<TreeHeadVerifier>(new TreeHeadVerifier(std::move(key), std::string(raw)));
}

absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> TreeHeadVerifier::FromPublicKeyFile(
    const std::string& path) {
  KINEX_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  // Checked on the text, before parsing: parsing an encrypted private key
  // would prompt for its passphrase.
  if (absl::StrContains(pem, "PRIVATE KEY")) {
    return BadKey("public_key", absl::InvalidArgumentError(absl::StrCat(
                                    path,
                                    ": holds a private key; give its public half (openssl pkey -in "
                                    "KEY -pubout)")));
  }
  absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> verifier = FromPublicKeyPem(pem);
  if (!verifier.ok()) {
    return CopyErrorReason(verifier.status(),
                           absl::Status(verifier.status().code(),
                                        absl::StrCat(path, ": ", verifier.status().message())));
  }
  return verifier;
}

absl::StatusOr<std::string> TreeHeadVerifier::PublicKeyPem() const {
  return PublicKeyPemOf(key_.get());
}

absl::Status TreeHeadVerifier::Verify(const kinex::audit::v1::SignedTreeHead& sth) const {
  if (sth.key_id() != key_id_) {
    return WithErrorReason(
        absl::FailedPreconditionError(absl::StrCat("tree head is signed by key ", sth.key_id(),
                                                   ", not by the expected key ", key_id_)),
        reason::kAuditHeadKeyUnknown, {{"tree_size", absl::StrCat(sth.tree_size())}});
  }
  KINEX_ASSIGN_OR_RETURN(std::string input, TreeHeadSigningInput(sth));
  absl::Status s = VerifyMessage(input, sth.signature());
  if (s.code() == absl::StatusCode::kFailedPrecondition) {
    return WithErrorReason(absl::FailedPreconditionError(absl::StrCat(
                               "tree head signature is invalid (tree_size ", sth.tree_size(), ")")),
                           reason::kAuditHeadSignatureInvalid,
                           {{"tree_size", absl::StrCat(sth.tree_size())}});
  }
  return s;
}

absl::Status TreeHeadVerifier::VerifyMessage(absl::string_view message,
                                             absl::string_view signature) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return CryptoFailed("cannot initialise Ed25519 verification");
  }
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    return WithErrorReason(absl::FailedPreconditionError("Ed25519 signature is invalid"),
                           reason::kAuditHeadSignatureInvalid);
  }
  return absl::OkStatus();
}

void TreeHeadKeyring::Add(std::shared_ptr<const TreeHeadVerifier> key, bool current) {
  for (const Key& k : keys_) {
    if (k.verifier->key_id() == key->key_id()) return;
  }
  keys_.push_back({std::move(key), current});
}

absl::Status TreeHeadKeyring::Verify(const kinex::audit::v1::SignedTreeHead& sth) const {
  std::vector<std::string> current;
  std::vector<std::string> others;
  for (const Key& k : keys_) {
    if (k.verifier->key_id() == sth.key_id()) return k.verifier->Verify(sth);
    (k.current ? current : others).push_back(k.verifier->key_id());
  }
  std::vector<std::string> known;
  if (!current.empty()) known.push_back(absl::StrCat("current ", current[0]));
  if (!others.empty()) {
    known.push_back(absl::StrCat(current.empty() ? "" : "retired ", absl::StrJoin(others, ", ")));
  }
  return WithErrorReason(absl::FailedPreconditionError(absl::StrCat(
                             "tree head at size ", sth.tree_size(), " is signed by key ",
                             sth.key_id(), " which is not among the known keys (",
                             known.empty() ? "none" : absl::StrJoin(known, "; "), ")")),
                         reason::kAuditHeadKeyUnknown,
                         {{"tree_size", absl::StrCat(sth.tree_size())}});
}

}  // namespace kinex::audit
