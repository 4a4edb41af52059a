// The real `kinex` and `kinexctl` binaries over real mTLS on loopback.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/metrics_scrape.h"
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

// A JSON string field of the "serving" line.
std::string Field(const std::string& line, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = line.find(key);
  if (at == std::string::npos) return "";
  const size_t begin = at + key.size();
  return line.substr(begin, line.find('"', begin) - begin);
}

// A started `kinex --target=all` on loopback ports, and its addresses.
struct StartedKinex {
  std::unique_ptr<Subprocess> process;
  std::string address;
  std::string metrics;
};

void StartKinex(const std::string& policy_dir, StartedKinex* out) {
  const std::string pki = TestPkiDir();
  auto p = Subprocess::Start(
      {BinPath("kinex"), "--target=all", "--data_dir=" + testing::MakeUniqueTempDir(),
       "--policy_dir=" + policy_dir, "--audit_signing_key=" + pki + "/audit-signing.key",
       "--audit_pseudonym_key=" + pki + "/audit-pseudonym.key", "--tls_ca=" + pki + "/ca.pem",
       "--tls_cert=" + pki + "/services/gateway.pem", "--tls_key=" + pki + "/services/gateway.key",
       "--tls_crl_dir=" + pki + "/crl", "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0"});
  ASSERT_TRUE(p.ok()) << p.status();
  out->process = std::move(*p);
  absl::StatusOr<std::string> line = out->process->ReadStdoutLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status() << "\n" << out->process->DrainStderr();
  ASSERT_THAT(*line, HasSubstr("\"msg\":\"serving\""));
  out->address = Field(*line, "address");
  out->metrics = Field(*line, "metrics");
  ASSERT_FALSE(out->address.empty());
  ASSERT_FALSE(out->metrics.empty());
}

class KinexProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartedKinex started;
    ASSERT_NO_FATAL_FAILURE(StartKinex(testing::SourceDir() + "/policy", &started));
    kinex_ = std::move(started.process);
    address_ = started.address;
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

// SIGHUP reloads the policy; kinex_policy_reloads_total counts each result
// and a failed reload keeps the set in force (kinex_policy_info unchanged).
TEST(KinexBinary, SighupReloadIsCounted) {
  const testing::ScopedTempDir dir("kinex-reload");
  const std::string policy = dir.File("policy");
  std::filesystem::copy(testing::SourceDir() + "/policy", policy,
                        std::filesystem::copy_options::recursive);
  StartedKinex k;
  ASSERT_NO_FATAL_FAILURE(StartKinex(policy, &k));
  const std::string before = testing::ScrapeMetrics(k.metrics);
  ASSERT_THAT(before, HasSubstr("kinex_policy_info{version=\""));
  EXPECT_FALSE(testing::MetricValue(before, "kinex_policy_reloads_total{result=\"ok\"}"));
  const std::string version_line = before.substr(
      before.find("kinex_policy_info{"),
      before.find('\n', before.find("kinex_policy_info{")) - before.find("kinex_policy_info{"));

  // Polls until `series` reaches 1 (SIGHUP is handled on kinex's own thread).
  auto await_one = [&](const std::string& series) {
    for (int i = 0; i < 100; ++i) {
      if (testing::MetricValue(testing::ScrapeMetrics(k.metrics), series) == 1) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  };
  k.process->Signal(SIGHUP);
  EXPECT_TRUE(await_one("kinex_policy_reloads_total{result=\"ok\"}"));

  std::ofstream(policy + "/school.textproto", std::ios::app) << "\nthis is not a policy\n";
  k.process->Signal(SIGHUP);
  EXPECT_TRUE(await_one("kinex_policy_reloads_total{result=\"failed\"}"));
  const std::string after = testing::ScrapeMetrics(k.metrics);
  EXPECT_THAT(after, HasSubstr(version_line)) << "the set in force is kept";
  EXPECT_EQ(testing::MetricValue(after, "kinex_policy_reloads_total{result=\"ok\"}"), 1);
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
  auto r =
      Subprocess::Run({BinPath("kinex"), "--config=" + config, "--target=all",
                       "--listen=127.0.0.1:0", "--data_dir=" + dir.File("data"),
                       "--tls_ca=" + pki + "/ca.pem", "--tls_cert=" + pki + "/services/gateway.pem",
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
