#include "services/kinex/process_metrics.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.pb.h"
#include "services/common/build_info.h"
#include "services/common/error_reason.h"
#include "services/common/grpc_status.h"
#include "services/common/tls.h"

namespace kinex {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;
using grpc::experimental::ServerRpcInfo;

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

// The service and method labels of "/package.Service/Method": only a method
// this binary was compiled with (every service Kinex, gRPC health and
// reflection serve); anything else a caller names is "unknown".
std::pair<std::string, std::string> MethodLabels(absl::string_view full_method) {
  const size_t slash = full_method.rfind('/');
  if (full_method.size() > 1 && full_method[0] == '/' && slash != 0 &&
      slash != absl::string_view::npos) {
    const std::string service(full_method.substr(1, slash - 1));
    const std::string method(full_method.substr(slash + 1));
    const google::protobuf::ServiceDescriptor* s =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    if (s != nullptr && s->FindMethodByName(method) != nullptr) return {service, method};
  }
  return {"unknown", "unknown"};
}

// The reason label: Kinex's reasons are UPPER_SNAKE_CASE constants
// (error_reason.h); anything else (never expected) is "OTHER".
std::string ReasonLabel(absl::string_view reason) {
  if (reason.empty() || reason.size() > 64) return "OTHER";
  for (char c : reason) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return "OTHER";
  }
  return std::string(reason);
}

// Times a call from its interceptor's creation (the call's start on the
// server) to the status being sent, and counts it then.
class CallMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallMetricsInterceptor(ServerRpcInfo* info, ProcessMetrics* metrics)
      : info_(info), metrics_(metrics), start_(absl::Now()) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status sent = methods->GetSendStatus();
      const std::string reason = sent.ok() ? "" : ErrorReasonOf(FromGrpcStatus(sent));
      metrics_->RecordCall(info_->method(), sent.error_code(), reason, absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  ServerRpcInfo* const info_;
  ProcessMetrics* const metrics_;
  const absl::Time start_;
};

class CallMetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallMetricsFactory(ProcessMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new CallMetricsInterceptor(info, metrics_);
  }

 private:
  ProcessMetrics* const metrics_;
};

}  // namespace

ProcessMetrics::ProcessMetrics(absl::string_view target)
    // Links the health proto's descriptors into the binary, so that health
    // calls are labelled grpc.health.v1.Health (gRPC serves health with its
    // own copy; nothing else refers to ours).
    : health_file_(grpc::health::v1::HealthCheckRequest::descriptor()->file()),
      registry_(std::make_shared<prometheus::Registry>()),
      handled_(prometheus::BuildCounter()
                   .Name("kinex_grpc_server_handled_total")
                   .Help("Calls finished, by service, method and gRPC status code")
                   .Register(*registry_)),
      handling_(prometheus::BuildHistogram()
                    .Name("kinex_grpc_server_handling_seconds")
                    .Help("Time from a call's start on the server to its status being sent")
                    .Register(*registry_)),
      errors_(prometheus::BuildCounter()
                  .Name("kinex_grpc_server_errors_total")
                  .Help("Failed calls by service, method and google.rpc.ErrorInfo reason "
                        "(storage and audit failures among them)")
                  .Register(*registry_)),
      handshake_refusals_(prometheus::BuildCounter()
                              .Name("kinex_tls_handshake_refusals_total")
                              .Help("TLS handshakes refused, by reason (expired, revoked, "
                                    "unknown CA, no client certificate, ...)")
                              .Register(*registry_)),
      reloads_(prometheus::BuildCounter()
                   .Name("kinex_policy_reloads_total")
                   .Help("Reloads (SIGHUP) by result; a failed reload keeps the set in force")
                   .Register(*registry_)),
      crl_reloads_(prometheus::BuildCounter()
                       .Name("kinex_crl_reloads_total")
                       .Help("Re-reads of tls.crl_dir (a changed file, or SIGHUP) by result; a "
                             "failed one keeps the CRLs in force")
                       .Register(*registry_)),
      certificate_expiry_(prometheus::BuildGauge()
                              .Name("kinex_certificate_expiry_timestamp_seconds")
                              .Help("notAfter of this process's serving certificate and of the "
                                    "earliest-expiring CA certificate it trusts, Unix seconds")
                              .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("kinex_build_info")
      .Help("The version and git commit this process was built from, and its target")
      .Register(*registry_)
      .Add({{"version", std::string(BuildVersion())},
            {"commit", std::string(BuildCommit())},
            {"target", std::string(target)}})
      .Set(1);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ProcessMetrics::InterceptorFactory() {
  return std::make_unique<CallMetricsFactory>(this);
}

void ProcessMetrics::RecordCall(absl::string_view full_method, grpc::StatusCode code,
                                absl::string_view reason, absl::Duration latency) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  auto [service, method] = MethodLabels(full_method);
  handled_.Add({{"grpc_service", service}, {"grpc_method", method}, {"grpc_code", CodeName(code)}})
      .Increment();
  handling_.Add({{"grpc_service", service}, {"grpc_method", method}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(latency));
  if (code != grpc::StatusCode::OK) {
    errors_
        .Add({{"grpc_service", service}, {"grpc_method", method}, {"reason", ReasonLabel(reason)}})
        .Increment();
  }
}

void ProcessMetrics::RecordHandshakeRefusal(absl::string_view reason) {
  handshake_refusals_.Add({{"reason", std::string(reason)}}).Increment();
}

void ProcessMetrics::RecordReload(bool ok) {
  reloads_.Add({{"result", ok ? "ok" : "failed"}}).Increment();
}

void ProcessMetrics::RecordCrlReload(bool ok) {
  crl_reloads_.Add({{"result", ok ? "ok" : "failed"}}).Increment();
}

absl::Status ProcessMetrics::SetCertificateExpiry(absl::string_view which,
                                                  const std::string& path) {
  absl::StatusOr<absl::Time> not_after = EarliestCertificateExpiry(path);
  if (!not_after.ok()) return not_after.status();
  certificate_expiry_.Add({{"certificate", std::string(which)}})
      .Set(absl::ToDoubleSeconds(*not_after - absl::UnixEpoch()));
  return absl::OkStatus();
}

void ScrapeGauges::Add(std::string name, std::string help,
                       std::function<std::vector<Sample>()> read) {
  groups_.push_back({{{std::move(name), std::move(help)}}, [read = std::move(read)]() {
                       return std::vector<std::vector<Sample>>{read()};
                     }});
}

std::vector<prometheus::MetricFamily> ScrapeGauges::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  for (const Group& group : groups_) {
    const std::vector<std::vector<Sample>> samples = group.read();
    for (size_t i = 0; i < group.families.size(); ++i) {
      prometheus::MetricFamily family;
      family.name = group.families[i].name;
      family.help = group.families[i].help;
      const bool counter = group.families[i].counter;
      family.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      for (const auto& [labels, value] : samples[i]) {
        prometheus::ClientMetric m;
        for (const auto& [k, v] : labels) m.label.push_back({k, v});
        if (counter) {
          m.counter.value = value;
        } else {
          m.gauge.value = value;
        }
        family.metric.push_back(std::move(m));
      }
      out.push_back(std::move(family));
    }
  }
  return out;
}

}  // namespace kinex
