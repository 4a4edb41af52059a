// The audit target of the `kinex` binary: opens the audit storage named by
// config.audit().storage() (SQLite "audit.db" under data_dir by default, or
// PostgreSQL), loads the signing key (config.audit().signing_key_file, PEM
// Ed25519, mode 0600), the public keys of retired signing keys
// (retired_public_key_files, PEM), and the pseudonym key (pseudonym_key_file,
// mode 0600), recomputes and checks the log, and builds the gRPC adapter. A corrupt log
// fails here with DATA_LOSS naming the first bad leaf index: the binary must
// refuse to start.
//
// Relative key and database paths are under config.data_dir().
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(AuditTarget audit, MakeAuditTarget(config, clock));
//   builder.RegisterService(audit.grpc_service.get());
//   gateway_deps.audit = audit.log.get();   // --target=all: in process
#ifndef KINEX_SERVICES_AUDIT_AUDIT_TARGET_H_
#define KINEX_SERVICES_AUDIT_AUDIT_TARGET_H_

#include <memory>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/audit/audit_log.h"
#include "services/audit/log_storage.h"
#include "services/common/clock.h"

namespace kinex {

// Members in dependency order; destruction runs in reverse.
struct AuditTarget {
  std::unique_ptr<audit::LogStorage> storage;
  // The core; also the in-process AuditSink for the gateway.
  std::unique_ptr<audit::AuditLog> log;
  // kinex.audit.v1.Audit over `log`.
  std::unique_ptr<grpc::Service> grpc_service;
};

// Fails naming what could not be opened or checked. `clock` must outlive the
// target.
absl::StatusOr<AuditTarget> MakeAuditTarget(const kinex::config::v1::KinexConfig& config,
                                            const Clock& clock);

}  // namespace kinex

#endif  // KINEX_SERVICES_AUDIT_AUDIT_TARGET_H_
