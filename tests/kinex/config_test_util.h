// Helpers for tests of `kinex` configuration (services/kinex/config.h): the
// TLS flags every load needs, and a config file in a fresh temp dir.
#ifndef KINEX_TESTS_KINEX_CONFIG_TEST_UTIL_H_
#define KINEX_TESTS_KINEX_CONFIG_TEST_UTIL_H_

#include <fstream>
#include <string>

#include "services/kinex/config.h"
#include "tests/testing/temp_dir.h"

namespace kinex::testing {

// Flags naming (nonexistent) TLS files: LoadConfig needs the three set.
inline ConfigFlags WithTls() {
  ConfigFlags f;
  f.tls_ca = "ca.pem";
  f.tls_cert = "c.pem";
  f.tls_key = "c.key";
  return f;
}

// Writes `text` to a kinex.textproto in a new temp dir; returns its path.
inline std::string WriteConfig(const std::string& text) {
  const std::string path = MakeUniqueTempDir() + "/kinex.textproto";
  std::ofstream(path) << text;
  return path;
}

}  // namespace kinex::testing

#endif  // KINEX_TESTS_KINEX_CONFIG_TEST_UTIL_H_
