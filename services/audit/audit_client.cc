#include "services/audit/audit_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/audit/audit_service.h"
#include "services/common/deadline.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"
#include "services/common/unary_rpc.h"

namespace kinex::audit {

namespace {

namespace v1 = ::kinex::audit::v1;

// Serialized bytes of events one AppendBatch carries at most (well inside
// gRPC's default 4 MiB message limit).
constexpr size_t kMaxBatchBytes = 2 << 20;

AppendResult ResultOf(v1::AppendResponse& resp) {
  AppendResult r;
  r.leaf_index = resp.leaf_index();
  r.leaf_hash = std::move(*resp.mutable_leaf_hash());
  r.signed_tree_head = std::move(*resp.mutable_signed_tree_head());
  r.inclusion_proof.assign(resp.inclusion_proof().begin(), resp.inclusion_proof().end());
  return r;
}

}  // namespace

AuditClient::AuditClient(std::shared_ptr<grpc::ChannelInterface> channel, Options options)
    : stub_(v1::Audit::NewStub(std::move(channel))), timeout_(options.timeout) {
  if (options.coalesce_appends) appends_.emplace(Coalescer<PendingAppend, AppendResult>::Options{});
}

absl::StatusOr<AppendResult> AuditClient::Append(const v1::AuditEvent& event) {
  if (!appends_.has_value()) return AppendOne(event);
  const absl::Time deadline = ScopedCallDeadline::Current();
  return appends_->Submit(
      {&event, deadline},
      [this](absl::Span<const PendingAppend* const> batch) {
        if (batch.size() == 1) {
          // Alone: its own deadline (the thread sending it may be another's).
          ScopedCallDeadline scope(batch[0]->deadline);
          return std::vector<absl::StatusOr<AppendResult>>{AppendOne(*batch[0]->event)};
        }
        // The batch lasts as long as its most patient caller will wait: one
        // in a hurry must not fail the others. (One whose deadline passes
        // while still queued leaves unsent; once taken, it waits with them.)
        absl::Time latest = absl::InfinitePast();
        std::vector<const v1::AuditEvent*> events;
        events.reserve(batch.size());
        for (const PendingAppend* p : batch) {
          latest = std::max(latest, p->deadline);
          events.push_back(p->event);
        }
        ScopedCallDeadline scope(latest);
        return SendChunked(events, /*isolate_refusals=*/true);
      },
      deadline);
}

absl::StatusOr<AppendResult> AuditClient::AppendOne(const v1::AuditEvent& event) {
  v1::AppendRequest req;
  *req.mutable_event() = event;
  KINEX_ASSIGN_OR_RETURN(v1::AppendResponse resp,
                         CallUnary(*stub_, &v1::Audit::Stub::Append, req,
                                   timeout_));  // capped by the served call's deadline
  return ResultOf(resp);
}

namespace {

// The whole AppendBatch method refused to this caller (not one of its
// events: those name events[i] and keep their own reason).
bool BatchNotAllowed(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kPermissionDenied) return false;
  const google::rpc::ErrorInfo info = ErrorInfoOf(status);
  auto method = info.metadata().find("method");
  return info.reason() == reason::kServiceNotAllowed && method != info.metadata().end() &&
         method->second == "kinex.audit.v1.Audit/AppendBatch";
}

}  // namespace

std::vector<absl::StatusOr<AppendResult>> AuditClient::AppendAll(
    absl::Span<const v1::AuditEvent> events) {
  std::vector<const v1::AuditEvent*> all;
  all.reserve(events.size());
  for (const v1::AuditEvent& event : events) all.push_back(&event);
  return SendChunked(all, /*isolate_refusals=*/false);
}

std::vector<absl::StatusOr<AppendResult>> AuditClient::SendChunked(
    absl::Span<const v1::AuditEvent* const> events, bool isolate_refusals) {
  std::vector<absl::StatusOr<AppendResult>> out;
  out.reserve(events.size());
  size_t next = 0;
  while (next < events.size()) {
    const size_t first = next;
    size_t bytes = 0;
    while (next < events.size() && next - first < static_cast<size_t>(kMaxAppendBatch) &&
           (next == first || bytes + events[next]->ByteSizeLong() <= kMaxBatchBytes)) {
      bytes += events[next]->ByteSizeLong();
      ++next;
    }
    for (absl::StatusOr<AppendResult>& r :
         SendBatch(events.subspan(first, next - first), isolate_refusals)) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<absl::StatusOr<AppendResult>> AuditClient::SendBatch(
    absl::Span<const v1::AuditEvent* const> events, bool isolate_refusals) {
  std::vector<absl::StatusOr<AppendResult>> out;
  out.reserve(events.size());
  auto one_by_one = [&] {
    for (const v1::AuditEvent* event : events) out.push_back(AppendOne(*event));
    return std::move(out);
  };
  v1::AppendBatchRequest req;
  for (const v1::AuditEvent* event : events) *req.add_events() = *event;
  absl::StatusOr<v1::AppendBatchResponse> resp =
      CallUnary(*stub_, &v1::Audit::Stub::AppendBatch, req, timeout_);
  const absl::StatusCode code = resp.status().code();
  if (code == absl::StatusCode::kUnimplemented || BatchNotAllowed(resp.status())) {
    // An audit service from before AppendBatch, or from before this
    // caller was allowed it (a rolling upgrade that reached this service
    // first): one Append per event, as before. Append checks each event
    // as AppendBatch would.
    return one_by_one();
  }
  if (isolate_refusals && events.size() > 1 &&
      (code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kPermissionDenied ||
       code == absl::StatusCode::kFailedPrecondition)) {
    // Refused whole for what one event is: nothing of it was appended, and
    // each event gets the answer it would have had alone.
    return one_by_one();
  }
  if (resp.ok() && resp->results_size() != req.events_size()) {
    resp = absl::InternalError(absl::StrCat("audit AppendBatch answered ", resp->results_size(),
                                            " results for ", req.events_size(), " events"));
  }
  for (int i = 0; i < req.events_size(); ++i) {
    if (!resp.ok()) {
      out.push_back(resp.status());
      continue;
    }
    v1::AppendBatchResult& r = *resp->mutable_results(i);
    absl::Status status = FromRpcStatus(r.status());
    if (status.ok()) {
      out.push_back(ResultOf(*r.mutable_appended()));
    } else {
      out.push_back(std::move(status));
    }
  }
  return out;
}

absl::StatusOr<kinex::audit::v1::ReadNotificationsResponse> AuditClient::ReadNotifications(
    const kinex::audit::v1::ReadNotificationsRequest& request) {
  return CallUnary(*stub_, &kinex::audit::v1::Audit::Stub::ReadNotifications, request, timeout_);
}

}  // namespace kinex::audit
