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
  EXPECT_EQ(c->gateway().facts_cache_entries(), 16384);
}

TEST(LoadConfig, FactsCacheOfZeroKeepsNoneAndANegativeOneIsRefused) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c =
      LoadConfig(WriteConfig("gateway {\n  facts_cache_entries: 0\n}\n"), WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gateway().facts_cache_entries(), 0);
  const std::string path = WriteConfig("gateway {\n  facts_cache_entries: -1\n}\n");
  absl::Status s = LoadConfig(path, WithTls()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path + ":2: gateway.facts_cache_entries: must not be negative");
}

// A gateway on its own decides with its own copy of the policy set unless
// told to ask the policy service; a value that is neither is refused by line.
TEST(LoadConfig, PolicyDecisionsAreLocalUnlessTheServiceIsAsked) {
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig(WriteConfig(""), WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gateway().policy_decisions(), kinex::config::v1::GatewayConfig::LOCAL);
  c = LoadConfig(WriteConfig("gateway {\n  policy_decisions: SERVICE\n}\n"), WithTls());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gateway().policy_decisions(), kinex::config::v1::GatewayConfig::SERVICE);

  const std::string numbered =
      WriteConfig("target: \"gateway\"\ngateway {\n  policy_decisions: 7\n}\n");
  absl::Status s = LoadConfig(numbered, WithTls()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            numbered + ":3: gateway.policy_decisions: must be LOCAL or SERVICE (got 7)");

  // protobuf's parser places the error at the token after the value: kept
  // on the value's line here.
  const std::string misnamed = WriteConfig("gateway { policy_decisions: REMOTE }\n");
  s = LoadConfig(misnamed, WithTls()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()),
            misnamed +
                ":1:36: Unknown enumeration value of \"REMOTE\" for field "
                "\"policy_decisions\".");
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

TEST(LoadConfig, EveryFlagOfTheTableSetsItsField) {
  ConfigFlags f = WithTls();
  f.data_dir = "/srv/kinex";
  f.trust_domain = "example.org";
  f.tls_crl_dir = "crl";
  f.metrics_listen = "127.0.0.1:9999";
  f.policy_dir = "/etc/kinex/policy";
  f.audit_signing_key = "sign.key";
  f.audit_pseudonym_key = "pseudonym.key";
  f.config = "ignored: LoadConfig's first argument names the file";
  absl::StatusOr<kinex::config::v1::KinexConfig> c = LoadConfig("", f);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data_dir(), "/srv/kinex");
  EXPECT_EQ(c->trust_domain(), "example.org");
  EXPECT_EQ(c->tls().ca_file(), "ca.pem");
  EXPECT_EQ(c->tls().cert_file(), "c.pem");
  EXPECT_EQ(c->tls().key_file(), "c.key");
  EXPECT_EQ(c->tls().crl_dir(), "crl");
  EXPECT_EQ(c->listen().metrics(), "127.0.0.1:9999");
  EXPECT_EQ(c->policy().policy_dir(), "/etc/kinex/policy");
  EXPECT_EQ(c->audit().signing_key_file(), "sign.key");
  EXPECT_EQ(c->audit().pseudonym_key_file(), "pseudonym.key");
  // A required TLS file names its flag, from the same table.
  f.tls_cert.reset();
  EXPECT_THAT(LoadConfig("", f).status().message(),
              HasSubstr("tls.cert_file is required (--tls_cert or tls { } in --config)"));
}

TEST(ApplyConfigDefaults, FillsEachStoresSqliteFileUnlessNamed) {
  kinex::config::v1::KinexConfig c;
  c.mutable_records()->mutable_storage()->set_postgres_conninfo("host=db");
  c.mutable_consent()->mutable_storage()->set_sqlite_path("/var/consent.db");
  ApplyConfigDefaults(c);
  EXPECT_EQ(c.audit().storage().sqlite_path(), "audit.db");
  EXPECT_EQ(c.records().storage().postgres_conninfo(), "host=db");
  EXPECT_EQ(c.consent().storage().sqlite_path(), "/var/consent.db");
  EXPECT_EQ(c.audit().sign_interval_seconds(), 60);
  EXPECT_EQ(c.upstream().records(), "localhost:7447");
}

TEST(ApplyConfigDefaults, ARelativePageTokenKeyFileIsUnderDataDir) {
  kinex::config::v1::KinexConfig c;
  c.set_data_dir("/var/lib/kinex");
  c.set_page_token_key_file("page.key");
  ApplyConfigDefaults(c);
  EXPECT_EQ(c.page_token_key_file(), "/var/lib/kinex/page.key");
  c.set_page_token_key_file("/etc/kinex/page.key");
  ApplyConfigDefaults(c);
  EXPECT_EQ(c.page_token_key_file(), "/etc/kinex/page.key");
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
  EXPECT_EQ(s.message(),
            path + ":3: listen.audit: \"localhost\" is not host:port with a port 0-65535");
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
      WriteConfig("audit {\n  retired_public_key_files: \"keys/2025.pub.pem\"\n}\n"), WithTls());
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

}  // namespace
}  // namespace kinex
