#include "tests/testing/test_pki.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "absl/strings/str_cat.h"
#include "tests/testing/paths.h"

namespace kinex::testing {
namespace {

TlsFiles Files(const std::string& base) {
  const std::string dir = TestPkiDir();
  TlsFiles files;
  files.ca_file = absl::StrCat(dir, "/ca.pem");
  files.cert_file = absl::StrCat(dir, "/", base, ".pem");
  files.key_file = absl::StrCat(dir, "/", base, ".key");
  files.crl_dir = absl::StrCat(dir, "/crl");
  return files;
}

}  // namespace

std::string TestPkiDir() {
  if (const char* dir = std::getenv("KINEX_TEST_PKI_DIR")) return dir;
  return absl::StrCat(BinaryDir(), "/test-pki");
}

TlsFiles ServiceTlsFiles(const std::string& service) {
  return Files(absl::StrCat("services/", service));
}

TlsFiles AgencyTlsFiles(const std::string& kind, const std::string& code, const std::string& role) {
  return Files(absl::StrCat("agencies/", kind, "-", code, "-", role));
}

TlsFiles NegativeTlsFiles(const std::string& name) {
  return Files(absl::StrCat("negative/", name));
}

namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

}  // namespace

std::string SerialOf(const std::string& pem_file) {
  File f(std::fopen(pem_file.c_str(), "r"));
  X509* cert = f == nullptr ? nullptr : PEM_read_X509(f.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) return "";
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  X509_free(cert);
  return out;
}

absl::Status WriteCrl(const std::string& path, const CrlSpec& spec) {
  const std::string ca_path = TestPkiDir() + "/ca.pem";
  const std::string key_path = spec.key_file.empty() ? TestPkiDir() + "/ca.key" : spec.key_file;
  File ca_file(std::fopen(ca_path.c_str(), "r"));
  File key_file(std::fopen(key_path.c_str(), "r"));
  if (ca_file == nullptr || key_file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", ca_path, " or ", key_path));
  }
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      PEM_read_X509(ca_file.get(), nullptr, nullptr, nullptr), &X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (ca == nullptr || key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot parse ", ca_path, " or ", key_path));
  }
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), &X509_CRL_free);
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.get()));
  const time_t now = time(nullptr);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> this_update(
      ASN1_TIME_adj(nullptr, now, 0, 0), &ASN1_TIME_free);
  const long valid = static_cast<long>(absl::ToInt64Seconds(spec.valid_for));
  // An expired CRL was issued before it lapsed.
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> issued(
      ASN1_TIME_adj(nullptr, now, 0, valid < 0 ? 2 * valid : 0), &ASN1_TIME_free);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(ASN1_TIME_adj(nullptr, now, 0, valid),
                                                             &ASN1_TIME_free);
  X509_CRL_set1_lastUpdate(crl.get(), issued.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (const std::string& serial : spec.revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    BIGNUM* bn = nullptr;
    BN_hex2bn(&bn, serial.c_str());
    ASN1_INTEGER* n = BN_to_ASN1_INTEGER(bn, nullptr);
    X509_REVOKED_set_serialNumber(r, n);
    X509_REVOKED_set_revocationDate(r, issued.get());
    X509_CRL_add0_revoked(crl.get(), r);
    ASN1_INTEGER_free(n);
    BN_free(bn);
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError(absl::StrCat("cannot sign a CRL with ", key_path));
  }
  const std::string tmp = path + ".tmp";
  {
    File out(std::fopen(tmp.c_str(), "w"));
    if (out == nullptr || PEM_write_X509_CRL(out.get(), crl.get()) != 1) {
      return absl::InternalError(absl::StrCat("cannot write ", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace kinex::testing
