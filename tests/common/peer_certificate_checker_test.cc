// PeerCertificateChecker (services/common/tls.h) against CRLs of the test CA:
// the refusals OpenSSL's CRL_CHECK_ALL would make, and reloads that keep
// the CRLs in force when a new file is bad.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "services/common/tls.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;
using testing::TestPkiDir;

class PeerCertificateCheckerTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::shared_ptr<PeerCertificateChecker>> Load() {
    TlsFiles files = testing::ServiceTlsFiles("gateway");
    files.crl_dir = crl_dir_;
    files.reload_interval_seconds = 3600;  // only Reload() re-reads
    return PeerCertificateChecker::Load(files);
  }
  // The PEM of a test PKI certificate.
  static std::string Pem(const std::string& base) {
    return *ReadFileToString(absl::StrCat(TestPkiDir(), "/", base, ".pem"));
  }
  // The refusal reason for `base`, "" when accepted.
  static std::string ReasonFor(PeerCertificateChecker& checker, const std::string& base) {
    absl::StatusOr<std::optional<PeerRefusal>> r = checker.Check(Pem(base), "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->has_value() ? (*r)->reason : "";
  }

  testing::ScopedTempDir dir_{"revocation"};
  std::string crl_dir_ = dir_.File("crl");
  std::string school_ = "agencies/school-137000-designated-teacher";
  void SetUp() override { std::filesystem::create_directory(crl_dir_); }
};

TEST_F(PeerCertificateCheckerTest, RevokedSerialIsRefusedNamingTheCertificate) {
  const std::string serial = testing::SerialOf(TestPkiDir() + "/" + school_ + ".pem");
  ASSERT_TRUE(testing::WriteCrl(crl_dir_ + "/ca.r0", {.revoked = {serial}}).ok());
  auto checker = Load();
  ASSERT_TRUE(checker.ok()) << checker.status();
  absl::StatusOr<std::optional<PeerRefusal>> r = (*checker)->Check(Pem(school_), "");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->reason, "certificate revoked");
  EXPECT_EQ((*r)->subject, "CN=school 137000 designated-teacher");
  EXPECT_THAT((*r)->uri_sans,
              ::testing::ElementsAre("spiffe://kinex.dev/school/137000/designated-teacher"));
  EXPECT_EQ((*r)->serial, serial);
  EXPECT_EQ(ReasonFor(**checker, "agencies/local-authority-E09000033-social-worker"), "");
}

TEST_F(PeerCertificateCheckerTest, NoCrlForTheIssuerIsRefused) {
  auto checker = Load();
  ASSERT_TRUE(checker.ok()) << checker.status();
  EXPECT_EQ(ReasonFor(**checker, school_), "no CRL for the issuer");
}

TEST_F(PeerCertificateCheckerTest, ExpiredCrlIsRefused) {
  ASSERT_TRUE(testing::WriteCrl(crl_dir_ + "/ca.r0", {.valid_for = -absl::Hours(1)}).ok());
  auto checker = Load();
  ASSERT_TRUE(checker.ok()) << checker.status();
  EXPECT_EQ(ReasonFor(**checker, school_), "CRL has expired");
}

TEST_F(PeerCertificateCheckerTest, CrlNotSignedByTheCaIsRefusedAtLoad) {
  ASSERT_TRUE(
      testing::WriteCrl(crl_dir_ + "/ca.r0", {.key_file = TestPkiDir() + "/" + school_ + ".key"})
          .ok());
  EXPECT_THAT(Load(), StatusIs(absl::StatusCode::kInvalidArgument,
                               absl::StrCat(crl_dir_, "/ca.r0: CRL not signed by a CA in ",
                                            TestPkiDir(), "/ca.pem")));
}

TEST_F(PeerCertificateCheckerTest, NotACrlIsRefusedAtLoad) {
  std::ofstream(crl_dir_ + "/notes.txt") << "hello\n";
  EXPECT_THAT(Load(), StatusIs(absl::StatusCode::kInvalidArgument,
                               absl::StrCat(crl_dir_, "/notes.txt: not a PEM CRL")));
}

TEST_F(PeerCertificateCheckerTest, MissingDirectoryIsNamed) {
  crl_dir_ = dir_.File("nowhere");
  EXPECT_THAT(Load(), StatusIs(absl::StatusCode::kNotFound,
                               absl::StrCat(crl_dir_, ": CRL directory does not exist")));
}

// A bad new file fails the reload and keeps the CRLs in force; a good one
// replaces them.
TEST_F(PeerCertificateCheckerTest, ReloadKeepsTheCrlsInForceOnFailure) {
  const std::string serial = testing::SerialOf(TestPkiDir() + "/" + school_ + ".pem");
  ASSERT_TRUE(testing::WriteCrl(crl_dir_ + "/ca.r0", {.revoked = {serial}}).ok());
  auto checker = Load();
  ASSERT_TRUE(checker.ok()) << checker.status();
  std::ofstream(crl_dir_ + "/broken.r1") << "-----BEGIN X509 CRL-----\nAAAA\n";
  EXPECT_THAT((*checker)->Reload(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("broken.r1: not a PEM CRL")));
  EXPECT_EQ(ReasonFor(**checker, school_), "certificate revoked");

  std::filesystem::remove(crl_dir_ + "/broken.r1");
  ASSERT_TRUE(testing::WriteCrl(crl_dir_ + "/ca.r0", {}).ok());
  ASSERT_TRUE((*checker)->Reload().ok());
  EXPECT_EQ(ReasonFor(**checker, school_), "");
}

// The refusals a handshake used to log only as OpenSSL codes, now with
// the certificate's own words.
TEST_F(PeerCertificateCheckerTest, NegativeFixturesAreRefusedWithTheirReasons) {
  ASSERT_TRUE(testing::WriteCrl(crl_dir_ + "/ca.r0", {}).ok());
  auto checker = Load();
  ASSERT_TRUE(checker.ok()) << checker.status();
  EXPECT_EQ(ReasonFor(**checker, "negative/expired"), "certificate has expired");
  EXPECT_EQ(ReasonFor(**checker, "negative/other-ca"), "certificate not issued by the Kinex CA");
  EXPECT_EQ(ReasonFor(**checker, "services/gateway"), "");
}

// Without a CRL directory the chain and dates are still checked.
TEST_F(PeerCertificateCheckerTest, WithoutCrlsTheChainIsStillChecked) {
  TlsFiles files = testing::ServiceTlsFiles("gateway");
  files.crl_dir = "";
  auto checker = PeerCertificateChecker::Load(files);
  ASSERT_TRUE(checker.ok()) << checker.status();
  EXPECT_EQ(ReasonFor(**checker, school_), "");
  EXPECT_EQ(ReasonFor(**checker, "negative/revoked"), "");  // no CRLs to say otherwise
  EXPECT_EQ(ReasonFor(**checker, "negative/other-ca"), "certificate not issued by the Kinex CA");
}

TEST_F(PeerCertificateCheckerTest, NoCertificateIsAnError) {
  ASSERT_TRUE(testing::WriteCrl(crl_dir_ + "/ca.r0", {}).ok());
  auto checker = Load();
  ASSERT_TRUE(checker.ok()) << checker.status();
  EXPECT_THAT((*checker)->Check("not a certificate", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, "peer presented no certificate"));
}

// A key of another certificate is named when credentials are made (not a
// TSI_INVALID_ARGUMENT at every handshake).
TEST(TlsFilesTest, KeyOfAnotherCertificateIsNamed) {
  TlsFiles files = testing::ServiceTlsFiles("gateway");
  files.key_file = testing::ServiceTlsFiles("records").key_file;
  const std::string expected =
      absl::StrCat(files.key_file, ": not the private key of the certificate in ", files.cert_file);
  EXPECT_THAT(MakeChannelCredentials(files).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, expected));
  EXPECT_THAT(MakeServerCredentials(files).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, expected));
}

}  // namespace
}  // namespace kinex
