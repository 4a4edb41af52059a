// The schema files embedded at build time (kinex_embed_sql) are the files in
// the source tree, byte for byte, and every .sql file of a store's schema
// directory is embedded: the embedding cannot go stale or miss a file. The
// source tree is found through the compile definition every test gets
// (KINEX_SOURCE_DIR_DEFAULT, tests/testing/paths.h).
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "embedded_sql/audit_schema.h"
#include "embedded_sql/consent_schema.h"
#include "embedded_sql/records_schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/paths.h"

namespace kinex {
namespace {

std::string ReadSourceFile(absl::string_view path) {
  std::ifstream in(std::filesystem::path(testing::SourceDir()) / std::string(path),
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << path << " cannot be read under " << testing::SourceDir();
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The .sql files in `dir` (relative to the source root), as source paths.
std::set<std::string> SqlFilesIn(absl::string_view dir) {
  std::set<std::string> out;
  const std::filesystem::path root(testing::SourceDir());
  for (const auto& entry : std::filesystem::directory_iterator(root / std::string(dir))) {
    if (entry.path().extension() == ".sql") {
      out.insert(std::filesystem::relative(entry.path(), root).string());
    }
  }
  return out;
}

template <typename File, size_t N>
void ExpectEmbeddedAsOnDisk(const File (&files)[N], absl::string_view dir) {
  std::set<std::string> embedded;
  for (const File& f : files) {
    embedded.insert(std::string(f.path));
    EXPECT_EQ(std::string(f.text), ReadSourceFile(f.path))
        << f.path << " changed since it was embedded: rebuild";
  }
  EXPECT_EQ(embedded, SqlFilesIn(dir))
      << "list every .sql file of " << dir << " in its kinex_embed_sql(FILES ...)";
}

TEST(EmbeddedSql, RecordsSchemaIsTheFilesOnDisk) {
  ExpectEmbeddedAsOnDisk(records::schema::kFiles, "services/records/schema");
  // One constant per file, named after it.
  EXPECT_EQ(records::schema::kFiles[0].path,
            "services/records/schema/0001_children_parts_scope.sql");
  EXPECT_EQ(records::schema::kFiles[0].text.data(),
            records::schema::k0001ChildrenPartsScope.data());
}

TEST(EmbeddedSql, ConsentSchemaIsTheFilesOnDisk) {
  ExpectEmbeddedAsOnDisk(consent::schema::kFiles, "services/consent/schema");
}

TEST(EmbeddedSql, AuditSchemaIsTheFilesOnDisk) {
  ExpectEmbeddedAsOnDisk(audit::schema::kFiles, "services/audit/schema");
  EXPECT_THAT(std::string(audit::schema::k0001AppendOnlyPostgres),
              ::testing::HasSubstr("RETURNS trigger AS $$"));
}

// Every schema file starts with a comment block saying what its version adds.
TEST(EmbeddedSql, EveryFileStartsWithAComment) {
  for (const auto& f : records::schema::kFiles) {
    EXPECT_TRUE(absl::StartsWith(f.text, "-- ")) << f.path;
  }
  for (const auto& f : consent::schema::kFiles) {
    EXPECT_TRUE(absl::StartsWith(f.text, "-- ")) << f.path;
  }
  for (const auto& f : audit::schema::kFiles) {
    EXPECT_TRUE(absl::StartsWith(f.text, "-- ")) << f.path;
  }
}

}  // namespace
}  // namespace kinex
