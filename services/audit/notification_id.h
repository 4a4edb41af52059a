// Notification ids (docs/notifications.md): "<leaf index>.<ordinal>", the
// leaf of the audit event that created the notification and its place among
// that event's notifications. Ids are the cursor of WatchNotifications and
// ListNotifications; keys order as the log does. Header-only, in the audit
// API: the gateway parses ids without linking the log.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(NotificationKey key, ParseNotificationId("812.0"));
//   std::string id = NotificationId(key);  // "812.0"
#ifndef KINEX_SERVICES_AUDIT_NOTIFICATION_ID_H_
#define KINEX_SERVICES_AUDIT_NOTIFICATION_ID_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kinex::audit {

// Most notifications one event creates.
inline constexpr size_t kMaxNotify = 64;

// A notification's place: the leaf that created it and its ordinal there.
struct NotificationKey {
  uint64_t leaf_index = 0;
  uint32_t ordinal = 0;
  friend bool operator<(const NotificationKey& a, const NotificationKey& b) {
    return a.leaf_index != b.leaf_index ? a.leaf_index < b.leaf_index : a.ordinal < b.ordinal;
  }
  friend bool operator==(const NotificationKey& a, const NotificationKey& b) {
    return a.leaf_index == b.leaf_index && a.ordinal == b.ordinal;
  }
};

// Parses "<leaf_index>.<ordinal>" (decimal, no leading zeros, leaf at most
// INT64_MAX, ordinal below kMaxNotify). INVALID_ARGUMENT naming the value
// otherwise.
inline absl::StatusOr<NotificationKey> ParseNotificationId(absl::string_view id) {
  const auto digits = [](absl::string_view s) {
    return !s.empty() && s.size() <= 19 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           (s.size() == 1 || s[0] != '0');
  };
  const size_t dot = id.find('.');
  NotificationKey key;
  if (dot == absl::string_view::npos || !digits(id.substr(0, dot)) || !digits(id.substr(dot + 1)) ||
      !absl::SimpleAtoi(id.substr(0, dot), &key.leaf_index) ||
      !absl::SimpleAtoi(id.substr(dot + 1), &key.ordinal) || key.ordinal >= kMaxNotify ||
      key.leaf_index > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("notification id \"",
                                                   absl::CEscape(id.substr(0, 40)),
                                                   "\" is not of the form <leaf index>.<ordinal>"));
  }
  return key;
}

// The id of `key`.
inline std::string NotificationId(const NotificationKey& key) {
  return absl::StrCat(key.leaf_index, ".", key.ordinal);
}

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_NOTIFICATION_ID_H_
