#include "tests/testing/postgres_server.h"

#include <libpq-fe.h>

#include "gtest/gtest.h"

namespace kinex::testing {
namespace {

TEST(PostgresServer, StartsCreatesDatabaseAndAnswersQueries) {
  auto pg = PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto conninfo = (*pg)->CreateDatabase("kinex_smoke");
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  PGconn* conn = PQconnectdb(conninfo->c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* res =
      PQexec(conn, "SELECT current_database(), current_setting('server_version_num')::int / 10000");
  ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK);
  EXPECT_STREQ(PQgetvalue(res, 0, 0), "kinex_smoke");
  EXPECT_EQ(std::string(PQgetvalue(res, 0, 1)), "15");
  PQclear(res);
  PQfinish(conn);
}

TEST(PostgresServer, RejectsUnsafeDatabaseName) {
  auto pg = PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto conninfo = (*pg)->CreateDatabase("x; DROP DATABASE postgres");
  EXPECT_EQ(conninfo.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kinex::testing
