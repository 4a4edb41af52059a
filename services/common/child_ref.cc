#include "services/common/child_ref.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/identifiers.h"

namespace kinex {
namespace {

using ::kinex::common::v1::ChildRef;

}  // namespace

bool LooksLikeKinexId(absl::string_view id) {
  if (id.size() < 4 || id.size() > 67 || !absl::StartsWith(id, "kx_")) return false;
  return std::all_of(id.begin() + 3, id.end(),
                     [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); });
}

absl::StatusOr<ChildRefValue> ValidateChildRef(const ChildRef& ref) {
  ChildRefValue out;
  switch (ref.id_case()) {
    case ChildRef::kKinexId:
      out = {ChildRefValue::Kind::kKinexId, "child.kinex_id", ref.kinex_id()};
      if (!LooksLikeKinexId(out.value)) {
        return InvalidFieldError(out.field,
                                 "not a Kinex id (expected \"kx_\" then letters and digits)");
      }
      return out;
    case ChildRef::kNhsNumber:
      out = {ChildRefValue::Kind::kNhsNumber, "child.nhs_number",
             NormalizeNhsNumber(ref.nhs_number())};
      if (absl::Status s = ValidateNhsNumber(out.value); !s.ok()) {
        return InvalidFieldError(out.field, s.message());
      }
      return out;
    case ChildRef::kUpn:
      out = {ChildRefValue::Kind::kUpn, "child.upn", ref.upn()};
      if (absl::Status s = ValidateUpn(out.value); !s.ok())
        return InvalidFieldError(out.field, s.message());
      return out;
    case ChildRef::kLaChildId:
      if (absl::Status s = ValidateLaCode(ref.la_child_id().la_code()); !s.ok()) {
        return InvalidFieldError("child.la_child_id.la_code", s.message());
      }
      if (absl::Status s = ValidateLaChildId(ref.la_child_id().id()); !s.ok()) {
        return InvalidFieldError("child.la_child_id.id", s.message());
      }
      return ChildRefValue{ChildRefValue::Kind::kLaChildId, "child.la_child_id",
                           absl::StrCat(ref.la_child_id().la_code(), "/", ref.la_child_id().id())};
    case ChildRef::ID_NOT_SET:
      break;
  }
  return InvalidFieldError("child",
                           "one identifier is required (kinex_id, nhs_number, upn or la_child_id)");
}

}  // namespace kinex
