// Helpers for consent tests: a harness wiring the consent core to a records
// core (for child resolution), a recording authorizer double, an in-memory
// audit sink, and requests.
#ifndef KINEX_TESTS_CONSENT_CONSENT_TEST_UTIL_H_
#define KINEX_TESTS_CONSENT_CONSENT_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "services/consent/consent_core.h"
#include "services/records/records_core.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::consent::testing {

// The shared status matchers (tests/testing/status_matchers.h).
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

namespace cv1 = kinex::consent::v1;
using kinex::records::testing::kHealth;
using kinex::records::testing::kLa;
using kinex::records::testing::kSchool;
using kinex::records::testing::kSchool2;
using kinex::records::testing::kVirtualSchool;
using kinex::testing::RecordingAuditSink;

// Allows local authorities (or everyone with allow_all), remembering what it
// was asked. Thread-safe.
class FakeAuthorizer final : public ConsentRecordingAuthorizer {
 public:
  absl::Status MayRecord(const SpiffeId& recorder, const kinex::records::v1::ChildFacts& child,
                         const cv1::RecordConsentRequest& request) const override {
    absl::MutexLock lock(&mu_);
    last_recorder_ = recorder.uri;
    last_scope_ = child.scope();
    ++calls_;
    if (allow_all_ || recorder.agency_kind == kinex::common::v1::LOCAL_AUTHORITY) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError("not permitted to record this consent entry");
  }
  void set_allow_all(bool v) {
    absl::MutexLock l(&mu_);
    allow_all_ = v;
  }
  std::string last_recorder() const {
    absl::MutexLock l(&mu_);
    return last_recorder_;
  }
  kinex::record::v1::ScopeLinks last_scope() const {
    absl::MutexLock l(&mu_);
    return last_scope_;
  }
  int calls() const {
    absl::MutexLock l(&mu_);
    return calls_;
  }

 private:
  mutable absl::Mutex mu_;
  bool allow_all_ ABSL_GUARDED_BY(mu_) = false;
  mutable std::string last_recorder_ ABSL_GUARDED_BY(mu_);
  mutable kinex::record::v1::ScopeLinks last_scope_ ABSL_GUARDED_BY(mu_);
  mutable int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

inline Caller As(const std::string& uri, const std::string& actor = "practitioner") {
  auto id = ParseSpiffeId(uri, "kinex.dev");
  EXPECT_TRUE(id.ok()) << id.status();
  return Caller{id.ok() ? *id : SpiffeId(), actor};
}

inline google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));  // rounds down, so nanos are >= 0
  ts.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(ts.seconds()))));
  return ts;
}

// A consent given by a special guardian.
inline cv1::RecordConsentRequest ConsentRequest(
    const kinex::common::v1::ChildRef& child, kinex::common::v1::AgencyKind recipient,
    kinex::common::v1::Purpose purpose, kinex::record::v1::Category category,
    cv1::ConsentDecision decision = cv1::CONSENT_GIVEN) {
  cv1::RecordConsentRequest req;
  *req.mutable_child() = child;
  auto* c = req.mutable_entry()->mutable_consent();
  c->set_decision(decision);
  c->mutable_given_by()->set_kind(cv1::PARENTAL_RESPONSIBILITY_HOLDER);
  c->mutable_given_by()->set_name("A. Grand");
  c->mutable_given_by()->set_relationship(cv1::SPECIAL_GUARDIAN);
  c->mutable_scope()->add_categories(category);
  c->mutable_scope()->add_recipient_kinds(recipient);
  c->mutable_scope()->add_purposes(purpose);
  return req;
}

inline cv1::RecordConsentRequest BasisRequest(const kinex::common::v1::ChildRef& child,
                                              kinex::common::v1::LegalBasis basis,
                                              const std::string& reference,
                                              kinex::common::v1::Purpose purpose) {
  cv1::RecordConsentRequest req;
  *req.mutable_child() = child;
  auto* b = req.mutable_entry()->mutable_statutory_basis();
  b->set_basis(basis);
  b->set_reference(reference);
  b->add_purposes(purpose);
  return req;
}

inline cv1::LookupBasesRequest Lookup(const std::string& kinex_id, const std::string& recipient,
                                      kinex::common::v1::Purpose purpose) {
  cv1::LookupBasesRequest req;
  req.set_kinex_id(kinex_id);
  req.set_recipient(recipient);
  req.set_purpose(purpose);
  return req;
}

inline cv1::CreateSharingAgreementRequest IsaRequest(const cv1::SharingAgreement& a) {
  cv1::CreateSharingAgreementRequest req;
  *req.mutable_agreement() = a;
  return req;
}

// The LA publishing its part of a child (through the records core).
inline kinex::records::v1::PutPartRequest PutAsLa(const kinex::common::v1::ChildRef& child,
                                                  const kinex::record::v1::ChildRecord& part) {
  kinex::records::v1::PutPartRequest req = kinex::records::testing::Put(kLa, child, part);
  req.set_request_id("test-publish");
  return req;
}

// Records core (fake storage) + consent core over `storage`, auditing to
// audit(), one child published by the LA (kinex id in kinex_id(), LA child
// id "C1").
// The LA's part of the test child: LaPart with a special guardianship order
// in force since 2023 (the special guardian gives the test consents, and a
// consent from a PR holder must match the child's legal status).
inline kinex::record::v1::ChildRecord ChildUnderSgo(const std::string& la_child_id) {
  kinex::record::v1::ChildRecord part = kinex::records::testing::LaPart(la_child_id);
  auto* sgo = part.add_legal_status();
  sgo->set_arrangement(kinex::record::v1::SPECIAL_GUARDIANSHIP_ORDER);
  sgo->mutable_start_date()->set_year(2023);
  sgo->mutable_start_date()->set_month(2);
  sgo->mutable_start_date()->set_day(1);
  sgo->set_previously_looked_after(true);
  return part;
}

class ConsentHarness {
 public:
  explicit ConsentHarness(std::unique_ptr<ConsentStorage> storage) : storage_(std::move(storage)) {
    kinex::records::RecordsCore::Options ro;
    ro.storage = &records_storage_;
    ro.clock = &clock_;
    ro.audit = &records_audit_;
    records_ = std::move(*kinex::records::RecordsCore::Create(std::move(ro)));
    Restart();
    auto put = records_->PutPart(
        PutAsLa(kinex::records::testing::LaRef("E09000033", "C1"), ChildUnderSgo("C1")));
    EXPECT_TRUE(put.ok()) << put.status();
    kinex_id_ = put.ok() ? put->kinex_id() : "";
  }

  // A new consent core over the same storage and audit sink, as after a
  // restart (its Create drains the audit outbox).
  void Restart() {
    core_.reset();
    ConsentCore::Options o;
    o.storage = storage_.get();
    o.records = records_.get();
    o.authorizer = &authorizer_;
    o.clock = &clock_;
    o.audit = &audit_;
    o.new_id = [this](absl::string_view prefix) -> absl::StatusOr<std::string> {
      return absl::StrCat(prefix, "T", 1000 + next_id_++);
    };
    auto core = ConsentCore::Create(std::move(o));
    EXPECT_TRUE(core.ok()) << core.status();
    if (core.ok()) core_ = std::move(*core);
  }

  ConsentCore& core() { return *core_; }
  ConsentStorage& storage() { return *storage_; }
  RecordingAuditSink& audit() { return audit_; }
  kinex::records::RecordsCore& records() { return *records_; }
  FakeClock& clock() { return clock_; }
  FakeAuthorizer& authorizer() { return authorizer_; }
  const std::string& kinex_id() const { return kinex_id_; }
  kinex::common::v1::ChildRef child() const {
    return kinex::records::testing::LaRef("E09000033", "C1");
  }

  std::string MustRecord(const cv1::RecordConsentRequest& req, const std::string& by = kLa) {
    auto r = core_->RecordConsent(As(by), req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->consent_id() : "";
  }

 private:
  FakeClock clock_;
  kinex::records::FakeRecordsStorage records_storage_;
  RecordingAuditSink records_audit_;  // the records core's own events, kept apart
  std::unique_ptr<kinex::records::RecordsCore> records_;
  std::unique_ptr<ConsentStorage> storage_;
  FakeAuthorizer authorizer_;
  RecordingAuditSink audit_;
  std::unique_ptr<ConsentCore> core_;
  int next_id_ = 0;
  std::string kinex_id_;
};

}  // namespace kinex::consent::testing

#endif  // KINEX_TESTS_CONSENT_CONSENT_TEST_UTIL_H_
