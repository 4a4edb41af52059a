// Turning (redacted) child records into rows people can read.
//
// FlattenRecord: one value per leaf path, repeated values joined with "; ",
// dates as YYYY-MM-DD, timestamps as RFC 3339, enums by name (`record get`).
//
// The cohort export (`children list`, docs/cohort-export.md): a fixed column
// set per purpose (friendly headers, a stable order, the same columns
// whatever the data), derived columns (the current status and arrangement
// from the legal-status episodes in force today, attendance percentage,
// latest exclusion...), NotAvailable() in every cell whose source paths the
// policy did not grant for that child (from its disclosure receipt, whether
// or not the child has data there), written as CSV (UTF-8 BOM, RFC 4180) or
// XLSX (libxlsxwriter: bold header, frozen top row, autofilter, real dates
// and percentages). Text cells starting with = + - @ or a tab/CR are
// neutralised with a leading apostrophe.
#ifndef KINEX_TOOLS_KINEXCTL_RECORD_FORMAT_H_
#define KINEX_TOOLS_KINEXCTL_RECORD_FORMAT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "kinex/common/v1/common.pb.h"
#include "kinex/exchange/v1/exchange.pb.h"

namespace kinex::ctl {

// Leaf path -> value for every leaf set in `message` (sorted by path).
std::map<std::string, std::string> FlattenRecord(const google::protobuf::Message& message);

// `message` in the protobuf JSON mapping, pretty-printed.
std::string ToJson(const google::protobuf::Message& message);

// The text of a cell whose source the policy did not grant.
inline constexpr char kNotAvailable[] = "not available";

// One cell of a cohort export.
struct CohortCell {
  enum class Kind { kText, kNumber, kPercent, kDate };
  Kind kind = Kind::kText;
  // kText: the text ("" for no data). Other kinds: their CSV text.
  std::string text;
  // kNumber: the value; kPercent: the fraction (0.908 for 90.8%).
  double number = 0;
  // kDate.
  int year = 0, month = 0, day = 0;
};

// A cohort export: header and rows, one row per child.
struct CohortTable {
  std::vector<std::string> header;
  std::vector<std::vector<CohortCell>> rows;
};

// One column of a purpose's column set, for the docs and tests.
struct CohortColumnInfo {
  std::string header;
  std::vector<std::string> sources;  // record paths it is derived from
};

// The column set for `purpose` (EDUCATION_SUPPORT has its own; every other
// purpose shares the general set).
std::vector<CohortColumnInfo> CohortColumns(kinex::common::v1::Purpose purpose);

// The export of `entries` (records and their receipts) for `purpose`, with
// statuses as of `now`.
CohortTable BuildCohortTable(kinex::common::v1::Purpose purpose,
                             const std::vector<kinex::exchange::v1::CohortEntry>& entries,
                             absl::Time now);

// `cell` as text: neutralised against formula injection when it is text.
std::string CohortCellText(const CohortCell& cell);

// CSV: a UTF-8 BOM, the header row, one CRLF-terminated row per child.
std::string CohortCsv(const CohortTable& table);

// An XLSX workbook (the file's bytes) with one sheet, "Cohort".
absl::StatusOr<std::string> CohortXlsx(const CohortTable& table);

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_RECORD_FORMAT_H_
