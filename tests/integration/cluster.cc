#include "tests/integration/cluster.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "tests/testing/file_tail.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/paths.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex::testing {
namespace {

// The value of "key":"..." in a JSON log line.
std::string JsonField(const std::string& line, const std::string& key) {
  const std::string needle = absl::StrCat("\"", key, "\":\"");
  const size_t at = line.find(needle);
  if (at == std::string::npos) return "";
  const size_t start = at + needle.size();
  return line.substr(start, line.find('"', start) - start);
}

std::string LocalhostAddress(const std::string& bound) {
  // Certificates name localhost (and 127.0.0.1): dial by name.
  return absl::StrCat("localhost", bound.substr(bound.rfind(':')));
}

// How long the processes get to stop after SIGTERM, together.
constexpr absl::Duration kStopTimeout = absl::Seconds(60);

// Every thread's stack of process `pid`, from gdb (bounded by timeout(1));
// what gdb said when it could not attach.
std::string Stacks(pid_t pid) {
  absl::StatusOr<Subprocess::Result> gdb =
      Subprocess::Run({"/usr/bin/timeout", "60", "gdb", "-nx", "-batch", "-p", std::to_string(pid),
                       "-ex", "thread apply all bt"});
  if (!gdb.ok()) return std::string(gdb.status().message());
  return absl::StrCat(gdb->out, gdb->err, "(gdb exit ", gdb->exit_code, ")");
}

}  // namespace

absl::StatusOr<std::unique_ptr<KinexCluster>> KinexCluster::Start(Options options) {
  std::unique_ptr<KinexCluster> c(new KinexCluster());
  c->options_ = options;
  c->dir_ = MakeUniqueTempDir("kinex-cluster");
  c->pki_ = TestPkiDir();
  std::map<std::string, std::string> storage;  // service -> StorageConfig text
  if (options.postgres) {
    KINEX_ASSIGN_OR_RETURN(c->pg_, PostgresServer::Start());
    for (const char* svc : {"records", "consent", "audit"}) {
      KINEX_ASSIGN_OR_RETURN(std::string ci, c->pg_->CreateDatabase(absl::StrCat("kinex_", svc)));
      storage[svc] = absl::StrCat("storage { postgres_conninfo: \"", ci, "\" }");
    }
  }
  auto config = [&](const std::string& target, const std::string& cert,
                    const std::string& upstream) {
    return absl::StrCat(
        "target: \"", target, "\"\n", "data_dir: \"", c->dir_, "\"\n",
        "trust_domain: \"kinex.dev\"\n", "tls { ca_file: \"", c->pki_, "/ca.pem\" cert_file: \"",
        c->pki_, "/services/", cert, ".pem\" key_file: \"", c->pki_, "/services/", cert,
        ".key\" crl_dir: \"", c->pki_, "/crl\" }\n",
        "listen { gateway: \"127.0.0.1:0\" policy: \"127.0.0.1:0\" consent: \"127.0.0.1:0\" "
        "audit: \"127.0.0.1:0\" records: \"127.0.0.1:0\" metrics: \"127.0.0.1:0\" }\n",
        upstream, "policy { policy_dir: \"", SourceDir(), "/policy\" }\n",
        "audit { signing_key_file: \"", c->pki_, "/audit-signing.key\" pseudonym_key_file: \"",
        c->pki_, "/audit-pseudonym.key\" ", storage["audit"], " }\n", "records { ",
        storage["records"], " ", options.records_config, " }\n", "consent { ", storage["consent"],
        " }\n", options.extra_config);
  };
  if (options.mode == Mode::kAllInOne) {
    KINEX_RETURN_IF_ERROR(c->StartTarget("all", config("all", "gateway", "")));
    c->addresses_["gateway"] = c->addresses_["all"];
    return c;
  }
  for (const char* t : {"audit", "policy"}) {
    KINEX_RETURN_IF_ERROR(c->StartTarget(t, config(t, t, "")));
  }
  // Records and consent append their writes' events to the audit service.
  KINEX_RETURN_IF_ERROR(c->StartTarget(
      "records", config("records", "records",
                        absl::StrCat("upstream { audit: \"", c->addresses_["audit"], "\" }\n"))));
  KINEX_RETURN_IF_ERROR(c->StartTarget(
      "consent", config("consent", "consent",
                        absl::StrCat("upstream { records: \"", c->addresses_["records"],
                                     "\" audit: \"", c->addresses_["audit"], "\" }\n"))));
  std::string gateway_config =
      config("gateway", "gateway",
             absl::StrCat("upstream { records: \"", c->addresses_["records"], "\" consent: \"",
                          c->addresses_["consent"], "\" audit: \"", c->addresses_["audit"],
                          "\" policy: \"", c->addresses_["policy"], "\" }\n"));
  if (options.policy_service_decides) {
    // Into the extra config's own gateway block if it has one (a second
    // block would not parse).
    const std::string kBlock = "gateway {";
    const size_t block = gateway_config.find(kBlock);
    if (block == std::string::npos) {
      gateway_config += "gateway { policy_decisions: SERVICE }\n";
    } else {
      gateway_config.insert(block + kBlock.size(), " policy_decisions: SERVICE ");
    }
  }
  KINEX_RETURN_IF_ERROR(c->StartTarget("gateway", gateway_config));
  return c;
}

absl::Status KinexCluster::StartTarget(const std::string& target, const std::string& config_text) {
  const std::string path = absl::StrCat(dir_, "/", target, ".textproto");
  std::ofstream(path) << config_text;
  KINEX_ASSIGN_OR_RETURN(
      std::unique_ptr<Subprocess> p,
      Subprocess::Start({BinPath("kinex"), "--config=" + path}, options_.env, LogPath(target)));
  // The line naming the bound address; lines before it are not kinex's
  // (a wrapper such as heaptrack or valgrind in KINEX_BINARY_DIR prints its
  // own first).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::StatusOr<std::string> line;
  std::string address;
  while (address.empty()) {
    line = p->ReadStdoutLine(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!line.ok()) break;
    address = JsonField(*line, "address");
  }
  if (!line.ok() || address.find(':') == std::string::npos) {
    p->Signal(SIGKILL);
    p->Wait();
    std::ifstream log(LogPath(target));
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    return absl::InternalError(absl::StrCat(
        "kinex --target=", target, " did not start",
        line.ok() ? absl::StrCat(" (it printed address \"", address, "\")") : "", ": ", text));
  }
  addresses_[target] = LocalhostAddress(address);
  metrics_[target] = JsonField(*line, "metrics");
  processes_[target] = std::move(p);
  return absl::OkStatus();
}

KinexCluster::~KinexCluster() {
  for (auto& [name, p] : processes_) p->Signal(SIGTERM);
  // A process that does not stop is a failure of the test, reported with
  // its threads' stacks (best effort: gdb, if present and allowed to
  // attach) and the end of its log, then killed: not a hang until the
  // suite's timeout.
  const absl::Time deadline = absl::Now() + kStopTimeout;
  for (auto& [name, p] : processes_) {
    if (p->WaitFor(std::max(deadline - absl::Now(), absl::ZeroDuration())).has_value()) continue;
    ADD_FAILURE() << "kinex target \"" << name << "\" (pid " << p->pid() << ") did not exit within "
                  << kStopTimeout << " of SIGTERM\nits stacks:\n"
                  << Stacks(p->pid()) << "\nthe end of its log:\n"
                  << FileTail(LogPath(name), 4000);
    p->Signal(SIGKILL);
    p->Wait();
  }
  processes_.clear();
  pg_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string KinexCluster::metrics_address(const std::string& target) const {
  auto it = metrics_.find(target);
  return it == metrics_.end() ? "" : it->second;
}

std::string KinexCluster::ScrapeMetrics(const std::string& target) const {
  return testing::ScrapeMetrics(metrics_address(target));
}

std::string KinexCluster::address(const std::string& target) const {
  auto it = addresses_.find(target);
  return it == addresses_.end() ? "" : it->second;
}

std::shared_ptr<grpc::Channel> KinexCluster::Channel(const std::string& address,
                                                     const std::string& cert_base) const {
  TlsFiles files;
  files.ca_file = pki_ + "/ca.pem";
  files.cert_file = absl::StrCat(pki_, "/", cert_base, ".pem");
  files.key_file = absl::StrCat(pki_, "/", cert_base, ".key");
  auto creds = MakeChannelCredentials(files);
  if (!creds.ok()) abort();  // test PKI is broken: nothing can run
  return grpc::CreateChannel(address, *creds);
}

std::shared_ptr<grpc::Channel> KinexCluster::AgencyChannel(const std::string& kind,
                                                           const std::string& code,
                                                           const std::string& role) const {
  return Channel(gateway_address(), absl::StrCat("agencies/", kind, "-", code, "-", role));
}

std::string KinexCluster::LogPath(const std::string& target) const {
  return absl::StrCat(dir_, "/", target, ".log");
}

void KinexCluster::Kill(const std::string& target) {
  auto it = processes_.find(target);
  if (it == processes_.end()) return;
  it->second->Signal(SIGKILL);
  it->second->Wait();
  processes_.erase(it);
}

absl::Status KinexCluster::Restart(const std::string& target) {
  if (target != "all" && target != "gateway") {
    return absl::InvalidArgumentError(absl::StrCat(
        "Restart: \"", target, "\" is dialled by other processes (all, gateway only)"));
  }
  if (processes_.count(target)) {
    return absl::FailedPreconditionError(absl::StrCat("Restart: \"", target, "\" is running"));
  }
  const std::string path = absl::StrCat(dir_, "/", target, ".textproto");
  std::ifstream in(path);
  const std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  KINEX_RETURN_IF_ERROR(StartTarget(target, config));
  if (target == "all") addresses_["gateway"] = addresses_["all"];
  return absl::OkStatus();
}

std::string KinexCluster::Logs() {
  // Stop everything first so the files hold every line.
  for (auto& [name, p] : processes_) p->Signal(SIGTERM);
  for (auto& [name, p] : processes_) p->Wait();
  processes_.clear();
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream log(entry.path());
    all.append((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  }
  return all;
}

absl::StatusOr<Subprocess::Result> RunKinexctl(const KinexCluster& cluster,
                                               const std::string& agency,
                                               const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BinPath("kinexctl"),
                                   "--address=" + cluster.gateway_address(),
                                   "--ca=" + cluster.pki() + "/ca.pem",
                                   "--cert=" + cluster.pki() + "/agencies/" + agency + ".pem",
                                   "--key=" + cluster.pki() + "/agencies/" + agency + ".key",
                                   "--actor=Test User"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Subprocess::Run(argv);
}

}  // namespace kinex::testing
