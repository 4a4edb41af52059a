// Loading and validating the `kinex` binary's configuration: defaults, then
// the textproto file (--config), then flags. Every error names where the bad
// value came from: "--target" for a flag, "kinex.textproto:7" for the file.
//
// Example:
//   ConfigSources sources;
//   absl::StatusOr<KinexConfig> config = LoadConfig("kinex.textproto", flags);
#ifndef KINEX_SERVICES_KINEX_CONFIG_H_
#define KINEX_SERVICES_KINEX_CONFIG_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/common/tls.h"

namespace kinex {

// Every `kinex` flag, once: X(name, field, help). `field` is the dotted
// KinexConfig field the flag sets; two are special: "" (--config names the
// file itself) and "listen.<target>" (--listen sets the selected target's
// address; "all" listens on the gateway's). main.cc declares one absl flag
// per row (so `kinex --help` lists them all), ConfigFlags has one member
// per row, and LoadConfig applies each row by its field. Defaults are not
// here: LoadConfig fills them, and the help text says what they are.
#define KINEX_CONFIG_FLAGS(X)                                                                      \
  X(config, "", "Textproto configuration file (kinex.config.v1.KinexConfig)")                      \
  X(target, "target", "all|gateway|policy|consent|audit|records (default all)")                    \
  X(data_dir, "data_dir", "Directory for SQLite stores (default data)")                            \
  X(trust_domain, "trust_domain", "SPIFFE trust domain (default kinex.dev)")                       \
  X(tls_ca, "tls.ca_file", "Kinex CA certificate (PEM)")                                           \
  X(tls_cert, "tls.cert_file", "This service's certificate (PEM)")                                 \
  X(tls_key, "tls.key_file", "This service's private key (PEM, 0600)")                             \
  X(tls_crl_dir, "tls.crl_dir", "Directory of hashed CRLs (<hash>.r0); revoked peers are refused") \
  X(listen, "listen.<target>", "host:port for this target (port 0 picks a free port)")             \
  X(metrics_listen, "listen.metrics", "host:port for Prometheus metrics (default 127.0.0.1:9464)") \
  X(policy_dir, "policy.policy_dir", "Directory of PolicySet files (default policy)")              \
  X(audit_signing_key, "audit.signing_key_file",                                                   \
    "PEM Ed25519 key signing audit tree heads (0600)")                                             \
  X(audit_pseudonym_key, "audit.pseudonym_key_file",                                               \
    "HMAC key pseudonymising children in the audit log (0600)")

// Values given on the command line, one member per KINEX_CONFIG_FLAGS row;
// unset ones leave the file or default.
struct ConfigFlags {
#define KINEX_CONFIG_FLAG_MEMBER(name, field, help) std::optional<std::string> name;
  KINEX_CONFIG_FLAGS(KINEX_CONFIG_FLAG_MEMBER)
#undef KINEX_CONFIG_FLAG_MEMBER
};

// The targets a `kinex` process can run.
inline constexpr const char* kTargets[] = {"all",     "gateway", "policy",
                                           "consent", "audit",   "records"};

// Loads `config_file` (may be empty: defaults and flags only), applies
// `flags` over it, fills defaults and validates. INVALID_ARGUMENT /
// NOT_FOUND naming the flag or file:line on any problem. This is the one
// place configuration defaults are resolved (ApplyConfigDefaults): the
// target factories take the returned config as complete.
absl::StatusOr<kinex::config::v1::KinexConfig> LoadConfig(const std::string& config_file,
                                                          const ConfigFlags& flags);

// Fills every unset (empty or zero) field that has a default: the one
// table of defaults. LoadConfig calls it; tests that build a KinexConfig by
// hand call it too.
void ApplyConfigDefaults(kinex::config::v1::KinexConfig& config);

// The listen address of `target` ("all" listens on the gateway address).
std::string ListenAddressFor(const kinex::config::v1::KinexConfig& config,
                             const std::string& target);

// The mTLS files of a configuration.
TlsFiles TlsFilesOf(const kinex::config::v1::KinexConfig& config);

}  // namespace kinex

#endif  // KINEX_SERVICES_KINEX_CONFIG_H_
