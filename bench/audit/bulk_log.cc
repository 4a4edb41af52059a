#include "bench/audit/bulk_log.h"

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/common/status_macros.h"

namespace kinex::audit::bench {
namespace {

namespace v1 = kinex::audit::v1;

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

void SetMicros(int64_t micros, google::protobuf::Timestamp* t) {
  t->set_seconds(micros / 1000000);
  t->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

// One batch ready to commit.
struct Batch {
  std::vector<NewEntry> entries;
  v1::SignedTreeHead head;
};

// Commits one batch at a time on a thread of its own, kept for a whole
// growth: a thread per batch would start each batch's compression and
// inserts with a cold allocator cache and cold compression contexts.
class Committer {
 public:
  explicit Committer(LogStorage& storage) : storage_(storage), thread_([this] { Loop(); }) {}
  ~Committer() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  // Starts committing `batch`. PRECONDITION: Wait() since the last Submit.
  void Submit(std::shared_ptr<const Batch> batch) {
    absl::MutexLock lock(&mu_);
    pending_ = std::move(batch);
    done_ = false;
  }

  // The status of the batch submitted last (OK when none).
  absl::Status Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Committer* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->done_; }, this));
    return status_;
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (true) {
      mu_.Await(absl::Condition(
          +[](Committer* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return c->stopping_ || c->pending_ != nullptr;
          },
          this));
      if (pending_ == nullptr) return;  // stopping, nothing left
      std::shared_ptr<const Batch> batch = std::move(pending_);
      pending_ = nullptr;
      mu_.Unlock();
      absl::Status s = storage_.Append(batch->entries, &batch->head);
      batch.reset();  // freed on this thread, as allocated for it
      mu_.Lock();
      status_ = std::move(s);
      done_ = true;
    }
  }

  LogStorage& storage_;
  absl::Mutex mu_;
  std::shared_ptr<const Batch> pending_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = true;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BulkLogBuilder>> BulkLogBuilder::Create(Options options) {
  if (options.signer == nullptr) {
    return absl::InvalidArgumentError("BulkLogBuilder: options.signer is required");
  }
  if (options.pseudonymizer == nullptr) {
    return absl::InvalidArgumentError("BulkLogBuilder: options.pseudonymizer is required");
  }
  if (options.batch_size == 0) {
    return absl::InvalidArgumentError("BulkLogBuilder: options.batch_size must be at least 1");
  }
  if (options.lean_level < 1 || options.lean_level > 30) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BulkLogBuilder: options.lean_level must be 1 to 30, not ", options.lean_level));
  }
  return std::unique_ptr<BulkLogBuilder>(new BulkLogBuilder(std::move(options)));
}

absl::Status BulkLogBuilder::CatchUp(LogStorage& storage) {
  KINEX_ASSIGN_OR_RETURN(const uint64_t stored, storage.Size());
  if (stored < size()) {
    return absl::FailedPreconditionError(absl::StrCat("BulkLogBuilder: the store holds ", stored,
                                                      " entries, fewer than the ", size(),
                                                      " the builder wrote or read"));
  }
  constexpr uint64_t kChunk = 10000;
  for (uint64_t begin = size(); begin < stored; begin += kChunk) {
    const uint64_t end = std::min(stored, begin + kChunk);
    KINEX_RETURN_IF_ERROR(storage.ReadEntries(begin, end, [&](const StoredEntry& e) {
      const Hash h = HashLeaf(e.leaf_data);
      if (e.leaf_index != size() || h != e.leaf_hash) {
        return absl::DataLossError(
            absl::StrCat("BulkLogBuilder: leaf index ", e.leaf_index, " does not check out"));
      }
      KINEX_ASSIGN_OR_RETURN(DecodedLeaf leaf, DecodeEvent(e.leaf_data));
      chains_.Record(e.leaf_index, leaf.event);
      const int64_t micros = MicrosOf(leaf.event.time());
      last_micros_ = std::max(last_micros_, micros);
      AddLeaf(h, micros);
      return absl::OkStatus();
    }));
  }
  // The newest head (AuditLog may have signed some since): the next
  // entries are no earlier. An empty store gets its empty-tree head.
  KINEX_ASSIGN_OR_RETURN(std::optional<v1::SignedTreeHead> latest, storage.LatestHead());
  if (!latest.has_value()) {
    if (size() != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("BulkLogBuilder: the store holds ", size(), " entries and no head"));
    }
    KINEX_ASSIGN_OR_RETURN(v1::SignedTreeHead empty,
                           options_.signer->Sign(0, EmptyRoot(), options_.first_time));
    KINEX_RETURN_IF_ERROR(storage.AddHead(empty));
    latest = std::move(empty);
  }
  last_micros_ = std::max(last_micros_, MicrosOf(latest->timestamp()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> BulkLogBuilder::Pseudonym(const kinex::common::v1::ChildRef& child) {
  std::string key = child.SerializeAsString();
  auto it = pseudonyms_.find(key);
  if (it != pseudonyms_.end()) return it->second;
  KINEX_ASSIGN_OR_RETURN(std::string p, options_.pseudonymizer->Pseudonym(child));
  pseudonyms_.emplace(std::move(key), p);
  return p;
}

absl::StatusOr<NewEntry> BulkLogBuilder::Build(v1::AuditEvent event) {
  const uint64_t index = size();
  if (options_.validate) {
    absl::Status valid = ValidateAppendEvent(event);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("BulkLogBuilder: leaf index ", index, ": ", valid.message()));
    }
  }
  if (event.notify_size() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("BulkLogBuilder: leaf index ", index,
                     ": event.notify: the builder writes no notifications"));
  }
  // As PseudonymizeChildren, with each identifier's HMAC computed once.
  std::vector<std::string> pseudonyms;
  pseudonyms.reserve(event.children_size());
  for (const auto& child : event.children()) {
    KINEX_ASSIGN_OR_RETURN(std::string p, Pseudonym(child));
    pseudonyms.push_back(std::move(p));
  }
  std::sort(pseudonyms.begin(), pseudonyms.end());
  pseudonyms.erase(std::unique(pseudonyms.begin(), pseudonyms.end()), pseudonyms.end());
  event.clear_children();
  for (std::string& p : pseudonyms) event.add_child_pseudonyms(std::move(p));

  const int64_t planned = absl::ToUnixMicros(options_.first_time + options_.spacing * index);
  last_micros_ = std::max(last_micros_, planned);
  SetMicros(last_micros_, event.mutable_time());
  // The links the log's sequencer would set (checked at start-up).
  chains_.Link(event);
  chains_.Record(index, event);
  KINEX_ASSIGN_OR_RETURN(std::string leaf, EncodeEvent(index, event));
  encoded_bytes_ += leaf.size();
  ++encoded_leaves_;
  const Hash h = HashLeaf(leaf);
  AddLeaf(h, last_micros_);
  return MakeNewEntry(index, h, std::move(leaf), event);
}

void BulkLogBuilder::AddLeaf(const Hash& hash, int64_t micros) {
  range_.Append(hash);
  if (block_.size() == 0) block_first_micros_ = micros;
  block_.Append(hash);
  last_leaf_micros_ = micros;
  if (options_.lean_level > kBlockEighthLevels) {
    eighth_.Append(hash);
    if (eighth_.size() == (uint64_t{1} << (options_.lean_level - kBlockEighthLevels))) {
      block_eighths_.push_back(eighth_.Root());
      eighth_ = CompactRange();
    }
  }
  if (block_.size() == (uint64_t{1} << options_.lean_level)) {
    // A full block's root is its subtree hash at lean_level; its eighths are
    // stored with it, as AuditLog::WriteCheckpoint stores them.
    const TreeBlock block{.hash = block_.Root(),
                          .first_micros = block_first_micros_,
                          .eighths = std::move(block_eighths_)};
    block_eighths_.clear();
    blocks_digest_ =
        ExtendBlocksDigest(blocks_digest_, blocks_stored_ + unstored_blocks_.size(), block);
    unstored_blocks_.push_back(block);
    block_ = CompactRange();
  }
}

absl::Status BulkLogBuilder::PutCheckpoint(LogStorage& storage, const v1::SignedTreeHead& head) {
  // As AuditLog::WriteCheckpoint writes it.
  v1::LogCheckpoint chains;
  chains_.ExportTo(chains);
  KINEX_ASSIGN_OR_RETURN(
      std::string sealed,
      SealCheckpointOf(
          {.tree_size = size(),
           .level = options_.lean_level,
           .blocks_digest = blocks_digest_,
           .partial_first_micros =
               block_.size() != 0 ? std::optional<int64_t>(block_first_micros_) : std::nullopt,
           .last_micros = last_leaf_micros_,
           .head = head},
          std::move(chains), *options_.signer));
  // Rows from blocks_stored_ on replace any the log stored meanwhile (the
  // same hashes: the builder read its leaves in CatchUp).
  KINEX_RETURN_IF_ERROR(storage.PutCheckpoint(blocks_stored_, unstored_blocks_, size(), sealed));
  blocks_stored_ += unstored_blocks_.size();
  unstored_blocks_.clear();
  return absl::OkStatus();
}

absl::Status BulkLogBuilder::GrowTo(LogStorage& storage, uint64_t target, const EventMaker& make,
                                    const std::function<void(uint64_t)>& progress) {
  KINEX_RETURN_IF_ERROR(CatchUp(storage));
  // The commit of the previous batch runs while the next is built.
  Committer committer(storage);
  bool committing = false;
  // The last batch's head: at the log's size once everything committed.
  std::optional<v1::SignedTreeHead> last_head;
  uint64_t committed_size = size();
  auto wait = [&]() -> absl::Status {
    if (!committing) return absl::OkStatus();
    committing = false;
    absl::Status s = committer.Wait();
    if (s.ok() && progress) progress(committed_size);
    return s;
  };
  absl::Status built;
  while (size() < target) {
    auto batch = std::make_shared<Batch>();
    const uint64_t n = std::min<uint64_t>(options_.batch_size, target - size());
    batch->entries.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      absl::StatusOr<NewEntry> entry = Build(make(size()));
      if (!entry.ok()) {
        built = entry.status();
        break;
      }
      batch->entries.push_back(*std::move(entry));
    }
    if (!built.ok()) break;
    absl::StatusOr<v1::SignedTreeHead> head =
        options_.signer->Sign(size(), range_.Root(), absl::FromUnixMicros(last_micros_));
    if (!head.ok()) {
      built = head.status();
      break;
    }
    batch->head = *std::move(head);
    KINEX_RETURN_IF_ERROR(wait());
    last_head = batch->head;
    committed_size = size();
    committer.Submit(std::move(batch));
    committing = true;
  }
  // Whatever was built, the commit in flight finishes before returning.
  absl::Status committed = wait();
  KINEX_RETURN_IF_ERROR(built);
  KINEX_RETURN_IF_ERROR(committed);
  if (!options_.checkpoints || !last_head.has_value()) return absl::OkStatus();
  return PutCheckpoint(storage, *last_head);
}

}  // namespace kinex::audit::bench
