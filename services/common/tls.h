// Mutual TLS credentials for Kinex servers and clients. There is no insecure
// mode: servers require and verify a client certificate chaining to the Kinex
// CA (and not revoked, when a CRL directory is given); clients verify the
// server against the same CA.
//
// Nothing needs a restart to change: the certificate, key and CA files are
// re-read by gRPC every reload_interval_seconds when they change (new
// connections get them; a bad new pair is ignored and the old one kept), and
// a server's CA file and CRL directory are re-read by its
// PeerCertificateChecker when a file changes (checked at most every reload
// interval) or on Reload() (SIGHUP).
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(ServerTls tls, MakeServerTls(files, {.on_refusal = log}));
//   builder.AddListeningPort("127.0.0.1:7443", tls.credentials);
//   ... on SIGHUP: tls.checker->Reload();
#ifndef KINEX_SERVICES_COMMON_TLS_H_
#define KINEX_SERVICES_COMMON_TLS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

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
  // How often changed files are picked up, seconds (positive).
  int reload_interval_seconds = 60;
};

// A client certificate a server refused: what the refusal log line and
// metric say. No child data: certificates name agencies.
struct PeerRefusal {
  // X509VerifyReason: "certificate has expired", "certificate revoked",
  // "certificate not issued by the Kinex CA", ...
  std::string reason;
  std::string subject;
  std::vector<std::string> uri_sans;
  std::string serial;  // hex
};

// What a server's TLS reports as it runs (each may be empty; called on
// gRPC threads or the caller's).
struct ServerTlsHooks {
  // A client certificate refused.
  std::function<void(const PeerRefusal&)> on_refusal;
  // The result of every re-read of the CA file and CRL directory after
  // the first (automatic or Reload()); on failure the set in force was kept.
  std::function<void(const absl::Status&)> on_crl_reload;
};

// Verifies a client's certificate chain as a Kinex server does: to a CA
// of the CA file, for TLS client use, in date, and (with a CRL directory)
// on no CRL of its issuers (every issuer must have an unexpired CRL, as
// OpenSSL's CRL_CHECK_ALL requires). The CA file and the CRLs (each
// verified against the CA file) are re-read when one changes (checked at
// most every reload interval, on the next check) or on Reload(); a re-read
// that fails keeps the set in force. Thread-safe.
class PeerCertificateChecker {
 public:
  // Loads the CA file and the CRL directory; fails naming a file that is
  // not a CRL, or a CRL no certificate of the CA file signed. `on_reload`
  // as in ServerTlsHooks.
  static absl::StatusOr<std::shared_ptr<PeerCertificateChecker>> Load(
      const TlsFiles& files, std::function<void(const absl::Status&)> on_reload = {});
  ~PeerCertificateChecker();

  // Re-reads the files now. On failure the set in force is kept.
  absl::Status Reload();

  // Nothing, or why the certificate `leaf_pem` (with the rest of what the
  // peer sent, `chain_pem`, as untrusted intermediates) is refused.
  absl::StatusOr<std::optional<PeerRefusal>> Check(absl::string_view leaf_pem,
                                                   absl::string_view chain_pem);

 private:
  struct State;
  PeerCertificateChecker(TlsFiles files, std::shared_ptr<State> state,
                         std::function<void(const absl::Status&)> on_reload);
  absl::StatusOr<std::map<std::string, std::tuple<int64_t, int64_t, int64_t>>> FingerprintNow()
      const;
  absl::Status Read();
  void MaybeReload();

  const TlsFiles files_;
  const std::function<void(const absl::Status&)> on_reload_;
  absl::Mutex mu_;
  // The set in force; its store is never changed once built (checks read
  // it without the lock), only its reload bookkeeping, under the lock.
  std::shared_ptr<State> state_ ABSL_GUARDED_BY(mu_);
};

// The earliest notAfter among the certificates in a PEM file; fails
// naming the file when it cannot be read or holds no certificate.
absl::StatusOr<absl::Time> EarliestCertificateExpiry(const std::string& path);

// What an X509_V_ERR_* code means for a refused peer, in a few words
// ("certificate has expired", "certificate revoked", ...).
std::string X509VerifyReason(int code);

// Server credentials and the checker that verifies their clients.
struct ServerTls {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::shared_ptr<PeerCertificateChecker> checker;
};

// Server credentials requiring a client certificate, verified by a
// PeerCertificateChecker (reloadable, and able to say whose certificate it
// refused) instead of gRPC's fixed OpenSSL verification. Fails naming the
// file that is missing, unreadable, or a key readable by others.
absl::StatusOr<ServerTls> MakeServerTls(const TlsFiles& files, ServerTlsHooks hooks);

// MakeServerTls(files, {}).credentials, for servers that never reload CRLs
// by signal (tests, tools).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

// Channel credentials presenting `files`' certificate and verifying the
// server against its CA (and hostname, against the server certificate's
// SANs). The server's revocation is checked by OpenSSL against crl_dir as
// read when the credentials are (re)built: at start, and whenever the
// certificate, key or CA files change.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_TLS_H_
