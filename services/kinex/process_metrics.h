// The Prometheus metrics every `kinex` process serves, whatever its target,
// on config listen.metrics:
//   kinex_grpc_server_handled_total{grpc_service,grpc_method,grpc_code}
//   kinex_grpc_server_handling_seconds{grpc_service,grpc_method}
//   kinex_grpc_server_errors_total{grpc_service,grpc_method,reason}
//   kinex_tls_handshake_refusals_total{reason}
//   kinex_build_info{version,commit,target}
//   kinex_certificate_expiry_timestamp_seconds{certificate="serving"|"ca"}
//   kinex_policy_reloads_total{result="ok"|"failed"}
//   kinex_crl_reloads_total{result="ok"|"failed"}
// and, read when scraped from what the target holds (ScrapeGauges):
//   kinex_policy_info{version}, kinex_audit_tree_size,
//   kinex_audit_signed_head_timestamp_seconds.
// Labels are operational only: method names known to this binary (anything
// else is "unknown", so a caller cannot grow the label set), status codes,
// the bounded ErrorInfo reasons of services/common/error_reason.h. Never a
// child identifier, an agency code of a child, or record contents.
//
// Example:
//   ProcessMetrics metrics("gateway");
//   builder.experimental().SetInterceptorCreators(...metrics.InterceptorFactory()...);
//   exposer.RegisterCollectable(metrics.registry());
#ifndef KINEX_SERVICES_KINEX_PROCESS_METRICS_H_
#define KINEX_SERVICES_KINEX_PROCESS_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

namespace kinex {

// Metric families on one registry. Thread-safe (prometheus-cpp is).
class ProcessMetrics {
 public:
  // `target` is config.target(), a label of kinex_build_info.
  explicit ProcessMetrics(absl::string_view target);

  // An interceptor factory that counts and times every call of every
  // service on the port. The factory points into this object, which must
  // outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // Counts one finished call. `full_method` is gRPC's "/package.Service/Method";
  // `reason` the call's ErrorInfo reason ("" for none; ignored when OK).
  void RecordCall(absl::string_view full_method, grpc::StatusCode code, absl::string_view reason,
                  absl::Duration latency);
  // Counts a refused TLS handshake by its reason (a short fixed phrase).
  void RecordHandshakeRefusal(absl::string_view reason);
  // Counts a reload (SIGHUP) of what the target reloads.
  void RecordReload(bool ok);
  // Counts a re-read of the CRL directory (a changed file, or SIGHUP).
  void RecordCrlReload(bool ok);
  // Sets kinex_certificate_expiry_timestamp_seconds{certificate=which} to the
  // notAfter of the (earliest-expiring) certificate in the PEM file `path`.
  absl::Status SetCertificateExpiry(absl::string_view which, const std::string& path);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  const google::protobuf::FileDescriptor* health_file_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& handshake_refusals_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Counter>& crl_reloads_;
  prometheus::Family<prometheus::Gauge>& certificate_expiry_;
};

// Gauges whose values are read from the process's state when scraped (the
// policy version in force, the audit log's size): no thread keeps them
// current. Thread-safe once built; Add before registering with an exposer.
class ScrapeGauges final : public prometheus::Collectable {
 public:
  using Labels = std::map<std::string, std::string>;
  // One sample: its labels and value.
  using Sample = std::pair<Labels, double>;

  // Adds a gauge family `name` whose samples `read` returns at each scrape
  // (none when it fails: an absent sample, not a made-up value).
  void Add(std::string name, std::string help, std::function<std::vector<Sample>()> read);

  // A family of a group read together: its name, its help, and its samples
  // from one reading.
  template <typename Reading>
  struct Member {
    std::string name;
    std::string help;
    std::function<std::vector<Sample>(const Reading&)> samples;
    // A count that only grows (exposed as a counter; name it `..._total`).
    bool counter = false;
  };
  // Adds gauge families that one `read` serves (one query per scrape for
  // all of them, not one each). When `read` fails, every family of the
  // group is absent.
  template <typename Reading>
  void AddGroup(std::function<absl::StatusOr<Reading>()> read,
                std::vector<Member<Reading>> members) {
    std::vector<Gauge> family;
    for (Member<Reading>& m : members) {
      family.push_back({std::move(m.name), std::move(m.help), m.counter});
    }
    groups_.push_back({std::move(family), [read = std::move(read), members = std::move(members)]() {
                         std::vector<std::vector<Sample>> out(members.size());
                         absl::StatusOr<Reading> reading = read();
                         if (!reading.ok()) return out;
                         for (size_t i = 0; i < members.size(); ++i)
                           out[i] = members[i].samples(*reading);
                         return out;
                       }});
  }

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Gauge {
    std::string name;
    std::string help;
    bool counter = false;
  };
  struct Group {
    std::vector<Gauge> families;
    // One sample list per family, in order.
    std::function<std::vector<std::vector<Sample>>()> read;
  };
  std::vector<Group> groups_;
};

}  // namespace kinex

#endif  // KINEX_SERVICES_KINEX_PROCESS_METRICS_H_
