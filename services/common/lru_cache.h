// A thread-safe map bounded by a total cost, least recently used entries
// dropped first: the one least-recently-used policy behind the gateway's
// kept facts (cost 1 an entry, bounded by count) and records' child views
// (cost in bytes, bounded by memory).
//
// Values are copied out, so keep them cheap to copy (a shared_ptr, or a
// small struct holding one): a value found stays valid after its entry is
// dropped. Each key is held once, in its entry; the index holds the
// entry's position. Nothing here is logged or exported; keys may be
// identifiers.
//
// Example:
//   LruCache<std::string, std::shared_ptr<const View>> cache(/*capacity=*/1 << 20);
//   cache.Put(id, view, ApproximateBytes(*view));
//   if (std::optional<std::shared_ptr<const View>> kept = cache.Find(id)) { ... }
#ifndef KINEX_SERVICES_COMMON_LRU_CACHE_H_
#define KINEX_SERVICES_COMMON_LRU_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <list>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace kinex {

template <typename Key, typename Value>
class LruCache {
 public:
  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;  // absent, or kept but not usable
    int64_t evictions = 0;
    int64_t entries = 0;
    int64_t cost = 0;  // of the entries kept
  };

  // Keeps entries whose costs add up to at most `capacity`.
  explicit LruCache(size_t capacity) : capacity_(capacity) {}
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The value kept for `key` if `usable` accepts it (a hit, which makes it
  // the most recently used), else nullopt (a miss; what is kept stays).
  // `key` may be any type the map looks up by (a string_view for a string
  // key: no copy).
  template <typename LookupKey>
  std::optional<Value> Find(
      const LookupKey& key,
      absl::FunctionRef<bool(const Value&)> usable = [](const Value&) { return true; }) {
    absl::MutexLock lock(&mu_);
    auto found = index_.find(key);
    if (found == index_.end() || !usable((*found)->value)) {
      ++stats_.misses;
      return std::nullopt;
    }
    ++stats_.hits;
    lru_.splice(lru_.begin(), lru_, *found);
    return (*found)->value;
  }

  // Keeps `value` for `key` at `cost`, in place of what was kept for `key`
  // if `replaces` accepts that (else nothing changes). A value costing more
  // than the capacity is not kept, and what was kept stays. Then drops the
  // least recently used entries until the costs fit.
  void Put(
      Key key, Value value, size_t cost,
      absl::FunctionRef<bool(const Value& kept)> replaces = [](const Value&) { return true; }) {
    if (cost > capacity_) return;
    absl::MutexLock lock(&mu_);
    if (auto found = index_.find(key); found != index_.end()) {
      if (!replaces((*found)->value)) return;
      // Replaced in place: no new node, no second copy of the key.
      Entry& entry = **found;
      cost_ = cost_ - entry.cost + cost;
      entry.value = std::move(value);
      entry.cost = cost;
      lru_.splice(lru_.begin(), lru_, *found);
    } else {
      lru_.push_front(Entry{std::move(key), std::move(value), cost});
      index_.insert(lru_.begin());
      cost_ += cost;
    }
    while (cost_ > capacity_) {
      EraseLocked(std::prev(lru_.end()));
      ++stats_.evictions;
    }
  }

  Stats stats() const {
    absl::MutexLock lock(&mu_);
    Stats s = stats_;
    s.entries = static_cast<int64_t>(lru_.size());
    s.cost = static_cast<int64_t>(cost_);
    return s;
  }

 private:
  struct Entry {
    Key key;
    Value value;
    size_t cost = 0;
  };
  using Lru = std::list<Entry>;  // most recently used first
  using Position = typename Lru::iterator;

  // The index is a set of list positions, hashed and compared by the key
  // each one's entry holds, and looked up by key: the key is not copied
  // into the index. The hasher and equality are the map's defaults for
  // Key, so a string key is found by a string_view as well.
  using KeyHash = typename absl::flat_hash_map<Key, int>::hasher;
  using KeyEq = typename absl::flat_hash_map<Key, int>::key_equal;
  struct PositionHash {
    using is_transparent = void;
    size_t operator()(Position p) const { return KeyHash{}(p->key); }
    template <typename LookupKey>
    size_t operator()(const LookupKey& key) const {
      return KeyHash{}(key);
    }
  };
  struct PositionEq {
    using is_transparent = void;
    bool operator()(Position a, Position b) const { return KeyEq{}(a->key, b->key); }
    template <typename LookupKey>
    bool operator()(Position a, const LookupKey& key) const {
      return KeyEq{}(a->key, key);
    }
    template <typename LookupKey>
    bool operator()(const LookupKey& key, Position b) const {
      return KeyEq{}(key, b->key);
    }
  };

  void EraseLocked(Position it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    cost_ -= it->cost;
    index_.erase(it);
    lru_.erase(it);
  }

  const size_t capacity_;
  mutable absl::Mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Position, PositionHash, PositionEq> index_ ABSL_GUARDED_BY(mu_);
  size_t cost_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_LRU_CACHE_H_
