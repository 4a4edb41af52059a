#include "services/consent/consent_target.h"

#include "services/common/sql/storage_config.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "services/consent/consent_grpc.h"
#include "services/consent/sql_consent_storage.h"
#include "services/records/records_grpc.h"

namespace kinex {

absl::StatusOr<ConsentTarget> MakeConsentTarget(const kinex::config::v1::KinexConfig& config,
                                                const Clock& clock, ConsentTargetDeps deps) {
  const std::string& trust_domain = config.trust_domain();
  if (deps.audit == nullptr) {
    return absl::InvalidArgumentError(
        "consent target: an audit sink is required (every consent write is audited)");
  }
  ConsentTarget t;
  KINEX_ASSIGN_OR_RETURN(std::unique_ptr<sql::Db> db,
                         sql::OpenConfiguredDb(config.consent().storage(), config.data_dir()));
  KINEX_ASSIGN_OR_RETURN(
      t.storage, consent::SqlConsentStorage::Create(
                     std::move(db),
                     sql::ConfiguredReaderOpener(config.consent().storage(), config.data_dir())));
  records::RecordsStore* records = deps.records;
  if (records == nullptr) {
    TlsFiles files;
    files.ca_file = config.tls().ca_file();
    files.cert_file = config.tls().cert_file();
    files.key_file = config.tls().key_file();
    files.crl_dir = config.tls().crl_dir();
    KINEX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                           MakeChannelCredentials(files));
    t.records_client = std::make_unique<records::RecordsGrpcClient>(
        grpc::CreateChannel(config.upstream().records(), creds));
    records = t.records_client.get();
  }
  const consent::ConsentRecordingAuthorizer* authorizer = deps.authorizer;
  if (authorizer == nullptr) {
    t.default_authorizer = std::make_unique<consent::DenyAllConsentRecordingAuthorizer>();
    authorizer = t.default_authorizer.get();
  }
  consent::ConsentCore::Options o;
  o.storage = t.storage.get();
  o.records = records;
  o.authorizer = authorizer;
  o.clock = &clock;
  o.audit = deps.audit;
  o.trust_domain = trust_domain;
  KINEX_ASSIGN_OR_RETURN(t.core, consent::ConsentCore::Create(std::move(o)));
  t.grpc_service = std::make_unique<consent::ConsentGrpcService>(t.core.get(), trust_domain);
  return t;
}

}  // namespace kinex
