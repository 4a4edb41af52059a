#include "services/kinex/config.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
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
                         const std::string& file, const std::string& prefix, Sources* sources) {
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
      const google::protobuf::TextFormat::ParseInfoTree* child = tree.GetTreeForNested(field, -1);
      if (child != nullptr) {
        RecordFileLocations(refl->GetMessage(message, field), *child, file, path, sources);
      }
    }
  }
}

// One KINEX_CONFIG_FLAGS row, with the value given (if any).
struct FlagRow {
  const char* name;
  const char* field;
  const std::optional<std::string>* value;
};

std::vector<FlagRow> FlagRows(const ConfigFlags& flags) {
  return {
#define KINEX_CONFIG_FLAG_ROW(name, field, help) {#name, field, &flags.name},
      KINEX_CONFIG_FLAGS(KINEX_CONFIG_FLAG_ROW)
#undef KINEX_CONFIG_FLAG_ROW
  };
}

// The flag that sets `field` ("--tls_ca" for "tls.ca_file"), or "".
std::string FlagFor(const std::string& field) {
  for (const FlagRow& row : FlagRows(ConfigFlags{})) {
    if (field == row.field) return absl::StrCat("--", row.name);
  }
  return "";
}

// Sets the string field at dotted `path` of `message` to `value`.
void SetStringField(google::protobuf::Message* message, absl::string_view path,
                    const std::string& value) {
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const google::protobuf::FieldDescriptor* f =
        message->GetDescriptor()->FindFieldByName(parts[i]);
    if (i + 1 < parts.size()) {
      message = message->GetReflection()->MutableMessage(message, f);
    } else {
      message->GetReflection()->SetString(message, f, value);
    }
  }
}

// Applies every flag given, except --config (the file, already read) and
// --listen (which needs the target: applied once the target is known).
void ApplyFlags(const ConfigFlags& flags, KinexConfig* config, Sources* sources) {
  for (const FlagRow& row : FlagRows(flags)) {
    const absl::string_view field = row.field;
    if (!row.value->has_value() || field.empty() || absl::StrContains(field, '<')) continue;
    SetStringField(config, field, **row.value);
    sources->Set(std::string(field), absl::StrCat("--", row.name));
  }
}

void SetDefault(std::string* value, absl::string_view def) {
  if (value->empty()) *value = std::string(def);
}

absl::Status Bad(const Sources& sources, const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(sources.Of(field), ": ", field, ": ", problem));
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

absl::StatusOr<KinexConfig> LoadConfig(const std::string& config_file, const ConfigFlags& flags) {
  KinexConfig config;
  Sources sources;
  if (!config_file.empty()) {
    google::protobuf::TextFormat::ParseInfoTree tree;
    KINEX_RETURN_IF_ERROR(ParseTextProtoFile(config_file, &config, &tree));
    RecordFileLocations(config, tree, config_file, "", &sources);
  }
  ApplyFlags(flags, &config, &sources);

  SetDefault(config.mutable_target(), "all");
  if (std::find(std::begin(kTargets), std::end(kTargets), config.target()) == std::end(kTargets)) {
    return Bad(
        sources, "target",
        absl::StrCat("\"", config.target(), "\" is not one of ", absl::StrJoin(kTargets, ", ")));
  }
  if (flags.listen.has_value()) {
    const std::string svc = config.target() == "all" ? "gateway" : config.target();
    const google::protobuf::FieldDescriptor* f =
        config.listen().GetDescriptor()->FindFieldByName(svc);
    config.mutable_listen()->GetReflection()->SetString(config.mutable_listen(), f, *flags.listen);
    sources.Set("listen." + svc, "--listen");
  }

  ApplyConfigDefaults(config);
  auto* gw = config.mutable_gateway();
  auto* server = config.mutable_server();

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
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"tls.ca_file", config.tls().ca_file()},
           {"tls.cert_file", config.tls().cert_file()},
           {"tls.key_file", config.tls().key_file()}}) {
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, " is required (", FlagFor(field),
                                                     " or tls { } in --config): Kinex "
                                                     "serves only over mutual TLS"));
    }
  }
  if (config.audit().checkpoint_interval() < 0) {
    return Bad(sources, "audit.checkpoint_interval",
               absl::StrCat("must be 0 (only at start-up and stop) or more, got ",
                            config.audit().checkpoint_interval()));
  }
  if (config.audit().notification_retention_days() < 0) {
    return Bad(sources, "audit.notification_retention_days",
               absl::StrCat("must be 0 (keep for ever) or more, got ",
                            config.audit().notification_retention_days()));
  }
  if (config.audit().sign_interval_seconds() < 1) {
    return Bad(sources, "audit.sign_interval_seconds", "must be at least 1");
  }
  if (config.tls().reload_interval_seconds() < 1) {
    return Bad(sources, "tls.reload_interval_seconds", "must be at least 1");
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
  if (gw->facts_cache_entries() < 0) {
    return Bad(sources, "gateway.facts_cache_entries", "must not be negative");
  }
  // Text format takes any number for an open enum: name the ones there are.
  if (!config::v1::GatewayConfig::PolicyDecisions_IsValid(gw->policy_decisions())) {
    return Bad(sources, "gateway.policy_decisions",
               absl::StrCat("must be LOCAL or SERVICE (got ", gw->policy_decisions(), ")"));
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
           {"server.max_connection_age_grace_seconds", server->max_connection_age_grace_seconds()},
           {"server.max_concurrent_streams_per_connection",
            server->max_concurrent_streams_per_connection()},
           {"server.reply_write_timeout_seconds", server->reply_write_timeout_seconds()}}) {
    if (value < 1) return Bad(sources, field, "must be at least 1");
  }
  return config;
}

void ApplyConfigDefaults(KinexConfig& config) {
  SetDefault(config.mutable_target(), "all");
  SetDefault(config.mutable_data_dir(), "data");
  SetDefault(config.mutable_trust_domain(), "kinex.dev");
  // A relative page-token key file is under data_dir, like the stores.
  if (!config.page_token_key_file().empty() && config.page_token_key_file()[0] != '/') {
    config.set_page_token_key_file(
        absl::StrCat(config.data_dir(), "/", config.page_token_key_file()));
  }
  if (config.tls().reload_interval_seconds() == 0) {
    config.mutable_tls()->set_reload_interval_seconds(60);
  }
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
  if (!config.audit().has_checkpoint_interval()) {
    config.mutable_audit()->set_checkpoint_interval(int64_t{1} << 20);
  }
  if (!config.audit().has_notification_retention_days()) {
    config.mutable_audit()->set_notification_retention_days(90);
  }
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
  if (!gw->has_facts_cache_entries()) gw->set_facts_cache_entries(16384);
  if (gw->policy_decisions() == config::v1::GatewayConfig::POLICY_DECISIONS_UNSPECIFIED) {
    gw->set_policy_decisions(config::v1::GatewayConfig::LOCAL);
  }
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
  // Each store's SQLite file under data_dir, unless it names its own file
  // or PostgreSQL.
  for (auto& [storage, file] :
       std::vector<std::pair<kinex::config::v1::StorageConfig*, const char*>>{
           {config.mutable_audit()->mutable_storage(), "audit.db"},
           {config.mutable_records()->mutable_storage(), "records.db"},
           {config.mutable_consent()->mutable_storage(), "consent.db"}}) {
    if (storage->backend_case() == kinex::config::v1::StorageConfig::BACKEND_NOT_SET ||
        (storage->has_sqlite_path() && storage->sqlite_path().empty())) {
      storage->set_sqlite_path(file);
    }
  }
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
  files.reload_interval_seconds = config.tls().reload_interval_seconds();
  return files;
}

}  // namespace kinex
