// `kinexctl doctor`: checks a caller's setup with the global connection flags
// (--address --ca --cert --key) and says, per check, OK or what is wrong and
// what to do: the files, key against certificate, chain to the CA, validity
// dates, the Kinex SPIFFE ID, and the server (TCP, TLS handshake, health).
// Exit 0 when every check passes (a warning still passes), 1 otherwise.
#ifndef KINEX_TOOLS_KINEXCTL_DOCTOR_COMMAND_H_
#define KINEX_TOOLS_KINEXCTL_DOCTOR_COMMAND_H_

#include "tools/kinexctl/cli.h"

namespace kinex::ctl {

// The `doctor` command group.
CommandGroup MakeDoctorCommandGroup();

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_DOCTOR_COMMAND_H_
