#include "services/common/log.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kinex {

LogField::LogField(absl::string_view k, double v)
    : key(k), value(absl::StrFormat("%.3f", v)), raw(true) {}

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

void LogJson(std::ostream& out, absl::string_view level, absl::string_view msg,
             const std::vector<LogField>& fields, absl::Time now) {
  std::string line =
      absl::StrCat("{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()),
                   "\",\"level\":\"", JsonEscape(level), "\",\"msg\":\"", JsonEscape(msg), "\"");
  for (const LogField& f : fields) {
    absl::StrAppend(&line, ",\"", JsonEscape(f.key), "\":");
    if (f.raw) {
      absl::StrAppend(&line, f.value);
    } else {
      absl::StrAppend(&line, "\"", JsonEscape(f.value), "\"");
    }
  }
  line += "}\n";
  out.write(line.data(), static_cast<std::streamsize>(line.size()));
  out.flush();
}

}  // namespace kinex
