// `kinexctl consent record|list|withdraw`: a child's consent file through the
// gateway's public kinex.consent.v1.Consent API.
//
// Example:
//   kinexctl consent record --upn=A201100012001 --giver=parental-responsibility-holder \
//       --name="A. Grand" --relationship=special-guardian --categories=education \
//       --recipients=virtual-school --purposes=education-support
//   kinexctl consent list --upn=A201100012001 --output=csv
//   kinexctl consent withdraw cn_ABC --reason="asked by the special guardian"
#ifndef KINEX_TOOLS_KINEXCTL_CONSENT_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_CONSENT_COMMAND_H_

#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `consent` command group.
CommandGroup MakeConsentCommandGroup();

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_CONSENT_COMMAND_H_
