// Ed25519 signed tree heads: round trip, tamper detection, key loading.
#include "services/audit/tree_head.h"

#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex::audit {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

TEST(TreeHeadTest, SignAndVerifyRoundTrip) {
  auto signer = *TreeHeadSigner::Generate();
  const Hash root = HashLeaf("x");
  absl::StatusOr<v1::SignedTreeHead> sth =
      signer->Sign(7, root, absl::FromUnixMicros(1788249600123456));
  ASSERT_TRUE(sth.ok()) << sth.status();
  EXPECT_EQ(sth->tree_size(), 7u);
  EXPECT_EQ(sth->root_hash(), HashToBytes(root));
  EXPECT_EQ(sth->timestamp().seconds(), 1788249600);
  EXPECT_EQ(sth->timestamp().nanos(), 123456000);
  EXPECT_EQ(sth->key_id(), KeyIdForPublicKey(signer->raw_public_key()));
  EXPECT_EQ(sth->key_id().size(), 64u);
  EXPECT_EQ(sth->signature().size(), 64u);

  auto verifier = *TreeHeadVerifier::FromPublicKeyPem(*signer->PublicKeyPem());
  EXPECT_TRUE(verifier->Verify(*sth).ok());
}

TEST(TreeHeadTest, AnyChangedFieldBreaksTheSignature) {
  auto signer = *TreeHeadSigner::Generate();
  auto verifier = *TreeHeadVerifier::FromRawPublicKey(signer->raw_public_key());
  const v1::SignedTreeHead good =
      *signer->Sign(7, HashLeaf("x"), absl::FromUnixSeconds(1788249600));
  std::vector<v1::SignedTreeHead> bad(4, good);
  bad[0].set_tree_size(6);
  bad[1].set_root_hash(HashToBytes(HashLeaf("y")));
  bad[2].mutable_timestamp()->set_seconds(1788249601);
  bad[3].mutable_signature()->at(0) ^= 1;
  for (const auto& sth : bad) {
    absl::Status s = verifier->Verify(sth);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("signature is invalid"));
    EXPECT_THAT(s, HasErrorReason("AUDIT_HEAD_SIGNATURE_INVALID"));
    EXPECT_THAT(s, HasErrorMetadata("tree_size", std::to_string(sth.tree_size())));
  }
  v1::SignedTreeHead other_key = good;
  other_key.set_key_id(std::string(64, 'a'));
  EXPECT_THAT(verifier->Verify(other_key).message(), HasSubstr("not by the expected key"));
  EXPECT_THAT(verifier->Verify(other_key), HasErrorReason("AUDIT_HEAD_KEY_UNKNOWN"));
  v1::SignedTreeHead long_id = good;
  long_id.set_key_id(std::string(300, 'a'));
  EXPECT_THAT(TreeHeadSigningInput(long_id),
              StatusIs(absl::StatusCode::kInvalidArgument, "key_id is longer than 255 bytes"));
  EXPECT_THAT(TreeHeadSigningInput(long_id), HasErrorMetadata("field", "key_id"));
  auto stranger = *TreeHeadSigner::Generate();
  auto stranger_verifier = *TreeHeadVerifier::FromRawPublicKey(stranger->raw_public_key());
  EXPECT_EQ(stranger_verifier->Verify(good).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TreeHeadTest, KeyringVerifiesEachHeadByTheKeyItNames) {
  auto old_signer = *TreeHeadSigner::Generate();
  auto new_signer = *TreeHeadSigner::Generate();
  TreeHeadKeyring keys;
  keys.Add(*TreeHeadVerifier::FromRawPublicKey(new_signer->raw_public_key()),
           /*current=*/true);
  keys.Add(*TreeHeadVerifier::FromRawPublicKey(old_signer->raw_public_key()));
  keys.Add(*TreeHeadVerifier::FromRawPublicKey(old_signer->raw_public_key()));
  EXPECT_EQ(keys.keys().size(), 2u);  // a key listed twice counts once
  const Hash root = HashLeaf("x");
  const absl::Time t = absl::FromUnixSeconds(1788249600);
  EXPECT_TRUE(keys.Verify(*old_signer->Sign(3, root, t)).ok());
  EXPECT_TRUE(keys.Verify(*new_signer->Sign(4, root, t)).ok());
  v1::SignedTreeHead forged = *new_signer->Sign(4, root, t);
  forged.set_tree_size(5);
  EXPECT_THAT(keys.Verify(forged).message(), HasSubstr("signature is invalid"));

  auto stranger = *TreeHeadSigner::Generate();
  absl::Status s = keys.Verify(*stranger->Sign(12, root, t));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s, HasErrorReason("AUDIT_HEAD_KEY_UNKNOWN"));
  EXPECT_THAT(s, HasErrorMetadata("tree_size", "12"));
  EXPECT_EQ(s.message(),
            absl::StrCat("tree head at size 12 is signed by key ", stranger->key_id(),
                         " which is not among the known keys (current ", new_signer->key_id(),
                         "; retired ", old_signer->key_id(), ")"));
  TreeHeadKeyring pinned;  // no current key: a verifier's pinned keys
  pinned.Add(*TreeHeadVerifier::FromRawPublicKey(old_signer->raw_public_key()));
  EXPECT_EQ(pinned.Verify(*stranger->Sign(12, root, t)).message(),
            absl::StrCat("tree head at size 12 is signed by key ", stranger->key_id(),
                         " which is not among the known keys (", old_signer->key_id(), ")"));
}

TEST(TreeHeadTest, SigningInputIsFixedLayout) {
  Hash root{};
  root.fill(0xab);
  const std::string input = TreeHeadSigningInput(0x0102, root, 5, 6, "kid");
  const std::string domain("kinex-audit-sth-v1\0", 19);
  ASSERT_EQ(input.size(), 19u + 8 + 32 + 8 + 4 + 1 + 3);
  EXPECT_EQ(input.substr(0, 19), domain);
  EXPECT_EQ(input.substr(19, 8), std::string("\0\0\0\0\0\0\x01\x02", 8));
  EXPECT_EQ(input.substr(27, 32), std::string(32, '\xab'));
  EXPECT_EQ(input.substr(59, 8), std::string("\0\0\0\0\0\0\0\x05", 8));
  EXPECT_EQ(input.substr(67, 4), std::string("\0\0\0\x06", 4));
  EXPECT_EQ(input.substr(71), std::string("\x03kid"));
}

class KeyFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& contents, int mode) {
    const std::string path = dir_.File(absl::StrCat("key-", counter_++));
    std::ofstream(path) << contents;
    ::chmod(path.c_str(), mode);
    return path;
  }
  kinex::testing::ScopedTempDir dir_{"audit-sth-key"};
  int counter_ = 0;
};

// The Ed25519 signing key generated by certs/make-dev-pki.sh for the test PKI
// (keys are generated, never committed).
std::string TestSigningKeyPem() {
  absl::StatusOr<std::string> pem =
      ReadFileToString(kinex::testing::TestPkiDir() + "/audit-signing.key");
  EXPECT_TRUE(pem.ok()) << pem.status();
  return pem.ok() ? *pem : "";
}

TEST_F(KeyFileTest, LoadsA0600Ed25519Key) {
  absl::StatusOr<std::unique_ptr<TreeHeadSigner>> signer =
      TreeHeadSigner::FromPemFile(Write(TestSigningKeyPem(), 0600));
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->raw_public_key().size(), 32u);
}

TEST_F(KeyFileTest, RefusesAGroupReadableKey) {
  absl::StatusOr<std::unique_ptr<TreeHeadSigner>> signer =
      TreeHeadSigner::FromPemFile(Write(TestSigningKeyPem(), 0640));
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(signer.status().message(), HasSubstr("chmod 600"));
}

TEST_F(KeyFileTest, RefusesANonKey) {
  const std::string path = Write("not a key", 0600);
  absl::StatusOr<std::unique_ptr<TreeHeadSigner>> signer = TreeHeadSigner::FromPemFile(path);
  EXPECT_THAT(signer,
              StatusIs(absl::StatusCode::kInvalidArgument, path + ": not a PEM private key"));
  EXPECT_THAT(signer, HasErrorReason("KEY_INVALID"));
  EXPECT_THAT(signer, HasErrorMetadata("key", "signing_key"));
}

TEST_F(KeyFileTest, LoadsAPublicKeyFile) {
  auto signer = *TreeHeadSigner::Generate();
  absl::StatusOr<std::unique_ptr<TreeHeadVerifier>> verifier =
      TreeHeadVerifier::FromPublicKeyFile(Write(*signer->PublicKeyPem(), 0644));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_EQ((*verifier)->key_id(), signer->key_id());
  EXPECT_EQ(*(*verifier)->PublicKeyPem(), *signer->PublicKeyPem());
}

TEST_F(KeyFileTest, PublicKeyFileRefusesPrivateAndNonEd25519Keys) {
  std::string path = Write(TestSigningKeyPem(), 0600);
  absl::Status s = TreeHeadVerifier::FromPublicKeyFile(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path +
                             ": holds a private key; give its public half "
                             "(openssl pkey -in KEY -pubout)");
  EXPECT_THAT(s, HasErrorReason("KEY_INVALID"));
  EXPECT_THAT(s, HasErrorMetadata("key", "public_key"));
  path = Write("not a key", 0644);
  s = TreeHeadVerifier::FromPublicKeyFile(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path + ": not a PEM public key");
  EXPECT_THAT(s, HasErrorReason("KEY_INVALID"));
  // A P-256 public key, generated now.
  PkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(ec, nullptr);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio.get(), ec.get()), 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  path = Write(std::string(data, static_cast<size_t>(len)), 0644);
  s = TreeHeadVerifier::FromPublicKeyFile(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path + ": key is not an Ed25519 key");
  EXPECT_THAT(s, HasErrorReason("KEY_INVALID"));
  EXPECT_THAT(s, HasErrorMetadata("key", "public_key"));
  s = TreeHeadVerifier::FromPublicKeyFile(path + ".missing").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kinex::audit
