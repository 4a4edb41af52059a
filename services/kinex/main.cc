// kinex: the Kinex server. One binary, several targets:
//   kinex --target=all      every service in one process (embedded SQLite)
//   kinex --target=gateway  the public front door only (likewise policy,
//                           consent, audit, records)
// Serves only over mutual TLS. Prints one JSON line to stdout when serving
// ({"msg":"serving","address":...}); logs JSON lines to stderr.
// SIGTERM/SIGINT: clean shutdown. SIGHUP: reload policy.
#include <signal.h>

#include <iostream>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "services/common/clock.h"
#include "services/common/log.h"
#include "services/kinex/config.h"
#include "services/kinex/server.h"

// Every flag, from the one table (services/kinex/config.h).
#define KINEX_DECLARE_FLAG(name, field, help) \
  ABSL_FLAG(std::optional<std::string>, name, std::nullopt, help);
KINEX_CONFIG_FLAGS(KINEX_DECLARE_FLAG)
#undef KINEX_DECLARE_FLAG

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Kinex secure data-exchange gateway.\n"
      "  kinex --target=all --tls_ca=ca.pem --tls_cert=gateway.pem "
      "--tls_key=gateway.key [--config=kinex.textproto]");
  // `kinex --help` lists the flags of this file (the table); Abseil's
  // default would look for kinex.cc or kinex_main.cc and find none.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "services/kinex/main.cc");
  };
  absl::SetFlagsUsageConfig(usage);
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
    std::cerr << "kinex: bad configuration: " << config.status().message() << "\n";
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
