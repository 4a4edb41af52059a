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
  EXPECT_THAT(core_->PutPart(Put("spiffe://other.td/school/100001/x", UpnRef(Upn(1)), {})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("principal: ")));
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
  EXPECT_THAT(core_->PutPart(Put(kLa, kinex::common::v1::ChildRef(), LaPart())).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "child: one of kinex_id, nhs_number, upn or la_child_id is required"));
  // A school names only itself, so a malformed URN is refused as another
  // school's before its format is looked at.
  EXPECT_THAT(core_->PutPart(Put(kSchool, UpnRef(Upn(5)), SchoolPart(Upn(5), "012345"))).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "part.scope.current_school_urn: a school may name only itself (the code in "
                       "its certificate)"));
  EXPECT_EQ(storage_.ChildCount(), 0u);
}

TEST_F(RecordsCoreTest, UnknownEnumValuesAreRejected) {
  auto part = LaPart();
  part.mutable_identity()->set_sex(static_cast<kinex::record::v1::Sex>(99));
  EXPECT_THAT(core_->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("part.identity.sex: unknown enum value 99")));
  rv1::ListPartVersionsRequest list;
  *list.mutable_child() = UpnRef(Upn(1));
  list.set_owner_kind(static_cast<kinex::common::v1::AgencyKind>(99));
  EXPECT_THAT(
      core_->ListPartVersions(list).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("owner_kind: unknown enum value 99")));
  rv1::ListChildrenRequest cohort;
  cohort.set_agency_kind(static_cast<kinex::common::v1::AgencyKind>(99));
  cohort.set_agency_code("E09000033");
  EXPECT_THAT(
      core_->ListChildren(cohort).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency_kind: 99 has no cohort")));
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
  EXPECT_EQ(storage_.ChildCount(), 0u);
}

TEST_F(RecordsCoreTest, KinexIdInPartIsOutputOnly) {
  auto part = LaPart();
  part.mutable_identity()->set_kinex_id("kx_ABC");
  EXPECT_THAT(core_->PutPart(Put(kLa, LaRef("E09000033", "1"), part)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("part.identity.kinex_id: output only")));
}

TEST_F(RecordsCoreTest, ActorLengthIsLimited) {
  auto req = Put(kLa, LaRef("E09000033", "1"), LaPart());
  req.set_actor(std::string(257, 'a'));
  EXPECT_THAT(core_->PutPart(req).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("actor: at most 256 characters")));
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
  ExpectOneRefusal(s);
  decide.set_decision(kinex::record::v1::CONFIRMED);
  decide.mutable_agency()->set_agency_kind(kinex::common::v1::LOCAL_AUTHORITY);
  s = core_->DecideLink(decide).status();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "agency.agency_kind: links are held by school, health or police agencies"));
  ExpectOneRefusal(s);
  decide.mutable_agency()->set_agency_kind(kinex::common::v1::SCHOOL);
  s = core_->DecideLink(decide).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound,
                          "agency: that agency has published nothing about this child (no link to "
                          "decide)"));
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
  }
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
