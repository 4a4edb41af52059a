// The stored form of audit leaves (services/audit/stored_leaf.h): a
// whole-record disclosure shrinks and comes back byte for byte; what would
// not shrink, and every leaf stored before compression, is kept as it is;
// the frozen dictionary is pinned; a damaged or oversized stored leaf is
// DATA_LOSS, never a different leaf read silently (a payload edit that still
// inflates is left to the leaf hash, as for an uncompressed leaf).
#include "services/audit/stored_leaf.h"

#include <openssl/sha.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/record/v1/record.pb.h"
#include "services/audit/event_codec.h"
#include "services/common/record_labels.h"
#include "tests/testing/status_matchers.h"

namespace kinex::audit {
namespace {

namespace av1 = kinex::audit::v1;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

// The canonical leaf of a whole-record disclosure to a social worker: every
// leaf path of ChildRecord, three child pseudonyms, as the gateway appends.
std::string WholeRecordLeaf(uint64_t index) {
  av1::AuditEvent e;
  e.set_kind(av1::DISCLOSURE);
  e.set_request_id(absl::StrCat("5f0c8e1a9b3d4c2e8f7a6b5c4d3e2f", index % 100));
  e.set_principal("spiffe://kinex.dev/local-authority/E09000033/social-worker");
  e.set_agency_kind(kinex::common::v1::LOCAL_AUTHORITY);
  e.set_agency_code("E09000033");
  e.set_actor("j.smith");
  e.set_purpose(kinex::common::v1::CARE_PLANNING);
  e.set_decision(av1::ALLOW);
  e.set_policy_version(std::string(64, 'a'));
  e.set_method("GetChildRecord");
  std::vector<std::string> paths;
  for (const LabelledField& f : LabelledFields(kinex::record::v1::ChildRecord::descriptor())) {
    paths.push_back(f.path);
  }
  std::sort(paths.begin(), paths.end());
  for (const std::string& p : paths) e.add_disclosed_paths(p);
  for (int i = 0; i < 3; ++i) {
    e.add_child_pseudonyms(absl::StrCat(std::string(62, 'c'), index % 10, i));
  }
  e.mutable_time()->set_seconds(1795000000 + static_cast<int64_t>(index));
  absl::StatusOr<std::string> leaf = EncodeEvent(index, e);
  EXPECT_TRUE(leaf.ok()) << leaf.status();
  return leaf.ok() ? *leaf : std::string();
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(d), sizeof(d)));
}

TEST(StoredLeafTest, DictionaryOneIsFrozen) {
  // Leaves stored with dictionary 1 need exactly these bytes: editing
  // services/audit/leaf_dictionary_v1.txt would make them unreadable. Add a
  // dictionary 2 instead.
  EXPECT_EQ(Sha256Hex(LeafDictionary(1)),
            "f506b56e10e397160e049e0cfb4af9b80e85976fab6d19a8f35b7a5f3ff8e573");
  EXPECT_EQ(LeafDictionary(1).size(), 5351u);
  // Strings as the canonical encoding writes them: u32 length, bytes.
  EXPECT_TRUE(absl::StartsWith(LeafDictionary(1), absl::string_view("\0\0\0\x0f"
                                                                    "AckNotification",
                                                                    19)));
  EXPECT_TRUE(LeafDictionary(0).empty());
  EXPECT_TRUE(LeafDictionary(2).empty());
}

TEST(StoredLeafTest, AWholeRecordDisclosureShrinksAndComesBackByteForByte) {
  const std::string canonical = WholeRecordLeaf(7);
  ASSERT_GT(canonical.size(), 4000u);
  const std::string stored = CompressLeaf(canonical);
  EXPECT_TRUE(absl::StartsWith(stored, absl::string_view("KXAZ\x01", 5)));
  // Header (9 bytes) and the deflated leaf: the paths are one long match
  // against the dictionary; what is left is mostly the pseudonyms, request
  // id and policy version.
  EXPECT_LT(stored.size(), 700u) << "canonical " << canonical.size();
  absl::StatusOr<std::string> back = ExpandLeaf(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, canonical);
  // And the event decodes from it, so everything an auditor asks is there.
  absl::StatusOr<DecodedLeaf> decoded = DecodeEvent(*back);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->event.disclosed_paths_size(),
            static_cast<int>(LabelledFields(kinex::record::v1::ChildRecord::descriptor()).size()));
}

TEST(StoredLeafTest, WhatCompressionWouldNotShrinkIsStoredAsItIs) {
  EXPECT_EQ(CompressLeaf(""), "");
  EXPECT_EQ(CompressLeaf("KXAE"), "KXAE");
  // 200 bytes that deflate cannot shrink (no repeats, not in the dictionary).
  std::string noise = "KXAE";
  uint32_t x = 2463534242u;
  for (int i = 0; i < 200; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    noise.push_back(static_cast<char>(x & 0xff));
  }
  EXPECT_EQ(CompressLeaf(noise), noise);
  EXPECT_EQ(*ExpandLeaf(noise), noise);
}

TEST(StoredLeafTest, ALeafStoredBeforeCompressionReadsAsItIs) {
  const std::string canonical = WholeRecordLeaf(3);
  EXPECT_EQ(*ExpandLeaf(canonical), canonical);
  EXPECT_EQ(*ExpandLeaf("leaf-1"), "leaf-1");
}

TEST(StoredLeafTest, ADamagedStoredLeafIsDataLoss) {
  const std::string canonical = WholeRecordLeaf(11);
  const std::string stored = CompressLeaf(canonical);
  ASSERT_TRUE(absl::StartsWith(stored, "KXAZ"));

  EXPECT_THAT(
      ExpandLeaf(stored.substr(0, 7)),
      StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: compressed header cut short"));

  std::string unknown = stored;
  unknown[4] = 2;
  EXPECT_THAT(ExpandLeaf(unknown),
              StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: unknown dictionary 2"));

  std::string huge = stored;
  huge[5] = '\x7f';  // claims about 2 GB
  EXPECT_THAT(ExpandLeaf(huge),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("more than the 67108864")));

  std::string longer = stored;
  longer[8] = static_cast<char>(longer[8] + 1);
  EXPECT_THAT(ExpandLeaf(longer),
              StatusIs(absl::StatusCode::kDataLoss,
                       absl::StrCat("stored audit leaf: inflates to ", canonical.size(),
                                    " bytes, not the ", canonical.size() + 1, " it claims")));
  std::string shorter = stored;
  shorter[8] = static_cast<char>(shorter[8] - 1);
  EXPECT_THAT(ExpandLeaf(shorter), StatusIs(absl::StatusCode::kDataLoss));

  EXPECT_THAT(ExpandLeaf(stored.substr(0, stored.size() - 3)),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: the compressed bytes do not inflate"));
  EXPECT_THAT(ExpandLeaf(absl::StrCat(stored, "x")),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: trailing bytes after the compressed leaf"));

  // A flipped bit in the deflated bytes is refused as DATA_LOSS or reads as
  // some bytes: other bytes, which the leaf hash refuses (tamper_test), or
  // even the same ones (a match that points at an equal run elsewhere, a
  // padding bit). The stored form is not what is verified; the canonical
  // bytes are. Never a crash or an over-long read (ASan in CI).
  int refused = 0;
  for (size_t i = 9; i < stored.size(); ++i) {
    std::string flipped = stored;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    absl::StatusOr<std::string> read = ExpandLeaf(flipped);
    if (!read.ok()) {
      EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
      ++refused;
    } else {
      EXPECT_EQ(read->size(), canonical.size()) << "byte " << i;
    }
  }
  EXPECT_GT(refused, 0);
}

// Each thread has its own streams: concurrent use gives every caller its own
// leaf (run under TSan in CI).
TEST(StoredLeafTest, ConcurrentCompressionAndExpansion) {
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 50; ++i) {
        const std::string canonical = WholeRecordLeaf(static_cast<uint64_t>(t * 1000 + i));
        absl::StatusOr<std::string> back = ExpandLeaf(CompressLeaf(canonical));
        if (!back.ok() || *back != canonical) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_THAT(failures, ::testing::Each(0));
}

}  // namespace
}  // namespace kinex::audit
