// What this binary was built from: the CMake project version (root
// CMakeLists.txt `project(kinex VERSION ...)`) and the git commit of the
// source tree, captured at build time ("unknown" outside a git checkout).
// `kinex --version`, `kinexctl version` and the kinex_build_info metric use
// it.
//
// Example:
//   std::cout << kinex::VersionLine("kinex") << "\n";  // kinex 0.1.0 (1a2b3c4d5e6f)
#ifndef KINEX_SERVICES_COMMON_BUILD_INFO_H_
#define KINEX_SERVICES_COMMON_BUILD_INFO_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kinex {

// The project version, e.g. "0.1.0".
absl::string_view BuildVersion();
// The abbreviated git commit the binary was built from, or "unknown".
absl::string_view BuildCommit();
// "<program> <version> (<commit>)".
std::string VersionLine(absl::string_view program);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_BUILD_INFO_H_
