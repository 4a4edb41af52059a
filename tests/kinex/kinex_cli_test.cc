// The `kinex` and `kinexctl` binaries' own command lines, run for real:
// --help on stdout with exit 0, the version line, and usage errors on stderr
// with exit 2. No server is started.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/build_info.h"
#include "services/kinex/config.h"
#include "tests/testing/subprocess.h"

namespace kinex {
namespace {

using testing::BinPath;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Subprocess;

Subprocess::Result RunBinary(std::vector<std::string> argv) {
  auto r = Subprocess::Run(argv);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Subprocess::Result{-1, "", ""};
}

constexpr char kKinexSynopsis[] =
    "usage: kinex [--config=FILE] [--target=TARGET] [--FLAG=VALUE ...]\n";

TEST(KinexCli, HelpListsEveryFlagOnStdoutAndExitsZero) {
  for (const char* help : {"--help", "-h"}) {
    Subprocess::Result r = RunBinary({BinPath("kinex"), help});
    EXPECT_EQ(r.exit_code, 0) << help;
    EXPECT_EQ(r.err, "") << help;
    EXPECT_THAT(r.out, StartsWith(kKinexSynopsis));
    const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
    // One line per row of the flag table, "  --name  help", and nothing else
    // after the heading but --help and --version.
    std::vector<std::string> flag_lines;
    bool in_flags = false;
    for (const std::string& line : lines) {
      if (line == "Flags (each overrides the same setting in --config):") {
        in_flags = true;
      } else if (in_flags && !line.empty()) {
        flag_lines.push_back(line);
      }
    }
    std::vector<std::pair<std::string, std::string>> expected;
#define KINEX_EXPECT_ROW(name, field, help) expected.emplace_back(#name, help);
    KINEX_CONFIG_FLAGS(KINEX_EXPECT_ROW)
#undef KINEX_EXPECT_ROW
    expected.emplace_back("help", "Print this help and exit");
    expected.emplace_back("version", "Print the version and exit");
    ASSERT_EQ(flag_lines.size(), expected.size()) << r.out;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_THAT(flag_lines[i],
                  ::testing::MatchesRegex(absl::StrCat("  --", expected[i].first, " +[^ ].*")));
      EXPECT_TRUE(absl::EndsWith(flag_lines[i], expected[i].second)) << flag_lines[i];
    }
  }
}

TEST(KinexCli, VersionPrintsVersionAndCommit) {
  Subprocess::Result r = RunBinary({BinPath("kinex"), "--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, absl::StrCat("kinex ", BuildVersion(), " (", BuildCommit(), ")\n"));
  EXPECT_THAT(std::string(BuildVersion()), ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  EXPECT_THAT(std::string(BuildCommit()), ::testing::MatchesRegex("unknown|[0-9a-f]{7,40}"));
}

TEST(KinexCli, UsageErrorsGoToStderrWithExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--bogus=1"}, "kinex: unknown flag --bogus\n"},
      {{"--target"}, "kinex: flag --target needs a value\n"},
      {{"serve"}, "kinex: unexpected argument \"serve\" (kinex takes only flags)\n"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {BinPath("kinex")};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Subprocess::Result r = RunBinary(argv);
    EXPECT_EQ(r.exit_code, 2) << c.message;
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, StartsWith(absl::StrCat(c.message, kKinexSynopsis)));
    EXPECT_TRUE(absl::EndsWith(r.err, "Run kinex --help for every flag.\n")) << r.err;
  }
}

TEST(KinexctlCli, VersionCommandAndFlag) {
  const std::string line = absl::StrCat("kinexctl ", BuildVersion(), " (", BuildCommit(), ")\n");
  for (const char* word : {"version", "--version"}) {
    Subprocess::Result r = RunBinary({BinPath("kinexctl"), word});
    EXPECT_EQ(r.exit_code, 0) << word;
    EXPECT_EQ(r.out, line) << word;
    EXPECT_EQ(r.err, "") << word;
  }
  Subprocess::Result r = RunBinary({BinPath("kinexctl"), "version", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("usage: kinexctl version\n"));
  r = RunBinary({BinPath("kinexctl"), "version", "now"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "kinexctl: INVALID_ARGUMENT: version takes no arguments, not \"now\"\n"
            "usage: kinexctl version\n");
}

TEST(KinexctlCli, HelpOnStdoutUsageErrorsOnStderr) {
  Subprocess::Result help = RunBinary({BinPath("kinexctl"), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.err, "");
  EXPECT_THAT(help.out, StartsWith("usage: kinexctl [--address=HOST:PORT]"));
  EXPECT_THAT(help.out, HasSubstr("\n  version        Print kinexctl's version and git commit\n"));

  Subprocess::Result none = RunBinary({BinPath("kinexctl")});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, help.out);

  Subprocess::Result unknown = RunBinary({BinPath("kinexctl"), "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.out, "");
  EXPECT_EQ(unknown.err, absl::StrCat("kinexctl: INVALID_ARGUMENT: unknown command \"frobnicate\" "
                                      "(see kinexctl --help)\n",
                                      help.out));

  // Every group: no subcommand is a usage error (stderr, 2); --help after
  // any word is help (stdout, 0).
  for (const char* group :
       {"record", "children", "links", "sharing", "consent", "audit", "policy"}) {
    Subprocess::Result r = RunBinary({BinPath("kinexctl"), group});
    EXPECT_EQ(r.exit_code, 2) << group;
    EXPECT_EQ(r.out, "") << group;
    EXPECT_THAT(r.err, StartsWith(absl::StrCat("usage: kinexctl ", group))) << group;
    r = RunBinary({BinPath("kinexctl"), group, "frobnicate", "--help"});
    EXPECT_EQ(r.exit_code, 0) << group;
    EXPECT_EQ(r.err, "") << group;
    EXPECT_THAT(r.out, StartsWith(absl::StrCat("usage: kinexctl ", group))) << group;
  }
  Subprocess::Result r = RunBinary({BinPath("kinexctl"), "health", "extra"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("kinexctl: INVALID_ARGUMENT: health takes no arguments"));
  EXPECT_THAT(r.err, HasSubstr("\nusage: kinexctl health [--service=NAME]\n"));
}

}  // namespace
}  // namespace kinex
