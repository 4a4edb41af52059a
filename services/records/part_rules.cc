#include "services/records/part_rules.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "kinex/record/v1/options.pb.h"
#include "services/common/error_reason.h"
#include "services/common/identifiers.h"
#include "services/common/record_labels.h"
#include "services/common/status_macros.h"

namespace kinex::records {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void WalkNotOwned(const Message& msg, const std::string& prefix, kinex::common::v1::AgencyKind kind,
                  std::vector<std::string>& out, absl::flat_hash_set<std::string>& seen) {
  const Reflection* r = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (IsLeafField(f)) {  // the record schema's one leaf rule (record_labels.h)
      if (f->options().GetExtension(kinex::record::v1::owner) != kind && seen.insert(path).second) {
        out.push_back(path);
      }
      continue;
    }
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(msg, f); ++i) {
        WalkNotOwned(r->GetRepeatedMessage(msg, f, i), path, kind, out, seen);
      }
    } else {
      WalkNotOwned(r->GetMessage(msg, f), path, kind, out, seen);
    }
  }
}

absl::Status Invalid(const std::string& label, const absl::Status& s) {
  return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(label, ": ", s.message())),
                         reason::kInvalidField, {{"field", label}});
}

}  // namespace

std::vector<std::string> FieldsNotOwnedBy(const google::protobuf::Message& part,
                                          kinex::common::v1::AgencyKind kind) {
  std::vector<std::string> out;
  absl::flat_hash_set<std::string> seen;
  WalkNotOwned(part, "", kind, out, seen);
  return out;
}

absl::Status CheckKnownValues(const Message& msg, const std::string& prefix) {
  const Reflection* r = msg.GetReflection();
  if (!r->GetUnknownFields(msg).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ": unknown fields (not in kinex.record.v1)"));
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path = absl::StrCat(prefix, ".", f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      const int n = f->is_repeated() ? r->FieldSize(msg, f) : 1;
      for (int i = 0; i < n; ++i) {
        const int v =
            f->is_repeated() ? r->GetRepeatedEnumValue(msg, f, i) : r->GetEnumValue(msg, f);
        if (f->enum_type()->FindValueByNumber(v) == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": unknown enum value ", v, " for ", f->enum_type()->full_name()));
        }
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(msg, f); ++i) {
          KINEX_RETURN_IF_ERROR(CheckKnownValues(r->GetRepeatedMessage(msg, f, i), path));
        }
      } else {
        KINEX_RETURN_IF_ERROR(CheckKnownValues(r->GetMessage(msg, f), path));
      }
    }
  }
  return absl::OkStatus();
}

bool LooksLikeKinexId(const std::string& id) {
  if (id.size() < 4 || id.size() > 67 || id.compare(0, 3, "kx_") != 0) return false;
  return std::all_of(id.begin() + 3, id.end(),
                     [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); });
}

absl::StatusOr<Identifier> IdentifierFromRef(const kinex::common::v1::ChildRef& ref) {
  using kinex::common::v1::ChildRef;
  Identifier id;
  switch (ref.id_case()) {
    case ChildRef::kKinexId:
      id.label = "child.kinex_id";
      id.is_kinex_id = true;
      id.value = ref.kinex_id();
      if (!LooksLikeKinexId(id.value)) {
        return absl::InvalidArgumentError(
            "child.kinex_id: not a Kinex id (expected \"kx_\" then letters and digits)");
      }
      return id;
    case ChildRef::kNhsNumber:
      id.label = "child.nhs_number";
      id.kind = IdentifierKind::kNhsNumber;
      id.value = NormalizeNhsNumber(ref.nhs_number());
      if (absl::Status s = ValidateNhsNumber(id.value); !s.ok()) return Invalid(id.label, s);
      return id;
    case ChildRef::kUpn:
      id.label = "child.upn";
      id.kind = IdentifierKind::kUpn;
      id.value = ref.upn();
      if (absl::Status s = ValidateUpn(id.value); !s.ok()) return Invalid(id.label, s);
      return id;
    case ChildRef::kLaChildId:
      id.label = "child.la_child_id";
      id.kind = IdentifierKind::kLaChildId;
      if (absl::Status s = ValidateLaCode(ref.la_child_id().la_code()); !s.ok()) {
        return Invalid("child.la_child_id.la_code", s);
      }
      if (absl::Status s = ValidateLaChildId(ref.la_child_id().id()); !s.ok()) {
        return Invalid("child.la_child_id.id", s);
      }
      id.value = absl::StrCat(ref.la_child_id().la_code(), "/", ref.la_child_id().id());
      return id;
    case ChildRef::ID_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "child: one identifier is required (kinex_id, nhs_number, upn or la_child_id)");
}

absl::StatusOr<std::vector<Identifier>> PartIdentifiers(kinex::record::v1::ChildRecord& part,
                                                        const std::string& publisher_code) {
  std::vector<Identifier> out;
  auto* identity = part.mutable_identity();
  if (!identity->nhs_number().empty()) {
    identity->set_nhs_number(NormalizeNhsNumber(identity->nhs_number()));
    if (absl::Status s = ValidateNhsNumber(identity->nhs_number()); !s.ok()) {
      return Invalid("part.identity.nhs_number", s);
    }
    out.push_back(
        {"part.identity.nhs_number", false, IdentifierKind::kNhsNumber, identity->nhs_number()});
  }
  if (!identity->upn().empty()) {
    if (absl::Status s = ValidateUpn(identity->upn()); !s.ok()) {
      return Invalid("part.identity.upn", s);
    }
    out.push_back({"part.identity.upn", false, IdentifierKind::kUpn, identity->upn()});
  }
  if (!identity->la_child_id().empty()) {
    if (absl::Status s = ValidateLaChildId(identity->la_child_id()); !s.ok()) {
      return Invalid("part.identity.la_child_id", s);
    }
    out.push_back({"part.identity.la_child_id", false, IdentifierKind::kLaChildId,
                   absl::StrCat(publisher_code, "/", identity->la_child_id())});
  }
  if (!part.has_identity() || part.identity().ByteSizeLong() == 0) {
    part.clear_identity();  // an empty section stays absent
  }
  const auto& scope = part.scope();
  if (!scope.responsible_la_code().empty()) {
    if (absl::Status s = ValidateLaCode(scope.responsible_la_code()); !s.ok()) {
      return Invalid("part.scope.responsible_la_code", s);
    }
  }
  if (!scope.current_school_urn().empty()) {
    if (absl::Status s = ValidateSchoolUrn(scope.current_school_urn()); !s.ok()) {
      return Invalid("part.scope.current_school_urn", s);
    }
  }
  if (!scope.registered_gp_ods_code().empty()) {
    if (absl::Status s = ValidateOdsCode(scope.registered_gp_ods_code()); !s.ok()) {
      return Invalid("part.scope.registered_gp_ods_code", s);
    }
  }
  for (const std::string& ods : scope.health_provider_ods_codes()) {
    if (absl::Status s = ValidateOdsCode(ods); !s.ok()) {
      return Invalid("part.scope.health_provider_ods_codes", s);
    }
  }
  if (!scope.police_force_code().empty()) {
    if (absl::Status s = ValidatePoliceForceCode(scope.police_force_code()); !s.ok()) {
      return Invalid("part.scope.police_force_code", s);
    }
  }
  return out;
}

}  // namespace kinex::records
