// `kinexctl calendar publish|get`: a school's or local authority's own
// calendar of terms, closures and start of day, which decides Operation
// Encompass deadlines (docs/notifications.md, "Deadlines"), through the
// gateway's Exchange.PublishSchoolCalendar and GetSchoolCalendar.
//
// The file is a kinex.notifications.v1.SchoolCalendar textproto, the format
// of the operator's files in records.calendars_dir; it is parsed here (an
// error names "FILE:line:column", exit 2, nothing is sent) and validated by
// the server. `get` prints the calendar as textproto after comment lines with
// its etag and publisher, so its output can be edited and published again.
//
// Output of `publish` (--output=table; json and csv: the same columns):
//   calendar       etag                      publish_time
//   school:137000  5f0c9e1d2b7a4c6e8d9f0a1b  2026-12-02T16:54:03.125Z
// Output of `get` (--output=table; json: the response in the protobuf JSON
// mapping; csv: one row with the calendar on one line):
//   # calendar: school:137000
//   # etag: 5f0c9e1d2b7a4c6e8d9f0a1b
//   # published: 2026-12-02T16:54:03.125Z by <SPIFFE ID> (actor: School Office)
//   school_urn: "137000"
//   terms { ... }
//
// Example:
//   kinexctl --actor="School Office" calendar publish autumn-2027.textproto
//   kinexctl calendar get > calendar.textproto   # edit, then:
//   kinexctl calendar publish calendar.textproto --etag=5f0c9e1d2b7a4c6e8d9f0a1b
#ifndef KINEX_TOOLS_KINEXCTL_CALENDAR_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_CALENDAR_COMMAND_H_

#include <string>

#include "kinex/notifications/v1/notifications.pb.h"
#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `calendar` command group.
CommandGroup MakeCalendarCommandGroup();

// Which calendar `c` is: "school:<urn>", "la:<code>", or "" when it names
// neither (the server's audit record_id for it).
std::string CalendarKey(const kinex::notifications::v1::SchoolCalendar& c);

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_CALENDAR_COMMAND_H_
