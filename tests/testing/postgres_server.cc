#include "tests/testing/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tests/testing/file_tail.h"

namespace kinex::testing {
namespace {

// The directory holding initdb and postgres: PATH first, then Debian's
// versioned layout (/usr/lib/postgresql/<v>/bin).
absl::StatusOr<std::string> FindPostgresBin() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (access((dir + "/initdb").c_str(), X_OK) == 0 &&
          access((dir + "/postgres").c_str(), X_OK) == 0) {
        return dir;
      }
    }
  }
  glob_t g;
  std::string found;
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
    found = g.gl_pathv[g.gl_pathc - 1];  // newest version sorts last
    found = found.substr(0, found.size() - std::string("/initdb").size());
  }
  globfree(&g);
  if (found.empty()) {
    return absl::FailedPreconditionError(
        "PostgreSQL server binaries (initdb, postgres) not found: run "
        "tools/install-deps.sh");
  }
  return found;
}

// A free loopback TCP port (bound and released; the server binds it next).
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("cannot find a free port");
  }
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// Runs `argv` as `uid`/`gid` (when not -1), stdout/stderr to `log`. Returns
// the child's pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, uid_t uid, gid_t gid,
                            const std::string& log) {
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork() failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    setpgid(0, 0);  // keep terminal signals for the test runner only
    if (gid != static_cast<gid_t>(-1) && setgid(gid) != 0) _exit(126);
    if (uid != static_cast<uid_t>(-1) && setuid(uid) != 0) _exit(126);
    // Die with the test (fast shutdown) even if it is killed before its
    // destructor runs. Set after setuid, which clears it.
    prctl(PR_SET_PDEATHSIG, SIGINT);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

std::string ConnInfo(int port, const std::string& db) {
  return absl::StrCat("host=127.0.0.1 port=", port, " user=postgres dbname=", db,
                      " connect_timeout=10");
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(Options options) {
  absl::StatusOr<std::string> bin = FindPostgresBin();
  if (!bin.ok()) return bin.status();

  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  if (geteuid() == 0) {
    const passwd* nobody = getpwnam("nobody");
    if (nobody == nullptr) {
      return absl::FailedPreconditionError(
          "running as root and there is no user 'nobody' to run PostgreSQL as");
    }
    uid = nobody->pw_uid;
    gid = nobody->pw_gid;
  }

  std::string tmpl = (std::filesystem::temp_directory_path() / "kinex-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed for the PostgreSQL directory");
  }
  const std::string dir = tmpl;
  if (uid != static_cast<uid_t>(-1) && chown(dir.c_str(), uid, gid) != 0) {
    std::filesystem::remove_all(dir);
    return absl::InternalError("cannot hand the PostgreSQL directory to 'nobody'");
  }
  chmod(dir.c_str(), 0700);
  const std::string data = dir + "/data";
  const std::string log = dir + "/server.log";

  auto fail = [&](absl::string_view what) {
    std::string detail = FileTail(log, 2000);
    std::filesystem::remove_all(dir);
    return absl::InternalError(absl::StrCat(what, "; log tail:\n", detail));
  };

  absl::StatusOr<pid_t> initdb =
      Spawn({*bin + "/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C", "--no-sync"},
            uid, gid, log);
  if (!initdb.ok()) return initdb.status();
  int wstatus = 0;
  waitpid(*initdb, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) return fail("initdb failed");

  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    std::vector<std::string> argv = {*bin + "/postgres",
                                     "-D",
                                     data,
                                     "-p",
                                     std::to_string(*port),
                                     "-k",
                                     dir,
                                     "-c",
                                     "listen_addresses=127.0.0.1",
                                     "-c",
                                     "max_connections=200"};
    if (!options.durable) {
      for (const char* opt : {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}) {
        argv.push_back("-c");
        argv.push_back(opt);
      }
    }
    for (const std::string& setting : options.settings) {
      argv.push_back("-c");
      argv.push_back(setting);
    }
    absl::StatusOr<pid_t> pid = Spawn(argv, uid, gid, log);
    if (!pid.ok()) return pid.status();
    const std::string ci = ConnInfo(*port, "postgres");
    // Readiness: poll the server itself until it accepts connections, or
    // until the process exits (port taken: try another).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (PQping(ci.c_str()) == PQPING_OK) {
        return std::unique_ptr<PostgresServer>(new PostgresServer(dir, *port, *pid));
      }
      if (waitpid(*pid, &wstatus, WNOHANG) == *pid) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, &wstatus, 0);
  }
  return fail("PostgreSQL did not start");
}

PostgresServer::~PostgresServer() {
  kill(pid_, SIGINT);  // fast shutdown
  int wstatus = 0;
  waitpid(pid_, &wstatus, 0);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

namespace {

// A name safe to splice into SQL: 1-63 letters, digits and underscores.
absl::Status CheckDatabaseName(const std::string& name) {
  if (name.empty() || name.size() > 63) {
    return absl::InvalidArgumentError("database name must be 1-63 characters");
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return absl::InvalidArgumentError("database name must be letters, digits and underscores");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string PostgresServer::conninfo() const { return ConnInfo(port_, "postgres"); }

absl::StatusOr<std::string> PostgresServer::CreateDatabase(const std::string& name,
                                                           const std::string& copy_of) {
  if (absl::Status s = CheckDatabaseName(name); !s.ok()) return s;
  if (!copy_of.empty()) {
    if (absl::Status s = CheckDatabaseName(copy_of); !s.ok()) return s;
  }
  const std::string sql = copy_of.empty() ? absl::StrCat("CREATE DATABASE ", name)
                                          : absl::StrCat("CREATE DATABASE ", name, " TEMPLATE ",
                                                         copy_of, " STRATEGY FILE_COPY");
  PGconn* conn = PQconnectdb(conninfo().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("connect to test PostgreSQL: ", err));
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string err = ok ? "" : PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (!ok) return absl::InternalError(absl::StrCat(sql, ": ", err));
  return ConnInfo(port_, name);
}

absl::StatusOr<PostgresServer*> SharedPostgresServer() {
  static absl::Mutex mu;
  // Destroyed at exit: stops the server.
  static std::unique_ptr<PostgresServer> server ABSL_GUARDED_BY(mu);
  static absl::Status failed ABSL_GUARDED_BY(mu);
  absl::MutexLock lock(&mu);
  if (server == nullptr && failed.ok()) {
    absl::StatusOr<std::unique_ptr<PostgresServer>> started = PostgresServer::Start();
    if (started.ok()) {
      server = std::move(*started);
    } else {
      failed = started.status();
    }
  }
  if (!failed.ok()) return failed;
  return server.get();
}

}  // namespace kinex::testing
