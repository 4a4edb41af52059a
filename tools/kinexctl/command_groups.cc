#include "tools/kinexctl/command_groups.h"

#include "tools/kinexctl/health_command.h"

namespace kinex::ctl {

std::vector<CommandGroup> AllCommandGroups() {
  return {MakeHealthCommandGroup()};
}

}  // namespace kinex::ctl
