#include "services/records/records_core.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/identifiers.h"
#include "services/common/identity.h"
#include "services/common/status_macros.h"
#include "services/records/part_rules.h"

namespace kinex::records {
namespace {

using kinex::common::v1::AgencyKind;
using kinex::record::v1::ChildRecord;
namespace rv1 = kinex::records::v1;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxActorLength = 256;
// Owner kinds in assembly order (their fields are disjoint, so the order
// only matters for determinism).
constexpr AgencyKind kOwnerKinds[] = {
    AgencyKind::LOCAL_AUTHORITY, AgencyKind::VIRTUAL_SCHOOL, AgencyKind::SCHOOL,
    AgencyKind::HEALTH, AgencyKind::POLICE};

absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must not be negative (got ", requested, ")"));
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min<int>(requested, kMaxPageSize);
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(t));
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

// The latest part of every owner kind, in kOwnerKinds order.
std::vector<const StoredPart*> LatestPerOwnerKind(const std::vector<StoredPart>& parts) {
  std::vector<const StoredPart*> out;
  for (AgencyKind kind : kOwnerKinds) {
    const StoredPart* best = nullptr;
    for (const StoredPart& p : parts) {
      if (p.owner_kind != kind) continue;
      if (best == nullptr ||
          std::tie(p.publish_time, p.owner_code) >
              std::tie(best->publish_time, best->owner_code)) {
        best = &p;
      }
    }
    if (best != nullptr) out.push_back(best);
  }
  return out;
}

absl::StatusOr<ChildRecord> Assemble(const std::string& kinex_id,
                                     const std::vector<const StoredPart*>& parts) {
  ChildRecord record;
  for (const StoredPart* p : parts) {
    // Parsing into the record merges, exactly as MergeFrom would, without
    // building each part on its own first.
    if (!record.MergeFromString(p->payload)) {
      return absl::DataLossError("stored record part does not parse");
    }
  }
  record.mutable_identity()->set_kinex_id(kinex_id);
  return record;
}

// Resolves a ChildRef inside a transaction: NOT_FOUND naming the identifier
// kind, never its value.
absl::StatusOr<std::string> Resolve(RecordsTxn& txn, const Identifier& id) {
  if (id.is_kinex_id) {
    KINEX_ASSIGN_OR_RETURN(bool exists, txn.ChildExists(id.value));
    if (!exists) return absl::NotFoundError(absl::StrCat("no child matches ", id.label));
    return id.value;
  }
  KINEX_ASSIGN_OR_RETURN(std::optional<std::string> found, txn.FindChild(id.kind, id.value));
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("no child matches ", id.label));
  }
  return *found;
}

// "(child 1: child.upn, part.identity.upn; child 2: part.identity.nhs_number)"
std::string DescribeConflict(
    const std::vector<std::pair<std::string, std::string>>& matches) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> labels;
  for (const auto& [label, kid] : matches) {
    if (!labels.count(kid)) order.push_back(kid);
    labels[kid].push_back(label);
  }
  std::vector<std::string> groups;
  for (size_t i = 0; i < order.size(); ++i) {
    groups.push_back(absl::StrCat("child ", i + 1, ": ",
                                  absl::StrJoin(labels[order[i]], ", ")));
  }
  return absl::StrCat("identifiers match ", order.size(),
                      " different children (", absl::StrJoin(groups, "; "),
                      "); nothing was stored");
}

}  // namespace

std::string PartEtag(const StoredPart& part) {
  const std::string data =
      absl::StrCat(part.kinex_id, "|", part.owner_kind, "|", part.owner_code, "|",
                   part.version, "|", absl::ToUnixMicros(part.publish_time), "|",
                   part.payload);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    // Unreachable in practice; an etag only needs to change per version.
    return absl::StrCat("v", part.version);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), 12));
}

absl::StatusOr<std::unique_ptr<RecordsCore>> RecordsCore::Create(Options options) {
  if (options.storage == nullptr) {
    return absl::InvalidArgumentError("RecordsCore: storage is required");
  }
  if (options.clock == nullptr) {
    return absl::InvalidArgumentError("RecordsCore: clock is required");
  }
  if (options.max_part_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RecordsCore: max_part_bytes must be positive (got ", options.max_part_bytes, ")"));
  }
  if (!options.new_kinex_id) {
    options.new_kinex_id = [] { return RandomId("kx_"); };
  }
  return std::unique_ptr<RecordsCore>(new RecordsCore(std::move(options)));
}

absl::StatusOr<rv1::PutPartResponse> RecordsCore::PutPart(
    const rv1::PutPartRequest& request) {
  // Who publishes.
  absl::StatusOr<SpiffeId> who = ParseSpiffeId(request.principal(), options_.trust_domain);
  if (!who.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("principal: ", who.status().message()));
  }
  if (who->is_service || who->agency_kind == AgencyKind::AUDITOR ||
      who->agency_kind == AgencyKind::AGENCY_KIND_UNSPECIFIED) {
    return absl::PermissionDeniedError(absl::StrCat(
        "principal ", who->uri, " may not publish record parts (only agencies that own fields do)"));
  }
  const std::string kind_slug(AgencyKindSlug(who->agency_kind));
  if (request.actor().size() > kMaxActorLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "actor: at most ", kMaxActorLength, " characters (got ", request.actor().size(), ")"));
  }

  // What is published.
  const size_t size = request.part().ByteSizeLong();
  if (static_cast<int64_t>(size) > options_.max_part_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("part: ", size, " bytes exceeds the maximum of ",
                     options_.max_part_bytes, " (records.max_part_bytes)"));
  }
  KINEX_RETURN_IF_ERROR(CheckKnownValues(request.part(), "part"));
  if (!request.part().identity().kinex_id().empty()) {
    return absl::InvalidArgumentError(
        "part.identity.kinex_id: output only; name the child with child.kinex_id");
  }
  std::vector<std::string> not_owned = FieldsNotOwnedBy(request.part(), who->agency_kind);
  if (!not_owned.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "fields not owned by ", kind_slug, ": ", absl::StrJoin(not_owned, ", ")));
  }
  ChildRecord part = request.part();
  std::vector<Identifier> identifiers;
  KINEX_ASSIGN_OR_RETURN(Identifier ref_id, IdentifierFromRef(request.child()));
  identifiers.push_back(ref_id);
  KINEX_ASSIGN_OR_RETURN(std::vector<Identifier> part_ids,
                         PartIdentifiers(part, who->agency_code));
  identifiers.insert(identifiers.end(), part_ids.begin(), part_ids.end());

  StoredPart stored;
  stored.owner_kind = who->agency_kind;
  stored.owner_code = who->agency_code;
  stored.publish_time = options_.clock->Now();
  stored.principal = who->uri;
  stored.actor = request.actor();
  if (!part.SerializeToString(&stored.payload)) {
    return absl::InternalError("part does not serialize");
  }

  rv1::PutPartResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Transact([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    // Match every identifier.
    std::vector<std::pair<std::string, std::string>> matches;  // label, kinex id
    for (const Identifier& id : identifiers) {
      if (id.is_kinex_id) {
        KINEX_ASSIGN_OR_RETURN(std::string kid, Resolve(txn, id));
        matches.emplace_back(id.label, kid);
        continue;
      }
      KINEX_ASSIGN_OR_RETURN(std::optional<std::string> kid,
                             txn.FindChild(id.kind, id.value));
      if (kid.has_value()) matches.emplace_back(id.label, *kid);
    }
    std::string kinex_id;
    for (const auto& [label, kid] : matches) {
      if (kinex_id.empty()) {
        kinex_id = kid;
      } else if (kid != kinex_id) {
        return absl::FailedPreconditionError(DescribeConflict(matches));
      }
    }
    if (kinex_id.empty()) {
      KINEX_ASSIGN_OR_RETURN(kinex_id, options_.new_kinex_id());
      KINEX_ASSIGN_OR_RETURN(bool taken, txn.ChildExists(kinex_id));
      if (taken) return absl::AbortedError("new Kinex id collided; retry");
      KINEX_RETURN_IF_ERROR(txn.CreateChild(kinex_id, stored.publish_time));
      response.set_created_child(true);
    }
    KINEX_RETURN_IF_ERROR(txn.LockChild(kinex_id));
    for (const Identifier& id : identifiers) {
      if (!id.is_kinex_id) KINEX_RETURN_IF_ERROR(txn.AddIdentifier(id.kind, id.value, kinex_id));
    }

    // Optimistic concurrency on this owner's part.
    KINEX_ASSIGN_OR_RETURN(std::optional<StoredPart> latest,
                           txn.LatestPart(kinex_id, stored.owner_kind, stored.owner_code));
    if (latest.has_value()) {
      if (request.etag().empty()) {
        return absl::AbortedError(absl::StrCat(
            "etag: required; this ", kind_slug, "'s part already exists at version ",
            latest->version, " (read it and retry with its etag)"));
      }
      if (request.etag() != latest->etag) {
        return absl::AbortedError(absl::StrCat(
            "etag: stale; the part is now at version ", latest->version,
            " (read it and retry with its etag)"));
      }
    } else if (!request.etag().empty()) {
      return absl::AbortedError(
          "etag: stale; no part exists for this publisher (publish with an empty etag)");
    }
    stored.kinex_id = kinex_id;
    stored.version = latest.has_value() ? latest->version + 1 : 1;
    stored.etag = PartEtag(stored);
    KINEX_RETURN_IF_ERROR(txn.InsertPart(stored));

    // Re-index the assembled record's scope links.
    KINEX_ASSIGN_OR_RETURN(std::vector<StoredPart> parts, txn.LatestParts(kinex_id));
    KINEX_ASSIGN_OR_RETURN(ChildRecord record,
                           Assemble(kinex_id, LatestPerOwnerKind(parts)));
    KINEX_RETURN_IF_ERROR(txn.ReplaceScopeLinks(kinex_id, ScopeLinksOf(record)));

    response.set_kinex_id(kinex_id);
    response.set_etag(stored.etag);
    response.set_version(stored.version);
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::GetRecordResponse> RecordsCore::GetRecord(
    const rv1::GetRecordRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  rv1::GetRecordResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::string kinex_id, Resolve(txn, id));
    KINEX_ASSIGN_OR_RETURN(std::vector<StoredPart> parts, txn.LatestParts(kinex_id));
    std::vector<const StoredPart*> chosen = LatestPerOwnerKind(parts);
    KINEX_ASSIGN_OR_RETURN(*response.mutable_record(), Assemble(kinex_id, chosen));
    response.clear_parts();
    for (const StoredPart* p : chosen) *response.add_parts() = VersionInfo(*p);
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::ResolveChildResponse> RecordsCore::ResolveChild(
    const rv1::ResolveChildRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  rv1::ResolveChildResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::string kinex_id, Resolve(txn, id));
    KINEX_ASSIGN_OR_RETURN(std::vector<StoredPart> parts, txn.LatestParts(kinex_id));
    KINEX_ASSIGN_OR_RETURN(ChildRecord record,
                           Assemble(kinex_id, LatestPerOwnerKind(parts)));
    response.set_kinex_id(kinex_id);
    *response.mutable_scope() = record.scope();
    if (record.identity().has_date_of_birth()) {
      *response.mutable_date_of_birth() = record.identity().date_of_birth();
    }
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
      return absl::InvalidArgumentError(absl::StrCat(
          "agency_kind: ", request.agency_kind(), " has no cohort (use local-authority, "
          "virtual-school, school, health or police)"));
  }
  if (!code_ok.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("agency_code: ", code_ok.message()));
  }
  KINEX_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  std::string after;
  if (!request.page_token().empty()) {
    absl::string_view token = request.page_token();
    if (!absl::ConsumePrefix(&token, "c:") || !LooksLikeKinexId(std::string(token))) {
      return absl::InvalidArgumentError("page_token: not a token from ListChildren");
    }
    after = std::string(token);
  }
  rv1::ListChildrenResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    KINEX_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                           txn.ChildrenInScope(link_kinds, code, after, page_size + 1));
    const bool more = static_cast<int>(ids.size()) > page_size;
    if (more) ids.resize(page_size);
    for (const std::string& kid : ids) {
      KINEX_ASSIGN_OR_RETURN(std::vector<StoredPart> parts, txn.LatestParts(kid));
      KINEX_ASSIGN_OR_RETURN(ChildRecord record, Assemble(kid, LatestPerOwnerKind(parts)));
      rv1::ChildSummary* summary = response.add_children();
      summary->set_kinex_id(kid);
      *summary->mutable_scope() = record.scope();
    }
    if (more) response.set_next_page_token(absl::StrCat("c:", ids.back()));
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<rv1::ListPartVersionsResponse> RecordsCore::ListPartVersions(
    const rv1::ListPartVersionsRequest& request) {
  KINEX_ASSIGN_OR_RETURN(Identifier id, IdentifierFromRef(request.child()));
  if (!kinex::common::v1::AgencyKind_IsValid(request.owner_kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat("owner_kind: unknown enum value ", request.owner_kind()));
  }
  KINEX_ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  int64_t offset = 0;
  if (!request.page_token().empty()) {
    absl::string_view token = request.page_token();
    if (!absl::ConsumePrefix(&token, "o:") || !absl::SimpleAtoi(token, &offset) ||
        offset < 0) {
      return absl::InvalidArgumentError("page_token: not a token from ListPartVersions");
    }
  }
  rv1::ListPartVersionsResponse response;
  KINEX_RETURN_IF_ERROR(options_.storage->Read([&](RecordsTxn& txn) -> absl::Status {
    response.Clear();
    KINEX_ASSIGN_OR_RETURN(std::string kinex_id, Resolve(txn, id));
    KINEX_ASSIGN_OR_RETURN(
        std::vector<StoredPart> versions,
        txn.PartHistory(kinex_id, request.owner_kind(), offset, page_size + 1));
    const bool more = static_cast<int>(versions.size()) > page_size;
    if (more) versions.resize(page_size);
    for (const StoredPart& p : versions) {
      rv1::PartVersion* v = response.add_versions();
      *v = VersionInfo(p);
      if (!v->mutable_part()->ParseFromString(p.payload)) {
        return absl::DataLossError("stored record part does not parse");
      }
    }
    if (more) response.set_next_page_token(absl::StrCat("o:", offset + page_size));
    return absl::OkStatus();
  }));
  return response;
}

}  // namespace kinex::records
