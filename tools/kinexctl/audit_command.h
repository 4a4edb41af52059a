// `kinexctl audit`: query the audit log and verify it offline.
//
//   kinexctl audit query [--child-nhs=N | --child-upn=U | --child-kinex-id=K]
//       [--agency-kind=KIND] [--agency-code=CODE] [--actor=NAME]
//       [--purpose=PURPOSE] [--decision=allow|partial|deny] [--break-glass]
//       [--since=TIME] [--until=TIME] [--page-size=N] [--max=N]
//       [--output=table|json|csv]
//   kinexctl audit verify [--public-key=PEM] [--saved-head=FILE]
//       [--save-head=FILE]
//   kinexctl audit receipt verify FILE [--public-key=PEM[,PEM...]] [--offline]
//   kinexctl audit signing-key [--out=FILE]
//
// Any declared agency may run `signing-key` (the gateway serves the log's
// public keys to every agency) and `receipt verify --offline` (no server
// call); the other commands, and receipt verify's online checks, read the
// log and need the auditor role.
//
// The verification logic lives in services/audit/log_verifier.h (library
// kinex::audit_verify) so it is tested without the CLI.
#ifndef KINEX_TOOLS_KINEXCTL_AUDIT_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_AUDIT_COMMAND_H_

#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `audit` command group.
CommandGroup MakeAuditCommandGroup();

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_AUDIT_COMMAND_H_
