// Validation of the identifiers agencies use for children and organisations
// in England and Wales. Each validator returns OK or INVALID_ARGUMENT whose
// message says what is wrong without echoing the value (identifiers of
// children must not reach logs through error messages).
//
// Example:
//   std::string nhs = NormalizeNhsNumber("943 476 5919");  // "9434765919"
//   KINEX_RETURN_IF_ERROR(ValidateNhsNumber(nhs));
#ifndef KINEX_SERVICES_COMMON_IDENTIFIERS_H_
#define KINEX_SERVICES_COMMON_IDENTIFIERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kinex {

// Removes the spaces people type into NHS numbers ("943 476 5919").
std::string NormalizeNhsNumber(absl::string_view value);

// NHS number: 10 digits; the 10th is the modulus-11 check digit over the
// first nine weighted 10..2 (a computed check of 10 means the number is
// invalid). Expects a normalised value.
absl::Status ValidateNhsNumber(absl::string_view value);

// Unique Pupil Number: 13 characters — a check letter, LA number (3 digits),
// establishment (4 digits), year (2 digits), serial (3 digits); a temporary
// UPN ends in a letter instead of the last digit. Letters I, O and S are
// never used. The check letter is the modulus-23 remainder of characters 2-13
// weighted by their positions, mapped to A-Z without I, O, S.
absl::Status ValidateUpn(absl::string_view value);

// School URN: 6 digits, 100000-999999.
absl::Status ValidateSchoolUrn(absl::string_view value);

// LAESTAB: 7 digits (LA number, then establishment number).
absl::Status ValidateLaestab(absl::string_view value);

// ONS code of a children's services authority: E06 (unitary), E08
// (metropolitan district), E09 (London borough), E10 (county) or W06 (Welsh
// unitary), then 6 digits. E07 districts are not children's services
// authorities and are refused.
absl::Status ValidateLaCode(absl::string_view value);

// Whether an ONS LA code is Welsh (W...). England-only duties must not be
// applied to Welsh records.
bool IsWelshLaCode(absl::string_view la_code);

// NHS ODS organisation code: 3-10 upper-case letters and digits (e.g. GP
// practice "A81001", trust "RJ1").
absl::Status ValidateOdsCode(absl::string_view value);

// Home Office police force code: 2 digits, 01-99 (e.g. "01" Metropolitan).
absl::Status ValidatePoliceForceCode(absl::string_view value);

// A local authority's own child id: 1-64 printable ASCII characters, no
// spaces at either end.
absl::Status ValidateLaChildId(absl::string_view value);

// The UPN check letter for the 12 characters after it; '\0' when they are
// not of UPN form. Exposed for tests and demo data.
char UpnCheckLetter(absl::string_view last_twelve);

// The NHS number check digit for nine digits; -1 when no valid check digit
// exists (the remainder gives 10). Exposed for tests and demo data.
int NhsNumberCheckDigit(absl::string_view first_nine);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_IDENTIFIERS_H_
