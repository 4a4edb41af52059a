// StripInternalAddresses (services/common/grpc_status.h): what a failing
// dependency's gRPC error says about where Kinex runs never reaches an
// agency. Messages as gRPC 1.51 clients produce them.
#include "gtest/gtest.h"
#include "services/common/grpc_status.h"

namespace kinex {
namespace {

absl::Status Unavailable(absl::string_view m) { return absl::UnavailableError(m); }

TEST(StripInternalAddresses, RemovesGrpcPeerAndTargetUris) {
  EXPECT_EQ(StripInternalAddresses(Unavailable(
                "records service could not answer (failed to connect to all addresses; last "
                "error: UNKNOWN: ipv4:127.0.0.1:41235: Failed to connect to remote host: "
                "Connection refused); nothing was disclosed")),
            Unavailable("records service could not answer (failed to connect to all addresses; "
                        "last error: UNKNOWN: <internal address>: Failed to connect to remote "
                        "host: Connection refused); nothing was disclosed"));
  EXPECT_EQ(StripInternalAddresses(Unavailable("ipv6:[::1]:7447 and unix:/run/kinex/audit.sock")),
            Unavailable("<internal address> and <internal address>"));
  EXPECT_EQ(StripInternalAddresses(Unavailable("DNS resolution failed for records.kinex.svc:7447: "
                                               "C-ares status is not ARES_SUCCESS qtype=A "
                                               "name=records.kinex.svc is_balancer=0")),
            Unavailable("DNS resolution failed for <internal address>: C-ares status is not "
                        "ARES_SUCCESS qtype=A name=<internal address> is_balancer=0"));
  EXPECT_EQ(StripInternalAddresses(Unavailable("connect to localhost:7446, 10.0.3.7:7446.")),
            Unavailable("connect to <internal address>, <internal address>."));
  EXPECT_EQ(StripInternalAddresses(Unavailable("target dns:///audit:7446 failed")),
            Unavailable("target <internal address> failed"));
}

TEST(StripInternalAddresses, LeavesOrdinaryMessagesAlone) {
  for (absl::string_view m :
       {"no record you may see for this child and purpose (request id 0af3)",
        "kinex.records.v1.Records/GetRecord: the records service accepts Kinex services only",
        "rate limit exceeded for agency school/137000; retry with backoff",
        "school day starts 08:45 (Europe/London)", "x-kinex-actor must be at most 200 bytes"}) {
    EXPECT_EQ(StripInternalAddresses(absl::PermissionDeniedError(m)),
              absl::PermissionDeniedError(m));
  }
  EXPECT_TRUE(StripInternalAddresses(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace kinex
