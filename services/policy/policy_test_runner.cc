#include "services/policy/policy_test_runner.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"
#include "services/common/textproto.h"
#include "services/policy/evaluator.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace rv1 = ::kinex::record::v1;

std::string Show(const pv1::WithheldCategory& w) {
  return absl::StrCat(rv1::Category_Name(w.category()), " ", pv1::WithheldReason_Name(w.reason()),
                      w.rule_id().empty() ? "" : " rule=" + w.rule_id(),
                      w.partial() ? " partial" : "");
}

std::string Show(int obligation) { return pv1::Obligation_Name(obligation); }

std::string Show(const pv1::AppliedRowFilter& f) {
  return absl::StrCat(f.repeated_field(), "[", f.key_field(), "=", f.equals(), "]");
}

std::string Show(const std::string& s) { return s; }

std::string Show(const pv1::Ground& g) {
  std::vector<std::string> gateways;
  for (int x : g.declared().gateways()) {
    gateways.push_back(kinex::common::v1::StatutoryGateway_Name(x));
  }
  return absl::StrCat(rv1::Category_Name(g.category()), "/", rv1::Sensitivity_Name(g.sensitivity()),
                      " rule=", g.rule_id(), " ",
                      kinex::common::v1::Article6Basis_Name(g.declared().article6()),
                      g.met() == 0 ? "" : " met=" + kinex::common::v1::LegalBasis_Name(g.met()),
                      g.consent_id().empty() ? "" : " consent=" + g.consent_id(), " [",
                      absl::StrJoin(gateways, ","), "]");
}

std::vector<std::string> CategoryNames(const google::protobuf::RepeatedField<int>& cs) {
  std::vector<std::string> out;
  for (int c : cs) out.push_back(rv1::Category_Name(c));
  return out;
}

// Appends "what: missing [...]; unexpected [...]" when the sets differ.
template <typename Container>
void CompareSets(const std::string& what, const Container& actual, const Container& expected,
                 std::vector<std::string>* out) {
  std::set<std::string> a, e;
  for (const auto& x : actual) a.insert(Show(x));
  for (const auto& x : expected) e.insert(Show(x));
  std::vector<std::string> missing, unexpected;
  std::set_difference(e.begin(), e.end(), a.begin(), a.end(), std::back_inserter(missing));
  std::set_difference(a.begin(), a.end(), e.begin(), e.end(), std::back_inserter(unexpected));
  if (missing.empty() && unexpected.empty()) return;
  out->push_back(absl::StrCat(what, ": missing [", absl::StrJoin(missing, ", "), "], unexpected [",
                              absl::StrJoin(unexpected, ", "), "]"));
}

}  // namespace

int PolicyTestReport::passed() const {
  int n = 0;
  for (const auto& r : results) n += r.failures.empty() ? 1 : 0;
  return n;
}

int PolicyTestReport::failed() const { return static_cast<int>(results.size()) - passed(); }

bool PolicyTestReport::ok() const { return !results.empty() && failed() == 0; }

std::string PolicyTestReport::Summary() const {
  std::string out;
  for (const PolicyTestResult& r : results) {
    absl::StrAppend(&out, r.failures.empty() ? "PASS " : "FAIL ", r.file, ": ", r.name, "\n");
    for (const std::string& f : r.failures) {
      absl::StrAppend(&out, "  ", f, "\n");
    }
    if (!r.failures.empty()) {
      absl::StrAppend(&out, "  actual decision as an expectation:\n    ",
                      absl::StrJoin(absl::StrSplit(r.actual, '\n', absl::SkipEmpty()), "\n    "),
                      "\n");
    }
  }
  absl::StrAppend(&out, passed(), " passed, ", failed(), " failed\n");
  if (results.empty()) absl::StrAppend(&out, "no policy test cases ran\n");
  return out;
}

std::vector<std::string> CompareDecision(const pv1::Decision& actual,
                                         const pv1::PolicyTestExpectation& expected) {
  std::vector<std::string> out;
  if (actual.allowed() != expected.allowed()) {
    out.push_back(
        absl::StrCat("allowed: expected ", expected.allowed(), ", got ", actual.allowed(),
                     actual.deny_reason().empty() ? "" : " (" + actual.deny_reason() + ")"));
  }
  CompareSets("visible_paths", actual.allowed_paths(), expected.visible_paths(), &out);
  CompareSets("withheld", actual.withheld(), expected.withheld(), &out);
  CompareSets("obligations", actual.obligations(), expected.obligations(), &out);
  CompareSets("row_filters", actual.row_filters(), expected.row_filters(), &out);
  CompareSets("shielded", CategoryNames(actual.shielded()), CategoryNames(expected.shielded()),
              &out);
  if (expected.check_grounds()) {
    CompareSets("grounds", actual.grounds(), expected.grounds(), &out);
  }
  return out;
}

pv1::PolicyTestExpectation ExpectationFor(const pv1::Decision& decision) {
  pv1::PolicyTestExpectation e;
  e.set_allowed(decision.allowed());
  *e.mutable_visible_paths() = decision.allowed_paths();
  *e.mutable_withheld() = decision.withheld();
  *e.mutable_obligations() = decision.obligations();
  *e.mutable_row_filters() = decision.row_filters();
  *e.mutable_shielded() = decision.shielded();
  if (!decision.grounds().empty()) {
    e.set_check_grounds(true);
    *e.mutable_grounds() = decision.grounds();
  }
  return e;
}

absl::StatusOr<PolicyTestReport> RunPolicyTests(const CompiledPolicy& policy,
                                                const std::vector<std::string>& test_files) {
  PolicyTestReport report;
  for (const std::string& file : test_files) {
    pv1::PolicyTestFile tests;
    google::protobuf::TextFormat::ParseInfoTree tree;
    KINEX_ASSIGN_OR_RETURN(std::string text, kinex::ReadFileToString(file));
    if (absl::Status s = kinex::ParseTextProto(text, file, &tests, &tree); !s.ok()) {
      return RefineParseError(s, text, file);
    }
    std::set<std::string> names;
    const auto* cases_field = pv1::PolicyTestFile::descriptor()->FindFieldByName("cases");
    for (int i = 0; i < tests.cases_size(); ++i) {
      const pv1::PolicyTestCase& c = tests.cases(i);
      const auto loc = tree.GetLocation(cases_field, i);
      const std::string where = absl::StrCat(file, ":", loc.line + 1, ":", loc.column + 1);
      if (c.name().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": policy test case has no name"));
      }
      if (!names.insert(c.name()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": duplicate policy test case name \"", c.name(), "\""));
      }
      Evaluation e = Evaluate(policy, c.request());
      PolicyTestResult r;
      r.file = file;
      r.name = c.name();
      r.failures = CompareDecision(e.decision, c.expect());
      if (!r.failures.empty()) {
        google::protobuf::TextFormat::Printer printer;
        printer.PrintToString(ExpectationFor(e.decision), &r.actual);
      }
      report.results.push_back(std::move(r));
    }
  }
  return report;
}

absl::StatusOr<PolicyTestReport> RunPolicyTestDir(const std::string& policy_dir,
                                                  const std::string& tests_dir) {
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledPolicy> policy,
                         LoadPolicyDir(policy_dir, Schema::ChildRecordSchema()));
  const std::string dir =
      tests_dir.empty() ? (std::filesystem::path(policy_dir) / "tests").string() : tests_dir;
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".textproto") {
      files.push_back(entry.path().string());
    }
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list policy test directory \"", dir, "\": ", ec.message()));
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no *.textproto policy test files in \"", dir, "\""));
  }
  std::sort(files.begin(), files.end());
  return RunPolicyTests(*policy, files);
}

}  // namespace kinex::policy
