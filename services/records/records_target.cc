#include "services/records/records_target.h"

#include "absl/strings/str_cat.h"
#include "services/common/sql/storage_config.h"
#include "services/common/status_macros.h"
#include "services/records/records_grpc.h"
#include "services/records/sql_records_storage.h"

namespace kinex {

absl::StatusOr<RecordsTarget> MakeRecordsTarget(const kinex::config::v1::KinexConfig& config,
                                                const Clock& clock, audit::AuditSink& audit) {
  if (config.records().max_part_bytes() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("records.max_part_bytes: must be positive (got ",
                                                   config.records().max_part_bytes(),
                                                   "; LoadConfig fills the default)"));
  }
  RecordsTarget t;
  KINEX_ASSIGN_OR_RETURN(t.calendars, records::CalendarDir::Open(config.records().calendars_dir()));
  KINEX_ASSIGN_OR_RETURN(std::unique_ptr<sql::Db> db,
                         sql::OpenConfiguredDb(config.records().storage(), config.data_dir()));
  KINEX_ASSIGN_OR_RETURN(t.storage, records::SqlRecordsStorage::Create(std::move(db)));
  records::RecordsCore::Options o;
  o.storage = t.storage.get();
  o.clock = &clock;
  o.audit = &audit;
  o.trust_domain = config.trust_domain();
  o.max_part_bytes = config.records().max_part_bytes();
  o.calendars = [calendars = t.calendars.get()] { return calendars->Current(); };
  KINEX_ASSIGN_OR_RETURN(t.core, records::RecordsCore::Create(std::move(o)));
  t.grpc_service =
      std::make_unique<records::RecordsGrpcService>(t.core.get(), config.trust_domain());
  return t;
}

}  // namespace kinex
