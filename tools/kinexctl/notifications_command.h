// `kinexctl notifications list|watch|ack` and `kinexctl breakglass review`:
// an agency's notifications (docs/notifications.md) through the gateway's
// public kinex.notifications.v1.Notifications API.
//
// Every command prints a notification as one line (--output=table):
//   <id> <KIND> <STATE> child=<kinex id> reason=<reason>[ deadline=<RFC 3339>]
//       [ from=<agency-kind>/<code>][ actor=<actor>][ purpose=<PURPOSE>]
//       [ break_glass=yes][ review=<OUTCOME>][ acked_by=<actor>]
// --output=json prints each notification as one JSON line; csv, one row.
// `watch` with --cursor-file keeps the id of the last notification printed
// in that file (written atomically after each line), so a restarted watcher
// resumes after it: at least once, never a gap.
//
// Example:
//   kinexctl notifications list --unacknowledged --kind=access,break-glass-review
//   kinexctl notifications watch --cursor-file=/var/lib/la/kinex.cursor
//   kinexctl notifications ack 812.0
//   kinexctl breakglass review 812.1 --outcome=upheld \
//       --note="Missing overnight; medical context was needed at once"
#ifndef KINEX_TOOLS_KINEXCTL_NOTIFICATIONS_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_NOTIFICATIONS_COMMAND_H_

#include <string>

#include "kinex/notifications/v1/notifications.pb.h"
#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `notifications` command group.
CommandGroup MakeNotificationsCommandGroup();
// The `breakglass` command group.
CommandGroup MakeBreakGlassCommandGroup();

// `n` as one line of text (the format above), without a newline.
std::string NotificationLine(const kinex::notifications::v1::Notification& n);

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_NOTIFICATIONS_COMMAND_H_
