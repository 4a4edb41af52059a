// School calendars for Operation Encompass deadlines: when does the next
// school day start? A school must be told of a domestic abuse incident
// before the start of its next school day, so the notification's deadline is
// that start, in Europe/London local time (GMT or BST, as the day falls).
//
// Calendars are SchoolCalendar textproto files
// (proto/kinex/notifications/v1/notifications.proto), one per school (by
// URN) or per local authority (by ONS code). A school day is a weekday inside
// a term and not a closure; it starts at the calendar's day_start ("08:00"
// unless set). Where no calendar says anything about a date, every weekday is
// a school day starting at 08:00: the earliest plausible deadline, so a
// missing calendar makes a deadline early, never late.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const SchoolCalendars> calendars,
//                          SchoolCalendars::LoadDir("/etc/kinex/school-calendars"));
//   SchoolCalendars::Deadline d =
//       calendars->NextSchoolDayStart(incident_time, "100001", "E09000033");
//   // Friday 17:00, the school closed on Monday: Tuesday 08:45 (its
//   // day_start), d.source == "school:100001".
#ifndef KINEX_SERVICES_RECORDS_SCHOOL_CALENDAR_H_
#define KINEX_SERVICES_RECORDS_SCHOOL_CALENDAR_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kinex/notifications/v1/notifications.pb.h"

namespace kinex::records {

// An immutable set of school and LA calendars. Thread-safe (every method is
// const and reads only immutable state).
class SchoolCalendars {
 public:
  // Loads every *.textproto file in `dir` (other files and subdirectories
  // are ignored; files in name order). An empty `dir` and a directory with
  // no such file both mean "no calendars". INVALID_ARGUMENT when `dir` does
  // not exist or is not a directory, when a file does not parse
  // ("<file>:<line>:<column>: <parser message>") or does not validate
  // ("<file>:<line>: <field>: <problem>"; see FromProtos), and when two
  // files are calendars of the same school or LA (naming both). A file that
  // cannot be read is NOT_FOUND or PERMISSION_DENIED naming it; a directory
  // that cannot be listed UNAVAILABLE. FAILED_PRECONDITION "time zone
  // Europe/London is not available (install tzdata)" when the time zone
  // cannot be loaded (whatever `dir` is), so a server never starts with
  // deadlines in the wrong zone.
  static absl::StatusOr<std::shared_ptr<const SchoolCalendars>> LoadDir(const std::string& dir);

  // No calendars: every deadline is the default rule's. Cannot fail: when
  // Europe/London cannot be loaded (checked once per process) its deadlines
  // are the default rule's in UTC. Callers that serve deadlines call
  // CheckTimeZone() first and refuse to start when it fails.
  static std::shared_ptr<const SchoolCalendars> Empty();

  // From parsed calendars, validated as LoadDir validates files, naming each
  // by its index: "calendars[<i>]: <field>: <problem>". A calendar must set
  // exactly one of school_urn (6 digits) and la_code (E or W then 8 digits,
  // e.g. E09000033); follows_la_code only on a school calendar, an LA code;
  // at least one term, each with valid dates (1900-9999) and first <= last;
  // closures valid dates; day_start "HH:MM" in 00:00-23:59. Two calendars
  // of the same school or LA are an error naming both. FAILED_PRECONDITION
  // as LoadDir when Europe/London cannot be loaded.
  static absl::StatusOr<std::shared_ptr<const SchoolCalendars>> FromProtos(
      std::vector<kinex::notifications::v1::SchoolCalendar> calendars);

  // Checks one calendar by FromProtos' rules, naming a field from `name`:
  // INVALID_ARGUMENT "<name>.<field>: <problem>", e.g.
  // "calendar.terms[1].last: 2025-01-03 is before first 2025-01-06".
  static absl::Status Validate(const kinex::notifications::v1::SchoolCalendar& calendar,
                               absl::string_view name);

  // `base`'s calendars with `published` in place of base's calendars of the
  // same school or LA (the calendars schools and LAs publish through the
  // API replace the operator's files). Cheap: `base` is shared, not copied.
  // A published calendar that does not validate (stored under older rules)
  // is left out, so its school or LA keeps base's calendar or the default
  // rule. Two published calendars of one school or LA: the later wins.
  static std::shared_ptr<const SchoolCalendars> Overlay(
      std::shared_ptr<const SchoolCalendars> base,
      const std::vector<kinex::notifications::v1::SchoolCalendar>& published);

  // The LA code the calendar of `school_urn` follows (follows_la_code);
  // "" when the school has no calendar or follows none.
  std::string FollowsLaCode(absl::string_view school_urn) const;

  // OK when Europe/London can be loaded (tried once per process), else
  // FAILED_PRECONDITION "time zone Europe/London is not available (install
  // tzdata)".
  static absl::Status CheckTimeZone();

  struct Deadline {
    absl::Time time;
    // Which calendar decided: "school:<urn>", "la:<code>", or "default".
    std::string source;
  };

  // The start (day_start, Europe/London local time) of the first school day
  // whose start is strictly after `after`: an incident at 07:00 on a school
  // day is due at 08:00 that day, one at 08:00 the next school day.
  //
  // Which calendar says whether a date is a school day, the first that
  // covers it (lies between its first term's first day and its last term's
  // last day; the gaps between terms are holidays):
  //   1. the calendar of `school_urn`, when there is one;
  //   2. then the calendar of the LA it follows (follows_la_code), if any;
  //   3. only when the school has no calendar of its own: the calendar of
  //      `la_code` (the child's responsible LA; may be empty);
  //   4. else the default rule: Monday to Friday, 08:00.
  // The child's LA is not consulted for a school with a calendar: it may be
  // another area's, and the default is the earliest plausible answer. A date
  // decided by an LA's calendar starts at that calendar's day_start.
  //
  // Searches at most 400 days ahead; when no school day starts in them (a
  // long gap in a calendar), returns the default rule's answer. Without the
  // Europe/London zone (Empty() only): the default rule in UTC.
  Deadline NextSchoolDayStart(absl::Time after, absl::string_view school_urn,
                              absl::string_view la_code) const;

  // The number of calendars (schools and LAs), an overlay's and its base's
  // together (one per school or LA).
  size_t size() const { return size_; }

 private:
  // One validated calendar.
  struct Calendar {
    // "school:<urn>" or "la:<code>": the Deadline source.
    std::string source;
    // The LA code whose calendar covers the dates this one does not; or "".
    std::string follows_la_code;
    // Terms sorted by first day; inclusive.
    std::vector<std::pair<absl::CivilDay, absl::CivilDay>> terms;
    // The first term's first day and the last day of any term.
    absl::CivilDay first;
    absl::CivilDay last;
    // Sorted.
    std::vector<absl::CivilDay> closures;
    int start_hour = 8;
    int start_minute = 0;

    bool Covers(absl::CivilDay day) const { return first <= day && day <= last; }
    bool IsSchoolDay(absl::CivilDay day) const;
  };
  struct Input;

  SchoolCalendars(absl::TimeZone zone, absl::flat_hash_map<std::string, Calendar> calendars,
                  std::shared_ptr<const SchoolCalendars> base = nullptr);

  static absl::StatusOr<std::shared_ptr<const SchoolCalendars>> Build(std::vector<Input> inputs);
  static absl::StatusOr<Calendar> Compile(const Input& input);
  const Calendar* Find(absl::string_view prefix, absl::string_view id) const;
  // The default rule's answer: the next weekday's 08:00 in zone_.
  Deadline DefaultNext(absl::Time after) const;

  // Europe/London (UTC only for Empty() without the zone).
  absl::TimeZone zone_;
  // By source ("school:<urn>", "la:<code>").
  absl::flat_hash_map<std::string, Calendar> calendars_;
  // An overlay's base: consulted for a source calendars_ does not hold.
  std::shared_ptr<const SchoolCalendars> base_;
  size_t size_ = 0;
};

// The calendars of one directory, reloadable: what a running service asks
// on every publish (Current), re-read on SIGHUP (Reload). A reload that
// fails keeps the calendars in force. Thread-safe.
class CalendarDir {
 public:
  // Loads `dir` (empty: no calendars) and checks the time zone; errors as
  // SchoolCalendars::LoadDir.
  static absl::StatusOr<std::unique_ptr<CalendarDir>> Open(std::string dir);

  std::shared_ptr<const SchoolCalendars> Current() const;

  // Re-reads the directory; on failure the calendars in force stay.
  absl::Status Reload();

 private:
  CalendarDir(std::string dir, std::shared_ptr<const SchoolCalendars> current)
      : dir_(std::move(dir)), current_(std::move(current)) {}

  const std::string dir_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const SchoolCalendars> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_SCHOOL_CALENDAR_H_
