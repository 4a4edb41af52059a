// Every kinexctl command group, in the order `kinexctl --help` lists them.
#ifndef KINEX_TOOLS_KINEXCTL_COMMAND_GROUPS_H_
#define KINEX_TOOLS_KINEXCTL_COMMAND_GROUPS_H_

#include <vector>

#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

std::vector<CommandGroup> AllCommandGroups();

// `kinexctl version`: "kinexctl <version> (<git commit>)" (build_info).
CommandGroup MakeVersionCommandGroup();

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_COMMAND_GROUPS_H_
