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

// Values given on the command line; unset ones leave the file or default.
struct ConfigFlags {
  std::optional<std::string> target;
  std::optional<std::string> data_dir;
  std::optional<std::string> trust_domain;
  std::optional<std::string> tls_ca;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<std::string> tls_crl_dir;
  std::optional<std::string> listen;  // address of the selected target
  std::optional<std::string> metrics_listen;
  std::optional<std::string> policy_dir;
  std::optional<std::string> audit_signing_key;
  std::optional<std::string> audit_pseudonym_key;
};

// The targets a `kinex` process can run.
inline constexpr const char* kTargets[] = {"all",     "gateway", "policy",
                                           "consent", "audit",   "records"};

// Loads `config_file` (may be empty: defaults and flags only), applies
// `flags` over it, fills defaults and validates. INVALID_ARGUMENT /
// NOT_FOUND naming the flag or file:line on any problem.
absl::StatusOr<kinex::config::v1::KinexConfig> LoadConfig(
    const std::string& config_file, const ConfigFlags& flags);

// The listen address of `target` ("all" listens on the gateway address).
std::string ListenAddressFor(const kinex::config::v1::KinexConfig& config,
                             const std::string& target);

// The mTLS files of a configuration.
TlsFiles TlsFilesOf(const kinex::config::v1::KinexConfig& config);

// `path` resolved against config.data_dir() when relative.
std::string DataPath(const kinex::config::v1::KinexConfig& config,
                     const std::string& path);

}  // namespace kinex

#endif  // KINEX_SERVICES_KINEX_CONFIG_H_
