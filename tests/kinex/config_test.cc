#include "services/kinex/config.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kinex/config_test_util.h"
#include "tests/testing/paths.h"

namespace kinex {
namespace {

using ::testing::HasSubstr;

using testing::WithTls;
using testing::WriteConfig;

TEST(LoadConfig, DefaultsAreFilled) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig("", WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->target(), "all");
  EXPECT_EQ(c->data_dir(), "data");
  EXPECT_EQ(c->trust_domain(), "kinex.dev");
  EXPECT_EQ(c->listen().gateway(), "127.0.0.1:7443");
  EXPECT_EQ(c->policy().policy_dir(), "policy");
  EXPECT_EQ(c->audit().sign_interval_seconds(), 60);
  EXPECT_EQ(c->records().max_part_bytes(), 1 << 20);
  EXPECT_EQ(c->gateway().break_glass_min_justification(), 20);
}

TEST(LoadConfig, FlagsOverrideFile) {
  ConfigFlags f = WithTls();
  f.target = "audit";
  f.listen = "127.0.0.1:0";
  absl::StatusOr<kinex::config::v1::KinexConfig> c =
      LoadConfig(WriteConfig("target: \"records\"\ndata_dir: \"/var/lib/kinex\"\n"), f);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->target(), "audit");
  EXPECT_EQ(c->data_dir(), "/var/lib/kinex");
  EXPECT_EQ(c->listen().audit(), "127.0.0.1:0");
  EXPECT_EQ(ListenAddressFor(*c, "audit"), "127.0.0.1:0");
}

TEST(LoadConfig, BadFlagValueNamesTheFlag) {
  ConfigFlags f = WithTls();
  f.target = "frontend";
  absl::Status s = LoadConfig("", f).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "--target: target: \"frontend\" is not one of all, gateway, policy, "
            "consent, audit, records");
}

TEST(LoadConfig, BadFileValueNamesFileAndLine) {
  const std::string path = WriteConfig("target: \"all\"\nlisten {\n  audit: \"localhost\"\n}\n");
  absl::Status s = LoadConfig(path, WithTls()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path + ":3: listen.audit: \"localhost\" is not host:port with a port 0-65535");
}

TEST(LoadConfig, EmptyRetiredPublicKeyFileNamesItsLine) {
  const std::string path = WriteConfig(
      "audit {\n  retired_public_key_files: \"keys/2025.pub.pem\"\n"
      "  retired_public_key_files: \"\"\n}\n");
  absl::Status s = LoadConfig(path, WithTls()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            path + ":3: audit.retired_public_key_files[1]: must name a PEM public key file");
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig(
      WriteConfig("audit {\n  retired_public_key_files: \"keys/2025.pub.pem\"\n}\n"),
      WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->audit().retired_public_key_files_size(), 1);
}

TEST(LoadConfig, UnknownFieldInFileNamesFileAndLine) {
  const std::string path = WriteConfig("target: \"all\"\ntls {\n  crl_file: \"x\"\n}\n");
  absl::Status s = LoadConfig(path, WithTls()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path + ":3:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("no field named \"crl_file\""));
}

TEST(LoadConfig, MissingTlsIsRefused) {
  absl::Status s = LoadConfig("", ConfigFlags{}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "tls.ca_file is required (--tls_ca or tls { } in --config): Kinex serves "
            "only over mutual TLS");
}

TEST(LoadConfig, MissingConfigFileIsNotFound) {
  absl::Status s = LoadConfig("/nonexistent/kinex.textproto", WithTls()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/kinex.textproto"));
}

TEST(DataPath, ResolvesRelativeToDataDir) {
  kinex::config::v1::KinexConfig c;
  c.set_data_dir("/srv/kinex");
  EXPECT_EQ(DataPath(c, "audit.db"), "/srv/kinex/audit.db");
  EXPECT_EQ(DataPath(c, "/abs/audit.db"), "/abs/audit.db");
}

}  // namespace
}  // namespace kinex
