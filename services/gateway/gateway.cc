#include "services/gateway/gateway.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/common/identity.h"
#include "services/common/record_labels.h"
#include "services/common/status_macros.h"
#include "services/policy/redactor.h"

namespace kinex::gateway {
namespace {

namespace cv1 = kinex::common::v1;
namespace pv1 = kinex::policy::v1;
namespace ev1 = kinex::exchange::v1;
namespace rv1 = kinex::record::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr size_t kMaxJustification = 4000;

// The same answer for "no such child" and "not allowed", so probing
// identifiers teaches a caller nothing. The request id lets the caller's
// DPO find the audited reason.
absl::Status NothingToSee(const CallContext& call) {
  return absl::PermissionDeniedError(absl::StrCat(
      "no record you may see for this child and purpose (request id ", call.request_id, ")"));
}

// Wraps a dependency failure: the caller learns which service failed and
// that nothing was disclosed; the code stays meaningful.
absl::Status DependencyFailed(absl::string_view service, const absl::Status& s) {
  absl::StatusCode code = s.code();
  if (code != absl::StatusCode::kDeadlineExceeded && code != absl::StatusCode::kUnavailable &&
      code != absl::StatusCode::kResourceExhausted) {
    code = absl::StatusCode::kUnavailable;
  }
  return absl::Status(code, absl::StrCat(service, " could not answer (", s.message(),
                                         "); nothing was disclosed"));
}

absl::Status ValidateJustification(const std::string& justification, bool break_glass,
                                   int min_break_glass) {
  if (justification.size() > kMaxJustification) {
    return absl::InvalidArgumentError(
        absl::StrCat("justification: at most ", kMaxJustification, " bytes"));
  }
  if (break_glass && static_cast<int>(justification.size()) < min_break_glass) {
    return absl::InvalidArgumentError(absl::StrCat(
        "justification: break-glass needs a written justification of at least ",
        min_break_glass, " characters (got ", justification.size(), ")"));
  }
  return absl::OkStatus();
}

std::vector<pv1::AvailableBasis> ToAvailableBases(
    const kinex::consent::v1::LookupBasesResponse& found, const SpiffeId& who,
    cv1::Purpose purpose) {
  std::vector<pv1::AvailableBasis> out;
  for (const auto& c : found.consents()) {
    pv1::AvailableBasis b;
    b.set_basis(cv1::CONSENT);
    b.set_consent_id(c.consent_id());
    for (int cat : c.categories()) b.add_categories(static_cast<rv1::Category>(cat));
    b.set_recipient_agency_kind(who.agency_kind);
    b.set_recipient_agency_code(who.agency_code);
    b.add_purposes(purpose);
    out.push_back(std::move(b));
  }
  for (const auto& s : found.bases()) {
    pv1::AvailableBasis b;
    b.set_basis(s.basis());
    b.set_consent_id(s.consent_id());
    for (int cat : s.categories()) b.add_categories(static_cast<rv1::Category>(cat));
    b.set_recipient_agency_kind(who.agency_kind);
    b.add_purposes(purpose);
    out.push_back(std::move(b));
  }
  return out;
}

// Each field of the record schema has exactly one path (the record is a
// tree; Date and Timestamp are leaves). Computed once, so collecting the
// leaves present in a record allocates no strings per element.
const absl::flat_hash_map<const FieldDescriptor*, std::string>& LeafPathOf() {
  static const auto* paths = [] {
    auto* m = new absl::flat_hash_map<const FieldDescriptor*, std::string>();
    for (const LabelledField& f : LabelledFields(rv1::ChildRecord::descriptor())) {
      if (f.leaf) m->emplace(f.field, f.path);
    }
    return m;
  }();
  return *paths;
}

// Every leaf field reachable below each message type of the record schema.
// The schema is a tree (Date and Timestamp are leaves); computed once.
using LeafIndex =
    absl::flat_hash_map<const Descriptor*, std::vector<const FieldDescriptor*>>;

void IndexLeaves(const Descriptor* type, LeafIndex& index) {
  if (index.contains(type)) return;
  std::vector<const FieldDescriptor*> leaves;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    const Descriptor* sub = f->message_type();
    if (sub == nullptr || IsValueType(sub)) {
      leaves.push_back(f);
      continue;
    }
    IndexLeaves(sub, index);
    const std::vector<const FieldDescriptor*>& below = index.at(sub);
    leaves.insert(leaves.end(), below.begin(), below.end());
  }
  index.emplace(type, std::move(leaves));
}

const std::vector<const FieldDescriptor*>& LeavesBelow(const Descriptor* type) {
  static const LeafIndex* const index = [] {
    auto* built = new LeafIndex();
    IndexLeaves(rv1::ChildRecord::descriptor(), *built);
    return built;
  }();
  return index->at(type);
}

bool AllFound(const Descriptor* type, const absl::flat_hash_set<const FieldDescriptor*>& out) {
  for (const FieldDescriptor* f : LeavesBelow(type)) {
    if (!out.contains(f)) return false;
  }
  return true;
}

// Adds the leaf fields present in `msg`. A subtree whose every possible leaf
// is already collected is skipped, so a long repeated list (316 attendance
// sessions) costs a few elements, not all of them.
void CollectLeaves(const Message& msg, absl::flat_hash_set<const FieldDescriptor*>& out) {
  const Reflection* refl = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const Descriptor* sub = f->message_type();
    if (sub == nullptr || IsValueType(sub)) {
      out.insert(f);
    } else if (f->is_repeated()) {
      const int n = refl->FieldSize(msg, f);
      for (int i = 0; i < n && !AllFound(sub, out); ++i) {
        CollectLeaves(refl->GetRepeatedMessage(msg, f, i), out);
      }
    } else if (!AllFound(sub, out)) {
      CollectLeaves(refl->GetMessage(msg, f), out);
    }
  }
}

std::tuple<int, int, int> Ymd(const rv1::Date& d) { return {d.year(), d.month(), d.day()}; }

}  // namespace

absl::Status ValidatePurpose(int purpose, absl::string_view field) {
  if (purpose == cv1::PURPOSE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": required (SAFEGUARDING, EDUCATION_SUPPORT, HEALTH_CARE, CARE_PLANNING or "
               "FINANCIAL_SUPPORT)"));
  }
  if (!cv1::Purpose_IsValid(purpose)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown value ", purpose, " for kinex.common.v1.Purpose"));
  }
  return absl::OkStatus();
}

std::vector<std::string> PresentLeafPaths(const rv1::ChildRecord& record) {
  absl::flat_hash_set<const FieldDescriptor*> leaves;
  CollectLeaves(record, leaves);
  const auto& path_of = LeafPathOf();
  std::vector<std::string> paths;
  paths.reserve(leaves.size());
  for (const FieldDescriptor* f : leaves) paths.push_back(path_of.at(f));
  std::sort(paths.begin(), paths.end());
  return paths;
}

pv1::ChildContext ChildContextOf(const rv1::ChildRecord& record, absl::Time now) {
  pv1::ChildContext child;
  *child.mutable_scope() = record.scope();
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  const std::tuple<int, int, int> t{static_cast<int>(today.year()), today.month(), today.day()};
  for (const rv1::LegalStatusEpisode& e : record.legal_status()) {
    const bool started = !e.has_start_date() || Ymd(e.start_date()) <= t;
    const bool ended = e.has_end_date() && Ymd(e.end_date()) < t;
    if (!started || ended) continue;
    if (e.looked_after()) child.set_looked_after(true);
    if (e.previously_looked_after()) child.set_previously_looked_after(true);
  }
  return child;
}

absl::StatusOr<ev1::PublishRecordResponse> Gateway::PublishRecord(
    const CallContext& call, const ev1::PublishRecordRequest& request) {
  if (request.child().id_case() == cv1::ChildRef::ID_NOT_SET) {
    return absl::InvalidArgumentError(
        "child: one of kinex_id, nhs_number, upn or la_child_id is required");
  }
  if (!request.has_record()) {
    return absl::InvalidArgumentError("record: required (the fields your agency publishes)");
  }
  kinex::records::v1::PutPartRequest put;
  *put.mutable_child() = request.child();
  *put.mutable_part() = request.record();
  put.set_etag(request.etag());
  put.set_principal(call.principal.uri);
  put.set_actor(call.actor);
  KINEX_ASSIGN_OR_RETURN(kinex::records::v1::PutPartResponse done, deps_.records->PutPart(put));
  ev1::PublishRecordResponse response;
  response.set_kinex_id(done.kinex_id());
  response.set_etag(done.etag());
  response.set_version(done.version());
  return response;
}

absl::StatusOr<Gateway::Disclosure> Gateway::Disclose(
    const CallContext& call, absl::string_view method, const cv1::ChildRef& asked_as,
    const std::string& kinex_id, rv1::ChildRecord record, cv1::Purpose purpose,
    const std::string& justification, bool break_glass) {
  const absl::Time now = deps_.clock->Now();
  Disclosure out;
  // An unknown child (empty kinex_id) is still decided, with no scope links
  // and no bases, so its audited denial names the policy version in force;
  // it is never allowed, whatever the policy says.
  kinex::consent::v1::LookupBasesResponse found;
  if (!kinex_id.empty()) {
    kinex::consent::v1::LookupBasesRequest lookup;
    lookup.set_kinex_id(kinex_id);
    lookup.set_recipient(call.principal.uri);
    lookup.set_purpose(purpose);
    absl::StatusOr<kinex::consent::v1::LookupBasesResponse> looked =
        deps_.consent->LookupBases(lookup);
    if (!looked.ok()) return DependencyFailed("consent service", looked.status());
    found = std::move(*looked);
  }
  pv1::DecisionRequest decide;
  *decide.mutable_principal() = ToPolicyPrincipal(call.principal);
  if (!kinex_id.empty()) *decide.mutable_child() = ChildContextOf(record, now);
  decide.set_purpose(purpose);
  for (auto& b : ToAvailableBases(found, call.principal, purpose)) {
    *decide.add_bases() = std::move(b);
  }
  decide.set_justification(justification);
  decide.set_break_glass(break_glass);
  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> evaluated =
      deps_.policy->Evaluate(decide);
  if (!evaluated.ok()) return DependencyFailed("policy service", evaluated.status());
  std::shared_ptr<const kinex::policy::Evaluation> evaluation = *evaluated;
  const pv1::Decision* decision = &evaluation->decision;
  out.allowed = !kinex_id.empty() && decision->allowed();
  if (deps_.metrics != nullptr) deps_.metrics->RecordDecision(out.allowed);

  // Every identifier the child is known by goes into the event (the log
  // keeps only keyed pseudonyms), so an auditor finds this disclosure by any
  // of them, whichever one the caller used.
  std::vector<cv1::ChildRef> known_as;
  if (!kinex_id.empty()) {
    known_as.emplace_back().set_kinex_id(kinex_id);
    const rv1::Identity& id = record.identity();
    if (!id.nhs_number().empty()) known_as.emplace_back().set_nhs_number(id.nhs_number());
    if (!id.upn().empty()) known_as.emplace_back().set_upn(id.upn());
    if (!id.la_child_id().empty() && !record.scope().responsible_la_code().empty()) {
      auto* la = known_as.emplace_back().mutable_la_child_id();
      la->set_la_code(record.scope().responsible_la_code());
      la->set_id(id.la_child_id());
    }
  }
  if (asked_as.id_case() != cv1::ChildRef::kKinexId &&
      asked_as.id_case() != cv1::ChildRef::ID_NOT_SET) {
    known_as.push_back(asked_as);
  }

  std::vector<std::string> disclosed;
  if (out.allowed) {
    absl::Status redacted = kinex::policy::Redactor().Apply(*evaluation->plan, &record);
    if (!redacted.ok()) {
      return absl::InternalError(
          absl::StrCat("redaction failed (", redacted.message(), "); nothing was disclosed"));
    }
    disclosed = PresentLeafPaths(record);
    out.record = std::move(record);
  }

  kinex::audit::v1::AuditEvent event;
  event.set_request_id(call.request_id);
  event.set_principal(call.principal.uri);
  event.set_agency_kind(call.principal.agency_kind);
  event.set_agency_code(call.principal.agency_code);
  event.set_actor(call.actor);
  event.set_purpose(purpose);
  event.set_justification(justification);
  event.set_break_glass(break_glass);
  event.set_method(std::string(method));
  if (out.allowed) {
    if (!decision->bases_used().empty()) {
      event.set_legal_basis(decision->bases_used(0).basis());
      for (const auto& use : decision->bases_used()) {
        if (!use.consent_id().empty()) {
          event.set_consent_id(use.consent_id());
          break;
        }
      }
    }
  }
  if (!kinex_id.empty()) *event.mutable_withheld() = decision->withheld();
  event.set_policy_version(decision->policy_version());
  event.set_decision(!out.allowed               ? kinex::audit::v1::DENY
                     : decision->withheld().empty() ? kinex::audit::v1::ALLOW
                                                    : kinex::audit::v1::PARTIAL);
  for (const std::string& p : disclosed) event.add_disclosed_paths(p);
  for (cv1::ChildRef& ref : known_as) *event.add_children() = std::move(ref);

  const absl::Time t0 = absl::Now();
  absl::StatusOr<kinex::audit::AppendResult> appended = deps_.audit->Append(event);
  if (deps_.metrics != nullptr) deps_.metrics->RecordAuditAppend(absl::Now() - t0);
  if (!appended.ok()) {
    out.record.Clear();
    return DependencyFailed("audit log", appended.status());
  }
  if (out.allowed && break_glass && deps_.metrics != nullptr) {
    deps_.metrics->RecordBreakGlass(AgencyKindSlug(call.principal.agency_kind));
  }

  ev1::DisclosureReceipt& receipt = out.receipt;
  receipt.set_leaf_index(appended->leaf_index);
  receipt.set_leaf_hash(appended->leaf_hash);
  *receipt.mutable_signed_tree_head() = appended->signed_tree_head;
  for (const std::string& h : appended->inclusion_proof) receipt.add_inclusion_proof(h);
  for (const std::string& p : disclosed) receipt.add_disclosed_paths(p);
  *receipt.mutable_withheld() = event.withheld();
  receipt.set_policy_version(decision->policy_version());
  return out;
}

absl::StatusOr<ev1::GetChildRecordResponse> Gateway::GetChildRecord(
    const CallContext& call, const ev1::GetChildRecordRequest& request) {
  if (request.child().id_case() == cv1::ChildRef::ID_NOT_SET) {
    return absl::InvalidArgumentError(
        "child: one of kinex_id, nhs_number, upn or la_child_id is required");
  }
  KINEX_RETURN_IF_ERROR(ValidatePurpose(request.purpose(), "purpose"));
  KINEX_RETURN_IF_ERROR(ValidateJustification(request.justification(), request.break_glass(),
                                              options_.break_glass_min_justification));

  kinex::records::v1::GetRecordRequest get;
  *get.mutable_child() = request.child();
  absl::StatusOr<kinex::records::v1::GetRecordResponse> found = deps_.records->GetRecord(get);
  std::string kinex_id;
  rv1::ChildRecord record;
  if (found.ok()) {
    kinex_id = found->record().identity().kinex_id();
    record = std::move(*found->mutable_record());
  } else if (found.status().code() == absl::StatusCode::kInvalidArgument) {
    return found.status();  // a malformed identifier: the caller's to fix
  } else if (found.status().code() != absl::StatusCode::kNotFound) {
    return DependencyFailed("records service", found.status());
  }
  // An unknown child is audited as a denial, like any other refusal.
  KINEX_ASSIGN_OR_RETURN(
      Disclosure d, Disclose(call, "GetChildRecord", request.child(), kinex_id,
                             std::move(record), request.purpose(), request.justification(),
                             request.break_glass()));
  if (!d.allowed) return NothingToSee(call);
  ev1::GetChildRecordResponse response;
  *response.mutable_record() = std::move(d.record);
  *response.mutable_receipt() = std::move(d.receipt);
  response.set_request_id(call.request_id);
  return response;
}

absl::StatusOr<ev1::ListChildrenResponse> Gateway::ListChildren(
    const CallContext& call, const ev1::ListChildrenRequest& request) {
  KINEX_RETURN_IF_ERROR(ValidatePurpose(request.purpose(), "purpose"));
  KINEX_RETURN_IF_ERROR(ValidateJustification(request.justification(), false, 0));
  if (request.page_size() < 0 || request.page_size() > options_.max_page_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size: must be 0-", options_.max_page_size, " (got ", request.page_size(), ")"));
  }
  const int want = request.page_size() == 0 ? options_.default_page_size : request.page_size();

  ev1::ListChildrenResponse response;
  std::string token = request.page_token();
  do {
    kinex::records::v1::ListChildrenRequest list;
    list.set_agency_kind(call.principal.agency_kind);
    list.set_agency_code(call.principal.agency_code);
    // Ask for exactly what is still missing, so every page fetched is used
    // whole and its next token is where this page ends.
    list.set_page_size(want - response.children_size());
    list.set_page_token(token);
    absl::StatusOr<kinex::records::v1::ListChildrenResponse> page =
        deps_.records->ListChildren(list);
    if (!page.ok()) {
      if (page.status().code() == absl::StatusCode::kInvalidArgument &&
          request.page_token() == token && !token.empty()) {
        return absl::InvalidArgumentError("page_token: not a token this listing returned");
      }
      if (page.status().code() == absl::StatusCode::kInvalidArgument) return page.status();
      return DependencyFailed("records service", page.status());
    }
    for (const auto& child : page->children()) {
      kinex::records::v1::GetRecordRequest get;
      get.mutable_child()->set_kinex_id(child.kinex_id());
      absl::StatusOr<kinex::records::v1::GetRecordResponse> found = deps_.records->GetRecord(get);
      if (!found.ok()) return DependencyFailed("records service", found.status());
      cv1::ChildRef ref;
      ref.set_kinex_id(child.kinex_id());
      KINEX_ASSIGN_OR_RETURN(
          Disclosure d, Disclose(call, "ListChildren", ref, child.kinex_id(),
                                 std::move(*found->mutable_record()), request.purpose(),
                                 request.justification(), false));
      if (!d.allowed) continue;  // filtered before paging: never counted, never shown
      ev1::CohortEntry* entry = response.add_children();
      *entry->mutable_record() = std::move(d.record);
      *entry->mutable_receipt() = std::move(d.receipt);
    }
    token = page->next_page_token();
  } while (!token.empty() && response.children_size() < want);
  response.set_next_page_token(token);
  return response;
}

}  // namespace kinex::gateway
