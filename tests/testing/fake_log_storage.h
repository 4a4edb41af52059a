// An in-memory LogStorage for unit tests: a working implementation with no
// durability. Thread-safe.
#ifndef KINEX_TESTS_TESTING_FAKE_LOG_STORAGE_H_
#define KINEX_TESTS_TESTING_FAKE_LOG_STORAGE_H_

#include <algorithm>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/log_storage.h"

namespace kinex::audit {

// In-memory storage. Tests may also reach into it (MutableEntries) to
// simulate tampering.
class FakeLogStorage final : public LogStorage {
 public:
  absl::Status Append(absl::Span<const NewEntry> entries,
                      const kinex::audit::v1::SignedTreeHead* head) override {
    absl::MutexLock lock(&mu_);
    const uint64_t size = SizeLocked();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].entry.leaf_index != size + i) {
        return absl::FailedPreconditionError(absl::StrCat("append at leaf index ",
                                                          entries[i].entry.leaf_index,
                                                          " but the log size is ", size + i));
      }
    }
    for (const NewEntry& e : entries) {
      if (!e.idempotency_key.empty() && keys_.count(e.idempotency_key) > 0) {
        return absl::FailedPreconditionError("audit store: idempotency key stored twice");
      }
    }
    rows_.insert(rows_.end(), entries.begin(), entries.end());
    for (const NewEntry& e : entries) {
      if (!e.idempotency_key.empty()) keys_[e.idempotency_key] = e.entry.leaf_index;
    }
    if (head != nullptr) heads_.push_back(*head);
    return absl::OkStatus();
  }

  absl::Status AddHead(const kinex::audit::v1::SignedTreeHead& head) override {
    absl::MutexLock lock(&mu_);
    heads_.push_back(head);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() override {
    absl::MutexLock lock(&mu_);
    return SizeLocked();
  }

  absl::StatusOr<std::optional<kinex::audit::v1::SignedTreeHead>> LatestHead() override {
    absl::MutexLock lock(&mu_);
    if (heads_.empty()) return std::nullopt;
    return heads_.back();
  }

  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeads() override {
    absl::MutexLock lock(&mu_);
    return heads_;
  }

  absl::Status ReadEntries(uint64_t begin, uint64_t end,
                           const std::function<absl::Status(const StoredEntry&)>& fn) override {
    std::vector<StoredEntry> rows;
    {
      absl::MutexLock lock(&mu_);
      for (const NewEntry& r : rows_) {
        if (r.entry.leaf_index >= begin && r.entry.leaf_index < end) {
          rows.push_back(r.entry);
        }
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const StoredEntry& a, const StoredEntry& b) {
      return a.leaf_index < b.leaf_index;
    });
    for (const StoredEntry& r : rows) {
      if (absl::Status s = fn(r); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StoredEntry>> Query(const QueryFilter& filter, size_t limit) override {
    absl::MutexLock lock(&mu_);
    std::vector<StoredEntry> out;
    for (const NewEntry& r : rows_) {
      if (out.size() >= limit) break;
      const uint64_t i = r.entry.leaf_index;
      if (i < filter.begin_index || i >= filter.end_index) continue;
      if (filter.child_pseudonym.has_value() &&
          std::find(r.child_pseudonyms.begin(), r.child_pseudonyms.end(),
                    *filter.child_pseudonym) == r.child_pseudonyms.end()) {
        continue;
      }
      if (filter.agency_kind != 0 && r.agency_kind != filter.agency_kind) continue;
      if (!filter.agency_code.empty() && r.agency_code != filter.agency_code) {
        continue;
      }
      if (!filter.actor.empty() && r.actor != filter.actor) continue;
      if (filter.purpose != 0 && r.purpose != filter.purpose) continue;
      if (filter.decision != 0 && r.decision != filter.decision) continue;
      if (filter.break_glass_only && !r.break_glass) continue;
      out.push_back(r.entry);
    }
    return out;
  }

  absl::Status ReadChildIndex(uint64_t begin, uint64_t end,
                              const std::function<absl::Status(const IndexRow&)>& fn) override {
    std::vector<IndexRow> rows;
    {
      absl::MutexLock lock(&mu_);
      for (const NewEntry& r : rows_) {
        if (r.entry.leaf_index < begin || r.entry.leaf_index >= end) continue;
        for (const std::string& p : r.child_pseudonyms) {
          rows.push_back({r.entry.leaf_index, p});
        }
      }
    }
    std::sort(rows.begin(), rows.end(), [](const IndexRow& a, const IndexRow& b) {
      return a.leaf_index != b.leaf_index ? a.leaf_index < b.leaf_index : a.pseudonym < b.pseudonym;
    });
    for (const IndexRow& r : rows) {
      if (absl::Status s = fn(r); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<uint64_t>> LookupIdempotencyKey(const std::string& key) override {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  }

  // Direct access to the rows (child_pseudonyms are the query index), to
  // simulate tampering in tests.
  void MutateRows(const std::function<void(std::vector<NewEntry>&)>& fn) {
    absl::MutexLock lock(&mu_);
    fn(rows_);
  }

 private:
  uint64_t SizeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t size = 0;
    for (const NewEntry& r : rows_) size = std::max(size, r.entry.leaf_index + 1);
    return rows_.empty() ? 0 : size;
  }

  absl::Mutex mu_;
  std::vector<NewEntry> rows_ ABSL_GUARDED_BY(mu_);
  std::vector<kinex::audit::v1::SignedTreeHead> heads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex::audit

#endif  // KINEX_TESTS_TESTING_FAKE_LOG_STORAGE_H_
