#include "tools/kinexctl/record_format.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "kinex/record/v1/record.pb.h"
#include "services/common/record_labels.h"
#include "services/policy/child_context.h"
#include "xlsxwriter.h"

namespace kinex::ctl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string ValueText(const Message& msg, const FieldDescriptor* f, int index) {
  const Reflection* r = msg.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(msg, f, index) : r->GetString(msg, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(msg, f, index) : r->GetBool(msg, f)) ? "yes" : "no";
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(msg, f, index) : r->GetInt32(msg, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(msg, f, index) : r->GetInt64(msg, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(msg, f, index) : r->GetUInt32(msg, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(msg, f, index) : r->GetUInt64(msg, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(msg, f, index) : r->GetDouble(msg, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(msg, f, index) : r->GetFloat(msg, f));
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(msg, f, index) : r->GetEnumValue(msg, f);
      const auto* ev = f->enum_type()->FindValueByNumber(v);
      return ev != nullptr ? ev->name() : absl::StrCat(v);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& m = rep ? r->GetRepeatedMessage(msg, f, index) : r->GetMessage(msg, f);
      const std::string& type = m.GetDescriptor()->full_name();
      const Reflection* mr = m.GetReflection();
      const auto* d = m.GetDescriptor();
      if (type == "kinex.record.v1.Date") {
        return absl::StrFormat("%04d-%02d-%02d", mr->GetInt32(m, d->FindFieldByName("year")),
                               mr->GetInt32(m, d->FindFieldByName("month")),
                               mr->GetInt32(m, d->FindFieldByName("day")));
      }
      if (type == "google.protobuf.Timestamp") {
        const absl::Time t = absl::FromUnixSeconds(mr->GetInt64(m, d->FindFieldByName("seconds")));
        return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
      }
      return m.ShortDebugString();
    }
  }
  return "";
}

void Flatten(const Message& msg, const std::string& prefix,
             std::map<std::string, std::vector<std::string>>& out) {
  const Reflection* r = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    const bool leaf = f->message_type() == nullptr || IsValueType(f->message_type());
    const int n = f->is_repeated() ? r->FieldSize(msg, f) : 1;
    for (int i = 0; i < n; ++i) {
      if (leaf) {
        out[path].push_back(ValueText(msg, f, i));
      } else {
        Flatten(f->is_repeated() ? r->GetRepeatedMessage(msg, f, i) : r->GetMessage(msg, f), path,
                out);
      }
    }
  }
}

}  // namespace

std::map<std::string, std::string> FlattenRecord(const Message& message) {
  std::map<std::string, std::vector<std::string>> values;
  Flatten(message, "", values);
  std::map<std::string, std::string> out;
  for (auto& [path, vs] : values) {
    std::string joined;
    for (size_t i = 0; i < vs.size(); ++i) absl::StrAppend(&joined, i ? "; " : "", vs[i]);
    out[path] = std::move(joined);
  }
  return out;
}

std::string ToJson(const Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

// ---------------------------------------------------------------------------
// The cohort export.
// ---------------------------------------------------------------------------
namespace {

namespace rv1 = ::kinex::record::v1;
namespace cv1 = ::kinex::common::v1;
namespace ev1 = ::kinex::exchange::v1;
using Cell = CohortCell;

// What a column's value function sees of one child.
struct Child {
  const rv1::ChildRecord& record;
  const kinex::policy::v1::ChildContext& status;  // as of the export
};

struct Column {
  const char* header;
  std::vector<std::string> sources;
  std::function<Cell(const Child&)> value;
};

Cell Text(std::string text) { return Cell{Cell::Kind::kText, std::move(text)}; }
Cell Number(double n) {
  Cell c{Cell::Kind::kNumber, absl::StrCat(n)};
  c.number = n;
  return c;
}
Cell DateCell(const rv1::Date& d) {
  Cell c{Cell::Kind::kDate, absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day())};
  c.year = d.year();
  c.month = d.month();
  c.day = d.day();
  return c;
}
Cell YesNo(bool b) { return Text(b ? "Yes" : "No"); }

std::string SexText(rv1::Sex s) {
  switch (s) {
    case rv1::MALE:
      return "Male";
    case rv1::FEMALE:
      return "Female";
    case rv1::SEX_NOT_KNOWN:
      return "Not known";
    default:
      return "";
  }
}

std::string ArrangementText(rv1::ArrangementType a) {
  switch (a) {
    case rv1::INFORMAL_FAMILY_ARRANGEMENT:
      return "Informal family arrangement";
    case rv1::PRIVATE_FOSTERING:
      return "Private fostering";
    case rv1::KINSHIP_FOSTER_CARE:
      return "Kinship foster care";
    case rv1::CHILD_ARRANGEMENTS_ORDER:
      return "Child arrangements order";
    case rv1::SPECIAL_GUARDIANSHIP_ORDER:
      return "Special guardianship order";
    case rv1::ADOPTION:
      return "Adoption";
    case rv1::CONNECTED_PERSON_TEMPORARY_APPROVAL:
      return "Connected person (temporary approval)";
    default:
      return "";
  }
}

std::string ExclusionText(rv1::ExclusionType t) {
  switch (t) {
    case rv1::SUSPENSION:
      return "Suspension";
    case rv1::PERMANENT_EXCLUSION:
      return "Permanent exclusion";
    default:
      return "";
  }
}

std::string SenText(rv1::SenProvision p) {
  switch (p) {
    case rv1::NO_SEN:
      return "No SEN";
    case rv1::SEN_SUPPORT:
      return "SEN support";
    case rv1::EHC_PLAN:
      return "EHC plan";
    default:
      return "";
  }
}

std::string PepText(rv1::PepStatus s) {
  switch (s) {
    case rv1::PEP_CURRENT:
      return "Current";
    case rv1::PEP_DUE:
      return "Due";
    case rv1::PEP_OVERDUE:
      return "Overdue";
    default:
      return "";
  }
}

std::string PppText(rv1::PupilPremiumPlusBasis b) {
  switch (b) {
    case rv1::PPP_LOOKED_AFTER:
      return "Looked after";
    case rv1::PPP_PREVIOUSLY_LOOKED_AFTER:
      return "Previously looked after";
    default:
      return "";
  }
}

std::string SdqText(rv1::SdqBand b) {
  switch (b) {
    case rv1::SDQ_NORMAL:
      return "Normal";
    case rv1::SDQ_BORDERLINE:
      return "Borderline";
    case rv1::SDQ_CONCERN:
      return "Concern";
    default:
      return "";
  }
}

// The enrolment the child is on roll at (the last one without a leaving
// date), or null.
const rv1::SchoolEnrolment* CurrentEnrolment(const rv1::ChildRecord& r) {
  const rv1::SchoolEnrolment* current = nullptr;
  for (const auto& e : r.education().enrolments()) {
    if (!e.has_leaving_date()) current = &e;
  }
  return current;
}

std::tuple<int, int, int> Ymd(const rv1::Date& d) { return {d.year(), d.month(), d.day()}; }

// The latest exclusion by start date (the last listed of equal dates), or null.
const rv1::Exclusion* LatestExclusion(const rv1::ChildRecord& r) {
  const rv1::Exclusion* latest = nullptr;
  for (const auto& e : r.education().exclusions()) {
    if (latest == nullptr || Ymd(e.start_date()) >= Ymd(latest->start_date())) latest = &e;
  }
  return latest;
}

const std::vector<std::string> kStatusSources = {
    "legal_status.looked_after", "legal_status.previously_looked_after", "legal_status.start_date",
    "legal_status.end_date"};
const std::vector<std::string> kArrangementSources = {
    "legal_status.arrangement", "legal_status.start_date", "legal_status.end_date"};

std::vector<Column> IdentityColumns(bool nhs) {
  std::vector<Column> cols = {
      {"Kinex ID",
       {"identity.kinex_id"},
       [](const Child& c) { return Text(c.record.identity().kinex_id()); }},
      {"LA child ID",
       {"identity.la_child_id"},
       [](const Child& c) { return Text(c.record.identity().la_child_id()); }},
  };
  if (nhs) {
    cols.push_back({"NHS number", {"identity.nhs_number"}, [](const Child& c) {
                      return Text(c.record.identity().nhs_number());
                    }});
  }
  std::vector<Column> more = {
      {"UPN", {"identity.upn"}, [](const Child& c) { return Text(c.record.identity().upn()); }},
      {"Given name",
       {"identity.given_name"},
       [](const Child& c) { return Text(c.record.identity().given_name()); }},
      {"Family name",
       {"identity.family_name"},
       [](const Child& c) { return Text(c.record.identity().family_name()); }},
      {"Date of birth",
       {"identity.date_of_birth"},
       [](const Child& c) {
         return c.record.identity().has_date_of_birth()
                    ? DateCell(c.record.identity().date_of_birth())
                    : Text("");
       }},
      {"Sex",
       {"identity.sex"},
       [](const Child& c) { return Text(SexText(c.record.identity().sex())); }},
      {"Responsible LA",
       {"scope.responsible_la_code"},
       [](const Child& c) { return Text(c.record.scope().responsible_la_code()); }},
      {"Current status", kStatusSources,
       [](const Child& c) {
         if (c.status.looked_after()) return Text("Looked after");
         if (c.status.previously_looked_after()) return Text("Previously looked after");
         // No episode in force: nothing to say.
         return Text(c.status.arrangement_types().empty() ? "" : "Not looked after");
       }},
      {"Current arrangement", kArrangementSources,
       [](const Child& c) {
         std::vector<std::string> names;
         for (int a : c.status.arrangement_types()) {
           names.push_back(ArrangementText(static_cast<rv1::ArrangementType>(a)));
         }
         return Text(absl::StrJoin(names, "; "));
       }},
  };
  for (auto& col : more) cols.push_back(std::move(col));
  return cols;
}

std::vector<Column> EducationColumns() {
  std::vector<Column> cols = IdentityColumns(/*nhs=*/false);
  auto summary = [](std::function<Cell(const rv1::AttendanceSummary&)> f) {
    return [f](const Child& c) {
      return c.record.education().has_attendance_summary()
                 ? f(c.record.education().attendance_summary())
                 : Text("");
    };
  };
  auto exclusion = [](std::function<Cell(const rv1::Exclusion&)> f) {
    return [f](const Child& c) {
      const rv1::Exclusion* e = LatestExclusion(c.record);
      return e != nullptr ? f(*e) : Text("");
    };
  };
  auto pep = [](std::function<Cell(const rv1::PersonalEducationPlan&)> f) {
    return [f](const Child& c) {
      return c.record.education().has_pep() ? f(c.record.education().pep()) : Text("");
    };
  };
  auto education = [](std::function<Cell(const rv1::Education&)> f) {
    return [f](const Child& c) {
      return c.record.has_education() ? f(c.record.education()) : Text("");
    };
  };
  std::vector<Column> more = {
      {"School URN",
       {"education.enrolments.urn", "education.enrolments.leaving_date"},
       [](const Child& c) {
         const rv1::SchoolEnrolment* e = CurrentEnrolment(c.record);
         return Text(e != nullptr ? e->urn() : "");
       }},
      {"Part-time timetable",
       {"education.enrolments.part_time_timetable", "education.enrolments.leaving_date"},
       [](const Child& c) {
         const rv1::SchoolEnrolment* e = CurrentEnrolment(c.record);
         return e != nullptr ? YesNo(e->part_time_timetable()) : Text("");
       }},
      {"Attendance %",
       {"education.attendance_summary.attended_sessions",
        "education.attendance_summary.possible_sessions"},
       summary([](const rv1::AttendanceSummary& s) {
         if (s.possible_sessions() <= 0) return Text("");
         Cell c{Cell::Kind::kPercent, ""};
         c.number = static_cast<double>(s.attended_sessions()) / s.possible_sessions();
         c.text = absl::StrFormat("%.1f", c.number * 100);
         return c;
       })},
      {"Possible sessions",
       {"education.attendance_summary.possible_sessions"},
       summary([](const rv1::AttendanceSummary& s) { return Number(s.possible_sessions()); })},
      {"Sessions attended",
       {"education.attendance_summary.attended_sessions"},
       summary([](const rv1::AttendanceSummary& s) { return Number(s.attended_sessions()); })},
      {"Authorised absences",
       {"education.attendance_summary.authorised_absences"},
       summary([](const rv1::AttendanceSummary& s) { return Number(s.authorised_absences()); })},
      {"Unauthorised absences",
       {"education.attendance_summary.unauthorised_absences"},
       summary([](const rv1::AttendanceSummary& s) { return Number(s.unauthorised_absences()); })},
      {"Persistently absent",
       {"education.attendance_summary.persistent_absence"},
       summary([](const rv1::AttendanceSummary& s) { return YesNo(s.persistent_absence()); })},
      {"Exclusions", {"education.exclusions"}, education([](const rv1::Education& e) {
         return Number(e.exclusions_size());
       })},
      {"Latest exclusion type",
       {"education.exclusions.type", "education.exclusions.start_date"},
       exclusion([](const rv1::Exclusion& e) { return Text(ExclusionText(e.type())); })},
      {"Latest exclusion date",
       {"education.exclusions.start_date"},
       exclusion([](const rv1::Exclusion& e) { return DateCell(e.start_date()); })},
      {"Latest exclusion sessions",
       {"education.exclusions.sessions", "education.exclusions.start_date"},
       exclusion([](const rv1::Exclusion& e) { return Number(e.sessions()); })},
      {"Latest exclusion reason",
       {"education.exclusions.reason_code", "education.exclusions.start_date"},
       exclusion([](const rv1::Exclusion& e) { return Text(e.reason_code()); })},
      {"SEN provision",
       {"education.sen.provision"},
       [](const Child& c) { return Text(SenText(c.record.education().sen().provision())); }},
      {"SEN primary need",
       {"education.sen.primary_need"},
       [](const Child& c) { return Text(c.record.education().sen().primary_need()); }},
      {"PEP last review",
       {"education.pep.last_review_date"},
       pep([](const rv1::PersonalEducationPlan& p) {
         return p.has_last_review_date() ? DateCell(p.last_review_date()) : Text("");
       })},
      {"PEP status", {"education.pep.status"}, pep([](const rv1::PersonalEducationPlan& p) {
         return Text(PepText(p.status()));
       })},
      {"PEP next review due",
       {"education.pep.next_review_due"},
       pep([](const rv1::PersonalEducationPlan& p) {
         return p.has_next_review_due() ? DateCell(p.next_review_due()) : Text("");
       })},
      {"Pupil Premium Plus",
       {"education.pupil_premium_plus.eligible"},
       [](const Child& c) {
         return c.record.education().has_pupil_premium_plus()
                    ? YesNo(c.record.education().pupil_premium_plus().eligible())
                    : Text("");
       }},
      {"Pupil Premium Plus basis",
       {"education.pupil_premium_plus.basis"},
       [](const Child& c) {
         return Text(PppText(c.record.education().pupil_premium_plus().basis()));
       }},
      {"Missing education", {"education.missing_education"}, education([](const rv1::Education& e) {
         return YesNo(e.missing_education());
       })},
      {"Kinship indicator", {"education.kinship_indicator"}, education([](const rv1::Education& e) {
         return YesNo(e.kinship_indicator());
       })},
      {"SDQ band",
       {"health.sdq.band"},
       [](const Child& c) { return Text(SdqText(c.record.health().sdq().band())); }},
  };
  for (auto& col : more) cols.push_back(std::move(col));
  return cols;
}

std::vector<Column> GeneralColumns() {
  std::vector<Column> cols = IdentityColumns(/*nhs=*/true);
  cols.push_back({"School URN", {"scope.current_school_urn"}, [](const Child& c) {
                    return Text(c.record.scope().current_school_urn());
                  }});
  cols.push_back({"GP practice", {"scope.registered_gp_ods_code"}, [](const Child& c) {
                    return Text(c.record.scope().registered_gp_ods_code());
                  }});
  return cols;
}

const std::vector<Column>& ColumnsFor(cv1::Purpose purpose) {
  static const auto* education = new std::vector<Column>(EducationColumns());
  static const auto* general = new std::vector<Column>(GeneralColumns());
  return purpose == cv1::EDUCATION_SUPPORT ? *education : *general;
}

// Category of every field of ChildRecord, by path.
rv1::Category CategoryOf(const std::string& path) {
  static const auto* categories = [] {
    auto* m = new absl::flat_hash_map<std::string, rv1::Category>();
    for (const LabelledField& f : LabelledFields(rv1::ChildRecord::descriptor())) {
      (*m)[f.path] = f.category;
    }
    return m;
  }();
  auto it = categories->find(path);
  return it == categories->end() ? rv1::CATEGORY_UNSPECIFIED : it->second;
}

// Whether the receipt says `path` was granted. A category the receipt does
// not list as withheld is granted; one withheld whole is not. In a category
// withheld in part the receipt names only what was sent, so a path counts
// as granted only when something under it was disclosed (a granted field
// with no data then reads "not available" too: the same text as a withheld
// one, so it tells nothing either way).
bool Granted(const ev1::DisclosureReceipt& receipt, const std::string& path) {
  const rv1::Category category = CategoryOf(path);
  for (const auto& w : receipt.withheld()) {
    if (w.category() != category) continue;
    if (!w.partial()) return false;
    for (const std::string& d : receipt.disclosed_paths()) {
      if (d == path || absl::StartsWith(d, absl::StrCat(path, "."))) return true;
    }
    return false;
  }
  return true;
}

}  // namespace

std::vector<CohortColumnInfo> CohortColumns(cv1::Purpose purpose) {
  std::vector<CohortColumnInfo> out;
  for (const Column& c : ColumnsFor(purpose)) out.push_back({c.header, c.sources});
  return out;
}

CohortTable BuildCohortTable(cv1::Purpose purpose, const std::vector<ev1::CohortEntry>& entries,
                             absl::Time now) {
  const std::vector<Column>& columns = ColumnsFor(purpose);
  CohortTable table;
  for (const Column& c : columns) table.header.push_back(c.header);
  for (const ev1::CohortEntry& entry : entries) {
    // The status the policy itself derives (kinex::policy_context).
    kinex::records::v1::ChildFacts facts;
    facts.set_kinex_id(entry.record().identity().kinex_id());
    *facts.mutable_legal_status() = entry.record().legal_status();
    const kinex::policy::v1::ChildContext status = kinex::policy::ChildContextFromFacts(facts, now);
    const Child child{entry.record(), status};
    std::vector<Cell> row;
    for (const Column& c : columns) {
      bool granted = true;
      for (const std::string& s : c.sources) granted = granted && Granted(entry.receipt(), s);
      row.push_back(granted ? c.value(child) : Text(kNotAvailable));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string CohortCellText(const CohortCell& cell) {
  if (cell.kind != CohortCell::Kind::kText || cell.text.empty()) return cell.text;
  switch (cell.text[0]) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
      return absl::StrCat("'", cell.text);
    default:
      return cell.text;
  }
}

namespace {

std::string CsvQuote(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  return absl::StrCat("\"", absl::StrReplaceAll(v, {{"\"", "\"\""}}), "\"");
}

}  // namespace

std::string CohortCsv(const CohortTable& table) {
  std::string out = "\xEF\xBB\xBF";
  std::vector<std::string> cells;
  for (const auto& h : table.header) cells.push_back(CsvQuote(h));
  absl::StrAppend(&out, absl::StrJoin(cells, ","), "\r\n");
  for (const auto& row : table.rows) {
    cells.clear();
    for (const auto& c : row) cells.push_back(CsvQuote(CohortCellText(c)));
    absl::StrAppend(&out, absl::StrJoin(cells, ","), "\r\n");
  }
  return out;
}

absl::StatusOr<std::string> CohortXlsx(const CohortTable& table) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string tmpl = (dir / "kinexctl-XXXXXX.xlsx").string();
  const int fd = mkstemps(tmpl.data(), 5);
  if (fd < 0) return absl::InternalError("cannot create a temporary file for the XLSX workbook");
  close(fd);
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove{tmpl};

  lxw_workbook* wb = workbook_new(tmpl.c_str());
  if (wb == nullptr) return absl::InternalError("cannot start the XLSX workbook");
  lxw_worksheet* ws = workbook_add_worksheet(wb, "Cohort");
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  lxw_format* date = workbook_add_format(wb);
  format_set_num_format(date, "yyyy-mm-dd");
  lxw_format* percent = workbook_add_format(wb);
  format_set_num_format(percent, "0.0%");
  for (size_t c = 0; c < table.header.size(); ++c) {
    worksheet_write_string(ws, 0, static_cast<lxw_col_t>(c), table.header[c].c_str(), bold);
    const double width = std::max<double>(10, table.header[c].size() + 2);
    worksheet_set_column(ws, static_cast<lxw_col_t>(c), static_cast<lxw_col_t>(c), width, nullptr);
  }
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto row_index = static_cast<lxw_row_t>(r + 1);
    for (size_t c = 0; c < table.rows[r].size(); ++c) {
      const CohortCell& cell = table.rows[r][c];
      const auto col = static_cast<lxw_col_t>(c);
      switch (cell.kind) {
        case CohortCell::Kind::kText:
          if (!cell.text.empty()) {
            worksheet_write_string(ws, row_index, col, CohortCellText(cell).c_str(), nullptr);
          }
          break;
        case CohortCell::Kind::kNumber:
          worksheet_write_number(ws, row_index, col, cell.number, nullptr);
          break;
        case CohortCell::Kind::kPercent:
          worksheet_write_number(ws, row_index, col, cell.number, percent);
          break;
        case CohortCell::Kind::kDate: {
          lxw_datetime dt = {cell.year, cell.month, cell.day, 0, 0, 0};
          worksheet_write_datetime(ws, row_index, col, &dt, date);
          break;
        }
      }
    }
  }
  worksheet_freeze_panes(ws, 1, 0);
  if (!table.header.empty()) {
    worksheet_autofilter(ws, 0, 0, static_cast<lxw_row_t>(table.rows.size()),
                         static_cast<lxw_col_t>(table.header.size() - 1));
  }
  if (lxw_error e = workbook_close(wb); e != LXW_NO_ERROR) {
    return absl::InternalError(absl::StrCat("cannot write the XLSX workbook: ", lxw_strerror(e)));
  }
  std::ifstream in(tmpl, std::ios::binary);
  if (!in) return absl::InternalError("cannot read back the XLSX workbook");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace kinex::ctl
