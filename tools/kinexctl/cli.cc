#include "tools/kinexctl/cli.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "services/common/error_reason.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"

namespace kinex::ctl {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& words,
                                 const std::vector<std::string>& bool_flags) {
  Args args;
  bool options_done = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (!options_done && w == "-h") {
      args.flags_["help"] = "true";
      continue;
    }
    if (options_done || !absl::StartsWith(w, "--") || w == "-") {
      args.positional_.push_back(w);
      continue;
    }
    if (w == "--") {
      options_done = true;
      continue;
    }
    std::string name = w.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool is_bool =
        std::find(bool_flags.begin(), bool_flags.end(), name.substr(0, eq)) != bool_flags.end();
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (is_bool) {
      value = "true";
    } else if (name == "help") {
      value = "true";
    } else if (i + 1 < words.size()) {
      value = words[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("malformed flag \"", w, "\""));
    }
    args.flags_[name] = value;
  }
  return args;
}

std::optional<std::string> Args::Flag(const std::string& name) {
  used_[name] = true;
  auto it = flags_.find(name);
  if (it == flags_.end()) return std::nullopt;
  return it->second;
}

std::string Args::FlagOr(const std::string& name, const std::string& fallback) {
  return Flag(name).value_or(fallback);
}

bool Args::Bool(const std::string& name) {
  std::optional<std::string> v = Flag(name);
  return v.has_value() && (*v == "true" || *v == "1" || *v == "yes");
}

absl::Status Args::CheckAllUsed() const {
  for (const auto& [name, value] : flags_) {
    if (!used_.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ParseEnumFlag(const google::protobuf::EnumDescriptor* type,
                                  absl::string_view flag, absl::string_view text) {
  const std::string name = absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByName(name);
  if (v != nullptr && v->number() != 0) return v->number();
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    names.push_back(
        absl::AsciiStrToLower(absl::StrReplaceAll(type->value(i)->name(), {{"_", "-"}})));
  }
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": unknown value \"", text,
                                                 "\" (one of ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CommandContext::Channel() {
  if (channel_ != nullptr) return channel_;
  if (connection_.ca_file.empty() || connection_.cert_file.empty() ||
      connection_.key_file.empty()) {
    return absl::InvalidArgumentError(
        "no client certificate: give --ca, --cert and --key (or KINEX_CA, "
        "KINEX_CERT, KINEX_KEY); Kinex accepts only mutual TLS");
  }
  TlsFiles files;
  files.ca_file = connection_.ca_file;
  files.cert_file = connection_.cert_file;
  files.key_file = connection_.key_file;
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                         MakeChannelCredentials(files));
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  // A long `notifications watch` notices a connection that died silently:
  // ping after 60 s without data (the server permits one every 10 s).
  channel_args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  channel_args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  channel_ = grpc::CreateCustomChannel(connection_.address, creds, channel_args);
  return channel_;
}

void CommandContext::Prepare(grpc::ClientContext& ctx, int timeout_seconds) {
  called_ = true;
  if (!connection_.actor.empty()) ctx.AddMetadata("x-kinex-actor", connection_.actor);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
}

int CommandContext::Fail(const absl::Status& status) {
  // A server's explicit reason (google.rpc.ErrorInfo) is what scripts match.
  err_ << "kinexctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
       << (HasExplicitErrorReason(status) ? absl::StrCat(" [", ErrorReasonOf(status), "]") : "")
       << "\n";
  if (status.code() != absl::StatusCode::kInvalidArgument) return 1;
  if (!called_ && !usage_.empty()) err_ << UsageSynopsis(usage_);
  return 2;
}

int CommandContext::PrintUsage(absl::string_view usage, bool help) {
  (help ? out_ : err_) << usage;
  return help ? 0 : 2;
}

bool WantsHelp(const std::vector<std::string>& words) {
  if (!words.empty() && words[0] == "help") return true;
  for (const std::string& w : words) {
    if (w == "--") return false;
    if (w == "--help" || w == "-h" || w == "--help=true") return true;
  }
  return false;
}

std::string UsageSynopsis(absl::string_view usage) {
  const size_t blank = usage.find("\n\n");
  return std::string(blank == absl::string_view::npos ? usage : usage.substr(0, blank + 1));
}

namespace {

std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void WriteRows(std::ostream& out, OutputFormat format, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  switch (format) {
    case OutputFormat::kXlsx:  // only `children list` takes it, and writes its own
    case OutputFormat::kCsv: {
      std::vector<std::string> cells;
      for (const auto& h : header) cells.push_back(CsvField(h));
      out << absl::StrJoin(cells, ",") << "\r\n";
      for (const auto& row : rows) {
        cells.clear();
        for (const auto& v : row) cells.push_back(CsvField(v));
        out << absl::StrJoin(cells, ",") << "\r\n";
      }
      return;
    }
    case OutputFormat::kJson: {
      out << "[";
      for (size_t r = 0; r < rows.size(); ++r) {
        out << (r ? ",\n " : "\n ") << "{";
        for (size_t c = 0; c < header.size() && c < rows[r].size(); ++c) {
          out << (c ? ", " : "") << "\"" << JsonEscape(header[c]) << "\": \""
              << JsonEscape(rows[r][c]) << "\"";
        }
        out << "}";
      }
      out << (rows.empty() ? "]\n" : "\n]\n");
      return;
    }
    case OutputFormat::kTable: {
      // Widths in characters (UTF-8 code points), not bytes.
      auto chars = [](const std::string& v) {
        return static_cast<size_t>(std::count_if(v.begin(), v.end(), [](char ch) {
          return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
        }));
      };
      std::vector<size_t> width(header.size());
      for (size_t c = 0; c < header.size(); ++c) width[c] = chars(header[c]);
      for (const auto& row : rows) {
        for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
          width[c] = std::max(width[c], chars(row[c]));
        }
      }
      auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (size_t c = 0; c < width.size(); ++c) {
          const std::string v = c < cells.size() ? cells[c] : "";
          s += v;
          if (c + 1 < width.size()) s += std::string(width[c] - chars(v) + 2, ' ');
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        out << s << "\n";
      };
      line(header);
      for (const auto& row : rows) line(row);
      return;
    }
  }
}

}  // namespace kinex::ctl
