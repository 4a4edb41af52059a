// The bounds added for issue 12 after the first pass (config.server and
// config.gateway): concurrent streams per connection, the reply write
// timeout, reflection off by default, and the gateway's stream quota.
#include <fstream>

#include "gtest/gtest.h"
#include "services/kinex/config.h"
#include "tests/testing/paths.h"

namespace kinex {
namespace {

ConfigFlags WithTls() {
  ConfigFlags f;
  f.tls_ca = "ca.pem";
  f.tls_cert = "c.pem";
  f.tls_key = "c.key";
  return f;
}

std::string WriteConfig(const std::string& text) {
  const std::string path = kinex::testing::MakeUniqueTempDir() + "/kinex.textproto";
  std::ofstream(path) << text;
  return path;
}

TEST(ServerBoundsConfig, DefaultsAreFilled) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig("", WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server().max_concurrent_streams_per_connection(), 100);
  EXPECT_EQ(c->server().reply_write_timeout_seconds(), 60);
  EXPECT_FALSE(c->server().enable_reflection());
  EXPECT_EQ(c->gateway().max_streams_per_agency(), 4);
}

TEST(ServerBoundsConfig, FileValuesAreKept) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig(
      WriteConfig("gateway { max_streams_per_agency: 2 }\n"
                  "server { reply_write_timeout_seconds: 5 enable_reflection: true }\n"),
      WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gateway().max_streams_per_agency(), 2);
  EXPECT_EQ(c->server().reply_write_timeout_seconds(), 5);
  EXPECT_TRUE(c->server().enable_reflection());
  EXPECT_EQ(c->server().max_concurrent_streams_per_connection(), 100);
}

TEST(ServerBoundsConfig, BadValuesNameTheField) {
  const std::string file = WriteConfig("server { reply_write_timeout_seconds: -3 }\n");
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig(file, WithTls());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("server.reply_write_timeout_seconds: must be at least 1"),
            absl::string_view::npos)
      << c.status();
  c = LoadConfig(WriteConfig("server { max_concurrent_streams_per_connection: -1 }\n"),
                 WithTls());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(
      c.status().message().find("server.max_concurrent_streams_per_connection: must be at least 1"),
      absl::string_view::npos)
      << c.status();
}

}  // namespace
}  // namespace kinex
