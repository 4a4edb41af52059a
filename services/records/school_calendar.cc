#include "services/records/school_calendar.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/text_format.h"
#include "services/common/status_macros.h"
#include "services/common/textproto.h"

namespace kinex::records {

namespace nv1 = ::kinex::notifications::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

// One calendar to validate: a parsed file (with field positions) or
// FromProtos' element.
struct SchoolCalendars::Input {
  nv1::SchoolCalendar calendar;
  // The file's path, or "calendars[<i>]".
  std::string name;
  // Field positions; null for FromProtos.
  std::unique_ptr<TextFormat::ParseInfoTree> tree;
};

namespace {

constexpr absl::string_view kZoneName = "Europe/London";
// How far NextSchoolDayStart looks before giving the default rule's answer.
constexpr int kMaxSearchDays = 400;
// The default rule's start of day.
constexpr int kDefaultHour = 8;

// Europe/London, loaded once per process; null when it cannot be.
const absl::TimeZone* London() {
  static const absl::TimeZone* const zone = []() -> const absl::TimeZone* {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone(std::string(kZoneName), z)) {
      delete z;
      return nullptr;
    }
    return z;
  }();
  return zone;
}

// Where a field of a calendar is: "file:line" from the parse positions, or
// the enclosing message's position when the field was not in the text (a
// missing field); for FromProtos (no positions) always "calendars[<i>]".
class Loc {
 public:
  Loc(const std::string* file, const TextFormat::ParseInfoTree* tree, const Descriptor* desc,
      std::string fallback)
      : file_(file), tree_(tree), desc_(desc), fallback_(std::move(fallback)) {}

  // Field number `number` (element `index` when repeated).
  std::string Of(int number, int index = -1) const {
    const FieldDescriptor* f = desc_->FindFieldByNumber(number);
    if (tree_ != nullptr && f != nullptr) {
      // List syntax ("closures: [{...}, {...}]") records only some elements:
      // fall back to the nearest earlier one, on the same or an earlier line.
      for (int i = f->is_repeated() ? std::max(index, 0) : -1; i >= -1; --i) {
        const TextFormat::ParseLocation l = tree_->GetLocation(f, i);
        if (l.line >= 0) return absl::StrCat(*file_, ":", l.line + 1);
        if (i <= 0) break;
      }
    }
    return fallback_;
  }
  // The Loc of message field `number` (element `index` when repeated).
  Loc Nested(int number, int index = -1) const {
    const FieldDescriptor* f = desc_->FindFieldByNumber(number);
    const TextFormat::ParseInfoTree* nested =
        tree_ == nullptr ? nullptr : tree_->GetTreeForNested(f, f->is_repeated() ? index : -1);
    return Loc(file_, nested, f->message_type(), Of(number, index));
  }

 private:
  const std::string* file_;
  const TextFormat::ParseInfoTree* tree_;
  const Descriptor* desc_;
  std::string fallback_;
};

absl::Status Invalid(const std::string& where, absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, ": ", problem));
}

bool AllDigits(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

// A school's URN: 6 digits.
bool IsUrn(absl::string_view s) { return s.size() == 6 && AllDigits(s); }

// An LA's ONS code: E (England) or W (Wales), then 8 digits.
bool IsLaCode(absl::string_view s) {
  return s.size() == 9 && (s[0] == 'E' || s[0] == 'W') && AllDigits(s.substr(1));
}

std::string FormatDate(const kinex::record::v1::Date& d) {
  return absl::StrCat(absl::Dec(d.year(), absl::kZeroPad4), "-",
                      absl::Dec(d.month(), absl::kZeroPad2), "-",
                      absl::Dec(d.day(), absl::kZeroPad2));
}

std::string FormatDay(absl::CivilDay d) {
  return absl::StrCat(absl::Dec(d.year(), absl::kZeroPad4), "-",
                      absl::Dec(d.month(), absl::kZeroPad2), "-",
                      absl::Dec(d.day(), absl::kZeroPad2));
}

// The day of `date` (field `field`, present or not, at `where`), a real
// calendar date in 1900-9999.
absl::StatusOr<absl::CivilDay> ToDay(bool present, const kinex::record::v1::Date& date,
                                     const std::string& where, absl::string_view field) {
  if (!present) return Invalid(where, field, "a date (year, month, day) is required");
  const absl::CivilDay day(date.year(), date.month(), date.day());
  if (date.year() < 1900 || date.year() > 9999 || day.year() != date.year() ||
      day.month() != date.month() || day.day() != date.day()) {
    return Invalid(where, field, absl::StrCat(FormatDate(date), " is not a date (year 1900-9999)"));
  }
  return day;
}

// "HH:MM" in 00:00-23:59.
bool ParseDayStart(absl::string_view s, int* hour, int* minute) {
  if (s.size() != 5 || s[2] != ':' || !AllDigits(s.substr(0, 2)) || !AllDigits(s.substr(3))) {
    return false;
  }
  *hour = (s[0] - '0') * 10 + (s[1] - '0');
  *minute = (s[3] - '0') * 10 + (s[4] - '0');
  return *hour <= 23 && *minute <= 59;
}

bool IsWeekday(absl::CivilDay day) {
  const absl::Weekday w = absl::GetWeekday(day);
  return w != absl::Weekday::saturday && w != absl::Weekday::sunday;
}

}  // namespace

bool SchoolCalendars::Calendar::IsSchoolDay(absl::CivilDay day) const {
  if (!IsWeekday(day)) return false;
  // The last term starting on or before `day`; terms may overlap, so look
  // at every earlier one (a handful a year).
  auto it = std::upper_bound(terms.begin(), terms.end(), day,
                             [](absl::CivilDay d, const auto& term) { return d < term.first; });
  const bool in_term =
      std::any_of(terms.begin(), it, [&](const auto& t) { return day <= t.second; });
  return in_term && !std::binary_search(closures.begin(), closures.end(), day);
}

absl::Status SchoolCalendars::CheckTimeZone() {
  if (London() == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("time zone ", kZoneName, " is not available (install tzdata)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SchoolCalendars::Calendar> SchoolCalendars::Compile(const Input& input) {
  using C = nv1::SchoolCalendar;
  using R = nv1::DateRange;
  const C& in = input.calendar;
  const Loc loc(&input.name, input.tree.get(), C::descriptor(),
                input.tree != nullptr ? absl::StrCat(input.name, ":1") : input.name);
  Calendar out;

  if (in.school_urn().empty() && in.la_code().empty()) {
    return Invalid(loc.Of(C::kSchoolUrnFieldNumber), "school_urn",
                   "one of school_urn (a school's calendar) and la_code (an LA's) is required");
  }
  if (!in.school_urn().empty() && !in.la_code().empty()) {
    return Invalid(loc.Of(C::kLaCodeFieldNumber), "la_code",
                   absl::StrCat("\"", in.la_code(), "\" is set with school_urn \"", in.school_urn(),
                                "\": a calendar is a school's or an LA's, not both"));
  }
  if (!in.school_urn().empty()) {
    if (!IsUrn(in.school_urn())) {
      return Invalid(loc.Of(C::kSchoolUrnFieldNumber), "school_urn",
                     absl::StrCat("\"", in.school_urn(), "\" is not a URN (6 digits)"));
    }
    out.source = absl::StrCat("school:", in.school_urn());
  } else {
    if (!IsLaCode(in.la_code())) {
      return Invalid(loc.Of(C::kLaCodeFieldNumber), "la_code",
                     absl::StrCat("\"", in.la_code(),
                                  "\" is not an LA's ONS code (E or W then 8 digits, "
                                  "e.g. E09000033)"));
    }
    out.source = absl::StrCat("la:", in.la_code());
  }
  if (!in.follows_la_code().empty()) {
    if (in.school_urn().empty()) {
      return Invalid(loc.Of(C::kFollowsLaCodeFieldNumber), "follows_la_code",
                     "only a school's calendar may follow an LA's");
    }
    if (!IsLaCode(in.follows_la_code())) {
      return Invalid(loc.Of(C::kFollowsLaCodeFieldNumber), "follows_la_code",
                     absl::StrCat("\"", in.follows_la_code(),
                                  "\" is not an LA's ONS code (E or W then 8 digits, "
                                  "e.g. E09000033)"));
    }
    out.follows_la_code = in.follows_la_code();
  }

  if (in.terms().empty()) {
    return Invalid(loc.Of(C::kTermsFieldNumber), "terms", "at least one term is required");
  }
  for (int i = 0; i < in.terms_size(); ++i) {
    const R& term = in.terms(i);
    const Loc tloc = loc.Nested(C::kTermsFieldNumber, i);
    const std::string name = absl::StrCat("terms[", i, "]");
    KINEX_ASSIGN_OR_RETURN(absl::CivilDay first,
                           ToDay(term.has_first(), term.first(), tloc.Of(R::kFirstFieldNumber),
                                 absl::StrCat(name, ".first")));
    KINEX_ASSIGN_OR_RETURN(absl::CivilDay last,
                           ToDay(term.has_last(), term.last(), tloc.Of(R::kLastFieldNumber),
                                 absl::StrCat(name, ".last")));
    if (last < first) {
      return Invalid(tloc.Of(R::kLastFieldNumber), absl::StrCat(name, ".last"),
                     absl::StrCat(FormatDay(last), " is before first ", FormatDay(first)));
    }
    out.terms.emplace_back(first, last);
  }
  std::sort(out.terms.begin(), out.terms.end());
  out.first = out.terms.front().first;
  out.last = out.terms.front().second;
  for (const auto& term : out.terms) out.last = std::max(out.last, term.second);

  for (int i = 0; i < in.closures_size(); ++i) {
    KINEX_ASSIGN_OR_RETURN(absl::CivilDay day,
                           ToDay(true, in.closures(i), loc.Of(C::kClosuresFieldNumber, i),
                                 absl::StrCat("closures[", i, "]")));
    out.closures.push_back(day);
  }
  std::sort(out.closures.begin(), out.closures.end());

  if (!in.day_start().empty() &&
      !ParseDayStart(in.day_start(), &out.start_hour, &out.start_minute)) {
    return Invalid(loc.Of(C::kDayStartFieldNumber), "day_start",
                   absl::StrCat("\"", in.day_start(), "\" is not a time HH:MM (00:00-23:59)"));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const SchoolCalendars>> SchoolCalendars::Build(
    std::vector<Input> inputs) {
  KINEX_RETURN_IF_ERROR(CheckTimeZone());
  absl::flat_hash_map<std::string, Calendar> calendars;
  // Where each calendar's school_urn / la_code is, for duplicates.
  absl::flat_hash_map<std::string, std::string> defined_at;
  for (const Input& input : inputs) {
    KINEX_ASSIGN_OR_RETURN(Calendar calendar, Compile(input));
    const bool school = !input.calendar.school_urn().empty();
    const Loc loc(&input.name, input.tree.get(), nv1::SchoolCalendar::descriptor(),
                  input.tree != nullptr ? absl::StrCat(input.name, ":1") : input.name);
    const std::string where = loc.Of(school ? nv1::SchoolCalendar::kSchoolUrnFieldNumber
                                            : nv1::SchoolCalendar::kLaCodeFieldNumber);
    auto [it, inserted] = defined_at.emplace(calendar.source, where);
    if (!inserted) {
      const std::string& id = school ? input.calendar.school_urn() : input.calendar.la_code();
      return Invalid(where, school ? "school_urn" : "la_code",
                     absl::StrCat("\"", id, "\" has a calendar already, in ", it->second));
    }
    std::string source = calendar.source;
    calendars.emplace(std::move(source), std::move(calendar));
  }
  return std::shared_ptr<const SchoolCalendars>(
      new SchoolCalendars(*London(), std::move(calendars)));
}

absl::StatusOr<std::shared_ptr<const SchoolCalendars>> SchoolCalendars::LoadDir(
    const std::string& dir) {
  KINEX_RETURN_IF_ERROR(CheckTimeZone());
  if (dir.empty()) return Empty();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("school calendar directory \"", dir, "\" ",
                     std::filesystem::exists(dir, ec) ? "is not a directory" : "does not exist"));
  }
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".textproto") {
      paths.push_back(entry.path().string());
    }
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot list school calendar directory \"", dir, "\": ", ec.message()));
  }
  std::sort(paths.begin(), paths.end());
  std::vector<Input> inputs;
  for (std::string& path : paths) {
    Input input;
    input.tree = std::make_unique<TextFormat::ParseInfoTree>();
    KINEX_RETURN_IF_ERROR(ParseTextProtoFile(path, &input.calendar, input.tree.get()));
    input.name = std::move(path);
    inputs.push_back(std::move(input));
  }
  return Build(std::move(inputs));
}

absl::StatusOr<std::shared_ptr<const SchoolCalendars>> SchoolCalendars::FromProtos(
    std::vector<nv1::SchoolCalendar> calendars) {
  std::vector<Input> inputs;
  inputs.reserve(calendars.size());
  for (size_t i = 0; i < calendars.size(); ++i) {
    Input input;
    input.calendar = std::move(calendars[i]);
    input.name = absl::StrCat("calendars[", i, "]");
    inputs.push_back(std::move(input));
  }
  return Build(std::move(inputs));
}

SchoolCalendars::SchoolCalendars(absl::TimeZone zone,
                                 absl::flat_hash_map<std::string, Calendar> calendars,
                                 std::shared_ptr<const SchoolCalendars> base)
    : zone_(zone), calendars_(std::move(calendars)), base_(std::move(base)) {
  size_ = calendars_.size();
  if (base_ != nullptr) {
    size_ += base_->size();
    for (const auto& [source, unused] : calendars_) {
      const size_t colon = source.find(':');
      if (base_->Find(source.substr(0, colon + 1), source.substr(colon + 1)) != nullptr) --size_;
    }
  }
}

absl::Status SchoolCalendars::Validate(const nv1::SchoolCalendar& calendar,
                                       absl::string_view name) {
  Input input;
  input.calendar = calendar;
  input.name = std::string(name);
  absl::StatusOr<Calendar> compiled = Compile(input);
  if (compiled.ok()) return absl::OkStatus();
  // Compile says "<name>: <field>: <problem>"; a field path reads better.
  absl::string_view message = compiled.status().message();
  const std::string prefix = absl::StrCat(name, ": ");
  if (absl::ConsumePrefix(&message, prefix)) {
    return absl::Status(compiled.status().code(), absl::StrCat(name, ".", message));
  }
  return compiled.status();
}

std::shared_ptr<const SchoolCalendars> SchoolCalendars::Overlay(
    std::shared_ptr<const SchoolCalendars> base,
    const std::vector<nv1::SchoolCalendar>& published) {
  if (base == nullptr) base = Empty();
  absl::flat_hash_map<std::string, Calendar> calendars;
  for (const nv1::SchoolCalendar& calendar : published) {
    Input input;
    input.calendar = calendar;
    input.name = "published";
    absl::StatusOr<Calendar> compiled = Compile(input);
    if (!compiled.ok()) continue;
    std::string source = compiled->source;
    calendars.insert_or_assign(std::move(source), *std::move(compiled));
  }
  if (calendars.empty()) return base;
  const absl::TimeZone zone = base->zone_;
  return std::shared_ptr<const SchoolCalendars>(
      new SchoolCalendars(zone, std::move(calendars), std::move(base)));
}

std::string SchoolCalendars::FollowsLaCode(absl::string_view school_urn) const {
  const Calendar* school = Find("school:", school_urn);
  return school != nullptr ? school->follows_la_code : "";
}

std::shared_ptr<const SchoolCalendars> SchoolCalendars::Empty() {
  static const auto* const empty = new std::shared_ptr<const SchoolCalendars>(
      new SchoolCalendars(London() != nullptr ? *London() : absl::UTCTimeZone(), {}));
  return *empty;
}

const SchoolCalendars::Calendar* SchoolCalendars::Find(absl::string_view prefix,
                                                       absl::string_view id) const {
  if (id.empty()) return nullptr;
  auto it = calendars_.find(absl::StrCat(prefix, id));
  if (it != calendars_.end()) return &it->second;
  return base_ != nullptr ? base_->Find(prefix, id) : nullptr;
}

SchoolCalendars::Deadline SchoolCalendars::DefaultNext(absl::Time after) const {
  absl::CivilDay day = absl::ToCivilDay(after, zone_);
  // A week holds five weekdays; the first whose 08:00 is after `after`.
  for (int i = 0; i < 8; ++i, ++day) {
    if (!IsWeekday(day)) continue;
    const absl::Time start = absl::FromCivil(
        absl::CivilMinute(day.year(), day.month(), day.day(), kDefaultHour, 0), zone_);
    if (start > after) return {start, "default"};
  }
  // Only for an `after` at either end of time (absl::InfiniteFuture/Past).
  return {absl::InfiniteFuture(), "default"};
}

SchoolCalendars::Deadline SchoolCalendars::NextSchoolDayStart(absl::Time after,
                                                              absl::string_view school_urn,
                                                              absl::string_view la_code) const {
  const Calendar* school = Find("school:", school_urn);
  const Calendar* candidates[] = {
      school,
      school != nullptr ? Find("la:", school->follows_la_code) : nullptr,
      school == nullptr ? Find("la:", la_code) : nullptr,
  };
  if (std::all_of(std::begin(candidates), std::end(candidates),
                  [](const Calendar* c) { return c == nullptr; })) {
    return DefaultNext(after);
  }
  absl::CivilDay day = absl::ToCivilDay(after, zone_);
  for (int i = 0; i < kMaxSearchDays; ++i, ++day) {
    const Calendar* decides = nullptr;
    for (const Calendar* c : candidates) {
      if (c != nullptr && c->Covers(day)) {
        decides = c;
        break;
      }
    }
    const bool school_day = decides != nullptr ? decides->IsSchoolDay(day) : IsWeekday(day);
    if (!school_day) continue;
    const absl::Time start =
        absl::FromCivil(absl::CivilMinute(day.year(), day.month(), day.day(),
                                          decides != nullptr ? decides->start_hour : kDefaultHour,
                                          decides != nullptr ? decides->start_minute : 0),
                        zone_);
    if (start > after) return {start, decides != nullptr ? decides->source : "default"};
  }
  return DefaultNext(after);
}

absl::StatusOr<std::unique_ptr<CalendarDir>> CalendarDir::Open(std::string dir) {
  KINEX_RETURN_IF_ERROR(SchoolCalendars::CheckTimeZone());
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const SchoolCalendars> loaded,
                         SchoolCalendars::LoadDir(dir));
  return std::unique_ptr<CalendarDir>(new CalendarDir(std::move(dir), std::move(loaded)));
}

std::shared_ptr<const SchoolCalendars> CalendarDir::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::Status CalendarDir::Reload() {
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const SchoolCalendars> loaded,
                         SchoolCalendars::LoadDir(dir_));
  absl::MutexLock lock(&mu_);
  current_ = std::move(loaded);
  return absl::OkStatus();
}

}  // namespace kinex::records
