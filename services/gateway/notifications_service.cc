#include "services/gateway/notifications_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/audit/notification_id.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"

namespace kinex::gateway {

namespace av1 = kinex::audit::v1;
namespace nv1 = kinex::notifications::v1;

namespace {
constexpr char kWatchMethod[] = "WatchNotifications";

std::string RecipientKey(kinex::common::v1::AgencyKind kind, absl::string_view code) {
  return absl::StrCat(AgencyKindSlug(kind), "/", code);
}
}  // namespace

// Everything below is guarded by `mu`. Invariants: at most one write is in
// flight (`writing`); Finish is called exactly once, and only when no write
// is in flight, so the reactor (and `reactor`) stays valid while `writing`
// or before `finishing`; only the thread that sets `writing` starts a write.
struct WatchHub::Watch {
  CallContext call;
  std::string recipient;
  absl::Mutex mu;
  // Null once the stream is done.
  WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  // The id of the last notification handed to the stream; none: from the
  // start.
  std::optional<std::string> cursor ABSL_GUARDED_BY(mu);
  // Opened without a cursor: only unacknowledged notifications, on every
  // read (new ones are unacknowledged anyway).
  bool unacknowledged_only = false;
  // A worker is reading, or writes are in flight.
  bool busy ABSL_GUARDED_BY(mu) = false;
  // Woken while busy: read again when done.
  bool dirty ABSL_GUARDED_BY(mu) = false;
  std::deque<nv1::Notification> outbox ABSL_GUARDED_BY(mu);
  bool writing ABSL_GUARDED_BY(mu) = false;
  bool finishing ABSL_GUARDED_BY(mu) = false;
  grpc::Status final_status ABSL_GUARDED_BY(mu);
  // In the hub's ready queue (guarded by the hub's mutex).
  bool queued = false;
};

class WatchReactor final : public grpc::ServerWriteReactor<nv1::Notification> {
 public:
  WatchReactor(WatchHub& hub, const Edge& edge, WatchMetrics* metrics,
               grpc::CallbackServerContext* ctx, const nv1::WatchNotificationsRequest& request)
      : hub_(hub), edge_(edge), metrics_(metrics) {
    admission_ = edge_.Admit(*ctx, CallClass::kStream);
    absl::Status status = admission_.status;
    if (status.ok()) status = Notifications::ValidateCursor(request.after(), "after");
    if (!status.ok()) {
      Finish(edge_.Complete(admission_, kWatchMethod, 0, status, ""));
      return;
    }
    watch_ = std::make_shared<WatchHub::Watch>();
    watch_->call = *admission_.call;
    watch_->recipient =
        RecipientKey(watch_->call.principal.agency_kind, watch_->call.principal.agency_code);
    {
      absl::MutexLock lock(&watch_->mu);
      watch_->reactor = this;
      if (!request.after().empty()) watch_->cursor = request.after();
    }
    watch_->unacknowledged_only = request.after().empty();
    if (metrics_ != nullptr) metrics_->WatchersChanged(1);
    hub_.Add(watch_);
  }

  // Queues `batch` and starts writing it unless a write is in flight.
  // Called with watch->mu held; returns whether the caller must start the
  // write of `current_` (after releasing the lock).
  bool QueueLocked(std::vector<nv1::Notification> batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_->mu) {
    for (nv1::Notification& n : batch) watch_->outbox.push_back(std::move(n));
    if (watch_->writing || watch_->finishing) return false;
    return NextLocked();
  }

  // Ends the stream with `status`: logs it, and returns whether the caller
  // must call Finish (no write in flight) after releasing the lock.
  bool EndLocked(const absl::Status& status, absl::string_view outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_->mu) {
    if (watch_->finishing) return false;
    watch_->finishing = true;
    watch_->final_status = edge_.Complete(admission_, kWatchMethod, 0, status, outcome);
    return !watch_->writing;
  }

  void StartCurrent() { StartWrite(&current_); }
  void FinishNow() {
    grpc::Status status;
    {
      absl::MutexLock lock(&watch_->mu);
      status = watch_->final_status;
    }
    Finish(status);
  }

  void OnWriteDone(bool ok) override {
    enum { kNothing, kWrite, kFinish, kWake } next = kNothing;
    {
      absl::MutexLock lock(&watch_->mu);
      watch_->writing = false;
      if (!ok && !watch_->finishing) {
        EndLocked(absl::CancelledError("the stream broke"), "broken");
      }
      if (watch_->finishing) {
        next = kFinish;
      } else if (NextLocked()) {
        next = kWrite;
      } else {
        watch_->busy = false;
        next = kWake;  // more may be waiting after the cursor
      }
    }
    switch (next) {
      case kWrite:
        StartCurrent();
        break;
      case kFinish:
        FinishNow();
        break;
      case kWake:
        hub_.Wake(watch_);
        break;
      case kNothing:
        break;
    }
  }

  void OnCancel() override {
    if (watch_ == nullptr) return;
    bool finish;
    {
      absl::MutexLock lock(&watch_->mu);
      finish = EndLocked(absl::CancelledError("the client ended the watch"), "cancelled");
    }
    if (finish) FinishNow();
  }

  void OnDone() override {
    if (watch_ != nullptr) {
      {
        absl::MutexLock lock(&watch_->mu);
        watch_->reactor = nullptr;
      }
      hub_.Remove(watch_);
      if (metrics_ != nullptr) metrics_->WatchersChanged(-1);
    }
    delete this;
  }

 private:
  // Moves the next queued notification into current_; whether there was one.
  bool NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_->mu) {
    if (watch_->outbox.empty()) return false;
    current_ = std::move(watch_->outbox.front());
    watch_->outbox.pop_front();
    watch_->writing = true;
    if (metrics_ != nullptr) {
      const absl::Time created = absl::FromUnixSeconds(current_.create_time().seconds()) +
                                 absl::Nanoseconds(current_.create_time().nanos());
      metrics_->Delivered(current_.kind(), absl::Now() - created);
    }
    return true;
  }

  WatchHub& hub_;
  const Edge& edge_;
  WatchMetrics* const metrics_;
  Edge::Admission admission_;
  std::shared_ptr<WatchHub::Watch> watch_;
  nv1::Notification current_;
};

WatchHub::WatchHub(Notifications& core, kinex::audit::NotificationReader& reader, Options options)
    : core_(core), reader_(reader), options_(options) {}

WatchHub::~WatchHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void WatchHub::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  threads_.emplace_back([this] { PollLoop(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this] { WorkLoop(); });
  }
}

// (The analysis cannot see that each reactor's watch_ is the watch locked.)
void WatchHub::EndAll() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (const std::shared_ptr<Watch>& watch : Open()) {
    WatchReactor* reactor = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&watch->mu);
      reactor = watch->reactor;
      if (reactor == nullptr) continue;
      finish = reactor->EndLocked(
          absl::UnavailableError("the server is shutting down; reconnect with the id of the last "
                                 "notification you processed as `after`"),
          "shutdown");
    }
    if (finish) reactor->FinishNow();
  }
}

std::vector<std::shared_ptr<WatchHub::Watch>> WatchHub::Open() {
  std::vector<std::shared_ptr<Watch>> all;
  absl::MutexLock lock(&mu_);
  for (const auto& [recipient, watches] : by_recipient_) {
    all.insert(all.end(), watches.begin(), watches.end());
  }
  return all;
}

void WatchHub::Add(const std::shared_ptr<Watch>& watch) {
  {
    absl::MutexLock lock(&mu_);
    by_recipient_[watch->recipient].push_back(watch);
  }
  Wake(watch);
}

void WatchHub::Remove(const std::shared_ptr<Watch>& watch) {
  absl::MutexLock lock(&mu_);
  auto it = by_recipient_.find(watch->recipient);
  if (it == by_recipient_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), watch), list.end());
  if (list.empty()) by_recipient_.erase(it);
}

void WatchHub::Wake(const std::shared_ptr<Watch>& watch) {
  absl::MutexLock lock(&mu_);
  if (watch->queued) return;
  watch->queued = true;
  ready_.push_back(watch);
}

void WatchHub::PollLoop() {
  // The poller only needs to notice what is new: watchers replay from their
  // own cursors. It starts after everything committed when it first looks
  // (every notification of a leaf below log_size was visible then), and
  // then wakes every watcher already open: one that last read before a
  // notification below that size was committed would otherwise not hear of
  // it until something newer came.
  //
  // While no one watches there is nothing to notice, and it does not look
  // (a read of the store, and of the audit service in microservices mode,
  // every interval for no one); it starts afresh, as above, once someone
  // does (Add has already woken that watcher to replay from its cursor).
  bool started = false;
  std::optional<std::string> after;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll_interval);
      if (stopping_) return;
      if (by_recipient_.empty()) {
        started = false;
        after.reset();
        continue;
      }
    }
    av1::ReadNotificationsRequest read;
    if (!started) {
      read.set_size_only(true);
      absl::StatusOr<av1::ReadNotificationsResponse> size = reader_.ReadNotifications(read);
      if (!size.ok()) continue;  // retried next interval
      if (size->log_size() > 0) {
        after = absl::StrCat(size->log_size() - 1, ".", kinex::audit::kMaxNotify - 1);
      }
      started = true;
      read.set_size_only(false);
      for (const auto& w : Open()) Wake(w);
    }
    if (after.has_value()) read.set_after(*after);
    read.set_limit(1000);
    absl::StatusOr<av1::ReadNotificationsResponse> fresh = reader_.ReadNotifications(read);
    if (!fresh.ok() || fresh->notifications_size() == 0) continue;
    after = fresh->notifications().rbegin()->notification_id();
    std::vector<std::shared_ptr<Watch>> woken;
    {
      absl::MutexLock lock(&mu_);
      for (const nv1::Notification& n : fresh->notifications()) {
        auto it = by_recipient_.find(RecipientKey(n.recipient_kind(), n.recipient_code()));
        if (it == by_recipient_.end()) continue;
        woken.insert(woken.end(), it->second.begin(), it->second.end());
      }
    }
    for (const auto& w : woken) Wake(w);
  }
}

void WatchHub::WorkLoop() {
  while (true) {
    std::shared_ptr<Watch> watch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WatchHub* hub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(hub->mu_) {
            return hub->stopping_ || !hub->ready_.empty();
          },
          this));
      if (stopping_) return;
      watch = std::move(ready_.front());
      ready_.pop_front();
      watch->queued = false;
    }
    Serve(watch);
  }
}

// (The analysis cannot see that reactor->watch_ is `watch`.)
void WatchHub::Serve(const std::shared_ptr<Watch>& watch) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::optional<std::string> cursor;
  {
    absl::MutexLock lock(&watch->mu);
    if (watch->reactor == nullptr || watch->finishing) return;
    if (watch->busy) {
      watch->dirty = true;
      return;
    }
    watch->busy = true;
    watch->dirty = false;
    cursor = watch->cursor;
  }
  absl::StatusOr<std::vector<nv1::Notification>> batch =
      core_.DeliverNext(watch->call, cursor, watch->unacknowledged_only, options_.batch,
                        kWatchMethod);
  WatchReactor* reactor = nullptr;
  enum { kNothing, kWrite, kFinish, kWake } next = kNothing;
  {
    absl::MutexLock lock(&watch->mu);
    reactor = watch->reactor;
    if (reactor == nullptr) return;
    if (!batch.ok()) {
      // Fail closed: nothing undelivered goes out unaudited.
      if (reactor->EndLocked(batch.status(), "delivery-failed")) next = kFinish;
    } else if (batch->empty()) {
      watch->busy = false;
      if (watch->dirty) next = kWake;
    } else {
      watch->cursor = batch->back().notification_id();
      if (reactor->QueueLocked(*std::move(batch))) next = kWrite;
    }
  }
  switch (next) {
    case kWrite:
      reactor->StartCurrent();
      break;
    case kFinish:
      reactor->FinishNow();
      break;
    case kWake:
      Wake(watch);
      break;
    case kNothing:
      break;
  }
}

grpc::ServerWriteReactor<nv1::Notification>* NotificationsService::WatchNotifications(
    grpc::CallbackServerContext* ctx, const nv1::WatchNotificationsRequest* request) {
  return new WatchReactor(hub_, edge_, hub_.metrics(), ctx, *request);
}

grpc::Status NotificationsService::ListNotifications(grpc::ServerContext* ctx,
                                                     const nv1::ListNotificationsRequest* request,
                                                     nv1::ListNotificationsResponse* response) {
  return edge_.Run(ctx, "ListNotifications", 0, [&](const CallContext& call, std::string& outcome) {
    absl::StatusOr<nv1::ListNotificationsResponse> r = core_.List(call, *request);
    if (!r.ok()) return r.status();
    outcome = absl::StrCat("listed:", r->notifications_size());
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::Status NotificationsService::AckNotification(grpc::ServerContext* ctx,
                                                   const nv1::AckNotificationRequest* request,
                                                   nv1::Notification* response) {
  return edge_.Run(ctx, "AckNotification", 0, [&](const CallContext& call, std::string& outcome) {
    absl::StatusOr<nv1::Notification> r = core_.Ack(call, *request);
    if (!r.ok()) return r.status();
    outcome = "acknowledged";
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::Status NotificationsService::ReviewBreakGlass(grpc::ServerContext* ctx,
                                                    const nv1::ReviewBreakGlassRequest* request,
                                                    nv1::Notification* response) {
  return edge_.Run(ctx, "ReviewBreakGlass", 0, [&](const CallContext& call, std::string& outcome) {
    absl::StatusOr<nv1::Notification> r = core_.Review(call, *request);
    if (!r.ok()) return r.status();
    outcome = nv1::ReviewOutcome_Name(r->review_outcome());
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

}  // namespace kinex::gateway
