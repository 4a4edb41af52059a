// Small file helpers with errors that name the file.
#ifndef KINEX_SERVICES_COMMON_FILE_UTIL_H_
#define KINEX_SERVICES_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kinex {

// Returns the contents of `path`. NOT_FOUND when it does not exist,
// PERMISSION_DENIED when it cannot be read; both name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `contents` to `path` atomically (temp file, fsync, rename) with the
// given permission bits.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 int mode = 0644);

// Creates `dir` and any missing parents with mode 0700 (owner only, whatever
// the umask): the directories of embedded stores and generated state hold
// children's data. Directories that already exist are left as they are.
// INTERNAL naming the directory when one cannot be made.
absl::Status MakePrivateDirectories(const std::string& dir);

// Reads a private key file, refusing one that group or others can read
// (FAILED_PRECONDITION naming the path and its mode): private keys are 0600.
absl::StatusOr<std::string> ReadPrivateKeyFile(const std::string& path);

// Reads a 32-byte symmetric key (an HMAC key) from a private key file (as
// ReadPrivateKeyFile: mode 0600): 64 hex characters (a trailing newline is
// fine, as `openssl rand -hex 32` writes) or 32 raw bytes. INVALID_ARGUMENT
// naming the path and `what` otherwise (reason KEY_INVALID, metadata `key`:
// `what` with underscores); the key is never in a message.
absl::StatusOr<std::string> ReadSymmetricKeyFile(const std::string& path, absl::string_view what);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_FILE_UTIL_H_
