// Builds the gRPC services one `kinex` process runs for its --target. In
// --target=all every service runs in this process and calls between them
// stay in process behind the same C++ interfaces; otherwise one service runs
// and reaches the others over mTLS (config.upstream).
#ifndef KINEX_SERVICES_KINEX_TARGETS_H_
#define KINEX_SERVICES_KINEX_TARGETS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>
#include <prometheus/collectable.h>

#include "absl/status/statusor.h"
#include "kinex/config/v1/config.pb.h"
#include "services/common/clock.h"

namespace kinex {

// The services of one process, and what keeps them alive.
struct Targets {
  // Cores, stores, clients and servers the services point into. Declared
  // first so it is destroyed last.
  std::shared_ptr<void> owned;
  // Services to register (owned by `owned`).
  std::vector<grpc::Service*> services;
  // Full names of the services, for the health service
  // (e.g. "kinex.exchange.v1.Exchange").
  std::vector<std::string> service_names;
  // Of service_names, those agencies may not call though this port serves
  // them (--target=all's internal Policy and Records): reflection does not
  // list them.
  std::vector<std::string> unlisted_service_names;
  // Called when shutdown begins, before the server stops taking calls:
  // ends long-lived streams (notification watches) at once, telling clients
  // to reconnect, instead of holding them to the end of the grace period.
  std::function<void()> before_shutdown = [] {};
  // Reloads what can be reloaded (policy on SIGHUP); OK when nothing can.
  std::function<absl::Status()> reload = [] { return absl::OkStatus(); };
  // Metrics the target's parts keep (the gateway's request and decision
  // counts) or read when scraped (policy version, audit log size), served
  // on listen.metrics beside the process's own (process_metrics.h).
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
};

// Builds the services for config.target(). Fails naming what could not be
// opened (a storage file, a key, the policy directory).
absl::StatusOr<Targets> BuildTargets(const kinex::config::v1::KinexConfig& config,
                                     const Clock& clock);

}  // namespace kinex

#endif  // KINEX_SERVICES_KINEX_TARGETS_H_
