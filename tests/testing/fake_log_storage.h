// An in-memory LogStorage for unit tests: a working implementation with no
// durability, notifications included (the semantics of SqlLogStorage: rows
// written with their entry, each change applied once, the same checks on
// what Append is given). Thread-safe.
#ifndef KINEX_TESTS_TESTING_FAKE_LOG_STORAGE_H_
#define KINEX_TESTS_TESTING_FAKE_LOG_STORAGE_H_

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "kinex/notifications/v1/notifications.pb.h"
#include "services/audit/log_storage.h"
#include "services/common/status_macros.h"

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
      if (absl::Status s = CheckNotifications(e); !s.ok()) return s;
      for (const StoredNotification& n : e.notifications) {
        if (notifications_.count(n.key) > 0) {
          return absl::AbortedError("audit store: notification stored twice");
        }
      }
    }
    rows_.insert(rows_.end(), entries.begin(), entries.end());
    for (const NewEntry& e : entries) {
      if (!e.idempotency_key.empty()) keys_[e.idempotency_key] = e.entry.leaf_index;
      for (const StoredNotification& n : e.notifications) notifications_[n.key] = n;
    }
    for (const NewEntry& e : entries) {
      for (const NotificationChange& c : e.changes) ApplyChangeLocked(c);
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

  absl::StatusOr<std::vector<StoredNotification>> ReadNotifications(const NotificationQuery& query,
                                                                    size_t limit) override {
    if (query.keys.size() > kMaxNotificationKeys) {
      return absl::InvalidArgumentError(absl::StrCat("notification query: ", query.keys.size(),
                                                     " keys; at most ", kMaxNotificationKeys));
    }
    absl::MutexLock lock(&mu_);
    std::vector<StoredNotification> out;
    for (const auto& [key, n] : notifications_) {
      if (out.size() >= limit) break;
      if (query.recipient_kind != 0 &&
          (n.recipient_kind != query.recipient_kind || n.recipient_code != query.recipient_code)) {
        continue;
      }
      if (query.after.has_value() && !(*query.after < key)) continue;
      if (!query.keys.empty() &&
          std::find(query.keys.begin(), query.keys.end(), key) == query.keys.end()) {
        continue;
      }
      if (query.unacknowledged_only && n.acked_us != 0) continue;
      if (!query.kinds.empty() &&
          std::find(query.kinds.begin(), query.kinds.end(), n.kind) == query.kinds.end()) {
        continue;
      }
      if (query.due_at_us > 0 &&
          !(n.kind == kEncompass && n.acked_us == 0 && n.escalated_leaf < 0 && n.deadline_us > 0 &&
            n.deadline_us <= query.due_at_us)) {
        continue;
      }
      out.push_back(n);
    }
    return out;
  }

  absl::Status PutCheckpoint(uint64_t first_block, absl::Span<const TreeBlock> blocks,
                             uint64_t tree_size, const std::string& sealed) override {
    absl::MutexLock lock(&mu_);
    blocks_.resize(std::min<size_t>(blocks_.size(), first_block));
    if (blocks_.size() != first_block) {
      return absl::InvalidArgumentError("tree blocks would leave a gap");
    }
    blocks_.insert(blocks_.end(), blocks.begin(), blocks.end());
    checkpoints_.erase(checkpoints_.lower_bound(tree_size), checkpoints_.end());
    checkpoints_[tree_size] = sealed;
    while (checkpoints_.size() > 2) checkpoints_.erase(checkpoints_.begin());
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> LatestCheckpoint() override {
    absl::MutexLock lock(&mu_);
    if (checkpoints_.empty()) return std::nullopt;
    return checkpoints_.rbegin()->second;
  }

  absl::Status ReadTreeBlocks(
      uint64_t begin, uint64_t end,
      const std::function<absl::Status(uint64_t index, const TreeBlock&)>& fn) override {
    std::vector<TreeBlock> blocks;
    {
      absl::MutexLock lock(&mu_);
      blocks = blocks_;
    }
    for (uint64_t i = begin; i < end && i < blocks.size(); ++i) {
      KINEX_RETURN_IF_ERROR(fn(i, blocks[i]));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::vector<Hash>>> ReadBlockEighths(uint64_t block) override {
    absl::MutexLock lock(&mu_);
    if (block >= blocks_.size() || blocks_[block].eighths.empty()) return std::nullopt;
    return blocks_[block].eighths;
  }

  // Direct access to the stored block rows, to simulate tampering.
  void MutateBlocks(const std::function<void(std::vector<TreeBlock>&)>& fn) {
    absl::MutexLock lock(&mu_);
    fn(blocks_);
  }

  absl::StatusOr<int64_t> PruneNotifications(int64_t acked_before_us) override {
    absl::MutexLock lock(&mu_);
    int64_t deleted = 0;
    for (auto it = notifications_.begin(); it != notifications_.end();) {
      const StoredNotification& n = it->second;
      if (n.acked_us > 0 && n.acked_us < acked_before_us &&
          !(n.kind == kEncompass && n.escalated_leaf >= 0)) {
        it = notifications_.erase(it);
        ++deleted;
      } else {
        ++it;
      }
    }
    return deleted;
  }

  absl::StatusOr<NotificationStats> ReadNotificationStats() override {
    absl::MutexLock lock(&mu_);
    NotificationStats stats;
    for (const auto& [key, n] : notifications_) {
      if (n.acked_us == 0) {
        ++stats.unacknowledged;
        if (stats.unacknowledged == 1 || n.created_us < stats.oldest_unacknowledged_us) {
          stats.oldest_unacknowledged_us = n.created_us;
        }
      }
      if (n.kind == kEncompass && n.escalated_leaf >= 0) ++stats.deadline_misses;
      if (n.kind == kBreakGlassReview && n.review_outcome == 0) ++stats.open_reviews;
    }
    return stats;
  }

  // Direct access to the stored notifications, to simulate tampering.
  void MutateNotifications(
      const std::function<void(std::map<NotificationKey, StoredNotification>&)>& fn) {
    absl::MutexLock lock(&mu_);
    fn(notifications_);
  }

  // Direct access to the rows (child_pseudonyms are the query index), to
  // simulate tampering in tests.
  void MutateRows(const std::function<void(std::vector<NewEntry>&)>& fn) {
    absl::MutexLock lock(&mu_);
    fn(rows_);
  }

 private:
  // As SqlLogStorage::kMaxNotificationKeys.
  static constexpr size_t kMaxNotificationKeys = 1000;
  static constexpr int kBreakGlassReview = kinex::notifications::v1::BREAK_GLASS_REVIEW;
  static constexpr int kEncompass = kinex::notifications::v1::ENCOMPASS;
  static constexpr int kPending = kinex::notifications::v1::PENDING;
  static constexpr int kDelivered = kinex::notifications::v1::DELIVERED;
  static constexpr int kAcknowledged = kinex::notifications::v1::ACKNOWLEDGED;

  // SqlLogStorage's checks of what Append writes beside an entry.
  static absl::Status CheckNotifications(const NewEntry& e) {
    const uint64_t leaf = e.entry.leaf_index;
    for (size_t i = 0; i < e.notifications.size(); ++i) {
      const NotificationKey& key = e.notifications[i].key;
      if (key.leaf_index != leaf || key.ordinal != i) {
        return absl::InvalidArgumentError(absl::StrCat("entry ", leaf, ": notifications[", i,
                                                       "].key is ", NotificationId(key), ", not ",
                                                       leaf, ".", i));
      }
    }
    for (size_t i = 0; i < e.changes.size(); ++i) {
      const NotificationChange& c = e.changes[i];
      if (c.leaf_index != leaf) {
        return absl::InvalidArgumentError(absl::StrCat("entry ", leaf, ": changes[", i,
                                                       "].leaf_index is ", c.leaf_index,
                                                       ", not the entry's"));
      }
      if (c.type != NotificationChange::Type::kEscalated && c.at_us <= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "entry ", leaf, ": changes[", i, "].at_us is ", c.at_us, "; must be positive"));
      }
      if (c.type == NotificationChange::Type::kReviewed && c.review_outcome == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("entry ", leaf, ": changes[", i,
                         "].review_outcome is 0; a review must have an outcome"));
      }
    }
    return absl::OkStatus();
  }

  // Applies `c` when its precondition holds (as SqlLogStorage's UPDATEs).
  void ApplyChangeLocked(const NotificationChange& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = notifications_.find(c.key);
    if (it == notifications_.end()) return;
    StoredNotification& n = it->second;
    switch (c.type) {
      case NotificationChange::Type::kDelivered:
        if (n.state != kPending) return;
        n.state = kDelivered;
        n.delivered_us = c.at_us;
        return;
      case NotificationChange::Type::kAcknowledged:
        if (n.acked_us != 0) return;
        n.state = kAcknowledged;
        n.acked_us = c.at_us;
        n.acked_by = c.by;
        return;
      case NotificationChange::Type::kReviewed:
        if (n.review_outcome != 0) return;
        n.state = kAcknowledged;
        if (n.acked_us == 0) {
          n.acked_us = c.at_us;
          n.acked_by = c.by;
        }
        n.review_outcome = c.review_outcome;
        n.review_note = c.note;
        return;
      case NotificationChange::Type::kEscalated:
        if (n.escalated_leaf >= 0) return;
        n.escalated_leaf = static_cast<int64_t>(c.leaf_index);
        return;
    }
  }

  uint64_t SizeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t size = 0;
    for (const NewEntry& r : rows_) size = std::max(size, r.entry.leaf_index + 1);
    return rows_.empty() ? 0 : size;
  }

  absl::Mutex mu_;
  std::vector<NewEntry> rows_ ABSL_GUARDED_BY(mu_);
  std::vector<kinex::audit::v1::SignedTreeHead> heads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> keys_ ABSL_GUARDED_BY(mu_);
  std::map<NotificationKey, StoredNotification> notifications_ ABSL_GUARDED_BY(mu_);
  std::vector<TreeBlock> blocks_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::string> checkpoints_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kinex::audit

#endif  // KINEX_TESTS_TESTING_FAKE_LOG_STORAGE_H_
