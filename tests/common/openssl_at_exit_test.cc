// Every Kinex executable keeps OpenSSL usable while it exits
// (services/common/openssl_at_exit.cc): gRPC threads can still be using it
// then.

#include <gtest/gtest.h>

#include "tests/testing/subprocess.h"

namespace kinex::testing {
namespace {

TEST(OpenSslAtExitTest, OpenSslStillWorksAfterEveryExitHandler) {
  absl::StatusOr<Subprocess::Result> probe = Subprocess::Run({BinPath("openssl_exit_probe")});
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->exit_code, 0) << probe->err;
  EXPECT_EQ(probe->out, "RAND_bytes and SHA-256 after every exit handler: ok\n");
}

}  // namespace
}  // namespace kinex::testing
