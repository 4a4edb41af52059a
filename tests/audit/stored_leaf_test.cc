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

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/record/v1/record.pb.h"
#include "services/audit/event_codec.h"
#include "services/common/record_labels.h"
#include "tests/audit/stored_leaf_forms.h"
#include "tests/testing/status_matchers.h"

namespace kinex::audit {
namespace {

namespace av1 = kinex::audit::v1;
using ::kinex::audit::testing::StoredWithDictionaryOne;
using ::kinex::audit::testing::StoredWithDictionaryTwo;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

std::string Sha256Hex(absl::string_view bytes);

// The canonical leaf of a whole-record disclosure to a social worker: every
// leaf path of ChildRecord, three child pseudonyms, as the gateway appends.
// The pseudonyms are runs of one digit, or with `hashed_pseudonyms` as
// random to zstd as real ones (HMAC-SHA256).
std::string WholeRecordLeaf(uint64_t index, bool hashed_pseudonyms = false) {
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
  std::vector<std::string> pseudonyms;
  for (int i = 0; i < 3; ++i) {
    pseudonyms.push_back(hashed_pseudonyms ? Sha256Hex(absl::StrCat("child ", index, " ", i))
                                           : absl::StrCat(std::string(62, 'c'), index % 10, i));
  }
  std::sort(pseudonyms.begin(), pseudonyms.end());
  for (const std::string& p : pseudonyms) e.add_child_pseudonyms(p);
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

// One bit of each of `stored`'s compressed bytes flipped in turn: refused as
// DATA_LOSS or read as some bytes of `length` (the leaf hash refuses other
// bytes), never a crash or an over-long read; at least one is refused.
void ExpectFlippedBitsRefusedOrOfTheLength(const std::string& stored, size_t length,
                                           absl::Span<const std::string> children = {}) {
  int refused = 0;
  for (size_t i = 9; i < stored.size(); ++i) {
    std::string flipped = stored;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    absl::StatusOr<std::string> read = ExpandLeaf(flipped, children);
    if (!read.ok()) {
      EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
      ++refused;
    } else {
      EXPECT_EQ(read->size(), length) << "byte " << i;
    }
  }
  EXPECT_GT(refused, 0);
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
  EXPECT_TRUE(LeafDictionary(4).empty());
}

TEST(StoredLeafTest, DictionaryTwoIsFrozen) {
  // Leaves stored with dictionary 2 need exactly these bytes: editing
  // services/audit/leaf_dictionary_v2.txt would make them unreadable. Add a
  // dictionary 3 instead.
  EXPECT_EQ(Sha256Hex(LeafDictionary(2)),
            "b387afd59a0526fc438c0e3fb09d3e3c7b42c601774a9ced5e1832aacac98552");
  EXPECT_EQ(LeafDictionary(2).size(), 15044u);
  // Dictionary 1's strings first, then the template leaves.
  EXPECT_TRUE(absl::StartsWith(LeafDictionary(2), LeafDictionary(1)));
  EXPECT_TRUE(absl::StrContains(LeafDictionary(2).substr(LeafDictionary(1).size()),
                                absl::string_view("KXAE\x04", 5)));
}

TEST(StoredLeafTest, DictionaryThreeIsFrozen) {
  // Leaves stored with dictionary 3 need exactly these bytes: editing
  // services/audit/leaf_dictionary_v3.txt would make them unreadable. Add a
  // dictionary 4 instead.
  EXPECT_EQ(Sha256Hex(LeafDictionary(3)),
            "412e2e519e4b03541e88e98e552bcba4eea8b9c5b3ba9176e12af7d6f59e7b5c");
  EXPECT_EQ(LeafDictionary(3).size(), 48837u);
  // Dictionary 2's bytes first, then the product's template leaves.
  EXPECT_TRUE(absl::StartsWith(LeafDictionary(3), LeafDictionary(2)));
}

// The templates are blanked: nothing in dictionary 2 or 3 is a pseudonym, a
// request id, a policy version or any other hex identifier (at least 32 hex
// digits in a row), and no template has a leaf index or a time.
class TemplateDictionaryTest : public ::testing::TestWithParam<std::pair<int, size_t>> {};

TEST_P(TemplateDictionaryTest, HoldsNoIdentifier) {
  const auto [version, expected_templates] = GetParam();
  const absl::string_view d = LeafDictionary(version);
  ASSERT_FALSE(d.empty());
  int run = 0;
  for (char c : d) {
    run = absl::ascii_isxdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    ASSERT_LT(run, 32);
  }
  const std::string zero_index_and_time =
      absl::StrCat(absl::string_view("KXAE\x04", 5), std::string(20, '\0'));
  size_t templates = 0;
  for (size_t at = d.find("KXAE\x04"); at != absl::string_view::npos;
       at = d.find("KXAE\x04", at + 1)) {
    EXPECT_EQ(d.substr(at, 25), zero_index_and_time) << "template at " << at;
    ++templates;
  }
  EXPECT_EQ(templates, expected_templates);
}

// Dictionary 2: the scale benchmark's four shapes; 3: those and the
// product's ten most common.
INSTANTIATE_TEST_SUITE_P(TwoAndThree, TemplateDictionaryTest,
                         ::testing::Values(std::make_pair(2, size_t{4}),
                                           std::make_pair(3, size_t{14})),
                         [](const auto& info) {
                           return absl::StrCat("Dictionary", info.param.first);
                         });

TEST(StoredLeafTest, AWholeRecordDisclosureShrinksAndComesBackByteForByte) {
  const std::string canonical = WholeRecordLeaf(7);
  ASSERT_GT(canonical.size(), 4000u);
  const std::string stored = CompressLeaf(canonical);
  EXPECT_TRUE(absl::StartsWith(stored, absl::string_view("KXAS\x03", 5)));
  // Header (9 bytes) and the zstd frame: the layout and paths
  // are long matches against dictionary 3's templates; what is left is
  // mostly the pseudonyms, request id and policy version. (This leaf, with
  // no lawful bases, matches the product's templates in more pieces than
  // dictionary 2's one whole-record template: 405 bytes against 359.)
  EXPECT_LT(stored.size(), 420u) << "canonical " << canonical.size();
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

TEST(StoredLeafTest, ALeafStoredWithDictionaryOneStillReads) {
  const std::string canonical = WholeRecordLeaf(5);
  const std::string stored = StoredWithDictionaryOne(canonical);
  ASSERT_TRUE(absl::StartsWith(stored, absl::string_view("KXAZ\x01", 5)));
  EXPECT_LT(stored.size(), 700u);
  absl::StatusOr<std::string> back = ExpandLeaf(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, canonical);
  // A magic names its dictionary: dictionary 2 with deflate's magic, or 1
  // with zstd's, is no stored form.
  std::string swapped = stored;
  swapped[4] = 2;
  EXPECT_THAT(ExpandLeaf(swapped), StatusIs(absl::StatusCode::kDataLoss,
                                            "stored audit leaf: unknown dictionary 2 for KXAZ"));
  swapped = CompressLeaf(canonical);
  swapped[4] = 1;
  EXPECT_THAT(ExpandLeaf(swapped), StatusIs(absl::StatusCode::kDataLoss,
                                            "stored audit leaf: unknown dictionary 1 for KXAS"));
}

TEST(StoredLeafTest, ALeafStoredWithDictionaryTwoStillReads) {
  const std::string canonical = WholeRecordLeaf(6);
  const std::string stored = StoredWithDictionaryTwo(canonical);
  ASSERT_TRUE(absl::StartsWith(stored, absl::string_view("KXAS\x02", 5)));
  EXPECT_LT(stored.size(), 400u);
  absl::StatusOr<std::string> back = ExpandLeaf(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, canonical);
  // The byte after the magic picks the dictionary: the same frame read
  // against dictionary 3 (whose bytes begin with dictionary 2's but are
  // longer, so every match offset lands elsewhere) is not this leaf.
  std::string relabelled = stored;
  relabelled[4] = 3;
  absl::StatusOr<std::string> wrong = ExpandLeaf(relabelled);
  if (wrong.ok()) {
    EXPECT_NE(*wrong, canonical);
  } else {
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kDataLoss) << wrong.status();
  }
  // And what is written now names dictionary 3.
  const std::string now = CompressLeaf(canonical);
  EXPECT_TRUE(absl::StartsWith(now, absl::string_view("KXAS\x03", 5)));
  EXPECT_EQ(*ExpandLeaf(now), canonical);
}

// The child pseudonyms of a canonical leaf, sorted and distinct (as the
// store gives them to CompressLeaf and back to ExpandLeaf).
std::vector<std::string> ChildrenOf(absl::string_view canonical) {
  absl::StatusOr<DecodedLeaf> decoded = DecodeEvent(canonical);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  if (!decoded.ok()) return {};
  return {decoded->event.child_pseudonyms().begin(), decoded->event.child_pseudonyms().end()};
}

// Schema version 11: a leaf that names children is stored with each of its
// pseudonyms as its position among them, and reads back byte for byte only
// with the same pseudonyms.
TEST(StoredLeafTest, ALeafNamingChildrenRefersToThemAndNeedsThemBack) {
  const std::string canonical = WholeRecordLeaf(7, /*hashed_pseudonyms=*/true);
  const std::vector<std::string> children = ChildrenOf(canonical);
  ASSERT_EQ(children.size(), 3u);
  const std::string stored = CompressLeaf(canonical, children);
  EXPECT_TRUE(absl::StartsWith(stored, absl::string_view("KXAR\x03", 5)));
  // Each pseudonym's 32 bytes become a header byte and its position.
  const std::string without = CompressLeaf(canonical);
  EXPECT_LE(stored.size() + 3 * 29, without.size()) << stored.size() << " " << without.size();
  absl::StatusOr<std::string> back = ExpandLeaf(stored, children);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, canonical);

  // Without its children, or with one too few, it is refused, naming the
  // run (the policy version is run 0; the pseudonyms are runs 1-3).
  EXPECT_THAT(ExpandLeaf(stored),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: run 1 names child pseudonym 0 of "
                       "the entry's 0"));
  EXPECT_THAT(ExpandLeaf(stored), HasErrorReason("AUDIT_INDEX_TAMPERED"));
  EXPECT_THAT(ExpandLeaf(stored, absl::MakeConstSpan(children).first(2)),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: run 3 names child pseudonym 2 of "
                       "the entry's 2"));
  // With another pseudonym in a child's place it reads as other bytes of the
  // same length: the leaf hash refuses them (StoredLeafReferencesTest in
  // tamper_test.cc).
  std::vector<std::string> other = children;
  other[1] = std::string(64, 'e');
  absl::StatusOr<std::string> wrong = ExpandLeaf(stored, other);
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_NE(*wrong, canonical);
  EXPECT_EQ(wrong->size(), canonical.size());

  // Only "KXAR" refers, and only with dictionary 3: relabelled "KXAS", the
  // same frame refers to nothing it is given.
  std::string relabelled = stored;
  relabelled[3] = 'S';
  EXPECT_THAT(ExpandLeaf(relabelled, children),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: run 1 names child pseudonym 0 of "
                       "the entry's 0"));
  relabelled = stored;
  relabelled[4] = 2;
  EXPECT_THAT(
      ExpandLeaf(relabelled, children),
      StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: unknown dictionary 2 for KXAR"));

  // A flipped bit is refused or reads as bytes of the length claimed, never
  // past them (ASan in CI).
  ExpectFlippedBitsRefusedOrOfTheLength(stored, canonical.size(), children);
}

TEST(StoredLeafTest, ChildrenTheLeafDoesNotNameChangeNothing) {
  const std::string canonical = WholeRecordLeaf(8);
  const std::string stored = CompressLeaf(canonical, {std::string(64, 'e')});
  EXPECT_EQ(stored, CompressLeaf(canonical));
  EXPECT_TRUE(absl::StartsWith(stored, absl::string_view("KXAS\x03", 5)));
  EXPECT_EQ(*ExpandLeaf(stored, {std::string(64, 'e')}), canonical);
}

// Every stored form: what a store from before dictionary 2 holds, from
// before dictionary 3, and what is written now.
struct DamageCase {
  std::string name;
  std::string (*store)(absl::string_view canonical);
  absl::string_view magic;
  absl::string_view expands;  // "inflates" or "decompresses"
  absl::string_view garbled;  // the error for a payload cut short
};

class DamagedStoredLeafTest : public ::testing::TestWithParam<DamageCase> {};

TEST_P(DamagedStoredLeafTest, IsDataLoss) {
  const DamageCase& c = GetParam();
  const std::string canonical = WholeRecordLeaf(11);
  const std::string stored = c.store(canonical);
  ASSERT_TRUE(absl::StartsWith(stored, c.magic));

  EXPECT_THAT(
      ExpandLeaf(stored.substr(0, 7)),
      StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: compressed header cut short"));

  std::string unknown = stored;
  unknown[4] = 4;
  EXPECT_THAT(ExpandLeaf(unknown),
              StatusIs(absl::StatusCode::kDataLoss,
                       absl::StrCat("stored audit leaf: unknown dictionary 4 for ", c.magic)));

  std::string huge = stored;
  huge[5] = '\x7f';  // claims about 2 GB
  EXPECT_THAT(ExpandLeaf(huge),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("more than the 67108864")));

  std::string longer = stored;
  longer[8] = static_cast<char>(longer[8] + 1);
  EXPECT_THAT(ExpandLeaf(longer),
              StatusIs(absl::StatusCode::kDataLoss,
                       absl::StrCat("stored audit leaf: ", c.expands, " to ", canonical.size(),
                                    " bytes, not the ", canonical.size() + 1, " it claims")));
  std::string shorter = stored;
  shorter[8] = static_cast<char>(shorter[8] - 1);
  EXPECT_THAT(ExpandLeaf(shorter), StatusIs(absl::StatusCode::kDataLoss));

  EXPECT_THAT(ExpandLeaf(stored.substr(0, stored.size() - 3)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(c.garbled)));
  EXPECT_THAT(ExpandLeaf(absl::StrCat(stored, "x")),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: trailing bytes after the compressed leaf"));

  // A flipped bit in the compressed bytes is refused as DATA_LOSS or reads
  // as some bytes: other bytes, which the leaf hash refuses (tamper_test),
  // or even the same ones (a match that points at an equal run elsewhere, a
  // padding bit). The stored form is not what is verified; the canonical
  // bytes are. Never a crash or an over-long read (ASan in CI).
  ExpectFlippedBitsRefusedOrOfTheLength(stored, canonical.size());
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, DamagedStoredLeafTest,
    ::testing::Values(DamageCase{"DictionaryOne", &StoredWithDictionaryOne, "KXAZ", "inflates",
                                 "stored audit leaf: the compressed bytes do not inflate"},
                      DamageCase{"DictionaryTwo", &StoredWithDictionaryTwo, "KXAS", "decompresses",
                                 "stored audit leaf: the compressed bytes do not decompress"},
                      DamageCase{"DictionaryThree",
                                 [](absl::string_view c) { return CompressLeaf(c); }, "KXAS",
                                 "decompresses",
                                 "stored audit leaf: the compressed bytes do not decompress"}),
    [](const ::testing::TestParamInfo<DamageCase>& info) { return info.param.name; });

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// The identifiers' digits leave the text and follow it in binary, at the
// exact offsets the header names.
TEST(PackIdentifiersTest, PacksEachHexStringAndUnpacksByteForByte) {
  const std::string canonical = absl::StrCat("ab", Bytes({0, 0, 0, 16}), "0123456789abcdef", "z");
  const std::string packed = PackIdentifiers(canonical);
  EXPECT_EQ(packed, absl::StrCat(Bytes({1, 6, 8}), "ab", Bytes({0, 0, 0, 16}), "z",
                                 Bytes({0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef})));
  EXPECT_EQ(*UnpackIdentifiers(packed), canonical);
}

// A run that is one of the children is its position among them: header
// byte 0, then the position, and no digits after the text.
TEST(PackIdentifiersTest, ARunThatIsAChildIsItsPosition) {
  const std::string run = absl::StrCat(Bytes({0, 0, 0, 16}), "0123456789abcdef");
  const std::string canonical = absl::StrCat("ab", run, "z", run);
  const std::vector<std::string> children = {"0000000000000000", "0123456789abcdef"};
  const std::string packed = PackIdentifiers(canonical, children);
  EXPECT_EQ(packed, absl::StrCat(Bytes({2, 6, 0, 1, 5, 0, 1}), "ab", Bytes({0, 0, 0, 16}), "z",
                                 Bytes({0, 0, 0, 16})));
  EXPECT_EQ(*UnpackIdentifiers(packed, children), canonical);
  // Without the children, a position names nothing.
  EXPECT_THAT(UnpackIdentifiers(packed),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: run 0 names child pseudonym 1 of "
                       "the entry's 0"));
  // Nor is a "pseudonym" no run could have been expanded into it.
  EXPECT_THAT(UnpackIdentifiers(packed, {"0", std::string(130, 'a')}),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: run 0 names child pseudonym 1 of "
                       "the entry's 2, which has 130 characters"));
  EXPECT_THAT(
      UnpackIdentifiers(Bytes({1, 0, 0})),
      StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: identifier runs: run 0 cut short"));
}

TEST(PackIdentifiersTest, EdgesRoundTrip) {
  const std::string hex64(64, 'f');
  const std::string run = absl::StrCat(Bytes({0, 0, 0, 64}), hex64);
  const std::vector<std::pair<std::string, int>> cases = {
      {"", 0},
      {run, 1},                                                         // at the start and the end
      {absl::StrCat(run, run, run), 3},                                 // adjacent
      {absl::StrCat(Bytes({0, 0, 0, 0}), run), 1},                      // after a zero length
      {absl::StrCat(Bytes({0, 0, 0, 64}), std::string(64, 'F')), 0},    // upper case
      {absl::StrCat(Bytes({0, 0, 0, 15}), std::string(15, 'a')), 0},    // odd
      {absl::StrCat(Bytes({0, 0, 0, 14}), std::string(14, 'a')), 0},    // too short
      {absl::StrCat(Bytes({0, 0, 0, 130}), std::string(130, 'a')), 0},  // too long
      {absl::StrCat(Bytes({0, 0, 1, 0}), std::string(256, 'a')), 0},    // too long
      {absl::StrCat(Bytes({0, 0, 0, 64}), std::string(63, 'a')), 0},    // cut short
      {absl::StrCat(Bytes({0, 0, 0, 32}), std::string(31, 'a'), "g"), 0},  // not hex
      {absl::StrCat(Bytes({0, 0, 0, 128}), std::string(128, '0')), 1},
  };
  for (const auto& [canonical, runs] : cases) {
    const std::string packed = PackIdentifiers(canonical);
    EXPECT_EQ(static_cast<int>(packed[0]), runs) << absl::BytesToHexString(canonical);
    absl::StatusOr<std::string> back = UnpackIdentifiers(packed);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, canonical);
  }
}

TEST(PackIdentifiersTest, AWholeRecordDisclosureLosesHalfItsDigits) {
  // The policy version and three pseudonyms, 64 digits each (this leaf has
  // no chain links; its request id has an odd number of digits, and stays).
  // The header: the count, then the policy version's gap (after the paths
  // and withheld: two varint bytes) and length, then each pseudonym's (one
  // each: 8 and 4 bytes after the previous run).
  const std::string canonical = WholeRecordLeaf(4);
  const std::string packed = PackIdentifiers(canonical);
  EXPECT_EQ(static_cast<int>(packed[0]), 4);
  EXPECT_EQ(packed.size(), canonical.size() - 4 * 32 + 1 + (2 + 1) + 3 * (1 + 1));
  EXPECT_EQ(*UnpackIdentifiers(packed), canonical);
}

TEST(PackIdentifiersTest, WhatPackingCannotHaveMadeIsDataLoss) {
  EXPECT_THAT(UnpackIdentifiers(""), StatusIs(absl::StatusCode::kDataLoss,
                                              "stored audit leaf: identifier runs: bad count"));
  EXPECT_THAT(
      UnpackIdentifiers(Bytes({0x80, 0x80, 0x80, 0x80, 0x01})),
      StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: identifier runs: bad count"));
  EXPECT_THAT(
      UnpackIdentifiers(Bytes({5, 0, 8})),
      StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: identifier runs: bad count"));
  EXPECT_THAT(
      UnpackIdentifiers(Bytes({1, 0})),
      StatusIs(absl::StatusCode::kDataLoss, "stored audit leaf: identifier runs: run 0 cut short"));
  EXPECT_THAT(UnpackIdentifiers(absl::StrCat(Bytes({1, 0, 7}), std::string(7, 'x'))),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: run 0 of 7 bytes"));
  EXPECT_THAT(UnpackIdentifiers(absl::StrCat(Bytes({1, 0, 65}), std::string(65, 'x'))),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: run 0 of 65 bytes"));
  EXPECT_THAT(UnpackIdentifiers(absl::StrCat(Bytes({1, 0, 8}), std::string(7, 'x'))),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: more than the bytes"));
  EXPECT_THAT(UnpackIdentifiers(absl::StrCat(Bytes({1, 3, 8}), "ab", std::string(8, 'x'))),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored audit leaf: identifier runs: a gap past the end"));
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
