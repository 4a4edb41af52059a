// Natural batching of concurrent blocking calls. Callers that arrive while
// `max_in_flight` batches are being sent wait in a queue; the first caller
// free to send takes everything queued (at most `max_batch`, oldest first)
// and sends it as one batch, and every caller gets its own item's result. A
// caller that finds nothing in flight is sent at once, alone: no timer, so an
// idle process adds no latency, and a busy one makes one call where it would
// have made many (the audit client's appends: one AppendBatch RPC for the
// disclosures being served at the same moment, instead of one Append each).
//
// Example:
//   Coalescer<Event, AppendResult> coalescer({.max_in_flight = 1});
//   absl::StatusOr<AppendResult> r = coalescer.Submit(event, [&](auto batch) {
//     return SendBatch(batch);  // one result per item, in order
//   });
#ifndef KINEX_SERVICES_COMMON_COALESCER_H_
#define KINEX_SERVICES_COMMON_COALESCER_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace kinex {

// Thread-safe.
template <typename Item, typename T>
class Coalescer {
 public:
  struct Options {
    // Batches sent at the same time (at least 1).
    int max_in_flight = 1;
    // Items in one batch (at least 1).
    size_t max_batch = 100;
  };
  // Sends a batch, oldest item first; returns one result per item, in order.
  using Send = absl::FunctionRef<std::vector<absl::StatusOr<T>>(absl::Span<const Item* const>)>;

  explicit Coalescer(Options options) : options_(options) {
    if (options_.max_in_flight < 1) options_.max_in_flight = 1;
    if (options_.max_batch < 1) options_.max_batch = 1;
  }
  Coalescer(const Coalescer&) = delete;
  Coalescer& operator=(const Coalescer&) = delete;

  // `item`'s result, sent with whatever else is queued when this caller (or
  // another) next sends. `send` runs on some caller's thread, without the
  // lock; every caller must pass an equivalent `send`. A `send` that answers
  // the wrong number of results gives each item of that batch INTERNAL.
  //
  // A caller still queued at `deadline` leaves the queue and gets
  // DEADLINE_EXCEEDED: its item is never sent. Once its item is taken into
  // a batch it waits for that batch's answer (`send` bounds its own time).
  absl::StatusOr<T> Submit(const Item& item, Send send,
                           absl::Time deadline = absl::InfiniteFuture()) {
    Waiter me{.item = &item};
    absl::MutexLock lock(&mu_);
    queue_.push_back(&me);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return me.result.has_value() || (!me.taken && in_flight_ < options_.max_in_flight);
    };
    while (true) {
      if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
        if (!me.taken) {
          queue_.erase(std::find(queue_.begin(), queue_.end(), &me));
          return absl::DeadlineExceededError(
              "the call's deadline passed while its item waited to be sent; it was not sent");
        }
        mu_.Await(absl::Condition(&ready));  // its batch is in flight: its answer
      }
      if (me.result.has_value()) return *std::move(me.result);
      SendQueued(send);
    }
  }

  // Items waiting to be sent (not those in flight).
  size_t queued() const {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

 private:
  struct Waiter {
    const Item* item;
    bool taken = false;
    std::optional<absl::StatusOr<T>> result;
  };

  // Sends the oldest queued items as one batch and hands out their results.
  void SendQueued(Send send) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Waiter*> batch;
    std::vector<const Item*> items;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      Waiter* w = queue_.front();
      queue_.pop_front();
      w->taken = true;
      batch.push_back(w);
      items.push_back(w->item);
    }
    ++in_flight_;
    mu_.Unlock();
    std::vector<absl::StatusOr<T>> results = send(items);
    mu_.Lock();
    --in_flight_;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (results.size() == batch.size()) {
        batch[i]->result = std::move(results[i]);
      } else {
        batch[i]->result = absl::InternalError(absl::StrCat(
            "a batch of ", batch.size(), " was answered with ", results.size(), " results"));
      }
    }
  }

  Options options_;
  mutable absl::Mutex mu_;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_COALESCER_H_
