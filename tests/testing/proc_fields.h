// One numeric field of a /proc file, for benchmarks and tests that watch a
// process (resident memory, threads, bytes written).
//
// Example:
//   const int64_t rss_kb = kinex::testing::ProcField("/proc/self/status", "VmRSS");
//   const int64_t written = kinex::testing::ProcField("/proc/self/io", "wchar");
#ifndef KINEX_TESTS_TESTING_PROC_FIELDS_H_
#define KINEX_TESTS_TESTING_PROC_FIELDS_H_

#include <cstdint>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
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

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_PROC_FIELDS_H_
