// A real, throwaway PostgreSQL server for tests and benchmarks: initdb into a
// temporary directory (as the unprivileged user `nobody` when run as root,
// since PostgreSQL refuses to run as root), started on a free loopback port,
// stopped and deleted when the object is destroyed.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto pg, PostgresServer::Start());
//   KINEX_ASSIGN_OR_RETURN(std::string conninfo, pg->CreateDatabase("audit"));
//
// If PostgreSQL is not installed, Start() fails with FAILED_PRECONDITION:
// tests must fail, not skip (tools/install-deps.sh installs it).
#ifndef KINEX_TESTS_TESTING_POSTGRES_SERVER_H_
#define KINEX_TESTS_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kinex::testing {

// One running PostgreSQL server. Not thread-safe; CreateDatabase may be
// called from one thread at a time.
class PostgresServer {
 public:
  struct Options {
    // Default false: fsync and synchronous_commit off, for fast tests. True
    // keeps PostgreSQL's durable defaults (benchmarks).
    bool durable = false;
    // Further server settings, each "name=value" as postgres -c takes it
    // (e.g. "shared_buffers=2GB"), applied after the ones above.
    std::vector<std::string> settings;
  };

  // initdb, start, and wait until the server accepts connections (PQping).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start() { return Start(Options{}); }

  // Stops the server (fast shutdown) and removes its directory.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Creates database `name` (letters, digits, underscore) and returns a libpq
  // conninfo for it. With `copy_of`, a file-level copy of that database,
  // which must then have no open connections.
  absl::StatusOr<std::string> CreateDatabase(const std::string& name,
                                             const std::string& copy_of = "");

  // conninfo of the maintenance database "postgres".
  std::string conninfo() const;
  int port() const { return port_; }

 private:
  PostgresServer(std::string dir, int port, pid_t pid)
      : dir_(std::move(dir)), port_(port), pid_(pid) {}

  std::string dir_;
  int port_;
  pid_t pid_;
};

// One server shared by every test of this process: started on first use,
// stopped when the process exits. Thread-safe. A failed start is remembered
// and returned to every caller.
absl::StatusOr<PostgresServer*> SharedPostgresServer();

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_POSTGRES_SERVER_H_
