#include "tools/kinexctl/command_groups.h"

#include "tools/kinexctl/health_command.h"
#include "tools/kinexctl/record_command.h"

namespace kinex::ctl {

std::vector<CommandGroup> AllCommandGroups() {
  return {MakeHealthCommandGroup(), MakeRecordCommandGroup(), MakeChildrenCommandGroup()};
}

}  // namespace kinex::ctl
