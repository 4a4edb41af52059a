#include "services/audit/audit_log.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <openssl/rand.h>
#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/audit/checkpoint.h"
#include "services/audit/log_verifier.h"
#include "services/common/error_reason.h"
#include "services/common/identity.h"
#include "services/common/paging.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::AuditEvent;
using ::kinex::audit::v1::SignedTreeHead;
namespace nv1 = ::kinex::notifications::v1;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr uint64_t kMaxEntriesPerCall = 1000;

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

void SetMicros(int64_t micros, google::protobuf::Timestamp* t) {
  int64_t seconds = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    --seconds;
  }
  t->set_seconds(seconds);
  t->set_nanos(static_cast<int32_t>(rem * 1000));
}

// The fingerprint of a query's filters, bound into its page tokens so a
// token cannot be replayed with other filters.
std::string FilterFingerprint(const kinex::audit::v1::QueryEventsRequest& req) {
  kinex::audit::v1::QueryEventsRequest copy = req;
  copy.clear_page_token();
  copy.clear_page_size();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&out);
  }
  return HashToHex(Sha256(bytes)).substr(0, 16);
}

// A required option missing or out of range.
absl::Status BadOption(absl::string_view field, absl::string_view message) {
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kInvalidField,
                         {{"field", std::string(field)}});
}

// `status` with `reason`, the cause's own reason as metadata `cause`.
absl::Status Because(absl::Status status, absl::string_view reason, const absl::Status& cause) {
  return WithErrorReason(std::move(status), reason, {{"cause", ErrorReasonOf(cause)}});
}

// A copy of `status` that shares no storage with it: the message and every
// payload copied into new strings.
absl::Status UnsharedCopy(const absl::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status copy(status.code(), std::string(status.message()));
  status.ForEachPayload([&copy](absl::string_view type_url, const absl::Cord& payload) {
    copy.SetPayload(type_url, absl::Cord(std::string(payload)));
  });
  return copy;
}

// A stored row that does not match the verified tree.
absl::Status NotVerified(uint64_t leaf_index) {
  return WithErrorReason(
      absl::DataLossError(absl::StrCat("leaf index ", leaf_index,
                                       ": stored entry does not match the verified log")),
      reason::kAuditLogTampered, {{"leaf_index", absl::StrCat(leaf_index)}});
}

absl::Status TokenCorrupt() {
  return WithErrorReason(absl::InternalError("page_token: a token this log issued does not parse"),
                         reason::kPageTokenCorrupt, {{"field", "page_token"}});
}

// Access and break-glass review notifications are about a disclosure: who
// was disclosed to, for what, on which lawful bases, and whether it was
// break-glass are that disclosure's event's own fields. The stored row
// keeps none of them (at nine lawful-basis tuples they were most of an
// access notification's bytes) and every read takes them from the verified
// leaf, so what the recipient is told is what the log records.
bool TakesDisclosureFromLeaf(nv1::NotificationKind kind) {
  return kind == nv1::ACCESS || kind == nv1::BREAK_GLASS_REVIEW;
}

nv1::Accessor AccessorOf(const AuditEvent& event) {
  nv1::Accessor who;
  who.set_agency_kind(event.agency_kind());
  who.set_agency_code(event.agency_code());
  who.set_principal(event.principal());
  who.set_actor(event.actor());
  return who;
}

// The first of the disclosure's fields `n` sets to something other than
// `event`'s, else nullopt (a field `n` leaves unset agrees).
std::optional<absl::string_view> DisclosureFieldDiffering(const nv1::Notification& n,
                                                          const AuditEvent& event) {
  using google::protobuf::util::MessageDifferencer;
  if (n.has_accessor() && !MessageDifferencer::Equals(n.accessor(), AccessorOf(event))) {
    return "accessor";
  }
  if (n.purpose() != 0 && n.purpose() != event.purpose()) return "purpose";
  if (!n.lawful_bases().empty()) {
    if (n.lawful_bases_size() != event.lawful_bases_size()) return "lawful_bases";
    for (int i = 0; i < n.lawful_bases_size(); ++i) {
      if (!MessageDifferencer::Equals(n.lawful_bases(i), event.lawful_bases(i))) {
        return "lawful_bases";
      }
    }
  }
  if (n.break_glass() && !event.break_glass()) return "break_glass";
  return std::nullopt;
}

void SetDisclosureFields(const AuditEvent& event, nv1::Notification& n) {
  *n.mutable_accessor() = AccessorOf(event);
  n.set_purpose(event.purpose());
  *n.mutable_lawful_bases() = event.lawful_bases();
  n.set_break_glass(event.break_glass());
}

void ClearDisclosureFields(nv1::Notification& n) {
  n.clear_accessor();
  n.clear_purpose();
  n.clear_lawful_bases();
  n.clear_break_glass();
}

}  // namespace

AuditLog::AuditLog(Options options, TreeHeadKeyring keyring)
    : options_(std::move(options)), keyring_(std::move(keyring)) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(Options options) {
  if (options.storage == nullptr) {
    return BadOption("options.storage", "AuditLog: options.storage is required");
  }
  if (options.signer == nullptr) {
    return BadOption("options.signer", "AuditLog: options.signer is required");
  }
  if (options.pseudonymizer == nullptr) {
    return BadOption("options.pseudonymizer", "AuditLog: options.pseudonymizer is required");
  }
  if (options.clock == nullptr) {
    return BadOption("options.clock", "AuditLog: options.clock is required");
  }
  if (options.sign_interval <= absl::ZeroDuration()) {
    return BadOption("options.sign_interval", "AuditLog: options.sign_interval must be positive");
  }
  if (options.lean_level < 1 || options.lean_level > 30) {
    return BadOption("options.lean_level", absl::StrCat("AuditLog: options.lean_level must be 1-30 "
                                                        "(got ",
                                                        options.lean_level, ")"));
  }
  if (options.max_batch == 0) options.max_batch = 1;
  TreeHeadKeyring keyring;
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const TreeHeadVerifier> current,
                         TreeHeadVerifier::FromRawPublicKey(options.signer->raw_public_key()));
  keyring.Add(std::move(current), /*current=*/true);
  for (size_t i = 0; i < options.retired_keys.size(); ++i) {
    if (options.retired_keys[i] == nullptr) {
      return BadOption("options.retired_keys",
                       absl::StrCat("AuditLog: options.retired_keys[", i, "] is null"));
    }
    keyring.Add(options.retired_keys[i]);
  }
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options), std::move(keyring)));
  KINEX_RETURN_IF_ERROR(log->Recover());
  const StartInfo start = log->start_info();
  if (log->Size() > 0 && (start.checkpoint_size == 0 ||
                          log->Size() - start.checkpoint_size >=
                              std::max<uint64_t>(1, log->options_.checkpoint_interval))) {
    // The next start re-hashes only what comes after this. A store that
    // cannot take it now is retried by the signer thread.
    log->WriteCheckpoint().IgnoreError();
  }
  log->sequencer_ = std::thread([raw = log.get()] { raw->SequencerLoop(); });
  if (log->options_.start_signer_thread) {
    log->signer_ = std::thread([raw = log.get()] { raw->SignerLoop(); });
  }
  return log;
}

absl::Status AuditLog::CheckIndexChunk(uint64_t begin, const std::vector<AuditEvent>& events) {
  std::vector<std::vector<std::string>> rows(events.size());
  KINEX_RETURN_IF_ERROR(
      options_.storage->ReadChildIndex(begin, begin + events.size(), [&](const IndexRow& row) {
        rows[row.leaf_index - begin].push_back(row.pseudonym);
        return absl::OkStatus();
      }));
  for (size_t i = 0; i < events.size(); ++i) {
    KINEX_RETURN_IF_ERROR(CheckIndexRows(begin + i, events[i], rows[i]));
  }
  return absl::OkStatus();
}

namespace {

// A verified checkpoint and its block rows.
struct StartPoint {
  kinex::audit::v1::LogCheckpoint checkpoint;
  std::vector<Hash> block_hashes;
  std::vector<int64_t> block_first_micros;
  Hash digest{};
};

// The newest stored checkpoint, checked (checkpoint.h) except against the
// leaves: its signature, its level, its size against the store's, and its
// block rows against its digest. NOT_FOUND naming why when there is none
// usable; UNAVAILABLE when the store fails.
absl::StatusOr<StartPoint> LoadStartPoint(LogStorage& storage, const TreeHeadKeyring& keyring,
                                          int lean_level, uint64_t stored_size) {
  KINEX_ASSIGN_OR_RETURN(std::optional<std::string> sealed, storage.LatestCheckpoint());
  if (!sealed.has_value()) return absl::NotFoundError("no checkpoint is stored");
  const TreeHeadVerifier* current = nullptr;
  for (const TreeHeadKeyring::Key& k : keyring.keys()) {
    if (k.current) current = k.verifier.get();
  }
  if (current == nullptr) return absl::NotFoundError("no current signing key");
  absl::StatusOr<kinex::audit::v1::LogCheckpoint> checkpoint = OpenCheckpoint(*sealed, *current);
  if (!checkpoint.ok()) return absl::NotFoundError(checkpoint.status().message());
  StartPoint out;
  out.checkpoint = *std::move(checkpoint);
  const kinex::audit::v1::LogCheckpoint& cp = out.checkpoint;
  if (cp.level() != lean_level) {
    return absl::NotFoundError(absl::StrCat("the checkpoint's block level is ", cp.level(),
                                            ", the log's lean_level ", lean_level));
  }
  if (cp.tree_size() > stored_size) {
    return absl::NotFoundError(absl::StrCat("the checkpoint is at size ", cp.tree_size(),
                                            " but the store holds ", stored_size, " entries"));
  }
  const uint64_t blocks = cp.tree_size() >> cp.level();
  out.block_hashes.reserve(blocks);
  out.block_first_micros.reserve(blocks + 1);
  out.digest = EmptyBlocksDigest();
  KINEX_RETURN_IF_ERROR(
      storage.ReadTreeBlocks(0, blocks, [&](uint64_t index, const TreeBlock& block) {
        if (index != out.block_hashes.size()) {
          return absl::NotFoundError(
              absl::StrCat("tree block ", out.block_hashes.size(), " is missing from the store"));
        }
        out.digest = ExtendBlocksDigest(out.digest, index, block);
        out.block_hashes.push_back(block.hash);
        out.block_first_micros.push_back(block.first_micros);
        return absl::OkStatus();
      }));
  if (out.block_hashes.size() != blocks) {
    return absl::NotFoundError(absl::StrCat("the store holds ", out.block_hashes.size(),
                                            " tree blocks, the checkpoint names ", blocks));
  }
  if (HashToBytes(out.digest) != cp.blocks_digest()) {
    return absl::NotFoundError("the stored tree blocks do not match the checkpoint's digest");
  }
  if ((cp.tree_size() & ((uint64_t{1} << cp.level()) - 1)) != 0) {
    out.block_first_micros.push_back(cp.partial_first_micros());
  }
  return out;
}

}  // namespace

absl::Status AuditLog::Recover() {
  StartInfo info;
  if (!options_.full_verify_on_start) {
    KINEX_ASSIGN_OR_RETURN(const uint64_t stored_size, options_.storage->Size());
    absl::StatusOr<StartPoint> start =
        LoadStartPoint(*options_.storage, keyring_, options_.lean_level, stored_size);
    if (start.ok()) {
      const kinex::audit::v1::LogCheckpoint& cp = start->checkpoint;
      LogStorage* storage_ptr = options_.storage;
      LogRecomputer recomputer(
          MerkleTree::FromBlocks(options_.lean_level, start->block_hashes, RecentLeaves(),
                                 StoreLeafHashReader(storage_ptr), StoreEighthsReader(storage_ptr)),
          ChainTracker::ImportFrom(cp), cp.tree_size(), cp.last_micros());
      std::vector<SignedTreeHead> heads = {cp.head()};
      absl::Status s = ListHeadsAfter(cp.tree_size(), heads);
      if (s.ok()) s = Replay(recomputer, std::move(heads), /*full=*/false);
      if (s.ok()) {
        {
          absl::MutexLock tree_lock(&tree_mu_);
          block_first_micros_ = std::move(start->block_first_micros);
          last_micros_ = cp.last_micros();
          const std::vector<int64_t> times = recomputer.TakeTimes();
          for (size_t i = 0; i < times.size(); ++i) NoteTime(cp.tree_size() + i, times[i]);
          KINEX_RETURN_IF_ERROR(Finish(recomputer));
        }
        absl::MutexLock lock(&checkpoint_mu_);
        blocks_stored_ = start->block_hashes.size();
        blocks_digest_ = start->digest;
        checkpoint_size_ = cp.tree_size();
        start_info_ = {.checkpoint_size = cp.tree_size(),
                       .rehashed = stored_size - start->block_hashes.size() * block_size()};
        return absl::OkStatus();
      }
      if (s.code() == absl::StatusCode::kUnavailable) return s;
      // The whole log decides, and names what is wrong.
      info.fallback = absl::StrCat("the checkpoint at size ", cp.tree_size(),
                                   " did not match the log: ", s.message());
    } else {
      if (start.status().code() != absl::StatusCode::kNotFound) return start.status();
      info.fallback = std::string(start.status().message());
    }
  } else {
    info.fallback = "full verification on start was asked for";
  }
  LogRecomputer recomputer;
  KINEX_ASSIGN_OR_RETURN(std::vector<SignedTreeHead> heads, options_.storage->ListHeads());
  KINEX_RETURN_IF_ERROR(Replay(recomputer, std::move(heads), /*full=*/true));
  {
    absl::MutexLock tree_lock(&tree_mu_);
    block_first_micros_.clear();
    last_micros_ = 0;
    const std::vector<int64_t> times = recomputer.TakeTimes();
    for (size_t i = 0; i < times.size(); ++i) NoteTime(i, times[i]);
    KINEX_RETURN_IF_ERROR(Finish(recomputer));
    info.rehashed = tree_.size();
  }
  absl::MutexLock lock(&checkpoint_mu_);
  start_info_ = std::move(info);
  return absl::OkStatus();
}

uint64_t AuditLog::RecentLeaves() const {
  return std::max<uint64_t>(options_.recent_leaves, 2 * options_.max_batch);
}

LeafHashReader AuditLog::StoreLeafHashReader(LogStorage* storage) {
  return [storage](uint64_t begin, uint64_t end) { return storage->ReadLeafHashes(begin, end); };
}

BlockEighthsReader AuditLog::StoreEighthsReader(LogStorage* storage) {
  return [storage](uint64_t block) { return storage->ReadBlockEighths(block); };
}

absl::Status AuditLog::ListHeadsAfter(uint64_t size, std::vector<SignedTreeHead>& heads) {
  KINEX_ASSIGN_OR_RETURN(
      std::vector<SignedTreeHead> later,
      options_.storage->ListHeadsBetween(size, std::numeric_limits<uint64_t>::max()));
  for (SignedTreeHead& h : later) heads.push_back(std::move(h));
  return absl::OkStatus();
}

absl::Status AuditLog::Replay(LogRecomputer& recomputer, std::vector<SignedTreeHead> heads,
                              bool full) {
  LogStorage& storage = *options_.storage;
  // Keeps the cause's reason (AUDIT_LOG_TAMPERED, AUDIT_HEAD_...). From a
  // checkpoint, the caller falls back to the whole log instead.
  auto refuse = [full](const absl::Status& cause) {
    if (!full) return absl::DataLossError(cause.message());
    return CopyErrorReason(
        cause, absl::Status(cause.code(), absl::StrCat("audit log is corrupt; refusing to start: ",
                                                       cause.message())));
  };
  // Leaves in chunks; after each chunk, its query-index rows are compared
  // with the leaves just verified (one extra ordered scan of the index).
  KINEX_ASSIGN_OR_RETURN(const uint64_t stored_size, storage.Size());
  constexpr uint64_t kChunk = 4096;
  absl::Status s;
  std::vector<AuditEvent> events;
  for (uint64_t begin = recomputer.size(); begin < stored_size && s.ok(); begin += kChunk) {
    const uint64_t end = std::min(stored_size, begin + kChunk);
    events.clear();
    s = storage.ReadEntries(begin, end, [&](const StoredEntry& row) {
      AuditEvent event;
      KINEX_RETURN_IF_ERROR(recomputer.Add(row, &event));
      events.push_back(std::move(event));
      return absl::OkStatus();
    });
    if (s.ok()) s = CheckIndexChunk(begin, events);
  }
  if (s.code() == absl::StatusCode::kDataLoss) return refuse(s);
  KINEX_RETURN_IF_ERROR(s);
  SignedTreeHead latest;
  if (heads.empty()) {
    if (recomputer.size() > 0) {
      return refuse(WithErrorReason(
          absl::DataLossError(absl::StrCat("leaf index 0: ", recomputer.size(),
                                           " entries are stored but there is no signed tree head")),
          reason::kAuditLogTampered, {{"leaf_index", "0"}}));
    }
    KINEX_ASSIGN_OR_RETURN(latest, options_.signer->Sign(0, EmptyRoot(), options_.clock->Now()));
    KINEX_RETURN_IF_ERROR(storage.AddHead(latest));
  } else {
    s = recomputer.CheckHeads(heads, &keyring_);
    if (!s.ok()) {
      if (s.code() == absl::StatusCode::kDataLoss ||
          s.code() == absl::StatusCode::kFailedPrecondition) {
        return refuse(CopyErrorReason(s, absl::DataLossError(s.message())));
      }
      return s;
    }
    latest = heads.back();
    if (latest.tree_size() != recomputer.size()) {
      return refuse(WithErrorReason(
          absl::DataLossError(absl::StrCat(
              "leaf index ", latest.tree_size(), ": ", recomputer.size() - latest.tree_size(),
              " entries are stored after the latest signed tree head (size ", latest.tree_size(),
              ")")),
          reason::kAuditLogTampered, {{"leaf_index", absl::StrCat(latest.tree_size())}}));
    }
  }
  // Rows for leaves the log does not hold (checked after the heads, which
  // name a truncation better).
  s = storage.ReadChildIndex(
      recomputer.size(), std::numeric_limits<uint64_t>::max(), [&](const IndexRow& row) {
        return WithErrorReason(absl::DataLossError(absl::StrCat(
                                   "index: leaf ", row.leaf_index,
                                   ": child pseudonym row for a leaf the log does not hold")),
                               reason::kAuditIndexTampered,
                               {{"leaf_index", absl::StrCat(row.leaf_index)}});
      });
  if (s.code() == absl::StatusCode::kDataLoss) return refuse(s);
  KINEX_RETURN_IF_ERROR(s);
  absl::MutexLock lock(&tree_mu_);
  latest_head_ = std::move(latest);
  return absl::OkStatus();
}

absl::Status AuditLog::Finish(LogRecomputer& recomputer) {
  tree_ = recomputer.TakeTree();
  tree_.MakeLean(options_.lean_level, RecentLeaves(), StoreLeafHashReader(options_.storage),
                 StoreEighthsReader(options_.storage));
  KINEX_ASSIGN_OR_RETURN(range_, CompactRange::FromSource(tree_));
  chains_ = recomputer.TakeChains();
  return absl::OkStatus();
}

absl::Status AuditLog::WriteCheckpoint() {
  absl::MutexLock checkpoint_lock(&checkpoint_mu_);
  if (checkpoints_unsupported_) return absl::OkStatus();
  {
    absl::MutexLock commit_lock(&commit_mu_);
    if (broken_) return absl::OkStatus();
  }
  kinex::audit::v1::LogCheckpoint chains;
  CheckpointState state;
  std::vector<TreeBlock> blocks;
  const uint64_t first_block = blocks_stored_;
  {
    absl::ReaderMutexLock lock(&tree_mu_);
    const uint64_t n = tree_.size();
    // Heads are signed with every commit, so the latest is at the size
    // (else a commit is half done: the next call writes it).
    if (n == 0 || n == checkpoint_size_ || latest_head_.tree_size() != n) {
      return absl::OkStatus();
    }
    const int level = options_.lean_level;
    const uint64_t full_blocks = n >> level;
    blocks.reserve(full_blocks - first_block);
    for (uint64_t b = first_block; b < full_blocks; ++b) {
      KINEX_ASSIGN_OR_RETURN(Hash hash, tree_.FullSubtree(level, b));
      blocks.push_back(
          {.hash = hash, .first_micros = block_first_micros_[b], .eighths = tree_.KeptEighths(b)});
    }
    state.tree_size = n;
    state.level = level;
    if (full_blocks < block_first_micros_.size()) {
      state.partial_first_micros = block_first_micros_[full_blocks];
    }
    state.last_micros = last_micros_;
    state.head = latest_head_;
    chains_.ExportTo(chains);
  }
  Hash digest = blocks_digest_;
  for (size_t i = 0; i < blocks.size(); ++i) {
    digest = ExtendBlocksDigest(digest, first_block + i, blocks[i]);
  }
  state.blocks_digest = digest;
  KINEX_ASSIGN_OR_RETURN(std::string sealed,
                         SealCheckpointOf(state, std::move(chains), *options_.signer));
  const absl::Status put =
      options_.storage->PutCheckpoint(first_block, blocks, state.tree_size, sealed);
  if (put.code() == absl::StatusCode::kUnimplemented) {
    checkpoints_unsupported_ = true;
    // Nothing will store the eighths.
    absl::MutexLock tree_lock(&tree_mu_);
    tree_.ReleaseEighths(UINT64_MAX);
    return absl::OkStatus();
  }
  KINEX_RETURN_IF_ERROR(put);
  {
    absl::MutexLock tree_lock(&tree_mu_);
    tree_.ReleaseEighths(first_block + blocks.size());
  }
  blocks_stored_ = first_block + blocks.size();
  blocks_digest_ = digest;
  checkpoint_size_ = state.tree_size;
  return absl::OkStatus();
}

bool AuditLog::CheckpointDue() const {
  const uint64_t size = Size();
  absl::MutexLock lock(&checkpoint_mu_);
  return !checkpoints_unsupported_ && size >= checkpoint_size_ + options_.checkpoint_interval;
}

AuditLog::StartInfo AuditLog::start_info() const {
  absl::MutexLock lock(&checkpoint_mu_);
  return start_info_;
}

AuditLog::~AuditLog() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  if (sequencer_.joinable()) sequencer_.join();
  {
    absl::MutexLock lock(&signer_mu_);
    signer_stop_ = true;
  }
  if (signer_.joinable()) signer_.join();
  // A clean stop: the next start re-hashes nothing.
  if (Size() > 0) WriteCheckpoint().IgnoreError();
}

absl::Status AuditLog::Prepare(const AuditEvent& event, Pending& pending) {
  KINEX_RETURN_IF_ERROR(ValidateAppendEvent(event));
  pending.event = event;
  KINEX_RETURN_IF_ERROR(PseudonymizeChildren(*options_.pseudonymizer, pending.event));
  return PrepareNotifications(pending);
}

absl::StatusOr<AppendResult> AuditLog::ResultOf(Pending& pending) const {
  pending.done.WaitForNotification();
  for (Pending* p : pending.wake) p->done.Notify();
  pending.wake.clear();
  KINEX_RETURN_IF_ERROR(pending.status);
  AppendResult result;
  result.leaf_index = pending.leaf_index;
  result.leaf_hash = HashToBytes(pending.leaf_hash);
  result.signed_tree_head = std::move(pending.head);
  absl::ReaderMutexLock lock(&tree_mu_);
  KINEX_ASSIGN_OR_RETURN(
      std::vector<Hash> proof,
      InclusionProof(tree_, result.leaf_index, result.signed_tree_head.tree_size()));
  result.inclusion_proof.reserve(proof.size());
  for (const Hash& h : proof) result.inclusion_proof.push_back(HashToBytes(h));
  return result;
}

absl::StatusOr<AppendResult> AuditLog::Append(const AuditEvent& event) {
  std::vector<absl::StatusOr<AppendResult>> results = AppendAll(absl::MakeConstSpan(&event, 1));
  return std::move(results[0]);
}

std::vector<absl::StatusOr<AppendResult>> AuditLog::AppendAll(absl::Span<const AuditEvent> events) {
  std::vector<absl::StatusOr<AppendResult>> results(events.size(), absl::UnknownError(""));
  // Stable addresses: the sequencer holds pointers until each is done.
  std::vector<std::unique_ptr<Pending>> pendings(events.size());
  std::vector<Pending*> queued;
  queued.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    pendings[i] = std::make_unique<Pending>();
    absl::Status prepared = Prepare(events[i], *pendings[i]);
    if (!prepared.ok()) {
      results[i] = std::move(prepared);
      pendings[i].reset();
      continue;
    }
    queued.push_back(pendings[i].get());
  }
  {
    absl::MutexLock lock(&queue_mu_);
    if (stopping_) {
      for (size_t i = 0; i < events.size(); ++i) {
        if (pendings[i] == nullptr) continue;
        results[i] = WithErrorReason(absl::UnavailableError("audit log is shutting down"),
                                     reason::kAuditLogShuttingDown);
        pendings[i].reset();
      }
      return results;
    }
    for (Pending* p : queued) queue_.push_back(p);
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (pendings[i] != nullptr) results[i] = ResultOf(*pendings[i]);
  }
  return results;
}

void AuditLog::SequencerLoop() {
  std::vector<Pending*> batch;
  while (true) {
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(
          +[](AuditLog* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->queue_mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void AuditLog::NoteTime(uint64_t leaf_index, int64_t micros) {
  if (leaf_index % block_size() == 0) block_first_micros_.push_back(micros);
  last_micros_ = micros;
}

absl::StatusOr<uint64_t> AuditLog::FirstLeafAtOrAfter(int64_t micros) const {
  const uint64_t size = tree_.size();
  // The first block starting at or after `micros`; the boundary is at its
  // start or inside the block before it.
  const uint64_t next = static_cast<uint64_t>(
      std::lower_bound(block_first_micros_.begin(), block_first_micros_.end(), micros) -
      block_first_micros_.begin());
  if (next == 0) return 0;
  const uint64_t begin = (next - 1) * block_size();
  const uint64_t end = std::min(size, next * block_size());
  uint64_t found = end;
  KINEX_RETURN_IF_ERROR(options_.storage->ReadEntries(
      begin, end, [&](const StoredEntry& e) ABSL_SHARED_LOCKS_REQUIRED(tree_mu_) -> absl::Status {
        if (found != end) return absl::OkStatus();
        // Only what the verified tree committed to decides the range.
        KINEX_ASSIGN_OR_RETURN(Hash verified, tree_.LeafHash(e.leaf_index));
        if (HashLeaf(e.leaf_data) != verified) return NotVerified(e.leaf_index);
        KINEX_ASSIGN_OR_RETURN(DecodedLeaf decoded, DecodeEvent(e.leaf_data));
        if (MicrosOf(decoded.event.time()) >= micros) found = e.leaf_index;
        return absl::OkStatus();
      }));
  return found;
}

absl::Time AuditLog::NextHeadTime() const {
  // Never earlier than the previous head or the last event.
  int64_t micros = absl::ToUnixMicros(options_.clock->Now());
  micros = std::max(micros, MicrosOf(latest_head_.timestamp()));
  micros = std::max(micros, last_micros_);
  return absl::FromUnixMicros(micros);
}

absl::StatusOr<std::optional<std::pair<uint64_t, Hash>>> AuditLog::FindKey(const std::string& key) {
  KINEX_ASSIGN_OR_RETURN(std::optional<uint64_t> found,
                         options_.storage->LookupIdempotencyKey(key));
  if (!found.has_value()) return std::nullopt;
  const uint64_t index = *found;
  // The key table is a lookup aid: the answer is what the verified leaf says.
  std::optional<StoredEntry> stored;
  KINEX_RETURN_IF_ERROR(options_.storage->ReadEntries(index, index + 1, [&](const StoredEntry& e) {
    stored = e;
    return absl::OkStatus();
  }));
  Hash verified{};
  {
    absl::ReaderMutexLock lock(&tree_mu_);
    if (index < tree_.size()) {
      KINEX_ASSIGN_OR_RETURN(verified, tree_.LeafHash(index));
    }
  }
  auto bad = [&](absl::string_view why) {
    return WithErrorReason(absl::DataLossError(absl::StrCat("leaf index ", index,
                                                            ": the stored idempotency key names "
                                                            "this leaf but ",
                                                            why)),
                           reason::kAuditIndexTampered, {{"leaf_index", absl::StrCat(index)}});
  };
  if (!stored.has_value() || HashLeaf(stored->leaf_data) != verified) {
    return bad("the leaf is not in the verified log");
  }
  KINEX_ASSIGN_OR_RETURN(DecodedLeaf decoded, DecodeEvent(stored->leaf_data));
  if (decoded.event.idempotency_key() != key) return bad("it does not carry the key");
  return std::make_pair(index, verified);
}

void AuditLog::CommitBatch(std::vector<Pending*>& batch) {
  // Each waiter gets a status of its own: an absl::Status with a payload
  // shares a reference-counted representation between its copies, and the
  // last copy frees it on whichever thread lets go last (here, or in any
  // waiter of the batch).
  //
  // Waking a waiter is a system call (about a tenth of this thread's time
  // at 64 appenders): the sequencer wakes only the batch's first waiter,
  // which wakes the rest (ResultOf) while the next batch commits. The first
  // is never waiting on a later one: each caller queues its events in
  // order, together, and waits for them in that order.
  auto finish = [&](const absl::Status& status) {
    for (Pending* p : batch) {
      if (!status.ok() && !p->failed) p->status = status;
      p->status = UnsharedCopy(p->status);
    }
    Pending* first = batch.front();
    first->wake.assign(batch.begin() + 1, batch.end());
    first->done.Notify();  // the last touch of any Pending of the batch here
  };
  absl::MutexLock commit(&commit_mu_);
  if (broken_) {
    finish(WithErrorReason(
        absl::UnavailableError("audit log stopped accepting events after a storage failure; "
                               "restart it to recover"),
        reason::kAuditLogFailed));
    return;
  }
  // Idempotent repeats: an earlier event of this batch with the same key,
  // or a leaf already in the log, answers for the repeat.
  std::vector<Pending*> fresh;
  fresh.reserve(batch.size());
  {
    absl::flat_hash_map<std::string, Pending*> first_with_key;
    for (Pending* p : batch) {
      const std::string& key = p->event.idempotency_key();
      if (!key.empty()) {
        if (auto it = first_with_key.find(key); it != first_with_key.end()) {
          p->same_as = it->second;
          continue;
        }
        absl::StatusOr<std::optional<std::pair<uint64_t, Hash>>> found = FindKey(key);
        if (!found.ok()) {
          p->failed = true;
          p->status = found.status().code() == absl::StatusCode::kDataLoss
                          ? found.status()
                          : Because(absl::UnavailableError(absl::StrCat(
                                        "audit log could not look up the idempotency key: ",
                                        found.status().message())),
                                    reason::kAuditStorageUnavailable, found.status());
          continue;
        }
        if (found->has_value()) {
          p->existing = true;
          p->leaf_index = (*found)->first;
          p->leaf_hash = (*found)->second;
          continue;
        }
        first_with_key.emplace(key, p);
      }
      fresh.push_back(p);
    }
  }
  auto settle_repeats = [&](const SignedTreeHead& head) {
    for (Pending* p : batch) {
      if (p->failed) continue;
      p->head = head;
      if (p->same_as != nullptr) {
        p->leaf_index = p->same_as->leaf_index;
        p->leaf_hash = p->same_as->leaf_hash;
      }
    }
  };
  if (fresh.empty()) {
    SignedTreeHead head;
    {
      absl::ReaderMutexLock lock(&tree_mu_);
      head = latest_head_;
    }
    settle_repeats(head);
    finish(absl::OkStatus());
    return;
  }
  uint64_t base;
  CompactRange range;
  int64_t time_micros;
  ChainTracker batch_chains;  // this batch's events, not yet committed
  std::vector<NewEntry> entries;
  entries.reserve(fresh.size());
  {
    absl::ReaderMutexLock lock(&tree_mu_);
    base = tree_.size();
    range = range_;
    time_micros = absl::ToUnixMicros(NextHeadTime());
    for (size_t i = 0; i < fresh.size(); ++i) {
      Pending* p = fresh[i];
      SetMicros(time_micros, p->event.mutable_time());
      chains_.Link(p->event, &batch_chains);
      batch_chains.Record(base + i, p->event);
      absl::StatusOr<std::string> leaf = EncodeEvent(base + i, p->event);
      if (!leaf.ok()) {
        entries.clear();
        for (Pending* q : fresh) {
          q->failed = true;
          q->status =
              Because(absl::InternalError(absl::StrCat("audit log could not encode an event: ",
                                                       leaf.status().message())),
                      reason::kAuditEncodingFailed, leaf.status());
        }
        break;
      }
      p->leaf_index = base + i;
      p->leaf_hash = HashLeaf(*leaf);
      range.Append(p->leaf_hash);
      NewEntry entry = MakeNewEntry(base + i, p->leaf_hash, *std::move(leaf), p->event);
      for (size_t j = 0; j < p->notifications.size(); ++j) {
        StoredNotification row = p->notifications[j];
        row.key = {base + i, static_cast<uint32_t>(j)};
        row.created_us = time_micros;
        entry.notifications.push_back(std::move(row));
      }
      for (NotificationChange change : p->changes) {
        change.leaf_index = base + i;
        change.at_us = time_micros;
        entry.changes.push_back(std::move(change));
      }
      entries.push_back(std::move(entry));
    }
  }
  if (entries.empty()) {
    finish(WithErrorReason(absl::InternalError("audit log could not encode an event"),
                           reason::kAuditEncodingFailed));
    return;
  }
  absl::StatusOr<SignedTreeHead> head =
      options_.signer->Sign(base + fresh.size(), range.Root(), absl::FromUnixMicros(time_micros));
  if (!head.ok()) {
    finish(Because(
        absl::UnavailableError(absl::StrCat("audit log could not sign: ", head.status().message())),
        reason::kAuditSigningFailed, head.status()));
    return;
  }
  absl::Status s = options_.storage->Append(entries, &*head);
  if (!s.ok()) {
    // Fail closed. If the store's size moved, memory and storage disagree:
    // refuse everything until a restart recomputes the log.
    absl::StatusOr<uint64_t> size = options_.storage->Size();
    if (!size.ok() || *size != base) broken_ = true;
    finish(
        Because(absl::UnavailableError(absl::StrCat("audit log could not commit: ", s.message())),
                reason::kAuditStorageUnavailable, s));
    return;
  }
  {
    absl::MutexLock lock(&tree_mu_);
    for (const NewEntry& e : entries) tree_.Append(e.entry.leaf_hash);
    for (size_t i = 0; i < entries.size(); ++i) NoteTime(base + i, time_micros);
    for (size_t i = 0; i < fresh.size(); ++i) chains_.Record(base + i, fresh[i]->event);
    range_ = range;
    latest_head_ = *head;
  }
  settle_repeats(*head);
  finish(absl::OkStatus());
}

absl::StatusOr<bool> AuditLog::SignIfIdle() {
  absl::MutexLock commit(&commit_mu_);
  if (broken_) {
    return WithErrorReason(absl::UnavailableError("audit log is in a failed state"),
                           reason::kAuditLogFailed);
  }
  uint64_t size;
  Hash root;
  absl::Time when;
  {
    absl::ReaderMutexLock lock(&tree_mu_);
    const absl::Time now = options_.clock->Now();
    const absl::Time last = absl::FromUnixMicros(MicrosOf(latest_head_.timestamp()));
    if (now - last < options_.sign_interval) return false;
    size = tree_.size();
    root = range_.Root();
    when = NextHeadTime();
  }
  KINEX_ASSIGN_OR_RETURN(SignedTreeHead head, options_.signer->Sign(size, root, when));
  KINEX_RETURN_IF_ERROR(options_.storage->AddHead(head));
  absl::MutexLock lock(&tree_mu_);
  latest_head_ = std::move(head);
  return true;
}

void AuditLog::SignerLoop() {
  const absl::Duration poll = std::min(options_.sign_interval, absl::Seconds(1));
  absl::MutexLock lock(&signer_mu_);
  while (!signer_stop_) {
    signer_mu_.AwaitWithTimeout(absl::Condition(&signer_stop_), poll);
    if (signer_stop_) break;
    signer_mu_.Unlock();
    SignIfIdle().IgnoreError();   // retried next poll; appends still sign
    EscalateDue().IgnoreError();  // retried next poll
    if (options_.checkpoint_interval > 0 && CheckpointDue()) {
      WriteCheckpoint().IgnoreError();  // retried next poll
    }
    signer_mu_.Lock();
    if (options_.notification_retention > absl::ZeroDuration() && absl::Now() >= next_prune_) {
      next_prune_ = absl::Now() + absl::Hours(1);
      signer_mu_.Unlock();
      PruneNotifications().IgnoreError();  // retried next hour
      signer_mu_.Lock();
    }
  }
}

SignedTreeHead AuditLog::LatestHead() const {
  absl::ReaderMutexLock lock(&tree_mu_);
  return latest_head_;
}

absl::StatusOr<kinex::audit::v1::SigningKey> AuditLog::SigningKey() const {
  kinex::audit::v1::SigningKey key;
  KINEX_ASSIGN_OR_RETURN(*key.mutable_public_key_pem(), options_.signer->PublicKeyPem());
  key.set_key_id(options_.signer->key_id());
  for (const TreeHeadKeyring::Key& k : keyring_.keys()) {
    kinex::audit::v1::TreeHeadKey* out = key.add_keys();
    KINEX_ASSIGN_OR_RETURN(*out->mutable_public_key_pem(), k.verifier->PublicKeyPem());
    out->set_key_id(k.verifier->key_id());
    out->set_current(k.current);
  }
  return key;
}

uint64_t AuditLog::Size() const {
  absl::ReaderMutexLock lock(&tree_mu_);
  return tree_.size();
}

absl::StatusOr<kinex::audit::v1::QueryEventsResponse> AuditLog::QueryEventsAs(
    absl::string_view caller, const kinex::audit::v1::QueryEventsRequest& request) const {
  KINEX_ASSIGN_OR_RETURN(const int page_size_int,
                         paging::PageSize(request.page_size(), {.default_size = kDefaultPageSize,
                                                                .max_size = kMaxPageSize}));
  const size_t page_size = static_cast<size_t>(page_size_int);
  QueryFilter filter;
  if (request.has_child()) {
    absl::StatusOr<std::string> pseudonym = options_.pseudonymizer->Pseudonym(request.child());
    if (!pseudonym.ok()) {
      // The identifier's reason (INVALID_FIELD), naming the request's field.
      absl::Status s = CopyErrorReason(
          pseudonym.status(), WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                                                  "child: ", pseudonym.status().message())),
                                              reason::kInvalidField));
      AddErrorMetadata(s, "field", "child");
      return s;
    }
    filter.child_pseudonym = *std::move(pseudonym);
  }
  filter.agency_kind = request.agency_kind();
  filter.agency_code = request.agency_code();
  filter.actor = request.actor();
  filter.purpose = request.purpose();
  filter.decision = request.decision();
  filter.break_glass_only = request.break_glass_only();
  for (int kind : request.kinds()) {
    if (!kinex::audit::v1::EventKind_IsValid(kind)) {
      return WithErrorReason(
          absl::InvalidArgumentError(absl::StrCat("kinds: unknown event kind ", kind)),
          reason::kInvalidField, {{"field", "kinds"}});
    }
    filter.kinds.push_back(kind);
  }
  const bool timeless = !request.has_start_time() && !request.has_end_time();

  kinex::audit::v1::QueryEventsResponse response;
  const std::string fingerprint = FilterFingerprint(request);
  int64_t chain_head = -1;
  const paging::TokenScope scope{.rpc = "QueryEvents", .caller = caller, .filter = fingerprint};
  KINEX_ASSIGN_OR_RETURN(const std::string position,
                         paging::PageTokens::Process().Open(request.page_token(), scope));
  if (!position.empty()) {
    // begin:end[:chain_head], as issued below.
    const std::vector<std::string> parts = absl::StrSplit(position, ':');
    if ((parts.size() != 2 && parts.size() != 3) ||
        !absl::SimpleAtoi(parts[0], &filter.begin_index) ||
        !absl::SimpleAtoi(parts[1], &filter.end_index) ||
        (parts.size() == 3 && !absl::SimpleAtoi(parts[2], &chain_head))) {
      return TokenCorrupt();
    }
  } else {
    absl::ReaderMutexLock lock(&tree_mu_);
    filter.begin_index = 0;
    filter.end_index = tree_.size();
    // The newest leaf of the child in the tree this query reads, from the
    // verified leaves (never from the query index).
    if (filter.child_pseudonym.has_value()) {
      chain_head = chains_.LastOfChild(*filter.child_pseudonym);
    }
    // Times never decrease along the log, so a time range is an index range.
    if (request.has_start_time()) {
      KINEX_ASSIGN_OR_RETURN(filter.begin_index,
                             FirstLeafAtOrAfter(MicrosOf(request.start_time())));
    }
    if (request.has_end_time()) {
      KINEX_ASSIGN_OR_RETURN(filter.end_index, FirstLeafAtOrAfter(MicrosOf(request.end_time())));
    }
  }
  if (filter.child_pseudonym.has_value()) {
    response.set_child_pseudonym(*filter.child_pseudonym);
    response.set_child_chain_head(timeless ? chain_head : -1);
  }
  if (filter.begin_index >= filter.end_index) return response;
  KINEX_ASSIGN_OR_RETURN(std::vector<StoredEntry> rows,
                         options_.storage->Query(filter, page_size + 1));
  std::optional<uint64_t> resume;
  size_t bytes = 0;
  absl::ReaderMutexLock lock(&tree_mu_);
  for (size_t i = 0; i < rows.size(); ++i) {
    const StoredEntry& row = rows[i];
    if (i == page_size) {
      resume = row.leaf_index;
      break;
    }
    // Serve only what the verified tree committed to: a row altered in the
    // store since start-up is an error, never an answer.
    // An evicted leaf hash comes back from the store checked against its
    // block's hash in memory (DATA_LOSS naming the block otherwise).
    absl::StatusOr<Hash> verified = row.leaf_index < tree_.size() ? tree_.LeafHash(row.leaf_index)
                                                                  : absl::StatusOr<Hash>(Hash{});
    if (!verified.ok()) return verified.status();
    if (row.leaf_index >= tree_.size() || HashLeaf(row.leaf_data) != *verified) {
      return NotVerified(row.leaf_index);
    }
    absl::StatusOr<DecodedLeaf> decoded = DecodeEvent(row.leaf_data);
    if (!decoded.ok()) return decoded.status();
    // Re-check the filter on the committed event itself: the store's index
    // columns are a speed-up, never the authority on what matches.
    if (!MatchesFilter(filter, row.leaf_index, decoded->event)) continue;
    kinex::audit::v1::LogEntry entry;
    entry.set_leaf_index(row.leaf_index);
    entry.set_leaf_hash(HashToBytes(row.leaf_hash));
    entry.set_leaf_data(row.leaf_data);
    *entry.mutable_event() = std::move(decoded->event);
    const size_t size = entry.ByteSizeLong();
    if (response.entries_size() > 0 && bytes + size > kMaxResponseBytes) {
      resume = row.leaf_index;
      break;
    }
    bytes += size;
    *response.add_entries() = std::move(entry);
  }
  if (resume.has_value()) {
    std::string resume_at = absl::StrCat(*resume, ":", filter.end_index);
    if (filter.child_pseudonym.has_value()) absl::StrAppend(&resume_at, ":", chain_head);
    response.set_next_page_token(paging::PageTokens::Process().Issue(scope, resume_at));
  }
  return response;
}

namespace {

std::string QueryValue(absl::string_view v) {
  const bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  return plain ? std::string(v) : absl::StrCat("\"", absl::CHexEscape(v), "\"");
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  return absl::FormatTime(absl::RFC3339_full,
                          absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()),
                          absl::UTCTimeZone());
}

std::string RandomRequestId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::StrCat("audit-query-", absl::ToUnixNanos(absl::Now()));
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

std::string AuditLog::CanonicalQueryText(const kinex::audit::v1::QueryEventsRequest& request,
                                         absl::string_view child_pseudonym) {
  std::vector<std::string> parts;
  if (request.has_child()) {
    parts.push_back(absl::StrCat("child=", QueryValue(child_pseudonym)));
  }
  if (request.agency_kind() != 0) {
    parts.push_back(
        absl::StrCat("agency_kind=", kinex::common::v1::AgencyKind_Name(request.agency_kind())));
  }
  if (!request.agency_code().empty()) {
    parts.push_back(absl::StrCat("agency_code=", QueryValue(request.agency_code())));
  }
  if (!request.actor().empty()) {
    parts.push_back(absl::StrCat("actor=", QueryValue(request.actor())));
  }
  if (request.purpose() != 0) {
    parts.push_back(absl::StrCat("purpose=", kinex::common::v1::Purpose_Name(request.purpose())));
  }
  if (request.decision() != 0) {
    parts.push_back(absl::StrCat("decision=", kinex::audit::v1::Decision_Name(request.decision())));
  }
  if (request.break_glass_only()) parts.push_back("break_glass_only=true");
  if (request.has_start_time()) {
    parts.push_back(absl::StrCat("start_time=", TimeText(request.start_time())));
  }
  if (request.has_end_time()) {
    parts.push_back(absl::StrCat("end_time=", TimeText(request.end_time())));
  }
  if (request.kinds_size() > 0) {
    std::vector<std::string> kinds;
    for (int k : request.kinds()) {
      const std::string& name =
          kinex::audit::v1::EventKind_Name(static_cast<kinex::audit::v1::EventKind>(k));
      kinds.push_back(name.empty() ? absl::StrCat(k) : name);
    }
    parts.push_back(absl::StrCat("kinds=", absl::StrJoin(kinds, ",")));
  }
  if (!request.page_token().empty()) {
    parts.push_back(absl::StrCat("page_token=", QueryValue(request.page_token())));
  }
  std::string text = parts.empty() ? "all" : absl::StrJoin(parts, " ");
  if (text.size() > kMaxStringBytes) {
    text.resize(kMaxStringBytes - 3);
    text += "...";
  }
  return text;
}

absl::Status AuditLog::RecordQuery(const QueryCaller& caller, absl::string_view method,
                                   std::string query, int64_t result_count) {
  AuditEvent event;
  event.set_kind(kinex::audit::v1::AUDIT_QUERIED);
  event.set_request_id(caller.request_id.empty() ? RandomRequestId() : caller.request_id);
  event.set_principal(caller.principal);
  event.set_agency_kind(caller.agency_kind);
  event.set_agency_code(caller.agency_code);
  event.set_actor(caller.actor);
  event.set_method(std::string(method));
  event.set_query(std::move(query));
  event.set_result_count(result_count);
  absl::StatusOr<AppendResult> appended = Append(event);
  if (!appended.ok()) {
    return Because(absl::UnavailableError(absl::StrCat(
                       "audit log could not record this query, so it returns nothing: ",
                       appended.status().message())),
                   reason::kAuditQueryNotRecorded, appended.status());
  }
  return absl::OkStatus();
}

absl::StatusOr<kinex::audit::v1::QueryEventsResponse> AuditLog::AuditedQueryEvents(
    const QueryCaller& caller, const kinex::audit::v1::QueryEventsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(kinex::audit::v1::QueryEventsResponse response,
                         QueryEventsAs(caller.principal, request));
  KINEX_RETURN_IF_ERROR(RecordQuery(caller, "QueryEvents",
                                    CanonicalQueryText(request, response.child_pseudonym()),
                                    response.entries_size()));
  return response;
}

absl::StatusOr<kinex::audit::v1::GetEntriesResponse> AuditLog::AuditedGetEntries(
    const QueryCaller& caller, const kinex::audit::v1::GetEntriesRequest& request) {
  KINEX_ASSIGN_OR_RETURN(kinex::audit::v1::GetEntriesResponse response, GetEntries(request));
  KINEX_RETURN_IF_ERROR(RecordQuery(caller, "GetEntries",
                                    absl::StrCat("entries start_index=", request.start_index(),
                                                 " end_index=", request.end_index()),
                                    response.entries_size()));
  return response;
}

absl::StatusOr<kinex::audit::v1::GetEntriesResponse> AuditLog::GetEntries(
    const kinex::audit::v1::GetEntriesRequest& request) const {
  const uint64_t size = Size();
  if (request.end_index() <= request.start_index()) {
    return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                               "end_index ", request.end_index(),
                               " must be greater than start_index ", request.start_index())),
                           reason::kInvalidField, {{"field", "end_index"}});
  }
  if (request.start_index() >= size) {
    return WithErrorReason(
        absl::InvalidArgumentError(absl::StrCat("start_index ", request.start_index(),
                                                " is not below the log size ", size)),
        reason::kInvalidField, {{"field", "start_index"}});
  }
  const uint64_t end =
      std::min({request.end_index(), request.start_index() + kMaxEntriesPerCall, size});
  kinex::audit::v1::GetEntriesResponse response;
  size_t bytes = 0;
  bool full = false;
  absl::Status read =
      options_.storage->ReadEntries(request.start_index(), end, [&](const StoredEntry& row) {
        kinex::audit::v1::LogEntry entry;
        entry.set_leaf_index(row.leaf_index);
        entry.set_leaf_hash(HashToBytes(row.leaf_hash));
        entry.set_leaf_data(row.leaf_data);
        // Returned as stored, even when it no longer decodes: verifiers must
        // see what is there to name what is wrong.
        absl::StatusOr<DecodedLeaf> decoded = DecodeEvent(row.leaf_data);
        if (decoded.ok()) *entry.mutable_event() = std::move(decoded->event);
        size_t entry_bytes = entry.ByteSizeLong();
        // The index rows (with include_index) mirror the pseudonyms.
        if (request.include_index()) entry_bytes += entry.event().child_pseudonyms_size() * 70;
        if (response.entries_size() > 0 && bytes + entry_bytes > kMaxResponseBytes) {
          full = true;
          return absl::CancelledError("page full");
        }
        bytes += entry_bytes;
        *response.add_entries() = std::move(entry);
        return absl::OkStatus();
      });
  if (!read.ok() && !(full && read.code() == absl::StatusCode::kCancelled)) return read;
  if (request.include_index() && response.entries_size() > 0) {
    const uint64_t first = response.entries(0).leaf_index();
    const uint64_t last = response.entries(response.entries_size() - 1).leaf_index();
    absl::flat_hash_map<uint64_t, int> position;
    for (int i = 0; i < response.entries_size(); ++i) {
      position[response.entries(i).leaf_index()] = i;
    }
    KINEX_RETURN_IF_ERROR(
        options_.storage->ReadChildIndex(first, last + 1, [&](const IndexRow& row) {
          auto it = position.find(row.leaf_index);
          if (it != position.end()) {
            response.mutable_entries(it->second)->add_indexed_pseudonyms(row.pseudonym);
          }
          return absl::OkStatus();
        }));
  }
  if (request.include_heads() && response.entries_size() > 0) {
    // One head per distinct size in this page: at most one per entry, so
    // the page stays bounded (idle heads re-sign the same size).
    const uint64_t last = response.entries(response.entries_size() - 1).leaf_index();
    KINEX_ASSIGN_OR_RETURN(std::vector<kinex::audit::v1::SignedTreeHead> heads,
                           options_.storage->ListHeadsBetween(request.start_index(),
                                                              std::min<uint64_t>(last + 1, end)));
    std::stable_sort(heads.begin(), heads.end(),
                     [](const auto& a, const auto& b) { return a.tree_size() < b.tree_size(); });
    for (auto& head : heads) {
      if (response.heads_size() > 0 &&
          response.heads(response.heads_size() - 1).tree_size() == head.tree_size()) {
        continue;
      }
      *response.add_heads() = std::move(head);
    }
  }
  return response;
}

absl::StatusOr<kinex::audit::v1::GetInclusionProofResponse> AuditLog::GetInclusionProof(
    const kinex::audit::v1::GetInclusionProofRequest& request) const {
  absl::ReaderMutexLock lock(&tree_mu_);
  const uint64_t tree_size =
      request.tree_size() == 0 ? latest_head_.tree_size() : request.tree_size();
  KINEX_ASSIGN_OR_RETURN(std::vector<Hash> proof,
                         InclusionProof(tree_, request.leaf_index(), tree_size));
  kinex::audit::v1::GetInclusionProofResponse response;
  response.set_leaf_index(request.leaf_index());
  response.set_tree_size(tree_size);
  KINEX_ASSIGN_OR_RETURN(Hash leaf_hash, tree_.LeafHash(request.leaf_index()));
  response.set_leaf_hash(HashToBytes(leaf_hash));
  for (const Hash& h : proof) response.add_hashes(HashToBytes(h));
  return response;
}

absl::StatusOr<kinex::audit::v1::GetConsistencyProofResponse> AuditLog::GetConsistencyProof(
    const kinex::audit::v1::GetConsistencyProofRequest& request) const {
  if (request.first_tree_size() == 0) {
    return WithErrorReason(absl::InvalidArgumentError("first_tree_size must be at least 1"),
                           reason::kInvalidField, {{"field", "first_tree_size"}});
  }
  absl::ReaderMutexLock lock(&tree_mu_);
  KINEX_ASSIGN_OR_RETURN(std::vector<Hash> proof, ConsistencyProof(tree_, request.first_tree_size(),
                                                                   request.second_tree_size()));
  kinex::audit::v1::GetConsistencyProofResponse response;
  response.set_first_tree_size(request.first_tree_size());
  response.set_second_tree_size(request.second_tree_size());
  for (const Hash& h : proof) response.add_hashes(HashToBytes(h));
  return response;
}

bool AuditLog::RecordsChild(const AuditEvent& event, const std::string& kinex_id) const {
  kinex::common::v1::ChildRef child;
  child.set_kinex_id(kinex_id);
  absl::StatusOr<std::string> pseudonym = options_.pseudonymizer->Pseudonym(child);
  return pseudonym.ok() &&
         std::find(event.child_pseudonyms().begin(), event.child_pseudonyms().end(), *pseudonym) !=
             event.child_pseudonyms().end();
}

absl::Status AuditLog::PrepareNotifications(Pending& pending) {
  AuditEvent& event = pending.event;
  for (int i = 0; i < event.notify_size(); ++i) {
    kinex::audit::v1::NotifyIntent& intent = *event.mutable_notify(i);
    nv1::Notification& n = *intent.mutable_notification();
    // The leaf must bind the child a notification names.
    if (!RecordsChild(event, n.kinex_id())) {
      return BadOption(absl::StrCat("event.notify[", i, "].notification.kinex_id"),
                       absl::StrCat("event.notify[", i,
                                    "].notification.kinex_id: not one of the event's children "
                                    "(a notification names a child its leaf records)"));
    }
    if (TakesDisclosureFromLeaf(n.kind())) {
      if (std::optional<absl::string_view> differs = DisclosureFieldDiffering(n, event)) {
        const std::string field = absl::StrCat("event.notify[", i, "].notification.", *differs);
        return BadOption(field, absl::StrCat(field,
                                             ": differs from the event's (an access or "
                                             "break-glass review notification says what its "
                                             "leaf records)"));
      }
      ClearDisclosureFields(n);
    }
    n.set_request_id(event.request_id());
    StoredNotification row;
    row.recipient_kind = intent.recipient_kind();
    row.recipient_code = intent.recipient_code();
    row.kind = n.kind();
    row.deadline_us = n.has_deadline() ? MicrosOf(n.deadline()) : 0;
    row.state = nv1::PENDING;
    if (!intent.SerializeToString(&row.payload)) {
      return WithErrorReason(absl::InternalError("a notification does not serialize"),
                             reason::kAuditEncodingFailed);
    }
    kinex::audit::v1::Notified* notified = event.add_notified();
    notified->set_recipient_kind(intent.recipient_kind());
    notified->set_recipient_code(intent.recipient_code());
    notified->set_kind(n.kind());
    pending.notifications.push_back(std::move(row));
  }
  event.clear_notify();

  NotificationChange::Type type;
  switch (event.kind()) {
    case kinex::audit::v1::NOTIFICATION_DELIVERED:
      type = NotificationChange::Type::kDelivered;
      break;
    case kinex::audit::v1::NOTIFICATION_ACKNOWLEDGED:
      type = NotificationChange::Type::kAcknowledged;
      break;
    case kinex::audit::v1::BREAK_GLASS_REVIEWED:
      type = NotificationChange::Type::kReviewed;
      break;
    case kinex::audit::v1::NOTIFICATION_ESCALATED:
      type = NotificationChange::Type::kEscalated;
      break;
    default:
      return absl::OkStatus();
  }
  NotificationQuery query;
  for (const std::string& id : event.notification_ids()) {
    KINEX_ASSIGN_OR_RETURN(NotificationKey key, ParseNotificationId(id));  // validated
    query.keys.push_back(key);
  }
  const uint64_t visible = Size();
  absl::StatusOr<std::vector<StoredNotification>> rows =
      options_.storage->ReadNotifications(query, query.keys.size());
  if (!rows.ok()) {
    return Because(absl::UnavailableError(absl::StrCat("audit log could not read notifications: ",
                                                       rows.status().message())),
                   reason::kAuditStorageUnavailable, rows.status());
  }
  size_t next = 0;
  for (const NotificationKey& key : query.keys) {
    const std::string id = NotificationId(key);
    auto not_addressed = [&](absl::string_view why) {
      return WithErrorReason(absl::FailedPreconditionError(absl::StrCat(
                                 "event.notification_ids: notification ", id, " ", why)),
                             reason::kNotificationNotFound, {{"notification_id", id}});
    };
    if (next >= rows->size() || !((*rows)[next].key == key) || key.leaf_index >= visible) {
      return not_addressed("does not exist");
    }
    const StoredNotification& row = (*rows)[next++];
    // Only what the verified leaf says decides who the row belongs to.
    KINEX_ASSIGN_OR_RETURN(nv1::Notification n, VerifiedNotification(row));
    if (type == NotificationChange::Type::kEscalated) {
      if (n.kind() != nv1::ENCOMPASS) return not_addressed("is not an Operation Encompass one");
    } else if (n.recipient_kind() != event.agency_kind() ||
               n.recipient_code() != event.agency_code()) {
      return not_addressed("is not addressed to the event's agency");
    }
    if (type == NotificationChange::Type::kReviewed && n.kind() != nv1::BREAK_GLASS_REVIEW) {
      return WithErrorReason(
          absl::FailedPreconditionError(absl::StrCat("event.notification_ids: notification ", id,
                                                     " is not a break-glass review")),
          reason::kNotificationStateConflict, {{"notification_id", id}});
    }
    NotificationChange change;
    change.key = key;
    change.type = type;
    change.by = event.actor();
    change.review_outcome = event.review_outcome();
    change.note = event.justification();
    pending.changes.push_back(std::move(change));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const AuditEvent>> AuditLog::VerifiedLeaf(
    uint64_t leaf_index) const {
  {
    absl::MutexLock lock(&leaf_cache_mu_);
    if (auto it = leaf_cache_.find(leaf_index); it != leaf_cache_.end()) return it->second;
  }
  std::optional<StoredEntry> stored;
  KINEX_RETURN_IF_ERROR(
      options_.storage->ReadEntries(leaf_index, leaf_index + 1, [&](const StoredEntry& e) {
        stored = e;
        return absl::OkStatus();
      }));
  Hash verified{};
  {
    absl::ReaderMutexLock lock(&tree_mu_);
    if (leaf_index >= tree_.size()) {
      return WithErrorReason(absl::DataLossError(absl::StrCat(
                                 "leaf index ", leaf_index, ": no such leaf in the verified log")),
                             reason::kAuditIndexTampered,
                             {{"leaf_index", absl::StrCat(leaf_index)}});
    }
    KINEX_ASSIGN_OR_RETURN(verified, tree_.LeafHash(leaf_index));
  }
  if (!stored.has_value() || HashLeaf(stored->leaf_data) != verified) {
    return NotVerified(leaf_index);
  }
  KINEX_ASSIGN_OR_RETURN(DecodedLeaf decoded, DecodeEvent(stored->leaf_data));
  auto event = std::make_shared<const AuditEvent>(std::move(decoded.event));
  absl::MutexLock lock(&leaf_cache_mu_);
  if (leaf_cache_.emplace(leaf_index, event).second) {
    leaf_cache_order_.push_back(leaf_index);
    if (leaf_cache_order_.size() > kLeafCacheSize) {
      leaf_cache_.erase(leaf_cache_order_.front());
      leaf_cache_order_.pop_front();
    }
  }
  return event;
}

absl::StatusOr<nv1::Notification> AuditLog::VerifiedNotification(
    const StoredNotification& row) const {
  const std::string id = NotificationId(row.key);
  auto tampered = [&](absl::string_view why) {
    return WithErrorReason(absl::DataLossError(absl::StrCat("notification ", id, " (leaf index ",
                                                            row.key.leaf_index, "): ", why)),
                           reason::kAuditIndexTampered,
                           {{"leaf_index", absl::StrCat(row.key.leaf_index)}});
  };
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const AuditEvent> verified_leaf,
                         VerifiedLeaf(row.key.leaf_index));
  const AuditEvent& leaf = *verified_leaf;
  if (row.key.ordinal >= static_cast<uint32_t>(leaf.notified_size())) {
    return tampered("the leaf created no such notification");
  }
  const kinex::audit::v1::Notified& notified = leaf.notified(static_cast<int>(row.key.ordinal));
  kinex::audit::v1::NotifyIntent intent;
  if (!intent.ParseFromString(row.payload)) return tampered("the stored content does not parse");
  nv1::Notification n = intent.notification();
  if (notified.recipient_kind() != row.recipient_kind ||
      notified.recipient_code() != row.recipient_code || notified.kind() != row.kind ||
      intent.recipient_kind() != row.recipient_kind ||
      intent.recipient_code() != row.recipient_code || n.kind() != row.kind) {
    return tampered("recipient or kind differ from the leaf's");
  }
  if (!RecordsChild(leaf, n.kinex_id()) || n.request_id() != leaf.request_id() ||
      row.created_us != MicrosOf(leaf.time())) {
    return tampered("child, request or time differ from the leaf's");
  }
  if (TakesDisclosureFromLeaf(n.kind())) {
    // Rows stored before these were taken from the leaf hold them too.
    if (DisclosureFieldDiffering(n, leaf).has_value()) {
      return tampered("accessor, purpose, lawful bases or break-glass differ from the leaf's");
    }
    SetDisclosureFields(leaf, n);
  }
  n.set_notification_id(id);
  n.set_cause_leaf_index(row.key.leaf_index);
  SetMicros(row.created_us, n.mutable_create_time());
  n.set_recipient_kind(static_cast<kinex::common::v1::AgencyKind>(row.recipient_kind));
  n.set_recipient_code(row.recipient_code);
  n.set_state(row.acked_us != 0       ? nv1::ACKNOWLEDGED
              : row.delivered_us != 0 ? nv1::DELIVERED
                                      : nv1::PENDING);
  if (row.delivered_us != 0) SetMicros(row.delivered_us, n.mutable_deliver_time());
  if (row.acked_us != 0) {
    SetMicros(row.acked_us, n.mutable_ack_time());
    n.set_acked_by(row.acked_by);
  }
  n.set_review_outcome(static_cast<nv1::ReviewOutcome>(row.review_outcome));
  n.set_review_note(row.review_note);
  n.set_escalated(row.escalated_leaf >= 0);
  return n;
}

absl::StatusOr<kinex::audit::v1::ReadNotificationsResponse> AuditLog::ReadNotifications(
    const kinex::audit::v1::ReadNotificationsRequest& request) {
  kinex::audit::v1::ReadNotificationsResponse out;
  out.set_log_size(Size());
  if (request.size_only()) return out;
  NotificationQuery query;
  if (request.recipient_kind() != kinex::common::v1::AGENCY_KIND_UNSPECIFIED ||
      !request.recipient_code().empty()) {
    if (request.recipient_kind() == kinex::common::v1::AGENCY_KIND_UNSPECIFIED ||
        request.recipient_code().empty()) {
      return BadOption("recipient_kind", "recipient_kind and recipient_code: set both or neither");
    }
    query.recipient_kind = request.recipient_kind();
    query.recipient_code = request.recipient_code();
  }
  if (!request.after().empty()) {
    absl::StatusOr<NotificationKey> after = ParseNotificationId(request.after());
    if (!after.ok()) return BadOption("after", absl::StrCat("after: ", after.status().message()));
    query.after = *after;
  }
  if (request.ids_size() > 1000) return BadOption("ids", "ids: at most 1000");
  for (const std::string& id : request.ids()) {
    absl::StatusOr<NotificationKey> key = ParseNotificationId(id);
    if (!key.ok()) return BadOption("ids", absl::StrCat("ids: ", key.status().message()));
    query.keys.push_back(*key);
  }
  std::sort(query.keys.begin(), query.keys.end());
  query.keys.erase(std::unique(query.keys.begin(), query.keys.end()), query.keys.end());
  query.unacknowledged_only = request.unacknowledged_only();
  for (int kind : request.kinds()) {
    if (kind == 0 || !nv1::NotificationKind_IsValid(kind)) {
      return BadOption("kinds", absl::StrCat("kinds: unknown notification kind ", kind));
    }
    query.kinds.push_back(kind);
  }
  if (request.limit() < 0 || request.limit() > 1000) {
    return BadOption("limit", absl::StrCat("limit must be 0-1000 (got ", request.limit(), ")"));
  }
  const size_t limit = request.limit() == 0 ? 100 : static_cast<size_t>(request.limit());
  absl::StatusOr<std::vector<StoredNotification>> rows =
      options_.storage->ReadNotifications(query, limit);
  if (!rows.ok()) return rows.status();
  for (const StoredNotification& row : *rows) {
    // A row of a leaf committed after the read began but not yet in the
    // verified tree is not visible yet (the next read returns it); rows
    // come in key order, so the rest are not either.
    if (row.key.leaf_index >= out.log_size()) break;
    KINEX_ASSIGN_OR_RETURN(*out.add_notifications(), VerifiedNotification(row));
  }
  return out;
}

absl::StatusOr<int> AuditLog::EscalateDue() {
  NotificationQuery query;
  query.due_at_us = absl::ToUnixMicros(options_.clock->Now());
  const uint64_t visible = Size();
  KINEX_ASSIGN_OR_RETURN(std::vector<StoredNotification> due,
                         options_.storage->ReadNotifications(query, 100));
  int escalated = 0;
  for (const StoredNotification& row : due) {
    if (row.key.leaf_index >= visible) continue;  // not in the verified tree yet
    KINEX_ASSIGN_OR_RETURN(nv1::Notification missed, VerifiedNotification(row));
    kinex::audit::v1::NotifyIntent intent;
    intent.ParseFromString(row.payload);  // parsed by VerifiedNotification
    const std::string id = missed.notification_id();
    AuditEvent event;
    event.set_kind(kinex::audit::v1::NOTIFICATION_ESCALATED);
    event.set_request_id(absl::StrCat("escalate-", id));
    event.set_principal(options_.service_principal);
    event.set_method("EscalateDue");
    event.set_idempotency_key(absl::StrCat("escalate/", id));
    event.add_notification_ids(id);
    event.add_children()->set_kinex_id(missed.kinex_id());
    for (const std::string& to : intent.escalate_to()) {
      const std::vector<absl::string_view> parts = absl::StrSplit(to, absl::MaxSplits('/', 1));
      const kinex::common::v1::AgencyKind kind = parts.size() == 2
                                                     ? AgencyKindFromSlug(parts[0])
                                                     : kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
      if (kind == kinex::common::v1::AGENCY_KIND_UNSPECIFIED || parts[1].empty()) continue;
      kinex::audit::v1::NotifyIntent* up = event.add_notify();
      up->set_recipient_kind(kind);
      up->set_recipient_code(std::string(parts[1]));
      nv1::Notification& n = *up->mutable_notification();
      n.set_kind(nv1::ENCOMPASS_ESCALATION);
      n.set_kinex_id(missed.kinex_id());
      n.set_reason("DEADLINE_MISSED");
      n.set_about_notification_id(id);
      *n.mutable_deadline() = missed.deadline();
      n.set_school_urn(missed.school_urn());
    }
    // Every escalation names the notifying force (the police entry of
    // escalate_to): the LA must know whom to call, the force that it was
    // its own notification.
    std::string force;
    for (const std::string& to : intent.escalate_to()) {
      if (absl::StartsWith(to, "police/")) force = to.substr(sizeof("police/") - 1);
    }
    for (auto& up : *event.mutable_notify()) up.mutable_notification()->set_force_code(force);
    KINEX_RETURN_IF_ERROR(Append(event).status());
    ++escalated;
  }
  return escalated;
}

absl::StatusOr<NotificationStats> AuditLog::ReadNotificationStats() const {
  return options_.storage->ReadNotificationStats();
}

absl::StatusOr<int64_t> AuditLog::PruneNotifications() {
  if (options_.notification_retention <= absl::ZeroDuration()) return 0;
  const absl::Time before = options_.clock->Now() - options_.notification_retention;
  return options_.storage->PruneNotifications(absl::ToUnixMicros(before));
}

}  // namespace kinex::audit
