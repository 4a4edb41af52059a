#include "tests/testing/postgres_server.h"

#include <libpq-fe.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kinex::testing {
namespace {

// Runs `sql` on `conninfo`; the first column of the first row, or the error.
std::string QueryOne(const std::string& conninfo, const char* sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string out = PQerrorMessage(conn);
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* res = PQexec(conn, sql);
    const ExecStatusType status = PQresultStatus(res);
    out = status == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0)
          : status == PGRES_COMMAND_OK                    ? ""
                                                          : PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

TEST(PostgresServer, StartsCreatesDatabaseAndAnswersQueries) {
  auto pg = PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto conninfo = (*pg)->CreateDatabase("kinex_smoke");
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  EXPECT_EQ(QueryOne(*conninfo, "SELECT current_database()"), "kinex_smoke");
  EXPECT_EQ(QueryOne(*conninfo, "SELECT current_setting('server_version_num')::int / 10000"), "15");
}

TEST(PostgresServer, RejectsUnsafeDatabaseName) {
  auto pg = PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto conninfo = (*pg)->CreateDatabase("x; DROP DATABASE postgres");
  EXPECT_EQ(conninfo.status().code(), absl::StatusCode::kInvalidArgument);
  auto copy = (*pg)->CreateDatabase("x", "postgres; DROP DATABASE postgres");
  EXPECT_EQ(copy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(copy.status().message(), "database name must be letters, digits and underscores");
}

TEST(PostgresServer, CopiesADatabaseWithItsRows) {
  auto pg = PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto source = (*pg)->CreateDatabase("source");
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ(QueryOne(*source, "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')"), "");
  auto copy = (*pg)->CreateDatabase("copied", "source");
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(QueryOne(*copy, "SELECT current_database()"), "copied");
  EXPECT_EQ(QueryOne(*copy, "SELECT v FROM t"), "kept");
  // The copy is a database of its own.
  ASSERT_EQ(QueryOne(*copy, "INSERT INTO t VALUES ('copy only')"), "");
  EXPECT_EQ(QueryOne(*source, "SELECT count(*) FROM t"), "1");
  EXPECT_EQ(QueryOne(*copy, "SELECT count(*) FROM t"), "2");
}

TEST(PostgresServer, TestDefaultsOrDurableDefaultsPlusFurtherSettings) {
  auto fast = PostgresServer::Start();
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_EQ(QueryOne((*fast)->conninfo(), "SHOW fsync"), "off");
  EXPECT_EQ(QueryOne((*fast)->conninfo(), "SHOW shared_buffers"), "128MB");

  auto tuned =
      PostgresServer::Start({.durable = true, .settings = {"shared_buffers=16MB", "work_mem=7MB"}});
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_EQ(QueryOne((*tuned)->conninfo(), "SHOW fsync"), "on");
  EXPECT_EQ(QueryOne((*tuned)->conninfo(), "SHOW synchronous_commit"), "on");
  EXPECT_EQ(QueryOne((*tuned)->conninfo(), "SHOW shared_buffers"), "16MB");
  EXPECT_EQ(QueryOne((*tuned)->conninfo(), "SHOW work_mem"), "7MB");
}

TEST(PostgresServer, AnUnknownSettingFailsTheStartNamingIt) {
  auto pg = PostgresServer::Start({.settings = {"no_such_setting=1"}});
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(pg.status().message(), ::testing::StartsWith("PostgreSQL did not start"));
  EXPECT_THAT(pg.status().message(), ::testing::HasSubstr("\"no_such_setting\""));
}

}  // namespace
}  // namespace kinex::testing
