#include "services/records/child_view.h"

#include <optional>
#include <string>
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

std::shared_ptr<const ChildView> ChildViewCache::Find(absl::string_view kinex_id,
                                                      int64_t generation) {
  std::optional<Kept> kept =
      views_.Find(kinex_id, [&](const Kept& k) { return k.generation == generation; });
  return kept.has_value() ? std::move(kept->view) : nullptr;
}

void ChildViewCache::Put(int64_t generation, std::shared_ptr<const ChildView> view) {
  if (view == nullptr) return;
  // The entry's own bookkeeping counts too: its key (held once, in the
  // entry) and its list node and index slot.
  const size_t bytes = ApproximateBytes(*view) + view->kinex_id.capacity() + sizeof(Kept) + 64;
  std::string key = view->kinex_id;
  // A reader on an older snapshot must not replace a newer view.
  views_.Put(std::move(key), Kept{generation, std::move(view)}, bytes,
             [&](const Kept& kept) { return kept.generation <= generation; });
}

ChildViewCache::Stats ChildViewCache::stats() const {
  const LruCache<std::string, Kept>::Stats s = views_.stats();
  return {.hits = s.hits,
          .misses = s.misses,
          .evictions = s.evictions,
          .entries = s.entries,
          .bytes = s.cost};
}

}  // namespace kinex::records
