#include "services/audit/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

// The SHA-256 implementation, fetched once: implicit fetches through
// EVP_sha256() on every call cost more than the hash itself for 65 bytes.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// One reusable digest context per thread.
EVP_MD_CTX* ThreadCtx() {
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx(EVP_MD_CTX_new());
  return ctx.get();
}

// SHA-256 over the concatenation of up to three parts. Aborts on an OpenSSL
// failure: hashing memory cannot fail short of a broken library, and a wrong
// hash would be worse than a crash.
Hash HashParts(absl::string_view a, absl::string_view b = {}, absl::string_view c = {}) {
  EVP_MD_CTX* ctx = ThreadCtx();
  Hash out;
  unsigned int len = 0;
  if (ctx == nullptr || Sha256Md() == nullptr ||
      EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, a.data(), a.size()) != 1 ||
      (!b.empty() && EVP_DigestUpdate(ctx, b.data(), b.size()) != 1) ||
      (!c.empty() && EVP_DigestUpdate(ctx, c.data(), c.size()) != 1) ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != kHashSize) {
    std::abort();
  }
  return out;
}

absl::string_view View(const Hash& h) {
  return absl::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

// `status` with reason INVALID_FIELD naming `field`.
absl::Status Invalid(absl::string_view field, absl::Status status) {
  return WithErrorReason(std::move(status), reason::kInvalidField, {{"field", std::string(field)}});
}

// `status` with reason AUDIT_PROOF_INVALID and the sizes it is about.
absl::Status ProofInvalid(absl::Status status, const ErrorMetadata& metadata = {}) {
  return WithErrorReason(std::move(status), reason::kAuditProofInvalid, metadata);
}

// Appends PATH(m, D[begin:end]) (RFC 6962 section 2.1.1).
absl::Status Path(const SubtreeSource& source, uint64_t m, uint64_t begin, uint64_t end,
                  std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (n <= 1) return absl::OkStatus();
  const uint64_t k = SplitPoint(n);
  if (m < begin + k) {
    if (absl::Status s = Path(source, m, begin, begin + k, out); !s.ok()) return s;
    absl::StatusOr<Hash> h = RangeHash(source, begin + k, end);
    if (!h.ok()) return h.status();
    out.push_back(*h);
  } else {
    if (absl::Status s = Path(source, m, begin + k, end, out); !s.ok()) return s;
    absl::StatusOr<Hash> h = RangeHash(source, begin, begin + k);
    if (!h.ok()) return h.status();
    out.push_back(*h);
  }
  return absl::OkStatus();
}

// Appends SUBPROOF(m, D[begin:end], b) (RFC 6962 section 2.1.2), m absolute.
absl::Status SubProof(const SubtreeSource& source, uint64_t m, uint64_t begin, uint64_t end, bool b,
                      std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (m == end) {
    if (!b) {
      absl::StatusOr<Hash> h = RangeHash(source, begin, end);
      if (!h.ok()) return h.status();
      out.push_back(*h);
    }
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= begin + k) {
    if (absl::Status s = SubProof(source, m, begin, begin + k, b, out); !s.ok()) {
      return s;
    }
    absl::StatusOr<Hash> h = RangeHash(source, begin + k, end);
    if (!h.ok()) return h.status();
    out.push_back(*h);
  } else {
    if (absl::Status s = SubProof(source, m, begin + k, end, false, out); !s.ok()) {
      return s;
    }
    absl::StatusOr<Hash> h = RangeHash(source, begin, begin + k);
    if (!h.ok()) return h.status();
    out.push_back(*h);
  }
  return absl::OkStatus();
}

}  // namespace

Hash Sha256(absl::string_view data) { return HashParts(data); }

Hash HashLeaf(absl::string_view leaf_data) {
  static constexpr char kLeafPrefix[1] = {0x00};
  return HashParts(absl::string_view(kLeafPrefix, 1), leaf_data);
}

Hash HashChildren(const Hash& left, const Hash& right) {
  static constexpr char kNodePrefix[1] = {0x01};
  return HashParts(absl::string_view(kNodePrefix, 1), View(left), View(right));
}

Hash EmptyRoot() {
  static const Hash empty = Sha256("");
  return empty;
}

std::string HashToBytes(const Hash& hash) { return std::string(View(hash)); }

absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes, absl::string_view what) {
  if (bytes.size() != kHashSize) {
    return Invalid(what, absl::InvalidArgumentError(absl::StrCat(what, " must be ", kHashSize,
                                                                 " bytes, got ", bytes.size())));
  }
  Hash h;
  std::memcpy(h.data(), bytes.data(), kHashSize);
  return h;
}

std::string HashToHex(const Hash& hash) { return absl::BytesToHexString(View(hash)); }

absl::StatusOr<Hash> HashFromHex(absl::string_view hex) {
  if (hex.size() != 2 * kHashSize) {
    return Invalid("hash",
                   absl::InvalidArgumentError(absl::StrCat("hash must be ", 2 * kHashSize,
                                                           " hex characters, got ", hex.size())));
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return Invalid("hash", absl::InvalidArgumentError("hash must be hexadecimal"));
    }
  }
  return HashFromBytes(absl::HexStringToBytes(hex));
}

uint64_t SplitPoint(uint64_t n) {
  // Largest power of two < n: the top bit of n - 1.
  return uint64_t{1} << (63 - std::countl_zero(n - 1));
}

void CompactRange::Append(const Hash& leaf_hash) {
  // Merge with existing subtrees of equal size: one merge per trailing one
  // bit of size_.
  Hash h = leaf_hash;
  for (uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    h = HashChildren(nodes_.back(), h);
    nodes_.pop_back();
  }
  nodes_.push_back(h);
  ++size_;
}

absl::StatusOr<CompactRange> CompactRange::FromSource(const SubtreeSource& source) {
  CompactRange range;
  const uint64_t n = source.size();
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    if (((n >> level) & 1) == 0) continue;
    absl::StatusOr<Hash> h = source.FullSubtree(level, begin >> level);
    if (!h.ok()) return h.status();
    range.nodes_.push_back(*h);
    begin += uint64_t{1} << level;
  }
  range.size_ = n;
  return range;
}

Hash CompactRange::Root() const {
  if (nodes_.empty()) return EmptyRoot();
  // Fold right to left: the smallest subtree is the right child.
  Hash h = nodes_.back();
  for (size_t i = nodes_.size() - 1; i-- > 0;) h = HashChildren(nodes_[i], h);
  return h;
}

Hash RootOf(absl::Span<const Hash> leaf_hashes) {
  CompactRange range;
  for (const Hash& h : leaf_hashes) range.Append(h);
  return range.Root();
}

absl::StatusOr<Hash> RangeHash(const SubtreeSource& source, uint64_t begin, uint64_t end) {
  if (begin >= end || end > source.size()) {
    return Invalid("range",
                   absl::InvalidArgumentError(absl::StrCat(
                       "range [", begin, ", ", end, ") is outside the tree of ", source.size())));
  }
  const uint64_t n = end - begin;
  if (IsPowerOfTwo(n)) {
    const int level = std::countr_zero(n);
    if ((begin & (n - 1)) != 0) {
      return Invalid("range", absl::InvalidArgumentError(
                                  absl::StrCat("range [", begin, ", ", end, ") is not aligned")));
    }
    return source.FullSubtree(level, begin >> level);
  }
  const uint64_t k = SplitPoint(n);
  absl::StatusOr<Hash> left = RangeHash(source, begin, begin + k);
  if (!left.ok()) return left.status();
  absl::StatusOr<Hash> right = RangeHash(source, begin + k, end);
  if (!right.ok()) return right.status();
  return HashChildren(*left, *right);
}

absl::StatusOr<std::vector<Hash>> InclusionProof(const SubtreeSource& source, uint64_t leaf_index,
                                                 uint64_t tree_size) {
  if (tree_size > source.size()) {
    return Invalid("tree_size",
                   absl::InvalidArgumentError(absl::StrCat(
                       "tree_size ", tree_size, " exceeds the log size ", source.size())));
  }
  if (leaf_index >= tree_size) {
    return Invalid("leaf_index",
                   absl::InvalidArgumentError(absl::StrCat(
                       "leaf_index ", leaf_index, " must be less than tree_size ", tree_size)));
  }
  std::vector<Hash> out;
  if (absl::Status s = Path(source, leaf_index, 0, tree_size, out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(const SubtreeSource& source, uint64_t first_size,
                                                   uint64_t second_size) {
  if (second_size > source.size()) {
    return Invalid("second_tree_size",
                   absl::InvalidArgumentError(absl::StrCat(
                       "second_tree_size ", second_size, " exceeds the log size ", source.size())));
  }
  if (first_size > second_size) {
    return Invalid("first_tree_size",
                   absl::InvalidArgumentError(absl::StrCat(
                       "first_tree_size ", first_size, " exceeds second_tree_size ", second_size)));
  }
  std::vector<Hash> out;
  if (first_size == 0 || first_size == second_size) return out;
  if (absl::Status s = SubProof(source, first_size, 0, second_size, true, out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<Hash> RootFromInclusionProof(uint64_t leaf_index, uint64_t tree_size,
                                            const Hash& leaf_hash, absl::Span<const Hash> proof) {
  if (leaf_index >= tree_size) {
    return Invalid("leaf_index",
                   absl::InvalidArgumentError(absl::StrCat(
                       "leaf_index ", leaf_index, " must be less than tree_size ", tree_size)));
  }
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) {
      return ProofInvalid(
          absl::InvalidArgumentError("inclusion proof is longer than the tree is deep"),
          {{"leaf_index", absl::StrCat(leaf_index)}, {"tree_size", absl::StrCat(tree_size)}});
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return ProofInvalid(
        absl::InvalidArgumentError("inclusion proof is shorter than the tree is deep"),
        {{"leaf_index", absl::StrCat(leaf_index)}, {"tree_size", absl::StrCat(tree_size)}});
  }
  return r;
}

absl::Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                             absl::Span<const Hash> proof, const Hash& root) {
  absl::StatusOr<Hash> got = RootFromInclusionProof(leaf_index, tree_size, leaf_hash, proof);
  if (!got.ok()) return got.status();
  if (*got != root) {
    return ProofInvalid(
        absl::FailedPreconditionError(absl::StrCat("inclusion proof of leaf ", leaf_index,
                                                   " in tree of size ", tree_size,
                                                   " does not match the root")),
        {{"leaf_index", absl::StrCat(leaf_index)}, {"tree_size", absl::StrCat(tree_size)}});
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t first_size, uint64_t second_size,
                               absl::Span<const Hash> proof, const Hash& first_root,
                               const Hash& second_root) {
  const ErrorMetadata sizes = {{"tree_size", absl::StrCat(second_size)}};
  if (first_size > second_size) {
    return Invalid("first_tree_size", absl::FailedPreconditionError(absl::StrCat(
                                          "first tree size ", first_size,
                                          " is larger than second tree size ", second_size)));
  }
  if (first_size == second_size) {
    if (!proof.empty()) {
      return ProofInvalid(
          absl::FailedPreconditionError("consistency proof between equal sizes must be empty"),
          sizes);
    }
    if (first_root != second_root) {
      // Not a bad proof: two heads of one size disagree.
      return WithErrorReason(absl::FailedPreconditionError(absl::StrCat(
                                 "two different roots for the same tree size ", first_size)),
                             reason::kAuditHeadInconsistent, sizes);
    }
    return absl::OkStatus();
  }
  if (first_size == 0) {
    if (!proof.empty()) {
      return ProofInvalid(
          absl::FailedPreconditionError("consistency proof from the empty tree must be empty"),
          sizes);
    }
    return absl::OkStatus();
  }
  if (proof.empty()) {
    return ProofInvalid(absl::FailedPreconditionError("consistency proof is empty"), sizes);
  }
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (IsPowerOfTwo(first_size)) path.push_back(first_root);
  path.insert(path.end(), proof.begin(), proof.end());

  uint64_t fn = first_size - 1;
  uint64_t sn = second_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) {
      return ProofInvalid(
          absl::FailedPreconditionError("consistency proof is longer than expected"), sizes);
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return ProofInvalid(absl::FailedPreconditionError("consistency proof is shorter than expected"),
                        sizes);
  }
  if (fr != first_root) {
    return ProofInvalid(
        absl::FailedPreconditionError(absl::StrCat(
            "consistency proof does not match the root of the tree of size ", first_size)),
        sizes);
  }
  if (sr != second_root) {
    return ProofInvalid(
        absl::FailedPreconditionError(absl::StrCat(
            "consistency proof does not match the root of the tree of size ", second_size)),
        sizes);
  }
  return absl::OkStatus();
}

// What was last read from the store of one block, verified: a proof or a
// query page asks for several subtrees of the same block.
struct MerkleTree::BlockCache {
  absl::Mutex mu;
  // The block the rest describe.
  uint64_t block ABSL_GUARDED_BY(mu) = UINT64_MAX;
  // All its leaf hashes, once read.
  std::vector<Hash> leaves ABSL_GUARDED_BY(mu);
  // Whether its stored eighths were read, and they if they matched.
  bool eighths_read ABSL_GUARDED_BY(mu) = false;
  std::vector<Hash> eighths ABSL_GUARDED_BY(mu);
  // The one eighth whose leaf hashes were read, and they.
  uint64_t eighth ABSL_GUARDED_BY(mu) = UINT64_MAX;
  std::vector<Hash> eighth_leaves ABSL_GUARDED_BY(mu);
};

MerkleTree::MerkleTree() : cache_(std::make_unique<BlockCache>()) {}
MerkleTree::~MerkleTree() = default;
MerkleTree::MerkleTree(MerkleTree&&) noexcept = default;
MerkleTree& MerkleTree::operator=(MerkleTree&&) noexcept = default;

uint64_t MerkleTree::size() const { return levels_.empty() ? 0 : levels_[0].count(); }

uint64_t MerkleTree::hashes_in_memory() const {
  uint64_t n = 0;
  for (const Level& l : levels_) n += l.hashes.size();
  return n;
}

void MerkleTree::Append(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].hashes.push_back(leaf_hash);
  // Complete every parent whose right child just arrived. The recent window
  // always holds the current block, so both children are in memory.
  for (size_t level = 0; (levels_[level].count() & 1) == 0; ++level) {
    const std::deque<Hash>& cur = levels_[level].hashes;
    Hash parent = HashChildren(cur[cur.size() - 2], cur[cur.size() - 1]);
    if (levels_.size() == level + 1) levels_.emplace_back();
    levels_[level + 1].hashes.push_back(parent);
  }
  if (lean_level_ > 0 && (size() & ((uint64_t{1} << lean_level_) - 1)) == 0) Trim();
}

void MerkleTree::MakeLean(int lean_level, uint64_t recent_leaves, LeafHashReader reader,
                          BlockEighthsReader eighths) {
  lean_level_ = std::clamp(lean_level, 1, 30);
  const uint64_t block = uint64_t{1} << lean_level_;
  recent_leaves_ = std::max<uint64_t>(block, (recent_leaves + block - 1) / block * block);
  reader_ = std::move(reader);
  eighths_reader_ = std::move(eighths);
  Trim();
}

MerkleTree MerkleTree::FromBlocks(int lean_level, absl::Span<const Hash> blocks,
                                  uint64_t recent_leaves, LeafHashReader reader,
                                  BlockEighthsReader eighths) {
  MerkleTree tree;
  lean_level = std::clamp(lean_level, 1, 30);
  if (!blocks.empty()) {
    const uint64_t leaves = uint64_t{blocks.size()} << lean_level;
    tree.levels_.resize(lean_level + 1);
    for (int level = 0; level < lean_level; ++level) tree.levels_[level].offset = leaves >> level;
    tree.levels_[lean_level].hashes.assign(blocks.begin(), blocks.end());
    for (size_t level = lean_level; tree.levels_[level].hashes.size() >= 2; ++level) {
      const std::deque<Hash>& cur = tree.levels_[level].hashes;
      std::deque<Hash> parents;
      for (size_t i = 0; i + 1 < cur.size(); i += 2) {
        parents.push_back(HashChildren(cur[i], cur[i + 1]));
      }
      tree.levels_.emplace_back();
      tree.levels_[level + 1].hashes = std::move(parents);
    }
  }
  // The blocks' eighths are not in memory: the store has them.
  tree.eighths_kept_from_ = blocks.size();
  tree.MakeLean(lean_level, recent_leaves, std::move(reader), std::move(eighths));
  return tree;
}

int MerkleTree::EighthLevel() const {
  return eighths_reader_ && lean_level_ > kBlockEighthLevels ? lean_level_ - kBlockEighthLevels
                                                             : -1;
}

std::vector<Hash> MerkleTree::KeptEighths(uint64_t block) const {
  const int level = EighthLevel();
  if (level < 0 || block < eighths_kept_from_ || static_cast<size_t>(level) >= levels_.size()) {
    return {};
  }
  const Level& l = levels_[level];
  const uint64_t first = block << kBlockEighthLevels;
  if (first < l.offset || first + kBlockEighths > l.count()) return {};
  return std::vector<Hash>(l.hashes.begin() + (first - l.offset),
                           l.hashes.begin() + (first - l.offset + kBlockEighths));
}

void MerkleTree::ReleaseEighths(uint64_t block) {
  eighths_kept_from_ = std::max(eighths_kept_from_, block);
  Trim();
}

void MerkleTree::Trim() {
  // Keep every level below lean_level_ from a block boundary at least
  // recent_leaves_ back; a block boundary keeps whole pairs at every level.
  const uint64_t n = size();
  if (n <= recent_leaves_) return;
  const uint64_t keep_from = ((n - recent_leaves_) >> lean_level_) << lean_level_;
  // The eighths not yet stored stay for the next checkpoint.
  const int eighth_level = EighthLevel();
  const uint64_t eighths_from = eighths_kept_from_ > (UINT64_MAX >> lean_level_)
                                    ? UINT64_MAX
                                    : eighths_kept_from_ << lean_level_;
  for (int level = 0; level < lean_level_ && level < static_cast<int>(levels_.size()); ++level) {
    Level& l = levels_[level];
    const uint64_t first =
        (level == eighth_level ? std::min(keep_from, eighths_from) : keep_from) >> level;
    // pop_front frees each 512-byte node of the deque as it empties, so
    // memory follows the window without copying it.
    while (l.offset < first && !l.hashes.empty()) {
      l.hashes.pop_front();
      ++l.offset;
    }
  }
}

namespace {

// The stored leaf hashes [begin, begin + width) do not hash to what the
// verified tree holds for them.
absl::Status StoredLeavesAltered(uint64_t begin, uint64_t width) {
  return WithErrorReason(
      absl::DataLossError(absl::StrCat("leaf index ", begin, ": stored leaf hashes ", begin, "-",
                                       begin + width - 1, " do not match the verified log")),
      reason::kAuditLogTampered, {{"leaf_index", absl::StrCat(begin)}});
}

}  // namespace

absl::StatusOr<Hash> MerkleTree::FromStore(int level, uint64_t index) const {
  const uint64_t first_leaf = index << level;
  const uint64_t block = first_leaf >> lean_level_;
  const uint64_t begin = block << lean_level_;
  const uint64_t width = uint64_t{1} << lean_level_;
  const uint64_t offset = first_leaf - begin;  // within the block
  // Evicted only once complete, so the block's own hash is in memory.
  const Hash& block_hash = levels_[lean_level_].hashes[block];
  BlockCache& c = *cache_;
  absl::MutexLock lock(&c.mu);
  if (c.block != block) {
    c.block = block;
    c.leaves.clear();
    c.eighths_read = false;
    c.eighths.clear();
    c.eighth = UINT64_MAX;
    c.eighth_leaves.clear();
  }
  if (!reader_) {
    return WithErrorReason(absl::InternalError("no reader for evicted tree hashes"),
                           reason::kAuditTreeUnreadable);
  }
  // The stored leaf hashes [first, first + n), checked against `expected`.
  auto read_checked = [&](uint64_t first, uint64_t n,
                          const Hash& expected) -> absl::StatusOr<std::vector<Hash>> {
    KINEX_ASSIGN_OR_RETURN(std::vector<Hash> leaves, reader_(first, first + n));
    if (leaves.size() != n || RootOf(leaves) != expected) return StoredLeavesAltered(first, n);
    return leaves;
  };
  const int eighth_level = EighthLevel();
  if (c.leaves.empty() && eighth_level > 0) {
    if (!c.eighths_read) {
      KINEX_ASSIGN_OR_RETURN(std::optional<std::vector<Hash>> stored, eighths_reader_(block));
      c.eighths_read = true;
      // Derived data: used only when it hashes to the verified block.
      if (stored.has_value() && stored->size() == kBlockEighths && RootOf(*stored) == block_hash) {
        c.eighths = *std::move(stored);
      }
    }
    if (!c.eighths.empty()) {
      const uint64_t eighth = offset >> eighth_level;
      if (level >= eighth_level) {
        return RootOf(
            absl::MakeConstSpan(c.eighths).subspan(eighth, uint64_t{1} << (level - eighth_level)));
      }
      if (c.eighth == UINT64_MAX) {
        KINEX_ASSIGN_OR_RETURN(c.eighth_leaves,
                               read_checked(begin + (eighth << eighth_level),
                                            uint64_t{1} << eighth_level, c.eighths[eighth]));
        c.eighth = eighth;
      }
      if (c.eighth == eighth) {
        return RootOf(absl::MakeConstSpan(c.eighth_leaves)
                          .subspan(offset - (eighth << eighth_level), uint64_t{1} << level));
      }
      // A second eighth: the caller is going through the block.
    }
  }
  if (c.leaves.empty()) {
    KINEX_ASSIGN_OR_RETURN(c.leaves, read_checked(begin, width, block_hash));
  }
  return RootOf(absl::MakeConstSpan(c.leaves).subspan(offset, uint64_t{1} << level));
}

Hash MerkleTree::Root() const {
  if (size() == 0) return EmptyRoot();
  absl::StatusOr<Hash> root = RangeHash(*this, 0, size());
  return root.ok() ? *root : EmptyRoot();  // the right edge is always in memory
}

absl::StatusOr<Hash> MerkleTree::RootAt(uint64_t tree_size) const {
  if (tree_size > size()) {
    return Invalid("tree_size", absl::InvalidArgumentError(absl::StrCat(
                                    "tree_size ", tree_size, " exceeds the log size ", size())));
  }
  if (tree_size == 0) return EmptyRoot();
  return RangeHash(*this, 0, tree_size);
}

absl::StatusOr<Hash> MerkleTree::FullSubtree(int level, uint64_t index) const {
  if (level < 0 || static_cast<size_t>(level) >= levels_.size() ||
      index >= levels_[level].count()) {
    return Invalid("index", absl::InvalidArgumentError(absl::StrCat("no full subtree at level ",
                                                                    level, " index ", index)));
  }
  const Level& l = levels_[level];
  if (index >= l.offset) return l.hashes[index - l.offset];
  return FromStore(level, index);
}

}  // namespace kinex::audit
