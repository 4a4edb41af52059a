// Happens-before for ThreadSanitizer through Debian's absl::Mutex, CondVar
// and Notification, linked into every executable of a KINEX_SANITIZE=thread
// build (build-tsan/).
//
// Debian's libabsl_synchronization is not built with -fsanitize=thread, so
// TSan does not see its locks and reports every access to a guarded member
// as a race. Each function below is defined again here, in the executable,
// which the dynamic linker prefers over the library's definition (for
// Kinex's calls and for the library's own calls through its PLT, e.g.
// Notification's). Each tells TSan what the call means (__tsan_release
// before a lock is released, __tsan_acquire after it is taken, on the
// mutex's address) and then calls the library's definition (dlsym
// RTLD_NEXT). Reader and writer locks are treated alike, so two readers
// are ordered too: this can hide a race between readers, never invent one.
//
// Only the synchronisation is modelled: code inside uninstrumented libraries
// (gRPC, its lock-free queues) stays invisible, which is why build-tsan runs
// only tests whose threads meet in Kinex code (tools/sanitize.sh).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

#define KINEX_TSAN_STR2(x) #x
#define KINEX_TSAN_STR(x) KINEX_TSAN_STR2(x)

// The library's definition of `member` ("5Mutex4LockEv"; "K" first for a
// const member): the Itanium name of absl::<inline namespace>::<member>.
template <typename Fn>
Fn Real(const char* member) {
  const std::string ns = KINEX_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const bool is_const = member[0] == 'K';
  const std::string name = std::string(is_const ? "_ZNK" : "_ZN") + "4absl" +
                           std::to_string(ns.size()) + ns + (member + is_const);
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// What a call means to TSan: kAcquire after it returns (the lock is taken),
// kRelease before it starts (the lock is given up), kWait both (given up
// while waiting, taken again), kAcquireIfTrue only when it returns true (a
// try-lock that got the lock, a notification that came).
enum Edge { kAcquire, kRelease, kWait, kAcquireIfTrue };

// Calls `real(args...)` with the edges `edge` means on `sync`.
template <typename Fn, typename... Args>
auto Call(Edge edge, const void* sync, Fn real, Args&&... args) {
  void* const addr = const_cast<void*>(sync);
  if (edge == kRelease || edge == kWait) __tsan_release(addr);
  if constexpr (std::is_void_v<decltype(real(std::forward<Args>(args)...))>) {
    real(std::forward<Args>(args)...);
    if (edge != kRelease) __tsan_acquire(addr);
  } else {
    const auto result = real(std::forward<Args>(args)...);
    if (edge != kRelease && (edge != kAcquireIfTrue || result)) __tsan_acquire(addr);
    return result;
  }
}

// absl evaluates a Condition with the mutex held but inside its own code,
// in the waiting thread or in the one unlocking: TSan is told the mutex is
// taken around each evaluation, so what the condition reads is ordered.
struct HeldCondition {
  const absl::Condition* cond;
  void* mu;
  HeldCondition* get() { return this; }
};
bool EvalHeld(HeldCondition* held) {
  __tsan_acquire(held->mu);
  const bool result = held->cond->Eval();
  __tsan_release(held->mu);
  return result;
}
// `cond` evaluated as above; valid until the end of the full expression.
#define KINEX_TSAN_HELD(mu, cond) \
  absl::Condition(&EvalHeld, HeldCondition{&(cond), const_cast<Mutex*>(mu)}.get())

// absl's own deadlock detector records, at each lock taken while another is
// held, an edge in a graph (GraphCycles) inside the uninstrumented library,
// guarded by its own spin lock, which TSan cannot see: two threads adding
// edges were reported as a race inside absl (audit_log_test and
// sql_db_test, one run in several). The detector is off in this build;
// the sanitizer builds are for races, and the normal build keeps it.
[[maybe_unused]] const bool kAbslDeadlockGraphOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

}  // namespace

// The body of a stand-in: the library's `member` (type `fn`, its Itanium name
// after the namespace, looked up once) called with `edge` on `sync`.
#define KINEX_TSAN_CALL(fn, member, edge, sync, ...) \
  static const auto real = Real<fn>(member);         \
  return Call(edge, sync, real, __VA_ARGS__)

namespace absl {
ABSL_NAMESPACE_BEGIN

using MutexFn = void (*)(Mutex*);
using TryFn = bool (*)(Mutex*);
using WhenFn = void (*)(Mutex*, const Condition&);
using WhenForFn = bool (*)(Mutex*, const Condition&, absl::Duration);
using WhenUntilFn = bool (*)(Mutex*, const Condition&, absl::Time);

void Mutex::Lock() { KINEX_TSAN_CALL(MutexFn, "5Mutex4LockEv", kAcquire, this, this); }
void Mutex::ReaderLock() { KINEX_TSAN_CALL(MutexFn, "5Mutex10ReaderLockEv", kAcquire, this, this); }
bool Mutex::TryLock() { KINEX_TSAN_CALL(TryFn, "5Mutex7TryLockEv", kAcquireIfTrue, this, this); }
bool Mutex::ReaderTryLock() {
  KINEX_TSAN_CALL(TryFn, "5Mutex13ReaderTryLockEv", kAcquireIfTrue, this, this);
}
void Mutex::Unlock() { KINEX_TSAN_CALL(MutexFn, "5Mutex6UnlockEv", kRelease, this, this); }
void Mutex::ReaderUnlock() {
  KINEX_TSAN_CALL(MutexFn, "5Mutex12ReaderUnlockEv", kRelease, this, this);
}
void Mutex::LockWhen(const Condition& cond) {
  KINEX_TSAN_CALL(WhenFn, "5Mutex8LockWhenERKNS0_9ConditionE", kAcquire, this, this,
                  KINEX_TSAN_HELD(this, cond));
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  KINEX_TSAN_CALL(WhenFn, "5Mutex14ReaderLockWhenERKNS0_9ConditionE", kAcquire, this, this,
                  KINEX_TSAN_HELD(this, cond));
}
// The ...WithTimeout/Deadline forms hold the lock on return either way.
bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  KINEX_TSAN_CALL(WhenForFn, "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE",
                  kAcquire, this, this, KINEX_TSAN_HELD(this, cond), timeout);
}
bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  KINEX_TSAN_CALL(WhenForFn, "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE",
                  kAcquire, this, this, KINEX_TSAN_HELD(this, cond), timeout);
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  KINEX_TSAN_CALL(WhenUntilFn, "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE", kAcquire,
                  this, this, KINEX_TSAN_HELD(this, cond), deadline);
}
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  KINEX_TSAN_CALL(WhenUntilFn, "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE",
                  kAcquire, this, this, KINEX_TSAN_HELD(this, cond), deadline);
}
void Mutex::Await(const Condition& cond) {
  KINEX_TSAN_CALL(WhenFn, "5Mutex5AwaitERKNS0_9ConditionE", kWait, this, this,
                  KINEX_TSAN_HELD(this, cond));
}
bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  KINEX_TSAN_CALL(WhenForFn, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE", kWait,
                  this, this, KINEX_TSAN_HELD(this, cond), timeout);
}
bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  KINEX_TSAN_CALL(WhenUntilFn, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE", kWait, this,
                  this, KINEX_TSAN_HELD(this, cond), deadline);
}

// CondVar waits give up `mu` and take it again.
void CondVar::Wait(Mutex* mu) {
  KINEX_TSAN_CALL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE", kWait, mu, this, mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  KINEX_TSAN_CALL(bool (*)(CondVar*, Mutex*, absl::Duration),
                  "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE", kWait, mu, this, mu,
                  timeout);
}
bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  KINEX_TSAN_CALL(bool (*)(CondVar*, Mutex*, absl::Time),
                  "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE", kWait, mu, this, mu,
                  deadline);
}

// A waiter that finds the notification already given takes no lock, so the
// notification itself carries the edge.
void Notification::Notify() {
  KINEX_TSAN_CALL(void (*)(Notification*), "12Notification6NotifyEv", kRelease, this, this);
}
void Notification::WaitForNotification() const {
  KINEX_TSAN_CALL(void (*)(const Notification*), "K12Notification19WaitForNotificationEv", kAcquire,
                  this, this);
}
bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  KINEX_TSAN_CALL(bool (*)(const Notification*, absl::Duration),
                  "K12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", kAcquireIfTrue,
                  this, this, timeout);
}
bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  KINEX_TSAN_CALL(bool (*)(const Notification*, absl::Time),
                  "K12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", kAcquireIfTrue,
                  this, this, deadline);
}

ABSL_NAMESPACE_END
}  // namespace absl
