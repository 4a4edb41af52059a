#include "services/common/tls.h"

#include <sys/stat.h>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"

namespace kinex {
namespace {

using grpc::experimental::IdentityKeyCertPair;
using grpc::experimental::StaticDataCertificateProvider;

struct Material {
  std::string ca;
  std::string cert;
  std::string key;
};

absl::StatusOr<Material> Load(const TlsFiles& files) {
  if (files.ca_file.empty() || files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "mTLS needs a CA file, a certificate file and a key file; there is no "
        "insecure mode");
  }
  Material m;
  KINEX_ASSIGN_OR_RETURN(m.ca, ReadFileToString(files.ca_file));
  KINEX_ASSIGN_OR_RETURN(m.cert, ReadFileToString(files.cert_file));
  KINEX_ASSIGN_OR_RETURN(m.key, ReadPrivateKeyFile(files.key_file));
  if (!absl::StrContains(m.ca, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat(files.ca_file, ": not a PEM certificate"));
  }
  if (!absl::StrContains(m.cert, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat(files.cert_file, ": not a PEM certificate"));
  }
  if (!absl::StrContains(m.key, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(absl::StrCat(files.key_file, ": not a PEM private key"));
  }
  if (!files.crl_dir.empty()) {
    struct stat st;
    if (stat(files.crl_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat(files.crl_dir, ": CRL directory does not exist"));
    }
  }
  return m;
}

template <typename Options>
void Configure(Options& options, const TlsFiles& files) {
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  if (!files.crl_dir.empty()) options.set_crl_directory(files.crl_dir);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files) {
  KINEX_ASSIGN_OR_RETURN(Material m, Load(files));
  auto provider = std::make_shared<StaticDataCertificateProvider>(
      m.ca, std::vector<IdentityKeyCertPair>{{m.key, m.cert}});
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  Configure(options, files);
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files) {
  KINEX_ASSIGN_OR_RETURN(Material m, Load(files));
  auto provider = std::make_shared<StaticDataCertificateProvider>(
      m.ca, std::vector<IdentityKeyCertPair>{{m.key, m.cert}});
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  Configure(options, files);
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace kinex
