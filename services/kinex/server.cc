#include "services/kinex/server.h"

#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/support/server_interceptor.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <thread>

#include "absl/algorithm/container.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/paging.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "services/kinex/config.h"

// jemalloc, which the serving binary links (README: Development), reads this
// at start-up: a background thread returns freed pages to the system on
// its own (without it, pages are returned only when the process next
// allocates, so an idle server kept the memory an abusive client made it
// allocate), within 5 s, and with MADV_DONTNEED (muzzy decay 0), so the
// resident size really falls. Without jemalloc this variable is unused.
extern "C" {
__attribute__((used)) const char* malloc_conf =
    "background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0";
}

namespace kinex {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;
using grpc::experimental::ServerRpcInfo;

// The request type of `method` ("/kinex.exchange.v1.Exchange/GetChildRecord"),
// from the generated descriptor pool; the health service's is not there.
std::string RequestTypeOf(const std::string& method) {
  if (method.rfind("/grpc.health.v1.Health/", 0) == 0) return "grpc.health.v1.HealthCheckRequest";
  std::string name = absl::StrReplaceAll(method.substr(method.empty() ? 0 : 1), {{"/", "."}});
  const google::protobuf::MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
  return m != nullptr ? m->input_type()->full_name() : absl::StrCat("the request type of ", method);
}

// Unary calls whose reply is on its way to the client, each with the time
// by which it must have arrived. A thread cancels the overdue ones: on the
// synchronous server a reply the client never reads (its flow-control
// window stays shut) keeps the handler thread blocked on the send, and the
// reply's buffers, until the call ends; cancelling ends it. Thread-safe.
class ReplyWatchdog {
 public:
  explicit ReplyWatchdog(absl::Duration timeout) : timeout_(timeout), thread_([this] { Loop(); }) {}
  ~ReplyWatchdog() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  // Watches `call` (holding a reference to it) from now; returns the id
  // to Unwatch with when the call ends.
  uint64_t Watch(grpc_call* call, std::string method, std::string peer) {
    grpc_call_ref(call);
    absl::MutexLock lock(&mu_);
    const uint64_t id = ++next_id_;
    calls_.emplace(id, Entry{call, absl::Now() + timeout_, std::move(method), std::move(peer)});
    return id;
  }
  void Unwatch(uint64_t id) {
    grpc_call* call = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto it = calls_.find(id);
      if (it == calls_.end()) return;
      call = it->second.call;
      calls_.erase(it);
    }
    grpc_call_unref(call);
  }

 private:
  struct Entry {
    grpc_call* call;
    absl::Time deadline;
    std::string method;
    std::string peer;
  };
  void Loop() {
    for (;;) {
      std::vector<Entry> overdue;
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(500));
        if (stop_) return;
        const absl::Time now = absl::Now();
        for (auto& [id, e] : calls_) {
          if (e.deadline > now) continue;
          grpc_call_ref(e.call);  // for the cancel below, outside the lock
          overdue.push_back(e);
          e.deadline = absl::InfiniteFuture();  // cancelled once; Unwatch removes it
        }
      }
      // Outside the lock: cancelling may end the call on this thread, and
      // its end Unwatches.
      for (Entry& e : overdue) {
        grpc_call_cancel_with_status(e.call, GRPC_STATUS_DEADLINE_EXCEEDED,
                                     "reply not read in time", nullptr);
        grpc_call_unref(e.call);
        LogJson(std::cerr, "warn", "reply abandoned",
                {{"method", e.method},
                 {"peer", e.peer},
                 {"reason", absl::StrCat("the client did not read the reply within ",
                                         absl::ToInt64Seconds(timeout_), " s")}});
      }
    }
  }

  const absl::Duration timeout_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, Entry> calls_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// On every call of every service on the port (so every public method,
// whatever its API, and the built-in health service):
// - a request that does not parse as the method's request type gets
//   INVALID_ARGUMENT saying so, instead of gRPC's INTERNAL with an empty
//   message (the generated handlers never run for it: the deserialisation
//   status goes straight to the client, so only an interceptor sees both
//   the failed parse, POST_RECV_MESSAGE with no message, and the status
//   being sent, PRE_SEND_STATUS, which it may rewrite);
// - a unary reply is watched by the ReplyWatchdog from when it is sent
//   until the call ends (this interceptor is destroyed with the call).
class CallBoundsInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallBoundsInterceptor(ServerRpcInfo* info, ReplyWatchdog* watchdog)
      : info_(info), watchdog_(watchdog) {}
  ~CallBoundsInterceptor() override {
    if (watch_id_ != 0) watchdog_->Unwatch(watch_id_);
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    const bool unary_request = info_->type() == ServerRpcInfo::Type::UNARY ||
                               info_->type() == ServerRpcInfo::Type::SERVER_STREAMING;
    if (unary_request &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      parse_failed_ = true;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status sent = methods->GetSendStatus();
      // The built-in health service parses its own requests (upb) and
      // answers INVALID_ARGUMENT "could not parse request"; same wording.
      const bool health_parse = sent.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
                                sent.error_message() == "could not parse request";
      // Only INTERNAL: with no message received the handler never ran, and
      // gRPC's deserialiser answers INTERNAL; a call refused for lack of
      // threads (RESOURCE_EXHAUSTED, no message either) keeps its status.
      if ((parse_failed_ && sent.error_code() == grpc::StatusCode::INTERNAL) || health_parse) {
        const std::string method = info_->method();
        const std::string peer = info_->server_context()->peer();
        LogJson(std::cerr, "warn", "request does not parse",
                {{"method", method}, {"peer", peer}, {"grpc_status", sent.error_message()}});
        methods->ModifySendStatus(
            ToGrpcStatus(WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                                             "request does not parse as ", RequestTypeOf(method))),
                                         reason::kRequestUnparseable)));
      }
      if (info_->type() == ServerRpcInfo::Type::UNARY && watchdog_ != nullptr && watch_id_ == 0 &&
          info_->server_context()->c_call() != nullptr) {
        watch_id_ = watchdog_->Watch(info_->server_context()->c_call(), info_->method(),
                                     info_->server_context()->peer());
      }
    }
    methods->Proceed();
  }

 private:
  ServerRpcInfo* const info_;
  ReplyWatchdog* const watchdog_;
  bool parse_failed_ = false;
  uint64_t watch_id_ = 0;
};

// Owned by the server (through ServerBuilder), so the watchdog outlives
// every call's interceptor.
class CallBoundsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallBoundsFactory(absl::Duration reply_timeout) : watchdog_(reply_timeout) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new CallBoundsInterceptor(info, &watchdog_);
  }

 private:
  ReplyWatchdog watchdog_;
};

// The process metrics gRPC's log hook and the TLS hooks below count
// refused handshakes into (the hooks are process-wide or take no argument
// of ours).
std::atomic<ProcessMetrics*> handshake_metrics{nullptr};

// gRPC's own log lines, as JSON lines like everything else Kinex writes to
// stderr. A client certificate this server refuses is logged by
// LogRefusedPeer, with the certificate's subject; what the TSI refuses
// (no client certificate, an old TLS version, and a server certificate
// refused when this process is the client) arrives as two lines from gRPC 1.51's TSI
// on the handshaking thread ("Certificate verify failed with code N", then
// "Handshake failed with fatal error SSL_ERROR_SSL: ..."); they become one
// "tls handshake refused" line with the reason. The TSI does not know the
// peer's address (it sees only bytes), so the line cannot carry it.
void GrpcLogAsJson(gpr_log_func_args* args) {
  thread_local int verify_code = 0;
  const absl::string_view message = args->message;
  constexpr absl::string_view kVerify = "Certificate verify failed with code ";
  if (absl::StartsWith(message, kVerify)) {
    if (!absl::SimpleAtoi(message.substr(kVerify.size()), &verify_code)) verify_code = -1;
    return;
  }
  if (absl::StartsWith(message, "Handshake failed with fatal error")) {
    std::string reason;
    if (verify_code != 0) {
      reason = X509VerifyReason(verify_code);
    } else if (absl::StrContains(message, "peer did not return a certificate")) {
      reason = "no client certificate";
    } else if (absl::StrContains(message, "unsupported protocol") ||
               absl::StrContains(message, "version too low")) {
      reason = "TLS version not accepted";
    } else {
      reason = "TLS handshake failed";
    }
    LogJson(std::cerr, "warn", "tls handshake refused",
            {{"reason", reason}, {"tls_error", std::string(message)}});
    if (ProcessMetrics* metrics = handshake_metrics.load()) metrics->RecordHandshakeRefusal(reason);
    verify_code = 0;
    return;
  }
  const char* level = args->severity == GPR_LOG_SEVERITY_ERROR  ? "error"
                      : args->severity == GPR_LOG_SEVERITY_INFO ? "info"
                                                                : "debug";
  LogJson(std::cerr, level, "grpc",
          {{"source", absl::StrCat(args->file, ":", args->line)}, {"message", message}});
}

// A re-read of tls.crl_dir (a changed file, or SIGHUP): counted, and a
// failure logged (the CRLs in force stay).
void NoteCrlReload(const absl::Status& status) {
  if (!status.ok()) {
    LogJson(std::cerr, "error", "crl reload failed; the CRLs in force are kept",
            {{"error", std::string(status.message())}});
  }
  if (ProcessMetrics* metrics = handshake_metrics.load()) metrics->RecordCrlReload(status.ok());
}

// A client certificate refused by this server's PeerCertificateChecker
// (services/common/tls.h): one JSON line like the handshake refusals
// above, with what the certificate says of itself, counted with them.
void LogRefusedPeer(const PeerRefusal& refusal) {
  LogJson(std::cerr, "warn", "tls handshake refused",
          {{"reason", refusal.reason},
           {"subject", refusal.subject},
           {"uri_sans", absl::StrJoin(refusal.uri_sans, ",")},
           {"serial", refusal.serial}});
  if (ProcessMetrics* metrics = handshake_metrics.load()) {
    metrics->RecordHandshakeRefusal(refusal.reason);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<KinexServer>> KinexServer::Start(
    const kinex::config::v1::KinexConfig& config, const Clock& clock) {
  std::unique_ptr<KinexServer> server(new KinexServer());
  KINEX_ASSIGN_OR_RETURN(
      ServerTls tls, MakeServerTls(TlsFilesOf(config),
                                   {.on_refusal = LogRefusedPeer, .on_crl_reload = NoteCrlReload}));
  std::shared_ptr<grpc::ServerCredentials> creds = std::move(tls.credentials);
  server->peer_checker_ = std::move(tls.checker);
  if (!config.page_token_key_file().empty()) {
    // Replicas that share this key accept each other's page tokens.
    KINEX_ASSIGN_OR_RETURN(std::string key,
                           ReadSymmetricKeyFile(config.page_token_key_file(), "page token key"));
    KINEX_RETURN_IF_ERROR(paging::PageTokens::SetProcessKey(std::move(key)));
  }
  KINEX_ASSIGN_OR_RETURN(server->targets_, BuildTargets(config, clock));
  KINEX_RETURN_IF_ERROR(server->ServeMetrics(config));

  gpr_set_log_function(GrpcLogAsJson);
  grpc::EnableDefaultHealthCheckService(true);
  // Health stays on every port for every Kinex certificate (probes and
  // load balancers; it says only whether named services are serving, and
  // runs on the callback API, so it holds no thread); reflection, v1 and
  // v1alpha, only when asked (config.proto: server.enable_reflection),
  // listing only the services agencies may call on this port.
  grpc::ServerBuilder builder;
  if (config.server().enable_reflection()) {
    std::vector<std::string> listed = {"grpc.health.v1.Health"};
    for (const std::string& name : server->targets_.service_names) {
      if (!absl::c_linear_search(server->targets_.unlisted_service_names, name)) {
        listed.push_back(name);
      }
    }
    server->reflection_ = std::make_unique<ReflectionServices>(std::move(listed));
    for (grpc::Service* s : server->reflection_->services()) builder.RegisterService(s);
  }
  const std::string listen = ListenAddressFor(config, config.target());
  int port = 0;
  builder.AddListeningPort(listen, creds, &port);
  builder.SetMaxReceiveMessageSize(config.gateway().max_message_bytes());
  builder.SetMaxSendMessageSize(config.gateway().max_message_bytes());
  // Bounds on what any client can make this server hold (config.server;
  // defaults in config.proto). One quota caps the threads of pollers and
  // handlers together, so a client that never reads its replies (each call
  // then parks its handler thread until the send completes) meets
  // RESOURCE_EXHAUSTED instead of growing the process; and its buffers.
  const kinex::config::v1::ServerConfig& limits = config.server();
  grpc::ResourceQuota quota(absl::StrCat("kinex-", config.target()));
  quota.SetMaxThreads(limits.max_threads());
  quota.Resize(static_cast<size_t>(limits.max_memory_bytes()));
  builder.SetResourceQuota(quota);
  // Keepalive: ping idle clients and drop dead connections; let clients
  // ping no more than every 10 s without data. Idle connections are closed,
  // and every connection is recycled after max_connection_age (with a grace
  // for calls in flight), which also ends calls stuck on an unread reply.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, limits.keepalive_time_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             limits.keepalive_timeout_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             limits.max_connection_idle_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             limits.max_connection_age_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             limits.max_connection_age_grace_seconds() * 1000);
  // At most this many calls open on one connection; more wait at the client.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             limits.max_concurrent_streams_per_connection());
  // Unparseable requests answered INVALID_ARGUMENT, and unread replies
  // abandoned after server.reply_write_timeout_seconds (see above).
  // Every call counted and timed (process_metrics.h).
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(server->metrics_->InterceptorFactory());
  factories.push_back(
      std::make_unique<CallBoundsFactory>(absl::Seconds(limits.reply_write_timeout_seconds())));
  builder.experimental().SetInterceptorCreators(std::move(factories));
  // Synchronous handlers: a standing pool of polling threads, so a burst of
  // calls reuses threads instead of creating and destroying one per call.
  // A thread that finishes a call while MAX_POLLERS others poll exits, and
  // one is created whenever fewer than MIN_POLLERS poll; calls finish in
  // bursts (a group commit answers 20 at once), so a narrow band churns.
  // One queue with a band of 4-32 created 263 threads/s at 2,330 calls/s
  // in kinex-bench, where two queues of 4-16 each created 648/s; either
  // leaves at most 32 idle threads (and their stacks) after a burst (with
  // 64 per queue a burst of unread replies left ~60 behind for good).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 32);
  for (grpc::Service* service : server->targets_.services) builder.RegisterService(service);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " (address in use, or not a local address?)"));
  }
  server->address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const std::string& name : server->targets_.service_names) {
    health->SetServingStatus(name, true);
  }
  return server;
}

KinexServer::~KinexServer() {
  ProcessMetrics* self = metrics_.get();
  handshake_metrics.compare_exchange_strong(self, nullptr);
}

absl::Status KinexServer::ServeMetrics(const kinex::config::v1::KinexConfig& config) {
  metrics_ = std::make_unique<ProcessMetrics>(config.target());
  KINEX_RETURN_IF_ERROR(metrics_->SetCertificateExpiry("serving", config.tls().cert_file()));
  KINEX_RETURN_IF_ERROR(metrics_->SetCertificateExpiry("ca", config.tls().ca_file()));
  const std::string& listen = config.listen().metrics();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception& e) {
    // prometheus-cpp reports bind failures by exception; kept at this edge.
    return absl::UnavailableError(
        absl::StrCat("listen.metrics: cannot serve metrics on ", listen, ": ", e.what()));
  }
  exposer_->RegisterCollectable(metrics_->registry());
  for (const std::shared_ptr<prometheus::Collectable>& c : targets_.collectables) {
    exposer_->RegisterCollectable(c);
  }
  const std::vector<int> ports = exposer_->GetListeningPorts();
  metrics_address_ =
      absl::StrCat(listen.substr(0, listen.rfind(':')), ":", ports.empty() ? 0 : ports[0]);
  handshake_metrics.store(metrics_.get());
  return absl::OkStatus();
}

absl::Status KinexServer::Reload() {
  absl::Status s = targets_.reload();
  metrics_->RecordReload(s.ok());
  // The CA and CRLs clients are verified with, at once (this server's own
  // certificate is picked up by its file watcher).
  absl::Status crls = peer_checker_->Reload();
  if (s.ok()) s = crls;
  return s;
}

void KinexServer::Shutdown(absl::Duration grace) {
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  targets_.before_shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

}  // namespace kinex
