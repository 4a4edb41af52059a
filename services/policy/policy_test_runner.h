// Runs policy test files (kinex.policy.v1.PolicyTestFile textprotos, e.g.
// policy/tests/*.textproto) against a compiled policy: each case's request
// is decided and compared exactly with its expectation (allowed, visible
// paths, withheld categories with reasons, obligations, row filters).
// `kinexctl policy test <dir>` and the test suite both use it.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(PolicyTestReport report,
//                          RunPolicyTestDir("policy", "policy/tests"));
//   std::cout << report.Summary();
//   return report.ok() ? 0 : 1;
#ifndef KINEX_SERVICES_POLICY_POLICY_TEST_RUNNER_H_
#define KINEX_SERVICES_POLICY_POLICY_TEST_RUNNER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/policy/compiled_policy.h"

namespace kinex::policy {

// The outcome of one case.
struct PolicyTestResult {
  std::string file;
  std::string name;
  // Empty when the case passed; otherwise one line per difference, and the
  // actual decision as an expectation textproto (to help authors).
  std::vector<std::string> failures;
  std::string actual;
};

// The outcome of a run.
struct PolicyTestReport {
  std::vector<PolicyTestResult> results;
  int passed() const;
  int failed() const;
  // True when at least one case ran and none failed.
  bool ok() const;
  // "PASS file: name" / "FAIL file: name" lines with differences, and a
  // total line.
  std::string Summary() const;
};

// Compares a decision with an expectation; one line per difference.
std::vector<std::string> CompareDecision(const kinex::policy::v1::Decision& actual,
                                         const kinex::policy::v1::PolicyTestExpectation& expected);

// The expectation that `decision` would meet exactly.
kinex::policy::v1::PolicyTestExpectation ExpectationFor(
    const kinex::policy::v1::Decision& decision);

// Runs every case of the given test files. INVALID_ARGUMENT (file:line) when
// a file does not parse or a case has no name or a duplicate name.
absl::StatusOr<PolicyTestReport> RunPolicyTests(const CompiledPolicy& policy,
                                                const std::vector<std::string>& test_files);

// Loads the policy set in `policy_dir` and runs every *.textproto in
// `tests_dir` (default: `policy_dir`/tests). INVALID_ARGUMENT when the
// directory holds no test files.
absl::StatusOr<PolicyTestReport> RunPolicyTestDir(const std::string& policy_dir,
                                                  const std::string& tests_dir = "");

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_TEST_RUNNER_H_
