// The shared frame of kinexctl's commands: argument parsing, the connection
// to Kinex (mTLS with the caller's client certificate), and output format.
// Each command group (health, policy, audit, consent, record, children)
// implements a CommandGroup in its own file; main.cc dispatches.
//
// Example:
//   int RunHealth(CommandContext& ctx, Args& args) {
//     KINEXCTL_HELP(args, ctx, "usage: kinexctl health [--service=NAME]\n...");
//     auto channel = ctx.Channel();
//     if (!channel.ok()) return ctx.Fail(channel.status());
//     ...
//   }
#ifndef KINEX_TOOLS_KINEXCTL_CLI_H_
#define KINEX_TOOLS_KINEXCTL_CLI_H_

#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace kinex::ctl {

// Parsed command-line words: --name=value / --name value / --flag options and
// positional words, in order. Not thread-safe.
class Args {
 public:
  Args() = default;
  // Parses `words`. A word "--" ends options. `bool_flags` names options that
  // take no value; --help (and -h) is always one. Returns INVALID_ARGUMENT naming a malformed word.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& words,
                                    const std::vector<std::string>& bool_flags);
  // The value of --name, if given; marks it used.
  std::optional<std::string> Flag(const std::string& name);
  // The value of --name, or `fallback`; marks it used.
  std::string FlagOr(const std::string& name, const std::string& fallback);
  // Whether boolean --name was given; marks it used.
  bool Bool(const std::string& name);
  // Positional words.
  const std::vector<std::string>& positional() const { return positional_; }
  // INVALID_ARGUMENT naming the first option nobody asked for ("unknown
  // flag --x"), so typos are not silently ignored.
  absl::Status CheckAllUsed() const;

 private:
  std::map<std::string, std::string> flags_;
  std::map<std::string, bool> used_;
  std::vector<std::string> positional_;
};

// An enum value of `type` given to --`flag`: by name (EDUCATION_SUPPORT) or
// in kebab-case (education-support); never the *_UNSPECIFIED value.
// INVALID_ARGUMENT `--flag: unknown value "x" (one of a, b, ...)` otherwise.
absl::StatusOr<int> ParseEnumFlag(const google::protobuf::EnumDescriptor* type,
                                  absl::string_view flag, absl::string_view text);

// Output formats (--output).
// kXlsx: only `children list` writes it (main.cc refuses it elsewhere).
enum class OutputFormat { kTable, kJson, kCsv, kXlsx };

// What every command gets: global options, a lazily opened channel, streams.
class CommandContext {
 public:
  // Connection settings; each from a global flag or its environment variable.
  struct Connection {
    std::string address;    // --address / KINEX_ADDRESS, default localhost:7443
    std::string ca_file;    // --ca / KINEX_CA
    std::string cert_file;  // --cert / KINEX_CERT
    std::string key_file;   // --key / KINEX_KEY
    std::string actor;      // --actor / KINEX_ACTOR (x-kinex-actor metadata)
  };
  CommandContext(Connection connection, OutputFormat output, std::ostream& out, std::ostream& err)
      : connection_(std::move(connection)), output_(output), out_(out), err_(err) {}

  // The channel to Kinex over mTLS; created on first use. Fails naming the
  // missing or unreadable certificate/key file.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel();
  // Adds x-kinex-actor (and a deadline of `timeout_seconds`) to `ctx`.
  // After the first call, INVALID_ARGUMENT is the server's, not a usage
  // error (see Fail).
  void Prepare(grpc::ClientContext& ctx, int timeout_seconds = 30);

  const Connection& connection() const { return connection_; }
  OutputFormat output() const { return output_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // Prints "kinexctl: <message>" (with the gRPC code name) to err; returns
  // the exit code for it: 2 for INVALID_ARGUMENT (usage), 1 otherwise. An
  // INVALID_ARGUMENT before any server call is a usage error: the synopsis
  // of the command's usage (SetUsage: its text up to the first blank line)
  // follows the message on err.
  int Fail(const absl::Status& status);
  // The usage text of the command being run, for Fail.
  void SetUsage(absl::string_view usage) { usage_ = std::string(usage); }
  // Prints `usage`: for --help to out (exit code 0), else, for a missing or
  // unknown command, to err (exit code 2). Returns the exit code.
  int PrintUsage(absl::string_view usage, bool help);

 private:
  Connection connection_;
  OutputFormat output_;
  std::ostream& out_;
  std::ostream& err_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string usage_;
  bool called_ = false;
};

// Whether `words` ask for help: --help or -h before any "--", or "help" as
// the first word. Command groups check it before rejecting an unknown
// subcommand, so --help anywhere prints usage and exits 0.
bool WantsHelp(const std::vector<std::string>& words);

// The synopsis of a usage text: its lines up to the first blank line.
std::string UsageSynopsis(absl::string_view usage);

// A command group: `kinexctl <name> ...`. `run` gets the words after <name>
// and returns the process exit code.
struct CommandGroup {
  std::string name;
  std::string summary;  // one line for `kinexctl --help`
  std::function<int(CommandContext&, const std::vector<std::string>&)> run;
};

// Writes rows as an aligned table, JSON (array of objects) or CSV (RFC 4180
// quoting) per `format`. `header` names the columns.
void WriteRows(std::ostream& out, OutputFormat format, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_CLI_H_
