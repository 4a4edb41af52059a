// Notifications end to end (docs/notifications.md, issue #15): real `kinex`
// processes over mTLS on loopback, in every deployment (all in one process
// on SQLite; one process per service on SQLite and on PostgreSQL), driven
// only through the public Exchange, Notifications and Audit APIs.
//
// What an agency is told and when: the responsible LA of a police or health
// disclosure (ACCESS) and of a break-glass one (also BREAK_GLASS_REVIEW,
// closed by its team manager); the school a police part names (Operation
// Encompass, with its next-school-day deadline, escalated to the LA and the
// force when it passes unacknowledged); the virtual school of a child in its
// cohort (VSH alerts). Delivery by ListNotifications and by the
// WatchNotifications stream (replay, cursor, isolation, stream quota), each
// audited; acknowledgements idempotent; another agency's notification is
// NOT_FOUND exactly as a missing one. Every notification received is checked
// to carry only the fields of its kind (the minimal payload).
//
// Two suites have clusters of their own: NotificationsResilienceE2E kills the
// server between decision and delivery and restarts it (nothing lost,
// nothing duplicated for a watcher resuming from its cursor) and holds a
// watcher that never reads (it holds up no other watcher), and
// EncompassDeadlineE2E runs the processes with a clock-shifting preload
// (tests/testing/clock_shift_preload.c) to move their clock past an
// Operation Encompass deadline (escalated once, to the LA and the force).
//
// Each test makes its own children (the LA creates them), so tests do not
// depend on each other; a notification is found by its child's Kinex id.
//
// Example:
//   build/bin/notifications_e2e_test --gtest_filter='*AllInOneSqlite*'
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "kinex/notifications/v1/notifications.grpc.pb.h"
#include "services/common/grpc_status.h"
#include "tests/integration/agencies.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_dates.h"
#include "tests/testing/test_identifiers.h"

namespace kinex::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace nv1 = kinex::notifications::v1;
namespace rv1 = kinex::record::v1;
using Mode = KinexCluster::Mode;

constexpr char kActor[] = "E2E practitioner";
constexpr char kManagerActor[] = "T. Manager";
constexpr char kSafeguardingWhy[] = "Section 47 strategy discussion, ref MPS/2026/11/0042";
constexpr char kBreakGlassWhy[] =
    "Child reported missing overnight; urgent risk assessment needs medical context";
constexpr char kHealthWhy[] = "Review health assessment follow-up for looked-after child";
constexpr char kUpheldNote[] = "Missing overnight with a known heart condition: justified.";
// A well-formed notification id no agency has.
constexpr char kNoSuchId[] = "9000000000.0";

std::string Spiffe(const Agency& a) {
  return absl::StrCat("spiffe://kinex.dev/", a.kind, "/", a.code, "/", a.role);
}

bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// The names of a message's populated fields.
std::set<std::string> Populated(const google::protobuf::Message& m) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  std::set<std::string> names;
  for (const auto* f : fields) names.insert(f->name());
  return names;
}

// The fields a notification of its kind, recipient and state carries: the
// minimal payload (docs/notifications.md). The optional ones (break_glass,
// escalated, the review) follow the notification; the tests assert their
// values where they know them.
std::set<std::string> ExpectedFields(const nv1::Notification& n) {
  std::set<std::string> f = {
      "notification_id",  "kind",   "state",          "create_time",    "kinex_id",    "request_id",
      "cause_leaf_index", "reason", "recipient_kind", "recipient_code", "deliver_time"};
  switch (n.kind()) {
    case nv1::ACCESS:
    case nv1::BREAK_GLASS_REVIEW:
      f.insert({"accessor", "purpose", "lawful_bases"});
      if (n.break_glass()) f.insert("break_glass");
      if (n.review_outcome() != nv1::REVIEW_OUTCOME_UNSPECIFIED) {
        f.insert({"review_outcome", "review_note"});
      }
      break;
    case nv1::ENCOMPASS:
      f.insert("deadline");
      // To a school: the school it names, never the force; to the LA: the
      // force, and the school it named if any (an unconfirmed force's).
      if (n.recipient_kind() == cv1::SCHOOL || !n.school_urn().empty()) f.insert("school_urn");
      if (n.recipient_kind() == cv1::LOCAL_AUTHORITY) f.insert("force_code");
      if (n.escalated()) f.insert("escalated");
      break;
    case nv1::ENCOMPASS_ESCALATION:
      f.insert({"deadline", "about_notification_id", "school_urn", "force_code"});
      break;
    default:  // VSH_ALERT: the common fields only.
      break;
  }
  if (n.state() == nv1::ACKNOWLEDGED) f.insert({"ack_time", "acked_by"});
  return f;
}

void ExpectMinimal(const nv1::Notification& n) {
  const std::set<std::string> got = Populated(n);
  const std::set<std::string> want = ExpectedFields(n);
  std::vector<std::string> missing, extra;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  EXPECT_TRUE(missing.empty() && extra.empty())
      << "notification " << n.notification_id() << " (" << nv1::NotificationKind_Name(n.kind())
      << ", " << nv1::NotificationState_Name(n.state()) << ", request " << n.request_id()
      << "): missing {" << absl::StrJoin(missing, ", ") << "}, unexpected {"
      << absl::StrJoin(extra, ", ") << "}";
  // Listing or streaming delivers: a recipient never sees PENDING.
  EXPECT_NE(n.state(), nv1::PENDING) << n.notification_id();
}

// One WatchNotifications stream, read by a thread into a queue so the test
// can wait for the next message with a timeout.
class Watcher {
 public:
  Watcher(std::shared_ptr<grpc::Channel> channel, const std::string& after,
          const std::string& request_id)
      : stub_(nv1::Notifications::NewStub(std::move(channel))) {
    ctx_.AddMetadata("x-kinex-actor", kActor);
    ctx_.AddMetadata("x-kinex-request-id", request_id);
    nv1::WatchNotificationsRequest req;
    req.set_after(after);
    reader_ = stub_->WatchNotifications(&ctx_, req);
    thread_ = std::thread([this] {
      nv1::Notification n;
      while (reader_->Read(&n)) {
        absl::MutexLock lock(&mu_);
        queue_.push_back(n);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = std::move(status);
    });
  }
  ~Watcher() { Cancel(); }

  // The next message, or nullopt when none came within `timeout` (or the
  // stream ended).
  std::optional<nv1::Notification> Next(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &Watcher::ReadyLocked), timeout);
    if (queue_.empty()) return std::nullopt;
    nv1::Notification n = std::move(queue_.front());
    queue_.erase(queue_.begin());
    return n;
  }

  // The stream's final status, or nullopt when it did not end within
  // `timeout`.
  std::optional<grpc::Status> Done(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &Watcher::EndedLocked), timeout);
    return status_;
  }

  // How many messages are queued, unread.
  size_t Pending() {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

  // Ends the stream (idempotent).
  void Cancel() {
    if (!thread_.joinable()) return;
    ctx_.TryCancel();
    thread_.join();
  }

 private:
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || status_.has_value();
  }
  bool EndedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return status_.has_value(); }

  std::unique_ptr<nv1::Notifications::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<nv1::Notification>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<nv1::Notification> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
};

// The suites' helpers: agencies' stubs, children, publishes, reads,
// listings and the audit trail. `Suite` is the deriving fixture (each suite
// has its own clusters).
template <typename Suite>
class NotificationsTest : public PerDeploymentTest<Suite> {
 protected:
  using PerDeploymentTest<Suite>::cluster_;
  using PerDeploymentTest<Suite>::GetParam;

  std::unique_ptr<ev1::Exchange::Stub> Exchange(const Agency& a) {
    return ev1::Exchange::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
  }
  std::unique_ptr<nv1::Notifications::Stub> Notifications(const Agency& a) {
    return nv1::Notifications::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
  }
  std::unique_ptr<Watcher> Watch(const Agency& a, const std::string& after,
                                 const std::string& request_id) {
    return std::make_unique<Watcher>(cluster_->AgencyChannel(a.kind, a.code, a.role), after,
                                     request_id);
  }
  static void Prepare(grpc::ClientContext& ctx, const std::string& request_id,
                      const std::string& actor = kActor) {
    ctx.AddMetadata("x-kinex-actor", actor);
    ctx.AddMetadata("x-kinex-request-id", request_id);
  }

  // Fresh child numbers per test, per deployment.
  int NextSeed() {
    static std::map<std::string, int> seeds;
    return 3000 + 10 * seeds[GetParam().name]++;
  }

  grpc::Status Publish(const Agency& a, const ev1::PublishRecordRequest& req,
                       ev1::PublishRecordResponse* resp, const std::string& request_id) {
    grpc::ClientContext ctx;
    Prepare(ctx, request_id);
    return Exchange(a)->PublishRecord(&ctx, req, resp);
  }

  // `la` creates a child born 2015-04-02, naming `named`. In the virtual
  // school's cohort (previously looked after: a special guardianship order
  // made from care) when `in_cohort`; otherwise with no legal status at all
  // (neither looked after nor in kinship care). With `nhs`, the GP attaches
  // to give the child its NHS number (it must be named). Returns the Kinex
  // id.
  std::string CreateChild(const std::vector<std::pair<cv1::AgencyKind, std::string>>& named,
                          bool in_cohort = true, const Agency& la = kLa,
                          const std::string& nhs = "") {
    const std::string id = absl::StrCat("NT-", NextSeed());
    ev1::PublishRecordRequest req;
    req.mutable_child()->mutable_la_child_id()->set_la_code(la.code);
    req.mutable_child()->mutable_la_child_id()->set_id(id);
    rv1::ChildRecord* r = req.mutable_record();
    r->mutable_identity()->set_la_child_id(id);
    r->mutable_identity()->set_given_name("Wren");
    r->mutable_identity()->set_family_name("Halloway");
    *r->mutable_identity()->mutable_date_of_birth() = Date(2015, 4, 2);
    for (const auto& [kind, code] : named) {
      auto* a = r->add_named_agencies();
      a->set_agency_kind(kind);
      a->set_agency_code(code);
    }
    if (in_cohort) {
      auto* ep = r->add_legal_status();
      ep->set_arrangement(rv1::SPECIAL_GUARDIANSHIP_ORDER);
      *ep->mutable_start_date() = Date(2023, 2, 1);
      ep->set_previously_looked_after(true);
    }
    r->mutable_safeguarding()->set_child_in_need_plan_open(true);
    ev1::PublishRecordResponse resp;
    grpc::Status s = Publish(la, req, &resp, "nt-create");
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!nhs.empty()) {
      ev1::PublishRecordRequest gp;
      gp.mutable_child()->set_kinex_id(resp.kinex_id());
      *gp.mutable_proof_date_of_birth() = Date(2015, 4, 2);
      gp.mutable_record()->mutable_identity()->set_nhs_number(nhs);
      gp.mutable_record()->mutable_scope()->set_registered_gp_ods_code(kGp.code);
      ev1::PublishRecordResponse gp_resp;
      s = Publish(kGp, gp, &gp_resp, "nt-gp");
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(gp_resp.link_state(), rv1::CONFIRMED);
    }
    return resp.kinex_id();
  }

  // The Met attaches to a child that named it (confirmed at once), with
  // `encompass` entries in its part. Returns the part's etag.
  std::string MetPublishes(const std::string& kid,
                           const std::vector<rv1::OperationEncompassNotification>& encompass = {},
                           const std::string& etag = "", const std::string& request_id = "nt-met") {
    ev1::PublishRecordRequest met;
    met.mutable_child()->set_kinex_id(kid);
    *met.mutable_proof_date_of_birth() = Date(2015, 4, 2);
    met.set_etag(etag);
    met.mutable_record()->mutable_scope()->set_police_force_code(kMet.code);
    for (const auto& e : encompass) {
      *met.mutable_record()->mutable_police()->add_encompass_notifications() = e;
    }
    ev1::PublishRecordResponse resp;
    grpc::Status s = Publish(kMet, met, &resp, request_id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (etag.empty()) EXPECT_EQ(resp.link_state(), rv1::CONFIRMED);
    return resp.etag();
  }

  // School A attaches to (or updates its part of) a child that named it:
  // enrolled since 2022-09-05, with `exclusions`. Returns the etag.
  std::string SchoolAPublishes(const std::string& kid,
                               const std::vector<rv1::Exclusion>& exclusions,
                               const std::string& etag, const std::string& request_id) {
    ev1::PublishRecordRequest req;
    req.mutable_child()->set_kinex_id(kid);
    *req.mutable_proof_date_of_birth() = Date(2015, 4, 2);
    req.set_etag(etag);
    req.mutable_record()->mutable_scope()->set_current_school_urn(kSchoolA.code);
    rv1::Education* ed = req.mutable_record()->mutable_education();
    auto* e = ed->add_enrolments();
    e->set_urn(kSchoolA.code);
    *e->mutable_entry_date() = Date(2022, 9, 5);
    ed->set_missing_education(false);
    for (const auto& x : exclusions) *ed->add_exclusions() = x;
    ev1::PublishRecordResponse resp;
    grpc::Status s = Publish(kSchoolA, req, &resp, request_id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (etag.empty()) EXPECT_EQ(resp.link_state(), rv1::CONFIRMED);
    return resp.etag();
  }

  grpc::Status Read(const Agency& a, const std::string& kid, cv1::Purpose purpose,
                    const std::string& justification, bool break_glass,
                    const std::string& request_id, ev1::GetChildRecordResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(ctx, request_id);
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kid);
    req.set_purpose(purpose);
    req.set_justification(justification);
    req.set_break_glass(break_glass);
    return Exchange(a)->GetChildRecord(&ctx, req, resp);
  }

  // A police safeguarding read (break-glass when asked) by the Met.
  ev1::GetChildRecordResponse PoliceRead(const std::string& kid, const std::string& request_id,
                                         bool break_glass = false) {
    ev1::GetChildRecordResponse resp;
    grpc::Status s =
        Read(kMet, kid, cv1::SAFEGUARDING, break_glass ? kBreakGlassWhy : kSafeguardingWhy,
             break_glass, request_id, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.request_id(), request_id);
    return resp;
  }

  // Every notification of `a` (of `kinds`; unacknowledged only when asked),
  // oldest first, page by page; each checked for its minimal payload.
  std::vector<nv1::Notification> ListAll(const Agency& a,
                                         const std::vector<nv1::NotificationKind>& kinds = {},
                                         bool unacknowledged_only = false,
                                         const std::string& request_id = "nt-list") {
    auto stub = Notifications(a);
    std::vector<nv1::Notification> out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      Prepare(ctx, request_id);
      nv1::ListNotificationsRequest req;
      req.set_page_size(100);
      req.set_page_token(token);
      req.set_unacknowledged_only(unacknowledged_only);
      for (auto k : kinds) req.add_kinds(k);
      nv1::ListNotificationsResponse resp;
      grpc::Status s = stub->ListNotifications(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& n : resp.notifications()) {
        ExpectMinimal(n);
        EXPECT_EQ(n.recipient_kind(), AgencyKindOf(a));
        EXPECT_EQ(n.recipient_code(), a.code);
        out.push_back(n);
      }
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }

  // `a`'s notifications about child `kid`.
  std::vector<nv1::Notification> About(const Agency& a, const std::string& kid,
                                       const std::vector<nv1::NotificationKind>& kinds = {}) {
    std::vector<nv1::Notification> out;
    for (auto& n : ListAll(a, kinds)) {
      if (n.kinex_id() == kid) out.push_back(std::move(n));
    }
    return out;
  }

  absl::Status Ack(const Agency& a, const std::string& id, nv1::Notification* out,
                   const std::string& actor = kActor) {
    grpc::ClientContext ctx;
    Prepare(ctx, "nt-ack", actor);
    nv1::AckNotificationRequest req;
    req.set_notification_id(id);
    grpc::Status s = Notifications(a)->AckNotification(&ctx, req, out);
    if (s.ok()) ExpectMinimal(*out);
    return FromGrpcStatus(s);
  }

  absl::Status Review(const Agency& a, const std::string& id, nv1::ReviewOutcome outcome,
                      const std::string& note, nv1::Notification* out,
                      const std::string& actor = kManagerActor) {
    grpc::ClientContext ctx;
    Prepare(ctx, "nt-review", actor);
    nv1::ReviewBreakGlassRequest req;
    req.set_notification_id(id);
    req.set_outcome(outcome);
    req.set_note(note);
    grpc::Status s = Notifications(a)->ReviewBreakGlass(&ctx, req, out);
    if (s.ok()) ExpectMinimal(*out);
    return FromGrpcStatus(s);
  }

  static cv1::AgencyKind AgencyKindOf(const Agency& a) {
    if (a.kind == "local-authority") return cv1::LOCAL_AUTHORITY;
    if (a.kind == "virtual-school") return cv1::VIRTUAL_SCHOOL;
    if (a.kind == "school") return cv1::SCHOOL;
    if (a.kind == "health") return cv1::HEALTH;
    if (a.kind == "police") return cv1::POLICE;
    return cv1::AGENCY_KIND_UNSPECIFIED;
  }

  // The audit events of `kind` about child `kid`, oldest first.
  std::vector<av1::AuditEvent> Events(const std::string& kid, av1::EventKind kind) {
    av1::QueryEventsRequest query;
    query.mutable_child()->set_kinex_id(kid);
    query.add_kinds(kind);
    return AuditEvents(*cluster_, query, "nt-audit");
  }

  // Checks an ACCESS or BREAK_GLASS_REVIEW notification against the read
  // that caused it.
  void ExpectAccess(const nv1::Notification& n, nv1::NotificationKind kind, int ordinal,
                    const std::string& kid, const Agency& accessor, cv1::Purpose purpose,
                    bool break_glass, const std::string& request_id,
                    const ev1::GetChildRecordResponse& read) {
    EXPECT_EQ(n.kind(), kind);
    EXPECT_EQ(n.notification_id(), absl::StrCat(read.receipt().leaf_index(), ".", ordinal));
    EXPECT_EQ(n.cause_leaf_index(), read.receipt().leaf_index());
    EXPECT_EQ(n.kinex_id(), kid);
    EXPECT_EQ(n.request_id(), request_id);
    EXPECT_EQ(n.reason(), kind == nv1::ACCESS ? "NOTIFY_RESPONSIBLE_LA" : "BREAK_GLASS_REVIEW");
    EXPECT_EQ(n.accessor().agency_kind(), AgencyKindOf(accessor));
    EXPECT_EQ(n.accessor().agency_code(), accessor.code);
    EXPECT_EQ(n.accessor().principal(), Spiffe(accessor));
    EXPECT_EQ(n.accessor().actor(), kActor);
    EXPECT_EQ(n.purpose(), purpose);
    EXPECT_EQ(n.break_glass(), break_glass);
    ASSERT_GT(read.receipt().lawful_bases_size(), 0);
    ASSERT_EQ(n.lawful_bases_size(), read.receipt().lawful_bases_size());
    for (int i = 0; i < n.lawful_bases_size(); ++i) {
      EXPECT_TRUE(Same(n.lawful_bases(i), read.receipt().lawful_bases(i)))
          << n.lawful_bases(i).ShortDebugString() << " vs "
          << read.receipt().lawful_bases(i).ShortDebugString();
    }
    EXPECT_EQ(n.recipient_kind(), cv1::LOCAL_AUTHORITY);
    EXPECT_GT(n.create_time().seconds(), 0);
  }

  std::string MetricsTarget() const { return GetParam().mode == Mode::kAllInOne ? "all" : "audit"; }
};

class NotificationsE2E : public NotificationsTest<NotificationsE2E> {};

// An Operation Encompass entry: police attended an incident at London time
// y-m-d hh:mm, and told school `urn` half an hour later.
rv1::OperationEncompassNotification Encompass(const std::string& urn, int y, int m, int d, int hh,
                                              int mm) {
  rv1::OperationEncompassNotification e;
  *e.mutable_incident_time() = LondonTime(y, m, d, hh, mm);
  *e.mutable_notified_time() = LondonTime(y, m, d, hh, mm);
  e.mutable_notified_time()->set_seconds(e.notified_time().seconds() + 1800);
  e.set_school_urn(urn);
  e.set_child_present(true);
  return e;
}

TEST_P(NotificationsE2E, APoliceReadTellsTheResponsibleLaAndNoOneElse) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}, {cv1::SCHOOL, kSchoolA.code}});
  MetPublishes(kid);
  SchoolAPublishes(kid, {}, "", "nt-school");
  const ev1::GetChildRecordResponse read = PoliceRead(kid, "nt-police-read-1");

  const std::vector<nv1::Notification> told = About(kLa, kid);
  ASSERT_EQ(told.size(), 1u);
  const nv1::Notification& n = told[0];
  ExpectAccess(n, nv1::ACCESS, 0, kid, kMet, cv1::SAFEGUARDING, /*break_glass=*/false,
               "nt-police-read-1", read);
  EXPECT_EQ(n.state(), nv1::DELIVERED);
  EXPECT_EQ(n.recipient_code(), kLa.code);
  EXPECT_EQ(n.review_outcome(), nv1::REVIEW_OUTCOME_UNSPECIFIED);

  // Nobody else is told: not another LA, not the child's school, not the
  // force that read.
  EXPECT_THAT(About(kOtherLa, kid), IsEmpty());
  EXPECT_THAT(About(kSchoolA, kid), IsEmpty());
  EXPECT_THAT(About(kMet, kid), IsEmpty());

  // The listing was audited as the delivery, naming the notification.
  std::vector<av1::AuditEvent> deliveries;
  for (const auto& e : Events(kid, av1::NOTIFICATION_DELIVERED)) {
    for (const auto& id : e.notification_ids()) {
      if (id == n.notification_id()) deliveries.push_back(e);
    }
  }
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].kind(), av1::NOTIFICATION_DELIVERED);
  EXPECT_EQ(deliveries[0].agency_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(deliveries[0].agency_code(), kLa.code);
  EXPECT_EQ(deliveries[0].principal(), Spiffe(kLa));
  EXPECT_EQ(deliveries[0].actor(), kActor);
  EXPECT_EQ(deliveries[0].method(), "ListNotifications");
  EXPECT_EQ(deliveries[0].request_id(), "nt-list");
  EXPECT_THAT(deliveries[0].notification_ids(), ElementsAre(n.notification_id()));
}

TEST_P(NotificationsE2E, AHealthReadTellsTheResponsibleLa) {
  const int seed = NextSeed();
  const std::string kid = CreateChild({{cv1::HEALTH, kGp.code}}, true, kLa, TestNhs(seed));
  ev1::GetChildRecordResponse read;
  grpc::Status s = Read(kGp, kid, cv1::HEALTH_CARE, kHealthWhy, false, "nt-health-read", &read);
  ASSERT_TRUE(s.ok()) << s.error_message();

  const std::vector<nv1::Notification> told = About(kLa, kid);
  ASSERT_EQ(told.size(), 1u);
  ExpectAccess(told[0], nv1::ACCESS, 0, kid, kGp, cv1::HEALTH_CARE, /*break_glass=*/false,
               "nt-health-read", read);
  EXPECT_EQ(told[0].state(), nv1::DELIVERED);
  EXPECT_THAT(About(kOtherLa, kid), IsEmpty());
  EXPECT_THAT(About(kGp, kid), IsEmpty());
}

TEST_P(NotificationsE2E, ABreakGlassReadIsReviewedOnceByTheTeamManager) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  const ev1::GetChildRecordResponse read = PoliceRead(kid, "nt-break-glass", /*break_glass=*/true);

  const std::vector<nv1::Notification> told = About(kLa, kid);
  ASSERT_EQ(told.size(), 2u);
  ExpectAccess(told[0], nv1::ACCESS, 0, kid, kMet, cv1::SAFEGUARDING, true, "nt-break-glass", read);
  ExpectAccess(told[1], nv1::BREAK_GLASS_REVIEW, 1, kid, kMet, cv1::SAFEGUARDING, true,
               "nt-break-glass", read);
  const std::string review_id = told[1].notification_id();
  EXPECT_EQ(told[1].state(), nv1::DELIVERED);

  // A review is closed by ReviewBreakGlass, not acknowledged.
  nv1::Notification got;
  absl::Status st = Ack(kLa, review_id, &got);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition,
                           absl::StrCat("notification_id: \"", review_id,
                                        "\" is a break-glass review; a team manager closes it "
                                        "with ReviewBreakGlass")));
  EXPECT_THAT(st, HasErrorReason("NOTIFICATION_STATE_CONFLICT"));
  EXPECT_THAT(st, HasErrorMetadata("notification_id", review_id));

  // Bad requests name the field.
  st = Review(kLaManager, review_id, nv1::REVIEW_OUTCOME_UNSPECIFIED, kUpheldNote, &got);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument,
                           "outcome: must be UPHELD or REFERRED (got 0)"));
  EXPECT_THAT(st, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(st, HasErrorMetadata("field", "outcome"));
  st = Review(kLaManager, review_id, nv1::UPHELD, "Justified", &got);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument,
                           "note: the reviewer's reasons, 10-2000 bytes (got 9)"));
  EXPECT_THAT(st, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(st, HasErrorMetadata("field", "note"));

  // A social worker may not close it.
  st = Review(kLa, review_id, nv1::UPHELD, kUpheldNote, &got, kActor);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kPermissionDenied,
                           "ReviewBreakGlass: only a team manager of the responsible local "
                           "authority (role team-manager) closes a break-glass review"));
  EXPECT_THAT(st, HasErrorReason("REVIEWER_NOT_PERMITTED"));

  // The team manager upholds it.
  nv1::Notification upheld;
  ASSERT_THAT(Review(kLaManager, review_id, nv1::UPHELD, kUpheldNote, &upheld), IsOk());
  EXPECT_EQ(upheld.notification_id(), review_id);
  EXPECT_EQ(upheld.kind(), nv1::BREAK_GLASS_REVIEW);
  EXPECT_EQ(upheld.review_outcome(), nv1::UPHELD);
  EXPECT_EQ(upheld.review_note(), kUpheldNote);
  EXPECT_EQ(upheld.state(), nv1::ACKNOWLEDGED);
  EXPECT_EQ(upheld.acked_by(), kManagerActor);
  EXPECT_GT(upheld.ack_time().seconds(), 0);

  // The same review again is the first, unchanged.
  nv1::Notification again;
  ASSERT_THAT(Review(kLaManager, review_id, nv1::UPHELD, kUpheldNote, &again), IsOk());
  EXPECT_TRUE(Same(again, upheld)) << again.ShortDebugString() << "\n vs \n"
                                   << upheld.ShortDebugString();
  // A different one is refused.
  st = Review(kLaManager, review_id, nv1::REFERRED, "Referred to the DPO for answer.", &got);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition,
                           absl::StrCat("notification_id: \"", review_id,
                                        "\" was already reviewed (UPHELD by ", kManagerActor,
                                        "); a review is closed once")));
  EXPECT_THAT(st, HasErrorReason("NOTIFICATION_STATE_CONFLICT"));

  // The listing shows it reviewed; the ACCESS notification is untouched.
  const std::vector<nv1::Notification> after = About(kLa, kid);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].state(), nv1::DELIVERED);
  EXPECT_TRUE(Same(after[1], upheld)) << after[1].ShortDebugString();

  // The review is audited with its outcome and note.
  const std::vector<av1::AuditEvent> reviewed = Events(kid, av1::BREAK_GLASS_REVIEWED);
  ASSERT_EQ(reviewed.size(), 1u);
  EXPECT_THAT(reviewed[0].notification_ids(), ElementsAre(review_id));
  EXPECT_EQ(reviewed[0].review_outcome(), nv1::UPHELD);
  EXPECT_EQ(reviewed[0].justification(), kUpheldNote);
  EXPECT_EQ(reviewed[0].actor(), kManagerActor);
  EXPECT_EQ(reviewed[0].principal(), Spiffe(kLaManager));

  // Another LA's review (Sandwell's child, read by break-glass): to
  // Westminster's team manager it does not exist, exactly as an unknown id.
  const std::string sandwell_kid = CreateChild({{cv1::POLICE, kMet.code}}, true, kOtherLa);
  MetPublishes(sandwell_kid);
  PoliceRead(sandwell_kid, "nt-break-glass-2", /*break_glass=*/true);
  const std::vector<nv1::Notification> theirs =
      About(kOtherLa, sandwell_kid, {nv1::BREAK_GLASS_REVIEW});
  ASSERT_EQ(theirs.size(), 1u);
  const std::string their_id = theirs[0].notification_id();
  const absl::Status foreign = Review(kLaManager, their_id, nv1::UPHELD, kUpheldNote, &got);
  const absl::Status unknown = Review(kLaManager, kNoSuchId, nv1::UPHELD, kUpheldNote, &got);
  EXPECT_THAT(foreign, StatusIs(absl::StatusCode::kNotFound,
                                absl::StrCat("notification_id: no notification \"", their_id,
                                             "\" for your agency")));
  EXPECT_THAT(foreign, HasErrorReason("NOTIFICATION_NOT_FOUND"));
  EXPECT_THAT(foreign, HasErrorMetadata("notification_id", their_id));
  EXPECT_EQ(unknown.code(), foreign.code());
  EXPECT_EQ(absl::StrReplaceAll(unknown.message(), {{kNoSuchId, "<id>"}}),
            absl::StrReplaceAll(foreign.message(), {{their_id, "<id>"}}));
  EXPECT_THAT(unknown, HasErrorReason("NOTIFICATION_NOT_FOUND"));
  // Still open for Sandwell.
  const std::vector<nv1::Notification> still =
      About(kOtherLa, sandwell_kid, {nv1::BREAK_GLASS_REVIEW});
  ASSERT_EQ(still.size(), 1u);
  EXPECT_EQ(still[0].review_outcome(), nv1::REVIEW_OUTCOME_UNSPECIFIED);
  EXPECT_EQ(still[0].state(), nv1::DELIVERED);
}

TEST_P(NotificationsE2E, OperationEncompassTellsTheSchoolByItsNextSchoolDay) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}, {cv1::SCHOOL, kSchoolA.code}});
  // Friday 5 November 2027, 17:00: due before school starts on Monday.
  const std::string etag =
      MetPublishes(kid, {Encompass(kSchoolA.code, 2027, 11, 5, 17, 0)}, "", "nt-encompass-1");

  std::vector<nv1::Notification> at_school = About(kSchoolA, kid);
  ASSERT_EQ(at_school.size(), 1u);
  const nv1::Notification first = at_school[0];
  EXPECT_EQ(first.kind(), nv1::ENCOMPASS);
  EXPECT_EQ(first.reason(), "ENCOMPASS_INCIDENT");
  EXPECT_EQ(first.state(), nv1::DELIVERED);
  EXPECT_EQ(first.school_urn(), kSchoolA.code);
  EXPECT_EQ(first.force_code(), "");
  EXPECT_FALSE(first.has_accessor());
  EXPECT_EQ(first.purpose(), cv1::PURPOSE_UNSPECIFIED);
  EXPECT_EQ(first.request_id(), "nt-encompass-1");
  EXPECT_EQ(first.recipient_kind(), cv1::SCHOOL);
  EXPECT_EQ(first.recipient_code(), kSchoolA.code);
  EXPECT_FALSE(first.escalated());
  EXPECT_TRUE(Same(first.deadline(), LondonTime(2027, 11, 8, 8, 0)))
      << first.deadline().ShortDebugString();
  EXPECT_EQ(first.notification_id(), absl::StrCat(first.cause_leaf_index(), ".0"));
  EXPECT_THAT(About(kSchoolB, kid), IsEmpty());
  // The incident is the school's to act on, not the LA's (until missed).
  EXPECT_THAT(About(kLa, kid), IsEmpty());

  // Acknowledged once; a second acknowledgement returns the first.
  nv1::Notification acked;
  ASSERT_THAT(Ack(kSchoolA, first.notification_id(), &acked, "Key Adult"), IsOk());
  EXPECT_EQ(acked.state(), nv1::ACKNOWLEDGED);
  EXPECT_EQ(acked.acked_by(), "Key Adult");
  EXPECT_GT(acked.ack_time().seconds(), 0);
  nv1::Notification again;
  ASSERT_THAT(Ack(kSchoolA, first.notification_id(), &again, "Someone Else"), IsOk());
  EXPECT_TRUE(Same(again, acked)) << again.ShortDebugString() << "\n vs \n"
                                  << acked.ShortDebugString();

  // To school B, school A's notification does not exist.
  nv1::Notification got;
  const absl::Status foreign = Ack(kSchoolB, first.notification_id(), &got);
  const absl::Status unknown = Ack(kSchoolB, kNoSuchId, &got);
  EXPECT_THAT(foreign, StatusIs(absl::StatusCode::kNotFound,
                                absl::StrCat("notification_id: no notification \"",
                                             first.notification_id(), "\" for your agency")));
  EXPECT_THAT(foreign, HasErrorReason("NOTIFICATION_NOT_FOUND"));
  EXPECT_THAT(foreign, HasErrorMetadata("notification_id", first.notification_id()));
  EXPECT_EQ(unknown.code(), foreign.code());
  EXPECT_EQ(absl::StrReplaceAll(unknown.message(), {{kNoSuchId, "<id>"}}),
            absl::StrReplaceAll(foreign.message(), {{first.notification_id(), "<id>"}}));
  EXPECT_THAT(unknown, HasErrorReason("NOTIFICATION_NOT_FOUND"));

  // A second incident, a year ago, published only now: the school's
  // deadline counts from the publish (its next school day: with no
  // calendar, the next weekday 08:00 London after now), never one already
  // past, so nothing is escalated. (An escalation needs the clock to pass a
  // deadline; it is tested with an injected clock in
  // tests/audit/notifications_log_test.cc.)
  const absl::Time published = absl::Now();
  MetPublishes(
      kid,
      {Encompass(kSchoolA.code, 2027, 11, 5, 17, 0), Encompass(kSchoolA.code, 2026, 11, 6, 17, 0)},
      etag, "nt-encompass-2");
  at_school = About(kSchoolA, kid);
  ASSERT_EQ(at_school.size(), 2u);
  EXPECT_EQ(at_school[1].request_id(), "nt-encompass-2");
  const absl::TimeZone london = London();
  absl::CivilDay day = absl::ToCivilDay(published, london);
  absl::Time expected_deadline;
  while (true) {
    const absl::Weekday wd = absl::GetWeekday(day);
    const absl::Time start =
        absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), 8, 0, 0), london);
    if (wd != absl::Weekday::saturday && wd != absl::Weekday::sunday && start > published) {
      expected_deadline = start;
      break;
    }
    ++day;
  }
  EXPECT_EQ(at_school[1].deadline().seconds(), absl::ToUnixSeconds(expected_deadline))
      << at_school[1].deadline().ShortDebugString();
  absl::SleepFor(absl::Seconds(2));  // the sweeper runs every second
  EXPECT_THAT(About(kLa, kid, {nv1::ENCOMPASS_ESCALATION}), IsEmpty());
  EXPECT_THAT(About(kMet, kid, {nv1::ENCOMPASS_ESCALATION}), IsEmpty());
  at_school = About(kSchoolA, kid);
  ASSERT_EQ(at_school.size(), 2u);
  EXPECT_FALSE(at_school[0].escalated());
  EXPECT_EQ(at_school[0].state(), nv1::ACKNOWLEDGED);
  EXPECT_FALSE(at_school[1].escalated());
  EXPECT_THAT(About(kSchoolB, kid), IsEmpty());
  EXPECT_THAT(Events(kid, av1::NOTIFICATION_ESCALATED), IsEmpty());
  const std::optional<double> misses =
      MetricValue(cluster_->ScrapeMetrics(MetricsTarget()), "kinex_notification_deadline_misses");
  ASSERT_TRUE(misses.has_value());
}

// A force whose link the responsible LA has not confirmed cannot make Kinex
// name the child to a school: its Encompass notification goes to the LA.
TEST_P(NotificationsE2E, AnUnconfirmedForceTellsTheLaNotTheSchoolItNames) {
  const std::string kid = CreateChild({});  // names no force
  ev1::PublishRecordRequest met;
  met.mutable_child()->set_kinex_id(kid);
  *met.mutable_proof_date_of_birth() = Date(2015, 4, 2);
  met.mutable_record()->mutable_scope()->set_police_force_code(kMet.code);
  *met.mutable_record()->mutable_police()->add_encompass_notifications() =
      Encompass(kSchoolB.code, 2027, 11, 5, 17, 0);
  ev1::PublishRecordResponse resp;
  ASSERT_TRUE(Publish(kMet, met, &resp, "nt-unconfirmed").ok());
  EXPECT_EQ(resp.link_state(), rv1::CLAIMED);
  EXPECT_THAT(About(kSchoolB, kid), IsEmpty());
  const std::vector<nv1::Notification> to_la = About(kLa, kid, {nv1::ENCOMPASS});
  ASSERT_EQ(to_la.size(), 1u);
  EXPECT_EQ(to_la[0].reason(), "ENCOMPASS_UNCONFIRMED_FORCE");
  EXPECT_EQ(to_la[0].school_urn(), kSchoolB.code);
  EXPECT_EQ(to_la[0].force_code(), kMet.code);
}

TEST_P(NotificationsE2E, AWatchWithoutACursorReplaysTheUnacknowledgedOldestFirst) {
  // Thirty police reads; every third notification acknowledged, so the
  // unacknowledged ones outnumber one delivery batch (16) and acknowledged
  // ones sit between them.
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  for (int i = 0; i < 30; ++i) PoliceRead(kid, absl::StrCat("nt-replay-read-", i));
  std::vector<nv1::Notification> mine = About(kLa, kid);
  ASSERT_EQ(mine.size(), 30u);
  for (size_t i = 1; i < mine.size(); i += 3) {
    nv1::Notification acked;
    ASSERT_THAT(Ack(kLa, mine[i].notification_id(), &acked), IsOk());
  }
  std::vector<std::string> expected;
  for (const auto& n : ListAll(kLa, {}, /*unacknowledged_only=*/true)) {
    expected.push_back(n.notification_id());
  }
  ASSERT_GE(expected.size(), 20u);

  std::unique_ptr<Watcher> w = Watch(kLa, "", "nt-replay-watch");
  std::vector<std::string> replayed;
  while (replayed.size() < expected.size()) {
    std::optional<nv1::Notification> n = w->Next(absl::Seconds(5));
    if (!n.has_value()) break;
    ExpectMinimal(*n);
    EXPECT_EQ(n->recipient_code(), kLa.code);
    replayed.push_back(n->notification_id());
  }
  EXPECT_EQ(replayed, expected);

  // Then only what is new: the next message is the next read's.
  const ev1::GetChildRecordResponse read = PoliceRead(kid, "nt-replay-new");
  std::optional<nv1::Notification> pushed = w->Next(absl::Seconds(5));
  ASSERT_TRUE(pushed.has_value()) << "no new notification within 5 s";
  ExpectMinimal(*pushed);
  EXPECT_EQ(pushed->request_id(), "nt-replay-new");
  EXPECT_EQ(pushed->notification_id(), absl::StrCat(read.receipt().leaf_index(), ".0"));
  w->Cancel();
}

TEST_P(NotificationsE2E, AWatchPushesWhatIsNewAndResumesAfterItsCursor) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  PoliceRead(kid, "nt-watch-read-0");
  const std::vector<nv1::Notification> so_far = ListAll(kLa);
  ASSERT_FALSE(so_far.empty());

  // School B has nothing, and is told nothing of what follows.
  std::unique_ptr<Watcher> school_b = Watch(kSchoolB, "", "nt-watch-school-b");

  // From the LA's latest notification on: a new read arrives.
  std::unique_ptr<Watcher> w = Watch(kLa, so_far.back().notification_id(), "nt-watch-1");
  const ev1::GetChildRecordResponse read = PoliceRead(kid, "nt-watch-new-1");
  std::optional<nv1::Notification> pushed = w->Next(absl::Seconds(5));
  ASSERT_TRUE(pushed.has_value()) << "no new notification within 5 s";
  ExpectMinimal(*pushed);
  ExpectAccess(*pushed, nv1::ACCESS, 0, kid, kMet, cv1::SAFEGUARDING, false, "nt-watch-new-1",
               read);
  EXPECT_EQ(pushed->state(), nv1::DELIVERED);
  const std::string cursor = pushed->notification_id();
  w->Cancel();
  EXPECT_EQ(w->Pending(), 0u);

  // Resumed after the last id processed: only what came after it.
  std::unique_ptr<Watcher> resumed = Watch(kLa, cursor, "nt-watch-2");
  const ev1::GetChildRecordResponse read2 = PoliceRead(kid, "nt-watch-new-2");
  std::optional<nv1::Notification> next = resumed->Next(absl::Seconds(5));
  ASSERT_TRUE(next.has_value()) << "no new notification within 5 s";
  ExpectMinimal(*next);
  ExpectAccess(*next, nv1::ACCESS, 0, kid, kMet, cv1::SAFEGUARDING, false, "nt-watch-new-2", read2);
  resumed->Cancel();
  EXPECT_EQ(resumed->Pending(), 0u);

  // The stream deliveries were audited, each by the stream's request id.
  std::map<std::string, std::string> delivered_by;  // notification id -> request id
  for (const auto& e : Events(kid, av1::NOTIFICATION_DELIVERED)) {
    if (e.method() != "WatchNotifications") continue;
    EXPECT_EQ(e.agency_code(), kLa.code);
    for (const auto& id : e.notification_ids()) delivered_by[id] = e.request_id();
  }
  EXPECT_THAT(delivered_by, UnorderedElementsAre(Pair(cursor, "nt-watch-1"),
                                                 Pair(next->notification_id(), "nt-watch-2")));

  EXPECT_FALSE(school_b->Next(absl::Seconds(2)).has_value());
  school_b->Cancel();
}

TEST_P(NotificationsE2E, AWatchRefusesABadCursorAndTooManyStreams) {
  std::unique_ptr<Watcher> bad = Watch(kLa, "abc", "nt-watch-bad");
  std::optional<grpc::Status> done = bad->Done(absl::Seconds(10));
  ASSERT_TRUE(done.has_value());
  const absl::Status st = FromGrpcStatus(*done);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument,
                           "after: notification id \"abc\" is not of the form <leaf "
                           "index>.<ordinal>"));
  EXPECT_THAT(st, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(st, HasErrorMetadata("field", "after"));
  EXPECT_THAT(st, HasErrorMetadata("request_id", "nt-watch-bad"));

  // Sandwell gets one notification, so each admitted watch shows itself by
  // replaying it.
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}}, true, kOtherLa);
  MetPublishes(kid);
  PoliceRead(kid, "nt-quota-read");
  std::vector<std::unique_ptr<Watcher>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(Watch(kOtherLa, "", absl::StrCat("nt-quota-", i)));
    std::optional<nv1::Notification> n = open.back()->Next(absl::Seconds(5));
    ASSERT_TRUE(n.has_value()) << "watch " << i << " was not admitted";
    ExpectMinimal(*n);
  }
  // The fifth is one too many for the agency (gateway.max_streams_per_agency,
  // default 4).
  std::unique_ptr<Watcher> fifth = Watch(kOtherLa, "", "nt-quota-4");
  done = fifth->Done(absl::Seconds(10));
  ASSERT_TRUE(done.has_value());
  const absl::Status refused = FromGrpcStatus(*done);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                "too many streams open for agency local-authority/E08000025 "
                                "(limit 4); close one first"));
  EXPECT_THAT(refused, HasErrorReason("TOO_MANY_STREAMS"));
  EXPECT_THAT(refused, HasErrorMetadata("limit", "4"));

  // Another agency's streams are its own.
  std::unique_ptr<Watcher> other = Watch(kSchoolB, "", "nt-quota-school-b");
  EXPECT_FALSE(other->Done(absl::Seconds(1)).has_value());
  other->Cancel();

  // Closing one frees its slot.
  open[0]->Cancel();
  bool admitted = false;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!admitted && absl::Now() < give_up) {
    std::unique_ptr<Watcher> retry = Watch(kOtherLa, "", "nt-quota-retry");
    admitted = retry->Next(absl::Seconds(2)).has_value();
    if (!admitted) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(admitted);
  for (auto& w : open) w->Cancel();
}

TEST_P(NotificationsE2E, ASuspensionOfAChildInTheCohortAlertsTheVirtualSchool) {
  rv1::Exclusion suspension;
  suspension.set_type(rv1::SUSPENSION);
  *suspension.mutable_start_date() = Date(2026, 11, 16);
  suspension.set_sessions(4);
  suspension.set_reason_code("PP");
  suspension.set_school_urn(kSchoolA.code);

  // Previously looked after (special guardianship from care): in the
  // Westminster virtual school's cohort.
  const std::string kid = CreateChild({{cv1::SCHOOL, kSchoolA.code}}, /*in_cohort=*/true);
  const std::string etag = SchoolAPublishes(kid, {}, "", "nt-vsh-school-1");
  SchoolAPublishes(kid, {suspension}, etag, "nt-vsh-school-2");
  const std::vector<nv1::Notification> alerts = About(kVsh, kid);
  ASSERT_EQ(alerts.size(), 2u);
  // Joining the school is a school move; then the suspension.
  EXPECT_EQ(alerts[0].kind(), nv1::VSH_ALERT);
  EXPECT_EQ(alerts[0].reason(), "SCHOOL_MOVE");
  EXPECT_EQ(alerts[0].request_id(), "nt-vsh-school-1");
  EXPECT_EQ(alerts[1].kind(), nv1::VSH_ALERT);
  EXPECT_EQ(alerts[1].reason(), "SUSPENSION");
  EXPECT_EQ(alerts[1].request_id(), "nt-vsh-school-2");
  EXPECT_EQ(alerts[1].recipient_kind(), cv1::VIRTUAL_SCHOOL);
  EXPECT_EQ(alerts[1].recipient_code(), kVsh.code);
  EXPECT_EQ(alerts[1].state(), nv1::DELIVERED);
  EXPECT_EQ(alerts[1].notification_id(), absl::StrCat(alerts[1].cause_leaf_index(), ".0"));
  // Nobody else is alerted.
  EXPECT_THAT(About(kLa, kid), IsEmpty());
  EXPECT_THAT(About(kSchoolA, kid), IsEmpty());

  // A child with no legal status (neither looked after nor in kinship care)
  // is not in the cohort: the same publishes alert no one.
  const std::string outside = CreateChild({{cv1::SCHOOL, kSchoolA.code}}, /*in_cohort=*/false);
  const std::string etag2 = SchoolAPublishes(outside, {}, "", "nt-vsh-school-3");
  SchoolAPublishes(outside, {suspension}, etag2, "nt-vsh-school-4");
  EXPECT_THAT(About(kVsh, outside), IsEmpty());
  EXPECT_THAT(About(kLa, outside), IsEmpty());
}

// The minimal payload, across everything every agency in these suites has
// been told (ExpectMinimal runs on every notification listed): at least an
// ACCESS and a BREAK_GLASS_REVIEW made here, whatever ran before.
TEST_P(NotificationsE2E, EveryNotificationCarriesOnlyTheFieldsOfItsKind) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  PoliceRead(kid, "nt-minimal", /*break_glass=*/true);
  std::set<nv1::NotificationKind> kinds;
  for (const Agency& a : {kLa, kOtherLa, kSchoolA, kSchoolB, kVsh, kMet, kGp}) {
    for (const auto& n : ListAll(a)) kinds.insert(n.kind());
  }
  EXPECT_TRUE(kinds.count(nv1::ACCESS));
  EXPECT_TRUE(kinds.count(nv1::BREAK_GLASS_REVIEW));
}

INSTANTIATE_TEST_SUITE_P(Deployments, NotificationsE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

// A suite whose gateway's poller looks every `kPollMillis` ms.
template <typename Suite, int kPollMillis>
class PollingEvery : public NotificationsTest<Suite> {
 public:
  static constexpr absl::Duration kPoll = absl::Milliseconds(kPollMillis);
  static void CustomizeCluster(const Deployment& /*d*/, KinexCluster::Options& options) {
    options.extra_config =
        absl::StrCat("gateway { notification_poll_millis: ", kPollMillis, " }\n");
  }
};

// The server's poller first looks for new notifications one interval after
// start (here 5 s) and from then on only past what was committed then. A
// watch opened before that look, whose first read found nothing, and a read
// committed before it: the look wakes every open watch, which replays from
// its own cursor. (It once did not, and such a watcher heard nothing until
// something newer came.)
class NotificationsFirstPollE2E : public PollingEvery<NotificationsFirstPollE2E, 5000> {};

TEST_P(NotificationsFirstPollE2E, AWatchOpenedBeforeTheFirstPollHearsOfAReadBeforeIt) {
  const absl::Time started = absl::Now();  // the cluster started just now
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  auto watcher = Watch(kLa, "", "fp-watch");
  // The watch's first read runs on a worker as soon as it opens; give it
  // time to run (and find nothing) before the read is decided.
  absl::SleepFor(absl::Milliseconds(500));
  PoliceRead(kid, "fp-read");
  const absl::Duration before_poll = absl::Now() - started;
  std::optional<nv1::Notification> n = watcher->Next(kPoll + absl::Seconds(10));
  ASSERT_TRUE(n.has_value()) << "the read was " << before_poll << " after the cluster started";
  EXPECT_EQ(n->request_id(), "fp-read");
  EXPECT_EQ(n->kind(), nv1::ACCESS);
  ExpectMinimal(*n);
  // (When setting up took longer than the interval the read came after the
  // first look, and the test shows only that the poller saw it.)
  if (before_poll >= kPoll) GTEST_LOG_(WARNING) << "setup took " << before_poll;
}

INSTANTIATE_TEST_SUITE_P(Deployments, NotificationsFirstPollE2E,
                         ::testing::ValuesIn(AllDeployments()), DeploymentName);

// Resilience. A crash between decision and delivery: reads are decided (their
// notifications durable with their audit leaves) and the server is killed
// (SIGKILL) before a watcher has them all; after a restart a watcher that
// resumes from its last cursor gets every one, once, in order, and the
// store holds each once. All in one process the killed process is the audit
// log's own; one process per service, the gateway that delivers.
class NotificationsResilienceE2E : public NotificationsTest<NotificationsResilienceE2E> {
 public:
  // One agency makes 200 reads back to back below: faster than 10 ms a read,
  // they would outrun the default rate limit (50 a second, burst 100), which
  // is not what these tests are about (server_bounds_e2e_test tests it).
  static void CustomizeCluster(const Deployment& /*d*/, KinexCluster::Options& options) {
    options.extra_config = "gateway { rate_limit_per_agency: 100000 rate_limit_burst: 100000 }\n";
  }

 protected:
  std::string Server() const { return GetParam().mode == Mode::kAllInOne ? "all" : "gateway"; }
};

TEST_P(NotificationsResilienceE2E, AKilledServerLosesAndDuplicatesNothingForAResumingWatcher) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  auto watcher = Watch(kLa, "", "cr-watch-1");
  PoliceRead(kid, "cr-read-0");
  std::optional<nv1::Notification> first = watcher->Next(absl::Seconds(10));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->request_id(), "cr-read-0");
  const std::string cursor = first->notification_id();

  // Five more decisions, then the kill at once: the watcher may have some.
  for (int i = 1; i <= 5; ++i) PoliceRead(kid, absl::StrCat("cr-read-", i));
  cluster_->Kill(Server());
  const std::optional<grpc::Status> ended = watcher->Done(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAVAILABLE) << ended->error_message();
  std::vector<std::string> before_crash;
  while (auto n = watcher->Next(absl::ZeroDuration())) before_crash.push_back(n->request_id());
  ASSERT_THAT(cluster_->Restart(Server()), IsOk());

  // Resumed from the last cursor: the five, in order, each once.
  auto resumed = Watch(kLa, cursor, "cr-watch-2");
  std::vector<std::string> got;
  while (got.size() < 5) {
    std::optional<nv1::Notification> n = resumed->Next(absl::Seconds(10));
    if (!n.has_value()) break;
    ExpectMinimal(*n);
    EXPECT_EQ(n->kind(), nv1::ACCESS);
    got.push_back(n->request_id());
  }
  EXPECT_THAT(got, ElementsAre("cr-read-1", "cr-read-2", "cr-read-3", "cr-read-4", "cr-read-5"))
      << "before the crash the watcher had: " << absl::StrJoin(before_crash, ", ");
  EXPECT_FALSE(resumed->Next(absl::Milliseconds(500)).has_value());
  // Whatever the first watcher had was a prefix of them, in order.
  EXPECT_LE(before_crash.size(), 5u);
  for (size_t i = 0; i < before_crash.size(); ++i) {
    EXPECT_EQ(before_crash[i], absl::StrCat("cr-read-", i + 1));
  }

  // The store holds each notification once, and each read's one event.
  std::vector<std::string> stored;
  for (const auto& n : About(kLa, kid, {nv1::ACCESS})) stored.push_back(n.request_id());
  EXPECT_THAT(stored, ElementsAre("cr-read-0", "cr-read-1", "cr-read-2", "cr-read-3", "cr-read-4",
                                  "cr-read-5"));
  EXPECT_EQ(Events(kid, av1::DISCLOSURE).size(), 6u);
}

// A watcher that never reads (a stalled or hostile client) holds up no one:
// the server sends each stream one batch at a time and only after the last
// write finished, so another watcher of the same agency gets every
// notification at once, and the stalled one, when it reads at last, gets
// them in order from where it was, with no gap.
TEST_P(NotificationsResilienceE2E, AWatcherThatNeverReadsHoldsUpNoOne) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  const std::string after = [&] {
    const std::vector<nv1::Notification> all = ListAll(kLa);
    return all.empty() ? std::string() : all.back().notification_id();
  }();
  // The stalled stream: started, then not read until the end.
  grpc::ClientContext stalled_ctx;
  Prepare(stalled_ctx, "st-stalled");
  nv1::WatchNotificationsRequest stalled_req;
  stalled_req.set_after(after);
  auto stalled_stub = Notifications(kLa);
  auto stalled = stalled_stub->WatchNotifications(&stalled_ctx, stalled_req);
  auto reader = Watch(kLa, after, "st-reader");

  constexpr int kReads = 200;
  for (int i = 0; i < kReads; ++i) PoliceRead(kid, absl::StrCat("st-read-", i));
  std::vector<std::string> got;
  while (got.size() < kReads) {
    std::optional<nv1::Notification> n = reader->Next(absl::Seconds(20));
    if (!n.has_value()) break;
    got.push_back(n->request_id());
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kReads));
  for (int i = 0; i < kReads; ++i) EXPECT_EQ(got[i], absl::StrCat("st-read-", i));

  // At last the stalled client reads: in order, no gap, nothing else.
  std::vector<std::string> late;
  nv1::Notification n;
  while (late.size() < kReads && stalled->Read(&n)) late.push_back(n.request_id());
  ASSERT_EQ(late.size(), static_cast<size_t>(kReads));
  for (int i = 0; i < kReads; ++i) EXPECT_EQ(late[i], absl::StrCat("st-read-", i));
  stalled_ctx.TryCancel();
  stalled->Finish();
}

INSTANTIATE_TEST_SUITE_P(Deployments, NotificationsResilienceE2E,
                         ::testing::ValuesIn(AllDeployments()), DeploymentName);

// A missed Operation Encompass deadline, in real processes: the `kinex`
// processes run with tests/testing/clock_shift_preload.c preloaded, whose
// offset the test moves past the deadline, as the injected clock does in
// tests/audit/notifications_log_test.cc. Only the processes' wall clock
// moves (CLOCK_MONOTONIC is left alone, so gRPC's timers are unaffected).
class EncompassDeadlineE2E : public NotificationsTest<EncompassDeadlineE2E> {
 public:
  // The file holding deployment `name`'s clock offset ("+<seconds>").
  static std::string ClockFile(const std::string& name) {
    static const std::string dir = MakeUniqueTempDir("kinex-clock-shift");
    return absl::StrCat(dir, "/", name);
  }

  static void SetOffset(const std::string& name, int64_t seconds) {
    std::ofstream(ClockFile(name), std::ios::trunc) << "+" << seconds << "\n";
  }

  static void CustomizeCluster(const Deployment& d, KinexCluster::Options& options) {
    SetOffset(d.name, 0);
    options.env = {absl::StrCat("LD_PRELOAD=", KINEX_CLOCK_SHIFT_LIB),
                   absl::StrCat("KINEX_CLOCK_SHIFT_FILE=", ClockFile(d.name))};
  }

  void SetUp() override {
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    GTEST_SKIP() << "a preloaded library cannot come ahead of a sanitizer's runtime; the "
                    "optimised build runs this suite";
#endif
#endif
    NotificationsTest<EncompassDeadlineE2E>::SetUp();
  }
};

TEST_P(EncompassDeadlineE2E, AMissedDeadlineEscalatesToTheLaAndTheForceOnce) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}, {cv1::SCHOOL, kSchoolA.code}});
  // Two incidents an hour ago: the school acknowledges the first only.
  const absl::Time published = absl::Now();
  const absl::CivilMinute hour_ago = absl::ToCivilMinute(published - absl::Hours(1), London());
  const auto incident = [&](int minute_offset) {
    return Encompass(kSchoolA.code, static_cast<int>(hour_ago.year()), hour_ago.month(),
                     hour_ago.day(), hour_ago.hour(), hour_ago.minute() + minute_offset);
  };
  MetPublishes(kid, {incident(0), incident(1)}, "", "dl-encompass");
  std::vector<nv1::Notification> at_school = About(kSchoolA, kid);
  ASSERT_EQ(at_school.size(), 2u);
  nv1::Notification acked;
  ASSERT_THAT(Ack(kSchoolA, at_school[0].notification_id(), &acked, "Key Adult"), IsOk());
  const nv1::Notification missed = at_school[1];
  EXPECT_FALSE(missed.escalated());
  const absl::Time deadline = absl::FromUnixSeconds(missed.deadline().seconds());
  ASSERT_GT(deadline, published);
  EXPECT_LE(deadline, published + absl::Hours(24 * 4)) << "no calendar: the next weekday 08:00";
  EXPECT_THAT(About(kLa, kid, {nv1::ENCOMPASS_ESCALATION}), IsEmpty());

  // The processes' clock moves to a minute past the deadline; the audit
  // service's sweeper (every second) escalates what is unacknowledged.
  SetOffset(GetParam().name, absl::ToInt64Seconds(deadline - absl::Now() + absl::Minutes(1)));
  // Each process re-reads the offset once a second, and Abseil's clock
  // follows the kernel's within a few seconds; until both have, a process's
  // outgoing gRPC deadlines (from absl::Now) disagree with gRPC's own clock
  // reading and its internal calls fail. Wait until the gateway answers
  // from the audit service three times running.
  absl::SleepFor(absl::Seconds(2));
  for (int ok = 0, tries = 0; ok < 3 && tries < 60; ++tries) {
    grpc::ClientContext ctx;
    Prepare(ctx, "dl-settle");
    nv1::ListNotificationsResponse resp;
    ok = Notifications(kLa)->ListNotifications(&ctx, {}, &resp).ok() ? ok + 1 : 0;
    absl::SleepFor(absl::Milliseconds(500));
  }
  std::vector<nv1::Notification> to_la, to_force;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       absl::Now() < give_up && (to_la.empty() || to_force.empty());
       absl::SleepFor(absl::Milliseconds(200))) {
    to_la = About(kLa, kid, {nv1::ENCOMPASS_ESCALATION});
    to_force = About(kMet, kid, {nv1::ENCOMPASS_ESCALATION});
  }
  ASSERT_EQ(to_la.size(), 1u);
  ASSERT_EQ(to_force.size(), 1u);
  for (const nv1::Notification& n : {to_la[0], to_force[0]}) {
    EXPECT_EQ(n.about_notification_id(), missed.notification_id());
    EXPECT_EQ(n.school_urn(), kSchoolA.code);
    EXPECT_EQ(n.force_code(), kMet.code);
    EXPECT_EQ(n.deadline().seconds(), missed.deadline().seconds());
    EXPECT_EQ(n.kinex_id(), kid);
  }
  EXPECT_EQ(to_la[0].cause_leaf_index(), to_force[0].cause_leaf_index());

  // The school's copy says so; the acknowledged one is not escalated.
  at_school = About(kSchoolA, kid);
  ASSERT_EQ(at_school.size(), 2u);
  EXPECT_FALSE(at_school[0].escalated());
  EXPECT_EQ(at_school[0].state(), nv1::ACKNOWLEDGED);
  EXPECT_TRUE(at_school[1].escalated());
  const std::vector<av1::AuditEvent> escalated = Events(kid, av1::NOTIFICATION_ESCALATED);
  ASSERT_EQ(escalated.size(), 1u);
  EXPECT_THAT(escalated[0].notification_ids(), ElementsAre(missed.notification_id()));

  // Once: later sweeps add nothing.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(About(kLa, kid, {nv1::ENCOMPASS_ESCALATION}).size(), 1u);
  EXPECT_EQ(Events(kid, av1::NOTIFICATION_ESCALATED).size(), 1u);
  EXPECT_EQ(
      MetricValue(cluster_->ScrapeMetrics(MetricsTarget()), "kinex_notification_deadline_misses"),
      std::optional<double>(1.0));
}

INSTANTIATE_TEST_SUITE_P(Deployments, EncompassDeadlineE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

// The gateway's poller reads the notifications committed since its last
// look only while someone watches: with no watcher it asks the audit
// service nothing (here every 20 ms for no one, before), and it starts
// afresh when a watcher opens. One process per service, where each look is
// an RPC the audit service counts.
class NotificationsIdlePollE2E : public PollingEvery<NotificationsIdlePollE2E, 20> {
 public:
  // ReadNotifications calls the audit service has answered.
  double Reads() {
    return MetricValue(cluster_->ScrapeMetrics("audit"),
                       "kinex_grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\""
                       "ReadNotifications\",grpc_service=\"kinex.audit.v1.Audit\"}")
        .value_or(0);
  }
};

TEST_P(NotificationsIdlePollE2E, NoOneWatchingNothingIsReadAndAWatcherStartsItAgain) {
  const std::string kid = CreateChild({{cv1::POLICE, kMet.code}});
  MetPublishes(kid);
  PoliceRead(kid, "idle-read-1");
  absl::SleepFor(kPoll * 25);
  EXPECT_EQ(Reads(), 0) << "the poller read with no one watching";

  // A watcher opens: it hears of the read before it (its own replay) and
  // of one after it (the poller, started again).
  auto watcher = Watch(kLa, "", "idle-watch-1");
  std::optional<nv1::Notification> n = watcher->Next(absl::Seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->request_id(), "idle-read-1");
  PoliceRead(kid, "idle-read-2");
  n = watcher->Next(absl::Seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->request_id(), "idle-read-2");
  EXPECT_GT(Reads(), 0);

  // It leaves: once the server has ended its watch (it sees the
  // cancellation in its own time), the poller stops looking.
  watcher->Cancel();
  double after_leaving = Reads();
  for (int i = 0; i < 50; ++i) {
    absl::SleepFor(kPoll * 10);
    const double now = Reads();
    if (now == after_leaving) break;
    after_leaving = now;
  }
  absl::SleepFor(kPoll * 25);
  EXPECT_EQ(Reads(), after_leaving) << "the poller read with no one watching";

  // And a watcher that comes back (after its last notification) hears of a
  // read made while no one watched, and of one after.
  PoliceRead(kid, "idle-read-3");
  auto again = Watch(kLa, n->notification_id(), "idle-watch-2");
  n = again->Next(absl::Seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->request_id(), "idle-read-3");
  PoliceRead(kid, "idle-read-4");
  n = again->Next(absl::Seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->request_id(), "idle-read-4");
}

INSTANTIATE_TEST_SUITE_P(Deployments, NotificationsIdlePollE2E,
                         ::testing::Values(AllDeployments()[1]), DeploymentName);

}  // namespace
}  // namespace kinex::testing
