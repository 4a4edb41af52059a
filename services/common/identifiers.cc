#include "services/common/identifiers.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kinex {
namespace {

// UPN check letters and the values of a temporary UPN's final letter: A-Z
// without I, O and S, numbered 0-22.
constexpr absl::string_view kUpnLetters = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

int UpnLetterValue(char c) {
  const size_t pos = kUpnLetters.find(c);
  return pos == absl::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

std::string NormalizeNhsNumber(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

int NhsNumberCheckDigit(absl::string_view first_nine) {
  if (first_nine.size() != 9 || !AllDigits(first_nine)) return -1;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (first_nine[i] - '0') * (10 - i);
  int check = 11 - (sum % 11);
  if (check == 11) check = 0;
  return check == 10 ? -1 : check;
}

absl::Status ValidateNhsNumber(absl::string_view value) {
  if (value.size() != 10 || !AllDigits(value)) {
    return absl::InvalidArgumentError("NHS number must be exactly 10 digits");
  }
  const int check = NhsNumberCheckDigit(value.substr(0, 9));
  if (check < 0 || check != value[9] - '0') {
    return absl::InvalidArgumentError("NHS number fails its modulus-11 check digit");
  }
  return absl::OkStatus();
}

char UpnCheckLetter(absl::string_view last_twelve) {
  if (last_twelve.size() != 12 || !AllDigits(last_twelve.substr(0, 11))) {
    return '\0';
  }
  int sum = 0;
  for (int i = 0; i < 12; ++i) {
    const char c = last_twelve[i];
    int v;
    if (i == 11 && !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      v = UpnLetterValue(c);  // temporary UPN
      if (v < 0) return '\0';
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      v = c - '0';
    } else {
      return '\0';
    }
    sum += v * (i + 2);  // character positions 2..13
  }
  return kUpnLetters[sum % 23];
}

absl::Status ValidateUpn(absl::string_view value) {
  if (value.size() != 13) {
    return absl::InvalidArgumentError("UPN must be exactly 13 characters");
  }
  if (UpnLetterValue(value[0]) < 0) {
    return absl::InvalidArgumentError(
        "UPN must start with an upper-case check letter (not I, O or S)");
  }
  if (!AllDigits(value.substr(1, 11))) {
    return absl::InvalidArgumentError(
        "UPN characters 2-12 must be digits (LA, establishment, year, serial)");
  }
  const char last = value[12];
  if (!absl::ascii_isdigit(static_cast<unsigned char>(last)) && UpnLetterValue(last) < 0) {
    return absl::InvalidArgumentError(
        "UPN must end in a digit, or an upper-case letter other than I, O or "
        "S for a temporary UPN");
  }
  if (UpnCheckLetter(value.substr(1)) != value[0]) {
    return absl::InvalidArgumentError("UPN fails its modulus-23 check letter");
  }
  return absl::OkStatus();
}

absl::Status ValidateSchoolUrn(absl::string_view value) {
  if (value.size() != 6 || !AllDigits(value) || value[0] == '0') {
    return absl::InvalidArgumentError("school URN must be 6 digits, 100000-999999");
  }
  return absl::OkStatus();
}

absl::Status ValidateLaestab(absl::string_view value) {
  if (value.size() != 7 || !AllDigits(value)) {
    return absl::InvalidArgumentError("LAESTAB must be exactly 7 digits");
  }
  return absl::OkStatus();
}

absl::Status ValidateLaCode(absl::string_view value) {
  if (value.size() != 9 || !AllDigits(value.substr(1))) {
    return absl::InvalidArgumentError(
        "LA code must be an ONS code: a letter and 8 digits, e.g. E09000033");
  }
  const absl::string_view prefix = value.substr(0, 3);
  if (prefix == "E06" || prefix == "E08" || prefix == "E09" || prefix == "E10" || prefix == "W06") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "LA code must be a children's services authority (E06, E08, E09, E10 or "
      "W06)");
}

bool IsWelshLaCode(absl::string_view la_code) { return absl::StartsWith(la_code, "W"); }

absl::Status ValidateOdsCode(absl::string_view value) {
  if (value.size() < 3 || value.size() > 10) {
    return absl::InvalidArgumentError("ODS code must be 3-10 characters");
  }
  for (char c : value) {
    if (!absl::ascii_isupper(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("ODS code must be upper-case letters and digits");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePoliceForceCode(absl::string_view value) {
  if (value.size() != 2 || !AllDigits(value) || value == "00") {
    return absl::InvalidArgumentError("police force code must be 2 digits, 01-99");
  }
  return absl::OkStatus();
}

absl::Status ValidateLaChildId(absl::string_view value) {
  if (value.empty() || value.size() > 64) {
    return absl::InvalidArgumentError("LA child id must be 1-64 characters");
  }
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError("LA child id must be printable ASCII");
    }
  }
  if (value.front() == ' ' || value.back() == ' ') {
    return absl::InvalidArgumentError("LA child id must not begin or end with a space");
  }
  return absl::OkStatus();
}

}  // namespace kinex
