#include "services/kinex/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include "absl/strings/str_cat.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "services/kinex/config.h"

namespace kinex {

absl::StatusOr<std::unique_ptr<KinexServer>> KinexServer::Start(
    const kinex::config::v1::KinexConfig& config, const Clock& clock) {
  std::unique_ptr<KinexServer> server(new KinexServer());
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                         MakeServerCredentials(TlsFilesOf(config)));
  KINEX_ASSIGN_OR_RETURN(server->targets_, BuildTargets(config, clock));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
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
  // Synchronous handlers: one completion queue per core and a standing pool
  // of polling threads, so a burst of calls reuses threads instead of
  // creating and destroying one per call.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  for (grpc::Service* service : server->targets_.services) builder.RegisterService(service);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen, " (address in use, or not a local address?)"));
  }
  server->address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const std::string& name : server->targets_.service_names) {
    health->SetServingStatus(name, true);
  }
  return server;
}

void KinexServer::Shutdown(absl::Duration grace) {
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

}  // namespace kinex
