#include "services/audit/log_storage.h"

#include <algorithm>

#include "absl/time/time.h"

namespace kinex::audit {

NewEntry MakeNewEntry(uint64_t leaf_index, const Hash& leaf_hash, std::string leaf_data,
                      const kinex::audit::v1::AuditEvent& event) {
  NewEntry e;
  e.entry.leaf_index = leaf_index;
  e.entry.leaf_hash = leaf_hash;
  e.entry.leaf_data = std::move(leaf_data);
  e.time_micros = event.time().seconds() * 1000000 + event.time().nanos() / 1000;
  e.agency_kind = static_cast<int>(event.agency_kind());
  e.agency_code = event.agency_code();
  e.actor = event.actor();
  e.purpose = static_cast<int>(event.purpose());
  e.decision = static_cast<int>(event.decision());
  e.break_glass = event.break_glass();
  e.child_pseudonyms.assign(event.child_pseudonyms().begin(), event.child_pseudonyms().end());
  e.idempotency_key = event.idempotency_key();
  return e;
}

bool MatchesFilter(const QueryFilter& filter, uint64_t leaf_index,
                   const kinex::audit::v1::AuditEvent& event) {
  if (leaf_index < filter.begin_index || leaf_index >= filter.end_index) {
    return false;
  }
  if (filter.child_pseudonym.has_value() &&
      std::find(event.child_pseudonyms().begin(), event.child_pseudonyms().end(),
                *filter.child_pseudonym) == event.child_pseudonyms().end()) {
    return false;
  }
  if (filter.agency_kind != 0 && static_cast<int>(event.agency_kind()) != filter.agency_kind) {
    return false;
  }
  if (!filter.agency_code.empty() && event.agency_code() != filter.agency_code) {
    return false;
  }
  if (!filter.actor.empty() && event.actor() != filter.actor) return false;
  if (filter.purpose != 0 && static_cast<int>(event.purpose()) != filter.purpose) {
    return false;
  }
  if (filter.decision != 0 && static_cast<int>(event.decision()) != filter.decision) {
    return false;
  }
  if (filter.break_glass_only && !event.break_glass()) return false;
  if (!filter.kinds.empty() && std::find(filter.kinds.begin(), filter.kinds.end(),
                                         static_cast<int>(event.kind())) == filter.kinds.end()) {
    return false;
  }
  return true;
}

absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> LogStorage::ListHeadsBetween(
    uint64_t min_size, uint64_t max_size) {
  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> all = ListHeads();
  if (!all.ok()) return all.status();
  std::vector<kinex::audit::v1::SignedTreeHead> out;
  for (auto& head : *all) {
    if (head.tree_size() > min_size && head.tree_size() <= max_size) {
      out.push_back(std::move(head));
    }
  }
  return out;
}

absl::StatusOr<std::vector<StoredNotification>> LogStorage::ReadNotifications(
    const NotificationQuery&, size_t) {
  return absl::UnimplementedError("this audit store keeps no notifications");
}

absl::StatusOr<NotificationStats> LogStorage::ReadNotificationStats() {
  return absl::UnimplementedError("this audit store keeps no notifications");
}

absl::StatusOr<int64_t> LogStorage::PruneNotifications(int64_t /*acked_before_us*/) {
  return absl::UnimplementedError("this audit store keeps no notifications");
}

absl::StatusOr<std::vector<Hash>> LogStorage::ReadLeafHashes(uint64_t begin, uint64_t end) {
  std::vector<Hash> hashes;
  hashes.reserve(end > begin ? std::min<uint64_t>(end - begin, 1 << 16) : 0);
  absl::Status s = ReadEntries(begin, end, [&](const StoredEntry& e) {
    hashes.push_back(e.leaf_hash);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return hashes;
}

absl::Status LogStorage::PutCheckpoint(uint64_t, absl::Span<const TreeBlock>, uint64_t,
                                       const std::string&) {
  return absl::UnimplementedError("this audit store keeps no checkpoints");
}

absl::StatusOr<std::optional<std::string>> LogStorage::LatestCheckpoint() { return std::nullopt; }

absl::StatusOr<std::optional<std::vector<Hash>>> LogStorage::ReadBlockEighths(uint64_t) {
  return std::nullopt;
}

absl::Status LogStorage::ReadTreeBlocks(
    uint64_t, uint64_t, const std::function<absl::Status(uint64_t, const TreeBlock&)>&) {
  return absl::UnimplementedError("this audit store keeps no checkpoints");
}

}  // namespace kinex::audit
