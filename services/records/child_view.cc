#include "services/records/child_view.h"

#include <utility>

namespace kinex::records {

size_t ApproximateBytes(const ChildView& view) {
  // Each element's own size, plus what its strings hold on the heap.
  size_t bytes = sizeof(ChildView) + view.kinex_id.capacity() + view.responsible_la.capacity();
  for (const StoredLink& l : view.links) {
    bytes += sizeof(l) + l.kinex_id.capacity() + l.agency_code.capacity() + l.updated_by.capacity();
  }
  for (const StoredPart& p : view.parts) {
    bytes += sizeof(p) + p.kinex_id.capacity() + p.owner_code.capacity() + p.etag.capacity() +
             p.principal.capacity() + p.actor.capacity() + p.payload.capacity();
  }
  for (const StoredSharingDecision& d : view.shields) {
    bytes += sizeof(d) + d.decision_id.capacity() + d.kinex_id.capacity() +
             d.decider_code.capacity() + d.payload.capacity();
  }
  if (view.facts_memo != nullptr) bytes += sizeof(ChildView::FactsMemo) + 1024;
  return bytes;
}

ChildViewCache::ChildViewCache(size_t max_bytes) : max_bytes_(max_bytes) {}

std::shared_ptr<const ChildView> ChildViewCache::Find(absl::string_view kinex_id,
                                                      int64_t generation) {
  absl::MutexLock lock(&mu_);
  auto found = index_.find(kinex_id);
  if (found == index_.end() || found->second->generation != generation) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, found->second);
  return found->second->view;
}

void ChildViewCache::Put(int64_t generation, std::shared_ptr<const ChildView> view) {
  if (view == nullptr) return;
  const size_t bytes = ApproximateBytes(*view) + sizeof(Entry);
  if (bytes > max_bytes_) return;
  absl::MutexLock lock(&mu_);
  auto found = index_.find(view->kinex_id);
  if (found != index_.end()) {
    // A reader on an older snapshot must not replace a newer view.
    if (found->second->generation > generation) return;
    EraseLocked(found->second);
  }
  lru_.push_front(Entry{generation, bytes, std::move(view)});
  index_.emplace(lru_.front().view->kinex_id, lru_.begin());
  bytes_ += bytes;
  while (bytes_ > max_bytes_) {
    EraseLocked(std::prev(lru_.end()));
    ++stats_.evictions;
  }
}

void ChildViewCache::EraseLocked(Lru::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(it->view->kinex_id);
  lru_.erase(it);
}

ChildViewCache::Stats ChildViewCache::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.entries = static_cast<int64_t>(lru_.size());
  s.bytes = static_cast<int64_t>(bytes_);
  return s;
}

}  // namespace kinex::records
