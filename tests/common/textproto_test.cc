#include "services/common/textproto.h"

#include <sys/stat.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/config/v1/config.pb.h"
#include "services/common/file_util.h"
#include "tests/testing/temp_dir.h"

namespace kinex {
namespace {

using ::testing::HasSubstr;

TEST(ParseTextProto, ParsesValidText) {
  kinex::config::v1::KinexConfig config;
  ASSERT_TRUE(
      ParseTextProto("target: \"audit\"\nlisten { audit: \"127.0.0.1:0\" }", "k.textproto", &config)
          .ok());
  EXPECT_EQ(config.target(), "audit");
  EXPECT_EQ(config.listen().audit(), "127.0.0.1:0");
}

TEST(ParseTextProto, UnknownFieldNamesFileLineAndField) {
  kinex::config::v1::KinexConfig config;
  absl::Status s =
      ParseTextProto("target: \"all\"\n\ntargt: \"audit\"\n", "kinex.textproto", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("kinex.textproto:3:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("no field named \"targt\""));
}

TEST(ParseTextProto, SyntaxErrorNamesLine) {
  kinex::config::v1::KinexConfig config;
  absl::Status s = ParseTextProto("tls {\n  ca_file: \"x\"\n", "c.textproto", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("c.textproto:3:"));
}

TEST(ParseTextProtoFile, MissingFileIsNotFoundNamingIt) {
  kinex::config::v1::KinexConfig config;
  absl::Status s = ParseTextProtoFile("/nonexistent/kinex.textproto", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/kinex.textproto"));
}

TEST(ReadPrivateKeyFile, RefusesGroupReadableKey) {
  const kinex::testing::ScopedTempDir dir("textproto");
  const std::string path = dir.File("k.key");
  ASSERT_TRUE(WriteFileAtomically(path, "secret", 0644).ok());
  chmod(path.c_str(), 0644);
  absl::StatusOr<std::string> key = ReadPrivateKeyFile(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(key.status().message()), HasSubstr("mode 0644"));
  chmod(path.c_str(), 0600);
  key = ReadPrivateKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, "secret");
}

TEST(MakePrivateDirectories, NewDirectoriesAreOwnerOnlyWhateverTheUmask) {
  const kinex::testing::ScopedTempDir dir("textproto");
  const mode_t old = umask(022);
  const std::string nested = dir.File("data/stores/audit");
  ASSERT_TRUE(MakePrivateDirectories(nested).ok());
  umask(old);
  for (const std::string& d : {dir.File("data"), dir.File("data/stores"), nested}) {
    struct stat st;
    ASSERT_EQ(stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
  }
  // An existing directory is left as it is.
  struct stat parent;
  ASSERT_EQ(stat(dir.path().c_str(), &parent), 0);
  ASSERT_TRUE(MakePrivateDirectories(dir.path()).ok());
  struct stat after;
  ASSERT_EQ(stat(dir.path().c_str(), &after), 0);
  EXPECT_EQ(after.st_mode, parent.st_mode);
}

TEST(ReadSymmetricKeyFile, HexOrRawThirtyTwoBytesOnly) {
  const kinex::testing::ScopedTempDir dir("textproto");
  const std::string hex = dir.File("hex.key");
  ASSERT_TRUE(WriteFileAtomically(hex, std::string(64, 'a') + "\n", 0600).ok());
  absl::StatusOr<std::string> key = ReadSymmetricKeyFile(hex, "page token key");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, std::string(32, '\xaa'));
  const std::string raw = dir.File("raw.key");
  ASSERT_TRUE(WriteFileAtomically(raw, std::string(32, 'r'), 0600).ok());
  EXPECT_EQ(*ReadSymmetricKeyFile(raw, "page token key"), std::string(32, 'r'));
  const std::string shortkey = dir.File("short.key");
  ASSERT_TRUE(WriteFileAtomically(shortkey, "abcd", 0600).ok());
  key = ReadSymmetricKeyFile(shortkey, "page token key");
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(key.status().message(),
            shortkey + ": page token key must be 64 hex characters or 32 raw bytes");
  chmod(raw.c_str(), 0640);
  EXPECT_EQ(ReadSymmetricKeyFile(raw, "page token key").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kinex
