// Return-if-error and assign-or-return for absl::Status / absl::StatusOr.
// Abseil 20220623 has neither, so Kinex keeps this one small pair.
//
// Example:
//   absl::StatusOr<Plan> Compile(const PolicySet& set) {
//     KINEX_RETURN_IF_ERROR(Validate(set));
//     KINEX_ASSIGN_OR_RETURN(auto index, BuildIndex(set));
//     return Plan(std::move(index));
//   }
#ifndef KINEX_SERVICES_COMMON_STATUS_MACROS_H_
#define KINEX_SERVICES_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// when it is not OK.
#define KINEX_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status kinex_status_ = (expr);         \
    if (!kinex_status_.ok()) return kinex_status_; \
  } while (0)

#define KINEX_STATUS_CONCAT_INNER_(a, b) a##b
#define KINEX_STATUS_CONCAT_(a, b) KINEX_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK,
// otherwise moves its value into `lhs` (a declaration or an lvalue).
#define KINEX_ASSIGN_OR_RETURN(lhs, rexpr) \
  KINEX_ASSIGN_OR_RETURN_IMPL_(KINEX_STATUS_CONCAT_(kinex_statusor_, __LINE__), lhs, rexpr)

#define KINEX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return statusor.status();            \
  lhs = std::move(statusor).value()

#endif  // KINEX_SERVICES_COMMON_STATUS_MACROS_H_
