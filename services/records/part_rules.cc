#include "services/records/part_rules.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "kinex/record/v1/options.pb.h"
#include "services/common/child_ref.h"
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
    return InvalidFieldError(prefix, "unknown fields (not in kinex.record.v1)");
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
          return InvalidFieldError(
              path, absl::StrCat("unknown enum value ", v, " for ", f->enum_type()->full_name()));
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

absl::StatusOr<Identifier> IdentifierFromRef(const kinex::common::v1::ChildRef& ref) {
  absl::StatusOr<ChildRefValue> child = ValidateChildRef(ref);
  if (!child.ok()) return child.status();
  Identifier id;
  id.label = std::move(child->field);
  id.value = std::move(child->value);
  switch (child->kind) {
    case ChildRefValue::Kind::kKinexId:
      id.is_kinex_id = true;
      break;
    case ChildRefValue::Kind::kNhsNumber:
      id.kind = IdentifierKind::kNhsNumber;
      break;
    case ChildRefValue::Kind::kUpn:
      id.kind = IdentifierKind::kUpn;
      break;
    case ChildRefValue::Kind::kLaChildId:
      id.kind = IdentifierKind::kLaChildId;
      break;
  }
  return id;
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
