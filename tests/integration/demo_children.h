// The fictional demo children in tools/demo/children/<slug>/: which agency
// owns (publishes) each part, derived from the JSON itself — the LA code from
// la.json's child reference, the school URN from school.json's scope — and a
// helper that publishes a child part by part through the public API, the LA
// first and the others by the Kinex id its publish returned (as
// tools/demo/seed.sh does).
#ifndef KINEX_TESTS_INTEGRATION_DEMO_CHILDREN_H_
#define KINEX_TESTS_INTEGRATION_DEMO_CHILDREN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kinex/exchange/v1/exchange.pb.h"
#include "tests/integration/cluster.h"

namespace kinex::testing {

// An agency from certs/agencies.txt.
struct Agency {
  std::string kind;
  std::string code;
  std::string role;
  // Its certificate's base name under the PKI ("agencies/<kind>-<code>-<role>").
  std::string CertBase() const;
};

// One part of a demo child and the agency that owns it.
struct DemoPart {
  std::string file;  // e.g. "la.json"
  Agency owner;
  kinex::exchange::v1::PublishRecordRequest request;
};

// The demo children's slugs, sorted.
std::vector<std::string> DemoChildren();

// The parts of demo child `slug` in publishing order: la.json first, then
// school, health, virtual-school and police parts where present.
absl::StatusOr<std::vector<DemoPart>> DemoParts(const std::string& slug);

// Publishes every part of `slug` through the cluster's gateway, each as its
// owner (x-kinex-actor `actor`). Returns the child's Kinex id.
absl::StatusOr<std::string> PublishDemoChild(const KinexCluster& cluster, const std::string& slug,
                                             const std::string& actor = "seeder");

}  // namespace kinex::testing

#endif  // KINEX_TESTS_INTEGRATION_DEMO_CHILDREN_H_
