#include "services/common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "services/common/error_reason.h"

namespace kinex {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot read: ", std::strerror(err)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(tmp, ": cannot create: ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat(tmp, ": write: ", std::strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(tmp, ": fsync: ", std::strerror(err)));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(path, ": rename: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPrivateKeyFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot stat: ", std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: private key file has mode %04o; it must not be readable by group "
                        "or others (chmod 600)",
                        path, st.st_mode & 07777));
  }
  return ReadFileToString(path);
}

absl::Status MakePrivateDirectories(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path at;
  for (const fs::path& part : fs::path(dir)) {
    at /= part;
    std::error_code ec;
    if (fs::exists(at, ec)) continue;
    if (!fs::create_directory(at, ec) && ec) {
      return absl::InternalError(
          absl::StrCat(at.string(), ": cannot create directory: ", ec.message()));
    }
    fs::permissions(at, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSymmetricKeyFile(const std::string& path, absl::string_view what) {
  absl::StatusOr<std::string> contents = ReadPrivateKeyFile(path);
  if (!contents.ok()) return contents.status();
  const absl::string_view text = absl::StripTrailingAsciiWhitespace(*contents);
  if (text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
        return absl::ascii_isxdigit(static_cast<unsigned char>(c));
      })) {
    return absl::HexStringToBytes(text);
  }
  if (contents->size() == 32) return *std::move(contents);
  return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                             path, ": ", what, " must be 64 hex characters or 32 raw bytes")),
                         reason::kKeyInvalid, {{"key", absl::StrReplaceAll(what, {{" ", "_"}})}});
}

}  // namespace kinex
