// Valid, fictional child identifiers for tests: NHS numbers with a correct
// modulus-11 check digit and permanent UPNs with a correct check letter,
// derived from a seed so each test can make its own children.
//
// Example:
//   const std::string nhs = kinex::testing::TestNhs(42);   // "4000000427"-like
//   const std::string upn = kinex::testing::TestUpn(7);
#ifndef KINEX_TESTS_TESTING_TEST_IDENTIFIERS_H_
#define KINEX_TESTS_TESTING_TEST_IDENTIFIERS_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/identifiers.h"

namespace kinex::testing {

// A valid NHS number derived from `seed` (0 <= seed < 10^8).
inline std::string TestNhs(int seed) {
  for (int s = seed;; s += 100000000 / 7) {
    const std::string nine = absl::StrFormat("4%08d", s % 100000000);
    const int check = kinex::NhsNumberCheckDigit(nine);
    if (check >= 0) return absl::StrCat(nine, check);
  }
}

// A valid permanent UPN derived from `seed` (0 <= seed < 100000).
inline std::string TestUpn(int seed) {
  const std::string twelve = absl::StrFormat("2011000%02d%03d", seed / 1000 % 100, seed % 1000);
  return absl::StrCat(std::string(1, kinex::UpnCheckLetter(twelve)), twelve);
}

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_TEST_IDENTIFIERS_H_
