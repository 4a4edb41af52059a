// The real `kinex` and `kinexctl` binaries over real mTLS on loopback.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <grpcpp/grpcpp.h>
#include "absl/time/clock.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/common/tls.h"
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

// What StartKinex varies; the rest is the test PKI's.
struct KinexFiles {
  std::string policy_dir = testing::SourceDir() + "/policy";
  std::string cert_file = TestPkiDir() + "/services/gateway.pem";
  std::string key_file = TestPkiDir() + "/services/gateway.key";
  std::string crl_dir = TestPkiDir() + "/crl";
  std::string config_file;  // optional --config
};

void StartKinex(const KinexFiles& files, StartedKinex* out) {
  const std::string pki = TestPkiDir();
  std::vector<std::string> argv = {BinPath("kinex"),
                                   "--target=all",
                                   "--data_dir=" + testing::MakeUniqueTempDir(),
                                   "--policy_dir=" + files.policy_dir,
                                   "--audit_signing_key=" + pki + "/audit-signing.key",
                                   "--audit_pseudonym_key=" + pki + "/audit-pseudonym.key",
                                   "--tls_ca=" + pki + "/ca.pem",
                                   "--tls_cert=" + files.cert_file,
                                   "--tls_key=" + files.key_file,
                                   "--tls_crl_dir=" + files.crl_dir,
                                   "--listen=127.0.0.1:0",
                                   "--metrics_listen=127.0.0.1:0"};
  if (!files.config_file.empty()) argv.push_back("--config=" + files.config_file);
  auto p = Subprocess::Start(argv);
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

// A health check over mTLS as `cert_base` (under the test PKI); the
// server certificate's common name in `server_cn` when it answers.
grpc::Status HealthAs(const std::string& address, const std::string& cert_base,
                      std::string* server_cn = nullptr) {
  const std::string pki = TestPkiDir();
  auto creds = MakeChannelCredentials({.ca_file = pki + "/ca.pem",
                                       .cert_file = pki + "/" + cert_base + ".pem",
                                       .key_file = pki + "/" + cert_base + ".key"});
  if (!creds.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, creds.status().ToString());
  // A fresh connection each time: reloaded material applies to new ones.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(address, *creds, args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (s.ok() && server_cn != nullptr) {
    auto cn = ctx.auth_context()->FindPropertyValues("x509_common_name");
    *server_cn = cn.empty() ? "" : std::string(cn[0].data(), cn[0].size());
  }
  return s;
}

// Polls `ok` for up to 15 s.
template <typename Pred>
bool Eventually(Pred ok) {
  for (int i = 0; i < 150; ++i) {
    if (ok()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

class KinexProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartedKinex started;
    ASSERT_NO_FATAL_FAILURE(StartKinex({}, &started));
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
  ASSERT_NO_FATAL_FAILURE(StartKinex({.policy_dir = policy}, &k));
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

// The records service's view cache is exported when scraped: lookups by
// result and evictions as counters, its size as gauges (nothing read yet).
TEST(KinexBinary, RecordsViewCacheIsExported) {
  StartedKinex k;
  ASSERT_NO_FATAL_FAILURE(StartKinex({}, &k));
  const std::string text = testing::ScrapeMetrics(k.metrics);
  EXPECT_THAT(text, HasSubstr("# TYPE kinex_records_view_cache_lookups_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE kinex_records_view_cache_bytes gauge"));
  EXPECT_EQ(testing::MetricValue(text, "kinex_records_view_cache_lookups_total{result=\"hit\"}"),
            0);
  EXPECT_EQ(testing::MetricValue(text, "kinex_records_view_cache_lookups_total{result=\"miss\"}"),
            0);
  EXPECT_EQ(testing::MetricValue(text, "kinex_records_view_cache_evictions_total"), 0);
  EXPECT_EQ(testing::MetricValue(text, "kinex_records_view_cache_entries"), 0);
  EXPECT_EQ(testing::MetricValue(text, "kinex_records_view_cache_bytes"), 0);
}

// A new CRL applies without a restart: at once on SIGHUP, and by itself
// within tls.reload_interval_seconds; a broken file keeps the CRLs in force.
TEST(KinexBinary, CrlsReloadWithoutARestart) {
  const testing::ScopedTempDir dir("kinex-crl-reload");
  const std::string crl_dir = dir.File("crl");
  std::filesystem::copy(TestPkiDir() + "/crl", crl_dir);
  std::string crl_file;
  for (const auto& e : std::filesystem::directory_iterator(crl_dir)) crl_file = e.path();
  ASSERT_FALSE(crl_file.empty());
  const std::string config = dir.File("kinex.textproto");
  std::ofstream(config) << "tls { reload_interval_seconds: 1 }\n";
  StartedKinex k;
  ASSERT_NO_FATAL_FAILURE(StartKinex({.crl_dir = crl_dir, .config_file = config}, &k));
  const std::string school = "agencies/school-137000-designated-teacher";
  const std::string revoked = testing::SerialOf(TestPkiDir() + "/negative/revoked.pem");
  const std::string school_serial = testing::SerialOf(TestPkiDir() + "/" + school + ".pem");
  ASSERT_TRUE(HealthAs(k.address, school).ok());

  // Revoke the school; SIGHUP applies it at once.
  ASSERT_TRUE(testing::WriteCrl(crl_file, {.revoked = {revoked, school_serial}}).ok());
  k.process->Signal(SIGHUP);
  EXPECT_TRUE(Eventually([&] { return !HealthAs(k.address, school).ok(); }));
  EXPECT_EQ(HealthAs(k.address, school).error_code(), grpc::StatusCode::UNAVAILABLE);

  // Un-revoke it with no signal: picked up within the reload interval.
  ASSERT_TRUE(testing::WriteCrl(crl_file, {.revoked = {revoked}}).ok());
  EXPECT_TRUE(Eventually([&] { return HealthAs(k.address, school).ok(); }));

  // A broken file: the reload fails, the CRLs in force stay.
  std::ofstream(crl_dir + "/broken.r1") << "not a CRL\n";
  k.process->Signal(SIGHUP);
  absl::SleepFor(absl::Seconds(2));
  EXPECT_TRUE(HealthAs(k.address, school).ok());
  EXPECT_EQ(HealthAs(k.address, "negative/revoked").error_code(), grpc::StatusCode::UNAVAILABLE);

  const std::string metrics = testing::ScrapeMetrics(k.metrics);
  std::optional<double> refused = testing::MetricValue(
      metrics, "kinex_tls_handshake_refusals_total{reason=\"certificate revoked\"}");
  ASSERT_TRUE(refused.has_value()) << metrics;
  EXPECT_GE(*refused, 2);
  // The SIGHUP and the automatic re-read succeeded, the broken file did not.
  EXPECT_GE(testing::MetricValue(metrics, "kinex_crl_reloads_total{result=\"ok\"}"), 2);
  EXPECT_GE(testing::MetricValue(metrics, "kinex_crl_reloads_total{result=\"failed\"}"), 1);
  k.process->Signal(SIGTERM);
  k.process->Wait();
  const std::string logs = k.process->DrainStderr();
  // The refusal names the certificate (its subject, SPIFFE ID and serial).
  EXPECT_THAT(logs, HasSubstr(absl::StrCat(
                        "\"msg\":\"tls handshake refused\",\"reason\":\"certificate revoked\","
                        "\"subject\":\"CN=school 137000 designated-teacher\",\"uri_sans\":"
                        "\"spiffe://kinex.dev/school/137000/designated-teacher\",\"serial\":\"",
                        school_serial, "\"")));
  EXPECT_THAT(logs, HasSubstr("\"msg\":\"crl reload failed; the CRLs in force are kept\","
                              "\"error\":\""));
  EXPECT_THAT(logs, HasSubstr("broken.r1: not a PEM CRL"));
}

// A rotated server certificate is served without a restart.
TEST(KinexBinary, ServerCertificateReloadsWithoutARestart) {
  const testing::ScopedTempDir dir("kinex-cert-reload");
  const std::string cert = dir.File("server.pem");
  const std::string key = dir.File("server.key");
  const std::string pki = TestPkiDir();
  std::filesystem::copy_file(pki + "/services/gateway.pem", cert);
  std::filesystem::copy_file(pki + "/services/gateway.key", key);
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  const std::string config = dir.File("kinex.textproto");
  std::ofstream(config) << "tls { reload_interval_seconds: 1 }\n";
  StartedKinex k;
  ASSERT_NO_FATAL_FAILURE(
      StartKinex({.cert_file = cert, .key_file = key, .config_file = config}, &k));
  const std::string la = "agencies/local-authority-E09000033-social-worker";
  std::string cn;
  ASSERT_TRUE(HealthAs(k.address, la, &cn).ok());
  EXPECT_EQ(cn, "kinex-gateway");

  // Key first, then the certificate, each replaced atomically.
  std::filesystem::copy_file(pki + "/services/records.key", key + ".new");
  ASSERT_EQ(chmod((key + ".new").c_str(), 0600), 0);
  std::filesystem::rename(key + ".new", key);
  std::filesystem::copy_file(pki + "/services/records.pem", cert + ".new");
  std::filesystem::rename(cert + ".new", cert);
  EXPECT_TRUE(Eventually([&] {
    return HealthAs(k.address, la, &cn).ok() && cn == "kinex-records";
  })) << cn;
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
