// kinex: the Kinex server. One binary, several targets:
//   kinex --target=all      every service in one process (embedded SQLite)
//   kinex --target=gateway  the public front door only (likewise policy,
//                           consent, audit, records)
// Serves only over mutual TLS. Prints one JSON line to stdout when serving
// ({"msg":"serving","address":...}); logs JSON lines to stderr.
// SIGTERM/SIGINT: clean shutdown. SIGHUP: reload policy.
// `kinex --help` prints the usage and every flag to stdout and exits 0;
// `kinex --version` prints "kinex <version> (<git commit>)" and exits 0.
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "services/common/build_info.h"
#include "services/common/clock.h"
#include "services/common/log.h"
#include "services/kinex/config.h"
#include "services/kinex/server.h"

// Every flag, from the one table (services/kinex/config.h).
#define KINEX_DECLARE_FLAG(name, field, help) \
  ABSL_FLAG(std::optional<std::string>, name, std::nullopt, help);
KINEX_CONFIG_FLAGS(KINEX_DECLARE_FLAG)
#undef KINEX_DECLARE_FLAG

namespace {

constexpr char kUsage[] =
    "usage: kinex [--config=FILE] [--target=TARGET] [--FLAG=VALUE ...]\n"
    "\n"
    "Kinex secure data-exchange gateway. Serves only over mutual TLS, e.g.\n"
    "  kinex --target=all --tls_ca=ca.pem --tls_cert=gateway.pem "
    "--tls_key=gateway.key [--config=kinex.textproto]\n";

// The flags of the table (services/kinex/config.h): kinex's command line.
struct FlagRow {
  const char* name;
  const char* help;
};
constexpr FlagRow kFlagRows[] = {
#define KINEX_HELP_ROW(name, field, help) {#name, help},
    KINEX_CONFIG_FLAGS(KINEX_HELP_ROW)
#undef KINEX_HELP_ROW
};

// The usage and every flag, one line each.
void PrintHelp(std::ostream& out) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const FlagRow& r : kFlagRows) rows.emplace_back(r.name, r.help);
  rows.emplace_back("help", "Print this help and exit");
  rows.emplace_back("version", "Print the version and exit");
  size_t width = 0;
  for (const auto& [name, help] : rows) width = std::max(width, name.size());
  out << kUsage << "\nFlags (each overrides the same setting in --config):\n";
  for (const auto& [name, help] : rows) {
    out << "  --" << name << std::string(width - name.size() + 2, ' ') << help << "\n";
  }
}

// A usage error: the message and the usage on stderr, exit code 2.
int UsageError(const std::string& message) {
  std::cerr << "kinex: " << message << "\n" << kUsage << "Run kinex --help for every flag.\n";
  return 2;
}

// Checks the command line before Abseil's parser, which exits 1 on a usage
// error: every word must be one of the table's flags (or Abseil's own
// --flagfile/--fromenv/--tryfromenv/--undefok) with a value. Returns the
// exit code for a usage error, or nullopt.
std::optional<int> CheckCommandLine(int argc, char** argv) {
  static constexpr const char* kAbseilFlags[] = {"flagfile", "fromenv", "tryfromenv", "undefok"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return UsageError("unexpected argument \"--\"");
    if (arg.size() < 2 || arg[0] != '-') {
      return UsageError("unexpected argument \"" + arg + "\" (kinex takes only flags)");
    }
    const size_t start = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(start, eq == std::string::npos ? eq : eq - start);
    const bool known = std::any_of(std::begin(kFlagRows), std::end(kFlagRows),
                                   [&](const FlagRow& r) { return name == r.name; }) ||
                       std::any_of(std::begin(kAbseilFlags), std::end(kAbseilFlags),
                                   [&](const char* f) { return name == f; });
    if (!known) return UsageError("unknown flag --" + name);
    if (eq == std::string::npos) {
      if (i + 1 >= argc) return UsageError("flag --" + name + " needs a value");
      ++i;
    }
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // --help and --version are answered here, before Abseil's parser: its
  // --help exits 1 and lists flags by source file.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      PrintHelp(std::cout);
      return 0;
    }
    if (arg == "--version" || arg == "-version") {
      std::cout << kinex::VersionLine("kinex") << "\n";
      return 0;
    }
  }
  if (std::optional<int> exit_code = CheckCommandLine(argc, argv)) return *exit_code;
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock
  // detection on: a global graph update on every lock, gRPC's included.
  // The tests keep it; a serving process does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  kinex::ConfigFlags flags;
#define KINEX_READ_FLAG(name, field, help) flags.name = absl::GetFlag(FLAGS_##name);
  KINEX_CONFIG_FLAGS(KINEX_READ_FLAG)
#undef KINEX_READ_FLAG
  absl::StatusOr<kinex::config::v1::KinexConfig> config =
      kinex::LoadConfig(flags.config.value_or(""), flags);
  if (!config.ok()) {
    std::cerr << "kinex: bad configuration: " << config.status().message() << "\n"
              << "Run kinex --help for every flag.\n";
    return 2;
  }

  // Handle signals synchronously in this thread: block them before any
  // server thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<kinex::KinexServer>> server =
      kinex::KinexServer::Start(*config, kinex::RealClock::Get());
  if (!server.ok()) {
    std::cerr << "kinex: cannot start target " << config->target() << ": "
              << server.status().message() << "\n";
    return 1;
  }
  kinex::LogJson(std::cout, "info", "serving",
                 {{"target", config->target()},
                  {"address", (*server)->address()},
                  {"metrics", (*server)->metrics_address()}});

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      absl::Status s = (*server)->Reload();
      kinex::LogJson(std::cerr, s.ok() ? "info" : "error", "reload",
                     {{"ok", s.ok()}, {"reason", std::string(s.message())}});
      continue;
    }
    kinex::LogJson(std::cerr, "info", "shutting down",
                   {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    (*server)->Shutdown(absl::Seconds(5));
    (*server)->Wait();
    kinex::LogJson(std::cerr, "info", "stopped", {});
    return 0;
  }
}
