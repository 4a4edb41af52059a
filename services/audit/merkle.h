// RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.
//
// Leaf hash  = SHA-256(0x00 || leaf data)
// Node hash  = SHA-256(0x01 || left || right)
// Empty tree = SHA-256("")
// The tree over n leaves splits at k, the largest power of two below n
// (RFC 9162 section 2.1.1), so every left subtree is full and aligned.
//
// Proofs are generated from a SubtreeSource, which answers the hash of any
// full, aligned subtree (level L, index i covers leaves [i*2^L, (i+1)*2^L)).
// MerkleTree is the in-memory source the log keeps: it stores every full
// subtree hash (or, made lean, those above a level plus a recent window), so
// a proof costs O(log n) lookups plus O(log^2 n) hashes for the ragged right
// edge (tens of microseconds at 10^6 leaves), and for an old leaf of a lean
// tree one read of its block's stored eighths plus one of the leaf hashes
// of its eighth (or, where the store keeps no eighths, one of its block).
//
// Example:
//   MerkleTree tree;
//   for (const std::string& leaf : leaves) tree.Append(HashLeaf(leaf));
//   KINEX_ASSIGN_OR_RETURN(std::vector<Hash> path,
//                          InclusionProof(tree, /*leaf_index=*/2, tree.size()));
//   KINEX_RETURN_IF_ERROR(VerifyInclusion(2, tree.size(), HashLeaf(leaves[2]),
//                                         path, tree.Root()));
#ifndef KINEX_SERVICES_AUDIT_MERKLE_H_
#define KINEX_SERVICES_AUDIT_MERKLE_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kinex::audit {

// Size of a SHA-256 hash in bytes.
inline constexpr size_t kHashSize = 32;

// A SHA-256 hash. A value type; cheap to copy.
using Hash = std::array<uint8_t, kHashSize>;

// SHA-256 of `data` (OpenSSL EVP). Thread-safe.
Hash Sha256(absl::string_view data);

// RFC 6962 leaf hash: SHA-256(0x00 || leaf_data). Thread-safe.
Hash HashLeaf(absl::string_view leaf_data);

// RFC 6962 interior node hash: SHA-256(0x01 || left || right). Thread-safe.
Hash HashChildren(const Hash& left, const Hash& right);

// The root of the empty tree: SHA-256 of the empty string.
Hash EmptyRoot();

// The hash as a 32-byte string (the protobuf `bytes` form).
std::string HashToBytes(const Hash& hash);

// Parses a 32-byte string. INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes, absl::string_view what = "hash");

// Lower-case hex of the hash (64 characters).
std::string HashToHex(const Hash& hash);

// Parses 64 hex characters. INVALID_ARGUMENT otherwise.
absl::StatusOr<Hash> HashFromHex(absl::string_view hex);

// Largest power of two strictly less than n (n >= 2).
uint64_t SplitPoint(uint64_t n);

class SubtreeSource;

// Computes the root of a growing tree in O(log n) memory: the hashes of the
// maximal full subtrees covering the leaves so far (a "compact range" over
// [0, size)). Used to verify a whole log without holding it. Not thread-safe.
class CompactRange {
 public:
  CompactRange() = default;
  // The compact range over all leaves of `source`, from its full subtrees
  // (O(log n) lookups, no hashing).
  static absl::StatusOr<CompactRange> FromSource(const SubtreeSource& source);
  // Adds the next leaf hash.
  void Append(const Hash& leaf_hash);
  // Number of leaves appended.
  uint64_t size() const { return size_; }
  // Root of the tree over the leaves so far (EmptyRoot() when none).
  Hash Root() const;

 private:
  // Hashes of the full subtrees, largest (leftmost) first; one per set bit
  // of size_.
  std::vector<Hash> nodes_;
  uint64_t size_ = 0;
};

// Root of the tree over `leaf_hashes`.
Hash RootOf(absl::Span<const Hash> leaf_hashes);

// Answers hashes of full, aligned subtrees of a tree of size() leaves.
class SubtreeSource {
 public:
  virtual ~SubtreeSource() = default;
  // Number of leaves available.
  virtual uint64_t size() const = 0;
  // Hash of the full subtree at `level` (0 = leaf) and `index` (covering
  // leaves [index << level, (index + 1) << level), all below size()).
  virtual absl::StatusOr<Hash> FullSubtree(int level, uint64_t index) const = 0;
};

// Root hash of leaves [begin, end) of `source`, where the range is one that
// the RFC 6962 recursion from [0, n) produces (begin aligned to the power of
// two at or above end - begin). With begin == 0 this is MTH(D[0:end]).
absl::StatusOr<Hash> RangeHash(const SubtreeSource& source, uint64_t begin, uint64_t end);

// RFC 6962 PATH(leaf_index, D[0:tree_size]), leaf to root.
// INVALID_ARGUMENT when leaf_index >= tree_size or tree_size > source.size().
absl::StatusOr<std::vector<Hash>> InclusionProof(const SubtreeSource& source, uint64_t leaf_index,
                                                 uint64_t tree_size);

// RFC 6962 PROOF(first_size, D[0:second_size]). Empty when first_size is 0
// or equals second_size. INVALID_ARGUMENT when first_size > second_size or
// second_size > source.size().
absl::StatusOr<std::vector<Hash>> ConsistencyProof(const SubtreeSource& source, uint64_t first_size,
                                                   uint64_t second_size);

// Recomputes the root from an inclusion proof (RFC 9162 section 2.1.3.2).
// INVALID_ARGUMENT when the proof's shape does not fit the index and size.
absl::StatusOr<Hash> RootFromInclusionProof(uint64_t leaf_index, uint64_t tree_size,
                                            const Hash& leaf_hash, absl::Span<const Hash> proof);

// Verifies an inclusion proof against `root`. OK, or FAILED_PRECONDITION
// ("inclusion proof does not match the root") / INVALID_ARGUMENT (malformed).
absl::Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                             absl::Span<const Hash> proof, const Hash& root);

// Verifies that the tree of first_size leaves with first_root is a prefix of
// the tree of second_size leaves with second_root (RFC 9162 section
// 2.1.4.2). OK, or FAILED_PRECONDITION naming what did not match.
absl::Status VerifyConsistency(uint64_t first_size, uint64_t second_size,
                               absl::Span<const Hash> proof, const Hash& first_root,
                               const Hash& second_root);

// Reads the stored leaf hashes [begin, end) of a log, in order.
using LeafHashReader =
    std::function<absl::StatusOr<std::vector<Hash>>(uint64_t begin, uint64_t end)>;

// A lean tree's block of 2^lean_level leaves splits into kBlockEighths
// eighths kBlockEighthLevels levels below it. Their hashes, stored beside
// the block's (TreeBlock::eighths), let the tree read back one eighth of an
// old block's leaf hashes instead of all of them.
inline constexpr int kBlockEighthLevels = 3;
inline constexpr size_t kBlockEighths = size_t{1} << kBlockEighthLevels;

// Reads the stored hashes of block `block`'s eighths, left to right; nullopt
// when the store keeps none for it. Never trusted: the tree uses them only
// when they hash to the block's own hash, held in memory.
using BlockEighthsReader =
    std::function<absl::StatusOr<std::optional<std::vector<Hash>>>(uint64_t block)>;

// The in-memory tree of a log. By default it keeps every full subtree hash
// (about 2n hashes: 64 MB at 10^6 leaves). MakeLean() bounds that for a
// long-running log: hashes below `lean_level` are kept only for the newest
// leaves, and an older one is recomputed from the stored leaf hashes of its
// 2^lean_level block, which are first checked against the block's hash held
// in memory (DATA_LOSS if the store no longer matches). Memory is then about
// 2n / 2^lean_level hashes plus the recent window.
//
// Given a BlockEighthsReader as well (lean_level above kBlockEighthLevels),
// the tree reads an old block's stored eighths first, checks them against
// the block's hash, and then reads and checks only the leaf hashes of the
// eighth asked for: what an inclusion proof needs. A second eighth of the
// same block asked for in a row (a reader going through the block) reads
// the whole block. Eighths the store does not keep, or keeps wrong, are
// passed over for the whole block. Such a tree also keeps the eighths'
// hashes of every block from ReleaseEighths' mark on (4 bytes a leaf), so
// that the next checkpoint can store them (KeptEighths).
// Not thread-safe for writers: the owner synchronises (the audit log appends
// under a writer lock and reads proofs under a reader lock; concurrent
// readers are safe).
class MerkleTree final : public SubtreeSource {
 public:
  MerkleTree();
  ~MerkleTree() override;
  MerkleTree(MerkleTree&&) noexcept;
  MerkleTree& operator=(MerkleTree&&) noexcept;

  // Appends a leaf hash, completing parents as subtrees fill.
  void Append(const Hash& leaf_hash);
  // Keeps hashes below `lean_level` (1..30) only for at least the newest
  // `recent_leaves` leaves (rounded up to whole blocks); older ones come from
  // `reader`. Frees what is no longer kept.
  // `eighths`, if given, as above.
  void MakeLean(int lean_level, uint64_t recent_leaves, LeafHashReader reader,
                BlockEighthsReader eighths = nullptr);
  // A lean tree over blocks.size() << lean_level leaves, from the hashes of
  // its full blocks of 2^lean_level leaves (a verified checkpoint's,
  // checkpoint.h): every hash below lean_level comes from `reader` (and
  // `eighths`), checked against its block. Append continues it; it keeps
  // eighths from the first block Append completes.
  static MerkleTree FromBlocks(int lean_level, absl::Span<const Hash> blocks,
                               uint64_t recent_leaves, LeafHashReader reader,
                               BlockEighthsReader eighths = nullptr);
  // The hashes of full block `block`'s eighths, left to right, if memory
  // keeps them (a lean tree with a BlockEighthsReader, block at or after the
  // ReleaseEighths mark); empty otherwise.
  std::vector<Hash> KeptEighths(uint64_t block) const;
  // Stops keeping the eighths of the blocks below `block` (stored by a
  // checkpoint); they leave memory with the recent window.
  void ReleaseEighths(uint64_t block);
  // Leaf hash at `index` (< size()). From the store, verified, when the leaf
  // is older than the recent window of a lean tree.
  absl::StatusOr<Hash> LeafHash(uint64_t index) const { return FullSubtree(0, index); }
  // Root over all leaves.
  Hash Root() const;
  // Root over the first `tree_size` leaves (<= size()).
  absl::StatusOr<Hash> RootAt(uint64_t tree_size) const;
  // Hashes held in memory (for tests and sizing).
  uint64_t hashes_in_memory() const;

  uint64_t size() const override;
  absl::StatusOr<Hash> FullSubtree(int level, uint64_t index) const override;

 private:
  struct Level {
    uint64_t offset = 0;      // index of hashes.front()
    std::deque<Hash> hashes;  // full subtrees [offset, offset + size)
    uint64_t count() const { return offset + hashes.size(); }
  };
  struct BlockCache;
  void Trim();
  absl::StatusOr<Hash> FromStore(int level, uint64_t index) const;
  // The level of the blocks' eighths, or -1 when the tree reads none.
  int EighthLevel() const;

  std::vector<Level> levels_;
  int lean_level_ = 0;  // 0: keep everything
  uint64_t recent_leaves_ = 0;
  LeafHashReader reader_;
  BlockEighthsReader eighths_reader_;
  // Eighths are kept in memory for blocks at and after this one.
  uint64_t eighths_kept_from_ = 0;
  std::unique_ptr<BlockCache> cache_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_MERKLE_H_
