// Structured logging: one JSON object per line. Kinex never logs child
// identifiers or record contents: callers pass only operational fields
// (request id, principal, purpose, decision, latency, error codes).
//
// Example:
//   LogJson(std::cerr, "info", "serving", {{"target", "all"}, {"address", addr}});
//   // {"ts":"2026-11-24T05:00:00.123Z","level":"info","msg":"serving",
//   //  "target":"all","address":"127.0.0.1:7443"}
#ifndef KINEX_SERVICES_COMMON_LOG_H_
#define KINEX_SERVICES_COMMON_LOG_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kinex {

// A field of a log line; values are written as JSON strings unless `raw`
// (numbers, booleans).
struct LogField {
  LogField(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  LogField(absl::string_view k, const char* v) : key(k), value(v) {}
  LogField(absl::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(absl::string_view k, int64_t v) : key(k), value(std::to_string(v)), raw(true) {}
  LogField(absl::string_view k, int v) : key(k), value(std::to_string(v)), raw(true) {}
  LogField(absl::string_view k, double v);
  LogField(absl::string_view k, bool v) : key(k), value(v ? "true" : "false"), raw(true) {}
  std::string key;
  std::string value;
  bool raw = false;
};

// `s` escaped for inclusion inside a JSON string.
std::string JsonEscape(absl::string_view s);

// Writes one JSON line to `out` with ts (at `now`), level, msg and `fields`,
// and flushes. Thread-safe (one write per line).
void LogJson(std::ostream& out, absl::string_view level, absl::string_view msg,
             const std::vector<LogField>& fields, absl::Time now = absl::Now());

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_LOG_H_
