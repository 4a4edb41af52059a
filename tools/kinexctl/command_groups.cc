#include "tools/kinexctl/command_groups.h"

#include "absl/strings/str_cat.h"
#include "services/common/build_info.h"

#include "tools/kinexctl/audit_command.h"
#include "tools/kinexctl/calendar_command.h"
#include "tools/kinexctl/consent_command.h"
#include "tools/kinexctl/doctor_command.h"
#include "tools/kinexctl/health_command.h"
#include "tools/kinexctl/notifications_command.h"
#include "tools/kinexctl/policy_command.h"
#include "tools/kinexctl/record_command.h"

namespace kinex::ctl {
namespace {

constexpr char kVersionUsage[] =
    "usage: kinexctl version\n"
    "\n"
    "Prints \"kinexctl <version> (<git commit>)\": the release and the commit\n"
    "this kinexctl was built from. No server is contacted.\n";

int RunVersion(CommandContext& ctx, const std::vector<std::string>& words) {
  ctx.SetUsage(kVersionUsage);
  if (WantsHelp(words)) return ctx.PrintUsage(kVersionUsage, true);
  if (!words.empty()) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("version takes no arguments, not \"", words[0], "\"")));
  }
  ctx.out() << VersionLine("kinexctl") << "\n";
  return 0;
}

}  // namespace

CommandGroup MakeVersionCommandGroup() {
  return {"version", "Print kinexctl's version and git commit", RunVersion};
}

std::vector<CommandGroup> AllCommandGroups() {
  return {MakeHealthCommandGroup(),     MakeRecordCommandGroup(),   MakeChildrenCommandGroup(),
          MakeLinksCommandGroup(),      MakeSharingCommandGroup(),  MakeNotificationsCommandGroup(),
          MakeBreakGlassCommandGroup(), MakeCalendarCommandGroup(), MakeConsentCommandGroup(),
          MakeAuditCommandGroup(),      MakePolicyCommandGroup(),   MakeDoctorCommandGroup(),
          MakeVersionCommandGroup()};
}

}  // namespace kinex::ctl
