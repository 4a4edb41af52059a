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
constexpr char kGoldenV2[] =
    "2d40238e41e33ac58d20a975d200919b287d8c8d29ac2575272b467e0258908d";

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
  e.clear_kind();  // version 1 predates kinds
  absl::StatusOr<std::string> leaf = EncodeEventV1(3, e);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->substr(0, 5), std::string("KXAE\x01"));
  EXPECT_EQ(HashToHex(HashLeaf(*leaf)), kGolden);
  // Version-1 leaves still decode, as version 1, and re-encode identically.
  absl::StatusOr<DecodedLeaf> back = DecodeEvent(*leaf);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, 1);
  EXPECT_EQ(back->event.kind(), v1::EVENT_KIND_UNSPECIFIED);
  EXPECT_EQ(back->event.SerializeAsString(), e.SerializeAsString());
}

TEST(EventCodecTest, Version2GoldenCoversEveryField) {
  v1::AuditEvent base = SampleEvent("req-golden");
  base.add_children()->set_kinex_id("kx_7QK2M9TD4P");
  v1::AuditEvent e = Pseudonymised(base);
  ASSERT_EQ(e.child_pseudonyms_size(), 2);
  e.set_kind(v1::PART_PUBLISHED);
  e.add_written_paths("education.attendance_summary");
  e.add_written_paths("education.exclusions");
  e.set_part_version(7);
  e.set_part_etag("etag-7");
  e.set_refusal("FAILED_PRECONDITION: stale etag");
  e.set_query("child=abc kinds=PART_PUBLISHED");
  e.set_result_count(12);
  e.set_subject_agency("school/100001");
  e.set_idempotency_key("write-42");
  e.set_record_id("consent-1");
  for (int i = 0; i < e.child_pseudonyms_size(); ++i) {
    auto* link = e.add_child_chain();
    link->set_pseudonym(e.child_pseudonyms(i));
    link->set_previous_leaf_index(i == 0 ? -1 : 2);
  }
  e.set_previous_agency_leaf_index(1);
  absl::StatusOr<std::string> leaf = EncodeEvent(3, e);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->substr(0, 5), std::string("KXAE\x02"));
  EXPECT_EQ(HashToHex(HashLeaf(*leaf)), kGoldenV2);
  absl::StatusOr<DecodedLeaf> back = DecodeEvent(*leaf);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, 2);
  EXPECT_EQ(back->event.SerializeAsString(), e.SerializeAsString());
  // Version 1 cannot hold these fields.
  absl::Status v1 = EncodeEventV1(3, e).status();
  EXPECT_EQ(v1.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v1.message(),
            "event has fields the version-1 encoding cannot hold (kind and later)");
  // Links out of pseudonym order are not canonical.
  e.mutable_child_chain()->SwapElements(0, 1);
  EXPECT_EQ(EncodeEvent(3, e).status().message(),
            "event.child_chain must be sorted by pseudonym and distinct");
}

TEST(EventCodecTest, DecodeRefusesNonCanonicalInput) {
  v1::AuditEvent e = Pseudonymised(SampleEvent("req-1"));
  std::string leaf = *EncodeEvent(1, e);
  EXPECT_EQ(DecodeEvent(leaf + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(DecodeEvent(leaf + "x").status().message(),
              HasSubstr("trailing bytes"));
  EXPECT_THAT(DecodeEvent(leaf.substr(0, leaf.size() - 1)).status().message(),
              HasSubstr("truncated previous_agency_leaf_index"));
  std::string bad_magic = leaf;
  bad_magic[4] = 3;
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
      {[](auto& e) { e.clear_kind(); }, absl::StatusCode::kInvalidArgument,
       "event.kind: required"},
      {[](auto& e) { e.set_kind(static_cast<v1::EventKind>(99)); },
       absl::StatusCode::kInvalidArgument, "event.kind: unknown value 99"},
      {[](auto& e) { e.add_child_chain()->set_pseudonym("ab"); },
       absl::StatusCode::kInvalidArgument,
       "event.child_chain is output only: the log sets it"},
      {[](auto& e) { e.set_previous_agency_leaf_index(4); },
       absl::StatusCode::kInvalidArgument,
       "event.previous_agency_leaf_index is output only: the log sets it"},
      {[](auto& e) { e.set_idempotency_key(std::string(129, 'k')); },
       absl::StatusCode::kInvalidArgument,
       "event.idempotency_key must be at most 128 printable ASCII characters"},
      {[](auto& e) { e.set_idempotency_key("tab\there"); },
       absl::StatusCode::kInvalidArgument,
       "event.idempotency_key must be at most 128 printable ASCII characters"},
      {[](auto& e) {
         e.set_kind(v1::AUDIT_QUERIED);
         e.clear_query();
       },
       absl::StatusCode::kInvalidArgument, "event.query is required"},
      {[](auto& e) {
         e.set_kind(v1::PART_PUBLISHED);
         e.clear_agency_code();
       },
       absl::StatusCode::kInvalidArgument, "event.agency_code is required"},
      {[](auto& e) {
         e.set_kind(v1::WRITE_REFUSED);
         e.clear_request_id();
       },
       absl::StatusCode::kInvalidArgument, "event.request_id is required"},
  };
  for (const Case& c : cases) {
    v1::AuditEvent e = SampleEvent("req-1");
    c.mutate(e);
    absl::Status s = ValidateAppendEvent(e);
    EXPECT_EQ(s.code(), c.code) << c.message;
    EXPECT_THAT(s.message(), HasSubstr(c.message));
  }
  EXPECT_TRUE(ValidateAppendEvent(SampleEvent("req-1")).ok());
  EXPECT_EQ(ValidateAppendEvent([] {
              v1::AuditEvent e = SampleEvent("req-1");
              e.clear_kind();
              return e;
            }()),
            absl::InvalidArgumentError("event.kind: required"));
  // Write kinds need no purpose, decision or policy version.
  for (v1::EventKind kind :
       {v1::PART_PUBLISHED, v1::WRITE_REFUSED, v1::CONSENT_RECORDED,
        v1::CONSENT_WITHDRAWN, v1::SHARING_AGREEMENT_CREATED,
        v1::RESPONSIBILITY_TRANSFERRED, v1::LINK_CLAIMED, v1::LINK_CONFIRMED,
        v1::LINK_REJECTED}) {
    v1::AuditEvent e = SampleEvent("req-1");
    e.set_kind(kind);
    e.clear_purpose();
    e.clear_decision();
    e.clear_policy_version();
    e.set_idempotency_key("write key 1");
    EXPECT_TRUE(ValidateAppendEvent(e).ok()) << v1::EventKind_Name(kind);
    EXPECT_TRUE(IsWriteKind(kind));
  }
  EXPECT_FALSE(IsWriteKind(v1::DISCLOSURE));
  // A disclosure still needs them.
  v1::AuditEvent disclosure = SampleEvent("req-1");
  disclosure.clear_purpose();
  EXPECT_EQ(ValidateAppendEvent(disclosure),
            absl::InvalidArgumentError("event.purpose is required"));
  // An auditor query by a Kinex service has no agency.
  v1::AuditEvent queried;
  queried.set_kind(v1::AUDIT_QUERIED);
  queried.set_request_id("q-1");
  queried.set_principal("spiffe://kinex.dev/service/gateway");
  queried.set_query("all");
  EXPECT_TRUE(ValidateAppendEvent(queried).ok());
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
