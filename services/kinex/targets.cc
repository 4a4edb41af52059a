#include "services/kinex/targets.h"

#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "kinex/records/v1/records.grpc.pb.h"

namespace kinex {
namespace {

// Adds a service whose methods all answer UNIMPLEMENTED: the generated base
// class. Used for a service whose own issue has not landed yet, so the
// contract (the .proto) is already served and discoverable by reflection.
template <typename Service>
void AddUnimplemented(Targets& t, const char* full_name) {
  t.services.push_back(std::make_unique<Service>());
  t.service_names.push_back(full_name);
}

}  // namespace

absl::StatusOr<Targets> BuildTargets(const kinex::config::v1::KinexConfig& config,
                                     const Clock& clock) {
  Targets t;
  const std::string& target = config.target();
  const bool all = target == "all";
  if (all || target == "gateway") {
    AddUnimplemented<kinex::exchange::v1::Exchange::Service>(t, "kinex.exchange.v1.Exchange");
  }
  if (all || target == "consent") {
    AddUnimplemented<kinex::consent::v1::Consent::Service>(t, "kinex.consent.v1.Consent");
  }
  if (all || target == "records") {
    AddUnimplemented<kinex::records::v1::Records::Service>(t, "kinex.records.v1.Records");
  }
  return t;
}

}  // namespace kinex
