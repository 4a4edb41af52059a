// `kinexctl doctor` as a caller runs it: the real binary against a real
// `kinex` over mTLS, with certificates from the project's PKI script (good,
// negative/expired, negative/other-ca, negative/revoked) and ones the test
// spoils (another certificate's key, a group-readable key, a certificate
// that expires in ten days), and a closed port. Every line is asserted.
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "tests/integration/cluster.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace kinex::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr char kVsh[] = "virtual-school-E09000033-virtual-school-head";
constexpr char kVshIdentity[] =
    "OK    identity   spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head: the "
    "virtual-school agency E09000033, role virtual-school-head (trust domain kinex.dev)";
constexpr char kSocialWorkerIdentity[] =
    "OK    identity   spiffe://kinex.dev/local-authority/E09000033/social-worker: the "
    "local-authority agency E09000033, role social-worker (trust domain kinex.dev)";
constexpr char kKeyOk[] = "OK    key        the private key belongs to the certificate";
constexpr char kChainOk[] =
    "OK    chain      the certificate was issued by this CA (/O=Kinex Dev/CN=Kinex Dev CA)";

// "valid from <notBefore> until <notAfter>" of a PEM certificate, as doctor
// prints the dates.
std::string Dates(const std::string& pem_file) {
  FILE* f = fopen(pem_file.c_str(), "r");
  EXPECT_NE(f, nullptr) << pem_file;
  if (f == nullptr) return "";
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  EXPECT_NE(x, nullptr) << pem_file;
  if (x == nullptr) return "";
  auto text = [](const ASN1_TIME* t) {
    struct tm tm {};
    ASN1_TIME_to_tm(t, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
    return std::string(buf);
  };
  std::string out = absl::StrCat("valid from ", text(X509_get0_notBefore(x)), " until ",
                                 text(X509_get0_notAfter(x)));
  X509_free(x);
  return out;
}

class KinexctlDoctor : public SharedClusterTest<KinexctlDoctor> {
 protected:
  std::string Pki() const { return cluster_->pki(); }
  std::string Agency(const std::string& name) const { return Pki() + "/agencies/" + name; }
  std::string Negative(const std::string& name) const { return Pki() + "/negative/" + name; }

  // Runs `kinexctl doctor` with these files and address; stdout as lines.
  Subprocess::Result Doctor(const std::string& cert, const std::string& key,
                            const std::string& address = "",
                            const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {
        BinPath("kinexctl"),
        "--address=" + (address.empty() ? cluster_->gateway_address() : address),
        "--ca=" + Pki() + "/ca.pem", "--cert=" + cert, "--key=" + key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("doctor");
    auto r = Subprocess::Run(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->err, "") << "doctor writes its findings to stdout";
    return *r;
  }
  static std::vector<std::string> Lines(const std::string& out) {
    return absl::StrSplit(out, '\n', absl::SkipEmpty());
  }
  std::string FilesOk(const std::string& cert, const std::string& key) const {
    return absl::StrCat("OK    files      CA ", Pki(), "/ca.pem, certificate ", cert, " and key ",
                        key, " are PEM; the key is mode 0600");
  }
  std::string Skipped() const {
    return absl::StrCat("SKIP  reachable  ", cluster_->gateway_address(),
                        " accepts TCP connections; the TLS handshake and health check wait "
                        "until the checks above pass");
  }
};

TEST_F(KinexctlDoctor, AGoodAgencyCertificatePassesEveryCheck) {
  const std::string cert = Agency(kVsh) + ".pem";
  const std::string key = Agency(kVsh) + ".key";
  auto r = Doctor(cert, key);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(Lines(r.out),
              ElementsAre(FilesOk(cert, key), kKeyOk, kChainOk, "OK    validity   " + Dates(cert),
                          kVshIdentity,
                          absl::StrCat("OK    reachable  ", cluster_->gateway_address(),
                                       " accepted the TLS handshake; health: SERVING"),
                          "all 6 checks passed"));
}

TEST_F(KinexctlDoctor, JsonGivesTheSameChecksAsAList) {
  const std::string cert = Agency(kVsh) + ".pem";
  auto r = Doctor(cert, Agency(kVsh) + ".key", "", {"--output=json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 8u) << r.out;
  EXPECT_EQ(lines[0], "[");
  EXPECT_EQ(lines[2],
            " {\"check\": \"key\", \"ok\": true, \"status\": \"ok\", \"detail\": \"the private "
            "key belongs to the certificate\", \"fix\": \"\"},");
  EXPECT_EQ(lines[6], absl::StrCat(" {\"check\": \"reachable\", \"ok\": true, \"status\": "
                                   "\"ok\", \"detail\": \"",
                                   cluster_->gateway_address(),
                                   " accepted the TLS handshake; health: SERVING\", \"fix\": "
                                   "\"\"}"));
  EXPECT_EQ(lines[7], "]");
}

TEST_F(KinexctlDoctor, AnotherCertificatesKeyFailsTheKeyCheck) {
  const std::string cert = Agency(kVsh) + ".pem";
  const std::string key = Agency("local-authority-E09000033-social-worker") + ".key";
  auto r = Doctor(cert, key);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(
      Lines(r.out),
      ElementsAre(FilesOk(cert, key),
                  absl::StrCat("FAIL  key        the private key in ", key,
                               " does not belong to the certificate in ", cert,
                               " (every other command refuses it too)"),
                  "                 fix: use the key made together with this certificate (the "
                  ".key file beside its .pem), or have a new certificate issued for this key",
                  kChainOk, "OK    validity   " + Dates(cert), kVshIdentity, Skipped(),
                  "1 of 6 checks failed, 1 skipped: see the fix lines"));
}

TEST_F(KinexctlDoctor, AnExpiredCertificateFailsTheValidityCheck) {
  const std::string cert = Negative("expired.pem");
  const std::string key = Negative("expired.key");
  auto r = Doctor(cert, key);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(Lines(r.out),
              ElementsAre(FilesOk(cert, key), kKeyOk, kChainOk,
                          "FAIL  validity   expired on 2021-01-01 00:00:00 UTC (valid from "
                          "2020-01-01 00:00:00 UTC)",
                          "                 fix: have the Kinex CA issue you a new certificate "
                          "(in development: certs/make-dev-pki.sh OUT_DIR --force)",
                          kSocialWorkerIdentity, Skipped(),
                          "1 of 6 checks failed, 1 skipped: see the fix lines"));
}

TEST_F(KinexctlDoctor, AnotherCasCertificateFailsTheChainCheck) {
  const std::string cert = Negative("other-ca.pem");
  const std::string key = Negative("other-ca.key");
  auto r = Doctor(cert, key);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(
      Lines(r.out),
      ElementsAre(FilesOk(cert, key), kKeyOk,
                  absl::StrCat("FAIL  chain      the certificate was not issued by this CA: its "
                               "issuer is /O=Kinex Dev/CN=Not Kinex CA, the CA in ",
                               Pki(), "/ca.pem is /O=Kinex Dev/CN=Kinex Dev CA"),
                  "                 fix: Kinex accepts only certificates issued by its own CA: "
                  "give --ca the Kinex CA certificate (ca.pem) and --cert a certificate that CA "
                  "issued to you (ask the Kinex operator for one)",
                  "OK    validity   " + Dates(cert), kSocialWorkerIdentity, Skipped(),
                  "1 of 6 checks failed, 1 skipped: see the fix lines"));
}

TEST_F(KinexctlDoctor, AGroupReadableKeyFailsTheFilesCheckWithTheChmod) {
  const std::string cert = Agency(kVsh) + ".pem";
  const std::string key = MakeUniqueTempDir("doctor") + "/vsh.key";
  std::filesystem::copy_file(Agency(kVsh) + ".key", key);
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);
  auto r = Doctor(cert, key);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(Lines(r.out),
              ElementsAre(absl::StrCat("FAIL  files      ", key,
                                       " is mode 0644: the private key is readable by group or "
                                       "others, and Kinex refuses to use it"),
                          "                 fix: chmod 600 " + key, kKeyOk, kChainOk,
                          "OK    validity   " + Dates(cert), kVshIdentity, Skipped(),
                          "1 of 6 checks failed, 1 skipped: see the fix lines"));
}

TEST_F(KinexctlDoctor, AClosedPortFailsTheReachableCheck) {
  // A port bound but not listening: connecting to it is refused.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));

  const std::string cert = Agency(kVsh) + ".pem";
  const std::string key = Agency(kVsh) + ".key";
  auto r = Doctor(cert, key, address);
  close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(
      Lines(r.out),
      ElementsAre(
          FilesOk(cert, key), kKeyOk, kChainOk, "OK    validity   " + Dates(cert), kVshIdentity,
          absl::StrCat("FAIL  reachable  cannot connect to ", address, ": Connection refused"),
          "                 fix: check --address (or KINEX_ADDRESS), that the "
          "Kinex server is running and listening there, and that no firewall "
          "blocks the port",
          "1 of 6 checks failed: see the fix lines"));
}

// A revoked certificate passes every local check (doctor has no CRL); the
// server refuses the handshake and doctor says what that likely means.
TEST_F(KinexctlDoctor, ARevokedCertificateIsRefusedAtTheHandshake) {
  const std::string cert = Negative("revoked.pem");
  const std::string key = Negative("revoked.key");
  auto r = Doctor(cert, key);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(
      Lines(r.out),
      ElementsAre(FilesOk(cert, key), kKeyOk, kChainOk, "OK    validity   " + Dates(cert),
                  kSocialWorkerIdentity,
                  absl::StrCat("FAIL  reachable  ", cluster_->gateway_address(),
                               " accepts TCP connections but the TLS handshake failed "
                               "(UNAVAILABLE)"),
                  "                 fix: your files pass the checks above, so the likely causes "
                  "are: your certificate is revoked, or this server does not accept it (it "
                  "trusts another CA), or the server's own certificate is not issued by the CA "
                  "in --ca or does not name this host. The server's log has a \"tls handshake "
                  "refused\" line with the reason",
                  "1 of 6 checks failed: see the fix lines"));
}

// A certificate with ten days left passes with a warning (exit 0).
TEST_F(KinexctlDoctor, ACertificateNearItsEndPassesWithAWarning) {
  const std::string dir = MakeUniqueTempDir("doctor");
  const std::string key = dir + "/soon.key";
  const std::string cert = dir + "/soon.pem";
  std::filesystem::copy_file(Agency(kVsh) + ".key", key);
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  ASSERT_TRUE(WriteFileAtomically(dir + "/soon.ext",
                                  "basicConstraints = critical, CA:false\n"
                                  "keyUsage = critical, digitalSignature, keyEncipherment\n"
                                  "extendedKeyUsage = serverAuth, clientAuth\n"
                                  "subjectAltName = URI:spiffe://kinex.dev/virtual-school/"
                                  "E09000033/virtual-school-head\n")
                  .ok());
  auto csr = Subprocess::Run({"/usr/bin/env", "openssl", "req", "-new", "-key", key, "-subj",
                              "/CN=soon", "-out", dir + "/soon.csr"});
  ASSERT_TRUE(csr.ok() && csr->exit_code == 0) << (csr.ok() ? csr->err : "");
  auto sign = Subprocess::Run({"/usr/bin/env", "openssl", "x509", "-req", "-in", dir + "/soon.csr",
                               "-CA", Pki() + "/ca.pem", "-CAkey", Pki() + "/ca.key",
                               "-CAcreateserial", "-CAserial", dir + "/soon.srl", "-days", "10",
                               "-extfile", dir + "/soon.ext", "-out", cert});
  ASSERT_TRUE(sign.ok() && sign->exit_code == 0) << (sign.ok() ? sign->err : "");

  auto r = Doctor(cert, key);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const std::string dates = Dates(cert);  // "valid from A until B"
  const std::string from = dates.substr(11, 23);
  const std::string until = dates.substr(dates.size() - 23);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 8u) << r.out;
  EXPECT_EQ(lines[3], absl::StrCat("WARN  validity   expires in 10 days, on ", until,
                                   " (valid from ", from, ")"))
      << "days left, rounded up";
  EXPECT_EQ(lines[4],
            "                 fix: renew it before then: have the Kinex CA issue you a new "
            "certificate (in development: certs/make-dev-pki.sh OUT_DIR --force)");
  EXPECT_EQ(lines[7], "all 6 checks passed (1 warning)");
}

}  // namespace
}  // namespace kinex::testing
