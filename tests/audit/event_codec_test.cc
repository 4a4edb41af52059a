// The canonical event encoding, event validation and child pseudonyms.
#include "services/audit/event_codec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/merkle.h"
#include "tests/audit/test_events.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::kNhsA;
using ::kinex::audit::testing::kNhsB;
using ::kinex::audit::testing::SampleEvent;
using ::testing::HasSubstr;

v1::AuditEvent Pseudonymised(v1::AuditEvent e) {
  auto p = testing::TestPseudonymizer();
  EXPECT_TRUE(PseudonymizeChildren(*p, e).ok());
  e.mutable_time()->set_seconds(1788249600);
  e.mutable_time()->set_nanos(5000);
  return e;
}

constexpr char kGolden[] =
    "ab3b0f9d397e8aa93b10ff8864c5c2b5d8f8b9306f5116203865195406a3a65b";

TEST(EventCodecTest, RoundTripsEveryField) {
  v1::AuditEvent e = Pseudonymised(SampleEvent("req-1"));
  e.set_consent_id("consent-9");
  e.set_justification("Child missing from school; DSL concerned.");
  e.set_break_glass(true);
  absl::StatusOr<std::string> leaf = EncodeEvent(42, e);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  absl::StatusOr<DecodedLeaf> back = DecodeEvent(*leaf);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->leaf_index, 42u);
  EXPECT_EQ(back->event.SerializeAsString(), e.SerializeAsString());
}

TEST(EventCodecTest, EncodingIsStableAcrossReleases) {
  // Golden hash: if this changes, old logs stop verifying. Never update it
  // without a new encoding version.
  v1::AuditEvent e = Pseudonymised(SampleEvent("req-golden"));
  absl::StatusOr<std::string> leaf = EncodeEvent(3, e);
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(leaf->substr(0, 5), std::string("KXAE\x01"));
  EXPECT_EQ(HashToHex(HashLeaf(*leaf)), kGolden);
}

TEST(EventCodecTest, DecodeRefusesNonCanonicalInput) {
  v1::AuditEvent e = Pseudonymised(SampleEvent("req-1"));
  std::string leaf = *EncodeEvent(1, e);
  EXPECT_EQ(DecodeEvent(leaf + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(DecodeEvent(leaf + "x").status().message(),
              HasSubstr("trailing bytes"));
  EXPECT_THAT(DecodeEvent(leaf.substr(0, leaf.size() - 1)).status().message(),
              HasSubstr("bad method"));
  std::string bad_magic = leaf;
  bad_magic[4] = 2;
  EXPECT_THAT(DecodeEvent(bad_magic).status().message(),
              HasSubstr("bad magic or version"));
  for (size_t cut = 0; cut < leaf.size(); cut += 7) {
    EXPECT_FALSE(DecodeEvent(leaf.substr(0, cut)).ok()) << cut;
  }
}

TEST(EventCodecTest, ValidationNamesTheField) {
  struct Case {
    std::function<void(v1::AuditEvent&)> mutate;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& e) { e.clear_request_id(); }, absl::StatusCode::kInvalidArgument,
       "event.request_id is required"},
      {[](auto& e) { e.set_request_id("has space"); },
       absl::StatusCode::kInvalidArgument, "printable ASCII"},
      {[](auto& e) { e.set_principal("virtual-school/x"); },
       absl::StatusCode::kInvalidArgument, "event.principal must be a SPIFFE ID"},
      {[](auto& e) { e.clear_agency_kind(); }, absl::StatusCode::kInvalidArgument,
       "event.agency_kind is required"},
      {[](auto& e) { e.clear_purpose(); }, absl::StatusCode::kInvalidArgument,
       "event.purpose is required"},
      {[](auto& e) { e.clear_decision(); }, absl::StatusCode::kInvalidArgument,
       "event.decision is required"},
      {[](auto& e) { e.clear_policy_version(); },
       absl::StatusCode::kInvalidArgument, "event.policy_version is required"},
      {[](auto& e) { e.mutable_time()->set_seconds(1); },
       absl::StatusCode::kInvalidArgument, "event.time is output only"},
      {[](auto& e) { e.add_child_pseudonyms("ab"); },
       absl::StatusCode::kInvalidArgument, "child_pseudonyms is output only"},
      {[](auto& e) { e.set_justification(std::string(5000, 'j')); },
       absl::StatusCode::kResourceExhausted, "event.justification is 5000 bytes"},
      {[](auto& e) { e.set_actor("\xff\xfe"); },
       absl::StatusCode::kInvalidArgument, "event.actor is not valid UTF-8"},
  };
  for (const Case& c : cases) {
    v1::AuditEvent e = SampleEvent("req-1");
    c.mutate(e);
    absl::Status s = ValidateAppendEvent(e);
    EXPECT_EQ(s.code(), c.code) << c.message;
    EXPECT_THAT(s.message(), HasSubstr(c.message));
  }
  EXPECT_TRUE(ValidateAppendEvent(SampleEvent("req-1")).ok());
}

TEST(EventCodecTest, PseudonymsAreKeyedAndNeverTheRawIdentifier) {
  auto p = testing::TestPseudonymizer();
  auto other = *ChildPseudonymizer::Create(std::string(32, 'z'));
  kinex::common::v1::ChildRef a;
  a.set_nhs_number(kNhsA);
  kinex::common::v1::ChildRef spaced;
  spaced.set_nhs_number("943 476 5919");
  kinex::common::v1::ChildRef b;
  b.set_nhs_number(kNhsB);
  const std::string pa = *p->Pseudonym(a);
  EXPECT_EQ(pa.size(), 64u);
  EXPECT_EQ(pa, *p->Pseudonym(spaced));
  EXPECT_NE(pa, *p->Pseudonym(b));
  EXPECT_NE(pa, *other->Pseudonym(a));
  EXPECT_EQ(pa.find(kNhsA), std::string::npos);

  v1::AuditEvent e = SampleEvent("req-1");
  e.add_children()->set_kinex_id("kx_7QK2M9TD4P");
  e.add_children()->set_nhs_number("943 476 5919");  // duplicate of the first
  ASSERT_TRUE(PseudonymizeChildren(*p, e).ok());
  EXPECT_EQ(e.children_size(), 0);
  ASSERT_EQ(e.child_pseudonyms_size(), 2);
  EXPECT_LT(e.child_pseudonyms(0), e.child_pseudonyms(1));
  const std::string leaf = *EncodeEvent(0, e);
  EXPECT_EQ(leaf.find(kNhsA), std::string::npos);
  EXPECT_EQ(leaf.find("kx_7QK2M9TD4P"), std::string::npos);

  kinex::common::v1::ChildRef invalid;
  invalid.set_nhs_number("9434765918");
  EXPECT_EQ(p->Pseudonym(invalid).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p->Pseudonym(kinex::common::v1::ChildRef()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChildPseudonymizer::Create("short").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kinex::audit
