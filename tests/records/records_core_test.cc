// Unit tests of the records core over the in-memory fake: bad input, access,
// limits and fail-closed storage. Behaviour common to every backend is in
// records_conformance.cc.
#include "services/records/records_core.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::records::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace rv1 = kinex::records::v1;
namespace av1 = kinex::audit::v1;

class RecordsCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { core_ = MakeCore(&storage_, 1 << 20); }

  std::unique_ptr<RecordsCore> MakeCore(RecordsStorage* storage, int64_t max_bytes) {
    RecordsCore::Options o;
    o.storage = storage;
    o.clock = &clock_;
    o.audit = &audit_;
    o.max_part_bytes = max_bytes;
    auto core = RecordsCore::Create(std::move(o));
    EXPECT_TRUE(core.ok());
    return std::move(*core);
  }

  // Expects exactly one new audit event since the last call, a WRITE_REFUSED
  // whose refusal is "<CODE>: <message>" of `status`.
  void ExpectOneRefusal(const absl::Status& status) {
    auto events = audit_.Events();
    ASSERT_EQ(events.size(), seen_ + 1);
    seen_ = events.size();
    EXPECT_EQ(events.back().kind(), av1::WRITE_REFUSED);
    EXPECT_EQ(events.back().refusal(),
              absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message()));
  }

  FakeClock clock_;
  kinex::testing::RecordingAuditSink audit_;
  FakeRecordsStorage storage_;
  std::unique_ptr<RecordsCore> core_;
  size_t seen_ = 0;
};

TEST_F(RecordsCoreTest, CreateNeedsStorageClockAuditAndPositiveLimit) {
  RecordsCore::Options o;
  o.clock = &clock_;
  o.audit = &audit_;
  EXPECT_THAT(RecordsCore::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("storage is required")));
  o.storage = &storage_;
  o.clock = nullptr;
  EXPECT_THAT(RecordsCore::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("clock is required")));
  o.clock = &clock_;
  o.audit = nullptr;
  EXPECT_THAT(RecordsCore::Create(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "RecordsCore: audit is required (every write is an audit event)"));
  o.audit = &audit_;
  o.max_part_bytes = 0;
  EXPECT_THAT(
      RecordsCore::Create(o).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_part_bytes must be positive")));
  EXPECT_THAT(RecordsCore::Create(o).status(), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(RecordsCore::Create(o).status(), HasErrorMetadata("field", "max_part_bytes"));
}

TEST_F(RecordsCoreTest, DefaultKinexIdsAreRandomBase32) {
  auto a = core_->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart("1")));
  auto b = core_->PutPart(Put(kLa, LaRef("E09000033", "2"), LaPart("2")));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_THAT(a->kinex_id(), ::testing::MatchesRegex("kx_[A-Z2-7]{16}"));
  EXPECT_NE(a->kinex_id(), b->kinex_id());
}

TEST_F(RecordsCoreTest, PublishingFieldsNotOwnedIsDeniedNamingPaths) {
  auto part = SchoolPart(Upn(1));
  part.mutable_health()->set_camhs(kinex::record::v1::CAMHS_OPEN);
  part.mutable_safeguarding()->set_cp_is_flag(true);
  absl::Status s = core_->PutPart(Put(kSchool, UpnRef(Upn(1)), part)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "fields not owned by school: health.camhs, safeguarding.cp_is_flag"));
  EXPECT_THAT(s, HasErrorReason("FIELD_NOT_OWNED"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
  ExpectOneRefusal(s);
  EXPECT_EQ(storage_.PendingAuditEventCount(), 0u);
}

TEST_F(RecordsCoreTest, ServicesAndAuditorsMayNotPublish) {
  EXPECT_THAT(
      core_->PutPart(Put(kGatewayService, UpnRef(Upn(1)), {})).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not publish record parts")));
  EXPECT_THAT(
      core_->PutPart(Put(kAuditor, UpnRef(Upn(1)), {})).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not publish record parts")));
  EXPECT_THAT(core_->PutPart(Put(kAuditor, UpnRef(Upn(1)), {})).status(),
              HasErrorReason("AGENCY_REQUIRED"));
  EXPECT_THAT(core_->PutPart(Put(kGatewayService, UpnRef(Upn(1)), {})).status(),
              HasErrorReason("AGENCY_REQUIRED"));
  EXPECT_THAT(core_->PutPart(Put("spiffe://other.td/school/100001/x", UpnRef(Upn(1)), {})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("principal: ")));
  EXPECT_THAT(core_->PutPart(Put("spiffe://other.td/school/100001/x", UpnRef(Upn(1)), {})).status(),
              HasErrorMetadata("field", "principal"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
}

TEST_F(RecordsCoreTest, InvalidIdentifiersAreRejectedWithoutEchoingThem) {
  std::string bad_nhs = Nhs(5);
  bad_nhs[9] = bad_nhs[9] == '9' ? '0' : bad_nhs[9] + 1;
  absl::Status s = core_->PutPart(Put(kHealth, NhsRef(bad_nhs), HealthPart(""))).status();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("child.nhs_number: NHS number fails its modulus-11 check digit")));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(bad_nhs)));
  EXPECT_THAT(s, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(s, HasErrorMetadata("field", "child.nhs_number"));
  EXPECT_EQ(ErrorInfoOf(s).DebugString().find(bad_nhs), std::string::npos);

  EXPECT_THAT(core_->PutPart(Put(kHealth, NhsRef(Nhs(5)), HealthPart(bad_nhs))).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("part.identity.nhs_number: NHS number")));
  std::string bad_upn = Upn(5);
  bad_upn[0] = bad_upn[0] == 'A' ? 'B' : 'A';
  EXPECT_THAT(core_->PutPart(Put(kSchool, UpnRef(bad_upn), SchoolPart(""))).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("child.upn: UPN fails its modulus-23")));
  EXPECT_THAT(core_->PutPart(Put(kSchool, UpnRef(Upn(5)), SchoolPart(bad_upn))).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("part.identity.upn: UPN")));
  EXPECT_THAT(
      core_->PutPart(Put(kLa, LaRef("E07000001", "1"), LaPart())).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("child.la_child_id.la_code: LA code must be a children's services")));
  EXPECT_THAT(
      core_->PutPart(Put(kLa, KinexRef("not-a-kinex-id"), LaPart())).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("child.kinex_id: not a Kinex id")));
  EXPECT_THAT(core_->PutPart(Put(kLa, KinexRef("not-a-kinex-id"), LaPart())).status(),
              HasErrorMetadata("field", "child.kinex_id"));
  EXPECT_THAT(core_->PutPart(Put(kLa, kinex::common::v1::ChildRef(), LaPart())).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "child: one of kinex_id, nhs_number, upn or la_child_id is required"));
  EXPECT_THAT(core_->PutPart(Put(kLa, kinex::common::v1::ChildRef(), LaPart())).status(),
              HasErrorMetadata("field", "child"));
  // A school names only itself, so a malformed URN is refused as another
  // school's before its format is looked at.
  EXPECT_THAT(core_->PutPart(Put(kSchool, UpnRef(Upn(5)), SchoolPart(Upn(5), "012345"))).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "part.scope.current_school_urn: a school may name only itself (the code in "
                       "its certificate)"));
  EXPECT_THAT(core_->PutPart(Put(kSchool, UpnRef(Upn(5)), SchoolPart(Upn(5), "012345"))).status(),
              HasErrorReason("AGENCY_CODE_NOT_OWN"));
  EXPECT_THAT(core_->PutPart(Put(kSchool, UpnRef(Upn(5)), SchoolPart(Upn(5), "012345"))).status(),
              HasErrorMetadata("field", "part.scope.current_school_urn"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
}

TEST_F(RecordsCoreTest, UnknownEnumValuesAreRejected) {
  auto part = LaPart();
  part.mutable_identity()->set_sex(static_cast<kinex::record::v1::Sex>(99));
  EXPECT_THAT(core_->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("part.identity.sex: unknown enum value 99")));
  EXPECT_THAT(core_->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
              HasErrorMetadata("field", "part.identity.sex"));
  rv1::ListPartVersionsRequest list;
  *list.mutable_child() = UpnRef(Upn(1));
  list.set_owner_kind(static_cast<kinex::common::v1::AgencyKind>(99));
  EXPECT_THAT(
      core_->ListPartVersions(list).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("owner_kind: unknown enum value 99")));
  EXPECT_THAT(core_->ListPartVersions(list).status(), HasErrorMetadata("field", "owner_kind"));
  rv1::ListChildrenRequest cohort;
  cohort.set_agency_kind(static_cast<kinex::common::v1::AgencyKind>(99));
  cohort.set_agency_code("E09000033");
  EXPECT_THAT(
      core_->ListChildren(cohort).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency_kind: 99 has no cohort")));
  EXPECT_THAT(core_->ListChildren(cohort).status(), HasErrorMetadata("field", "agency_kind"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
}

TEST_F(RecordsCoreTest, OversizedPartsAreRefused) {
  auto small = MakeCore(&storage_, 64);
  auto part = LaPart();
  part.mutable_placement()->set_address(std::string(100, 'x'));
  const size_t size = part.ByteSizeLong();
  EXPECT_THAT(
      small->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
      StatusIs(absl::StatusCode::kResourceExhausted,
               HasSubstr(absl::StrCat("part: ", size, " bytes exceeds the maximum of 64"))));
  EXPECT_THAT(small->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
              HasErrorReason("PART_TOO_LARGE"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
}

TEST_F(RecordsCoreTest, KinexIdInPartIsOutputOnly) {
  auto part = LaPart();
  part.mutable_identity()->set_kinex_id("kx_ABC");
  EXPECT_THAT(core_->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("part.identity.kinex_id: output only")));
  EXPECT_THAT(core_->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
              HasErrorMetadata("field", "part.identity.kinex_id"));
}

TEST_F(RecordsCoreTest, ActorLengthIsLimited) {
  auto req = Put(kLa, LaRef("E09000033", "1"), LaPart());
  req.set_actor(std::string(257, 'a'));
  EXPECT_THAT(core_->PutPart(req).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("actor: at most 256 characters")));
  EXPECT_THAT(core_->PutPart(req).status(), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(core_->PutPart(req).status(), HasErrorMetadata("field", "actor"));
}

TEST_F(RecordsCoreTest, BadPagingIsRejected) {
  rv1::ListChildrenRequest cohort;
  cohort.set_agency_kind(kinex::common::v1::LOCAL_AUTHORITY);
  cohort.set_agency_code("E09000033");
  cohort.set_page_size(-1);
  EXPECT_THAT(
      core_->ListChildren(cohort).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size: must not be negative")));
  EXPECT_THAT(core_->ListChildren(cohort).status(), HasErrorMetadata("field", "page_size"));
  cohort.set_page_size(10);
  cohort.set_page_token("garbage");
  EXPECT_THAT(core_->ListChildren(cohort).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("page_token: not a token from ListChildren")));
  cohort.clear_page_token();
  cohort.set_agency_code("100001");
  EXPECT_THAT(
      core_->ListChildren(cohort).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency_code: LA code must be")));
  EXPECT_THAT(core_->ListChildren(cohort).status(), HasErrorMetadata("field", "agency_code"));
}

TEST_F(RecordsCoreTest, ListChildrenTokensAreBoundToTheCohort) {
  ASSERT_TRUE(core_->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart())).ok());
  ASSERT_TRUE(core_->PutPart(Put(kLa, LaRef("E09000033", "2"), LaPart())).ok());
  rv1::ListChildrenRequest cohort;
  cohort.set_agency_kind(kinex::common::v1::LOCAL_AUTHORITY);
  cohort.set_agency_code("E09000033");
  cohort.set_page_size(1);
  auto first = core_->ListChildren(cohort);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  cohort.set_page_token(first->next_page_token());
  auto second = core_->ListChildren(cohort);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->children_size(), 1);
  EXPECT_NE(second->children(0).kinex_id(), first->children(0).kinex_id());
  cohort.set_agency_code("E08000025");  // another LA replaying it
  EXPECT_THAT(core_->ListChildren(cohort).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: not a token from ListChildren for this caller and filter "
                       "(list again from the first page)"));
}

TEST_F(RecordsCoreTest, FailingStorageFailsClosed) {
  FailingRecordsStorage failing;
  auto core = MakeCore(&failing, 1 << 20);
  EXPECT_THAT(core->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart())).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("records storage unavailable")));
  rv1::GetRecordRequest get;
  *get.mutable_child() = UpnRef(Upn(1));
  EXPECT_THAT(core->GetRecord(get).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("records storage unavailable")));
}

TEST_F(RecordsCoreTest, RequestIdIsRequiredAndPrintable) {
  auto req = Put(kLa, LaRef("E09000033", "1"), LaPart("1"));
  req.clear_request_id();
  EXPECT_THAT(core_->PutPart(req).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     "request_id: required, 1-128 characters"));
  req.set_request_id(std::string(129, 'r'));
  EXPECT_THAT(core_->PutPart(req).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     "request_id: required, 1-128 characters"));
  req.set_request_id("req 1");
  EXPECT_THAT(core_->PutPart(req).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "request_id: printable ASCII only"));
  EXPECT_THAT(core_->PutPart(req).status(), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(core_->PutPart(req).status(), HasErrorMetadata("field", "request_id"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
}

TEST_F(RecordsCoreTest, OnlyLocalAuthoritiesDecideAndTransferAndListLinks) {
  auto la = core_->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart("1")));
  ASSERT_TRUE(la.ok()) << la.status();
  seen_ = audit_.Events().size();
  rv1::DecideLinkRequest decide;
  *decide.mutable_child() = KinexRef(la->kinex_id());
  decide.mutable_agency()->set_agency_kind(kinex::common::v1::SCHOOL);
  decide.mutable_agency()->set_agency_code("100001");
  decide.set_decision(kinex::record::v1::CONFIRMED);
  decide.set_principal(kSchool);
  decide.set_request_id("req-1");
  absl::Status s = core_->DecideLink(decide).status();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "only the child's responsible local authority confirms or rejects links"));
  ExpectOneRefusal(s);
  decide.set_principal(
      "spiffe://kinex.dev/local-authority/E09000033/independent-reviewing-officer");
  s = core_->DecideLink(decide).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "role independent-reviewing-officer may not confirm or reject links "
                          "(social-worker or team-manager)"));
  ExpectOneRefusal(s);
  decide.set_principal(kLa);
  decide.set_decision(kinex::record::v1::CLAIMED);
  s = core_->DecideLink(decide).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, "decision: CONFIRMED or REJECTED"));
  EXPECT_THAT(s, HasErrorMetadata("field", "decision"));
  ExpectOneRefusal(s);
  decide.set_decision(kinex::record::v1::CONFIRMED);
  decide.mutable_agency()->set_agency_kind(kinex::common::v1::LOCAL_AUTHORITY);
  s = core_->DecideLink(decide).status();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "agency.agency_kind: links are held by school, health or police agencies"));
  EXPECT_THAT(s, HasErrorMetadata("field", "agency.agency_kind"));
  ExpectOneRefusal(s);
  decide.mutable_agency()->set_agency_kind(kinex::common::v1::SCHOOL);
  s = core_->DecideLink(decide).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound,
                          "agency: that agency has published nothing about this child (no link to "
                          "decide)"));
  EXPECT_THAT(s, HasErrorReason("LINK_NOT_FOUND"));
  EXPECT_THAT(s, HasErrorMetadata("field", "agency"));
  ExpectOneRefusal(s);

  rv1::TransferResponsibilityRequest transfer;
  *transfer.mutable_child() = KinexRef(la->kinex_id());
  transfer.set_to_la_code("E08000025");
  transfer.set_principal(kVirtualSchool);
  transfer.set_request_id("req-1");
  transfer.set_reason("moved");
  s = core_->TransferResponsibility(transfer).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "only the child's responsible local authority transfers responsibility"));
  ExpectOneRefusal(s);
  transfer.set_principal(kLa);
  s = core_->TransferResponsibility(transfer).status();
  EXPECT_THAT(
      s, StatusIs(absl::StatusCode::kPermissionDenied,
                  "transferring responsibility is a team-manager's decision (role social-worker "
                  "may not)"));
  ExpectOneRefusal(s);
  transfer.set_principal(kLaManager);
  transfer.set_to_la_code("E07000001");
  s = core_->TransferResponsibility(transfer).status();
  EXPECT_THAT(
      s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("to_la_code: LA code must be")));
  EXPECT_THAT(s, HasErrorMetadata("field", "to_la_code"));
  ExpectOneRefusal(s);
  transfer.set_to_la_code("E09000033");
  s = core_->TransferResponsibility(transfer).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "to_la_code: names the local authority already responsible"));
  EXPECT_THAT(s, HasErrorMetadata("field", "to_la_code"));
  ExpectOneRefusal(s);
  transfer.set_to_la_code("E08000025");
  transfer.clear_reason();
  s = core_->TransferResponsibility(transfer).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "reason: required, at most 2000 characters (recorded in the audit log)"));
  EXPECT_THAT(s, HasErrorMetadata("field", "reason"));
  ExpectOneRefusal(s);

  rv1::ListLinksRequest list;
  list.set_principal(kSchool);
  EXPECT_THAT(core_->ListLinks(list).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "only a local authority lists the links on the children it is responsible "
                       "for"));
  list.set_principal(kLa);
  list.set_state(static_cast<kinex::record::v1::LinkState>(9));
  EXPECT_THAT(core_->ListLinks(list).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "state: unknown value 9 for kinex.record.v1.LinkState"));
  EXPECT_THAT(core_->ListLinks(list).status(), HasErrorMetadata("field", "state"));
  list.set_state(kinex::record::v1::LINK_STATE_UNSPECIFIED);
  list.set_page_token("garbage");
  EXPECT_THAT(core_->ListLinks(list).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                        "page_token: not a token from ListLinks"));
  // Reads are not write events.
  EXPECT_EQ(audit_.Events().size(), seen_);
}

TEST_F(RecordsCoreTest, GetPartOfServicesAndAuditorsIsTheUniformDenial) {
  auto la = core_->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart("1")));
  ASSERT_TRUE(la.ok()) << la.status();
  rv1::GetPartRequest get;
  *get.mutable_child() = KinexRef(la->kinex_id());
  for (const char* who : {kAuditor, kGatewayService}) {
    get.set_principal(who);
    EXPECT_THAT(core_->GetPart(get).status(),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         "no part of yours exists for this child reference"));
    EXPECT_THAT(core_->GetPart(get).status(), HasErrorReason("PART_NOT_FOUND_OR_OUT_OF_SCOPE"));
  }
  // An unknown child and a child the caller has no part of get the same
  // status, reason and details (absl::Status equality compares payloads).
  get.set_principal(kSchool);
  const absl::Status no_part = core_->GetPart(get).status();
  *get.mutable_child() = KinexRef("kx_UNKNOWN0000000");
  const absl::Status no_child = core_->GetPart(get).status();
  EXPECT_THAT(no_child, HasErrorReason("PART_NOT_FOUND_OR_OUT_OF_SCOPE"));
  EXPECT_EQ(no_part, no_child);
}

TEST_F(RecordsCoreTest, ReadsAndConflictsCarryTheirReasons) {
  auto a = core_->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart("1")));
  auto b = core_->PutPart(Put(kLa, LaRef("E09000033", "2"), LaPart("2")));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  // The part names child 1 by its LA id; the request names child 2.
  absl::Status s =
      core_->PutPart(Put(kLa, LaRef("E09000033", "2"), LaPart("1"), b->etag())).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s, HasErrorReason("IDENTIFIERS_CONFLICT"));

  // Internal readers learn NOT_FOUND (the fronts answer the uniform refusal).
  rv1::GetRecordRequest get;
  *get.mutable_child() = UpnRef(Upn(9));
  EXPECT_THAT(core_->GetRecord(get).status(),
              StatusIs(absl::StatusCode::kNotFound, "no child matches child.upn"));
  EXPECT_THAT(core_->GetRecord(get).status(), HasErrorReason("CHILD_NOT_FOUND"));
  get.add_paths("identity.nope");
  EXPECT_THAT(core_->GetRecord(get).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "paths: \"identity.nope\" is not a field path of "
                       "kinex.record.v1.ChildRecord"));
  EXPECT_THAT(core_->GetRecord(get).status(), HasErrorMetadata("field", "paths"));

  // A batch names the element and the field inside it.
  rv1::BatchGetRecordsRequest batch;
  *batch.add_requests()->mutable_child() = KinexRef(a->kinex_id());
  *batch.add_requests()->mutable_child() = KinexRef("not-a-kinex-id");
  s = core_->BatchGetRecords(batch).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("requests[1].child.kinex_id: not a Kinex id")));
  EXPECT_THAT(s, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(s, HasErrorMetadata("field", "requests[1].child.kinex_id"));
  *batch.mutable_requests(1)->mutable_child() = KinexRef(b->kinex_id());
  batch.mutable_requests(1)->add_paths("nope");
  s = core_->BatchGetRecords(batch).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "requests[1].paths: \"nope\" is not a field path of "
                          "kinex.record.v1.ChildRecord"));
  EXPECT_THAT(s, HasErrorMetadata("field", "requests[1].paths"));

  // Pinned to facts that moved: RECORD_CHANGED.
  get.clear_paths();
  *get.mutable_child() = KinexRef(a->kinex_id());
  get.set_facts_version("f1:stale");
  EXPECT_THAT(core_->GetRecord(get).status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("decide again")));
  EXPECT_THAT(core_->GetRecord(get).status(), HasErrorReason("RECORD_CHANGED"));
  EXPECT_THAT(core_->GetRecord(get).status(), HasErrorMetadata("field", "facts_version"));
}

TEST_F(RecordsCoreTest, AnAuditLogThatDoesNotAnswerIsNamed) {
  audit_.set_failing(true);
  // A refused write whose refusal cannot be logged: nothing was stored.
  auto req = Put(kLa, LaRef("E09000033", "1"), LaPart("1"));
  req.set_actor(std::string(257, 'a'));
  absl::Status s = core_->PutPart(req).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable,
                          "the audit log could not record this refused write; nothing was "
                          "stored"));
  EXPECT_THAT(s, HasErrorReason("AUDIT_UNAVAILABLE"));
  EXPECT_THAT(s, HasErrorMetadata("service", "audit"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
  // A write that is stored, its event kept in the outbox: do not repeat it.
  s = core_->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart("1"))).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable,
                          HasSubstr("the write is stored but its audit event is not in the audit "
                                    "log yet")));
  EXPECT_THAT(s, HasErrorReason("AUDIT_PENDING"));
  EXPECT_EQ(storage_.ChildCount(), 1u);
  EXPECT_EQ(storage_.PendingAuditEventCount(), 1u);
}

TEST_F(RecordsCoreTest, FailingStorageRefusalsAreStillAudited) {
  FailingRecordsStorage failing;
  auto core = MakeCore(&failing, 1 << 20);
  absl::Status s = core->PutPart(Put(kLa, LaRef("E09000033", "1"), LaPart())).status();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("records storage unavailable")));
  ExpectOneRefusal(s);
}

}  // namespace
}  // namespace kinex::records::testing

namespace kinex::records::testing {
namespace {

namespace cv1 = kinex::common::v1;
namespace rec = kinex::record::v1;

// record.proto declares (merge) = MERGE_LATEST_PART on a school's
// current-state fields: after a move, the school that published last decides
// them whole, and a flag the former school set does not linger (protobuf
// merge alone would keep its `missing_education: true`).
TEST_F(RecordsCoreTest, LatestPartFieldsComeWholeFromTheLatestSchool) {
  rec::ChildRecord la = LaPart("MV1");
  Name(la, cv1::SCHOOL, "100001");
  Name(la, cv1::SCHOOL, "100002");
  auto created = core_->PutPart(Put(kLa, LaRef("E09000033", "MV1"), la));
  ASSERT_TRUE(created.ok()) << created.status();
  const cv1::ChildRef child = KinexRef(created->kinex_id());

  rec::ChildRecord old_school;
  old_school.mutable_education()->set_missing_education(true);
  old_school.mutable_education()->mutable_attendance_summary()->set_possible_sessions(100);
  old_school.mutable_education()->mutable_attendance_summary()->set_attended_sessions(70);
  old_school.mutable_education()->mutable_attendance_summary()->set_persistent_absence(true);
  ASSERT_TRUE(core_->PutPart(Attach(kSchool, child, old_school)).ok());
  clock_.Advance(absl::Hours(24));
  rec::ChildRecord new_school;
  new_school.mutable_education()->mutable_attendance_summary()->set_possible_sessions(20);
  new_school.mutable_education()->mutable_attendance_summary()->set_attended_sessions(19);
  ASSERT_TRUE(core_->PutPart(Attach(kSchool2, child, new_school)).ok());

  rv1::GetRecordRequest get;
  *get.mutable_child() = child;
  auto got = core_->GetRecord(get);
  ASSERT_TRUE(got.ok()) << got.status();
  const rec::Education& ed = got->record().education();
  EXPECT_FALSE(ed.missing_education());
  EXPECT_EQ(ed.attendance_summary().possible_sessions(), 20);
  EXPECT_EQ(ed.attendance_summary().attended_sessions(), 19);
  EXPECT_FALSE(ed.attendance_summary().persistent_absence());

  // A section-filtered read applies the same rule.
  get.add_paths("education");
  got = core_->GetRecord(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->record().education().missing_education());
  EXPECT_EQ(got->record().education().attendance_summary().possible_sessions(), 20);
}

}  // namespace
}  // namespace kinex::records::testing
