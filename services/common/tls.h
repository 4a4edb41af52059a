// Mutual TLS credentials for Kinex servers and clients. There is no insecure
// mode: servers require and verify a client certificate chaining to the Kinex
// CA (and not revoked, when a CRL directory is given); clients verify the
// server against the same CA.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto creds, MakeServerCredentials(files));
//   builder.AddListeningPort("127.0.0.1:7443", creds);
#ifndef KINEX_SERVICES_COMMON_TLS_H_
#define KINEX_SERVICES_COMMON_TLS_H_

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"

namespace kinex {

// Certificate material, as PEM files.
struct TlsFiles {
  // Required. The Kinex CA certificate(s) peers must chain to.
  std::string ca_file;
  // Required. This party's certificate chain.
  std::string cert_file;
  // Required. This party's private key; must be mode 0600 or stricter.
  std::string key_file;
  // Optional. Directory of CRLs in OpenSSL hashed form (<hash>.r0), as
  // certs/make-dev-pki.sh writes; when set, revoked peers are refused.
  std::string crl_dir;
};

// Server credentials requiring and verifying client certificates. Fails
// naming the file that is missing, unreadable, or a key readable by others.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

// Channel credentials presenting `files`' certificate and verifying the
// server against its CA (and hostname, against the server certificate's SANs).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_TLS_H_
