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
#include "absl/synchronization/mutex.h"
#include "absl/flags/usage.h"
#include "services/common/clock.h"
#include "services/common/log.h"
#include "services/kinex/config.h"
#include "services/kinex/server.h"

ABSL_FLAG(std::string, config, "", "Textproto configuration file (kinex.config.v1.KinexConfig)");
ABSL_FLAG(std::optional<std::string>, target, std::nullopt,
          "all|gateway|policy|consent|audit|records (default all)");
ABSL_FLAG(std::optional<std::string>, data_dir, std::nullopt,
          "Directory for SQLite stores (default data)");
ABSL_FLAG(std::optional<std::string>, trust_domain, std::nullopt,
          "SPIFFE trust domain (default kinex.dev)");
ABSL_FLAG(std::optional<std::string>, tls_ca, std::nullopt, "Kinex CA certificate (PEM)");
ABSL_FLAG(std::optional<std::string>, tls_cert, std::nullopt, "This service's certificate (PEM)");
ABSL_FLAG(std::optional<std::string>, tls_key, std::nullopt, "This service's private key (PEM, 0600)");
ABSL_FLAG(std::optional<std::string>, tls_crl_dir, std::nullopt,
          "Directory of hashed CRLs (<hash>.r0); revoked peers are refused");
ABSL_FLAG(std::optional<std::string>, listen, std::nullopt,
          "host:port for this target (port 0 picks a free port)");
ABSL_FLAG(std::optional<std::string>, metrics_listen, std::nullopt,
          "host:port for Prometheus metrics (default 127.0.0.1:9464)");
ABSL_FLAG(std::optional<std::string>, policy_dir, std::nullopt,
          "Directory of PolicySet files (default policy)");
ABSL_FLAG(std::optional<std::string>, audit_signing_key, std::nullopt,
          "PEM Ed25519 key signing audit tree heads (0600)");
ABSL_FLAG(std::optional<std::string>, audit_pseudonym_key, std::nullopt,
          "HMAC key pseudonymising children in the audit log (0600)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Kinex secure data-exchange gateway.\n"
      "  kinex --target=all --tls_ca=ca.pem --tls_cert=gateway.pem "
      "--tls_key=gateway.key [--config=kinex.textproto]");
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock
  // detection on: a global graph update on every lock, gRPC's included.
  // The tests keep it; a serving process does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  kinex::ConfigFlags flags{
      absl::GetFlag(FLAGS_target),       absl::GetFlag(FLAGS_data_dir),
      absl::GetFlag(FLAGS_trust_domain), absl::GetFlag(FLAGS_tls_ca),
      absl::GetFlag(FLAGS_tls_cert),     absl::GetFlag(FLAGS_tls_key),
      absl::GetFlag(FLAGS_tls_crl_dir),  absl::GetFlag(FLAGS_listen),
      absl::GetFlag(FLAGS_metrics_listen), absl::GetFlag(FLAGS_policy_dir),
      absl::GetFlag(FLAGS_audit_signing_key), absl::GetFlag(FLAGS_audit_pseudonym_key)};
  absl::StatusOr<kinex::config::v1::KinexConfig> config =
      kinex::LoadConfig(absl::GetFlag(FLAGS_config), flags);
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
