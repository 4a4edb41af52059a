// Where tests find the source tree (policy files, proto files) and the build
// tree (test PKI, binaries). The environment wins (KINEX_SOURCE_DIR,
// KINEX_BINARY_DIR), else the directories the test was configured with.
#ifndef KINEX_TESTS_TESTING_PATHS_H_
#define KINEX_TESTS_TESTING_PATHS_H_

#include <stdlib.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace kinex::testing {

// The repository root.
inline std::string SourceDir() {
  if (const char* dir = std::getenv("KINEX_SOURCE_DIR")) return dir;
#ifdef KINEX_SOURCE_DIR_DEFAULT
  return KINEX_SOURCE_DIR_DEFAULT;
#else
  return ".";
#endif
}

// The CMake build directory.
inline std::string BinaryDir() {
  if (const char* dir = std::getenv("KINEX_BINARY_DIR")) return dir;
#ifdef KINEX_BINARY_DIR_DEFAULT
  return KINEX_BINARY_DIR_DEFAULT;
#else
  return ".";
#endif
}

// (Temporary directories: tests/testing/temp_dir.h.)

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_PATHS_H_
