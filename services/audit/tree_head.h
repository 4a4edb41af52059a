// Ed25519 signed tree heads (OpenSSL 3 EVP).
//
// A head commits to (tree_size, root_hash, timestamp, key_id). The signature
// covers this canonical serialisation, defined here and nowhere else:
//
//   "kinex-audit-sth-v1" 0x00      19 bytes: domain separation
//   tree_size                      uint64, big-endian
//   root_hash                      32 bytes
//   timestamp.seconds              int64, big-endian (two's complement)
//   timestamp.nanos                int32, big-endian
//   len(key_id)                    uint8
//   key_id                         ASCII, lower-case hex SHA-256 of the raw
//                                  32-byte Ed25519 public key (64 chars)
//
// Every field has a fixed width or an explicit length, so two different heads
// never serialise to the same bytes, and the encoding does not depend on any
// protobuf library version.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto signer, TreeHeadSigner::FromPemFile(path));
//   KINEX_ASSIGN_OR_RETURN(SignedTreeHead sth,
//                          signer->Sign(size, root, clock.Now()));
//   KINEX_ASSIGN_OR_RETURN(auto verifier,
//       TreeHeadVerifier::FromPublicKeyPem(signer->PublicKeyPem()));
//   KINEX_RETURN_IF_ERROR(verifier->Verify(sth));
#ifndef KINEX_SERVICES_AUDIT_TREE_HEAD_H_
#define KINEX_SERVICES_AUDIT_TREE_HEAD_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/audit/merkle.h"

namespace kinex::audit {

// The bytes a tree head's signature covers (see the file comment).
std::string TreeHeadSigningInput(uint64_t tree_size, const Hash& root_hash, int64_t seconds,
                                 int32_t nanos, absl::string_view key_id);

// The signing input of `sth` (its signature field is ignored).
// INVALID_ARGUMENT when its root_hash is not 32 bytes.
absl::StatusOr<std::string> TreeHeadSigningInput(const kinex::audit::v1::SignedTreeHead& sth);

// The key id of a raw 32-byte Ed25519 public key: lower-case hex SHA-256.
std::string KeyIdForPublicKey(absl::string_view raw_public_key);

// Owns an EVP_PKEY.
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// Signs tree heads with an Ed25519 private key. Thread-safe (each Sign uses
// its own EVP context).
class TreeHeadSigner {
 public:
  // Loads a PEM Ed25519 private key from `path`, refusing a file group or
  // others can read (FAILED_PRECONDITION). INVALID_ARGUMENT when the file is
  // not an Ed25519 private key.
  static absl::StatusOr<std::unique_ptr<TreeHeadSigner>> FromPemFile(const std::string& path);
  // Parses a PEM Ed25519 private key.
  static absl::StatusOr<std::unique_ptr<TreeHeadSigner>> FromPem(absl::string_view pem);
  // A fresh random key (tests and benchmarks).
  static absl::StatusOr<std::unique_ptr<TreeHeadSigner>> Generate();

  // Signs a head for `tree_size` leaves with `root` at `time` (truncated to
  // microseconds so it round-trips through every store).
  absl::StatusOr<kinex::audit::v1::SignedTreeHead> Sign(uint64_t tree_size, const Hash& root,
                                                        absl::Time time) const;
  // Signs `message` as it is (Ed25519, 64 bytes). For the log's other
  // signed records (checkpoint.h): `message` must begin with a domain tag of
  // its own, never "kinex-audit-sth-v1", so no signature made here verifies
  // as a tree head's.
  absl::StatusOr<std::string> SignMessage(absl::string_view message) const;
  // This key's id (hex SHA-256 of the raw public key).
  const std::string& key_id() const { return key_id_; }
  // The raw 32-byte public key.
  const std::string& raw_public_key() const { return raw_public_key_; }
  // The public key as PEM (SubjectPublicKeyInfo), for verifiers.
  absl::StatusOr<std::string> PublicKeyPem() const;

 private:
  explicit TreeHeadSigner(PkeyPtr key, std::string raw_public_key);
  PkeyPtr key_;
  std::string raw_public_key_;
  std::string key_id_;
};

// Checks a signed tree head's signature. One key (TreeHeadVerifier) and a
// set of keys (TreeHeadKeyring) both implement it, so the whole-log and
// receipt checks (log_verifier.h) work with either, across a key rotation.
class HeadVerifier {
 public:
  virtual ~HeadVerifier() = default;
  // OK when `sth` has a valid signature by a key this verifier accepts.
  // FAILED_PRECONDITION naming the problem; INVALID_ARGUMENT for a
  // malformed head.
  virtual absl::Status Verify(const kinex::audit::v1::SignedTreeHead& sth) const = 0;
};

// Verifies tree head signatures with an Ed25519 public key. Thread-safe.
class TreeHeadVerifier final : public HeadVerifier {
 public:
  // Parses a PEM public key (or a PEM private key, whose public half is
  // used). INVALID_ARGUMENT when it is not Ed25519.
  static absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> FromPublicKeyPem(absl::string_view pem);
  // From a raw 32-byte Ed25519 public key.
  static absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> FromRawPublicKey(absl::string_view raw);
  // Loads a PEM Ed25519 *public* key file (a retired signing key, or a key
  // pinned by an auditor). A private key is refused: these files are
  // distributed (ConfigMaps, auditors), so a private key in one is a leak.
  // INVALID_ARGUMENT prefixed with `path`; NOT_FOUND / PERMISSION_DENIED
  // naming it when it cannot be read.
  static absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> FromPublicKeyFile(
      const std::string& path);

  // OK when `sth` carries this key's id and a valid signature over its
  // signing input. FAILED_PRECONDITION naming the problem (other key id, bad
  // signature); INVALID_ARGUMENT for a malformed head.
  absl::Status Verify(const kinex::audit::v1::SignedTreeHead& sth) const override;
  // OK when `signature` is this key's Ed25519 signature over `message`
  // (TreeHeadSigner::SignMessage); FAILED_PRECONDITION otherwise.
  absl::Status VerifyMessage(absl::string_view message, absl::string_view signature) const;
  // The key id this verifier accepts.
  const std::string& key_id() const { return key_id_; }
  // The public key as PEM (SubjectPublicKeyInfo).
  absl::StatusOr<std::string> PublicKeyPem() const;

 private:
  explicit TreeHeadVerifier(PkeyPtr key, std::string raw_public_key);
  PkeyPtr key_;
  std::string key_id_;
};

// The keys a log's heads may be signed by: the current signing key and the
// keys it replaced (retired by rotation). Each head is checked with the key
// its key_id names, so heads signed before a rotation keep verifying.
// Thread-safe once built.
//
// Example:
//   TreeHeadKeyring keys;
//   keys.Add(current_verifier, /*current=*/true);
//   keys.Add(retired_verifier);
//   KINEX_RETURN_IF_ERROR(keys.Verify(sth));
class TreeHeadKeyring final : public HeadVerifier {
 public:
  struct Key {
    std::shared_ptr<const TreeHeadVerifier> verifier;
    // Whether this key signs new heads (else it is retired or, for a
    // verifier that pins keys, just known).
    bool current = false;
  };

  // Adds `key` (not null). A key already present is ignored: listing the
  // current key among the retired ones as well is harmless.
  void Add(std::shared_ptr<const TreeHeadVerifier> key, bool current = false);

  // Verifies `sth` with the key its key_id names. FAILED_PRECONDITION when
  // that key is unknown, naming the head's size, its key id and the known
  // keys; otherwise as TreeHeadVerifier::Verify.
  absl::Status Verify(const kinex::audit::v1::SignedTreeHead& sth) const override;

  // The keys, in the order added.
  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_TREE_HEAD_H_
