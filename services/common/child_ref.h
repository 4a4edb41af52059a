// A child named in a request (kinex.common.v1.ChildRef), validated and
// normalised once for every service: records (lookups), consent (recording)
// and the gateway (whether a refused request's child can be named in its
// audit event).
//
// Messages name the request field and never echo the value (child
// identifiers must not reach logs through error messages); each error is
// INVALID_ARGUMENT with reason INVALID_FIELD and metadata `field`.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(ChildRefValue child, ValidateChildRef(request.child()));
//   // child.field == "child.nhs_number", child.value == "9434765919"
#ifndef KINEX_SERVICES_COMMON_CHILD_REF_H_
#define KINEX_SERVICES_COMMON_CHILD_REF_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kinex/common/v1/common.pb.h"

namespace kinex {

// One validated identifier of a child.
struct ChildRefValue {
  enum class Kind { kKinexId, kNhsNumber, kUpn, kLaChildId };
  Kind kind = Kind::kKinexId;
  // The request field it came from: "child.kinex_id", "child.nhs_number",
  // "child.upn", "child.la_child_id".
  std::string field;
  // The value, normalised: an NHS number without spaces; an LA child id as
  // "<la_code>/<id>".
  std::string value;
};

// `ref` validated (see the overview). Errors:
//   "child: one identifier is required (kinex_id, nhs_number, upn or la_child_id)"
//   "child.kinex_id: not a Kinex id (expected \"kx_\" then letters and digits)"
//   "child.nhs_number: <what is wrong>" (identifiers.h), likewise child.upn,
//   child.la_child_id.la_code and child.la_child_id.id.
absl::StatusOr<ChildRefValue> ValidateChildRef(const kinex::common::v1::ChildRef& ref);

// Whether `id` has the shape of a Kinex id ("kx_" then 1-64 letters/digits).
bool LooksLikeKinexId(absl::string_view id);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_CHILD_REF_H_
