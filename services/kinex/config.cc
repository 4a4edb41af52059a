#include "services/kinex/config.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "services/common/status_macros.h"
#include "services/common/textproto.h"

namespace kinex {
namespace {

using kinex::config::v1::KinexConfig;

// Where each top-level or nested value came from, for error messages.
class Sources {
 public:
  void Set(const std::string& field, std::string where) { where_[field] = std::move(where); }
  // "--flag" or "file:line", or "default" when neither set it.
  std::string Of(const std::string& field) const {
    auto it = where_.find(field);
    return it == where_.end() ? "default" : it->second;
  }

 private:
  std::map<std::string, std::string> where_;
};

// Records file:line for every field set in the file, keyed by dotted path.
void RecordFileLocations(const google::protobuf::Message& message,
                         const google::protobuf::TextFormat::ParseInfoTree& tree,
                         const std::string& file, const std::string& prefix,
                         Sources* sources) {
  const google::protobuf::Reflection* refl = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  refl->ListFields(message, &fields);
  for (const auto* field : fields) {
    const std::string path = prefix.empty() ? field->name() : prefix + "." + field->name();
    google::protobuf::TextFormat::ParseLocationRange range =
        tree.GetLocationRange(field, field->is_repeated() ? 0 : -1);
    if (range.start.line >= 0) {
      sources->Set(path, absl::StrCat(file, ":", range.start.line + 1));
    }
    // Each element of a list too ("audit.retired_public_key_files[1]"), so
    // a bad element is named by its own line.
    for (int i = 0; field->is_repeated() && i < refl->FieldSize(message, field); ++i) {
      range = tree.GetLocationRange(field, i);
      if (range.start.line >= 0) {
        sources->Set(absl::StrCat(path, "[", i, "]"),
                     absl::StrCat(file, ":", range.start.line + 1));
      }
    }
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
        !field->is_repeated()) {
      const google::protobuf::TextFormat::ParseInfoTree* child =
          tree.GetTreeForNested(field, -1);
      if (child != nullptr) {
        RecordFileLocations(refl->GetMessage(message, field), *child, file, path, sources);
      }
    }
  }
}

void ApplyFlag(const std::optional<std::string>& value, const char* flag,
               const std::string& field, std::string* target, Sources* sources) {
  if (!value.has_value()) return;
  *target = *value;
  sources->Set(field, absl::StrCat("--", flag));
}

void SetDefault(std::string* value, absl::string_view def) {
  if (value->empty()) *value = std::string(def);
}

absl::Status Bad(const Sources& sources, const std::string& field,
                 absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(sources.Of(field), ": ", field, ": ", problem));
}

// host:port with a port in 0-65535 (0 picks a free port).
absl::Status CheckAddress(const Sources& sources, const std::string& field,
                          const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return Bad(sources, field,
               absl::StrCat("\"", address, "\" is not host:port with a port 0-65535"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KinexConfig> LoadConfig(const std::string& config_file,
                                       const ConfigFlags& flags) {
  KinexConfig config;
  Sources sources;
  if (!config_file.empty()) {
    google::protobuf::TextFormat::ParseInfoTree tree;
    KINEX_RETURN_IF_ERROR(ParseTextProtoFile(config_file, &config, &tree));
    RecordFileLocations(config, tree, config_file, "", &sources);
  }
  ApplyFlag(flags.target, "target", "target", config.mutable_target(), &sources);
  ApplyFlag(flags.data_dir, "data_dir", "data_dir", config.mutable_data_dir(), &sources);
  ApplyFlag(flags.trust_domain, "trust_domain", "trust_domain",
            config.mutable_trust_domain(), &sources);
  ApplyFlag(flags.tls_ca, "tls_ca", "tls.ca_file", config.mutable_tls()->mutable_ca_file(), &sources);
  ApplyFlag(flags.tls_cert, "tls_cert", "tls.cert_file",
            config.mutable_tls()->mutable_cert_file(), &sources);
  ApplyFlag(flags.tls_key, "tls_key", "tls.key_file", config.mutable_tls()->mutable_key_file(), &sources);
  ApplyFlag(flags.tls_crl_dir, "tls_crl_dir", "tls.crl_dir",
            config.mutable_tls()->mutable_crl_dir(), &sources);
  ApplyFlag(flags.metrics_listen, "metrics_listen", "listen.metrics",
            config.mutable_listen()->mutable_metrics(), &sources);
  ApplyFlag(flags.policy_dir, "policy_dir", "policy.policy_dir",
            config.mutable_policy()->mutable_policy_dir(), &sources);
  ApplyFlag(flags.audit_signing_key, "audit_signing_key", "audit.signing_key_file",
            config.mutable_audit()->mutable_signing_key_file(), &sources);
  ApplyFlag(flags.audit_pseudonym_key, "audit_pseudonym_key", "audit.pseudonym_key_file",
            config.mutable_audit()->mutable_pseudonym_key_file(), &sources);

  SetDefault(config.mutable_target(), "all");
  if (std::find(std::begin(kTargets), std::end(kTargets), config.target()) ==
      std::end(kTargets)) {
    return Bad(sources, "target",
               absl::StrCat("\"", config.target(), "\" is not one of ",
                            absl::StrJoin(kTargets, ", ")));
  }
  if (flags.listen.has_value()) {
    const std::string svc = config.target() == "all" ? "gateway" : config.target();
    const google::protobuf::FieldDescriptor* f =
        config.listen().GetDescriptor()->FindFieldByName(svc);
    config.mutable_listen()->GetReflection()->SetString(config.mutable_listen(), f, *flags.listen);
    sources.Set("listen." + svc, "--listen");
  }

  SetDefault(config.mutable_data_dir(), "data");
  SetDefault(config.mutable_trust_domain(), "kinex.dev");
  auto* listen = config.mutable_listen();
  SetDefault(listen->mutable_gateway(), "127.0.0.1:7443");
  SetDefault(listen->mutable_policy(), "127.0.0.1:7444");
  SetDefault(listen->mutable_consent(), "127.0.0.1:7445");
  SetDefault(listen->mutable_audit(), "127.0.0.1:7446");
  SetDefault(listen->mutable_records(), "127.0.0.1:7447");
  SetDefault(listen->mutable_metrics(), "127.0.0.1:9464");
  auto* up = config.mutable_upstream();
  SetDefault(up->mutable_policy(), "localhost:7444");
  SetDefault(up->mutable_consent(), "localhost:7445");
  SetDefault(up->mutable_audit(), "localhost:7446");
  SetDefault(up->mutable_records(), "localhost:7447");
  SetDefault(config.mutable_policy()->mutable_policy_dir(), "policy");
  if (config.audit().sign_interval_seconds() == 0) {
    config.mutable_audit()->set_sign_interval_seconds(60);
  }
  if (config.records().max_part_bytes() == 0) {
    config.mutable_records()->set_max_part_bytes(1 << 20);
  }
  auto* gw = config.mutable_gateway();
  if (gw->max_message_bytes() == 0) gw->set_max_message_bytes(4 << 20);
  if (gw->rate_limit_per_agency() == 0) gw->set_rate_limit_per_agency(50);
  if (gw->rate_limit_burst() == 0) gw->set_rate_limit_burst(100);
  if (gw->break_glass_min_justification() == 0) gw->set_break_glass_min_justification(20);
  if (gw->max_in_flight_per_agency() == 0) gw->set_max_in_flight_per_agency(32);
  if (gw->max_streams_per_agency() == 0) gw->set_max_streams_per_agency(4);
  auto* server = config.mutable_server();
  if (server->max_threads() == 0) server->set_max_threads(256);
  if (server->max_memory_bytes() == 0) server->set_max_memory_bytes(int64_t{1} << 30);
  if (server->keepalive_time_seconds() == 0) server->set_keepalive_time_seconds(120);
  if (server->keepalive_timeout_seconds() == 0) server->set_keepalive_timeout_seconds(20);
  if (server->max_connection_idle_seconds() == 0) server->set_max_connection_idle_seconds(300);
  if (server->max_connection_age_seconds() == 0) server->set_max_connection_age_seconds(1800);
  if (server->max_connection_age_grace_seconds() == 0) {
    server->set_max_connection_age_grace_seconds(30);
  }
  if (server->max_concurrent_streams_per_connection() == 0) {
    server->set_max_concurrent_streams_per_connection(100);
  }
  if (server->reply_write_timeout_seconds() == 0) server->set_reply_write_timeout_seconds(60);

  // Validation, naming the source of each bad value.
  for (const char* svc : {"gateway", "policy", "consent", "audit", "records", "metrics"}) {
    const std::string field = absl::StrCat("listen.", svc);
    const auto* f = config.listen().GetDescriptor()->FindFieldByName(svc);
    KINEX_RETURN_IF_ERROR(CheckAddress(
        sources, field, config.listen().GetReflection()->GetString(config.listen(), f)));
  }
  if (config.trust_domain().find('/') != std::string::npos ||
      config.trust_domain().find(':') != std::string::npos) {
    return Bad(sources, "trust_domain", "must be a bare domain such as kinex.dev");
  }
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"tls.ca_file", config.tls().ca_file()},
           {"tls.cert_file", config.tls().cert_file()},
           {"tls.key_file", config.tls().key_file()}}) {
    if (value.empty()) {
      const std::string flag = field == "tls.ca_file"     ? "--tls_ca"
                               : field == "tls.cert_file" ? "--tls_cert"
                                                          : "--tls_key";
      return absl::InvalidArgumentError(absl::StrCat(
          field, " is required (", flag, " or tls { } in --config): Kinex "
          "serves only over mutual TLS"));
    }
  }
  if (config.audit().sign_interval_seconds() < 1) {
    return Bad(sources, "audit.sign_interval_seconds", "must be at least 1");
  }
  // The files themselves are read (and checked to be Ed25519 public keys)
  // when the audit target starts.
  for (int i = 0; i < config.audit().retired_public_key_files_size(); ++i) {
    if (config.audit().retired_public_key_files(i).empty()) {
      return Bad(sources, absl::StrCat("audit.retired_public_key_files[", i, "]"),
                 "must name a PEM public key file");
    }
  }
  if (config.records().max_part_bytes() < 1024) {
    return Bad(sources, "records.max_part_bytes", "must be at least 1024");
  }
  if (gw->rate_limit_per_agency() < 0) {
    return Bad(sources, "gateway.rate_limit_per_agency", "must not be negative");
  }
  // A handful of threads are the server's own pollers; fewer than 8 leaves
  // none for calls.
  if (server->max_threads() < 8) {
    return Bad(sources, "server.max_threads", "must be at least 8");
  }
  if (server->max_memory_bytes() < (int64_t{16} << 20)) {
    return Bad(sources, "server.max_memory_bytes", "must be at least 16777216 (16 MiB)");
  }
  for (const auto& [field, value] : std::vector<std::pair<std::string, int>>{
           {"server.keepalive_time_seconds", server->keepalive_time_seconds()},
           {"server.keepalive_timeout_seconds", server->keepalive_timeout_seconds()},
           {"server.max_connection_idle_seconds", server->max_connection_idle_seconds()},
           {"server.max_connection_age_seconds", server->max_connection_age_seconds()},
           {"server.max_connection_age_grace_seconds",
            server->max_connection_age_grace_seconds()},
           {"server.max_concurrent_streams_per_connection",
            server->max_concurrent_streams_per_connection()},
           {"server.reply_write_timeout_seconds", server->reply_write_timeout_seconds()}}) {
    if (value < 1) return Bad(sources, field, "must be at least 1");
  }
  return config;
}

std::string ListenAddressFor(const KinexConfig& config, const std::string& target) {
  const std::string svc = target == "all" ? "gateway" : target;
  const auto* f = config.listen().GetDescriptor()->FindFieldByName(svc);
  return f == nullptr ? "" : config.listen().GetReflection()->GetString(config.listen(), f);
}

TlsFiles TlsFilesOf(const KinexConfig& config) {
  TlsFiles files;
  files.ca_file = config.tls().ca_file();
  files.cert_file = config.tls().cert_file();
  files.key_file = config.tls().key_file();
  files.crl_dir = config.tls().crl_dir();
  return files;
}

std::string DataPath(const KinexConfig& config, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(config.data_dir(), "/", path);
}

}  // namespace kinex
