// `kinexctl health`: asks a Kinex server's gRPC health service whether it is
// serving (the server as a whole, or one service with --service).
#ifndef KINEX_TOOLS_KINEXCTL_HEALTH_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_HEALTH_COMMAND_H_

#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `health` command group.
CommandGroup MakeHealthCommandGroup();

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_HEALTH_COMMAND_H_
