// `kinexctl record get|publish` and `kinexctl children list`: the Exchange
// API for people and scripts.
#ifndef KINEX_TOOLS_KINEXCTL_RECORD_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_RECORD_COMMAND_H_

#include "absl/status/statusor.h"
#include "kinex/common/v1/common.pb.h"
#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `record` command group.
CommandGroup MakeRecordCommandGroup();
// The `children` command group.
CommandGroup MakeChildrenCommandGroup();
// `kinexctl links list|confirm|reject`: an LA deciding agencies' claimed links.
CommandGroup MakeLinksCommandGroup();

// `kinexctl sharing record|list|unshield`: decisions not to share, shields.
CommandGroup MakeSharingCommandGroup();

// A child reference from --kinex-id, --nhs, --upn or --la-child-id=CODE:ID
// (exactly one). INVALID_ARGUMENT naming the flags otherwise.
absl::StatusOr<kinex::common::v1::ChildRef> ChildRefFromArgs(Args& args);

// A purpose from its name: EDUCATION_SUPPORT or education-support.
absl::StatusOr<kinex::common::v1::Purpose> ParsePurpose(const std::string& text);

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_RECORD_COMMAND_H_
