#include "services/audit/audit_target.h"

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "services/audit/audit_service.h"
#include "services/audit/postgres_log_storage.h"
#include "services/audit/sqlite_log_storage.h"
#include "services/common/file_util.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"

namespace kinex {
namespace {

std::string UnderDataDir(const kinex::config::v1::KinexConfig& config, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(config.data_dir()) / path).string();
}

}  // namespace

absl::StatusOr<AuditTarget> MakeAuditTarget(const kinex::config::v1::KinexConfig& config,
                                            const Clock& clock) {
  const auto& ac = config.audit();
  if (ac.signing_key_file().empty()) {
    return absl::InvalidArgumentError("audit.signing_key_file is required");
  }
  if (ac.pseudonym_key_file().empty()) {
    return absl::InvalidArgumentError("audit.pseudonym_key_file is required");
  }
  if (ac.sign_interval_seconds() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit.sign_interval_seconds must be positive, got ",
                     ac.sign_interval_seconds(), " (LoadConfig fills the default)"));
  }
  AuditTarget t;
  if (ac.storage().has_postgres_conninfo()) {
    KINEX_ASSIGN_OR_RETURN(
        t.storage, audit::PostgresLogStorage::Open({.conninfo = ac.storage().postgres_conninfo()}));
  } else {
    const std::string path = UnderDataDir(config, ac.storage().sqlite_path());
    // The log holds children's pseudonyms and disclosures: owner-only.
    KINEX_RETURN_IF_ERROR(
        MakePrivateDirectories(std::filesystem::path(path).parent_path().string()));
    KINEX_ASSIGN_OR_RETURN(t.storage, audit::SqliteLogStorage::Open({.path = path}));
  }
  KINEX_ASSIGN_OR_RETURN(
      std::unique_ptr<audit::TreeHeadSigner> signer,
      audit::TreeHeadSigner::FromPemFile(UnderDataDir(config, ac.signing_key_file())));
  KINEX_ASSIGN_OR_RETURN(
      std::unique_ptr<audit::ChildPseudonymizer> pseudonymizer,
      audit::ChildPseudonymizer::FromKeyFile(UnderDataDir(config, ac.pseudonym_key_file())));
  audit::AuditLog::Options options;
  for (int i = 0; i < ac.retired_public_key_files_size(); ++i) {
    absl::StatusOr<std::unique_ptr<audit::TreeHeadVerifier>> key =
        audit::TreeHeadVerifier::FromPublicKeyFile(
            UnderDataDir(config, ac.retired_public_key_files(i)));
    if (!key.ok()) {
      return absl::Status(key.status().code(), absl::StrCat("audit.retired_public_key_files[", i,
                                                            "]: ", key.status().message()));
    }
    options.retired_keys.push_back(*std::move(key));
  }
  options.storage = t.storage.get();
  options.signer = std::move(signer);
  options.pseudonymizer = std::move(pseudonymizer);
  options.clock = &clock;
  options.sign_interval = absl::Seconds(ac.sign_interval_seconds());
  options.notification_retention = absl::Hours(24) * ac.notification_retention_days();
  options.service_principal = absl::StrCat("spiffe://", config.trust_domain(), "/service/audit");
  options.full_verify_on_start = ac.full_verify_on_start();
  options.checkpoint_interval = static_cast<uint64_t>(ac.checkpoint_interval());
  const absl::Time started = absl::Now();
  KINEX_ASSIGN_OR_RETURN(t.log, audit::AuditLog::Create(std::move(options)));
  const audit::AuditLog::StartInfo info = t.log->start_info();
  std::vector<LogField> fields = {{"entries", static_cast<int64_t>(t.log->Size())},
                                  {"checkpoint", static_cast<int64_t>(info.checkpoint_size)},
                                  {"rehashed", static_cast<int64_t>(info.rehashed)},
                                  {"seconds", absl::ToDoubleSeconds(absl::Now() - started)}};
  if (!info.fallback.empty()) fields.push_back({"full_because", info.fallback});
  LogJson(std::cerr, "info", "audit log verified", fields);
  t.grpc_service = std::make_unique<audit::AuditGrpcService>(t.log.get(), config.trust_domain());
  return t;
}

}  // namespace kinex
