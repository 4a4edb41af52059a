#include "tests/testing/test_pki.h"

#include <cstdlib>

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

}  // namespace kinex::testing
