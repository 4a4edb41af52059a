// kinexctl: the Kinex command-line client, for integrators, virtual school
// heads and auditors.
//
//   kinexctl [global flags] <command> [subcommand] [flags]
//
// Global flags (anywhere on the line), each with an environment fallback:
//   --address=HOST:PORT  KINEX_ADDRESS  (default localhost:7443)
//   --ca=FILE            KINEX_CA       Kinex CA certificate
//   --cert=FILE          KINEX_CERT     your agency's client certificate
//   --key=FILE           KINEX_KEY      its private key (0600)
//   --actor=NAME         KINEX_ACTOR    the practitioner behind the call
//   --output=table|json|csv  KINEX_OUTPUT (default table)
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tools/kinexctl/cli.h"
#include "tools/kinexctl/command_groups.h"

namespace {

constexpr const char* kGlobalFlags[] = {"address", "ca", "cert", "key", "actor", "output"};

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// The usage: to stdout for --help (exit 0), else to stderr (exit 2).
int PrintUsage(const std::vector<kinex::ctl::CommandGroup>& groups, bool help) {
  std::ostream& out = help ? std::cout : std::cerr;
  out << "usage: kinexctl [--address=HOST:PORT] [--ca=FILE --cert=FILE --key=FILE]\n"
         "                [--actor=NAME] [--output=table|json|csv] <command> ...\n\n"
         "Commands:\n";
  size_t width = 0;
  for (const auto& g : groups) width = std::max(width, g.name.size());
  for (const auto& g : groups) {
    out << "  " << g.name << std::string(width + 2 - g.name.size(), ' ') << g.summary << "\n";
  }
  out << "\nEach command takes --help. Connection flags fall back to KINEX_ADDRESS,\n"
         "KINEX_CA, KINEX_CERT, KINEX_KEY, KINEX_ACTOR and KINEX_OUTPUT.\n";
  return help ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<kinex::ctl::CommandGroup> groups = kinex::ctl::AllCommandGroups();
  kinex::ctl::CommandContext::Connection conn{Env("KINEX_ADDRESS", "localhost:7443"),
                                              Env("KINEX_CA", ""), Env("KINEX_CERT", ""),
                                              Env("KINEX_KEY", ""), Env("KINEX_ACTOR", "")};
  std::string output = Env("KINEX_OUTPUT", "table");

  // Pull the global flags out wherever they stand; the rest go to the command.
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string w = argv[i];
    bool taken = false;
    for (const char* g : kGlobalFlags) {
      const std::string flag = std::string("--") + g;
      std::string value;
      if (absl::StartsWith(w, flag + "=")) {
        value = w.substr(flag.size() + 1);
      } else if (w == flag && i + 1 < argc) {
        value = argv[++i];
      } else {
        continue;
      }
      taken = true;
      const std::string name = g;
      if (name == "address") conn.address = value;
      if (name == "ca") conn.ca_file = value;
      if (name == "cert") conn.cert_file = value;
      if (name == "key") conn.key_file = value;
      if (name == "actor") conn.actor = value;
      if (name == "output") output = value;
      break;
    }
    if (!taken) rest.push_back(w);
  }

  kinex::ctl::OutputFormat format;
  if (output == "table") {
    format = kinex::ctl::OutputFormat::kTable;
  } else if (output == "json") {
    format = kinex::ctl::OutputFormat::kJson;
  } else if (output == "csv") {
    format = kinex::ctl::OutputFormat::kCsv;
  } else if (output == "xlsx" && !rest.empty() && rest[0] == "children") {
    format = kinex::ctl::OutputFormat::kXlsx;
  } else {
    std::cerr << "kinexctl: INVALID_ARGUMENT: --output must be table, json or csv (or xlsx for "
                 "children list), not \""
              << output << "\"\n";
    return PrintUsage(groups, false);
  }
  if (rest.empty()) return PrintUsage(groups, false);
  if (rest[0] == "--help" || rest[0] == "-h" || rest[0] == "help") return PrintUsage(groups, true);
  if (rest[0] == "--version") rest[0] = "version";
  kinex::ctl::CommandContext ctx(conn, format, std::cout, std::cerr);
  for (const auto& g : groups) {
    if (g.name == rest[0]) {
      return g.run(ctx, std::vector<std::string>(rest.begin() + 1, rest.end()));
    }
  }
  std::cerr << "kinexctl: INVALID_ARGUMENT: unknown command \"" << rest[0]
            << "\" (see kinexctl --help)\n";
  return PrintUsage(groups, false);
}
