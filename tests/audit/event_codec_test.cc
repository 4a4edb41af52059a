// The canonical event encoding, event validation and child pseudonyms.
#include "services/audit/event_codec.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/merkle.h"
#include "tests/audit/test_events.h"
#include "tests/testing/status_matchers.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::testing::kNhsA;
using ::kinex::audit::testing::kNhsB;
using ::kinex::audit::testing::SampleEvent;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

// The field an event validation message names first ("event.kind: ...",
// "event.request_id is required").
std::string FieldOf(absl::string_view message) {
  return std::string(message.substr(0, message.find_first_of(" :")));
}

v1::AuditEvent Pseudonymised(v1::AuditEvent e) {
  auto p = testing::TestPseudonymizer();
  EXPECT_TRUE(PseudonymizeChildren(*p, e).ok());
  e.mutable_time()->set_seconds(1788249600);
  e.mutable_time()->set_nanos(5000);
  return e;
}

constexpr char kGolden[] = "ab3b0f9d397e8aa93b10ff8864c5c2b5d8f8b9306f5116203865195406a3a65b";
constexpr char kGoldenV2[] = "2d40238e41e33ac58d20a975d200919b287d8c8d29ac2575272b467e0258908d";

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
  absl::StatusOr<std::string> leaf = EncodeEventV2(3, e);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->substr(0, 5), std::string("KXAE\x02"));
  EXPECT_EQ(HashToHex(HashLeaf(*leaf)), kGoldenV2);
  absl::StatusOr<DecodedLeaf> back = DecodeEvent(*leaf);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, 2);
  EXPECT_EQ(back->event.SerializeAsString(), e.SerializeAsString());
  // Version 1 cannot hold these fields.
  absl::Status v1 = EncodeEventV1(3, e).status();
  EXPECT_THAT(v1, StatusIs(absl::StatusCode::kInvalidArgument,
                           "event has fields the version-1 encoding cannot hold (kind and later)"));
  EXPECT_THAT(v1, HasErrorReason("AUDIT_ENCODING_UNSUPPORTED"));
  EXPECT_THAT(v1, HasErrorMetadata("version", "1"));
  // Version 2 cannot hold the lawful basis.
  v1::AuditEvent later = e;
  later.set_stated_function("Children Act 1989 s22(3A)");
  EXPECT_THAT(EncodeEventV2(3, later), StatusIs(absl::StatusCode::kInvalidArgument,
                                                "event has fields the version-2 encoding "
                                                "cannot hold (lawful_bases and later)"));
  EXPECT_THAT(EncodeEventV2(3, later), HasErrorReason("AUDIT_ENCODING_UNSUPPORTED"));
  EXPECT_THAT(EncodeEventV2(3, later), HasErrorMetadata("version", "2"));
  EXPECT_EQ(EncodeEventV1(3, later).status().code(), absl::StatusCode::kInvalidArgument);
  // Links out of pseudonym order are not canonical.
  e.mutable_child_chain()->SwapElements(0, 1);
  EXPECT_EQ(EncodeEvent(3, e).status().message(),
            "event.child_chain must be sorted by pseudonym and distinct");
}

// Every field of version 3, with non-default values.
v1::AuditEvent Version3Event() {
  v1::AuditEvent e = Pseudonymised(SampleEvent("req-golden"));
  e.set_kind(v1::SHIELD_SET);
  e.set_record_id("sd_0123456789abcdef");
  e.set_subject_agency("school/100001");
  auto* basis = e.add_lawful_bases();
  basis->set_controller_kind(kinex::common::v1::LOCAL_AUTHORITY);
  basis->set_controller_code("E09000033");
  basis->set_regime(kinex::common::v1::UK_GDPR);
  basis->set_article6(kinex::common::v1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST);
  basis->set_annex1_condition(kinex::common::v1::ANNEX1_PUBLIC_BODY_REQUEST);
  basis->set_special_category_condition(
      kinex::common::v1::SAFEGUARDING_OF_CHILDREN_AND_INDIVIDUALS_AT_RISK);
  basis->set_criminal_offence_condition(kinex::common::v1::LAW_ENFORCEMENT_SAFEGUARDING_SCH8);
  basis->add_gateways(kinex::common::v1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS);
  basis->add_gateways(kinex::common::v1::CA1989_S22_LOOKED_AFTER_CHILDREN);
  basis->add_citations("UK GDPR Art 6(1)(ea) recognised legitimate interest");
  basis->add_citations("Children Act 2004 s11");
  basis->set_stated_function("Children Act 1989 s22(3A)");
  basis->set_consent_id("consent-1");
  basis->add_categories(3);
  basis->add_categories(7);
  e.add_lawful_bases()->set_controller_code("second");
  e.set_stated_function("Children Act 1989 s22(3A)");
  e.set_sharing_kind(kinex::common::v1::SHIELD);
  e.set_sharing_reason(kinex::common::v1::RISK_OF_HARM_TO_A_PERSON);
  e.add_decision_paths("identity.address");
  e.add_decision_paths("social_care.placement.area");
  e.set_shield_locating(true);
  return e;
}

constexpr char kGoldenV3[] = "6b9ed8034d12f1e7c0aac9269d6279ea2912d6e18753d5ff286a412f39b6f94a";
constexpr char kGoldenV4[] = "a7a63815bbb07945a50c743627222325a273cf5f4696523aca5b4c5ff35a1e76";

TEST(EventCodecTest, Version3GoldenCoversEveryField) {
  const v1::AuditEvent e = Version3Event();
  absl::StatusOr<std::string> leaf = EncodeEventV3(3, e);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->substr(0, 5), std::string("KXAE\x03"));
  EXPECT_EQ(HashToHex(HashLeaf(*leaf)), kGoldenV3);
  absl::StatusOr<DecodedLeaf> back = DecodeEvent(*leaf);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, 3);
  EXPECT_EQ(back->event.SerializeAsString(), e.SerializeAsString());
  EXPECT_EQ(EncodeEventVersion(3, 3, e).value(), *leaf);
  EXPECT_THAT(EncodeEventVersion(5, 3, e),
              StatusIs(absl::StatusCode::kInvalidArgument, "no audit event encoding version 5"));
  EXPECT_THAT(EncodeEventVersion(5, 3, e), HasErrorReason("AUDIT_ENCODING_UNSUPPORTED"));
  EXPECT_THAT(EncodeEventVersion(5, 3, e), HasErrorMetadata("version", "5"));
  // A version-2 leaf still decodes as version 2 and re-encodes identically.
  v1::AuditEvent old = Pseudonymised(SampleEvent("req-old"));
  std::string v2 = *EncodeEventV2(5, old);
  absl::StatusOr<DecodedLeaf> old_back = DecodeEvent(v2);
  ASSERT_TRUE(old_back.ok()) << old_back.status();
  EXPECT_EQ(old_back->version, 2);
  EXPECT_EQ(old_back->event.SerializeAsString(), old.SerializeAsString());
  // The same event as version 3 or 4 is other bytes: the magic binds the
  // version.
  EXPECT_NE(*EncodeEventV3(5, old), v2);
  EXPECT_NE(*EncodeEvent(5, old), *EncodeEventV3(5, old));
  // A shield_locating byte other than 0 or 1 is not canonical.
  std::string bad = *leaf;
  bad.back() = 2;
  EXPECT_THAT(DecodeEvent(bad).status().message(), HasSubstr("bad shield_locating"));
  for (size_t cut = 0; cut < leaf->size(); cut += 5) {
    EXPECT_FALSE(DecodeEvent(leaf->substr(0, cut)).ok()) << cut;
  }
}

// Every version-4 field set: the notifications an event created and the
// ones a notification event concerns.
v1::AuditEvent Version4Event() {
  v1::AuditEvent e = Version3Event();
  auto* a = e.add_notified();
  a->set_recipient_kind(kinex::common::v1::LOCAL_AUTHORITY);
  a->set_recipient_code("E09000033");
  a->set_kind(kinex::notifications::v1::ACCESS);
  auto* b = e.add_notified();
  b->set_recipient_kind(kinex::common::v1::SCHOOL);
  b->set_recipient_code("100001");
  b->set_kind(kinex::notifications::v1::ENCOMPASS);
  e.add_notification_ids("7.0");
  e.add_notification_ids("12.3");
  e.set_review_outcome(kinex::notifications::v1::REFERRED);
  return e;
}

TEST(EventCodecTest, Version4GoldenCoversEveryField) {
  const v1::AuditEvent e = Version4Event();
  absl::StatusOr<std::string> leaf = EncodeEvent(3, e);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->substr(0, 5), std::string("KXAE\x04"));
  EXPECT_EQ(HashToHex(HashLeaf(*leaf)), kGoldenV4);
  absl::StatusOr<DecodedLeaf> back = DecodeEvent(*leaf);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, 4);
  EXPECT_EQ(back->event.SerializeAsString(), e.SerializeAsString());
  EXPECT_EQ(EncodeEventVersion(4, 3, e).value(), *leaf);
  // Version 3 cannot hold the notification fields.
  EXPECT_THAT(EncodeEventV3(3, e), HasErrorMetadata("version", "3"));
  // Input-only intents are never encoded.
  v1::AuditEvent with_intent = e;
  with_intent.add_notify()->set_recipient_code("E09000033");
  EXPECT_EQ(EncodeEvent(3, with_intent).status().message(),
            "event.notify must be moved into notified before encoding");
  for (size_t cut = 0; cut < leaf->size(); cut += 3) {
    EXPECT_FALSE(DecodeEvent(leaf->substr(0, cut)).ok()) << cut;
  }
}

TEST(EventCodecTest, ValidatesNotificationFields) {
  namespace nv1 = kinex::notifications::v1;
  auto access = [] {
    v1::AuditEvent e = SampleEvent("req-1");
    auto* intent = e.add_notify();
    intent->set_recipient_kind(kinex::common::v1::LOCAL_AUTHORITY);
    intent->set_recipient_code("E09000033");
    intent->mutable_notification()->set_kind(nv1::ACCESS);
    intent->mutable_notification()->set_kinex_id("kx_1");
    return e;
  };
  EXPECT_TRUE(ValidateAppendEvent(access()).ok());
  v1::AuditEvent e = access();
  e.mutable_notify(0)->set_recipient_kind(kinex::common::v1::AUDITOR);
  EXPECT_EQ(ValidateAppendEvent(e).message(),
            "event.notify[0].recipient_kind must be an agency that is notified, got 6");
  e = access();
  e.mutable_notify(0)->mutable_notification()->clear_kinex_id();
  EXPECT_EQ(ValidateAppendEvent(e).message(), "event.notify[0].notification.kinex_id is required");
  e = access();
  e.mutable_notify(0)->mutable_notification()->set_notification_id("1.0");
  EXPECT_THAT(ValidateAppendEvent(e), HasErrorMetadata("field", "event.notify[0].notification"));
  e = access();
  e.add_notified()->set_recipient_code("x");
  EXPECT_EQ(ValidateAppendEvent(e).message(), "event.notified is output only: the log sets it");
  e = access();
  e.add_notification_ids("1.0");
  EXPECT_EQ(ValidateAppendEvent(e).message(),
            "event.notification_ids is only for notification events, not DISCLOSURE");

  auto ack = [] {
    v1::AuditEvent e = SampleEvent("req-2");
    e.set_kind(v1::NOTIFICATION_ACKNOWLEDGED);
    e.clear_purpose();
    e.clear_decision();
    e.clear_policy_version();
    e.add_notification_ids("12.0");
    return e;
  };
  EXPECT_TRUE(ValidateAppendEvent(ack()).ok());
  e = ack();
  e.clear_notification_ids();
  EXPECT_EQ(ValidateAppendEvent(e).message(), "event.notification_ids is required");
  e = ack();
  e.add_notification_ids("13.0");
  EXPECT_EQ(ValidateAppendEvent(e).message(),
            "event.notification_ids must name exactly one notification for "
            "NOTIFICATION_ACKNOWLEDGED");
  e = ack();
  e.set_notification_ids(0, "012.0");
  EXPECT_EQ(ValidateAppendEvent(e).message(),
            "notification id \"012.0\" is not of the form <leaf index>.<ordinal>");
  e = ack();
  e.set_notification_ids(0, "12.64");
  EXPECT_EQ(ValidateAppendEvent(e).code(), absl::StatusCode::kInvalidArgument);
  e = ack();
  e.set_kind(v1::NOTIFICATION_DELIVERED);
  e.add_notification_ids("9.1");
  EXPECT_EQ(ValidateAppendEvent(e).message(),
            "event.notification_ids must be sorted (by leaf, then ordinal) and distinct");
  e.set_notification_ids(0, "9.1");
  e.set_notification_ids(1, "12.0");
  EXPECT_TRUE(ValidateAppendEvent(e).ok());
  e = ack();
  e.set_kind(v1::BREAK_GLASS_REVIEWED);
  EXPECT_EQ(ValidateAppendEvent(e).message(), "event.review_outcome must be UPHELD or REFERRED");
  e.set_review_outcome(nv1::UPHELD);
  EXPECT_EQ(ValidateAppendEvent(e).message(), "event.justification is required");
  e.set_justification("Police needed the carers' address at once.");
  EXPECT_TRUE(ValidateAppendEvent(e).ok());
  // The audit service's own escalation names no agency.
  e = ack();
  e.set_kind(v1::NOTIFICATION_ESCALATED);
  e.clear_agency_kind();
  e.clear_agency_code();
  EXPECT_TRUE(ValidateAppendEvent(e).ok());
}

TEST(EventCodecTest, ValidatesSharingDecisionEvents) {
  auto decision = [] {
    v1::AuditEvent e = SampleEvent("req-1");
    e.set_kind(v1::SHARING_DECISION_RECORDED);
    e.clear_purpose();
    e.clear_decision();
    e.clear_policy_version();
    e.set_record_id("sd_1");
    e.set_sharing_kind(kinex::common::v1::NOT_SHARED);
    e.set_sharing_reason(kinex::common::v1::MORE_DETRIMENTAL_TO_CHILD);
    return e;
  };
  EXPECT_TRUE(ValidateAppendEvent(decision()).ok());
  v1::AuditEvent shield = decision();
  shield.set_kind(v1::SHIELD_SET);
  shield.set_sharing_kind(kinex::common::v1::SHIELD);
  shield.set_shield_locating(true);
  EXPECT_TRUE(ValidateAppendEvent(shield).ok());
  v1::AuditEvent removed = decision();
  removed.set_kind(v1::SHIELD_REMOVED);
  removed.clear_sharing_kind();
  removed.clear_sharing_reason();
  EXPECT_TRUE(ValidateAppendEvent(removed).ok());
  for (v1::EventKind kind : {v1::SHARING_DECISION_RECORDED, v1::SHIELD_SET, v1::SHIELD_REMOVED}) {
    EXPECT_TRUE(IsWriteKind(kind)) << v1::EventKind_Name(kind);
  }
  struct Case {
    v1::AuditEvent event;
    absl::Status want;
  };
  std::vector<Case> cases;
  cases.push_back({decision(), absl::InvalidArgumentError("event.sharing_kind is required")});
  cases.back().event.clear_sharing_kind();
  cases.push_back({decision(), absl::InvalidArgumentError("event.sharing_reason is required")});
  cases.back().event.clear_sharing_reason();
  cases.push_back({decision(), absl::InvalidArgumentError("event.sharing_kind: unknown value 9")});
  cases.back().event.set_sharing_kind(static_cast<kinex::common::v1::SharingDecisionKind>(9));
  cases.push_back(
      {decision(), absl::InvalidArgumentError("event.sharing_reason: unknown value 42")});
  cases.back().event.set_sharing_reason(static_cast<kinex::common::v1::SharingDecisionReason>(42));
  cases.push_back(
      {decision(), absl::InvalidArgumentError("event.sharing_kind SHIELD is SHIELD (a shield is "
                                              "recorded as SHIELD_SET)")});
  cases.back().event.set_sharing_kind(kinex::common::v1::SHIELD);
  cases.push_back(
      {shield, absl::InvalidArgumentError("event.sharing_kind DEFERRED is not SHIELD (SHIELD_SET "
                                          "records a shield)")});
  cases.back().event.set_sharing_kind(kinex::common::v1::DEFERRED);
  cases.push_back(
      {shield, absl::InvalidArgumentError("event.decision_paths or event.shield_locating is "
                                          "required for SHIELD_SET")});
  cases.back().event.set_shield_locating(false);
  cases.push_back(
      {removed, absl::InvalidArgumentError("event.record_id (the decision id) is required")});
  cases.back().event.clear_record_id();
  cases.push_back({decision(), absl::InvalidArgumentError("event.decision_paths[] is required")});
  cases.back().event.add_decision_paths("");
  cases.push_back(
      {SampleEvent("req-1"), absl::InvalidArgumentError("event.lawful_bases[].citations[] is "
                                                        "required")});
  cases.back().event.add_lawful_bases()->add_citations("");
  cases.push_back(
      {SampleEvent("req-1"),
       absl::ResourceExhaustedError("event.stated_function is 5000 bytes; the limit is 4096")});
  cases.back().event.set_stated_function(std::string(5000, 's'));
  for (const Case& c : cases) {
    const absl::Status got = ValidateAppendEvent(c.event);
    EXPECT_THAT(got, StatusIs(c.want.code(), std::string(c.want.message())));
    // Too long: AUDIT_EVENT_TOO_LARGE; anything else: INVALID_FIELD. Both
    // name the field the message names.
    EXPECT_THAT(got, HasErrorReason(c.want.code() == absl::StatusCode::kResourceExhausted
                                        ? "AUDIT_EVENT_TOO_LARGE"
                                        : "INVALID_FIELD"))
        << c.want;
    EXPECT_THAT(got, HasErrorMetadata("field", FieldOf(c.want.message()))) << c.want;
  }
}

TEST(EventCodecTest, DecodeRefusesNonCanonicalInput) {
  v1::AuditEvent e = Pseudonymised(SampleEvent("req-1"));
  std::string leaf = *EncodeEvent(1, e);
  EXPECT_EQ(DecodeEvent(leaf + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(DecodeEvent(leaf + "x").status().message(), HasSubstr("trailing bytes"));
  EXPECT_THAT(DecodeEvent(leaf + "x"), HasErrorReason("AUDIT_ENTRY_MALFORMED"));
  EXPECT_THAT(DecodeEvent(leaf.substr(0, leaf.size() - 1)).status().message(),
              HasSubstr("truncated review_outcome"));
  std::string bad_magic = leaf;
  bad_magic[4] = 5;
  EXPECT_THAT(DecodeEvent(bad_magic),
              StatusIs(absl::StatusCode::kDataLoss,
                       "leaf is not a canonical audit event: bad magic or version"));
  EXPECT_THAT(DecodeEvent(bad_magic), HasErrorReason("AUDIT_ENTRY_MALFORMED"));
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
      {[](auto& e) { e.set_request_id("has space"); }, absl::StatusCode::kInvalidArgument,
       "printable ASCII"},
      {[](auto& e) { e.set_principal("virtual-school/x"); }, absl::StatusCode::kInvalidArgument,
       "event.principal must be a SPIFFE ID"},
      {[](auto& e) { e.clear_agency_kind(); }, absl::StatusCode::kInvalidArgument,
       "event.agency_kind is required"},
      {[](auto& e) { e.clear_purpose(); }, absl::StatusCode::kInvalidArgument,
       "event.purpose is required"},
      {[](auto& e) { e.clear_decision(); }, absl::StatusCode::kInvalidArgument,
       "event.decision is required"},
      {[](auto& e) { e.clear_policy_version(); }, absl::StatusCode::kInvalidArgument,
       "event.policy_version is required"},
      {[](auto& e) { e.mutable_time()->set_seconds(1); }, absl::StatusCode::kInvalidArgument,
       "event.time is output only"},
      {[](auto& e) { e.add_child_pseudonyms("ab"); }, absl::StatusCode::kInvalidArgument,
       "child_pseudonyms is output only"},
      {[](auto& e) { e.set_justification(std::string(5000, 'j')); },
       absl::StatusCode::kResourceExhausted, "event.justification is 5000 bytes"},
      {[](auto& e) { e.set_actor("\xff\xfe"); }, absl::StatusCode::kInvalidArgument,
       "event.actor is not valid UTF-8"},
      {[](auto& e) { e.clear_kind(); }, absl::StatusCode::kInvalidArgument, "event.kind: required"},
      {[](auto& e) { e.set_kind(static_cast<v1::EventKind>(99)); },
       absl::StatusCode::kInvalidArgument, "event.kind: unknown value 99"},
      {[](auto& e) { e.add_child_chain()->set_pseudonym("ab"); },
       absl::StatusCode::kInvalidArgument, "event.child_chain is output only: the log sets it"},
      {[](auto& e) { e.set_previous_agency_leaf_index(4); }, absl::StatusCode::kInvalidArgument,
       "event.previous_agency_leaf_index is output only: the log sets it"},
      {[](auto& e) { e.set_idempotency_key(std::string(129, 'k')); },
       absl::StatusCode::kInvalidArgument,
       "event.idempotency_key must be at most 128 printable ASCII characters"},
      {[](auto& e) { e.set_idempotency_key("tab\there"); }, absl::StatusCode::kInvalidArgument,
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
    EXPECT_THAT(
        s, HasErrorReason(c.code == absl::StatusCode::kResourceExhausted ? "AUDIT_EVENT_TOO_LARGE"
                                                                         : "INVALID_FIELD"))
        << c.message;
    EXPECT_THAT(s, HasErrorMetadata("field", FieldOf(s.message()))) << c.message;
  }
  EXPECT_TRUE(ValidateAppendEvent(SampleEvent("req-1")).ok());
  EXPECT_THAT(ValidateAppendEvent([] {
                v1::AuditEvent e = SampleEvent("req-1");
                e.clear_kind();
                return e;
              }()),
              StatusIs(absl::StatusCode::kInvalidArgument, "event.kind: required"));
  // Write kinds need no purpose, decision or policy version.
  for (v1::EventKind kind :
       {v1::PART_PUBLISHED, v1::WRITE_REFUSED, v1::CONSENT_RECORDED, v1::CONSENT_WITHDRAWN,
        v1::SHARING_AGREEMENT_CREATED, v1::RESPONSIBILITY_TRANSFERRED, v1::LINK_CLAIMED,
        v1::LINK_CONFIRMED, v1::LINK_REJECTED}) {
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
  EXPECT_THAT(ValidateAppendEvent(disclosure),
              StatusIs(absl::StatusCode::kInvalidArgument, "event.purpose is required"));
  EXPECT_THAT(ValidateAppendEvent(disclosure), HasErrorMetadata("field", "event.purpose"));
  // An auditor query by a Kinex service has no agency.
  v1::AuditEvent queried;
  queried.set_kind(v1::AUDIT_QUERIED);
  queried.set_request_id("q-1");
  queried.set_principal("spiffe://kinex.dev/service/gateway");
  queried.set_query("all");
  EXPECT_TRUE(ValidateAppendEvent(queried).ok());
}

// HMAC-SHA256 of `input` under `key`, by OpenSSL's one-shot HMAC().
std::string OneShotHmac(const std::string& key, const std::string& input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len),
            nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), len));
}

TEST(EventCodecTest, PseudonymsAreHmacSha256OfTheIdentifierFromAnyThreadAndEveryTime) {
  const std::string key(32, 'k');
  auto p = *ChildPseudonymizer::Create(key);
  std::vector<kinex::common::v1::ChildRef> children(4);
  children[0].set_kinex_id("kx_7QK2M9TD4P");
  children[1].set_nhs_number("943 476 5919");
  children[2].set_upn("a123456789012");
  children[3].mutable_la_child_id()->set_la_code("E09000033");
  children[3].mutable_la_child_id()->set_id("LA-000123");
  const std::vector<std::string> expected = {
      OneShotHmac(key, "kinex:kx_7QK2M9TD4P"), OneShotHmac(key, absl::StrCat("nhs:", kNhsA)),
      OneShotHmac(key, "upn:A123456789012"), OneShotHmac(key, "la:E09000033:LA-000123")};
  // One pseudonymiser serves many threads at once: every answer is still
  // the HMAC of its own input alone.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const size_t c = static_cast<size_t>(t + i) % children.size();
        absl::StatusOr<std::string> got = p->Pseudonym(children[c]);
        if (!got.ok() || *got != expected[c]) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  for (size_t c = 0; c < children.size(); ++c) EXPECT_EQ(*p->Pseudonym(children[c]), expected[c]);
  // A refused identifier leaves nothing behind for the next.
  kinex::common::v1::ChildRef invalid;
  invalid.set_nhs_number("9434765918");
  EXPECT_EQ(p->Pseudonym(invalid).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*p->Pseudonym(children[0]), expected[0]);
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
  EXPECT_EQ(p->Pseudonym(invalid).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p->Pseudonym(invalid), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(p->Pseudonym(invalid), HasErrorMetadata("field", "child.nhs_number"));
  EXPECT_THAT(p->Pseudonym(kinex::common::v1::ChildRef()),
              StatusIs(absl::StatusCode::kInvalidArgument, "child: no identifier is set"));
  EXPECT_THAT(p->Pseudonym(kinex::common::v1::ChildRef()), HasErrorMetadata("field", "child"));
  EXPECT_THAT(ChildPseudonymizer::Create("short"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "pseudonym key must be at least 32 bytes, got 5"));
  EXPECT_THAT(ChildPseudonymizer::Create("short"), HasErrorReason("KEY_INVALID"));
  EXPECT_THAT(ChildPseudonymizer::Create("short"), HasErrorMetadata("key", "pseudonym_key"));

  // In an event, the identifier's reason names the event's field; never the
  // identifier itself.
  v1::AuditEvent bad = SampleEvent("req-1");
  *bad.add_children() = invalid;
  const absl::Status refused = PseudonymizeChildren(*p, bad);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("event.children: ")));
  EXPECT_THAT(refused, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(refused, HasErrorMetadata("field", "event.children"));
  EXPECT_EQ(ErrorInfoOf(refused).DebugString().find("9434765918"), std::string::npos);
}

}  // namespace
}  // namespace kinex::audit
