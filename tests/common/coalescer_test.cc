#include "services/common/coalescer.h"

#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/testing/status_matchers.h"

namespace kinex {
namespace {

using ::kinex::testing::StatusIs;
using ::testing::ElementsAre;

MATCHER_P(IsOkAndHolds, value, absl::StrCat("is OK and holds ", value)) {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  *result_listener << "which holds " << *arg;
  return *arg == value;
}

// A send that records each batch and, while `hold` is set, blocks until
// released: the test then controls what is in flight.
class Sender {
 public:
  std::vector<absl::StatusOr<int>> Send(absl::Span<const int* const> batch) {
    std::vector<int> items;
    for (const int* i : batch) items.push_back(*i);
    absl::Notification* gate;
    {
      absl::MutexLock lock(&mu_);
      batches_.push_back(items);
      gate = hold_;
      hold_ = nullptr;
    }
    if (gate != nullptr) gate->WaitForNotification();
    std::vector<absl::StatusOr<int>> out;
    for (int i : items) {
      if (i < 0) {
        out.push_back(absl::InvalidArgumentError(absl::StrCat("item ", i)));
      } else {
        out.push_back(i * 10);
      }
    }
    return out;
  }
  // The next batch sent blocks until `gate` is notified.
  void HoldNext(absl::Notification* gate) {
    absl::MutexLock lock(&mu_);
    hold_ = gate;
  }
  size_t batches_sent() const {
    absl::MutexLock lock(&mu_);
    return batches_.size();
  }
  std::vector<std::vector<int>> batches() const {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(mu_);
  absl::Notification* hold_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// Waits (bounded) until `pred` holds.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 2000 && !pred(); ++i) absl::SleepFor(absl::Milliseconds(5));
  return pred();
}

// One caller's Submit on its own thread, its batch's send held until Join():
// the test then controls what is in flight. The constructor returns once
// that batch is being sent. Destruction joins (releasing first), so a failed
// expectation never leaves the thread running.
class HeldSubmit {
 public:
  HeldSubmit(Coalescer<int, int>& c, Sender& sender, int item) {
    const size_t before = sender.batches_sent();
    sender.HoldNext(&gate_);
    thread_ = std::thread([this, &c, &sender, item] {
      result_ = c.Submit(item, [&](absl::Span<const int* const> b) { return sender.Send(b); });
    });
    EXPECT_TRUE(Eventually([&] { return sender.batches_sent() == before + 1; }));
  }
  HeldSubmit(const HeldSubmit&) = delete;
  HeldSubmit& operator=(const HeldSubmit&) = delete;
  ~HeldSubmit() { Release(); }

  // Releases the held send; the caller's result.
  absl::StatusOr<int> Join() {
    Release();
    return result_;
  }

 private:
  void Release() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
    if (thread_.joinable()) thread_.join();
  }

  absl::Notification gate_;
  std::thread thread_;
  absl::StatusOr<int> result_ = absl::UnknownError("not answered");
};

TEST(CoalescerTest, AloneIsSentAtOnceAlone) {
  Coalescer<int, int> c({.max_in_flight = 1});
  Sender sender;
  auto send = [&](absl::Span<const int* const> b) { return sender.Send(b); };
  EXPECT_THAT(c.Submit(7, send), IsOkAndHolds(70));
  EXPECT_THAT(c.Submit(8, send), IsOkAndHolds(80));
  EXPECT_THAT(sender.batches(), ElementsAre(ElementsAre(7), ElementsAre(8)));
  EXPECT_EQ(c.queued(), 0u);
}

// Submits items[0] and holds its send; submits the others one by one while
// it is in flight (each queued before the next), then releases it. Every
// caller's result, in `items`' order.
std::vector<absl::StatusOr<int>> SubmitWhileTheFirstIsInFlight(Coalescer<int, int>& c,
                                                               Sender& sender,
                                                               const std::vector<int>& items) {
  auto send = [&](absl::Span<const int* const> b) { return sender.Send(b); };
  std::vector<absl::StatusOr<int>> got(items.size(), absl::UnknownError("not answered"));
  HeldSubmit first(c, sender, items[0]);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < items.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = c.Submit(items[i], send); });
    EXPECT_TRUE(Eventually([&] { return c.queued() == i; }));
  }
  EXPECT_EQ(sender.batches_sent(), 1u) << "nothing more is sent while one batch is in flight";
  got[0] = first.Join();
  for (std::thread& t : threads) t.join();
  return got;
}

// While one batch is in flight, callers queue; the next sender takes them
// all as one batch, oldest first, and each gets its own result.
TEST(CoalescerTest, CallersArrivingDuringAFlightGoTogether) {
  Coalescer<int, int> c({.max_in_flight = 1});
  Sender sender;
  std::vector<absl::StatusOr<int>> got = SubmitWhileTheFirstIsInFlight(c, sender, {1, 2, 3, 4});
  EXPECT_THAT(sender.batches(), ElementsAre(ElementsAre(1), ElementsAre(2, 3, 4)));
  EXPECT_THAT(got,
              ElementsAre(IsOkAndHolds(10), IsOkAndHolds(20), IsOkAndHolds(30), IsOkAndHolds(40)));
}

// A caller whose deadline passes while it is still queued behind a batch in
// flight leaves the queue with DEADLINE_EXCEEDED, and its item is never sent.
TEST(CoalescerTest, ACallerWhoseDeadlinePassesWhileQueuedLeavesUnsent) {
  Coalescer<int, int> c({.max_in_flight = 1});
  Sender sender;
  auto send = [&](absl::Span<const int* const> b) { return sender.Send(b); };
  HeldSubmit first(c, sender, 1);

  EXPECT_THAT(c.Submit(2, send, absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       "the call's deadline passed while its item waited to be sent; it was not "
                       "sent"));
  EXPECT_EQ(c.queued(), 0u);

  EXPECT_THAT(first.Join(), IsOkAndHolds(10));
  EXPECT_THAT(c.Submit(3, send), IsOkAndHolds(30));
  EXPECT_THAT(sender.batches(), ElementsAre(ElementsAre(1), ElementsAre(3)));
}

// Once its item is in a batch, a caller waits for that batch's answer even
// past its deadline: the item was sent, and its result is the batch's. Two
// callers share the batch, so one of them sends it and the other waits.
TEST(CoalescerTest, CallersTakenIntoABatchGetTheirAnswersPastTheirDeadline) {
  Coalescer<int, int> c({.max_in_flight = 1});
  Sender sender;
  auto send = [&](absl::Span<const int* const> b) { return sender.Send(b); };
  HeldSubmit first(c, sender, 1);

  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  std::vector<absl::StatusOr<int>> got(2, absl::UnknownError("not answered"));
  std::thread u([&] { got[0] = c.Submit(2, send, deadline); });
  EXPECT_TRUE(Eventually([&] { return c.queued() == 1; }));
  std::thread v([&] { got[1] = c.Submit(3, send, deadline); });
  EXPECT_TRUE(Eventually([&] { return c.queued() == 2; }));
  absl::Notification second_gate;
  sender.HoldNext(&second_gate);
  EXPECT_THAT(first.Join(), IsOkAndHolds(10));
  EXPECT_TRUE(Eventually([&] { return sender.batches_sent() == 2; }));
  EXPECT_LT(absl::Now(), deadline) << "the items must be taken before their deadline";
  absl::SleepFor(deadline - absl::Now() + absl::Milliseconds(50));

  second_gate.Notify();
  u.join();
  v.join();
  EXPECT_THAT(got, ElementsAre(IsOkAndHolds(20), IsOkAndHolds(30)));
  EXPECT_THAT(sender.batches(), ElementsAre(ElementsAre(1), ElementsAre(2, 3)));
}

// One item's error is that item's: the others of its batch succeed.
TEST(CoalescerTest, EachCallerGetsItsOwnItemsResult) {
  Coalescer<int, int> c({.max_in_flight = 1});
  Sender sender;
  std::vector<absl::StatusOr<int>> got = SubmitWhileTheFirstIsInFlight(c, sender, {5, -3, 6});
  EXPECT_THAT(sender.batches(), ElementsAre(ElementsAre(5), ElementsAre(-3, 6)));
  EXPECT_THAT(got,
              ElementsAre(IsOkAndHolds(50), StatusIs(absl::StatusCode::kInvalidArgument, "item -3"),
                          IsOkAndHolds(60)));
}

TEST(CoalescerTest, ABatchTakesAtMostMaxBatch) {
  Coalescer<int, int> c({.max_in_flight = 1, .max_batch = 2});
  Sender sender;
  std::vector<absl::StatusOr<int>> got = SubmitWhileTheFirstIsInFlight(c, sender, {1, 2, 3, 4});
  EXPECT_THAT(sender.batches(), ElementsAre(ElementsAre(1), ElementsAre(2, 3), ElementsAre(4)));
  EXPECT_THAT(got,
              ElementsAre(IsOkAndHolds(10), IsOkAndHolds(20), IsOkAndHolds(30), IsOkAndHolds(40)));
}

// With two in flight, a second caller is sent at once beside the first.
TEST(CoalescerTest, MaxInFlightBatchesAreSentAtTheSameTime) {
  Coalescer<int, int> c({.max_in_flight = 2});
  Sender sender;
  HeldSubmit a(c, sender, 1);
  HeldSubmit b(c, sender, 2);  // returns once its batch is being sent too
  EXPECT_EQ(sender.batches_sent(), 2u);
  EXPECT_EQ(c.queued(), 0u);
  EXPECT_THAT(b.Join(), IsOkAndHolds(20));
  EXPECT_THAT(a.Join(), IsOkAndHolds(10));
}

// A send that miscounts its results fails the whole batch, never hands
// one caller another's result.
TEST(CoalescerTest, AMiscountedAnswerIsInternalForEveryItem) {
  Coalescer<int, int> c({.max_in_flight = 1});
  auto send = [](absl::Span<const int* const> b) {
    return std::vector<absl::StatusOr<int>>{42, 43};
  };
  EXPECT_THAT(c.Submit(1, send),
              StatusIs(absl::StatusCode::kInternal, "a batch of 1 was answered with 2 results"));
}

// Many callers at once: every one answered with its own item's result,
// and fewer sends than callers.
TEST(CoalescerTest, ManyConcurrentCallersEachGetTheirOwnResult) {
  Coalescer<int, int> c({.max_in_flight = 2, .max_batch = 16});
  Sender sender;
  auto send = [&](absl::Span<const int* const> b) {
    absl::SleepFor(absl::Microseconds(200));
    return sender.Send(b);
  };
  constexpr int kThreads = 32, kEach = 50;
  std::vector<std::thread> threads;
  std::vector<int> wrong(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kEach; ++k) {
        const int item = t * 1000 + k;
        absl::StatusOr<int> r = c.Submit(item, send);
        if (!r.ok() || *r != item * 10) ++wrong[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(wrong, ::testing::Each(0));
  size_t items = 0;
  for (const auto& b : sender.batches()) {
    EXPECT_LE(b.size(), 16u);
    items += b.size();
  }
  EXPECT_EQ(items, static_cast<size_t>(kThreads * kEach));
  EXPECT_LT(sender.batches_sent(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(c.queued(), 0u);
}

}  // namespace
}  // namespace kinex
