// The records target of the `kinex` binary: opens the records storage named
// by config.records().storage() (SQLite "records.db" under data_dir by
// default, or PostgreSQL), builds the core and its gRPC adapter.
//
// In --target=all, hand `core` (a RecordsStore) to the gateway and the
// consent target so calls stay in process.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(RecordsTarget records, MakeRecordsTarget(config, clock));
//   builder.RegisterService(records.grpc_service.get());
#ifndef KINEX_SERVICES_RECORDS_RECORDS_TARGET_H_
#define KINEX_SERVICES_RECORDS_RECORDS_TARGET_H_

#include <memory>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/common/clock.h"
#include "services/records/records_core.h"
#include "services/records/records_storage.h"
#include "services/records/school_calendar.h"

namespace kinex {

// Members are declared in dependency order; destruction runs in reverse.
struct RecordsTarget {
  // records.calendars_dir, re-read by Reload (SIGHUP).
  std::unique_ptr<records::CalendarDir> calendars;
  std::unique_ptr<records::RecordsStorage> storage;
  std::unique_ptr<records::RecordsCore> core;
  // kinex.records.v1.Records over `core`; Kinex service callers only.
  std::unique_ptr<grpc::Service> grpc_service;
};

// Fails naming what could not be opened (UNAVAILABLE for storage) or an
// invalid setting (INVALID_ARGUMENT: records.max_part_bytes < 0). `clock`
// and `audit` (where every write's event goes: the in-process AuditLog, or
// an AuditClient to the audit service) must outlive the target.
absl::StatusOr<RecordsTarget> MakeRecordsTarget(const kinex::config::v1::KinexConfig& config,
                                                const Clock& clock, audit::AuditSink& audit);

}  // namespace kinex

#endif  // KINEX_SERVICES_RECORDS_RECORDS_TARGET_H_
