// The notifications an agency's publish raises (docs/notifications.md): the
// records service attaches them, as NotifyIntents, to the publish's
// PART_PUBLISHED audit event, so the log creates them in the same
// transaction as the leaf that records their cause.
//
// A pure function of the publisher's part before and after the publish (and
// the school calendars, for deadlines). It sees only the publisher's own
// part, so an Encompass notification goes to the school the police named,
// never to a roll another agency asserted. Notifications are minimal: the
// child's Kinex id, a reason code, and for Operation Encompass the deadline,
// the named school's URN and the force's code; never another record field.
//
//   Operation Encompass (a POLICE part): each new encompass_notifications
//     entry tells the school it names (ENCOMPASS_INCIDENT), or without one
//     the responsible LA (ENCOMPASS_NO_SCHOOL), due at the start of that
//     school's next school day; escalated, if unacknowledged, to the
//     responsible LA (unless it is the recipient) and to the force.
//   VSH alerts (a SCHOOL or LOCAL_AUTHORITY part, when the child is in the
//     responsible LA's virtual school cohort): SCHOOL_MOVE, SUSPENSION,
//     EXCLUSION, PERSISTENT_ABSENCE (attendance fell below 90%),
//     LEGAL_STATUS; at most one of each per publish. The overdue-PEP alert
//     (PEP_REVIEW_OVERDUE) is raised by a sweep, not a publish
//     (RecordsCore::SweepOverduePeps), from PepReviewDue and VshAlertIntent
//     below.
//
// Example:
//   PublishedPart part{.owner_kind = POLICE, .owner_code = "01",
//                      .kinex_id = "K7Q2...", .responsible_la = "E09000033",
//                      .before = previous, .after = &published};
//   std::vector<NotifyIntent> intents = NotificationsForPublish(part, *calendars);
//   // One new entry naming school 100001, incident Friday 17:00: an intent to
//   // SCHOOL/100001, ENCOMPASS, reason ENCOMPASS_INCIDENT, deadline Monday
//   // 08:00, escalate_to {"local-authority/E09000033", "police/01"}.
#ifndef KINEX_SERVICES_RECORDS_PART_NOTIFICATIONS_H_
#define KINEX_SERVICES_RECORDS_PART_NOTIFICATIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

#include "kinex/audit/v1/audit.pb.h"
#include "kinex/common/v1/common.pb.h"
#include "kinex/record/v1/record.pb.h"
#include "services/records/school_calendar.h"

namespace kinex::records {

// One publish, as NotificationsForPublish needs it.
struct PublishedPart {
  // The publisher.
  kinex::common::v1::AgencyKind owner_kind = kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
  // Its code (force code, URN, ONS LA code).
  std::string owner_code;
  // The child.
  std::string kinex_id;
  // ONS code of the child's responsible LA (may be empty).
  std::string responsible_la;
  // The publisher's previous part; null when this is its first.
  const kinex::record::v1::ChildRecord* before = nullptr;
  // The part now published (required; null raises nothing).
  const kinex::record::v1::ChildRecord* after = nullptr;
  // Whether the responsible LA's virtual school has this child in its cohort
  // (the gateway decides this with the policy and tells records); false: no
  // VSH alerts.
  bool in_virtual_school_cohort = false;
  // Whether the publisher is the responsible LA or an agency whose link the
  // LA confirmed. An unconfirmed publisher raises no VSH alert, and an
  // unconfirmed force's Operation Encompass notification goes to the
  // responsible LA (reason ENCOMPASS_UNCONFIRMED_FORCE), never to the school
  // it names.
  bool publisher_confirmed = true;
  // When the part was published. An Encompass deadline counts from the
  // incident or from this, whichever is later: a notification the police
  // publish late is never born overdue. Default: the incident time alone.
  absl::Time published_at = absl::InfinitePast();
};

// The notifications a publish raises, in a stable order: Encompass first, in
// the order of the part's entries, then VSH alerts in the order SCHOOL_MOVE,
// SUSPENSION, EXCLUSION, PERSISTENT_ABSENCE, LEGAL_STATUS.
//
// Operation Encompass (owner_kind POLICE only): every entry of
// after->police().encompass_notifications() that before's list does not
// hold (entries compared by their serialized bytes, matched one to one, so
// an unchanged re-publish raises nothing and an edited entry counts as new).
// Recipient: SCHOOL/<entry.school_urn>, reason ENCOMPASS_INCIDENT; without a
// school_urn LOCAL_AUTHORITY/<responsible_la>, reason ENCOMPASS_NO_SCHOOL;
// without either, nothing. The notification: kind ENCOMPASS, kinex_id,
// reason, school_urn (the entry's), force_code (owner_code), deadline
// (calendars.NextSchoolDayStart(incident_time, school_urn, responsible_la)).
// escalate_to: "local-authority/<responsible_la>" when there is one and it
// is not the recipient, then "police/<owner_code>".
//
// VSH alerts (only with in_virtual_school_cohort and a responsible_la): to
// VIRTUAL_SCHOOL/<responsible_la>, kind VSH_ALERT, kinex_id and reason only.
//   SCHOOL part:
//     SCHOOL_MOVE         an enrolment whose (urn, entry_date) before does
//                         not hold, or one that newly has a leaving_date
//                         (other edits to an enrolment raise nothing);
//     SUSPENSION          an exclusion of type SUSPENSION whose
//     EXCLUSION           (or PERMANENT_EXCLUSION) (type, start_date,
//                         school_urn) before does not hold;
//     PERSISTENT_ABSENCE  attendance below 90% (attended * 10 < possible * 9
//                         with possible > 0, or persistent_absence) now and
//                         not before (no previous part: not before).
//   LOCAL_AUTHORITY part:
//     LEGAL_STATUS        a legal_status episode before does not hold
//                         (serialized compare: a new episode or a changed
//                         one, such as one that ended).
// Other owner kinds raise no VSH alert.
//
// Thread-safe (reads only its arguments).
std::vector<kinex::audit::v1::NotifyIntent> NotificationsForPublish(
    const PublishedPart& part, const SchoolCalendars& calendars);

// A VSH alert: to VIRTUAL_SCHOOL/<responsible_la>, kind VSH_ALERT, with the
// child's Kinex id and `reason` only (the minimal payload). Every VSH alert,
// on a publish or from the overdue-PEP sweep, is built here. Thread-safe.
kinex::audit::v1::NotifyIntent VshAlertIntent(absl::string_view responsible_la,
                                              absl::string_view kinex_id, absl::string_view reason);

// The reason of the overdue-PEP sweep's VSH alert (RecordsCore::SweepOverduePeps).
inline constexpr absl::string_view kPepReviewOverdue = "PEP_REVIEW_OVERDUE";

// When a personal education plan's next review is due: next_review_due
// when it is a real calendar date; otherwise the last review plus six
// months (the same day of the month, or the month's last day when it has
// no such day: 31 August -> 28 or 29 February); nullopt when neither date
// is a real calendar date (no plan, or no review yet). Thread-safe.
std::optional<absl::CivilDay> PepReviewDue(const kinex::record::v1::PersonalEducationPlan& pep);

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_PART_NOTIFICATIONS_H_
