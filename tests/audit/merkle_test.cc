// Merkle hashing and proofs against the RFC 6962 / Certificate Transparency
// reference vectors (the 8-leaf tree used by google/certificate-transparency
// and transparency-dev/merkle), plus exhaustive checks against a naive
// recursive reference implementation.
#include "services/audit/merkle.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace kinex::audit {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

Hash H(const std::string& hex) {
  absl::StatusOr<Hash> h = HashFromHex(hex);
  EXPECT_TRUE(h.ok()) << h.status();
  return h.ok() ? *h : Hash{};
}

// The reference leaves, hex-encoded.
const std::vector<std::string>& Leaves() {
  static const std::vector<std::string> leaves = [] {
    std::vector<std::string> out;
    for (const char* hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                            "606162636465666768696a6b6c6d6e6f"}) {
      out.push_back(absl::HexStringToBytes(hex));
    }
    return out;
  }();
  return leaves;
}

// Reference roots of the trees over the first 1..8 leaves.
const std::vector<std::string> kRoots = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

MerkleTree TreeOf(size_t n) {
  MerkleTree tree;
  for (size_t i = 0; i < n; ++i) tree.Append(HashLeaf(Leaves()[i]));
  return tree;
}

// Naive MTH straight from RFC 6962 section 2.1.
Hash NaiveRoot(const std::vector<Hash>& leaves, size_t begin, size_t end) {
  if (end - begin == 0) return EmptyRoot();
  if (end - begin == 1) return leaves[begin];
  const size_t k = SplitPoint(end - begin);
  return HashChildren(NaiveRoot(leaves, begin, begin + k), NaiveRoot(leaves, begin + k, end));
}

TEST(MerkleTest, EmptyTreeRootIsSha256OfEmptyString) {
  EXPECT_EQ(HashToHex(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(MerkleTree().Root(), EmptyRoot());
  EXPECT_EQ(CompactRange().Root(), EmptyRoot());
}

TEST(MerkleTest, LeafHashUsesZeroPrefix) {
  // The one-leaf tree over the empty leaf: SHA-256(0x00).
  EXPECT_EQ(HashToHex(HashLeaf("")), kRoots[0]);
  EXPECT_EQ(HashLeaf(""), Sha256(std::string(1, '\0')));
  Hash a = HashLeaf("a");
  Hash b = HashLeaf("b");
  std::string node = std::string(1, '\x01') + HashToBytes(a) + HashToBytes(b);
  EXPECT_EQ(HashChildren(a, b), Sha256(node));
}

TEST(MerkleTest, RootsMatchReferenceVectors) {
  for (size_t n = 1; n <= 8; ++n) {
    MerkleTree tree = TreeOf(n);
    EXPECT_EQ(HashToHex(tree.Root()), kRoots[n - 1]) << "size " << n;
    CompactRange range;
    for (size_t i = 0; i < n; ++i) range.Append(HashLeaf(Leaves()[i]));
    EXPECT_EQ(HashToHex(range.Root()), kRoots[n - 1]) << "size " << n;
  }
  MerkleTree full = TreeOf(8);
  for (size_t n = 1; n <= 8; ++n) {
    absl::StatusOr<Hash> root = full.RootAt(n);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(HashToHex(*root), kRoots[n - 1]) << "size " << n;
  }
}

struct InclusionVector {
  uint64_t leaf_index;
  uint64_t tree_size;
  std::vector<std::string> proof;
};

const std::vector<InclusionVector> kInclusion = {
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {0, 1, {}},
};

TEST(MerkleTest, InclusionProofsMatchReferenceVectors) {
  MerkleTree tree = TreeOf(8);
  for (const InclusionVector& v : kInclusion) {
    absl::StatusOr<std::vector<Hash>> proof = InclusionProof(tree, v.leaf_index, v.tree_size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    std::vector<std::string> hex;
    for (const Hash& h : *proof) hex.push_back(HashToHex(h));
    EXPECT_EQ(hex, v.proof) << v.leaf_index << "/" << v.tree_size;
    EXPECT_TRUE(VerifyInclusion(v.leaf_index, v.tree_size, HashLeaf(Leaves()[v.leaf_index]), *proof,
                                H(kRoots[v.tree_size - 1]))
                    .ok());
  }
}

struct ConsistencyVector {
  uint64_t first;
  uint64_t second;
  std::vector<std::string> proof;
};

const std::vector<ConsistencyVector> kConsistency = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

TEST(MerkleTest, ConsistencyProofsMatchReferenceVectors) {
  MerkleTree tree = TreeOf(8);
  for (const ConsistencyVector& v : kConsistency) {
    absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(tree, v.first, v.second);
    ASSERT_TRUE(proof.ok()) << proof.status();
    std::vector<std::string> hex;
    for (const Hash& h : *proof) hex.push_back(HashToHex(h));
    EXPECT_EQ(hex, v.proof) << v.first << "->" << v.second;
    EXPECT_TRUE(VerifyConsistency(v.first, v.second, *proof, H(kRoots[v.first - 1]),
                                  H(kRoots[v.second - 1]))
                    .ok())
        << v.first << "->" << v.second;
  }
}

TEST(MerkleTest, CorruptedInclusionProofsFail) {
  const InclusionVector& v = kInclusion[1];  // leaf 5 of 8
  const Hash root = H(kRoots[7]);
  const Hash leaf = HashLeaf(Leaves()[v.leaf_index]);
  std::vector<Hash> proof;
  for (const std::string& h : v.proof) proof.push_back(H(h));
  ASSERT_TRUE(VerifyInclusion(v.leaf_index, 8, leaf, proof, root).ok());

  EXPECT_FALSE(VerifyInclusion(v.leaf_index - 1, 8, leaf, proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(v.leaf_index + 1, 8, leaf, proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(v.leaf_index ^ 2, 8, leaf, proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(v.leaf_index, 16, leaf, proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(v.leaf_index, 4, leaf, proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(v.leaf_index, 8, HashLeaf("wrong"), proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(v.leaf_index, 8, leaf, proof, EmptyRoot()).ok());
  std::vector<Hash> longer = proof;
  longer.push_back(root);
  EXPECT_THAT(VerifyInclusion(v.leaf_index, 8, leaf, longer, root),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "inclusion proof is longer than the tree is deep"));
  EXPECT_THAT(VerifyInclusion(v.leaf_index, 8, leaf, longer, root),
              HasErrorReason("AUDIT_PROOF_INVALID"));
  std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
  EXPECT_THAT(VerifyInclusion(v.leaf_index, 8, leaf, shorter, root).message(),
              HasSubstr("shorter"));
  EXPECT_THAT(VerifyInclusion(v.leaf_index, 8, leaf, shorter, root),
              HasErrorReason("AUDIT_PROOF_INVALID"));
  EXPECT_THAT(VerifyInclusion(v.leaf_index, 8, leaf, shorter, root),
              HasErrorMetadata("leaf_index", std::to_string(v.leaf_index)));
  EXPECT_THAT(VerifyInclusion(v.leaf_index, 8, leaf, shorter, root),
              HasErrorMetadata("tree_size", "8"));
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<Hash> flipped = proof;
    flipped[i][0] ^= 8;
    absl::Status s = VerifyInclusion(v.leaf_index, 8, leaf, flipped, root);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << i;
    EXPECT_THAT(s.message(), HasSubstr("does not match the root"));
    EXPECT_THAT(s, HasErrorReason("AUDIT_PROOF_INVALID")) << i;
    EXPECT_THAT(s, HasErrorMetadata("leaf_index", std::to_string(v.leaf_index))) << i;
  }
  EXPECT_EQ(VerifyInclusion(8, 8, leaf, proof, root).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(VerifyInclusion(8, 8, leaf, proof, root), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(VerifyInclusion(8, 8, leaf, proof, root), HasErrorMetadata("field", "leaf_index"));
}

TEST(MerkleTest, CorruptedConsistencyProofsFail) {
  const ConsistencyVector& v = kConsistency[2];  // 6 -> 8
  const Hash r1 = H(kRoots[5]);
  const Hash r2 = H(kRoots[7]);
  std::vector<Hash> proof;
  for (const std::string& h : v.proof) proof.push_back(H(h));
  ASSERT_TRUE(VerifyConsistency(6, 8, proof, r1, r2).ok());
  EXPECT_FALSE(VerifyConsistency(5, 8, proof, r1, r2).ok());
  EXPECT_FALSE(VerifyConsistency(7, 8, proof, r1, r2).ok());
  EXPECT_FALSE(VerifyConsistency(6, 16, proof, r1, r2).ok());
  EXPECT_THAT(VerifyConsistency(6, 4, proof, r1, r2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "first tree size 6 is larger than second tree size 4"));
  EXPECT_THAT(VerifyConsistency(6, 4, proof, r1, r2), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(VerifyConsistency(6, 4, proof, r1, r2), HasErrorMetadata("field", "first_tree_size"));
  EXPECT_FALSE(VerifyConsistency(6, 8, proof, r2, r1).ok());
  EXPECT_THAT(VerifyConsistency(6, 8, {}, r1, r2),
              StatusIs(absl::StatusCode::kFailedPrecondition, "consistency proof is empty"));
  EXPECT_THAT(VerifyConsistency(6, 8, {}, r1, r2), HasErrorReason("AUDIT_PROOF_INVALID"));
  EXPECT_FALSE(VerifyConsistency(6, 8, proof, EmptyRoot(), r2).ok());
  std::vector<Hash> longer = proof;
  longer.push_back(r1);
  EXPECT_FALSE(VerifyConsistency(6, 8, longer, r1, r2).ok());
  std::vector<Hash> prefixed = proof;
  prefixed.insert(prefixed.begin(), r1);
  EXPECT_FALSE(VerifyConsistency(6, 8, prefixed, r1, r2).ok());
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<Hash> flipped = proof;
    flipped[i][0] ^= 16;
    EXPECT_EQ(VerifyConsistency(6, 8, flipped, r1, r2).code(),
              absl::StatusCode::kFailedPrecondition)
        << i;
    EXPECT_THAT(VerifyConsistency(6, 8, flipped, r1, r2), HasErrorReason("AUDIT_PROOF_INVALID"))
        << i;
    EXPECT_THAT(VerifyConsistency(6, 8, flipped, r1, r2), HasErrorMetadata("tree_size", "8")) << i;
  }
  // Same size: roots must agree and the proof be empty.
  EXPECT_TRUE(VerifyConsistency(8, 8, {}, r2, r2).ok());
  EXPECT_THAT(VerifyConsistency(8, 8, {}, r1, r2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "two different roots for the same tree size 8"));
  // Not a bad proof: two heads of one size disagree.
  EXPECT_THAT(VerifyConsistency(8, 8, {}, r1, r2), HasErrorReason("AUDIT_HEAD_INCONSISTENT"));
}

TEST(MerkleTest, AllProofsVerifyAgainstNaiveRootsUpTo70Leaves) {
  std::vector<Hash> leaves;
  MerkleTree tree;
  for (int i = 0; i < 70; ++i) {
    leaves.push_back(HashLeaf("leaf " + std::to_string(i)));
    tree.Append(leaves.back());
  }
  for (uint64_t n = 1; n <= 70; ++n) {
    const Hash root = NaiveRoot(leaves, 0, n);
    ASSERT_EQ(*tree.RootAt(n), root) << n;
    ASSERT_EQ(RootOf(absl::MakeConstSpan(leaves.data(), n)), root) << n;
    for (uint64_t i = 0; i < n; ++i) {
      absl::StatusOr<std::vector<Hash>> proof = InclusionProof(tree, i, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], *proof, root).ok()) << i << "/" << n;
      // The proof for one leaf never proves its neighbour.
      if (n > 1) {
        ASSERT_FALSE(VerifyInclusion(i, n, leaves[(i + 1) % n], *proof, root).ok());
      }
    }
    for (uint64_t m = 1; m <= n; ++m) {
      absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(tree, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(VerifyConsistency(m, n, *proof, NaiveRoot(leaves, 0, m), root).ok())
          << m << "->" << n;
      if (m < n) {
        ASSERT_FALSE(VerifyConsistency(m, n, *proof, NaiveRoot(leaves, 1, m + 1), root).ok());
      }
    }
  }
}

TEST(MerkleTest, ProofRequestsOutsideTheTreeAreInvalid) {
  MerkleTree tree = TreeOf(5);
  absl::StatusOr<std::vector<Hash>> p = InclusionProof(tree, 5, 5);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("leaf_index 5 must be less"));
  EXPECT_THAT(p, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(p, HasErrorMetadata("field", "leaf_index"));
  p = InclusionProof(tree, 0, 6);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("exceeds the log size 5"));
  EXPECT_THAT(p, HasErrorMetadata("field", "tree_size"));
  p = ConsistencyProof(tree, 4, 3);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("exceeds second_tree_size"));
  EXPECT_THAT(p, HasErrorMetadata("field", "first_tree_size"));
  p = ConsistencyProof(tree, 1, 6);
  EXPECT_THAT(
      p, StatusIs(absl::StatusCode::kInvalidArgument, "second_tree_size 6 exceeds the log size 5"));
  EXPECT_THAT(p, HasErrorMetadata("field", "second_tree_size"));
}

TEST(MerkleTest, HashParsingRejectsWrongSizes) {
  EXPECT_EQ(HashFromBytes("short").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(HashFromBytes("short", "root_hash").status().message(),
              HasSubstr("root_hash must be 32 bytes, got 5"));
  EXPECT_THAT(HashFromBytes("short", "root_hash"), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(HashFromBytes("short", "root_hash"), HasErrorMetadata("field", "root_hash"));
  EXPECT_EQ(HashFromHex("zz").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(HashFromHex("zz"), HasErrorMetadata("field", "hash"));
}

// A lean tree answers every subtree, proof and root exactly as the full tree
// does, reading evicted low levels back through the reader.
TEST(MerkleTest, LeanTreeAnswersLikeTheFullTree) {
  for (int lean_level : {1, 2, 3}) {
    for (uint64_t recent : {1u, 5u}) {
      std::vector<Hash> leaves;
      MerkleTree full;
      MerkleTree lean;
      int reads = 0;
      lean.MakeLean(lean_level, recent,
                    [&](uint64_t b, uint64_t e) -> absl::StatusOr<std::vector<Hash>> {
                      ++reads;
                      return std::vector<Hash>(leaves.begin() + b, leaves.begin() + e);
                    });
      for (uint64_t n = 1; n <= 70; ++n) {
        leaves.push_back(HashLeaf(std::to_string(n)));
        full.Append(leaves.back());
        lean.Append(leaves.back());
        ASSERT_EQ(lean.Root(), full.Root()) << n;
        for (uint64_t m = 1; m <= n; m += 3) {
          for (uint64_t i = 0; i < m; i += 2) {
            ASSERT_EQ(*InclusionProof(lean, i, m), *InclusionProof(full, i, m))
                << "level " << lean_level << " leaf " << i << " size " << m;
          }
          ASSERT_EQ(*ConsistencyProof(lean, m, n), *ConsistencyProof(full, m, n));
        }
        for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(*lean.LeafHash(i), leaves[i]);
      }
      EXPECT_GT(reads, 0);
      // Full: 2n - popcount(n) hashes. Lean keeps levels >= lean_level plus
      // the newest whole blocks covering `recent` leaves, and the tail.
      EXPECT_EQ(full.hashes_in_memory(), 137u);
      EXPECT_LT(lean.hashes_in_memory(), full.hashes_in_memory() / 2 + 20)
          << "level " << lean_level;
    }
  }
}

TEST(MerkleTest, LeanTreeRefusesStoredLeavesThatNoLongerMatch) {
  std::vector<Hash> leaves;
  MerkleTree lean;
  absl::Status read_error = absl::OkStatus();
  lean.MakeLean(2, 4, [&](uint64_t b, uint64_t e) -> absl::StatusOr<std::vector<Hash>> {
    if (!read_error.ok()) return read_error;
    return std::vector<Hash>(leaves.begin() + b, leaves.begin() + e);
  });
  for (int i = 0; i < 16; ++i) {
    leaves.push_back(HashLeaf(std::to_string(i)));
    lean.Append(leaves.back());
  }
  ASSERT_TRUE(lean.LeafHash(5).ok());
  leaves[6] = HashLeaf("altered in the store");
  // Leaf 5 is served from the cached, verified block; a new block read of
  // the altered one is refused, naming the block.
  absl::StatusOr<Hash> h = lean.LeafHash(1);
  ASSERT_TRUE(h.ok()) << h.status();
  h = lean.LeafHash(6);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(h.status().message(),
            "leaf index 4: stored leaf hashes 4-7 do not match the verified log");
  EXPECT_THAT(h, HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_THAT(h, HasErrorMetadata("leaf_index", "4"));
  EXPECT_EQ(InclusionProof(lean, 4, 16).status().code(), absl::StatusCode::kDataLoss);
  // The newest leaves never need the store.
  read_error = absl::UnavailableError("store down");
  EXPECT_EQ(*lean.LeafHash(15), leaves[15]);
  EXPECT_EQ(lean.LeafHash(9).status(), absl::UnavailableError("store down"));
}

TEST(MerkleTest, LeanTreeWithoutAReaderSaysSo) {
  MerkleTree lean;
  lean.MakeLean(1, 2, nullptr);
  for (int i = 0; i < 8; ++i) lean.Append(HashLeaf(std::to_string(i)));
  EXPECT_THAT(lean.LeafHash(0),
              StatusIs(absl::StatusCode::kInternal, "no reader for evicted tree hashes"));
  EXPECT_THAT(lean.LeafHash(0), HasErrorReason("AUDIT_TREE_UNREADABLE"));
}

// A store of leaf hashes for lean trees with eighths: it records each read
// and can hand back wrong eighths.
struct EighthsStore {
  int lean_level = 6;
  std::vector<Hash> leaves;
  std::vector<std::pair<uint64_t, uint64_t>> leaf_reads;
  std::vector<uint64_t> eighth_reads;
  // What ReadEighths returns instead of the true eighths, when set.
  std::optional<absl::StatusOr<std::optional<std::vector<Hash>>>> eighths_override;

  std::vector<Hash> TrueEighths(uint64_t block) const {
    const uint64_t width = uint64_t{1} << (lean_level - kBlockEighthLevels);
    std::vector<Hash> out;
    for (uint64_t e = 0; e < kBlockEighths; ++e) {
      const uint64_t begin = (block << lean_level) + e * width;
      out.push_back(RootOf(absl::MakeConstSpan(leaves).subspan(begin, width)));
    }
    return out;
  }
  LeafHashReader LeafReader() {
    return [this](uint64_t b, uint64_t e) -> absl::StatusOr<std::vector<Hash>> {
      leaf_reads.emplace_back(b, e);
      return std::vector<Hash>(leaves.begin() + b, leaves.begin() + e);
    };
  }
  BlockEighthsReader EighthsReader() {
    return [this](uint64_t block) -> absl::StatusOr<std::optional<std::vector<Hash>>> {
      eighth_reads.push_back(block);
      if (eighths_override.has_value()) return *eighths_override;
      return TrueEighths(block);
    };
  }
  // A lean tree reading from this store (recent window 64) over `n` new
  // leaves, which `also`, if given, gets too.
  MerkleTree LeanTree(int n, MerkleTree* also = nullptr) {
    MerkleTree lean;
    lean.MakeLean(lean_level, 64, LeafReader(), EighthsReader());
    for (int i = 0; i < n; ++i) {
      leaves.push_back(HashLeaf(std::to_string(i)));
      if (also != nullptr) also->Append(leaves.back());
      lean.Append(leaves.back());
    }
    return lean;
  }
};

// With its blocks' eighths stored, a lean tree answers every subtree, proof
// and root exactly as the full tree does, at every lean level.
TEST(MerkleTest, LeanTreeWithEighthsAnswersLikeTheFullTree) {
  for (int lean_level : {4, 5, 6}) {
    EighthsStore store{.lean_level = lean_level};
    MerkleTree full;
    MerkleTree lean;
    lean.MakeLean(lean_level, 1, store.LeafReader(), store.EighthsReader());
    for (uint64_t n = 1; n <= 200; ++n) {
      store.leaves.push_back(HashLeaf(std::to_string(n)));
      full.Append(store.leaves.back());
      lean.Append(store.leaves.back());
      ASSERT_EQ(lean.Root(), full.Root()) << n;
    }
    for (uint64_t m = 1; m <= 200; m += 7) {
      for (uint64_t i = 0; i < m; ++i) {
        ASSERT_EQ(*InclusionProof(lean, i, m), *InclusionProof(full, i, m))
            << "level " << lean_level << " leaf " << i << " size " << m;
      }
      ASSERT_EQ(*ConsistencyProof(lean, m, 200), *ConsistencyProof(full, m, 200));
    }
    for (uint64_t i = 0; i < 200; ++i) ASSERT_EQ(*lean.LeafHash(i), store.leaves[i]);
    EXPECT_FALSE(store.eighth_reads.empty()) << lean_level;
  }
}

// A proof of an old leaf reads its block's eighths and the leaf hashes of
// its own eighth only: 8 of the block's 64 at lean level 6.
TEST(MerkleTest, AProofOfAnOldLeafReadsOneEighthOfItsBlock) {
  EighthsStore store;
  MerkleTree full;
  MerkleTree lean = store.LeanTree(1000, &full);
  for (uint64_t leaf : {5u, 77u, 300u, 701u}) {
    store.leaf_reads.clear();
    store.eighth_reads.clear();
    auto proof = InclusionProof(lean, leaf, 1000);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(*proof, *InclusionProof(full, leaf, 1000));
    EXPECT_TRUE(VerifyInclusion(leaf, 1000, store.leaves[leaf], *proof, full.Root()).ok());
    const uint64_t eighth = leaf / 8 * 8;
    EXPECT_THAT(store.leaf_reads, ElementsAre(Pair(eighth, eighth + 8))) << leaf;
    EXPECT_THAT(store.eighth_reads, ElementsAre(leaf / 64)) << leaf;
    // The leaf's own hash, asked for next (as GetInclusionProof does), is
    // already read.
    EXPECT_EQ(*lean.LeafHash(leaf), store.leaves[leaf]);
    EXPECT_EQ(store.leaf_reads.size(), 1u);
  }
  // A second eighth of the same block: the reader is going through the
  // block, which is then read whole, once.
  store.leaf_reads.clear();
  EXPECT_EQ(*lean.LeafHash(700), store.leaves[700]);
  EXPECT_EQ(*lean.LeafHash(690), store.leaves[690]);
  EXPECT_EQ(*lean.LeafHash(650), store.leaves[650]);
  EXPECT_THAT(store.leaf_reads, ElementsAre(Pair(640, 704)));
}

// Eighths the store does not keep, or keeps wrong, are passed over for the
// whole block: the answers stay those of the verified tree.
TEST(MerkleTest, MissingOrWrongEighthsAreReadPastToTheWholeBlock) {
  Hash wrong{};
  wrong[0] = 1;
  const std::vector<absl::StatusOr<std::optional<std::vector<Hash>>>> bad = {
      std::optional<std::vector<Hash>>(),                             // none stored
      std::optional<std::vector<Hash>>(std::vector<Hash>(8, wrong)),  // not the block's
      std::optional<std::vector<Hash>>(std::vector<Hash>(7, wrong)),  // too few
  };
  for (size_t k = 0; k < bad.size(); ++k) {
    EighthsStore store;
    MerkleTree full;
    MerkleTree lean = store.LeanTree(300, &full);
    store.eighths_override = bad[k];
    auto proof = InclusionProof(lean, 70, 300);
    ASSERT_TRUE(proof.ok()) << k << ": " << proof.status();
    EXPECT_EQ(*proof, *InclusionProof(full, 70, 300)) << k;
    EXPECT_THAT(store.leaf_reads, ElementsAre(Pair(64, 128))) << k;
  }
  // A store that cannot answer fails the read: nothing is guessed.
  EighthsStore store;
  MerkleTree lean = store.LeanTree(300);
  store.eighths_override = absl::UnavailableError("store down");
  EXPECT_EQ(lean.LeafHash(70).status(), absl::UnavailableError("store down"));
  EXPECT_TRUE(store.leaf_reads.empty());
}

// Stored leaf hashes altered under true eighths are refused, naming the
// eighth read.
TEST(MerkleTest, AnAlteredLeafUnderItsEighthIsRefused) {
  EighthsStore store;
  MerkleTree lean = store.LeanTree(300);
  const std::vector<Hash> eighths = store.TrueEighths(1);
  store.eighths_override = std::optional<std::vector<Hash>>(eighths);
  store.leaves[75] = HashLeaf("altered in the store");
  absl::StatusOr<Hash> h = lean.LeafHash(77);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(h.status().message(),
            "leaf index 72: stored leaf hashes 72-79 do not match the verified log");
  EXPECT_THAT(h, HasErrorReason("AUDIT_LOG_TAMPERED"));
  EXPECT_THAT(h, HasErrorMetadata("leaf_index", "72"));
}

// The eighths of the blocks no checkpoint has stored stay in memory for the
// next one, beyond the recent window, until released.
TEST(MerkleTest, EighthsAreKeptUntilReleased) {
  EighthsStore store;
  MerkleTree plain;
  plain.MakeLean(6, 64, store.LeafReader());
  MerkleTree lean = store.LeanTree(1000, &plain);
  // Blocks 0-14 are full; 15 is not.
  for (uint64_t b = 0; b < 15; ++b) EXPECT_EQ(lean.KeptEighths(b), store.TrueEighths(b)) << b;
  EXPECT_TRUE(lean.KeptEighths(15).empty());
  EXPECT_TRUE(plain.KeptEighths(0).empty());  // no eighths reader: none kept
  // 8 more hashes for each of blocks 0-13, which the recent window (from
  // block 14 on) no longer holds; the rest as the plain tree.
  EXPECT_EQ(lean.hashes_in_memory() - plain.hashes_in_memory(), 8u * 14);
  lean.ReleaseEighths(10);
  EXPECT_TRUE(lean.KeptEighths(9).empty());
  EXPECT_EQ(lean.KeptEighths(10), store.TrueEighths(10));
  EXPECT_EQ(lean.hashes_in_memory() - plain.hashes_in_memory(), 8u * 4);
  lean.ReleaseEighths(UINT64_MAX);
  EXPECT_EQ(lean.hashes_in_memory(), plain.hashes_in_memory());
}

// A tree from a checkpoint's blocks has no eighths in memory for them (the
// store has), and keeps those of the blocks completed after them.
TEST(MerkleTest, ATreeFromBlocksKeepsTheEighthsOfNewBlocks) {
  EighthsStore store;
  MerkleTree full;
  for (int i = 0; i < 640; ++i) {
    store.leaves.push_back(HashLeaf(std::to_string(i)));
    full.Append(store.leaves.back());
  }
  std::vector<Hash> blocks;
  for (uint64_t b = 0; b < 10; ++b) blocks.push_back(*full.FullSubtree(6, b));
  MerkleTree lean =
      MerkleTree::FromBlocks(6, blocks, 64, store.LeafReader(), store.EighthsReader());
  for (int i = 640; i < 800; ++i) {
    store.leaves.push_back(HashLeaf(std::to_string(i)));
    full.Append(store.leaves.back());
    lean.Append(store.leaves.back());
  }
  EXPECT_EQ(lean.Root(), full.Root());
  EXPECT_TRUE(lean.KeptEighths(9).empty());
  EXPECT_EQ(lean.KeptEighths(10), store.TrueEighths(10));
  EXPECT_EQ(lean.KeptEighths(11), store.TrueEighths(11));
  EXPECT_TRUE(lean.KeptEighths(12).empty());  // 768-799: not full
  EXPECT_EQ(*InclusionProof(lean, 3, 800), *InclusionProof(full, 3, 800));
  EXPECT_THAT(store.leaf_reads, ElementsAre(Pair(0, 8)));
}

}  // namespace
}  // namespace kinex::audit
