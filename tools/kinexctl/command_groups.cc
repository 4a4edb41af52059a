#include "tools/kinexctl/command_groups.h"

#include "tools/kinexctl/audit_command.h"
#include "tools/kinexctl/consent_command.h"
#include "tools/kinexctl/health_command.h"
#include "tools/kinexctl/policy_command.h"
#include "tools/kinexctl/record_command.h"

namespace kinex::ctl {

std::vector<CommandGroup> AllCommandGroups() {
  return {MakeHealthCommandGroup(), MakeRecordCommandGroup(),  MakeChildrenCommandGroup(),
          MakeLinksCommandGroup(),  MakeSharingCommandGroup(), MakeConsentCommandGroup(),
          MakeAuditCommandGroup(),  MakePolicyCommandGroup()};
}

}  // namespace kinex::ctl
