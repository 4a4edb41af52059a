#include "services/common/grpc_status.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/common/error_reason.h"

namespace kinex {

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  // The one ErrorInfo (explicit, or derived from the code).
  if (!status.ok()) out.add_details()->PackFrom(ErrorInfoOf(status));
  return out;
}

absl::Status FromRpcStatus(const google::rpc::Status& status) {
  if (status.code() == 0) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.code()), status.message());
  // Keep the sender's ErrorInfo (a status made by gRPC itself, e.g. a
  // transport failure, has none: its reason is derived from the code).
  for (const google::protobuf::Any& any : status.details()) {
    google::rpc::ErrorInfo info;
    if (any.Is<google::rpc::ErrorInfo>() && any.UnpackTo(&info)) {
      out.SetPayload(kErrorInfoTypeUrl, absl::Cord(info.SerializeAsString()));
      break;
    }
  }
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // The details: google.rpc.Status with the one ErrorInfo, sent as
  // grpc-status-details-bin. absl::StatusCode and grpc::StatusCode share
  // their numbering (both follow google.rpc.Code), so the cast is exact for
  // every canonical code.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      ToRpcStatus(status).SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    details.Clear();
  }
  details.set_code(static_cast<int>(status.error_code()));
  details.set_message(status.error_message());
  return FromRpcStatus(details);
}

namespace {

constexpr absl::string_view kRedacted = "<internal address>";

bool IsPort(absl::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// A DNS name or dotted IPv4 address: at least one letter, or four dotted
// numbers ("05:00" is a time, not a host).
bool IsHost(absl::string_view s) {
  if (s.empty()) return false;
  if (s.front() == '[' && s.back() == ']') return true;  // [::1]
  bool letter = false;
  int dots = 0;
  for (char c : s) {
    if (absl::ascii_isalpha(static_cast<unsigned char>(c))) {
      letter = true;
    } else if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return false;
    }
  }
  return letter || dots == 3;
}

bool IsAddress(absl::string_view word) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "unix:", "unix-abstract:", "dns:", "vsock:"}) {
    if (absl::StartsWithIgnoreCase(word, scheme) && word.size() > scheme.size()) return true;
  }
  if (absl::StartsWith(word, "name=") && IsHost(word.substr(5))) return true;
  const size_t colon = word.rfind(':');
  if (colon == absl::string_view::npos) return false;
  return IsPort(word.substr(colon + 1)) && IsHost(word.substr(0, colon));
}

// Characters that end a word in an error message (an address never holds
// them, except ':' '[' ']' '/' '.' '-' '_' '=' '%' which it may).
bool IsSeparator(char c) {
  return absl::ascii_isspace(static_cast<unsigned char>(c)) || c == ',' || c == ';' || c == '(' ||
         c == ')' || c == '"' || c == '\'' || c == '{' || c == '}' || c == '<' || c == '>' ||
         c == '|';
}

}  // namespace

absl::Status StripInternalAddresses(const absl::Status& status) {
  const absl::string_view message = status.message();
  std::string out;
  bool changed = false;
  size_t i = 0;
  while (i < message.size()) {
    if (IsSeparator(message[i])) {
      out.push_back(message[i++]);
      continue;
    }
    size_t end = i;
    while (end < message.size() && !IsSeparator(message[end])) ++end;
    // "...:7447:" ends a phrase: keep a trailing ':' or '.' out of the word.
    size_t word_end = end;
    while (word_end > i && (message[word_end - 1] == ':' || message[word_end - 1] == '.')) {
      --word_end;
    }
    const absl::string_view word = message.substr(i, word_end - i);
    const absl::string_view tail = message.substr(word_end, end - word_end);
    if (IsAddress(word)) {
      absl::StrAppend(&out, absl::StartsWith(word, "name=") ? "name=" : "", kRedacted, tail);
      changed = true;
    } else {
      absl::StrAppend(&out, word, tail);
    }
    i = end;
  }
  if (!changed) return status;
  return CopyErrorReason(status, absl::Status(status.code(), out));
}

}  // namespace kinex
