// The interface the gateway appends disclosure events through. In
// --target=all it is the AuditLog itself (in process); in microservices mode
// it is an AuditClient calling the audit service over mTLS. Either way an OK
// result means the event is durably logged, and the result carries what a
// DisclosureReceipt needs.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(AppendResult r, sink.Append(event));
//   receipt.set_leaf_index(r.leaf_index);
//   *receipt.mutable_signed_tree_head() = r.signed_tree_head;
#ifndef KINEX_SERVICES_AUDIT_AUDIT_SINK_H_
#define KINEX_SERVICES_AUDIT_AUDIT_SINK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kinex/audit/v1/audit.pb.h"

namespace kinex::audit {

// The outcome of a durable append.
struct AppendResult {
  // Index of the new leaf.
  uint64_t leaf_index = 0;
  // RFC 6962 leaf hash (32 bytes).
  std::string leaf_hash;
  // A signed tree head whose tree includes the leaf.
  kinex::audit::v1::SignedTreeHead signed_tree_head;
  // Audit path from the leaf to signed_tree_head's root (32-byte hashes).
  std::vector<std::string> inclusion_proof;
};

// Appends audit events. Implementations are thread-safe.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Appends `event` (output-only fields unset; children carries the raw
  // child identifiers, which are pseudonymised and never stored). Returns
  // only once the event is durable. INVALID_ARGUMENT for a malformed event;
  // UNAVAILABLE when the log cannot commit (callers must then disclose
  // nothing: fail closed).
  virtual absl::StatusOr<AppendResult> Append(const kinex::audit::v1::AuditEvent& event) = 0;
  // Appends each of `events`, as Append does each, and returns their
  // results in order. An implementation may commit them together (the log
  // does: one transaction for a page of disclosures instead of one per
  // child); the default appends one after another.
  virtual std::vector<absl::StatusOr<AppendResult>> AppendAll(
      absl::Span<const kinex::audit::v1::AuditEvent> events) {
    std::vector<absl::StatusOr<AppendResult>> out;
    out.reserve(events.size());
    for (const kinex::audit::v1::AuditEvent& event : events) out.push_back(Append(event));
    return out;
  }
};

// Reads the notifications stored beside the log (docs/notifications.md),
// each checked against the verified leaf that created it. In --target=all
// the AuditLog itself; in microservices mode an AuditClient (the audit
// service's internal ReadNotifications). Implementations are thread-safe.
class NotificationReader {
 public:
  virtual ~NotificationReader() = default;
  // Notifications matching `request`, oldest first. INVALID_ARGUMENT for a
  // malformed request; DATA_LOSS (AUDIT_INDEX_TAMPERED) for a stored row its
  // leaf does not justify; UNAVAILABLE when the store fails.
  virtual absl::StatusOr<kinex::audit::v1::ReadNotificationsResponse> ReadNotifications(
      const kinex::audit::v1::ReadNotificationsRequest& request) = 0;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_AUDIT_SINK_H_
