#include "services/records/records_core.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "kinex/record/v1/options.pb.h"
#include "services/common/error_reason.h"
#include "services/common/identifiers.h"
#include "services/common/identity.h"
#include "services/common/paging.h"
#include "services/common/record_labels.h"
#include "services/common/status_macros.h"
#include "services/records/part_filter.h"
#include "services/records/part_notifications.h"
#include "services/records/part_rules.h"

namespace kinex::records {
namespace {

using kinex::common::v1::AgencyKind;
using kinex::record::v1::ChildRecord;
namespace av1 = kinex::audit::v1;
namespace rec = kinex::record::v1;
namespace rv1 = kinex::records::v1;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxActorLength = 256;
constexpr size_t kMaxRequestIdLength = 128;
constexpr size_t kMaxTransferReason = 2000;
constexpr int kDrainBatch = 64;
// The LA roles that decide relationships (policy/roles.textproto declares
// them): a social worker or team manager confirms or rejects an agency's
// link; only a team manager hands a child to another LA. An independent
// reviewing officer, independent of the case line, does neither.
constexpr char kSocialWorker[] = "social-worker";
constexpr char kTeamManager[] = "team-manager";

// The one answer to every publish that finds no child the publisher may
// write to: no child, another LA's child, a wrong date of birth, a rejected
// link. A prober learns nothing from it; the audit event says which.
absl::Status NoChildToPublish(const std::string& request_id) {
  return WithErrorReason(
      absl::PermissionDeniedError(absl::StrCat(
          "no child you may publish to matches this request (request id ", request_id, ")")),
      reason::kChildNotFoundOrOutOfScope);
}

// The one answer of the LA-only operations for a child the caller is not
// responsible for, or that does not exist.
absl::Status NotResponsible(const std::string& request_id) {
  return WithErrorReason(
      absl::PermissionDeniedError(absl::StrCat(
          "no child you are the responsible local authority for matches this reference "
          "(request id ",
          request_id, ")")),
      reason::kChildNotFoundOrOutOfScope);
}

// A stored row that does not parse; `item` names its kind.
absl::Status StoredCorrupt(absl::string_view item, absl::string_view message) {
  return WithErrorReason(absl::DataLossError(message), reason::kStorageCorrupt,
                         {{"item", std::string(item)}});
}

absl::Status SerializationFailed(absl::string_view message) {
  return WithErrorReason(absl::InternalError(message), reason::kSerializationFailed);
}

absl::Status TokenCorrupt() {
  return WithErrorReason(
      absl::InternalError("page_token: a token this service issued does not parse"),
      reason::kPageTokenCorrupt, {{"field", "page_token"}});
}

// A Kinex service (or, for writes, an auditor) where only agencies may act.
absl::Status AgencyRequired(absl::string_view message) {
  return WithErrorReason(absl::PermissionDeniedError(message), reason::kAgencyRequired);
}

absl::StatusOr<int> PageSize(int32_t requested) {
  return paging::PageSize(requested, {.default_size = kDefaultPageSize, .max_size = kMaxPageSize});
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

std::string AgencyName(int kind, const std::string& code) {
  return absl::StrCat(AgencyKindSlug(static_cast<AgencyKind>(kind)), "/", code);
}

rv1::PartVersion VersionInfo(const StoredPart& p) {
  rv1::PartVersion v;
  v.set_owner_kind(static_cast<AgencyKind>(p.owner_kind));
  v.set_owner_code(p.owner_code);
  v.set_version(p.version);
  v.set_etag(p.etag);
  *v.mutable_publish_time() = ToProto(p.publish_time);
  v.set_principal(p.principal);
  v.set_actor(p.actor);
  return v;
}

rec::AgencyLink LinkInfo(const StoredLink& l) {
  rec::AgencyLink out;
  out.set_kinex_id(l.kinex_id);
  out.mutable_agency()->set_agency_kind(static_cast<AgencyKind>(l.agency_kind));
  out.mutable_agency()->set_agency_code(l.agency_code);
  out.set_state(static_cast<rec::LinkState>(l.state));
  *out.mutable_update_time() = ToProto(l.update_time);
  out.set_updated_by(l.updated_by);
  return out;
}

absl::Status ValidateRequestId(const std::string& id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) {
    return InvalidFieldError("request_id",
                             absl::StrCat("required, 1-", kMaxRequestIdLength, " characters"));
  }
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidFieldError("request_id", "printable ASCII only");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateActor(const std::string& actor) {
  if (actor.size() > kMaxActorLength) {
    return InvalidFieldError(
        "actor", absl::StrCat("at most ", kMaxActorLength, " characters (got ", actor.size(), ")"));
  }
  return absl::OkStatus();
}

// The agency identity behind a write: INVALID_ARGUMENT for a malformed
// principal (a Kinex bug, never an agency's), PERMISSION_DENIED for a
// service or auditor.
absl::StatusOr<SpiffeId> Publisher(const std::string& principal, const std::string& trust_domain) {
  absl::StatusOr<SpiffeId> who = ParseSpiffeId(principal, trust_domain);
  if (!who.ok()) {
    return InvalidFieldError("principal", who.status().message());
  }
  return *who;
}

bool IsAgency(const SpiffeId& who) {
  return !who.is_service && who.agency_kind != AgencyKind::AUDITOR &&
         who.agency_kind != AgencyKind::AGENCY_KIND_UNSPECIFIED;
}

// The fields every event of a write carries.
av1::AuditEvent BaseEvent(const SpiffeId& who, const std::string& actor,
                          const std::string& request_id, absl::string_view method) {
  av1::AuditEvent e;
  e.set_request_id(request_id);
  e.set_principal(who.uri);
  e.set_agency_kind(who.agency_kind);
  e.set_agency_code(who.agency_code);
  e.set_actor(actor);
  e.set_method(std::string(method));
  return e;
}

void AddChildRef(av1::AuditEvent& e, const kinex::common::v1::ChildRef& ref) {
  // Only well-formed identifiers: the log pseudonymises what it is given and
  // refuses a malformed one, which would make the refusal of a malformed
  // request itself unauditable.
  if (!IdentifierFromRef(ref).ok()) return;
  for (const auto& have : e.children()) {
    if (have.SerializeAsString() == ref.SerializeAsString()) return;
  }
  *e.add_children() = ref;
}

void AddKinexId(av1::AuditEvent& e, const std::string& kinex_id) {
  kinex::common::v1::ChildRef ref;
  ref.set_kinex_id(kinex_id);
  AddChildRef(e, ref);
}

// The identifiers a part carries, as ChildRefs for the audit event (the log
// pseudonymises them), so a write is findable by any of them.
void AddPartIdentifiers(av1::AuditEvent& e, const ChildRecord& part,
                        const std::string& publisher_code) {
  const rec::Identity& id = part.identity();
  kinex::common::v1::ChildRef ref;
  if (!id.nhs_number().empty()) {
    ref.set_nhs_number(NormalizeNhsNumber(id.nhs_number()));
    AddChildRef(e, ref);
  }
  if (!id.upn().empty()) {
    ref.set_upn(id.upn());
    AddChildRef(e, ref);
  }
  if (!id.la_child_id().empty()) {
    ref.mutable_la_child_id()->set_la_code(publisher_code);
    ref.mutable_la_child_id()->set_id(id.la_child_id());
    AddChildRef(e, ref);
  }
}

// Queues `event` in the outbox, in the caller's transaction.
absl::Status QueueEvent(RecordsTxn& txn, av1::AuditEvent event, std::string& event_id) {
  KINEX_ASSIGN_OR_RETURN(std::string id, RandomId("ev_"));
  event.set_idempotency_key(absl::StrCat("records:", id));
  PendingAuditEvent pending;
  pending.id = id;
  if (!event.SerializeToString(&pending.event)) {
    return SerializationFailed("audit event does not serialize");
  }
  event_id = id;
  return txn.AddPendingAuditEvent(pending);
}

// Resolves a ChildRef inside a transaction; nullopt when nothing matches.
absl::StatusOr<std::optional<std::string>> Find(RecordsTxn& txn, const Identifier& id) {
  if (id.is_kinex_id) {
    KINEX_ASSIGN_OR_RETURN(bool exists, txn.ChildExists(id.value));
    if (!exists) return std::nullopt;
    return id.value;
  }
  return txn.FindChild(id.kind, id.value);
}

// Resolves for readers: NOT_FOUND naming the identifier kind, never its value.
absl::StatusOr<std::string> Resolve(RecordsTxn& txn, const Identifier& id) {
  KINEX_ASSIGN_OR_RETURN(std::optional<std::string> found, Find(txn, id));
  if (!found.has_value()) {
    return WithErrorReason(absl::NotFoundError(absl::StrCat("no child matches ", id.label)),
                           reason::kChildNotFound);
  }
  return *found;
}

// "(child 1: child.upn, part.identity.upn; child 2: part.identity.nhs_number)"
std::string DescribeConflict(const std::vector<std::pair<std::string, std::string>>& matches) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> labels;
  for (const auto& [label, kid] : matches) {
    if (!labels.count(kid)) order.push_back(kid);
    labels[kid].push_back(label);
  }
  std::vector<std::string> groups;
  for (size_t i = 0; i < order.size(); ++i) {
    groups.push_back(absl::StrCat("child ", i + 1, ": ", absl::StrJoin(labels[order[i]], ", ")));
  }
  return absl::StrCat("identifiers match ", order.size(), " different children (",
                      absl::StrJoin(groups, "; "), "); nothing was stored");
}

absl::StatusOr<ChildView> LoadView(RecordsTxn& txn, const std::string& kinex_id) {
  ChildView v;
  v.kinex_id = kinex_id;
  KINEX_ASSIGN_OR_RETURN(std::optional<std::string> la, txn.ResponsibleLa(kinex_id));
  v.responsible_la = la.value_or("");
  KINEX_ASSIGN_OR_RETURN(v.links, txn.Links(kinex_id));
  KINEX_ASSIGN_OR_RETURN(v.parts, txn.LatestParts(kinex_id));
  KINEX_ASSIGN_OR_RETURN(v.shields, txn.ShieldsInForce(kinex_id));
  return v;
}

// ReadView at `generation`, the child's view generation as this snapshot
// sees it (when `cache` is given; nullopt for a child without a row, or a
// store that keeps none).
absl::StatusOr<std::shared_ptr<const ChildView>> ReadViewAt(RecordsTxn& txn,
                                                            const std::string& kinex_id,
                                                            ChildViewCache* cache,
                                                            std::optional<int64_t> generation) {
  if (generation.has_value()) {
    if (std::shared_ptr<const ChildView> hit = cache->Find(kinex_id, *generation)) return hit;
  }
  KINEX_ASSIGN_OR_RETURN(ChildView loaded, LoadView(txn, kinex_id));
  if (generation.has_value()) loaded.facts_memo = std::make_shared<ChildView::FactsMemo>();
  auto view = std::make_shared<const ChildView>(std::move(loaded));
  if (generation.has_value()) cache->Put(*generation, view);
  return view;
}

// The child's view in a read's snapshot: the cached one when `cache` has it
// at the generation this snapshot sees, else read (and kept). Writes use
// LoadView: they decide on what their own transaction reads.
absl::StatusOr<std::shared_ptr<const ChildView>> ReadView(RecordsTxn& txn,
                                                          const std::string& kinex_id,
                                                          ChildViewCache* cache) {
  std::optional<int64_t> generation;
  if (cache != nullptr) {
    KINEX_ASSIGN_OR_RETURN(generation, txn.ViewGeneration(kinex_id));
  }
  return ReadViewAt(txn, kinex_id, cache, generation);
}

// Resolve, then ReadView. By Kinex id with a cache, a generation found is
// also the proof that the child exists: one query of its row, not two.
absl::StatusOr<std::shared_ptr<const ChildView>> ResolveView(RecordsTxn& txn, const Identifier& id,
                                                             ChildViewCache* cache) {
  if (id.is_kinex_id && cache != nullptr) {
    KINEX_ASSIGN_OR_RETURN(std::optional<int64_t> generation, txn.ViewGeneration(id.value));
    if (generation.has_value()) return ReadViewAt(txn, id.value, cache, generation);
    // No such child, or a store that keeps no generations: as below.
  }
  KINEX_ASSIGN_OR_RETURN(std::string kinex_id, Resolve(txn, id));
  return ReadView(txn, kinex_id, cache);
}

const StoredLink* LinkOf(const ChildView& v, int kind, const std::string& code) {
  for (const StoredLink& l : v.links) {
    if (l.agency_kind == kind && l.agency_code == code) return &l;
  }
  return nullptr;
}

// The parts a reader's record is assembled from, oldest publish first (so a
// singular field two agencies set takes the latest): the responsible LA's
// (or, after a transfer and until the new LA publishes, the latest LA
// part), its virtual school's, and every confirmed agency's.
std::vector<const StoredPart*> TrustedParts(const ChildView& v) {
  std::vector<const StoredPart*> out;
  const StoredPart* responsible = nullptr;
  const StoredPart* latest_la = nullptr;
  for (const StoredPart& p : v.parts) {
    switch (p.owner_kind) {
      case AgencyKind::LOCAL_AUTHORITY:
        if (p.owner_code == v.responsible_la) responsible = &p;
        if (latest_la == nullptr || p.publish_time > latest_la->publish_time) latest_la = &p;
        break;
      case AgencyKind::VIRTUAL_SCHOOL:
        if (!v.responsible_la.empty() && p.owner_code == v.responsible_la) out.push_back(&p);
        break;
      default: {
        const StoredLink* link = LinkOf(v, p.owner_kind, p.owner_code);
        if (link != nullptr && link->state == LinkState::kConfirmed) out.push_back(&p);
      }
    }
  }
  if (responsible != nullptr) {
    out.push_back(responsible);
  } else if (latest_la != nullptr && !v.responsible_la.empty()) {
    out.push_back(latest_la);
  }
  std::stable_sort(out.begin(), out.end(), [](const StoredPart* a, const StoredPart* b) {
    return std::tie(a->publish_time, a->owner_kind, a->owner_code) <
           std::tie(b->publish_time, b->owner_kind, b->owner_code);
  });
  return out;
}

std::tuple<int, int, int> Ymd(const rec::Date& d) { return {d.year(), d.month(), d.day()}; }

// The school the child is on the roll of today: among confirmed schools'
// enrolments (each school publishes only its own), the latest entry still
// open; a confirmed school that published no enrolment rows at all but
// names itself in scope.current_school_urn counts from its publish.
std::string CurrentSchool(const ChildRecord& merged, const ChildView& v,
                          std::tuple<int, int, int> today) {
  std::string best;
  std::tuple<int, int, int> best_entry{0, 0, 0};
  std::set<std::string> with_rows;
  for (const rec::SchoolEnrolment& e : merged.education().enrolments()) {
    with_rows.insert(e.urn());
    const bool started = !e.has_entry_date() || Ymd(e.entry_date()) <= today;
    const bool left = e.has_leaving_date() && Ymd(e.leaving_date()) < today;
    if (!started || left) continue;
    const std::tuple<int, int, int> entry =
        e.has_entry_date() ? Ymd(e.entry_date()) : std::tuple<int, int, int>{0, 0, 0};
    if (best.empty() || entry >= best_entry) {
      best = e.urn();
      best_entry = entry;
    }
  }
  if (!best.empty()) return best;
  const std::string& named = merged.scope().current_school_urn();
  if (!named.empty() && !with_rows.count(named)) {
    const StoredLink* link = LinkOf(v, AgencyKind::SCHOOL, named);
    if (link != nullptr && link->state == LinkState::kConfirmed) return named;
  }
  return "";
}

// The day the derived scope is of (the current school: enrolments open on
// it). Everything derived from a view that changes with time changes with
// this day alone.
absl::CivilDay ScopeDay(absl::Time now) { return absl::ToCivilDay(now, absl::UTCTimeZone()); }

// Derives `record`'s scope (never a claim) from the merged trusted parts it
// holds (at least their scope links and education.enrolments).
void DeriveScope(const ChildView& v, absl::Time now, ChildRecord& record) {
  const absl::CivilDay day = ScopeDay(now);
  const std::tuple<int, int, int> today{static_cast<int>(day.year()), day.month(), day.day()};
  rec::ScopeLinks* scope = record.mutable_scope();
  scope->set_responsible_la_code(v.responsible_la);
  scope->set_current_school_urn(CurrentSchool(record, v, today));
  // Health providers: each confirmed provider names only itself; keep one
  // of each.
  std::vector<std::string> providers(scope->health_provider_ods_codes().begin(),
                                     scope->health_provider_ods_codes().end());
  std::sort(providers.begin(), providers.end());
  providers.erase(std::unique(providers.begin(), providers.end()), providers.end());
  scope->clear_health_provider_ods_codes();
  for (const std::string& p : providers) scope->add_health_provider_ods_codes(p);
  if (scope->ByteSizeLong() == 0) record.clear_scope();
}

// Merges the trusted parts, each filtered by `filter` when given.
// A singular field whose (merge) option is MERGE_LATEST_PART, with the
// fields leading to its section from the record's root.
struct LatestPartField {
  std::vector<const google::protobuf::FieldDescriptor*> section;  // root -> parent
  const google::protobuf::FieldDescriptor* field;
  int owner;
};

void FindLatestPartFields(const google::protobuf::Descriptor* type,
                          std::vector<const google::protobuf::FieldDescriptor*>& path,
                          std::vector<LatestPartField>& out) {
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = type->field(i);
    const auto& opts = f->options();
    if (!f->is_repeated() &&
        opts.GetExtension(kinex::record::v1::merge) == kinex::record::v1::MERGE_LATEST_PART) {
      out.push_back({path, f, opts.GetExtension(kinex::record::v1::owner)});
    }
    const google::protobuf::Descriptor* sub = f->message_type();
    if (sub != nullptr && !f->is_repeated() && !IsValueType(sub)) {
      path.push_back(f);
      FindLatestPartFields(sub, path, out);
      path.pop_back();
    }
  }
}

// The record schema's MERGE_LATEST_PART fields (record.proto declares them).
const std::vector<LatestPartField>& LatestPartFields() {
  static const auto* fields = [] {
    auto* out = new std::vector<LatestPartField>();
    std::vector<const google::protobuf::FieldDescriptor*> path;
    FindLatestPartFields(ChildRecord::descriptor(), path, *out);
    return out;
  }();
  return *fields;
}

// The message `section` leads to in `m`, or null where a step is unset
// (mutable: created in `m` when `create`).
google::protobuf::Message* Section(
    google::protobuf::Message& m,
    const std::vector<const google::protobuf::FieldDescriptor*>& section, bool create) {
  google::protobuf::Message* at = &m;
  for (const auto* f : section) {
    if (!create && !at->GetReflection()->HasField(*at, f)) return nullptr;
    at = at->GetReflection()->MutableMessage(at, f);
  }
  return at;
}

// Applies the MERGE_LATEST_PART rule to `record`, merged from `parts`
// (oldest first): each such field is taken whole from the latest part of its
// owning kind that publishes the field's section, when more than one agency
// of that kind contributed. Only then are those parts parsed on their own.
absl::Status ApplyLatestPartRule(const std::vector<const StoredPart*>& parts,
                                 const PathFilter* filter, ChildRecord& record) {
  for (const LatestPartField& lp : LatestPartFields()) {
    int agencies = 0;
    for (const StoredPart* p : parts) agencies += p->owner_kind == lp.owner;
    if (agencies < 2) continue;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if ((*it)->owner_kind != lp.owner) continue;
      ChildRecord one;
      std::string kept;
      const bool ok = filter == nullptr
                          ? one.ParseFromString((*it)->payload)
                          : filter->Apply((*it)->payload, &kept) && one.ParseFromString(kept);
      if (!ok) return StoredCorrupt("record_part", "stored record part does not parse");
      google::protobuf::Message* from = Section(one, lp.section, false);
      if (from == nullptr) continue;  // this agency publishes no such section
      google::protobuf::Message* to = Section(record, lp.section, true);
      const google::protobuf::Reflection* r = to->GetReflection();
      r->ClearField(to, lp.field);
      if (lp.field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (r->HasField(*from, lp.field)) {
          r->MutableMessage(to, lp.field)->CopyFrom(r->GetMessage(*from, lp.field));
        }
      } else {
        // Scalars: swap the one field's value across.
        std::vector<const google::protobuf::FieldDescriptor*> one_field = {lp.field};
        r->SwapFields(to, from, one_field);
      }
      break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ChildRecord> MergeParts(const std::vector<const StoredPart*>& parts,
                                       const PathFilter* filter) {
  ChildRecord record;
  std::string kept;
  for (const StoredPart* p : parts) {
    // Parsing into the record merges, exactly as MergeFrom would.
    bool ok;
    if (filter == nullptr) {
      ok = record.MergeFromString(p->payload);
    } else {
      kept.clear();
      ok = filter->Apply(p->payload, &kept) && record.MergeFromString(kept);
    }
    if (!ok) return StoredCorrupt("record_part", "stored record part does not parse");
  }
  KINEX_RETURN_IF_ERROR(ApplyLatestPartRule(parts, filter, record));
  return record;
}

// The assembled record a reader gets, its scope derived (never a claim).
absl::StatusOr<ChildRecord> Assemble(const ChildView& v, absl::Time now,
                                     std::vector<const StoredPart*>* used = nullptr) {
  std::vector<const StoredPart*> parts = TrustedParts(v);
  KINEX_ASSIGN_OR_RETURN(ChildRecord record, MergeParts(parts, nullptr));
  DeriveScope(v, now, record);
  record.mutable_identity()->set_kinex_id(v.kinex_id);
  if (used != nullptr) *used = std::move(parts);
  return record;
}

// What the facts are derived from: identifiers, scope links, legal status,
// and the enrolments the current school is derived from. Nothing else of a
// part is parsed.
const PathFilter& FactsFilter() {
  static const PathFilter* const kFilter = new PathFilter(*PathFilter::Create(
      *ChildRecord::descriptor(),
      {"identity.la_child_id", "identity.nhs_number", "identity.upn", "identity.date_of_birth",
       "scope", "legal_status", "education.enrolments"}));
  return *kFilter;
}

absl::StatusOr<rv1::ChildFacts> ComputeFacts(const ChildView& v, absl::Time now) {
  const std::vector<const StoredPart*> parts = TrustedParts(v);
  KINEX_ASSIGN_OR_RETURN(ChildRecord r, MergeParts(parts, &FactsFilter()));
  DeriveScope(v, now, r);
  rv1::ChildFacts facts;
  facts.set_kinex_id(v.kinex_id);
  if (r.has_scope()) *facts.mutable_scope() = r.scope();
  *facts.mutable_legal_status() = r.legal_status();
  const rec::Identity& id = r.identity();
  if (id.has_date_of_birth()) *facts.mutable_date_of_birth() = id.date_of_birth();
  facts.add_known_as()->set_kinex_id(v.kinex_id);
  if (!id.nhs_number().empty()) facts.add_known_as()->set_nhs_number(id.nhs_number());
  if (!id.upn().empty()) facts.add_known_as()->set_upn(id.upn());
  if (!id.la_child_id().empty() && !v.responsible_la.empty()) {
    auto* la = facts.add_known_as()->mutable_la_child_id();
    la->set_la_code(v.responsible_la);
    la->set_id(id.la_child_id());
  }
  // The shields in force: the union of their paths, sorted and distinct.
  std::set<std::string> shielded;
  for (const StoredSharingDecision& d : v.shields) {
    rv1::SharingDecision shield;
    if (!shield.ParseFromString(d.payload)) {
      return StoredCorrupt("sharing_decision", "stored sharing decision does not parse");
    }
    shielded.insert(shield.field_paths().begin(), shield.field_paths().end());
    if (shield.locating()) facts.set_shield_locating(true);
  }
  for (const std::string& path : shielded) facts.add_shielded_paths(path);
  // The version: the facts themselves, which agencies' parts are trusted (a
  // link confirmed or rejected changes the record even when it leaves the
  // facts alone) and which shields are in force (setting or removing one
  // changes it even when another shield covers the same paths).
  std::string material;
  {
    google::protobuf::io::StringOutputStream stream(&material);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    facts.SerializeToCodedStream(&out);
  }
  for (const StoredPart* p : parts) {
    absl::StrAppend(&material, "|", p->owner_kind, ":", p->owner_code);
  }
  for (const StoredSharingDecision& d : v.shields) {
    absl::StrAppend(&material, "|shield:", d.decision_id);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(material.data(), material.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return WithErrorReason(absl::InternalError("facts version: SHA-256 failed"),
                           reason::kCryptoFailed);
  }
  facts.set_facts_version(absl::StrCat(
      "f1:", absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16))));
  return facts;
}

// The child's facts (ComputeFacts), from the view's memo when it keeps one
// computed on the same day.
absl::StatusOr<rv1::ChildFacts> FactsOf(const ChildView& v, absl::Time now) {
  if (v.facts_memo == nullptr) return ComputeFacts(v, now);
  ChildView::FactsMemo& memo = *v.facts_memo;
  const absl::CivilDay day = ScopeDay(now);
  {
    absl::MutexLock lock(&memo.mu);
    if (memo.facts != nullptr && memo.day == day) return *memo.facts;
  }
  KINEX_ASSIGN_OR_RETURN(rv1::ChildFacts facts, ComputeFacts(v, now));
  auto kept = std::make_shared<const rv1::ChildFacts>(facts);
  absl::MutexLock lock(&memo.mu);
  memo.day = day;
  memo.facts = std::move(kept);
  return facts;
}

// The scope index ListChildren pages through: the responsible LA and every
// confirmed agency. A superset of the derived scope (a school the child has
// left stays indexed); the gateway decides each child by its derived scope.
std::vector<ScopeLink> IndexLinks(const ChildView& v) {
  std::vector<ScopeLink> out;
  if (!v.responsible_la.empty()) out.push_back({AgencyKind::LOCAL_AUTHORITY, v.responsible_la});
  for (const StoredLink& l : v.links) {
    if (l.state == LinkState::kConfirmed) out.push_back({l.agency_kind, l.agency_code});
  }
  return out;
}

bool NamedBy(const ChildRecord& la_part, int kind, const std::string& code) {
  for (const rec::AgencyRef& a : la_part.named_agencies()) {
    if (a.agency_kind() == kind && a.agency_code() == code) return true;
  }
  return false;
}

// "a <noun>" in messages about an agency kind.
absl::string_view AgencyNoun(AgencyKind kind) {
  switch (kind) {
    case AgencyKind::LOCAL_AUTHORITY:
      return "local authority";
    case AgencyKind::VIRTUAL_SCHOOL:
      return "virtual school";
    case AgencyKind::SCHOOL:
      return "school";
    case AgencyKind::HEALTH:
      return "health provider";
    case AgencyKind::POLICE:
      return "police force";
    default:
      return AgencyKindSlug(kind);
  }
}

// A publisher may name only itself in scope links and in the source
// columns of its rows; an empty source column is filled with its own code,
// so every row carries the agency that recorded it.
absl::Status CheckSelfReferences(ChildRecord& part, const SpiffeId& who) {
  const std::string& own = who.agency_code;
  auto self_only = [&](const std::string& value, absl::string_view path) -> absl::Status {
    if (value.empty() || value == own) return absl::OkStatus();
    return WithErrorReason(
        absl::PermissionDeniedError(absl::StrCat("part.", path, ": a ", AgencyNoun(who.agency_kind),
                                                 " may name only itself (the code in its "
                                                 "certificate)")),
        reason::kAgencyCodeNotOwn, {{"field", absl::StrCat("part.", path)}});
  };
  rec::ScopeLinks* scope = part.mutable_scope();
  switch (who.agency_kind) {
    case AgencyKind::LOCAL_AUTHORITY:
      KINEX_RETURN_IF_ERROR(self_only(scope->responsible_la_code(), "scope.responsible_la_code"));
      for (const rec::AgencyRef& a : part.named_agencies()) {
        if (a.agency_kind() != AgencyKind::SCHOOL && a.agency_kind() != AgencyKind::HEALTH &&
            a.agency_kind() != AgencyKind::POLICE) {
          return InvalidFieldError("part.named_agencies.agency_kind",
                                   "only school, health or police agencies are named");
        }
      }
      break;
    case AgencyKind::SCHOOL: {
      KINEX_RETURN_IF_ERROR(self_only(scope->current_school_urn(), "scope.current_school_urn"));
      rec::Education* ed = part.mutable_education();
      for (auto& e : *ed->mutable_enrolments()) {
        KINEX_RETURN_IF_ERROR(self_only(e.urn(), "education.enrolments.urn"));
        e.set_urn(own);
      }
      for (auto& s : *ed->mutable_attendance_sessions()) {
        KINEX_RETURN_IF_ERROR(
            self_only(s.school_urn(), "education.attendance_sessions.school_urn"));
        s.set_school_urn(own);
      }
      for (auto& x : *ed->mutable_exclusions()) {
        KINEX_RETURN_IF_ERROR(self_only(x.school_urn(), "education.exclusions.school_urn"));
        x.set_school_urn(own);
      }
      for (auto& a : *ed->mutable_attainment()) {
        KINEX_RETURN_IF_ERROR(self_only(a.school_urn(), "education.attainment.school_urn"));
        a.set_school_urn(own);
      }
      if (ed->ByteSizeLong() == 0) part.clear_education();
      break;
    }
    case AgencyKind::HEALTH:
      KINEX_RETURN_IF_ERROR(
          self_only(scope->registered_gp_ods_code(), "scope.registered_gp_ods_code"));
      for (const std::string& ods : scope->health_provider_ods_codes()) {
        KINEX_RETURN_IF_ERROR(self_only(ods, "scope.health_provider_ods_codes"));
      }
      break;
    case AgencyKind::POLICE:
      KINEX_RETURN_IF_ERROR(self_only(scope->police_force_code(), "scope.police_force_code"));
      break;
    default:
      break;
  }
  if (scope->ByteSizeLong() == 0) part.clear_scope();
  return absl::OkStatus();
}

// The child `ref` names, for an LA-only write: locked, loaded, and added
// (by Kinex id) to the write's audit event. An unknown child and one `who`
// is not responsible for get the same refusal.
absl::StatusOr<ChildView> ResponsibleChild(RecordsTxn& txn, const kinex::common::v1::ChildRef& ref,
                                           const SpiffeId& who, const std::string& request_id,
                                           av1::AuditEvent& about) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(ref));
  KINEX_ASSIGN_OR_RETURN(std::optional<std::string> kid, Find(txn, id));
  if (!kid.has_value()) return NotResponsible(request_id);
  AddKinexId(about, *kid);
  KINEX_RETURN_IF_ERROR(txn.LockChild(*kid));
  KINEX_ASSIGN_OR_RETURN(ChildView view, LoadView(txn, *kid));
  if (view.responsible_la != who.agency_code) return NotResponsible(request_id);
  return view;
}

}  // namespace

std::string PartEtag(const StoredPart& part) {
  const std::string data =
      absl::StrCat(part.kinex_id, "|", part.owner_kind, "|", part.owner_code, "|", part.version,
                   "|", absl::ToUnixMicros(part.publish_time), "|", part.payload);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    // Unreachable in practice; an etag only needs to change per version.
    return absl::StrCat("v", part.version);
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 12));
}

namespace {

// A required option missing or out of range.
absl::Status BadOption(absl::string_view field, absl::string_view message) {
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kInvalidField,
                         {{"field", std::string(field)}});
}

}  // namespace

RecordsCore::RecordsCore(Options options) : options_(std::move(options)) {
  if (options_.view_cache_bytes > 0) {
    views_ = std::make_unique<ChildViewCache>(static_cast<size_t>(options_.view_cache_bytes));
  }
}

ChildViewCache::Stats RecordsCore::view_cache_stats() const {
  return views_ == nullptr ? ChildViewCache::Stats{} : views_->stats();
}

absl::StatusOr<std::unique_ptr<RecordsCore>> RecordsCore::Create(Options options) {
  if (options.storage == nullptr) {
    return BadOption("storage", "RecordsCore: storage is required");
  }
  if (options.clock == nullptr) {
    return BadOption("clock", "RecordsCore: clock is required");
  }
  if (options.audit == nullptr) {
    return BadOption("audit", "RecordsCore: audit is required (every write is an audit event)");
  }
  if (options.view_cache_bytes < 0) {
    return BadOption("view_cache_bytes",
                     absl::StrCat("RecordsCore: view_cache_bytes must not be negative (got ",
                                  options.view_cache_bytes, ")"));
  }
  if (options.max_part_bytes < 1) {
    return BadOption("max_part_bytes", absl::StrCat("RecordsCore: max_part_bytes must be positive "
                                                    "(got ",
                                                    options.max_part_bytes, ")"));
  }
  if (!options.new_kinex_id) {
    options.new_kinex_id = [] { return RandomId("kx_"); };
  }
  auto core = std::unique_ptr<RecordsCore>(new RecordsCore(std::move(options)));
  // Events a crash left behind; an unreachable log keeps them for later.
  (void)core->DrainAuditOutbox();
  return core;
}

absl::Status RecordsCore::DrainAuditOutbox() {
  for (;;) {
    std::vector<PendingAuditEvent> pending;
    KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
      KINEX_ASSIGN_OR_RETURN(pending, txn.PendingAuditEvents(kDrainBatch));
      return absl::OkStatus();
    }));
    if (pending.empty()) return absl::OkStatus();
    std::vector<av1::AuditEvent> events(pending.size());
    for (size_t i = 0; i < pending.size(); ++i) {
      if (!events[i].ParseFromString(pending[i].event)) {
        return StoredCorrupt("audit_outbox_event", "audit outbox: a pending event does not parse");
      }
    }
    // The batch in one call (the log commits it together), then the events
    // it took, oldest first up to the first it did not, out of the outbox
    // in one transaction. Writers draining at the same time append the same
    // events: each carries its idempotency key, so the log keeps one leaf.
    // (One append and one delete per event made each of k concurrent
    // writes wait for k audit commits and k records commits.)
    const std::vector<absl::StatusOr<kinex::audit::AppendResult>> appended =
        options_.audit->AppendAll(events);
    size_t taken = 0;
    while (taken < appended.size() && appended[taken].ok()) ++taken;
    if (taken > 0) {
      KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](RecordsTxn& txn) -> absl::Status {
        for (size_t i = 0; i < taken; ++i) {
          KINEX_RETURN_IF_ERROR(txn.DeletePendingAuditEvent(pending[i].id));
        }
        return absl::OkStatus();
      }));
    }
    if (taken < appended.size()) return appended[taken].status();
    if (static_cast<int>(pending.size()) < kDrainBatch) return absl::OkStatus();
  }
}

absl::Status RecordsCore::RunWrite(
    const av1::AuditEvent& refused,
    const std::function<absl::Status(RecordsTxn&, std::string&, av1::AuditEvent&)>& write) {
  std::string event_id;
  av1::AuditEvent event;
  absl::Status status = options_.storage->Transact([&](RecordsTxn& txn) {
    event_id.clear();
    event = refused;
    return write(txn, event_id, event);
  });
  if (!status.ok()) {
    event.set_kind(av1::WRITE_REFUSED);
    event.set_refusal(
        absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message()));
    absl::StatusOr<kinex::audit::AppendResult> logged = options_.audit->Append(event);
    if (!logged.ok()) {
      return WithErrorReason(
          absl::UnavailableError(
              "the audit log could not record this refused write; nothing was stored"),
          reason::kAuditUnavailable, {{"service", "audit"}});
    }
    return status;
  }
  absl::Status drained = DrainAuditOutbox();
  if (!drained.ok()) {
    return WithErrorReason(
        absl::UnavailableError(
            "the write is stored but its audit event is not in the audit log yet (it is kept "
            "and logged as soon as the log answers); retry reading with GetMyPart later"),
        reason::kAuditPending);
  }
  return absl::OkStatus();
}

namespace {

namespace nv1 = ::kinex::notifications::v1;

// A published calendar as stored, parsed.
absl::StatusOr<std::optional<nv1::SchoolCalendar>> ReadPublishedCalendar(RecordsTxn& txn,
                                                                         int key_kind,
                                                                         const std::string& code) {
  KINEX_ASSIGN_OR_RETURN(std::optional<StoredCalendar> stored,
                         txn.PublishedCalendar(key_kind, code));
  if (!stored.has_value()) return std::nullopt;
  nv1::SchoolCalendar calendar;
  if (!calendar.ParseFromString(stored->payload)) {
    return StoredCorrupt("school_calendar", "stored school calendar does not parse");
  }
  return calendar;
}

// The calendars in force for the Operation Encompass deadlines of `part`:
// the files' (`files`; null: none), with the calendars published through
// the API (PutCalendar) in place of theirs for the schools the part's
// entries name, the LAs those schools' calendars follow and the child's
// responsible LA. Read from storage in the publish's transaction, never
// cached, so a calendar published on any replica counts at once. Reads
// nothing unless `part` is a police part with Encompass entries.
absl::StatusOr<std::shared_ptr<const SchoolCalendars>> CalendarsInForce(
    RecordsTxn& txn, std::shared_ptr<const SchoolCalendars> files, const PublishedPart& part) {
  if (files == nullptr) files = SchoolCalendars::Empty();
  if (part.owner_kind != AgencyKind::POLICE || part.after == nullptr ||
      part.after->police().encompass_notifications().empty()) {
    return files;
  }
  std::set<std::string> schools;
  for (const rec::OperationEncompassNotification& entry :
       part.after->police().encompass_notifications()) {
    if (!entry.school_urn().empty()) schools.insert(entry.school_urn());
  }
  std::set<std::string> las;
  if (!part.responsible_la.empty()) las.insert(part.responsible_la);
  std::vector<nv1::SchoolCalendar> published;
  for (const std::string& urn : schools) {
    KINEX_ASSIGN_OR_RETURN(std::optional<nv1::SchoolCalendar> calendar,
                           ReadPublishedCalendar(txn, AgencyKind::SCHOOL, urn));
    const std::string follows =
        calendar.has_value() ? calendar->follows_la_code() : files->FollowsLaCode(urn);
    if (!follows.empty()) las.insert(follows);
    if (calendar.has_value()) published.push_back(*std::move(calendar));
  }
  for (const std::string& la : las) {
    KINEX_ASSIGN_OR_RETURN(std::optional<nv1::SchoolCalendar> calendar,
                           ReadPublishedCalendar(txn, AgencyKind::LOCAL_AUTHORITY, la));
    if (calendar.has_value()) published.push_back(*std::move(calendar));
  }
  return SchoolCalendars::Overlay(std::move(files), published);
}

}  // namespace

absl::StatusOr<rv1::PutPartResponse> RecordsCore::PutPart(const rv1::PutPartRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  av1::AuditEvent refused = BaseEvent(who, request.actor(), request.request_id(), "PublishRecord");
  AddChildRef(refused, request.child());
  AddPartIdentifiers(refused, request.part(), who.agency_code);

  rv1::PutPartResponse response;
  KINEX_RETURN_IF_ERROR(RunWrite(
      refused, [&](RecordsTxn& txn, std::string& event_id, av1::AuditEvent& about) -> absl::Status {
        response.Clear();
        if (!IsAgency(who)) {
          return AgencyRequired(
              absl::StrCat("principal ", who.uri,
                           " may not publish record parts (only agencies that own fields do)"));
        }
        const std::string kind_slug(AgencyKindSlug(who.agency_kind));
        KINEX_RETURN_IF_ERROR(ValidateActor(request.actor()));
        if (request.child().id_case() == kinex::common::v1::ChildRef::ID_NOT_SET) {
          return InvalidFieldError("child",
                                   "one of kinex_id, nhs_number, upn or la_child_id is required");
        }
        if (!request.has_part()) {
          return InvalidFieldError("record", "required (the fields your agency publishes)");
        }
        const size_t size = request.part().ByteSizeLong();
        if (static_cast<int64_t>(size) > options_.max_part_bytes) {
          return WithErrorReason(absl::ResourceExhaustedError(absl::StrCat(
                                     "part: ", size, " bytes exceeds the maximum of ",
                                     options_.max_part_bytes, " (records.max_part_bytes)")),
                                 reason::kPartTooLarge, {{"field", "part"}});
        }
        KINEX_RETURN_IF_ERROR(CheckKnownValues(request.part(), "part"));
        if (!request.part().identity().kinex_id().empty()) {
          return InvalidFieldError("part.identity.kinex_id",
                                   "output only; name the child with child.kinex_id");
        }
        std::vector<std::string> not_owned = FieldsNotOwnedBy(request.part(), who.agency_kind);
        if (!not_owned.empty()) {
          return WithErrorReason(
              absl::PermissionDeniedError(absl::StrCat("fields not owned by ", kind_slug, ": ",
                                                       absl::StrJoin(not_owned, ", "))),
              reason::kFieldNotOwned);
        }
        ChildRecord part = request.part();
        KINEX_RETURN_IF_ERROR(CheckSelfReferences(part, who));
        KINEX_ASSIGN_OR_RETURN(Identifier ref_id, IdentifierFromRef(request.child()));
        std::vector<Identifier> identifiers = {ref_id};
        KINEX_ASSIGN_OR_RETURN(std::vector<Identifier> part_ids,
                               PartIdentifiers(part, who.agency_code));
        identifiers.insert(identifiers.end(), part_ids.begin(), part_ids.end());

        // Which children the identifiers name.
        std::vector<std::pair<std::string, std::string>> matches;  // label, kinex id
        std::vector<std::string> children;
        for (const Identifier& id : identifiers) {
          KINEX_ASSIGN_OR_RETURN(std::optional<std::string> kid, Find(txn, id));
          if (!kid.has_value()) {
            if (id.is_kinex_id) return NoChildToPublish(request.request_id());
            continue;
          }
          matches.emplace_back(id.label, *kid);
          if (std::find(children.begin(), children.end(), *kid) == children.end()) {
            children.push_back(*kid);
            // A refusal stays findable by the child's Kinex id (pseudonymised).
            AddKinexId(about, *kid);
          }
        }
        const bool is_la = who.agency_kind == AgencyKind::LOCAL_AUTHORITY;
        // Every child named must be one this publisher may write to: for an LA
        // its own children; anyone else learns nothing about other children.
        for (const std::string& kid : children) {
          KINEX_ASSIGN_OR_RETURN(std::optional<std::string> la, txn.ResponsibleLa(kid));
          if (is_la && la.value_or("") != who.agency_code) {
            return NoChildToPublish(request.request_id());
          }
        }
        if (children.size() > 1) {
          if (!is_la) return NoChildToPublish(request.request_id());
          return WithErrorReason(absl::FailedPreconditionError(DescribeConflict(matches)),
                                 reason::kIdentifiersConflict);
        }

        const absl::Time now = options_.clock->Now();
        std::string kinex_id;
        if (children.empty()) {
          // Only a local authority creates a child; it becomes responsible.
          if (!is_la) return NoChildToPublish(request.request_id());
          // ...and names it only by an LA child id of its own: another LA's id
          // would squat that LA's namespace (it could then never create the
          // child it means by that id).
          if (!ref_id.is_kinex_id && ref_id.kind == IdentifierKind::kLaChildId &&
              !absl::StartsWith(ref_id.value, absl::StrCat(who.agency_code, "/"))) {
            return NoChildToPublish(request.request_id());
          }
          KINEX_ASSIGN_OR_RETURN(kinex_id, options_.new_kinex_id());
          KINEX_ASSIGN_OR_RETURN(bool taken, txn.ChildExists(kinex_id));
          if (taken) {
            return WithErrorReason(absl::AbortedError("new Kinex id collided; retry"),
                                   reason::kIdCollision);
          }
          KINEX_RETURN_IF_ERROR(txn.CreateChild(kinex_id, now));
          KINEX_RETURN_IF_ERROR(txn.SetResponsibleLa(kinex_id, who.agency_code, now));
          response.set_created_child(true);
        } else {
          kinex_id = children.front();
        }
        KINEX_RETURN_IF_ERROR(txn.LockChild(kinex_id));
        KINEX_ASSIGN_OR_RETURN(ChildView view, LoadView(txn, kinex_id));

        // The relationship.
        bool new_claim = false;
        bool trusted = true;
        switch (who.agency_kind) {
          case AgencyKind::LOCAL_AUTHORITY:
            break;  // responsible (checked above) or just created
          case AgencyKind::VIRTUAL_SCHOOL:
            if (view.responsible_la.empty() || view.responsible_la != who.agency_code) {
              return NoChildToPublish(request.request_id());
            }
            break;
          default: {
            const StoredLink* link = LinkOf(view, who.agency_kind, who.agency_code);
            if (link != nullptr && link->state == LinkState::kRejected) {
              return NoChildToPublish(request.request_id());
            }
            if (link == nullptr) {
              // Knowing an identifier is not a relationship: the first part
              // proves the date of birth the responsible LA holds, and even
              // then only claims a link the LA must confirm.
              if (!request.has_proof_date_of_birth() || view.responsible_la.empty()) {
                return NoChildToPublish(request.request_id());
              }
              KINEX_ASSIGN_OR_RETURN(ChildRecord current, Assemble(view, now));
              if (!current.identity().has_date_of_birth() ||
                  Ymd(current.identity().date_of_birth()) != Ymd(request.proof_date_of_birth())) {
                return NoChildToPublish(request.request_id());
              }
              const StoredPart* la_part = nullptr;
              for (const StoredPart& p : view.parts) {
                if (p.owner_kind == AgencyKind::LOCAL_AUTHORITY &&
                    p.owner_code == view.responsible_la) {
                  la_part = &p;
                }
              }
              ChildRecord la_record;
              if (la_part != nullptr && !la_record.ParseFromString(la_part->payload)) {
                return StoredCorrupt("record_part", "stored record part does not parse");
              }
              StoredLink claim;
              claim.kinex_id = kinex_id;
              claim.agency_kind = who.agency_kind;
              claim.agency_code = who.agency_code;
              claim.update_time = now;
              if (NamedBy(la_record, who.agency_kind, who.agency_code)) {
                claim.state = LinkState::kConfirmed;
                claim.updated_by = la_part->principal;
              } else {
                claim.state = LinkState::kClaimed;
                claim.updated_by = who.uri;
                trusted = false;
              }
              KINEX_RETURN_IF_ERROR(txn.PutLink(claim));
              view.links.push_back(claim);
              response.set_link_state(static_cast<rec::LinkState>(claim.state));
              new_claim = true;
            } else {
              trusted = link->state == LinkState::kConfirmed;
              response.set_link_state(static_cast<rec::LinkState>(link->state));
            }
          }
        }
        // New identifiers become lookups only from a trusted publisher: an
        // unconfirmed claimant cannot steer anyone's identifier matching.
        if (trusted) {
          for (const Identifier& id : identifiers) {
            if (!id.is_kinex_id)
              KINEX_RETURN_IF_ERROR(txn.AddIdentifier(id.kind, id.value, kinex_id));
          }
        }

        // Optimistic concurrency on this agency's part.
        KINEX_ASSIGN_OR_RETURN(std::optional<StoredPart> latest,
                               txn.LatestPart(kinex_id, who.agency_kind, who.agency_code));
        if (latest.has_value()) {
          if (request.etag().empty()) {
            return WithErrorReason(
                absl::AbortedError(
                    absl::StrCat("etag: required; this ", kind_slug,
                                 "'s part already exists at version ", latest->version,
                                 " (GetMyPart returns it with its etag; retry with that etag)")),
                reason::kEtagMismatch, {{"field", "etag"}});
          }
          if (request.etag() != latest->etag) {
            return WithErrorReason(
                absl::AbortedError(
                    absl::StrCat("etag: stale; the part is now at version ", latest->version,
                                 " (GetMyPart returns it with its etag; retry with that etag)")),
                reason::kEtagMismatch, {{"field", "etag"}});
          }
        } else if (!request.etag().empty()) {
          return WithErrorReason(
              absl::AbortedError(
                  "etag: stale; no part exists for this publisher (publish with an empty etag)"),
              reason::kEtagMismatch, {{"field", "etag"}});
        }
        StoredPart stored;
        stored.kinex_id = kinex_id;
        stored.owner_kind = who.agency_kind;
        stored.owner_code = who.agency_code;
        stored.publish_time = now;
        stored.principal = who.uri;
        stored.actor = request.actor();
        if (!part.SerializeToString(&stored.payload)) {
          return SerializationFailed("part does not serialize");
        }
        stored.version = latest.has_value() ? latest->version + 1 : 1;
        stored.etag = PartEtag(stored);
        KINEX_RETURN_IF_ERROR(txn.InsertPart(stored));

        // The responsible LA naming an agency confirms its claim: a change of
        // that link, audited as its own LINK_CONFIRMED event.
        std::vector<std::string> confirmed_by_naming;
        if (is_la) {
          for (StoredLink& l : view.links) {
            if (l.state == LinkState::kClaimed && NamedBy(part, l.agency_kind, l.agency_code)) {
              l.state = LinkState::kConfirmed;
              l.update_time = now;
              l.updated_by = who.uri;
              KINEX_RETURN_IF_ERROR(txn.PutLink(l));
              confirmed_by_naming.push_back(AgencyName(l.agency_kind, l.agency_code));
            }
          }
        }
        KINEX_RETURN_IF_ERROR(txn.ReplaceScopeLinks(kinex_id, IndexLinks(view)));

        av1::AuditEvent event = about;
        event.set_kind(new_claim ? av1::LINK_CLAIMED : av1::PART_PUBLISHED);
        if (new_claim) event.set_subject_agency(AgencyName(who.agency_kind, who.agency_code));
        AddKinexId(event, kinex_id);
        for (const std::string& p : PresentLeafPaths(part)) event.add_written_paths(p);
        event.set_part_version(stored.version);
        event.set_part_etag(stored.etag);
        // The notifications this publish raises commit with its event
        // (docs/notifications.md): Operation Encompass, VSH alerts.
        ChildRecord before;
        if (latest.has_value() && !before.ParseFromString(latest->payload)) {
          return StoredCorrupt("record_part", "stored record part does not parse");
        }
        PublishedPart published;
        published.owner_kind = who.agency_kind;
        published.owner_code = who.agency_code;
        published.kinex_id = kinex_id;
        published.responsible_la = view.responsible_la;
        published.before = latest.has_value() ? &before : nullptr;
        published.after = &part;
        published.in_virtual_school_cohort = request.notify_virtual_school();
        published.published_at = now;
        published.publisher_confirmed = trusted;
        KINEX_ASSIGN_OR_RETURN(
            const std::shared_ptr<const SchoolCalendars> calendars,
            CalendarsInForce(txn, options_.calendars ? options_.calendars() : nullptr, published));
        for (av1::NotifyIntent& intent : NotificationsForPublish(published, *calendars)) {
          *event.add_notify() = std::move(intent);
        }
        for (const std::string& agency : confirmed_by_naming) {
          av1::AuditEvent confirmed = about;
          confirmed.set_kind(av1::LINK_CONFIRMED);
          confirmed.set_subject_agency(agency);
          AddKinexId(confirmed, kinex_id);
          std::string unused_id;
          KINEX_RETURN_IF_ERROR(QueueEvent(txn, std::move(confirmed), unused_id));
        }
        KINEX_RETURN_IF_ERROR(QueueEvent(txn, std::move(event), event_id));

        response.set_kinex_id(kinex_id);
        response.set_etag(stored.etag);
        response.set_version(stored.version);
        return absl::OkStatus();
      }));
  return response;
}

namespace {

constexpr int kMaxPaths = 1000;
constexpr int kMaxBatch = 1000;

// One GetRecord inside a read transaction.
absl::Status ReadRecord(RecordsTxn& txn, ChildViewCache* cache, const Identifier& id,
                        const PathFilter* filter, const std::string& facts_version, absl::Time now,
                        rv1::GetRecordResponse& response) {
  response.Clear();
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const ChildView> read, ResolveView(txn, id, cache));
  const ChildView& view = *read;
  const std::string& kinex_id = view.kinex_id;
  std::vector<const StoredPart*> used;
  if (filter == nullptr && facts_version.empty()) {
    KINEX_ASSIGN_OR_RETURN(*response.mutable_record(), Assemble(view, now, &used));
  } else {
    KINEX_ASSIGN_OR_RETURN(rv1::ChildFacts facts, FactsOf(view, now));
    if (!facts_version.empty() && facts.facts_version() != facts_version) {
      return WithErrorReason(
          absl::AbortedError(absl::StrCat("the child's facts changed since facts version ",
                                          facts_version, " (now ", facts.facts_version(),
                                          "); nothing was read: decide again")),
          reason::kRecordChanged, {{"field", "facts_version"}});
    }
    response.set_facts_version(facts.facts_version());
    used = TrustedParts(view);
    if (filter == nullptr) {
      KINEX_ASSIGN_OR_RETURN(*response.mutable_record(), Assemble(view, now));
    } else {
      KINEX_ASSIGN_OR_RETURN(ChildRecord record, MergeParts(used, filter));
      // The derived fields (scope, Kinex id), kept only where the filter
      // keeps them.
      record.clear_scope();
      ChildRecord derived;
      if (facts.has_scope()) *derived.mutable_scope() = facts.scope();
      derived.mutable_identity()->set_kinex_id(kinex_id);
      std::string kept;
      if (!filter->Apply(derived.SerializeAsString(), &kept) || !record.MergeFromString(kept)) {
        return SerializationFailed("derived fields do not filter");
      }
      *response.mutable_record() = std::move(record);
    }
  }
  for (const StoredPart* p : used) *response.add_parts() = VersionInfo(*p);
  return absl::OkStatus();
}

// The filter of a GetRecord's paths; null for the whole record.
absl::StatusOr<std::optional<PathFilter>> FilterOf(const rv1::GetRecordRequest& request) {
  if (request.paths().empty()) return std::nullopt;
  if (request.paths_size() > kMaxPaths) {
    return InvalidFieldError("paths", absl::StrCat("at most ", kMaxPaths));
  }
  KINEX_ASSIGN_OR_RETURN(
      PathFilter f,
      PathFilter::Create(*ChildRecord::descriptor(),
                         std::vector<std::string>(request.paths().begin(), request.paths().end())));
  return f;
}

}  // namespace

absl::StatusOr<rv1::GetRecordResponse> RecordsCore::GetRecord(
    const rv1::GetRecordRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  KINEX_ASSIGN_OR_RETURN(std::optional<PathFilter> filter, FilterOf(request));
  const absl::Time now = options_.clock->Now();
  rv1::GetRecordResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    return ReadRecord(txn, views_.get(), id, filter.has_value() ? &*filter : nullptr,
                      request.facts_version(), now, response);
  }));
  return response;
}

absl::StatusOr<rv1::BatchGetRecordsResponse> RecordsCore::BatchGetRecords(
    const rv1::BatchGetRecordsRequest& request) {
  if (request.requests_size() > kMaxBatch) {
    return InvalidFieldError("requests", absl::StrCat("at most ", kMaxBatch));
  }
  std::vector<Identifier> ids;
  std::vector<std::optional<PathFilter>> filters;
  for (int i = 0; i < request.requests_size(); ++i) {
    absl::StatusOr<Identifier> id = IdentifierFromRef(request.requests(i).child());
    if (!id.ok()) {
      return InElement(absl::StrCat("requests[", i, "]."), id.status());
    }
    ids.push_back(*std::move(id));
    absl::StatusOr<std::optional<PathFilter>> f = FilterOf(request.requests(i));
    if (!f.ok()) {
      return InElement(absl::StrCat("requests[", i, "]."), f.status());
    }
    filters.push_back(*std::move(f));
  }
  const absl::Time now = options_.clock->Now();
  rv1::BatchGetRecordsResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    for (int i = 0; i < request.requests_size(); ++i) {
      KINEX_RETURN_IF_ERROR(
          ReadRecord(txn, views_.get(), ids[i], filters[i].has_value() ? &*filters[i] : nullptr,
                     request.requests(i).facts_version(), now, *response.add_records()));
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::ChildFacts> RecordsCore::GetChildFacts(
    const rv1::GetChildFactsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  const absl::Time now = options_.clock->Now();
  rv1::ChildFacts response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const ChildView> view,
                           ResolveView(txn, id, views_.get()));
    KINEX_ASSIGN_OR_RETURN(response, FactsOf(*view, now));
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::ResolveChildResponse> RecordsCore::ResolveChild(
    const rv1::ResolveChildRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  const absl::Time now = options_.clock->Now();
  rv1::ResolveChildResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const ChildView> view,
                           ResolveView(txn, id, views_.get()));
    KINEX_ASSIGN_OR_RETURN(rv1::ChildFacts facts, FactsOf(*view, now));
    response.set_kinex_id(view->kinex_id);
    if (facts.has_scope()) *response.mutable_scope() = facts.scope();
    if (facts.has_date_of_birth()) *response.mutable_date_of_birth() = facts.date_of_birth();
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::ListChildrenResponse> RecordsCore::ListChildren(
    const rv1::ListChildrenRequest& request) {
  std::vector<int> link_kinds;
  absl::Status code_ok;
  const std::string& code = request.agency_code();
  switch (request.agency_kind()) {
    case AgencyKind::LOCAL_AUTHORITY:
    case AgencyKind::VIRTUAL_SCHOOL:
      link_kinds = {AgencyKind::LOCAL_AUTHORITY};
      code_ok = ValidateLaCode(code);
      break;
    case AgencyKind::SCHOOL:
      link_kinds = {AgencyKind::SCHOOL};
      code_ok = ValidateSchoolUrn(code);
      break;
    case AgencyKind::HEALTH:
      link_kinds = {AgencyKind::HEALTH};
      code_ok = ValidateOdsCode(code);
      break;
    case AgencyKind::POLICE:
      link_kinds = {AgencyKind::POLICE};
      code_ok = ValidatePoliceForceCode(code);
      break;
    default:
      return InvalidFieldError(
          "agency_kind",
          absl::StrCat(request.agency_kind(),
                       " has no cohort (use local-authority, virtual-school, school, health or "
                       "police)"));
  }
  if (!code_ok.ok()) {
    return InvalidFieldError("agency_code", code_ok.message());
  }
  KINEX_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  // The cohort is the caller's own agency (the gateway sets it from the
  // caller's identity), so a token is bound to it.
  const std::string cohort = absl::StrCat(request.agency_kind(), "/", code);
  const paging::TokenScope scope{.rpc = "ListChildren", .caller = cohort, .filter = ""};
  KINEX_ASSIGN_OR_RETURN(std::string after,
                         paging::PageTokens::Process().Open(request.page_token(), scope));
  const absl::Time now = options_.clock->Now();
  rv1::ListChildrenResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    KINEX_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                           txn.ChildrenInScope(link_kinds, code, after, page_size + 1));
    const bool more = static_cast<int>(ids.size()) > page_size;
    if (more) ids.resize(page_size);
    for (const std::string& kid : ids) {
      KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const ChildView> view,
                             ReadView(txn, kid, views_.get()));
      KINEX_ASSIGN_OR_RETURN(rv1::ChildFacts facts, FactsOf(*view, now));
      rv1::ChildSummary* summary = response.add_children();
      summary->set_kinex_id(kid);
      if (facts.has_scope()) *summary->mutable_scope() = facts.scope();
      *summary->mutable_facts() = std::move(facts);
    }
    if (more) response.set_next_page_token(paging::PageTokens::Process().Issue(scope, ids.back()));
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::ListPartVersionsResponse> RecordsCore::ListPartVersions(
    const rv1::ListPartVersionsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  if (!kinex::common::v1::AgencyKind_IsValid(request.owner_kind())) {
    return InvalidFieldError("owner_kind",
                             absl::StrCat("unknown enum value ", request.owner_kind()));
  }
  KINEX_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  // No caller identity reaches this internal method: the token is bound to
  // the child and owner it lists, and its offset cannot be forged.
  const std::string filter =
      absl::StrCat(request.child().SerializeAsString(), "/", request.owner_kind());
  const paging::TokenScope scope{.rpc = "ListPartVersions", .caller = "", .filter = filter};
  KINEX_ASSIGN_OR_RETURN(std::string position,
                         paging::PageTokens::Process().Open(request.page_token(), scope));
  int64_t offset = 0;
  if (!position.empty() && (!absl::SimpleAtoi(position, &offset) || offset < 0)) {
    return TokenCorrupt();
  }
  rv1::ListPartVersionsResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    KINEX_ASSIGN_OR_RETURN(std::string kinex_id, Resolve(txn, id));
    KINEX_ASSIGN_OR_RETURN(std::vector<StoredPart> versions,
                           txn.PartHistory(kinex_id, request.owner_kind(), offset, page_size + 1));
    const bool more = static_cast<int>(versions.size()) > page_size;
    if (more) versions.resize(page_size);
    for (const StoredPart& p : versions) {
      rv1::PartVersion* v = response.add_versions();
      *v = VersionInfo(p);
      if (!v->mutable_part()->ParseFromString(p.payload)) {
        return StoredCorrupt("record_part", "stored record part does not parse");
      }
    }
    if (more) {
      response.set_next_page_token(
          paging::PageTokens::Process().Issue(scope, absl::StrCat(offset + page_size)));
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::GetPartResponse> RecordsCore::GetPart(const rv1::GetPartRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  // The same answer for an unknown child and a child the caller has no part
  // of: a read of one's own part teaches nothing about anyone else's.
  const absl::Status none = WithErrorReason(
      absl::PermissionDeniedError("no part of yours exists for this child reference"),
      reason::kPartNotFoundOrOutOfScope);
  rv1::GetPartResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    if (!IsAgency(who)) return none;
    KINEX_ASSIGN_OR_RETURN(std::optional<std::string> kid, Find(txn, id));
    if (!kid.has_value()) return none;
    KINEX_ASSIGN_OR_RETURN(std::optional<StoredPart> part,
                           txn.LatestPart(*kid, who.agency_kind, who.agency_code));
    if (!part.has_value()) return none;
    KINEX_ASSIGN_OR_RETURN(std::vector<StoredLink> links, txn.Links(*kid));
    response.set_kinex_id(*kid);
    *response.mutable_part() = VersionInfo(*part);
    if (!response.mutable_part()->mutable_part()->ParseFromString(part->payload)) {
      return StoredCorrupt("record_part", "stored record part does not parse");
    }
    for (const StoredLink& l : links) {
      if (l.agency_kind == who.agency_kind && l.agency_code == who.agency_code) {
        response.set_link_state(static_cast<rec::LinkState>(l.state));
      }
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::ListLinksResponse> RecordsCore::ListLinks(
    const rv1::ListLinksRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  if (who.is_service || who.agency_kind != AgencyKind::LOCAL_AUTHORITY) {
    return WithErrorReason(
        absl::PermissionDeniedError(
            "only a local authority lists the links on the children it is responsible for"),
        reason::kPolicyDenied);
  }
  if (!rec::LinkState_IsValid(request.state())) {
    return InvalidFieldError(
        "state", absl::StrCat("unknown value ", request.state(), " for kinex.record.v1.LinkState"));
  }
  KINEX_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  const std::string state_filter = absl::StrCat("state=", request.state());
  const paging::TokenScope scope{.rpc = "ListLinks", .caller = who.uri, .filter = state_filter};
  KINEX_ASSIGN_OR_RETURN(std::string position,
                         paging::PageTokens::Process().Open(request.page_token(), scope));
  std::string after_id, after_code;
  int after_kind = 0;
  if (!position.empty()) {
    // kinex_id:agency_kind:agency_code of the last link served.
    std::vector<std::string> f = absl::StrSplit(position, absl::MaxSplits(':', 2));
    if (f.size() != 3 || !absl::SimpleAtoi(f[1], &after_kind)) {
      return TokenCorrupt();
    }
    after_id = f[0];
    after_code = f[2];
  }
  rv1::ListLinksResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    KINEX_ASSIGN_OR_RETURN(std::vector<StoredLink> links,
                           txn.LinksOfLa(who.agency_code, request.state(), after_id, after_kind,
                                         after_code, page_size + 1));
    const bool more = static_cast<int>(links.size()) > page_size;
    if (more) links.resize(page_size);
    for (const StoredLink& l : links) *response.add_links() = LinkInfo(l);
    if (more) {
      const StoredLink& last = links.back();
      response.set_next_page_token(paging::PageTokens::Process().Issue(
          scope, absl::StrCat(last.kinex_id, ":", last.agency_kind, ":", last.agency_code)));
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::DecideLinkResponse> RecordsCore::DecideLink(
    const rv1::DecideLinkRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  av1::AuditEvent refused =
      BaseEvent(who, request.actor(), request.request_id(), "DecideLinkClaim");
  AddChildRef(refused, request.child());
  refused.set_subject_agency(
      AgencyName(request.agency().agency_kind(), request.agency().agency_code()));
  rv1::DecideLinkResponse response;
  KINEX_RETURN_IF_ERROR(RunWrite(
      refused, [&](RecordsTxn& txn, std::string& event_id, av1::AuditEvent& about) -> absl::Status {
        if (who.is_service || who.agency_kind != AgencyKind::LOCAL_AUTHORITY) {
          return WithErrorReason(
              absl::PermissionDeniedError(
                  "only the child's responsible local authority confirms or rejects links"),
              reason::kPolicyDenied);
        }
        if (who.role != kSocialWorker && who.role != kTeamManager) {
          return WithErrorReason(absl::PermissionDeniedError(absl::StrCat(
                                     "role ", who.role, " may not confirm or reject links (",
                                     kSocialWorker, " or ", kTeamManager, ")")),
                                 reason::kPolicyDenied);
        }
        KINEX_RETURN_IF_ERROR(ValidateActor(request.actor()));
        if (request.decision() != rec::CONFIRMED && request.decision() != rec::REJECTED) {
          return InvalidFieldError("decision", "CONFIRMED or REJECTED");
        }
        const auto kind = request.agency().agency_kind();
        if (kind != AgencyKind::SCHOOL && kind != AgencyKind::HEALTH &&
            kind != AgencyKind::POLICE) {
          return InvalidFieldError("agency.agency_kind",
                                   "links are held by school, health or police agencies");
        }
        KINEX_ASSIGN_OR_RETURN(ChildView view, ResponsibleChild(txn, request.child(), who,
                                                                request.request_id(), about));
        const std::string* kid = &view.kinex_id;
        StoredLink* link = nullptr;
        for (StoredLink& l : view.links) {
          if (l.agency_kind == kind && l.agency_code == request.agency().agency_code()) link = &l;
        }
        if (link == nullptr) {
          return WithErrorReason(
              absl::NotFoundError("agency: that agency has published nothing about this child (no "
                                  "link to decide)"),
              reason::kLinkNotFound, {{"field", "agency"}});
        }
        link->state =
            request.decision() == rec::CONFIRMED ? LinkState::kConfirmed : LinkState::kRejected;
        link->update_time = options_.clock->Now();
        link->updated_by = who.uri;
        KINEX_RETURN_IF_ERROR(txn.PutLink(*link));
        KINEX_RETURN_IF_ERROR(txn.ReplaceScopeLinks(*kid, IndexLinks(view)));
        *response.mutable_link() = LinkInfo(*link);
        av1::AuditEvent event = about;
        event.set_kind(request.decision() == rec::CONFIRMED ? av1::LINK_CONFIRMED
                                                            : av1::LINK_REJECTED);
        AddKinexId(event, *kid);
        return QueueEvent(txn, std::move(event), event_id);
      }));
  return response;
}

absl::StatusOr<rv1::TransferResponsibilityResponse> RecordsCore::TransferResponsibility(
    const rv1::TransferResponsibilityRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  av1::AuditEvent refused =
      BaseEvent(who, request.actor(), request.request_id(), "TransferResponsibility");
  AddChildRef(refused, request.child());
  refused.set_justification(request.reason().substr(0, kMaxTransferReason));
  refused.set_subject_agency(AgencyName(AgencyKind::LOCAL_AUTHORITY, request.to_la_code()));
  rv1::TransferResponsibilityResponse response;
  KINEX_RETURN_IF_ERROR(RunWrite(
      refused, [&](RecordsTxn& txn, std::string& event_id, av1::AuditEvent& about) -> absl::Status {
        if (who.is_service || who.agency_kind != AgencyKind::LOCAL_AUTHORITY) {
          return WithErrorReason(
              absl::PermissionDeniedError(
                  "only the child's responsible local authority transfers responsibility"),
              reason::kPolicyDenied);
        }
        if (who.role != kTeamManager) {
          return WithErrorReason(absl::PermissionDeniedError(
                                     absl::StrCat("transferring responsibility is a ", kTeamManager,
                                                  "'s decision (role ", who.role, " may not)")),
                                 reason::kPolicyDenied);
        }
        KINEX_RETURN_IF_ERROR(ValidateActor(request.actor()));
        if (absl::Status s = ValidateLaCode(request.to_la_code()); !s.ok()) {
          return InvalidFieldError("to_la_code", s.message());
        }
        if (request.reason().empty() || request.reason().size() > kMaxTransferReason) {
          return InvalidFieldError("reason",
                                   absl::StrCat("required, at most ", kMaxTransferReason,
                                                " characters (recorded in the audit log)"));
        }
        KINEX_ASSIGN_OR_RETURN(ChildView view, ResponsibleChild(txn, request.child(), who,
                                                                request.request_id(), about));
        const std::string* kid = &view.kinex_id;
        if (request.to_la_code() == who.agency_code) {
          return InvalidFieldError("to_la_code", "names the local authority already responsible");
        }
        KINEX_RETURN_IF_ERROR(
            txn.SetResponsibleLa(*kid, request.to_la_code(), options_.clock->Now()));
        view.responsible_la = request.to_la_code();
        KINEX_RETURN_IF_ERROR(txn.ReplaceScopeLinks(*kid, IndexLinks(view)));
        response.set_kinex_id(*kid);
        response.set_responsible_la_code(request.to_la_code());
        av1::AuditEvent event = about;
        event.set_kind(av1::RESPONSIBILITY_TRANSFERRED);
        AddKinexId(event, *kid);
        return QueueEvent(txn, std::move(event), event_id);
      }));
  return response;
}

namespace {

namespace cv1 = kinex::common::v1;

constexpr size_t kMaxRationale = 4000;
constexpr size_t kMaxRemovalReason = 2000;
constexpr int kMaxDecisionPaths = 1000;
constexpr int kDefaultDecisionPageSize = 100;
constexpr int kMaxDecisionPageSize = 500;

// Every path of the child record (sections and leaves) a decision may name.
const absl::flat_hash_set<std::string>& RecordPaths() {
  static const auto* const kPaths = [] {
    auto* out = new absl::flat_hash_set<std::string>();
    for (const LabelledField& f : LabelledFields(ChildRecord::descriptor())) {
      out->insert(f.path);
    }
    return out;
  }();
  return *kPaths;
}

// The code check of an agency kind ("" for a kind without codes).
absl::Status ValidateAgencyCode(AgencyKind kind, const std::string& code) {
  switch (kind) {
    case AgencyKind::LOCAL_AUTHORITY:
    case AgencyKind::VIRTUAL_SCHOOL:
      return ValidateLaCode(code);
    case AgencyKind::SCHOOL:
      return ValidateSchoolUrn(code);
    case AgencyKind::HEALTH:
      return ValidateOdsCode(code);
    case AgencyKind::POLICE:
      return ValidatePoliceForceCode(code);
    default:
      return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                                 AgencyKindSlug(kind), " agencies are not recipients")),
                             reason::kInvalidField);
  }
}

bool PrintableAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x21 && c <= 0x7e; });
}

// Checks the input fields of a decision (output-only ones are ignored).
absl::Status ValidateDecision(const rv1::SharingDecision& d) {
  if (d.kind() == cv1::SHARING_DECISION_KIND_UNSPECIFIED) {
    return InvalidFieldError("decision.kind",
                             "required (NOT_SHARED, SHARED_IN_PART, DEFERRED or SHIELD)");
  }
  if (!cv1::SharingDecisionKind_IsValid(d.kind())) {
    return InvalidFieldError("decision.kind", absl::StrCat("unknown value ", d.kind()));
  }
  if (d.reason() == cv1::SHARING_DECISION_REASON_UNSPECIFIED) {
    return InvalidFieldError("decision.reason", "required (e.g. MORE_DETRIMENTAL_TO_CHILD)");
  }
  if (!cv1::SharingDecisionReason_IsValid(d.reason())) {
    return InvalidFieldError("decision.reason", absl::StrCat("unknown value ", d.reason()));
  }
  if (d.rationale().empty() || d.rationale().size() > kMaxRationale) {
    return InvalidFieldError("decision.rationale",
                             absl::StrCat("required, 1-", kMaxRationale, " characters (got ",
                                          d.rationale().size(), ")"));
  }
  const bool shield = d.kind() == cv1::SHIELD;
  if (d.field_paths_size() > kMaxDecisionPaths) {
    return InvalidFieldError(
        "decision.field_paths",
        absl::StrCat("at most ", kMaxDecisionPaths, " (got ", d.field_paths_size(), ")"));
  }
  for (int i = 0; i < d.field_paths_size(); ++i) {
    const std::string& path = d.field_paths(i);
    if (!RecordPaths().contains(path)) {
      return InvalidFieldError(absl::StrCat("decision.field_paths[", i, "]"),
                               absl::StrCat("\"", absl::CEscape(path.substr(0, 200)),
                                            "\" is not a field of kinex.record.v1.ChildRecord"));
    }
  }
  if (d.field_paths_size() > 0 && !shield && d.kind() != cv1::SHARED_IN_PART) {
    return InvalidFieldError(
        "decision.field_paths",
        absl::StrCat("only SHIELD and SHARED_IN_PART decisions name paths (",
                     cv1::SharingDecisionKind_Name(d.kind()), " is about everything asked for)"));
  }
  if (d.locating() && !shield) {
    return InvalidFieldError("decision.locating",
                             absl::StrCat("only a SHIELD covers the "
                                          "(locates) fields (got ",
                                          cv1::SharingDecisionKind_Name(d.kind()), ")"));
  }
  if (shield && d.field_paths_size() == 0 && !d.locating()) {
    return InvalidFieldError("decision.field_paths",
                             "a SHIELD names the fields it shields, sets locating, or both");
  }
  if (!cv1::AgencyKind_IsValid(d.recipient_kind())) {
    return InvalidFieldError("decision.recipient_kind",
                             absl::StrCat("unknown value ", d.recipient_kind()));
  }
  if (!cv1::Purpose_IsValid(d.purpose())) {
    return InvalidFieldError("decision.purpose", absl::StrCat("unknown value ", d.purpose()));
  }
  if (shield && (d.recipient_kind() != cv1::AGENCY_KIND_UNSPECIFIED ||
                 !d.recipient_code().empty() || d.purpose() != cv1::PURPOSE_UNSPECIFIED)) {
    return InvalidFieldError("decision.recipient_kind",
                             "a SHIELD withholds from everyone: set no recipient or purpose");
  }
  if (!d.recipient_code().empty()) {
    if (d.recipient_kind() == cv1::AGENCY_KIND_UNSPECIFIED) {
      return InvalidFieldError("decision.recipient_kind", "required with recipient_code");
    }
    if (absl::Status s = ValidateAgencyCode(d.recipient_kind(), d.recipient_code()); !s.ok()) {
      return InvalidFieldError("decision.recipient_code", s.message());
    }
  } else if (d.recipient_kind() == cv1::AUDITOR) {
    return InvalidFieldError("decision.recipient_kind", "auditor agencies are not recipients");
  }
  if (d.about_request_id().size() > kMaxRequestIdLength || !PrintableAscii(d.about_request_id())) {
    return InvalidFieldError(
        "decision.about_request_id",
        absl::StrCat("at most ", kMaxRequestIdLength, " printable ASCII characters"));
  }
  return absl::OkStatus();
}

// The child `ref` names, for a sharing decision: the caller must have the
// relationship a write needs (the responsible LA or its virtual school, or
// an agency whose link the LA confirmed). An unknown child and one the
// caller has no relationship with get the write path's one refusal.
absl::StatusOr<ChildView> RelatedChild(RecordsTxn& txn, const cv1::ChildRef& ref,
                                       const SpiffeId& who, const std::string& request_id,
                                       av1::AuditEvent& about) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(ref));
  KINEX_ASSIGN_OR_RETURN(std::optional<std::string> kid, Find(txn, id));
  if (!kid.has_value()) return NoChildToPublish(request_id);
  AddKinexId(about, *kid);
  KINEX_RETURN_IF_ERROR(txn.LockChild(*kid));
  KINEX_ASSIGN_OR_RETURN(ChildView view, LoadView(txn, *kid));
  bool related = false;
  switch (who.agency_kind) {
    case AgencyKind::LOCAL_AUTHORITY:
    case AgencyKind::VIRTUAL_SCHOOL:
      related = !view.responsible_la.empty() && view.responsible_la == who.agency_code;
      break;
    default: {
      const StoredLink* link = LinkOf(view, who.agency_kind, who.agency_code);
      related = link != nullptr && link->state == LinkState::kConfirmed;
    }
  }
  if (!related) return NoChildToPublish(request_id);
  return view;
}

// Only the responsible LA's deciding roles set or remove shields.
absl::Status CheckShieldRole(const SpiffeId& who) {
  if (who.is_service || who.agency_kind != AgencyKind::LOCAL_AUTHORITY) {
    return WithErrorReason(
        absl::PermissionDeniedError(
            "only the child's responsible local authority sets or removes shields"),
        reason::kPolicyDenied);
  }
  if (who.role != kSocialWorker && who.role != kTeamManager) {
    return WithErrorReason(absl::PermissionDeniedError(
                               absl::StrCat("role ", who.role, " may not set or remove shields (",
                                            kSocialWorker, " or ", kTeamManager, ")")),
                           reason::kPolicyDenied);
  }
  return absl::OkStatus();
}

// The event fields that describe a decision.
void DescribeDecision(const rv1::SharingDecision& d, av1::AuditEvent& event) {
  event.set_record_id(d.decision_id());
  event.set_sharing_kind(d.kind());
  event.set_sharing_reason(d.reason());
  for (const std::string& p : d.field_paths()) event.add_decision_paths(p);
  event.set_shield_locating(d.locating());
}

// Where ListSharingDecisions resumes (inside its page token): the last
// decision's time and id.
std::string DecisionPosition(const StoredSharingDecision& last) {
  return absl::StrCat(absl::ToUnixMicros(last.decided_at), ":", last.decision_id);
}

}  // namespace

absl::StatusOr<rv1::SharingDecision> RecordsCore::RecordSharingDecision(
    const rv1::RecordSharingDecisionRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  const rv1::SharingDecision& asked = request.decision();
  av1::AuditEvent refused =
      BaseEvent(who, request.actor(), request.request_id(), "RecordSharingDecision");
  AddChildRef(refused, request.child());
  // Only values the log can hold: a refusal of a malformed decision must
  // itself be auditable.
  if (cv1::SharingDecisionKind_IsValid(asked.kind())) refused.set_sharing_kind(asked.kind());
  if (cv1::SharingDecisionReason_IsValid(asked.reason())) {
    refused.set_sharing_reason(asked.reason());
  }
  rv1::SharingDecision decision;
  KINEX_RETURN_IF_ERROR(RunWrite(
      refused, [&](RecordsTxn& txn, std::string& event_id, av1::AuditEvent& about) -> absl::Status {
        if (!IsAgency(who)) {
          return AgencyRequired(absl::StrCat(
              "principal ", who.uri, " may not record sharing decisions (only agencies do)"));
        }
        KINEX_RETURN_IF_ERROR(ValidateActor(request.actor()));
        if (request.child().id_case() == cv1::ChildRef::ID_NOT_SET) {
          return InvalidFieldError("child",
                                   "one of kinex_id, nhs_number, upn or la_child_id is required");
        }
        KINEX_RETURN_IF_ERROR(ValidateDecision(asked));
        const bool shield = asked.kind() == cv1::SHIELD;
        ChildView view;
        if (shield) {
          KINEX_RETURN_IF_ERROR(CheckShieldRole(who));
          KINEX_ASSIGN_OR_RETURN(
              view, ResponsibleChild(txn, request.child(), who, request.request_id(), about));
        } else {
          KINEX_ASSIGN_OR_RETURN(
              view, RelatedChild(txn, request.child(), who, request.request_id(), about));
        }
        decision.Clear();
        decision.set_kind(asked.kind());
        decision.set_reason(asked.reason());
        decision.set_rationale(asked.rationale());
        std::set<std::string> paths(asked.field_paths().begin(), asked.field_paths().end());
        for (const std::string& p : paths) decision.add_field_paths(p);
        decision.set_locating(asked.locating());
        decision.set_recipient_kind(asked.recipient_kind());
        decision.set_recipient_code(asked.recipient_code());
        decision.set_purpose(asked.purpose());
        decision.set_about_request_id(asked.about_request_id());
        KINEX_ASSIGN_OR_RETURN(std::string id, RandomId("sd_"));
        decision.set_decision_id(id);
        decision.set_kinex_id(view.kinex_id);
        decision.set_decider_kind(who.agency_kind);
        decision.set_decider_code(who.agency_code);
        decision.set_decider(who.uri);
        decision.set_actor(request.actor());
        const absl::Time now = options_.clock->Now();
        *decision.mutable_decided_at() = ToProto(now);
        StoredSharingDecision stored;
        stored.decision_id = id;
        stored.kinex_id = view.kinex_id;
        stored.kind = decision.kind();
        stored.decider_kind = who.agency_kind;
        stored.decider_code = who.agency_code;
        stored.decided_at = now;
        if (!decision.SerializeToString(&stored.payload)) {
          return SerializationFailed("sharing decision does not serialize");
        }
        KINEX_RETURN_IF_ERROR(txn.InsertSharingDecision(stored));
        av1::AuditEvent event = about;
        event.set_kind(shield ? av1::SHIELD_SET : av1::SHARING_DECISION_RECORDED);
        DescribeDecision(decision, event);
        event.set_justification(decision.rationale());
        if (decision.purpose() != cv1::PURPOSE_UNSPECIFIED) event.set_purpose(decision.purpose());
        if (decision.recipient_kind() != cv1::AGENCY_KIND_UNSPECIFIED) {
          event.set_subject_agency(
              decision.recipient_code().empty()
                  ? std::string(AgencyKindSlug(decision.recipient_kind()))
                  : AgencyName(decision.recipient_kind(), decision.recipient_code()));
        }
        return QueueEvent(txn, std::move(event), event_id);
      }));
  return decision;
}

absl::StatusOr<rv1::ListSharingDecisionsResponse> RecordsCore::ListSharingDecisions(
    const rv1::ListSharingDecisionsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  if (who.is_service || who.agency_kind == AgencyKind::AGENCY_KIND_UNSPECIFIED) {
    return AgencyRequired(absl::StrCat(
        "principal ", who.uri, " may not list sharing decisions (agencies and auditors do)"));
  }
  SharingDecisionFilter filter;
  for (int i = 0; i < request.kinds_size(); ++i) {
    const int kind = request.kinds(i);
    if (kind == cv1::SHARING_DECISION_KIND_UNSPECIFIED || !cv1::SharingDecisionKind_IsValid(kind)) {
      return InvalidFieldError(absl::StrCat("kinds[", i, "]"),
                               absl::StrCat("unknown value ", kind));
    }
    filter.kinds.push_back(kind);
  }
  KINEX_ASSIGN_OR_RETURN(
      const int page_size,
      paging::PageSize(request.page_size(), {.default_size = kDefaultDecisionPageSize,
                                             .max_size = kMaxDecisionPageSize}));
  const std::string token_filter =
      absl::StrCat(absl::StrJoin(request.kinds(), ","), "/", request.child().SerializeAsString(),
                   "/", request.include_removed());
  const paging::TokenScope scope{
      .rpc = "ListSharingDecisions", .caller = who.uri, .filter = token_filter};
  KINEX_ASSIGN_OR_RETURN(std::string position,
                         paging::PageTokens::Process().Open(request.page_token(), scope));
  if (!position.empty()) {
    // decision time (micros):decision id of the last decision served.
    std::vector<std::string> f = absl::StrSplit(position, absl::MaxSplits(':', 1));
    int64_t micros = 0;
    if (f.size() != 2 || !absl::SimpleAtoi(f[0], &micros)) {
      return TokenCorrupt();
    }
    filter.after = std::make_pair(absl::FromUnixMicros(micros), f[1]);
  }
  std::optional<Identifier> child;
  if (request.has_child()) {
    KINEX_ASSIGN_OR_RETURN(child, IdentifierFromRef(request.child()));
  }
  filter.all = who.agency_kind == AgencyKind::AUDITOR;
  filter.decider_kind = who.agency_kind;
  filter.decider_code = who.agency_code;
  if (who.agency_kind == AgencyKind::LOCAL_AUTHORITY) filter.responsible_la = who.agency_code;
  filter.include_removed = request.include_removed();
  filter.limit = page_size + 1;
  rv1::ListSharingDecisionsResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    if (child.has_value()) {
      KINEX_ASSIGN_OR_RETURN(std::optional<std::string> kid, Find(txn, *child));
      // An unknown child lists nothing, as a child with no decisions the
      // caller may see does.
      if (!kid.has_value()) return absl::OkStatus();
      filter.kinex_id = *kid;
    }
    KINEX_ASSIGN_OR_RETURN(std::vector<StoredSharingDecision> rows,
                           txn.ListSharingDecisions(filter));
    const bool more = static_cast<int>(rows.size()) > page_size;
    if (more) rows.resize(page_size);
    for (const StoredSharingDecision& row : rows) {
      if (!response.add_decisions()->ParseFromString(row.payload)) {
        return StoredCorrupt("sharing_decision", "stored sharing decision does not parse");
      }
    }
    if (more) {
      response.set_next_page_token(
          paging::PageTokens::Process().Issue(scope, DecisionPosition(rows.back())));
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::SharingDecision> RecordsCore::RemoveShield(
    const rv1::RemoveShieldRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  const std::string& id = request.decision_id();
  const bool id_ok = absl::StartsWith(id, "sd_") && id.size() <= 64 && PrintableAscii(id);
  av1::AuditEvent refused = BaseEvent(who, request.actor(), request.request_id(), "RemoveShield");
  AddChildRef(refused, request.child());
  if (id_ok) refused.set_record_id(id);
  rv1::SharingDecision shield;
  KINEX_RETURN_IF_ERROR(RunWrite(
      refused, [&](RecordsTxn& txn, std::string& event_id, av1::AuditEvent& about) -> absl::Status {
        KINEX_RETURN_IF_ERROR(CheckShieldRole(who));
        KINEX_RETURN_IF_ERROR(ValidateActor(request.actor()));
        if (!id_ok) {
          return InvalidFieldError("decision_id", "required, a shield's id (sd_...)");
        }
        if (request.reason().empty() || request.reason().size() > kMaxRemovalReason) {
          return InvalidFieldError(
              "reason", absl::StrCat("required, 1-", kMaxRemovalReason, " characters (got ",
                                     request.reason().size(), ")"));
        }
        KINEX_ASSIGN_OR_RETURN(ChildView view, ResponsibleChild(txn, request.child(), who,
                                                                request.request_id(), about));
        KINEX_ASSIGN_OR_RETURN(std::optional<StoredSharingDecision> stored,
                               txn.SharingDecision(id));
        if (!stored.has_value() || stored->kinex_id != view.kinex_id ||
            stored->kind != cv1::SHIELD) {
          return WithErrorReason(
              absl::NotFoundError(absl::StrCat("decision_id: no shield ", id, " on this child")),
              reason::kShieldNotFound, {{"field", "decision_id"}});
        }
        if (!shield.ParseFromString(stored->payload)) {
          return StoredCorrupt("sharing_decision", "stored sharing decision does not parse");
        }
        if (stored->removed) {
          return WithErrorReason(
              absl::FailedPreconditionError(absl::StrCat(
                  "decision_id: shield ", id, " is no longer in force (removed ",
                  google::protobuf::util::TimeUtil::ToString(shield.removed_at()), ")")),
              reason::kShieldAlreadyRemoved, {{"field", "decision_id"}});
        }
        *shield.mutable_removed_at() = ToProto(options_.clock->Now());
        shield.set_removed_by(who.uri);
        shield.set_removal_reason(request.reason());
        std::string payload;
        if (!shield.SerializeToString(&payload)) {
          return SerializationFailed("sharing decision does not serialize");
        }
        KINEX_RETURN_IF_ERROR(txn.RemoveSharingDecision(id, payload));
        av1::AuditEvent event = about;
        event.set_kind(av1::SHIELD_REMOVED);
        DescribeDecision(shield, event);
        event.set_justification(request.reason());
        return QueueEvent(txn, std::move(event), event_id);
      }));
  return shield;
}

std::string PepOverdueKey(const std::string& kinex_id, absl::CivilDay due) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(kinex_id.data(), kinex_id.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return "";  // unreachable in practice; the sweep refuses an empty key
  }
  return absl::StrCat(
      "pep-overdue/",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16)), "/",
      absl::FormatCivilTime(due));
}

namespace {

// Parts read per page by the overdue-PEP sweep.
constexpr int kPepSweepPage = 500;

// Europe/London, loaded once per process; null when it cannot be.
const absl::TimeZone* LondonZone() {
  static const absl::TimeZone* const zone = []() -> const absl::TimeZone* {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/London", z)) {
      delete z;
      return nullptr;
    }
    return z;
  }();
  return zone;
}

absl::Status SweepCancelled() {
  return absl::CancelledError(
      "overdue-PEP sweep stopped (shutting down); the next start sweeps again");
}

}  // namespace

absl::StatusOr<int> RecordsCore::SweepOverduePeps() {
  absl::MutexLock lock(&sweep_mu_);
  const absl::TimeZone* london = LondonZone();
  if (london == nullptr) {
    return absl::FailedPreconditionError(
        "overdue-PEP sweep: time zone Europe/London is not available (install tzdata)");
  }
  const absl::CivilDay today = absl::ToCivilDay(options_.clock->Now(), *london);
  const std::string principal =
      absl::StrCat("spiffe://", options_.trust_domain, "/service/records");
  // Keys still overdue this sweep that this process has appended.
  absl::flat_hash_set<std::string> raised;
  int appended = 0;
  int corrupt = 0;
  std::string after;
  for (;;) {
    if (sweep_cancelled_.load()) return SweepCancelled();
    std::vector<StoredPart> page;
    KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
      KINEX_ASSIGN_OR_RETURN(
          page, txn.LatestPartsOfResponsibleLa(AgencyKind::VIRTUAL_SCHOOL, after, kPepSweepPage));
      return absl::OkStatus();
    }));
    for (const StoredPart& stored : page) {
      after = stored.kinex_id;
      ChildRecord part;
      if (!part.ParseFromString(stored.payload)) {
        ++corrupt;
        continue;
      }
      if (!part.education().has_pep()) continue;
      const std::optional<absl::CivilDay> due = PepReviewDue(part.education().pep());
      if (!due.has_value() || !(*due < today)) continue;
      const std::string key = PepOverdueKey(stored.kinex_id, *due);
      if (key.empty()) {
        return WithErrorReason(absl::InternalError("overdue-PEP sweep: SHA-256 failed"),
                               reason::kSerializationFailed);
      }
      if (pep_alerts_raised_.contains(key)) {
        raised.insert(key);
        continue;
      }
      if (sweep_cancelled_.load()) {
        pep_alerts_raised_.merge(raised);
        return SweepCancelled();
      }
      av1::AuditEvent event;
      event.set_kind(av1::PEP_REVIEW_OVERDUE);
      event.set_request_id(key);
      event.set_idempotency_key(key);
      event.set_principal(principal);
      event.set_method("SweepOverduePeps");
      AddKinexId(event, stored.kinex_id);
      *event.add_notify() = VshAlertIntent(stored.owner_code, stored.kinex_id, kPepReviewOverdue);
      absl::StatusOr<kinex::audit::AppendResult> logged = options_.audit->Append(event);
      if (!logged.ok()) {
        // Kept: what this sweep raised before the failure.
        pep_alerts_raised_.merge(raised);
        return WithErrorReason(
            absl::UnavailableError(
                absl::StrCat("overdue-PEP sweep: the audit log could not record an alert (",
                             absl::StatusCodeToString(logged.status().code()), "); ", appended,
                             " raised this sweep, the rest are raised by the next")),
            reason::kAuditUnavailable, {{"service", "audit"}});
      }
      raised.insert(key);
      ++appended;
    }
    if (static_cast<int>(page.size()) < kPepSweepPage) break;
  }
  // Forget keys no longer overdue (a new plan was published): memory stays
  // bounded by the plans overdue now.
  pep_alerts_raised_ = std::move(raised);
  if (corrupt > 0) {
    return StoredCorrupt("record_part",
                         absl::StrCat("overdue-PEP sweep: ", corrupt,
                                      " virtual school part(s) do not parse and were skipped; ",
                                      appended, " alert(s) raised"));
  }
  return appended;
}

void RecordsCore::StartPepSweep(absl::Duration interval,
                                std::function<void(const absl::StatusOr<int>&)> report) {
  absl::MutexLock start(&sweeper_start_mu_);
  if (sweeper_.joinable()) return;
  {
    absl::MutexLock lock(&sweeper_mu_);
    sweeper_stop_ = false;
  }
  sweep_cancelled_.store(false);
  sweeper_ = std::thread([this, interval, report = std::move(report)] {
    absl::MutexLock lock(&sweeper_mu_);
    while (!sweeper_stop_) {
      sweeper_mu_.Unlock();
      absl::StatusOr<int> result = SweepOverduePeps();
      if (report) report(result);
      sweeper_mu_.Lock();
      sweeper_mu_.AwaitWithTimeout(absl::Condition(&sweeper_stop_), interval);
    }
  });
}

void RecordsCore::StopPepSweep() {
  absl::MutexLock start(&sweeper_start_mu_);
  if (!sweeper_.joinable()) return;
  {
    absl::MutexLock lock(&sweeper_mu_);
    sweeper_stop_ = true;
  }
  sweep_cancelled_.store(true);
  sweeper_.join();
  sweep_cancelled_.store(false);  // a direct SweepOverduePeps call still runs
}

RecordsCore::~RecordsCore() { StopPepSweep(); }

namespace {

// The most terms and closures, together, a published calendar may hold:
// years of a school's calendar (a year has about 6 terms and a handful of
// closures), and a bound on what each deadline reads and compiles.
constexpr int kMaxCalendarEntries = 400;

// The calendar a school or LA publishes and reads: its own.
struct CalendarKey {
  int kind = 0;  // SCHOOL or LOCAL_AUTHORITY
  std::string code;
  // "school:<urn>" or "la:<code>": the audit event's record_id.
  std::string record_id;
};

// The caller's own calendar key; PERMISSION_DENIED for anyone but a school
// or a local authority (any role of theirs: a calendar is administrative,
// not a child's data).
absl::StatusOr<CalendarKey> OwnCalendarKey(const SpiffeId& who, absl::string_view verb) {
  if (!IsAgency(who)) {
    return AgencyRequired(absl::StrCat("principal ", who.uri, " may not ", verb,
                                       " school calendars (only schools and local "
                                       "authorities do)"));
  }
  switch (who.agency_kind) {
    case AgencyKind::SCHOOL:
      return CalendarKey{AgencyKind::SCHOOL, who.agency_code,
                         absl::StrCat("school:", who.agency_code)};
    case AgencyKind::LOCAL_AUTHORITY:
      return CalendarKey{AgencyKind::LOCAL_AUTHORITY, who.agency_code,
                         absl::StrCat("la:", who.agency_code)};
    default:
      return WithErrorReason(
          absl::PermissionDeniedError(absl::StrCat(
              "a ", AgencyKindSlug(who.agency_kind), " agency may not ", verb,
              " school calendars (only schools and local authorities do; ", who.uri, ")")),
          reason::kFieldNotOwned, {{"field", "calendar"}});
  }
}

absl::Status NotYourCalendar(absl::string_view field, const std::string& value,
                             absl::string_view why) {
  return WithErrorReason(absl::PermissionDeniedError(absl::StrCat(field, " \"", value, "\" ", why)),
                         reason::kAgencyCodeNotOwn, {{"field", std::string(field)}});
}

// A school publishes only its own calendar (school_urn its URN, la_code
// empty); a local authority only its LA calendar (la_code its ONS code,
// school_urn empty).
absl::Status CheckCalendarKey(const CalendarKey& key, const nv1::SchoolCalendar& calendar) {
  if (key.kind == AgencyKind::SCHOOL) {
    if (calendar.school_urn().empty() && !calendar.la_code().empty()) {
      return NotYourCalendar(
          "calendar.la_code", calendar.la_code(),
          absl::StrCat("is not yours: a school publishes its own calendar (school_urn ", key.code,
                       ")"));
    }
    if (!calendar.school_urn().empty() && calendar.school_urn() != key.code) {
      return NotYourCalendar("calendar.school_urn", calendar.school_urn(),
                             absl::StrCat("is not your school (", key.code, ")"));
    }
  } else {
    if (!calendar.school_urn().empty()) {
      return NotYourCalendar(
          "calendar.school_urn", calendar.school_urn(),
          absl::StrCat("is not yours: a local authority publishes its own calendar (la_code ",
                       key.code, ")"));
    }
    if (!calendar.la_code().empty() && calendar.la_code() != key.code) {
      return NotYourCalendar("calendar.la_code", calendar.la_code(),
                             absl::StrCat("is not your local authority (", key.code, ")"));
    }
  }
  return absl::OkStatus();
}

// The etag of a published calendar: hex of the first 12 bytes of SHA-256
// over its key, time, publisher and payload.
std::string CalendarEtag(const StoredCalendar& c) {
  const std::string data =
      absl::StrCat(c.key_kind, "|", c.code, "|", absl::ToUnixMicros(c.publish_time), "|",
                   c.principal, "|", c.payload);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    // Unreachable in practice; an etag only needs to change per publish.
    return absl::StrCat("t", absl::ToUnixMicros(c.publish_time));
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 12));
}

absl::StatusOr<rv1::PublishedCalendar> FromStored(const StoredCalendar& stored) {
  rv1::PublishedCalendar out;
  if (!out.mutable_calendar()->ParseFromString(stored.payload)) {
    return StoredCorrupt("school_calendar", "stored school calendar does not parse");
  }
  out.set_etag(stored.etag);
  *out.mutable_publish_time() = ToProto(stored.publish_time);
  out.set_principal(stored.principal);
  out.set_actor(stored.actor);
  return out;
}

}  // namespace

absl::StatusOr<rv1::PublishedCalendar> RecordsCore::PutCalendar(
    const rv1::PutCalendarRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  av1::AuditEvent refused =
      BaseEvent(who, request.actor(), request.request_id(), "PublishSchoolCalendar");
  rv1::PublishedCalendar response;
  KINEX_RETURN_IF_ERROR(RunWrite(
      refused, [&](RecordsTxn& txn, std::string& event_id, av1::AuditEvent& about) -> absl::Status {
        response.Clear();
        KINEX_ASSIGN_OR_RETURN(CalendarKey key, OwnCalendarKey(who, "publish"));
        about.set_record_id(key.record_id);
        KINEX_RETURN_IF_ERROR(ValidateActor(request.actor()));
        if (!request.has_calendar()) {
          return InvalidFieldError("calendar",
                                   "required (a SchoolCalendar: terms, closures, day_start)");
        }
        const nv1::SchoolCalendar& calendar = request.calendar();
        KINEX_RETURN_IF_ERROR(CheckCalendarKey(key, calendar));
        const int entries = calendar.terms_size() + calendar.closures_size();
        if (entries > kMaxCalendarEntries) {
          return InvalidFieldError("calendar", absl::StrCat(calendar.terms_size(), " terms and ",
                                                            calendar.closures_size(), " closures (",
                                                            entries, ") exceed the maximum of ",
                                                            kMaxCalendarEntries, " together"));
        }
        if (absl::Status valid = SchoolCalendars::Validate(calendar, "calendar"); !valid.ok()) {
          const absl::string_view message = valid.message();
          return WithErrorReason(absl::InvalidArgumentError(message), reason::kInvalidField,
                                 {{"field", std::string(message.substr(0, message.find(": ")))}});
        }
        KINEX_ASSIGN_OR_RETURN(std::optional<StoredCalendar> current,
                               txn.PublishedCalendar(key.kind, key.code));
        if (current.has_value() && request.etag() != current->etag) {
          return WithErrorReason(absl::AbortedError(absl::StrCat(
                                     "etag: ", request.etag().empty() ? "required" : "stale",
                                     "; your calendar is published already, its etag is ",
                                     current->etag, " (retry with that etag)")),
                                 reason::kEtagMismatch, {{"field", "etag"}});
        }
        if (!current.has_value() && !request.etag().empty()) {
          return WithErrorReason(
              absl::AbortedError(
                  "etag: stale; you have no published calendar (publish with an empty etag)"),
              reason::kEtagMismatch, {{"field", "etag"}});
        }
        StoredCalendar stored;
        stored.key_kind = key.kind;
        stored.code = key.code;
        stored.publish_time = options_.clock->Now();
        stored.principal = who.uri;
        stored.actor = request.actor();
        if (!calendar.SerializeToString(&stored.payload)) {
          return SerializationFailed("school calendar does not serialize");
        }
        stored.etag = CalendarEtag(stored);
        KINEX_RETURN_IF_ERROR(
            txn.PutPublishedCalendar(stored, current.has_value() ? current->etag : ""));
        av1::AuditEvent event = about;
        event.set_kind(av1::CALENDAR_PUBLISHED);
        KINEX_ASSIGN_OR_RETURN(response, FromStored(stored));
        return QueueEvent(txn, std::move(event), event_id);
      }));
  return response;
}

absl::StatusOr<rv1::PublishedCalendar> RecordsCore::GetCalendar(
    const rv1::GetCalendarRequest& request) {
  KINEX_ASSIGN_OR_RETURN(SpiffeId who, Publisher(request.principal(), options_.trust_domain));
  KINEX_ASSIGN_OR_RETURN(CalendarKey key, OwnCalendarKey(who, "read"));
  std::optional<StoredCalendar> stored;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(stored, txn.PublishedCalendar(key.kind, key.code));
    return absl::OkStatus();
  }));
  if (!stored.has_value()) {
    return absl::NotFoundError(absl::StrCat("no calendar is published for ", key.record_id,
                                            " (PublishSchoolCalendar publishes one)"));
  }
  return FromStored(*stored);
}

}  // namespace kinex::records
