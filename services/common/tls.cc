#include "services/common/tls.h"

#include <dirent.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <tuple>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"

namespace kinex {
namespace {

using grpc::experimental::FileWatcherCertificateProvider;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CrlFree {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;

// A stack that does not own its certificates.
void sk_X509_free_shim(STACK_OF(X509) * s) { sk_X509_free(s); }

// Never prompts for a passphrase: an encrypted key does not parse.
int NoPassphrase(char*, int, int, void*) { return 0; }

// Every certificate in a PEM text.
std::vector<X509Ptr> ReadCertificates(absl::string_view pem) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  return out;
}

std::string NameText(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string SerialHex(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = bn == nullptr ? nullptr : BN_bn2hex(bn);
  std::string out = hex == nullptr ? "" : hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::vector<std::string> UriSans(const X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = n->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

// What identifies the directory's contents: each file's name, size and
// modification time.
using Fingerprint = std::map<std::string, std::tuple<int64_t, int64_t, int64_t>>;

absl::StatusOr<Fingerprint> FingerprintOf(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat(dir, ": CRL directory does not exist"));
  Fingerprint out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = absl::StrCat(dir, "/", e->d_name);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out[e->d_name] = {static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec),
                      static_cast<int64_t>(st.st_mtim.tv_nsec)};
  }
  closedir(d);
  return out;
}

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
  // A key of another certificate would otherwise fail every handshake with
  // gRPC's TSI_INVALID_ARGUMENT and nothing else.
  const std::vector<X509Ptr> certs = ReadCertificates(m.cert);
  std::unique_ptr<BIO, BioFree> key_bio(
      BIO_new_mem_buf(m.key.data(), static_cast<int>(m.key.size())));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr), &EVP_PKEY_free);
  ERR_clear_error();  // nothing of a failed parse left for gRPC to find
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(files.key_file, ": not a PEM private key (or encrypted: Kinex takes none)"));
  }
  if (certs.empty() || X509_check_private_key(certs.front().get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        files.key_file, ": not the private key of the certificate in ", files.cert_file));
  }
  if (!files.crl_dir.empty()) {
    struct stat st;
    if (stat(files.crl_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat(files.crl_dir, ": CRL directory does not exist"));
    }
  }
  return m;
}

}  // namespace

absl::StatusOr<absl::Time> EarliestCertificateExpiry(const std::string& path) {
  KINEX_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  std::optional<absl::Time> earliest;
  for (const X509Ptr& cert : ReadCertificates(pem)) {
    struct tm tm {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) continue;
    const absl::Time t = absl::FromTM(tm, absl::UTCTimeZone());
    if (!earliest.has_value() || t < *earliest) earliest = t;
  }
  if (!earliest.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no PEM certificate"));
  }
  return *earliest;
}

std::string X509VerifyReason(int code) {
  switch (code) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not yet valid";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "certificate not issued by the Kinex CA";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "self-signed certificate";
    case X509_V_ERR_CERT_REVOKED:
      return "certificate revoked";
    case X509_V_ERR_UNABLE_TO_GET_CRL:
      return "no CRL for the issuer";
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return "CRL has expired";
    case X509_V_ERR_INVALID_PURPOSE:
      return "certificate not for TLS clients";
    default:
      return absl::StrCat("certificate verification failed (X509 error ", code, ": ",
                          X509_verify_cert_error_string(code), ")");
  }
}

struct PeerCertificateChecker::State {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store{nullptr, &X509_STORE_free};
  Fingerprint fingerprint;
  absl::Time checked;
};

absl::StatusOr<std::shared_ptr<PeerCertificateChecker>> PeerCertificateChecker::Load(
    const TlsFiles& files, std::function<void(const absl::Status&)> on_reload) {
  std::shared_ptr<PeerCertificateChecker> checker(
      new PeerCertificateChecker(files, std::make_shared<State>(), std::move(on_reload)));
  KINEX_RETURN_IF_ERROR(checker->Read());
  return checker;
}

PeerCertificateChecker::PeerCertificateChecker(TlsFiles files, std::shared_ptr<State> state,
                                               std::function<void(const absl::Status&)> on_reload)
    : files_(std::move(files)), on_reload_(std::move(on_reload)), state_(std::move(state)) {}

PeerCertificateChecker::~PeerCertificateChecker() = default;

absl::Status PeerCertificateChecker::Reload() {
  absl::Status s = Read();
  if (on_reload_) on_reload_(s);
  return s;
}

absl::StatusOr<Fingerprint> PeerCertificateChecker::FingerprintNow() const {
  Fingerprint out;
  if (!files_.crl_dir.empty()) {
    KINEX_ASSIGN_OR_RETURN(out, FingerprintOf(files_.crl_dir));
  }
  struct stat st;
  if (stat(files_.ca_file.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(files_.ca_file, ": no such file"));
  }
  out["\0ca"] = {static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec),
                 static_cast<int64_t>(st.st_mtim.tv_nsec)};
  return out;
}

absl::Status PeerCertificateChecker::Read() {
  KINEX_ASSIGN_OR_RETURN(Fingerprint fingerprint, FingerprintNow());
  KINEX_ASSIGN_OR_RETURN(std::string ca_pem, ReadFileToString(files_.ca_file));
  const std::vector<X509Ptr> cas = ReadCertificates(ca_pem);
  if (cas.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(files_.ca_file, ": not a PEM certificate"));
  }
  auto next = std::make_shared<State>();
  next->store.reset(X509_STORE_new());
  for (const X509Ptr& ca : cas) X509_STORE_add_cert(next->store.get(), ca.get());
  for (const auto& [name, unused] : fingerprint) {
    if (name[0] == '\0') continue;  // the CA file's entry
    const std::string path = absl::StrCat(files_.crl_dir, "/", name);
    KINEX_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    int in_file = 0;
    while (X509_CRL* raw = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      CrlPtr crl(raw);
      ++in_file;
      const bool signed_by_ca = std::any_of(cas.begin(), cas.end(), [&](const X509Ptr& ca) {
        return X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl.get())) ==
                   0 &&
               X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) == 1;
      });
      if (!signed_by_ca) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": CRL not signed by a CA in ", files_.ca_file));
      }
      X509_STORE_add_crl(next->store.get(), crl.get());
    }
    if (in_file == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a PEM CRL"));
    }
  }
  if (!files_.crl_dir.empty()) {
    X509_STORE_set_flags(next->store.get(), X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  next->fingerprint = std::move(fingerprint);
  next->checked = absl::Now();
  absl::MutexLock lock(&mu_);
  state_ = std::move(next);
  return absl::OkStatus();
}

void PeerCertificateChecker::MaybeReload() {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Now() - state_->checked < absl::Seconds(files_.reload_interval_seconds)) return;
    state_->checked = absl::Now();
  }
  absl::StatusOr<Fingerprint> now = FingerprintNow();
  if (now.ok()) {
    absl::MutexLock lock(&mu_);
    if (*now == state_->fingerprint) return;
    // A broken change is reported once, not at every interval.
    state_->fingerprint = *now;
  }
  // Files that no longer load keep the CA and CRLs in force (the refusal
  // of revoked peers must not lapse because a new file is broken).
  Reload().IgnoreError();
}

absl::StatusOr<std::optional<PeerRefusal>> PeerCertificateChecker::Check(
    absl::string_view leaf_pem, absl::string_view chain_pem) {
  MaybeReload();
  const std::vector<X509Ptr> leaf = ReadCertificates(leaf_pem);
  if (leaf.empty()) return absl::InvalidArgumentError("peer presented no certificate");
  std::vector<X509Ptr> chain = ReadCertificates(chain_pem);
  std::unique_ptr<STACK_OF(X509), decltype(&sk_X509_free_shim)> untrusted(sk_X509_new_null(),
                                                                          &sk_X509_free_shim);
  for (const X509Ptr& c : chain) sk_X509_push(untrusted.get(), c.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      &X509_STORE_CTX_free);
  // The set in force, kept alive by this reference while in use: handshakes
  // verify concurrently, and a reload swaps in a new set without waiting.
  std::shared_ptr<const State> state;
  {
    absl::MutexLock lock(&mu_);
    state = state_;
  }
  if (X509_STORE_CTX_init(ctx.get(), state->store.get(), leaf.front().get(), untrusted.get()) !=
          1 ||
      X509_STORE_CTX_set_default(ctx.get(), "ssl_client") != 1) {
    return absl::InternalError("cannot set up certificate verification");
  }
  const int ok = X509_verify_cert(ctx.get());
  const int error = X509_STORE_CTX_get_error(ctx.get());
  if (ok == 1) return std::nullopt;
  const X509* failed = X509_STORE_CTX_get_current_cert(ctx.get());
  return PeerRefusal{.reason = X509VerifyReason(error),
                     .subject = NameText(X509_get_subject_name(leaf.front().get())),
                     .uri_sans = UriSans(leaf.front().get()),
                     .serial = SerialHex(failed != nullptr ? failed : leaf.front().get())};
}

namespace {

// Verifies the client's chain with the PeerCertificateChecker (gRPC is
// told not to: its verification cannot reload CRLs and does not say whose
// certificate it refused); a refusal closes the connection (the client
// sees UNAVAILABLE).
class ClientChainVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  ClientChainVerifier(std::shared_ptr<PeerCertificateChecker> checker,
                      std::function<void(const PeerRefusal&)> on_refusal)
      : checker_(std::move(checker)), on_refusal_(std::move(on_refusal)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    // The leaf, and what else the peer sent, as untrusted intermediates.
    const grpc::string_ref leaf = request->peer_cert();
    const grpc::string_ref chain = request->peer_cert_full_chain();
    absl::StatusOr<std::optional<PeerRefusal>> refused = checker_->Check(
        absl::string_view(leaf.data(), leaf.size()), absl::string_view(chain.data(), chain.size()));
    if (!refused.ok()) {
      *sync_status =
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(refused.status().message()));
    } else if (refused->has_value()) {
      if (on_refusal_) on_refusal_(**refused);
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, (*refused)->reason);
    } else {
      *sync_status = grpc::Status::OK;
    }
    return true;  // answered synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::shared_ptr<PeerCertificateChecker> checker_;
  const std::function<void(const PeerRefusal&)> on_refusal_;
};

std::shared_ptr<FileWatcherCertificateProvider> Provider(const TlsFiles& files) {
  return std::make_shared<FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.ca_file,
      static_cast<unsigned int>(files.reload_interval_seconds));
}

absl::Status CheckInterval(const TlsFiles& files) {
  if (files.reload_interval_seconds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS reload interval must be positive, got ", files.reload_interval_seconds));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerTls> MakeServerTls(const TlsFiles& files, ServerTlsHooks hooks) {
  KINEX_RETURN_IF_ERROR(Load(files).status());  // clear errors before gRPC reads them
  KINEX_RETURN_IF_ERROR(CheckInterval(files));
  ServerTls out;
  grpc::experimental::TlsServerCredentialsOptions options(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // A certificate is required; ClientChainVerifier verifies it (the TLS
  // handshake still proves the client holds its key).
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  KINEX_ASSIGN_OR_RETURN(out.checker,
                         PeerCertificateChecker::Load(files, std::move(hooks.on_crl_reload)));
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<ClientChainVerifier>(
          out.checker, std::move(hooks.on_refusal)));
  out.credentials = grpc::experimental::TlsServerCredentials(options);
  return out;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files) {
  KINEX_ASSIGN_OR_RETURN(ServerTls tls, MakeServerTls(files, {}));
  return tls.credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files) {
  KINEX_RETURN_IF_ERROR(Load(files).status());
  KINEX_RETURN_IF_ERROR(CheckInterval(files));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  if (!files.crl_dir.empty()) options.set_crl_directory(files.crl_dir);
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace kinex
