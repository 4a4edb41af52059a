#include "tools/kinexctl/health_command.h"

#include "grpc/health/v1/health.grpc.pb.h"
#include "services/common/grpc_status.h"

namespace kinex::ctl {
namespace {

constexpr char kUsage[] =
    "usage: kinexctl health [--service=NAME]\n"
    "\n"
    "Asks the server's gRPC health service whether it is serving. Prints\n"
    "SERVING, NOT_SERVING or SERVICE_UNKNOWN; exits 0 only for SERVING.\n"
    "\n"
    "  --service=NAME  a full service name, e.g. kinex.exchange.v1.Exchange\n"
    "                  (default: the server as a whole)\n";

int RunHealth(CommandContext& ctx, const std::vector<std::string>& words) {
  ctx.SetUsage(kUsage);
  absl::StatusOr<Args> args = Args::Parse(words, {});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help")) {
    ctx.out() << kUsage;
    return 0;
  }
  const std::string service = args->FlagOr("service", "");
  if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  if (!args->positional().empty()) {
    return ctx.Fail(
        absl::InvalidArgumentError("health takes no arguments (see kinexctl health --help)"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ctx.Channel();
  if (!channel.ok()) return ctx.Fail(channel.status());
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext call;
  ctx.Prepare(call, 10);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&call, req, &resp);
  if (!s.ok()) {
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      ctx.out() << "SERVICE_UNKNOWN\n";
      return 1;
    }
    return ctx.Fail(FromGrpcStatus(s));
  }
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
  if (ctx.output() == OutputFormat::kTable) {
    ctx.out() << status << "\n";
  } else {
    WriteRows(ctx.out(), ctx.output(), {"service", "status"},
              {{service.empty() ? "(server)" : service, status}});
  }
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

}  // namespace

CommandGroup MakeHealthCommandGroup() {
  return {"health", "Check that a Kinex server is serving", RunHealth};
}

}  // namespace kinex::ctl
