#include "services/records/records_target.h"

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/log.h"
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
  const kinex::config::v1::RecordsConfig& records = config.records();
  // Unset: the default, hourly.
  const int pep_sweep_seconds =
      records.has_pep_sweep_interval_seconds() ? records.pep_sweep_interval_seconds() : 3600;
  if (pep_sweep_seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("records.pep_sweep_interval_seconds: must not be negative (got ",
                     pep_sweep_seconds, "; 0 disables the overdue-PEP sweep)"));
  }
  // Unset: the default, 32 MiB.
  const int view_cache_mib = records.has_view_cache_mib() ? records.view_cache_mib() : 32;
  if (view_cache_mib < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("records.view_cache_mib: must not be negative (got ", view_cache_mib,
                     "; 0 keeps no views)"));
  }
  RecordsTarget t;
  KINEX_ASSIGN_OR_RETURN(t.calendars, records::CalendarDir::Open(config.records().calendars_dir()));
  KINEX_ASSIGN_OR_RETURN(std::unique_ptr<sql::Db> db,
                         sql::OpenConfiguredDb(config.records().storage(), config.data_dir()));
  KINEX_ASSIGN_OR_RETURN(
      t.storage, records::SqlRecordsStorage::Create(
                     std::move(db),
                     sql::ConfiguredReaderOpener(config.records().storage(), config.data_dir())));
  records::RecordsCore::Options o;
  o.storage = t.storage.get();
  o.clock = &clock;
  o.audit = &audit;
  o.trust_domain = config.trust_domain();
  o.max_part_bytes = config.records().max_part_bytes();
  o.view_cache_bytes = int64_t{view_cache_mib} << 20;
  o.calendars = [calendars = t.calendars.get()] { return calendars->Current(); };
  KINEX_ASSIGN_OR_RETURN(t.core, records::RecordsCore::Create(std::move(o)));
  if (pep_sweep_seconds > 0) {
    // At start-up, then every interval, on the core's own thread (stopped
    // and joined when the core is destroyed, before the storage). A failed
    // sweep is logged, without child identifiers, and retried next time.
    t.core->StartPepSweep(absl::Seconds(pep_sweep_seconds), [&clock](const absl::StatusOr<int>& r) {
      if (r.ok()) {
        if (*r > 0) {
          LogJson(std::cerr, "info", "overdue-PEP sweep", {{"alerts_raised", *r}}, clock.Now());
        }
        return;
      }
      LogJson(std::cerr, r.status().code() == absl::StatusCode::kCancelled ? "info" : "error",
              "overdue-PEP sweep failed; retried at the next sweep",
              {{"code", std::string(absl::StatusCodeToString(r.status().code()))},
               {"error", std::string(r.status().message())}},
              clock.Now());
    });
  }
  t.grpc_service =
      std::make_unique<records::RecordsGrpcService>(t.core.get(), config.trust_domain());
  return t;
}

}  // namespace kinex
