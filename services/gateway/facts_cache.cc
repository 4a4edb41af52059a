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
  const std::string key = KeyOf(child);
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->facts;
}

void FactsCache::Put(const cv1::ChildRef& child,
                     std::shared_ptr<const kinex::records::v1::ChildFacts> facts) {
  std::string key = KeyOf(child);
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->facts = std::move(facts);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{key, std::move(facts)});
  index_.emplace(std::move(key), lru_.begin());
  while (lru_.size() > max_entries_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

void FactsCache::CountStale() {
  absl::MutexLock lock(&mu_);
  ++stats_.stale;
}

FactsCache::Stats FactsCache::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.entries = static_cast<int64_t>(lru_.size());
  return s;
}

}  // namespace kinex::gateway
