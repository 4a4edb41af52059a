// The resource bounds every `kinex` server runs with (config.server, and the
// gateway's per-agency limit on calls in flight): defaults as config.proto
// documents them, and bad values named with where they came from.
#include <fstream>

#include "gtest/gtest.h"
#include "services/kinex/config.h"
#include "tests/kinex/config_test_util.h"
#include "tests/testing/paths.h"

namespace kinex {
namespace {

using testing::WithTls;
using testing::WriteConfig;

TEST(ServerLimitsConfig, DefaultsAreFilled) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig("", WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gateway().max_in_flight_per_agency(), 32);
  EXPECT_EQ(c->server().max_threads(), 256);
  EXPECT_EQ(c->server().max_memory_bytes(), int64_t{1} << 30);
  EXPECT_EQ(c->server().keepalive_time_seconds(), 120);
  EXPECT_EQ(c->server().keepalive_timeout_seconds(), 20);
  EXPECT_EQ(c->server().max_connection_idle_seconds(), 300);
  EXPECT_EQ(c->server().max_connection_age_seconds(), 1800);
  EXPECT_EQ(c->server().max_connection_age_grace_seconds(), 30);
}

TEST(ServerLimitsConfig, FileValuesAreKept) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c =
      LoadConfig(WriteConfig("gateway { max_in_flight_per_agency: 4 }\n"
                             "server { max_threads: 64 max_connection_age_seconds: 600 }\n"),
                 WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gateway().max_in_flight_per_agency(), 4);
  EXPECT_EQ(c->server().max_threads(), 64);
  EXPECT_EQ(c->server().max_connection_age_seconds(), 600);
  EXPECT_EQ(c->server().max_connection_idle_seconds(), 300);
}

TEST(ServerLimitsConfig, BadValuesNameTheField) {
  const std::string file = WriteConfig("server { max_threads: 2 }\n");
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig(file, WithTls());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(c.status().message()), file + ":1: server.max_threads: must be at least 8");
  c = LoadConfig(WriteConfig("server { max_connection_idle_seconds: -1 }\n"), WithTls());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("server.max_connection_idle_seconds: must be at least 1"),
            absl::string_view::npos)
      << c.status();
}

// The bounds added after the first pass: concurrent streams per
// connection, the reply write timeout, reflection off by default, and the
// gateway's stream quota.
TEST(ServerBoundsConfig, DefaultsAreFilled) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig("", WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server().max_concurrent_streams_per_connection(), 100);
  EXPECT_EQ(c->server().reply_write_timeout_seconds(), 60);
  EXPECT_FALSE(c->server().enable_reflection());
  EXPECT_EQ(c->gateway().max_streams_per_agency(), 4);
}

TEST(ServerBoundsConfig, FileValuesAreKept) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c =
      LoadConfig(WriteConfig("gateway { max_streams_per_agency: 2 }\n"
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
  c = LoadConfig(WriteConfig("server { max_concurrent_streams_per_connection: -1 }\n"), WithTls());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(
      c.status().message().find("server.max_concurrent_streams_per_connection: must be at least 1"),
      absl::string_view::npos)
      << c.status();
}

}  // namespace
}  // namespace kinex
