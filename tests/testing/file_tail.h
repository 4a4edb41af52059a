// The end of a file, for failure messages that show what a process the test
// started (a server, a kinex target) last wrote to its log.
//
// Example:
//   ADD_FAILURE() << "did not stop; its log ends:\n" << FileTail(log_path, 4000);
#ifndef KINEX_TESTS_TESTING_FILE_TAIL_H_
#define KINEX_TESTS_TESTING_FILE_TAIL_H_

#include <fstream>
#include <sstream>
#include <string>

namespace kinex::testing {

// The last `max_bytes` bytes of the file at `path` (all of it when shorter;
// empty when it cannot be read).
inline std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_FILE_TAIL_H_
