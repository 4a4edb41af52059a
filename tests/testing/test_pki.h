// The test PKI: certificates made by certs/make-dev-pki.sh into
// $KINEX_BINARY_DIR/test-pki by the `test_pki` ctest fixture, which every
// kinex_cc_test requires.
//
// Example:
//   kinex::TlsFiles client = kinex::testing::AgencyTlsFiles(
//       "virtual-school", "E09000033", "virtual-school-head");
#ifndef KINEX_TESTS_TESTING_TEST_PKI_H_
#define KINEX_TESTS_TESTING_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "services/common/tls.h"

namespace kinex::testing {

// The directory holding the test PKI ($KINEX_TEST_PKI_DIR, else
// <build dir>/test-pki; see paths.h).
std::string TestPkiDir();

// The trust domain of the test PKI.
inline constexpr char kTrustDomain[] = "kinex.dev";

// mTLS files for a service identity (gateway, policy, consent, audit,
// records), with the CRL directory.
TlsFiles ServiceTlsFiles(const std::string& service);

// mTLS files for an agency listed in certs/agencies.txt.
TlsFiles AgencyTlsFiles(const std::string& kind, const std::string& code, const std::string& role);

// mTLS files for a negative fixture: "expired", "revoked", "other-ca",
// "no-san", "two-uris", and "undeclared-<kind>" for each agency kind (role
// "caretaker", or "intern" for auditor: not declared in policy/roles.textproto).
TlsFiles NegativeTlsFiles(const std::string& name);

// The serial number (upper-case hex) of the first certificate in a PEM
// file; "" when there is none.
std::string SerialOf(const std::string& pem_file);

// A CRL for WriteCrl.
struct CrlSpec {
  // Serial numbers (hex) to revoke.
  std::vector<std::string> revoked;
  // thisUpdate is now; nextUpdate this far after it (negative: expired).
  absl::Duration valid_for = absl::Hours(24);
  // The signing key (PEM); default the test PKI's CA key. The issuer is
  // always the test CA's name.
  std::string key_file;
};

// Writes a PEM CRL of the test CA to `path` (atomically: a watcher never
// sees half of it). Fails naming what could not be read or written.
absl::Status WriteCrl(const std::string& path, const CrlSpec& spec);

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_TEST_PKI_H_
