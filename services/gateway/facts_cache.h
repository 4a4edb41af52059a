// Child facts (records.GetChildFacts) the gateway read recently, by the
// identifier a caller asked with, so that a repeated read of the same child
// can decide without asking records for its facts first.
//
// Kept facts are only a guess. A read decides on them and then asks records
// for the allowed sections by the caller's own identifier, pinned to the
// kept facts_version: records resolves the identifier again in its own
// snapshot and answers ABORTED unless the child's facts there are exactly
// those decided on (the version covers the Kinex id, scope, legal status,
// date of birth, identifiers, trusted parts and shields). A refusal decided
// on kept facts stands only once facts read fresh carry the same version.
// So facts kept too long never disclose past a change nor refuse on a stale
// one; they cost a second decision. Nothing here is logged or exported: the
// keys are child identifiers.
//
// Example:
//   FactsCache cache(16384);
//   if (std::shared_ptr<const ChildFacts> kept = cache.Find(child)) { ... }
//   cache.Put(child, std::make_shared<const ChildFacts>(fresh));
#ifndef KINEX_SERVICES_GATEWAY_FACTS_CACHE_H_
#define KINEX_SERVICES_GATEWAY_FACTS_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kinex/common/v1/common.pb.h"
#include "kinex/records/v1/records.pb.h"
#include "services/common/lru_cache.h"

namespace kinex::gateway {

// At most `max_entries` children's facts, least recently used dropped
// first. Thread-safe.
class FactsCache {
 public:
  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    // Hits whose facts had moved: decided again on fresh facts.
    int64_t stale = 0;
    int64_t evictions = 0;
    int64_t entries = 0;
  };

  // `max_entries` > 0.
  explicit FactsCache(size_t max_entries) : facts_(max_entries) {}
  FactsCache(const FactsCache&) = delete;
  FactsCache& operator=(const FactsCache&) = delete;

  // The facts last kept for `child` (as asked: the same identifier kind and
  // value), or null.
  std::shared_ptr<const kinex::records::v1::ChildFacts> Find(
      const kinex::common::v1::ChildRef& child);
  // Keeps `facts` for `child`, replacing what was kept.
  void Put(const kinex::common::v1::ChildRef& child,
           std::shared_ptr<const kinex::records::v1::ChildFacts> facts);

  // Counts a hit whose facts turned out to have moved.
  void CountStale();

  Stats stats() const;

 private:
  LruCache<std::string, std::shared_ptr<const kinex::records::v1::ChildFacts>> facts_;
  std::atomic<int64_t> stale_{0};
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_FACTS_CACHE_H_
