#include "services/gateway/notifications.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/audit/notification_id.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"
#include "services/gateway/gateway_errors.h"

namespace kinex::gateway {
namespace {

namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace nv1 = kinex::notifications::v1;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 100;
// The log takes at most 16 children per event.
constexpr size_t kChildrenPerEvent = 16;
constexpr size_t kMinNoteChars = 10;
constexpr size_t kMaxNoteChars = 2000;

absl::Status NotFound(const std::string& id) {
  return WithErrorReason(
      absl::NotFoundError(absl::StrCat("notification_id: no notification \"", id,
                                       "\" for your agency")),
      reason::kNotificationNotFound, {{"notification_id", id}});
}

// A read request for the caller's own notifications.
av1::ReadNotificationsRequest OwnRead(const CallContext& call) {
  av1::ReadNotificationsRequest read;
  read.set_recipient_kind(call.principal.agency_kind);
  read.set_recipient_code(call.principal.agency_code);
  return read;
}

}  // namespace

absl::Status Notifications::ValidateCursor(absl::string_view cursor, absl::string_view field) {
  if (cursor.empty()) return absl::OkStatus();
  absl::StatusOr<kinex::audit::NotificationKey> key = kinex::audit::ParseNotificationId(cursor);
  if (!key.ok()) return InvalidField(field, absl::StrCat(field, ": ", key.status().message()));
  return absl::OkStatus();
}

absl::Status Notifications::RecordDelivery(const CallContext& call, absl::string_view method,
                                           std::vector<nv1::Notification>& delivered) {
  // One event per at most kChildrenPerEvent distinct children, in order.
  size_t i = 0;
  while (i < delivered.size()) {
    const size_t first = i;
    av1::AuditEvent event = EventFor(call, av1::NOTIFICATION_DELIVERED, method);
    absl::flat_hash_set<std::string> children;
    std::vector<kinex::audit::NotificationKey> keys;
    for (; i < delivered.size(); ++i) {
      const nv1::Notification& n = delivered[i];
      if (!children.contains(n.kinex_id()) && children.size() == kChildrenPerEvent) break;
      if (children.insert(n.kinex_id()).second) event.add_children()->set_kinex_id(n.kinex_id());
      KINEX_ASSIGN_OR_RETURN(kinex::audit::NotificationKey key,
                             kinex::audit::ParseNotificationId(n.notification_id()));
      keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end());
    for (const auto& key : keys) event.add_notification_ids(kinex::audit::NotificationId(key));
    absl::StatusOr<kinex::audit::AppendResult> appended = deps_.audit->Append(event);
    if (!appended.ok()) return DependencyFailed(kAuditDep, appended.status());
    // The head signed with the event's batch carries the batch's time.
    for (size_t j = first; j < i; ++j) {
      nv1::Notification& n = delivered[j];
      if (n.state() != nv1::PENDING) continue;
      n.set_state(nv1::DELIVERED);
      *n.mutable_deliver_time() = appended->signed_tree_head.timestamp();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<nv1::Notification>> Notifications::DeliverNext(
    const CallContext& call, const std::optional<std::string>& after, bool unacknowledged_only,
    size_t limit, absl::string_view method) {
  av1::ReadNotificationsRequest read = OwnRead(call);
  if (after.has_value()) read.set_after(*after);
  read.set_unacknowledged_only(unacknowledged_only);
  read.set_limit(static_cast<int32_t>(std::min<size_t>(limit, 1000)));
  absl::StatusOr<av1::ReadNotificationsResponse> got = deps_.reader->ReadNotifications(read);
  if (!got.ok()) return DependencyFailed(kAuditDep, got.status());
  std::vector<nv1::Notification> out(got->notifications().begin(), got->notifications().end());
  if (out.empty()) return out;
  KINEX_RETURN_IF_ERROR(RecordDelivery(call, method, out));
  return out;
}

absl::StatusOr<nv1::ListNotificationsResponse> Notifications::List(
    const CallContext& call, const nv1::ListNotificationsRequest& request) {
  if (!request.after().empty() && !request.page_token().empty()) {
    return InvalidField("page_token", "page_token: set at most one of after and page_token");
  }
  const std::string& after = request.page_token().empty() ? request.after() : request.page_token();
  KINEX_RETURN_IF_ERROR(
      ValidateCursor(after, request.page_token().empty() ? "after" : "page_token"));
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return InvalidField("page_size", absl::StrCat("page_size: must be 0-", kMaxPageSize, " (got ",
                                                  request.page_size(), ")"));
  }
  const int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  av1::ReadNotificationsRequest read = OwnRead(call);
  read.set_after(after);
  read.set_unacknowledged_only(request.unacknowledged_only());
  for (int kind : request.kinds()) {
    if (kind == 0 || !nv1::NotificationKind_IsValid(kind)) {
      return InvalidField("kinds", absl::StrCat("kinds: unknown notification kind ", kind));
    }
    read.add_kinds(static_cast<nv1::NotificationKind>(kind));
  }
  read.set_limit(page_size + 1);
  absl::StatusOr<av1::ReadNotificationsResponse> got = deps_.reader->ReadNotifications(read);
  if (!got.ok()) return DependencyFailed(kAuditDep, got.status());
  nv1::ListNotificationsResponse response;
  std::vector<nv1::Notification> page(got->notifications().begin(), got->notifications().end());
  const bool more = page.size() > static_cast<size_t>(page_size);
  if (more) page.resize(static_cast<size_t>(page_size));
  KINEX_RETURN_IF_ERROR(RecordDelivery(call, "ListNotifications", page));
  for (nv1::Notification& n : page) *response.add_notifications() = std::move(n);
  if (more) response.set_next_page_token(response.notifications().rbegin()->notification_id());
  return response;
}

absl::StatusOr<nv1::Notification> Notifications::ReadOwn(const CallContext& call,
                                                         const std::string& id) {
  av1::ReadNotificationsRequest read = OwnRead(call);
  read.add_ids(id);
  read.set_limit(1);
  absl::StatusOr<av1::ReadNotificationsResponse> got = deps_.reader->ReadNotifications(read);
  if (!got.ok()) return DependencyFailed(kAuditDep, got.status());
  if (got->notifications_size() == 0) return NotFound(id);
  return got->notifications(0);
}

absl::StatusOr<nv1::Notification> Notifications::Ack(const CallContext& call,
                                                     const nv1::AckNotificationRequest& request) {
  const std::string& id = request.notification_id();
  if (id.empty()) return InvalidField("notification_id", "notification_id: required");
  KINEX_RETURN_IF_ERROR(ValidateCursor(id, "notification_id"));
  KINEX_ASSIGN_OR_RETURN(nv1::Notification n, ReadOwn(call, id));
  if (n.kind() == nv1::BREAK_GLASS_REVIEW) {
    return WithErrorReason(
        absl::FailedPreconditionError(absl::StrCat(
            "notification_id: \"", id,
            "\" is a break-glass review; a team manager closes it with ReviewBreakGlass")),
        reason::kNotificationStateConflict, {{"notification_id", id}});
  }
  if (n.state() == nv1::ACKNOWLEDGED) return n;  // idempotent: the first stands
  av1::AuditEvent event = EventFor(call, av1::NOTIFICATION_ACKNOWLEDGED, "AckNotification");
  event.add_notification_ids(id);
  event.add_children()->set_kinex_id(n.kinex_id());
  event.set_idempotency_key(absl::StrCat("ack/", id));
  absl::StatusOr<kinex::audit::AppendResult> appended = deps_.audit->Append(event);
  if (!appended.ok()) return DependencyFailed(kAuditDep, appended.status());
  return ReadOwn(call, id);
}

absl::StatusOr<nv1::Notification> Notifications::Review(
    const CallContext& call, const nv1::ReviewBreakGlassRequest& request) {
  const std::string& id = request.notification_id();
  if (id.empty()) return InvalidField("notification_id", "notification_id: required");
  KINEX_RETURN_IF_ERROR(ValidateCursor(id, "notification_id"));
  if (request.outcome() != nv1::UPHELD && request.outcome() != nv1::REFERRED) {
    return InvalidField("outcome", absl::StrCat("outcome: must be UPHELD or REFERRED (got ",
                                                static_cast<int>(request.outcome()), ")"));
  }
  if (request.note().size() < kMinNoteChars || request.note().size() > kMaxNoteChars) {
    return InvalidField("note", absl::StrCat("note: the reviewer's reasons, ", kMinNoteChars, "-",
                                             kMaxNoteChars, " bytes (got ", request.note().size(),
                                             ")"));
  }
  if (call.principal.agency_kind != cv1::LOCAL_AUTHORITY ||
      call.principal.role != "team-manager") {
    return WithErrorReason(
        absl::PermissionDeniedError("ReviewBreakGlass: only a team manager of the responsible "
                                    "local authority (role team-manager) closes a break-glass "
                                    "review"),
        reason::kReviewerNotPermitted);
  }
  KINEX_ASSIGN_OR_RETURN(nv1::Notification n, ReadOwn(call, id));
  if (n.kind() != nv1::BREAK_GLASS_REVIEW) {
    return WithErrorReason(absl::FailedPreconditionError(absl::StrCat(
                               "notification_id: \"", id, "\" is not a break-glass review (",
                               nv1::NotificationKind_Name(n.kind()), ")")),
                           reason::kNotificationStateConflict, {{"notification_id", id}});
  }
  if (n.review_outcome() != nv1::REVIEW_OUTCOME_UNSPECIFIED) {
    if (n.review_outcome() == request.outcome() && n.review_note() == request.note()) return n;
    return WithErrorReason(
        absl::FailedPreconditionError(absl::StrCat(
            "notification_id: \"", id, "\" was already reviewed (",
            nv1::ReviewOutcome_Name(n.review_outcome()), " by ", n.acked_by(),
            "); a review is closed once")),
        reason::kNotificationStateConflict, {{"notification_id", id}});
  }
  av1::AuditEvent event = EventFor(call, av1::BREAK_GLASS_REVIEWED, "ReviewBreakGlass");
  event.add_notification_ids(id);
  event.add_children()->set_kinex_id(n.kinex_id());
  event.set_review_outcome(request.outcome());
  event.set_justification(request.note());
  event.set_idempotency_key(absl::StrCat("review/", id));
  absl::StatusOr<kinex::audit::AppendResult> appended = deps_.audit->Append(event);
  if (!appended.ok()) return DependencyFailed(kAuditDep, appended.status());
  KINEX_ASSIGN_OR_RETURN(n, ReadOwn(call, id));
  if (n.review_outcome() != request.outcome() || n.review_note() != request.note()) {
    // A concurrent, different review committed first.
    return WithErrorReason(
        absl::FailedPreconditionError(absl::StrCat(
            "notification_id: \"", id, "\" was already reviewed (",
            nv1::ReviewOutcome_Name(n.review_outcome()), "); a review is closed once")),
        reason::kNotificationStateConflict, {{"notification_id", id}});
  }
  return n;
}

}  // namespace kinex::gateway
