// The consent target of the `kinex` binary: opens the consent storage named
// by config.consent().storage() (SQLite "consent.db" under data_dir by
// default, or PostgreSQL), builds the core and its gRPC adapter.
//
// Dependencies: the core resolves children through a RecordsStore, asks a
// ConsentRecordingAuthorizer (the policy engine) who may record what, and
// appends every write attempt to an AuditSink. In --target=all pass the
// in-process records core, policy authorizer and audit log in `deps`; with
// --target=consent, an AuditClient to the audit service. Left null: records
// is reached over mTLS at config.upstream().records (default
// localhost:7447), and the authorizer DENIES every recording (fail closed)
// until the policy engine's is passed in. The audit sink is required.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(ConsentTarget consent,
//       MakeConsentTarget(config, clock, {.records = records.core.get(),
//                                         .authorizer = &policy_authorizer,
//                                         .audit = audit.log.get()}));
//   builder.RegisterService(consent.grpc_service.get());
#ifndef KINEX_SERVICES_CONSENT_CONSENT_TARGET_H_
#define KINEX_SERVICES_CONSENT_CONSENT_TARGET_H_

#include <memory>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/audit/audit_sink.h"
#include "services/common/clock.h"
#include "services/consent/consent_authorizer.h"
#include "services/consent/consent_core.h"
#include "services/consent/consent_storage.h"
#include "services/records/records_store.h"

namespace kinex {

// What the consent core needs from other services; null picks the defaults
// described above. Not owned; must outlive the target.
struct ConsentTargetDeps {
  records::RecordsStore* records = nullptr;
  const consent::ConsentRecordingAuthorizer* authorizer = nullptr;
  // Required: where every consent write attempt is logged.
  audit::AuditSink* audit = nullptr;
};

// Members are declared in dependency order; destruction runs in reverse.
struct ConsentTarget {
  std::unique_ptr<consent::ConsentStorage> storage;
  // Set when records is reached over gRPC.
  std::unique_ptr<records::RecordsStore> records_client;
  // Set when no authorizer was passed (deny-all).
  std::unique_ptr<consent::ConsentRecordingAuthorizer> default_authorizer;
  std::unique_ptr<consent::ConsentCore> core;
  // kinex.consent.v1.Consent over `core`; Kinex service callers only.
  std::unique_ptr<grpc::Service> grpc_service;
};

// Fails naming what could not be opened; INVALID_ARGUMENT without
// deps.audit. Drains the audit outbox of writes from before a crash (see
// ConsentCore::Create). `clock` must outlive the target.
absl::StatusOr<ConsentTarget> MakeConsentTarget(const kinex::config::v1::KinexConfig& config,
                                                const Clock& clock, ConsentTargetDeps deps = {});

}  // namespace kinex

#endif  // KINEX_SERVICES_CONSENT_CONSENT_TARGET_H_
