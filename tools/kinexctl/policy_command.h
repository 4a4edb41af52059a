// `kinexctl policy`: offline tools for policy authors, working on a policy
// directory (default "policy") without a server:
//   kinexctl policy validate [DIR]           load and validate; print version
//   kinexctl policy test [DIR] [--tests=D]   run DIR/tests/*.textproto cases
//   kinexctl policy matrix [DIR]             print the access matrix (Markdown)
//   kinexctl policy explain [DIR] --request=FILE
//                                            decide a DecisionRequest textproto
//                                            and print the decision and trace
// Exit codes: 0 success; 1 a policy test failed; 2 usage or invalid policy.
#ifndef KINEX_TOOLS_KINEXCTL_POLICY_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_POLICY_COMMAND_H_

#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `policy` command group.
CommandGroup MakePolicyCommandGroup();

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_POLICY_COMMAND_H_
