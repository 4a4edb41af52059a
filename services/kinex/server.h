// One running `kinex` process: the gRPC server for its target over mTLS,
// with the health service on its port (and server reflection only when
// server.enable_reflection asks for it), every call bounded (see server.cc)
// and counted, and Prometheus metrics on config listen.metrics
// (process_metrics.h).
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto server, KinexServer::Start(config, clock));
//   std::cout << server->address();  // "127.0.0.1:41234" when port 0 was asked
//   server->Shutdown(absl::Seconds(5));
#ifndef KINEX_SERVICES_KINEX_SERVER_H_
#define KINEX_SERVICES_KINEX_SERVER_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <prometheus/exposer.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kinex/config/v1/config.pb.h"
#include "services/common/clock.h"
#include "services/common/tls.h"
#include "services/kinex/process_metrics.h"
#include "services/kinex/reflection_service.h"
#include "services/kinex/targets.h"

namespace kinex {

// A started server. Thread-safe: Reload and Shutdown may be called from a
// signal-handling thread while Wait blocks in another.
class KinexServer {
 public:
  ~KinexServer();

  // Builds the target's services and starts serving. Fails naming the bad
  // certificate, key, address or store.
  static absl::StatusOr<std::unique_ptr<KinexServer>> Start(
      const kinex::config::v1::KinexConfig& config, const Clock& clock);

  // The address actually bound, host:port.
  const std::string& address() const { return address_; }
  // Where Prometheus metrics are served, host:port.
  const std::string& metrics_address() const { return metrics_address_; }
  // Reloads what the target can reload (policy, on SIGHUP; counted in
  // kinex_policy_reloads_total) and the CRLs of tls.crl_dir.
  absl::Status Reload();
  // Stops accepting calls; in-flight calls get `grace` to finish.
  void Shutdown(absl::Duration grace);
  // Blocks until the server has shut down.
  void Wait() { server_->Wait(); }

 private:
  KinexServer() = default;
  // Starts the metrics endpoint on config listen.metrics.
  absl::Status ServeMetrics(const kinex::config::v1::KinexConfig& config);

  // Destroyed in reverse: the server (whose interceptors count into
  // metrics_) before the exposer, both before what they read.
  Targets targets_;
  std::unique_ptr<ProcessMetrics> metrics_;
  std::shared_ptr<PeerCertificateChecker> peer_checker_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<ReflectionServices> reflection_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::string metrics_address_;
};

}  // namespace kinex

#endif  // KINEX_SERVICES_KINEX_SERVER_H_
