// Runs a real process for integration tests: argv, optional environment
// additions, stdout and stderr captured through pipes. Readiness is read from
// the child's own output (e.g. kinex's "serving" line), never slept for.
//
// Example:
//   auto kinex = Subprocess::Start({BinPath("kinex"), "--listen=127.0.0.1:0", ...});
//   std::string line = *kinex->ReadStdoutLine(absl::Seconds(30));
//   kinex->Signal(SIGTERM);
//   EXPECT_EQ(kinex->Wait(), 0);
#ifndef KINEX_TESTS_TESTING_SUBPROCESS_H_
#define KINEX_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kinex::testing {

// Path of a binary built into <build>/bin.
std::string BinPath(const std::string& name);

// A child process. Not thread-safe. The destructor kills (SIGKILL) and reaps
// a child still running.
class Subprocess {
 public:
  // Starts `argv` with `env` ("NAME=value") added to this environment.
  // With `stderr_file`, the child's stderr is appended to that file instead
  // of a pipe (long-running servers: a full pipe would block them).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::vector<std::string>& env = {},
                                                           const std::string& stderr_file = "");
  ~Subprocess();

  // The next line of stdout (without '\n'); DEADLINE_EXCEEDED after
  // `timeout`, OUT_OF_RANGE at end of output.
  absl::StatusOr<std::string> ReadStdoutLine(absl::Duration timeout);
  // Sends `sig`.
  void Signal(int sig);
  // Waits for exit; returns the exit code, or 128+signal if killed.
  int Wait();
  // As Wait, for at most `timeout`: nullopt when the child is still running
  // then (it is left running, not reaped).
  std::optional<int> WaitFor(absl::Duration timeout);
  // Everything left on stdout / stderr (call after Wait).
  std::string DrainStdout();
  std::string DrainStderr();
  pid_t pid() const { return pid_; }

  // Runs `argv` to completion; returns {exit code, stdout, stderr}.
  struct Result {
    int exit_code;
    std::string out;
    std::string err;
  };
  static absl::StatusOr<Result> Run(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env = {});

 private:
  Subprocess(pid_t pid, int out_fd, int err_fd) : pid_(pid), out_fd_(out_fd), err_fd_(err_fd) {}
  std::string Drain(int fd);
  // Records a wait status.
  void Reaped(int status);
  pid_t pid_;
  int out_fd_;
  int err_fd_;
  bool reaped_ = false;
  int exit_code_ = -1;
  std::string out_buffer_;
};

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_SUBPROCESS_H_
