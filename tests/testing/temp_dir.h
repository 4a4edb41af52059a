// The one way tests make a temporary directory (header-only, any test).
//
// ctest runs tests in parallel processes, so every directory is new and this
// process's own (mkdtemp under $TEST_TMPDIR, else $TMPDIR, else /tmp, as
// GoogleTest's TempDir() chooses; no gtest dependency, so the load benchmark
// can use it too); nothing is shared by a fixed name.
//
// Example:
//   ScopedTempDir dir("audit");            // removed with everything in it
//   Open(dir.File("audit.db"));
//   std::string kept = MakeUniqueTempDir("cluster");  // left for post-mortems
#ifndef KINEX_TESTS_TESTING_TEMP_DIR_H_
#define KINEX_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/string_view.h"

namespace kinex::testing {

// A new, empty directory `<tmp>/<prefix>-XXXXXX`, left in place.
// Aborts if it cannot be made (a test cannot run without it).
inline std::string MakeUniqueTempDir(absl::string_view prefix = "kinex") {
  const char* base = std::getenv("TEST_TMPDIR");
  if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
  std::string tmpl = base != nullptr && *base != '\0' ? base : "/tmp";
  if (tmpl.empty() || tmpl.back() != '/') tmpl += '/';
  tmpl.append(prefix.data(), prefix.size());
  tmpl += "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

// A MakeUniqueTempDir removed, with its contents, when this object dies.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(absl::string_view prefix = "kinex") : path_(MakeUniqueTempDir(prefix)) {}
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }
  // `<path>/<name>`.
  std::string File(absl::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_TEMP_DIR_H_
