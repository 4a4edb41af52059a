// One numeric field of a /proc file, and a process's /proc/<pid>/stat, for
// benchmarks and tests that watch a process (resident memory, threads,
// bytes written, CPU time, its parent).
//
// Example:
//   const int64_t rss_kb = kinex::testing::ProcField("/proc/self/status", "VmRSS");
//   const int64_t written = kinex::testing::ProcField("/proc/self/io", "wchar");
//   std::optional<ProcStat> stat = kinex::testing::ReadProcStat("/proc/self/stat");
#ifndef KINEX_TESTS_TESTING_PROC_FIELDS_H_
#define KINEX_TESTS_TESTING_PROC_FIELDS_H_

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace kinex::testing {

// The number on the line "`key`:" of the /proc file `path`, in the file's
// own unit ("VmRSS:   123 kB" of status gives 123, "wchar: 456" of io 456);
// -1 when the file, the line or the number is missing.
inline int64_t ProcField(const std::string& path, absl::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest(line);
    if (!absl::ConsumePrefix(&rest, key) || !absl::ConsumePrefix(&rest, ":")) continue;
    rest = absl::StripLeadingAsciiWhitespace(rest);
    int64_t n = 0;
    return absl::SimpleAtoi(rest.substr(0, rest.find_first_of(" \t")), &n) ? n : -1;
  }
  return -1;
}

// What a /proc/<pid>/stat file says of its process.
struct ProcStat {
  std::string comm;  // the command name, as between the parentheses
  pid_t ppid = 0;
  double cpu_seconds = 0;  // user + system so far
};

// The /proc/<pid>/stat file `path` read; nullopt when it is missing or not
// in the kernel's form ("pid (comm) state ppid ...", utime and stime the
// 14th and 15th fields). The name may hold spaces and parentheses: the
// fields are read after its last ')'.
inline std::optional<ProcStat> ReadProcStat(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t open = line.find('(');
  const size_t close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open ||
      close + 2 > line.size()) {
    return std::nullopt;
  }
  // From the state (field 3) on.
  const std::vector<absl::string_view> rest =
      absl::StrSplit(absl::string_view(line).substr(close + 2), ' ');
  ProcStat stat;
  int64_t ppid = 0, utime = 0, stime = 0;
  if (rest.size() < 13 || !absl::SimpleAtoi(rest[1], &ppid) ||
      !absl::SimpleAtoi(rest[11], &utime) || !absl::SimpleAtoi(rest[12], &stime)) {
    return std::nullopt;
  }
  stat.comm = line.substr(open + 1, close - open - 1);
  stat.ppid = static_cast<pid_t>(ppid);
  stat.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return stat;
}

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_PROC_FIELDS_H_
