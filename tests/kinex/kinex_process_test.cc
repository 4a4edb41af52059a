// The real `kinex` and `kinexctl` binaries over real mTLS on loopback.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/paths.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex {
namespace {

using testing::BinPath;
using ::testing::HasSubstr;
using testing::Subprocess;
using testing::TestPkiDir;

class KinexProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string pki = TestPkiDir();
    auto p = Subprocess::Start(
        {BinPath("kinex"), "--target=all", "--data_dir=" + testing::MakeUniqueTempDir(),
         "--policy_dir=" + testing::SourceDir() + "/policy",
         "--audit_signing_key=" + pki + "/audit-signing.key",
         "--audit_pseudonym_key=" + pki + "/audit-pseudonym.key", "--tls_ca=" + pki + "/ca.pem",
         "--tls_cert=" + pki + "/services/gateway.pem",
         "--tls_key=" + pki + "/services/gateway.key", "--tls_crl_dir=" + pki + "/crl",
         "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0"});
    ASSERT_TRUE(p.ok()) << p.status();
    kinex_ = std::move(*p);
    absl::StatusOr<std::string> line = kinex_->ReadStdoutLine(absl::Seconds(60));
    ASSERT_TRUE(line.ok()) << line.status() << "\n" << kinex_->DrainStderr();
    ASSERT_THAT(*line, HasSubstr("\"msg\":\"serving\""));
    const size_t at = line->find("\"address\":\"");
    ASSERT_NE(at, std::string::npos);
    address_ = line->substr(at + 11, line->find('"', at + 11) - at - 11);
  }

  Subprocess::Result Ctl(const std::string& cert_base, std::vector<std::string> args) {
    const std::string pki = TestPkiDir();
    std::vector<std::string> argv = {
        BinPath("kinexctl"), "--address=" + address_, "--ca=" + pki + "/ca.pem",
        "--cert=" + pki + "/" + cert_base + ".pem", "--key=" + pki + "/" + cert_base + ".key"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = Subprocess::Run(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  std::unique_ptr<Subprocess> kinex_;
  std::string address_;
};

TEST_F(KinexProcessTest, HealthAnswersServingToDemoAgency) {
  Subprocess::Result r = Ctl("agencies/virtual-school-E09000033-virtual-school-head", {"health"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
}

TEST_F(KinexProcessTest, HealthOfExchangeServiceAsJson) {
  Subprocess::Result r = Ctl("agencies/police-01-public-protection-officer",
                             {"health", "--service=kinex.exchange.v1.Exchange", "--output=json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("\"service\": \"kinex.exchange.v1.Exchange\", \"status\": \"SERVING\""));
}

TEST_F(KinexProcessTest, RevokedAgencyIsRefused) {
  Subprocess::Result r = Ctl("negative/revoked", {"health"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("kinexctl: UNAVAILABLE"));
  EXPECT_EQ(r.out, "");
}

TEST_F(KinexProcessTest, UnknownCommandIsUsageError) {
  Subprocess::Result r = Ctl("agencies/police-01-public-protection-officer", {"healthz"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command \"healthz\""));
}

TEST_F(KinexProcessTest, SigtermShutsDownCleanly) {
  kinex_->Signal(SIGTERM);
  EXPECT_EQ(kinex_->Wait(), 0);
  EXPECT_THAT(kinex_->DrainStderr(), HasSubstr("\"msg\":\"stopped\""));
}

TEST(KinexBinary, BadConfigurationExitsNamingTheFlag) {
  auto r = Subprocess::Run(
      {BinPath("kinex"), "--target=frontend", "--tls_ca=a", "--tls_cert=b", "--tls_key=c"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_THAT(r->err, HasSubstr("kinex: bad configuration: --target: target: \"frontend\""));
}

TEST(KinexBinary, NoTlsMaterialRefusesToStart) {
  auto r = Subprocess::Run({BinPath("kinex"), "--target=all"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_THAT(r->err, HasSubstr("Kinex serves only over mutual TLS"));
}

TEST(KinexBinary, MissingCertificateFileNamesIt) {
  const std::string pki = TestPkiDir();
  auto r = Subprocess::Run({BinPath("kinex"), "--target=all", "--listen=127.0.0.1:0",
                            "--tls_ca=" + pki + "/ca.pem", "--tls_cert=/nonexistent/gw.pem",
                            "--tls_key=" + pki + "/services/gateway.key"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_THAT(r->err, HasSubstr("/nonexistent/gw.pem: no such file"));
}

// A shared page-token key is a secret: a group-readable one stops the
// start, naming the file (it is never read, let alone used).
TEST(KinexBinary, GroupReadablePageTokenKeyRefusesToStart) {
  const std::string pki = TestPkiDir();
  const testing::ScopedTempDir dir("kinex-page-key");
  const std::string key = dir.File("page.key");
  const std::string config = dir.File("kinex.textproto");
  {
    std::ofstream(key) << std::string(64, 'a') << "\n";
    std::ofstream(config) << "page_token_key_file: \"" << key << "\"\n";
  }
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);
  auto r = Subprocess::Run({BinPath("kinex"), "--config=" + config, "--target=all",
                            "--listen=127.0.0.1:0", "--data_dir=" + dir.File("data"),
                            "--tls_ca=" + pki + "/ca.pem",
                            "--tls_cert=" + pki + "/services/gateway.pem",
                            "--tls_key=" + pki + "/services/gateway.key"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_THAT(r->err, HasSubstr(key + ": private key file has mode 0644"));
}

TEST(KinexctlBinary, NoClientCertificateIsAClearError) {
  auto r = Subprocess::Run({BinPath("kinexctl"), "--address=127.0.0.1:1", "health"},
                           {"KINEX_CA=", "KINEX_CERT=", "KINEX_KEY="});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_THAT(r->err, HasSubstr("no client certificate: give --ca, --cert and --key"));
}

}  // namespace
}  // namespace kinex
