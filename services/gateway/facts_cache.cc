#include "services/gateway/facts_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kinex::gateway {
namespace {

namespace cv1 = kinex::common::v1;

// The identifier's kind and value, and nothing else a request carried
// (unknown fields would otherwise let one caller grow a key to the message
// size limit). Only found children are kept, so the values are well formed.
std::string KeyOf(const cv1::ChildRef& child) {
  switch (child.id_case()) {
    case cv1::ChildRef::kKinexId:
      return absl::StrCat("k", child.kinex_id());
    case cv1::ChildRef::kNhsNumber:
      return absl::StrCat("n", child.nhs_number());
    case cv1::ChildRef::kUpn:
      return absl::StrCat("u", child.upn());
    case cv1::ChildRef::kLaChildId:
      return absl::StrCat("l", child.la_child_id().la_code().size(), ":",
                          child.la_child_id().la_code(), child.la_child_id().id());
    case cv1::ChildRef::ID_NOT_SET:
      break;
  }
  return "";
}

}  // namespace

std::shared_ptr<const kinex::records::v1::ChildFacts> FactsCache::Find(const cv1::ChildRef& child) {
  return facts_.Find(KeyOf(child)).value_or(nullptr);
}

void FactsCache::Put(const cv1::ChildRef& child,
                     std::shared_ptr<const kinex::records::v1::ChildFacts> facts) {
  facts_.Put(KeyOf(child), std::move(facts), /*cost=*/1);
}

void FactsCache::CountStale() { stale_.fetch_add(1, std::memory_order_relaxed); }

FactsCache::Stats FactsCache::stats() const {
  const auto s = facts_.stats();
  return {.hits = s.hits,
          .misses = s.misses,
          .stale = stale_.load(std::memory_order_relaxed),
          .evictions = s.evictions,
          .entries = s.entries};
}

}  // namespace kinex::gateway
