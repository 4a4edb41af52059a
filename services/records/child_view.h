// A child's view: everything the records rules read about one child in one
// snapshot (responsible LA, agency links, the latest part of each agency,
// the shields in force), and a bounded cache of views read before.
//
// The cache is keyed by the child and the store's view generation
// (RecordsTxn::ViewGeneration), which the store advances in the same
// transaction as every change to a view. A reader asks the generation in its
// own snapshot and takes a cached view only if it was read at exactly that
// generation; anything else is read from the store. So a cached view is
// never older than the snapshot that uses it, whichever process or replica
// wrote in between.
//
// Example:
//   ChildViewCache cache(32 << 20);
//   KINEX_ASSIGN_OR_RETURN(std::optional<int64_t> gen, txn.ViewGeneration(id));
//   std::shared_ptr<const ChildView> view = cache.Find(id, *gen);
//   if (view == nullptr) { view = ...read...; cache.Put(*gen, view); }
#ifndef KINEX_SERVICES_RECORDS_CHILD_VIEW_H_
#define KINEX_SERVICES_RECORDS_CHILD_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "kinex/records/v1/records.pb.h"
#include "services/common/lru_cache.h"
#include "services/records/records_storage.h"

namespace kinex::records {

// Everything the rules need about one child, read in one transaction.
struct ChildView {
  std::string kinex_id;
  std::string responsible_la;  // "" for a child from before responsibility
  std::vector<StoredLink> links;
  std::vector<StoredPart> parts;               // the latest version of every agency's part
  std::vector<StoredSharingDecision> shields;  // in force, in decision id order

  // The facts derived from a view depend on it and on the UTC day alone
  // (the current school), so a kept view keeps them too: computed by the
  // first read of the day that needs them, shared by every later one.
  // Set only on views read for the cache; null elsewhere.
  struct FactsMemo {
    absl::Mutex mu;
    absl::CivilDay day ABSL_GUARDED_BY(mu);
    std::shared_ptr<const kinex::records::v1::ChildFacts> facts ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<FactsMemo> facts_memo;
};

// About how much memory `view` holds (strings, payloads and elements, and
// a kilobyte for its facts when it keeps them).
size_t ApproximateBytes(const ChildView& view);

// Views by (Kinex id, view generation), least recently used dropped first
// once their approximate bytes pass the bound. Thread-safe.
class ChildViewCache {
 public:
  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;  // absent, or cached at another generation
    int64_t evictions = 0;
    int64_t entries = 0;
    int64_t bytes = 0;
  };

  // Keeps at most about `max_bytes` of views (a view larger than that is
  // not kept).
  explicit ChildViewCache(size_t max_bytes) : views_(max_bytes) {}
  ChildViewCache(const ChildViewCache&) = delete;
  ChildViewCache& operator=(const ChildViewCache&) = delete;

  // The view of `kinex_id` read at exactly `generation`, or null.
  std::shared_ptr<const ChildView> Find(absl::string_view kinex_id, int64_t generation);
  // Keeps `view`, read at `generation`, unless a view of a later generation
  // of the same child is already kept.
  void Put(int64_t generation, std::shared_ptr<const ChildView> view);

  Stats stats() const;

 private:
  struct Kept {
    int64_t generation = 0;
    std::shared_ptr<const ChildView> view;
  };
  LruCache<std::string, Kept> views_;  // by Kinex id, cost in bytes
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_CHILD_VIEW_H_
