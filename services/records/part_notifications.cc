#include "services/records/part_notifications.h"

#include <algorithm>

#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/common/identity.h"

namespace kinex::records {

namespace {

namespace av1 = ::kinex::audit::v1;
namespace cv1 = ::kinex::common::v1;
namespace nv1 = ::kinex::notifications::v1;
namespace rv1 = ::kinex::record::v1;

// A multiset of keys of a part's list entries: Take removes one occurrence,
// so entries match one to one (a duplicate added beside an old entry is new).
class Keys {
 public:
  void Add(std::string key) { keys_.insert(std::move(key)); }
  // Whether `key` was held (one occurrence is then removed).
  bool Take(const std::string& key) {
    auto it = keys_.find(key);
    if (it == keys_.end()) return false;
    keys_.erase(it);
    return true;
  }

 private:
  std::multiset<std::string> keys_;
};

// The serialized bytes of each element of `list`.
template <typename List>
Keys SerializedKeys(const List& list) {
  Keys keys;
  for (const auto& entry : list) keys.Add(entry.SerializeAsString());
  return keys;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);  // floor
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

std::string AgencyPath(cv1::AgencyKind kind, absl::string_view code) {
  return absl::StrCat(AgencyKindSlug(kind), "/", code);
}

// Operation Encompass: the part's new encompass_notifications entries.
void AddEncompass(const PublishedPart& part, const SchoolCalendars& calendars,
                  std::vector<av1::NotifyIntent>& out) {
  Keys old;
  if (part.before != nullptr) old = SerializedKeys(part.before->police().encompass_notifications());
  for (const rv1::OperationEncompassNotification& entry :
       part.after->police().encompass_notifications()) {
    if (old.Take(entry.SerializeAsString())) continue;
    av1::NotifyIntent intent;
    nv1::Notification& n = *intent.mutable_notification();
    if (!part.publisher_confirmed) {
      // A force whose link the responsible LA has not confirmed names no
      // school: knowing a child's identifiers is not a relationship, so its
      // notification goes to the LA, which can confirm the force and tell
      // the school itself.
      if (part.responsible_la.empty()) continue;
      intent.set_recipient_kind(cv1::LOCAL_AUTHORITY);
      intent.set_recipient_code(part.responsible_la);
      n.set_reason("ENCOMPASS_UNCONFIRMED_FORCE");
    } else if (!entry.school_urn().empty()) {
      intent.set_recipient_kind(cv1::SCHOOL);
      intent.set_recipient_code(entry.school_urn());
      n.set_reason("ENCOMPASS_INCIDENT");
    } else if (!part.responsible_la.empty()) {
      intent.set_recipient_kind(cv1::LOCAL_AUTHORITY);
      intent.set_recipient_code(part.responsible_la);
      n.set_reason("ENCOMPASS_NO_SCHOOL");
    } else {
      continue;  // Nobody to tell.
    }
    n.set_kind(nv1::ENCOMPASS);
    n.set_kinex_id(part.kinex_id);
    n.set_school_urn(entry.school_urn());
    // The force is named to the responsible LA only: a school is told that
    // the police attended, not given a field its policy may withhold (the
    // escalation to the force names the force again, from escalate_to).
    if (intent.recipient_kind() == cv1::LOCAL_AUTHORITY) n.set_force_code(part.owner_code);
    const SchoolCalendars::Deadline deadline = calendars.NextSchoolDayStart(
        std::max(FromTimestamp(entry.incident_time()), part.published_at), entry.school_urn(),
        part.responsible_la);
    *n.mutable_deadline() = ToTimestamp(deadline.time);
    const bool la_is_recipient = intent.recipient_kind() == cv1::LOCAL_AUTHORITY &&
                                 intent.recipient_code() == part.responsible_la;
    if (!part.responsible_la.empty() && !la_is_recipient) {
      intent.add_escalate_to(AgencyPath(cv1::LOCAL_AUTHORITY, part.responsible_la));
    }
    if (!part.owner_code.empty()) intent.add_escalate_to(AgencyPath(cv1::POLICE, part.owner_code));
    out.push_back(std::move(intent));
  }
}

// An enrolment's identity: the school and the date the child joined it.
std::string EnrolmentKey(const rv1::SchoolEnrolment& e) {
  return absl::StrCat(e.urn(), "|", e.entry_date().SerializeAsString());
}

// An exclusion's identity: its type, start date and school.
std::string ExclusionKey(const rv1::Exclusion& e) {
  return absl::StrCat(static_cast<int>(e.type()), "|", e.start_date().SerializeAsString(), "|",
                      e.school_urn());
}

// A new enrolment, or an existing one that newly has a leaving date.
bool SchoolMoved(const rv1::Education* before, const rv1::Education& after) {
  Keys on_roll;  // Enrolments before without a leaving date.
  Keys left;     // Enrolments before with one.
  if (before != nullptr) {
    for (const rv1::SchoolEnrolment& e : before->enrolments()) {
      (e.has_leaving_date() ? left : on_roll).Add(EnrolmentKey(e));
    }
  }
  for (const rv1::SchoolEnrolment& e : after.enrolments()) {
    const std::string key = EnrolmentKey(e);
    if (left.Take(key)) continue;
    if (!on_roll.Take(key)) return true;    // New enrolment.
    if (e.has_leaving_date()) return true;  // Newly left.
  }
  return false;
}

// Attendance below 90%, as the DfE counts persistent absence.
bool BelowNinetyPercent(const rv1::AttendanceSummary& s) {
  if (s.persistent_absence()) return true;
  const int64_t possible = s.possible_sessions();
  const int64_t attended = s.attended_sessions();
  return possible > 0 && attended * 10 < possible * 9;
}

av1::NotifyIntent VshAlert(const PublishedPart& part, absl::string_view reason) {
  return VshAlertIntent(part.responsible_la, part.kinex_id, reason);
}

void AddSchoolAlerts(const PublishedPart& part, std::vector<av1::NotifyIntent>& out) {
  const rv1::Education* before = part.before != nullptr ? &part.before->education() : nullptr;
  const rv1::Education& after = part.after->education();

  if (SchoolMoved(before, after)) out.push_back(VshAlert(part, "SCHOOL_MOVE"));

  Keys old;
  if (before != nullptr) {
    for (const rv1::Exclusion& e : before->exclusions()) old.Add(ExclusionKey(e));
  }
  bool suspension = false;
  bool exclusion = false;
  for (const rv1::Exclusion& e : after.exclusions()) {
    if (old.Take(ExclusionKey(e))) continue;
    if (e.type() == rv1::SUSPENSION) suspension = true;
    if (e.type() == rv1::PERMANENT_EXCLUSION) exclusion = true;
  }
  if (suspension) out.push_back(VshAlert(part, "SUSPENSION"));
  if (exclusion) out.push_back(VshAlert(part, "EXCLUSION"));

  const bool was_below = before != nullptr && BelowNinetyPercent(before->attendance_summary());
  if (BelowNinetyPercent(after.attendance_summary()) && !was_below) {
    out.push_back(VshAlert(part, "PERSISTENT_ABSENCE"));
  }
}

void AddLocalAuthorityAlerts(const PublishedPart& part, std::vector<av1::NotifyIntent>& out) {
  Keys old;
  if (part.before != nullptr) old = SerializedKeys(part.before->legal_status());
  for (const rv1::LegalStatusEpisode& episode : part.after->legal_status()) {
    if (!old.Take(episode.SerializeAsString())) {
      out.push_back(VshAlert(part, "LEGAL_STATUS"));
      return;
    }
  }
}

// The date `d` names, if it is a real calendar date.
std::optional<absl::CivilDay> DayOf(const rv1::Date& d) {
  if (d.month() < 1 || d.month() > 12 || d.day() < 1 || d.year() < 1) return std::nullopt;
  const absl::CivilDay day(d.year(), d.month(), d.day());
  // CivilDay normalises 31 April to 1 May: a date that moved is not real.
  if (day.year() != d.year() || day.month() != d.month() || day.day() != d.day()) {
    return std::nullopt;
  }
  return day;
}

}  // namespace

av1::NotifyIntent VshAlertIntent(absl::string_view responsible_la, absl::string_view kinex_id,
                                 absl::string_view reason) {
  av1::NotifyIntent intent;
  intent.set_recipient_kind(cv1::VIRTUAL_SCHOOL);
  intent.set_recipient_code(std::string(responsible_la));
  nv1::Notification& n = *intent.mutable_notification();
  n.set_kind(nv1::VSH_ALERT);
  n.set_kinex_id(std::string(kinex_id));
  n.set_reason(std::string(reason));
  return intent;
}

std::optional<absl::CivilDay> PepReviewDue(const rv1::PersonalEducationPlan& pep) {
  if (pep.has_next_review_due()) {
    if (std::optional<absl::CivilDay> due = DayOf(pep.next_review_due())) return due;
  }
  if (!pep.has_last_review_date()) return std::nullopt;
  const std::optional<absl::CivilDay> last = DayOf(pep.last_review_date());
  if (!last.has_value()) return std::nullopt;
  const absl::CivilMonth month = absl::CivilMonth(*last) + 6;
  // The month's last day: the day before the next month's first.
  const absl::CivilDay month_end = absl::CivilDay(month + 1) - 1;
  const absl::CivilDay same_day(month.year(), month.month(), last->day());
  return same_day > month_end ? month_end : same_day;
}

std::vector<av1::NotifyIntent> NotificationsForPublish(const PublishedPart& part,
                                                       const SchoolCalendars& calendars) {
  std::vector<av1::NotifyIntent> out;
  if (part.after == nullptr) return out;
  if (part.owner_kind == cv1::POLICE) AddEncompass(part, calendars, out);
  if (part.in_virtual_school_cohort && part.publisher_confirmed && !part.responsible_la.empty()) {
    if (part.owner_kind == cv1::SCHOOL) AddSchoolAlerts(part, out);
    if (part.owner_kind == cv1::LOCAL_AUTHORITY) AddLocalAuthorityAlerts(part, out);
  }
  return out;
}

}  // namespace kinex::records
