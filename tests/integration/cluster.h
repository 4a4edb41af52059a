// A running Kinex system made of real `kinex` processes over mTLS on
// loopback, with certificates from certs/make-dev-pki.sh:
//   kAllInOne      one process, --target=all
//   kMicroservices one process per target (records, audit, policy, consent,
//                  then gateway), each with its own service certificate,
//                  wired through their printed addresses.
// Storage is SQLite under a temp dir, or PostgreSQL (a real server started
// for the cluster) when `postgres` is set.
#ifndef KINEX_TESTS_INTEGRATION_CLUSTER_H_
#define KINEX_TESTS_INTEGRATION_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/subprocess.h"

namespace kinex::testing {

class KinexCluster {
 public:
  enum class Mode { kAllInOne, kMicroservices };
  struct Options {
    Mode mode = Mode::kAllInOne;
    // Default false: SQLite. True: a real PostgreSQL server for every store.
    bool postgres = false;
    // Extra lines for every process's textproto config.
    std::string extra_config;
    // Extra fields inside every process's records { } block (a second block
    // would not parse).
    std::string records_config;
    // Extra environment ("NAME=value") for every kinex process, e.g. to run
    // them under libfaketime (deadline_e2e_test.cc).
    std::vector<std::string> env;
    // kMicroservices: the gateway asks the policy service for every
    // decision (gateway { policy_decisions: SERVICE }) instead of deciding
    // with its own copy of the policy set (LOCAL, the default).
    bool policy_service_decides = false;
  };

  static absl::StatusOr<std::unique_ptr<KinexCluster>> Start(Options options);
  ~KinexCluster();

  // host:port of the public front door.
  const std::string& gateway_address() const { return addresses_.at("gateway"); }
  // host:port of a target's gRPC port ("all" in kAllInOne).
  std::string address(const std::string& target) const;
  // host:port of a target's Prometheus endpoint ("all" in kAllInOne).
  std::string metrics_address(const std::string& target) const;
  // The target's /metrics, in the Prometheus text format; "" when it does
  // not answer 200.
  std::string ScrapeMetrics(const std::string& target) const;
  // An mTLS channel to the gateway as an agency from certs/agencies.txt.
  std::shared_ptr<grpc::Channel> AgencyChannel(const std::string& kind, const std::string& code,
                                               const std::string& role) const;
  // An mTLS channel to `address` with a certificate base name under the PKI
  // ("agencies/...", "services/...").
  std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                         const std::string& cert_base) const;
  // Kills a target's process (SIGKILL), to prove fail-closed behaviour.
  void Kill(const std::string& target);
  // Starts a killed target again with its config and data (a crash and
  // restart). Only a target no other process dials, "all" or "gateway":
  // it comes back on new ports, and gateway_address() follows.
  absl::Status Restart(const std::string& target);
  // Stops every process and returns all they wrote to stderr (JSON logs).
  std::string Logs();
  const std::string& pki() const { return pki_; }

 private:
  KinexCluster() = default;
  absl::Status StartTarget(const std::string& target, const std::string& config_text);
  std::string LogPath(const std::string& target) const;

  Options options_;
  std::string dir_;
  std::string pki_;
  std::unique_ptr<PostgresServer> pg_;
  std::map<std::string, std::unique_ptr<Subprocess>> processes_;
  std::map<std::string, std::string> addresses_;
  std::map<std::string, std::string> metrics_;
};

// One deployment the end-to-end suites run against, named for test names.
// Runs the real kinexctl against `cluster`'s gateway with `agency`'s
// certificate (a base name under the cluster's PKI, e.g.
// "local-authority-E09000033-social-worker") as practitioner "Test User";
// `args` follow the connection flags.
absl::StatusOr<Subprocess::Result> RunKinexctl(const KinexCluster& cluster,
                                               const std::string& agency,
                                               const std::vector<std::string>& args);

// Every audit event matching `query` (its filters; paging is done here), as
// the auditor (auditor/kinex-dpo) reads them through the gateway, oldest
// first. A failed page is a test failure and ends the list. (Inline: the
// load benchmark links this library without GoogleTest.)
inline std::vector<kinex::audit::v1::AuditEvent> AuditEvents(
    const KinexCluster& cluster, kinex::audit::v1::QueryEventsRequest query,
    const std::string& request_id) {
  auto stub =
      kinex::audit::v1::Audit::NewStub(cluster.AgencyChannel("auditor", "kinex-dpo", "auditor"));
  std::vector<kinex::audit::v1::AuditEvent> out;
  query.set_page_size(100);
  query.clear_page_token();
  do {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "E2E auditor");
    ctx.AddMetadata("x-kinex-request-id", request_id);
    kinex::audit::v1::QueryEventsResponse resp;
    grpc::Status s = stub->QueryEvents(&ctx, query, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const auto& e : resp.entries()) out.push_back(e.event());
    query.set_page_token(resp.next_page_token());
  } while (!query.page_token().empty());
  return out;
}

struct Deployment {
  KinexCluster::Mode mode;
  bool postgres;
  std::string name;
  bool policy_service_decides = false;
};

// Every deployment: all services in one process on SQLite, one process per
// service on SQLite (the gateway deciding with its own copy of the policy
// set, the default), and one process per service on PostgreSQL with the
// policy service deciding, so that every suite runs both ways of deciding.
// Use with ::testing::ValuesIn and DeploymentName.
inline std::vector<Deployment> AllDeployments() {
  return {{KinexCluster::Mode::kAllInOne, false, "AllInOneSqlite"},
          {KinexCluster::Mode::kMicroservices, false, "MicroservicesSqlite"},
          {KinexCluster::Mode::kMicroservices, true, "MicroservicesPostgres", true}};
}

// The test-name suffix of a deployment parameter.
inline std::string DeploymentName(const ::testing::TestParamInfo<Deployment>& info) {
  return info.param.name;
}

// A suite run against every deployment, one cluster per deployment shared by
// the suite's tests (started by the first test, stopped after the last).
// `Suite` is the deriving fixture, so each suite has its own clusters.
//   class MyE2E : public PerDeploymentTest<MyE2E> { ... };
//   INSTANTIATE_TEST_SUITE_P(Deployments, MyE2E,
//                            ::testing::ValuesIn(AllDeployments()), DeploymentName);
template <typename Suite>
class PerDeploymentTest : public ::testing::TestWithParam<Deployment> {
 protected:
  static std::map<std::string, std::unique_ptr<KinexCluster>>& Clusters() {
    static auto* clusters = new std::map<std::string, std::unique_ptr<KinexCluster>>();
    return *clusters;
  }
  static void TearDownTestSuite() { Clusters().clear(); }

  // A suite whose processes need more (extra config, environment) hides
  // this with its own:
  //   static void CustomizeCluster(const Deployment& d, KinexCluster::Options& options) {
  //     options.records_config = "pep_sweep_interval_seconds: 1";
  //   }
  static void CustomizeCluster(const Deployment& /*deployment*/,
                               KinexCluster::Options& /*options*/) {}

  void SetUp() override {
    auto& clusters = Clusters();
    if (!clusters.count(GetParam().name)) {
      KinexCluster::Options options{.mode = GetParam().mode,
                                    .postgres = GetParam().postgres,
                                    .policy_service_decides = GetParam().policy_service_decides};
      Suite::CustomizeCluster(GetParam(), options);
      auto c = KinexCluster::Start(std::move(options));
      ASSERT_TRUE(c.ok()) << c.status();
      clusters[GetParam().name] = std::move(*c);
    }
    cluster_ = clusters[GetParam().name].get();
  }

  KinexCluster* cluster_ = nullptr;
};

// A suite whose tests share one all-in-one cluster on SQLite (started before
// the first test, stopped after the last), usually to run the real kinexctl
// against it. `Suite` is the deriving fixture, so each suite has its own cluster.
//   class KinexctlThing : public SharedClusterTest<KinexctlThing> { ... };
template <typename Suite>
class SharedClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = KinexCluster::Start({});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = c->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // kinexctl as `agency` (practitioner "Test User" unless args say
  // --actor=...: the last --actor wins). A kinexctl that could not be run
  // is a test failure and exit code -1.
  static Subprocess::Result Ctl(const std::string& agency, const std::vector<std::string>& args) {
    auto r = RunKinexctl(*cluster_, agency, args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Subprocess::Result{-1, "", ""};
  }

  static inline KinexCluster* cluster_ = nullptr;
};

}  // namespace kinex::testing

#endif  // KINEX_TESTS_INTEGRATION_CLUSTER_H_
