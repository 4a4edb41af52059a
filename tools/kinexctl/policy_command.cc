#include "tools/kinexctl/policy_command.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/common/textproto.h"
#include "services/policy/access_matrix.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"
#include "services/policy/policy_test_runner.h"

namespace kinex::ctl {
namespace {

namespace pv1 = ::kinex::policy::v1;
using kinex::policy::Schema;

constexpr char kUsage[] =
    "usage: kinexctl policy <command> [DIR] [options]\n"
    "\n"
    "Offline tools for policy authors; DIR is a policy directory (default\n"
    "\"policy\"). No server is contacted.\n"
    "\n"
    "  validate [DIR]                 load and validate every *.textproto in\n"
    "                                 DIR; print the policy version\n"
    "  test [DIR] [--tests=TESTS]     run the policy test cases in TESTS\n"
    "                                 (default DIR/tests); exit 1 on failure\n"
    "  matrix [DIR]                   print the access matrix as Markdown\n"
    "                                 (docs/access-matrix.md is generated so)\n"
    "  explain [DIR] --request=FILE   decide the kinex.policy.v1.\n"
    "                                 DecisionRequest textproto in FILE; print\n"
    "                                 the decision and a readable trace\n";

// Parses `words` (after the sub-command); returns the directory or fails.
absl::StatusOr<std::string> PolicyDir(Args& args) {
  if (args.positional().size() > 1) {
    return absl::InvalidArgumentError(
        "expected at most one policy directory (see kinexctl policy --help)");
  }
  return args.positional().empty() ? std::string("policy") : args.positional()[0];
}

int RunPolicy(CommandContext& ctx, const std::vector<std::string>& words) {
  ctx.SetUsage(kUsage);
  if (words.empty() || WantsHelp(words)) return ctx.PrintUsage(kUsage, !words.empty());
  const std::string command = words[0];
  if (command != "test" && command != "validate" && command != "matrix" && command != "explain") {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unknown policy command \"", command, "\" (see kinexctl policy --help)")));
  }
  absl::StatusOr<Args> args =
      Args::Parse(std::vector<std::string>(words.begin() + 1, words.end()), {"help"});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help")) {
    ctx.out() << kUsage;
    return 0;
  }
  const std::string tests = args->FlagOr("tests", "");
  const std::string request_file = args->FlagOr("request", "");
  if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  absl::StatusOr<std::string> dir = PolicyDir(*args);
  if (!dir.ok()) return ctx.Fail(dir.status());

  if (command == "test") {
    absl::StatusOr<kinex::policy::PolicyTestReport> report =
        kinex::policy::RunPolicyTestDir(*dir, tests);
    if (!report.ok()) return ctx.Fail(report.status());
    ctx.out() << report->Summary();
    return report->ok() ? 0 : 1;
  }
  if (!tests.empty()) {
    return ctx.Fail(absl::InvalidArgumentError("--tests is for policy test"));
  }
  auto policy = kinex::policy::LoadPolicyDir(*dir, Schema::ChildRecordSchema());
  if (!policy.ok()) return ctx.Fail(policy.status());
  if (command == "validate") {
    ctx.out() << "policy OK: version " << (*policy)->version << ", " << (*policy)->rules.size()
              << " rules, " << (*policy)->recorders.size() << " consent recorders, "
              << (*policy)->files.size() << " files\n";
    return 0;
  }
  if (command == "matrix") {
    ctx.out() << kinex::policy::AccessMatrixMarkdown(**policy);
    return 0;
  }
  if (command == "explain") {
    if (request_file.empty()) {
      return ctx.Fail(absl::InvalidArgumentError(
          "policy explain needs --request=FILE (a DecisionRequest textproto)"));
    }
    pv1::DecisionRequest request;
    if (absl::Status s = kinex::ParseTextProtoFile(request_file, &request); !s.ok()) {
      return ctx.Fail(s);
    }
    std::vector<std::string> trace;
    kinex::policy::Evaluation e = kinex::policy::Evaluate(**policy, request, &trace);
    std::string text;
    google::protobuf::TextFormat::PrintToString(e.decision, &text);
    ctx.out() << text << "\ntrace:\n";
    for (const std::string& line : trace) ctx.out() << "  " << line << "\n";
    return 0;
  }
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown policy command \"", command, "\" (see kinexctl policy --help)")));
}

}  // namespace

CommandGroup MakePolicyCommandGroup() {
  return {"policy", "Validate, test and explain policy sets; print the access matrix", RunPolicy};
}

}  // namespace kinex::ctl
