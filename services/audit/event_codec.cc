#include "services/audit/event_codec.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/identifiers.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::AuditEvent;

constexpr absl::string_view kMagicV1("KXAE\x01", 5);
constexpr absl::string_view kMagicV2("KXAE\x02", 5);
constexpr absl::string_view kMagicV3("KXAE\x03", 5);
constexpr absl::string_view kMagicV4("KXAE\x04", 5);

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t j = 1; j < len; ++j) {
      const unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

// `status` (INVALID_ARGUMENT) with reason INVALID_FIELD naming `field`.
absl::Status Invalid(absl::string_view field, absl::Status status) {
  return WithErrorReason(std::move(status), reason::kInvalidField, {{"field", std::string(field)}});
}

// `status` (RESOURCE_EXHAUSTED) with reason AUDIT_EVENT_TOO_LARGE naming
// `field`.
absl::Status TooLarge(absl::string_view field, absl::Status status) {
  return WithErrorReason(std::move(status), reason::kAuditEventTooLarge,
                         {{"field", std::string(field)}});
}

absl::Status CheckString(absl::string_view field, absl::string_view value) {
  if (value.size() > kMaxStringBytes) {
    return TooLarge(absl::StrCat("event.", field), absl::ResourceExhaustedError(absl::StrCat(
                                                       "event.", field, " is ", value.size(),
                                                       " bytes; the limit is ", kMaxStringBytes)));
  }
  if (!IsValidUtf8(value)) {
    return Invalid(absl::StrCat("event.", field), absl::InvalidArgumentError(absl::StrCat(
                                                      "event.", field, " is not valid UTF-8")));
  }
  return absl::OkStatus();
}

absl::Status Required(absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    return Invalid(absl::StrCat("event.", field),
                   absl::InvalidArgumentError(absl::StrCat("event.", field, " is required")));
  }
  return CheckString(field, value);
}

// A validation error of `field` (identifiers.h makes plain INVALID_ARGUMENT)
// with reason INVALID_FIELD naming it, unless it has a reason already.
absl::Status InvalidIfError(absl::string_view field, absl::Status status) {
  if (status.ok() || HasExplicitErrorReason(status)) return status;
  return Invalid(field, std::move(status));
}

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<char>(v >> s));
  }
  void U64(uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out_.push_back(static_cast<char>(v >> s));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Str(absl::string_view v) {
    U32(static_cast<uint32_t>(v.size()));
    out_.append(v.data(), v.size());
  }
  void Raw(absl::string_view v) { out_.append(v.data(), v.size()); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool U8(uint8_t& v) {
    if (in_.size() < 1) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(8);
    return true;
  }
  bool I64(int64_t& v) {
    uint64_t u;
    if (!U64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool Str(std::string& v) {
    uint32_t len;
    if (!U32(len) || in_.size() < len) return false;
    v.assign(in_.data(), len);
    in_.remove_prefix(len);
    return IsValidUtf8(v);
  }
  bool Prefix(absl::string_view p) { return absl::ConsumePrefix(&in_, p); }
  // A count of repeated items, bounded by what the remaining bytes can hold
  // (each item takes at least 4 bytes) so a corrupt count cannot allocate.
  bool Count(uint32_t& n) { return U32(n) && n <= in_.size() / 4; }
  bool done() const { return in_.empty(); }

 private:
  absl::string_view in_;
};

}  // namespace

bool IsUtf8(absl::string_view s) { return IsValidUtf8(s); }

bool IsWriteKind(kinex::audit::v1::EventKind kind) {
  switch (kind) {
    case kinex::audit::v1::PART_PUBLISHED:
    case kinex::audit::v1::WRITE_REFUSED:
    case kinex::audit::v1::CONSENT_RECORDED:
    case kinex::audit::v1::CONSENT_WITHDRAWN:
    case kinex::audit::v1::SHARING_AGREEMENT_CREATED:
    case kinex::audit::v1::RESPONSIBILITY_TRANSFERRED:
    case kinex::audit::v1::LINK_CLAIMED:
    case kinex::audit::v1::LINK_CONFIRMED:
    case kinex::audit::v1::LINK_REJECTED:
    case kinex::audit::v1::SHARING_DECISION_RECORDED:
    case kinex::audit::v1::SHIELD_SET:
    case kinex::audit::v1::SHIELD_REMOVED:
      return true;
    default:
      return false;
  }
}

namespace {

// Fields 31-36 (lawful bases, stated function, sharing decisions).
absl::Status ValidateVersion3Fields(const AuditEvent& event) {
  const kinex::audit::v1::EventKind kind = event.kind();
  if (event.lawful_bases_size() > static_cast<int>(kMaxRepeated) ||
      event.decision_paths_size() > static_cast<int>(kMaxRepeated)) {
    return TooLarge(event.lawful_bases_size() > static_cast<int>(kMaxRepeated)
                        ? "event.lawful_bases"
                        : "event.decision_paths",
                    absl::ResourceExhaustedError(absl::StrCat("event has more than ", kMaxRepeated,
                                                              " lawful_bases or decision_paths")));
  }
  for (const kinex::common::v1::LawfulBasis& basis : event.lawful_bases()) {
    KINEX_RETURN_IF_ERROR(CheckString("lawful_bases[].controller_code", basis.controller_code()));
    KINEX_RETURN_IF_ERROR(CheckString("lawful_bases[].stated_function", basis.stated_function()));
    KINEX_RETURN_IF_ERROR(CheckString("lawful_bases[].consent_id", basis.consent_id()));
    if (basis.gateways_size() > static_cast<int>(kMaxRepeated) ||
        basis.citations_size() > static_cast<int>(kMaxRepeated) ||
        basis.categories_size() > static_cast<int>(kMaxRepeated)) {
      return TooLarge("event.lawful_bases[]",
                      absl::ResourceExhaustedError(
                          absl::StrCat("event.lawful_bases[] has more than ", kMaxRepeated,
                                       " gateways, citations or categories")));
    }
    for (const std::string& citation : basis.citations()) {
      KINEX_RETURN_IF_ERROR(Required("lawful_bases[].citations[]", citation));
    }
  }
  KINEX_RETURN_IF_ERROR(CheckString("stated_function", event.stated_function()));
  for (const std::string& path : event.decision_paths()) {
    KINEX_RETURN_IF_ERROR(Required("decision_paths[]", path));
  }
  if (!kinex::common::v1::SharingDecisionKind_IsValid(event.sharing_kind())) {
    return Invalid("event.sharing_kind", absl::InvalidArgumentError(
                                             absl::StrCat("event.sharing_kind: unknown value ",
                                                          static_cast<int>(event.sharing_kind()))));
  }
  if (!kinex::common::v1::SharingDecisionReason_IsValid(event.sharing_reason())) {
    return Invalid("event.sharing_reason", absl::InvalidArgumentError(absl::StrCat(
                                               "event.sharing_reason: unknown value ",
                                               static_cast<int>(event.sharing_reason()))));
  }
  const bool decision = kind == kinex::audit::v1::SHARING_DECISION_RECORDED;
  const bool shield_set = kind == kinex::audit::v1::SHIELD_SET;
  if (decision || shield_set) {
    if (event.sharing_kind() == kinex::common::v1::SHARING_DECISION_KIND_UNSPECIFIED) {
      return Invalid("event.sharing_kind",
                     absl::InvalidArgumentError("event.sharing_kind is required"));
    }
    if (event.sharing_reason() == kinex::common::v1::SHARING_DECISION_REASON_UNSPECIFIED) {
      return Invalid("event.sharing_reason",
                     absl::InvalidArgumentError("event.sharing_reason is required"));
    }
    if (shield_set != (event.sharing_kind() == kinex::common::v1::SHIELD)) {
      return Invalid("event.sharing_kind",
                     absl::InvalidArgumentError(absl::StrCat(
                         "event.sharing_kind ",
                         kinex::common::v1::SharingDecisionKind_Name(event.sharing_kind()),
                         shield_set ? " is not SHIELD (SHIELD_SET records a shield)"
                                    : " is SHIELD (a shield is recorded as SHIELD_SET)")));
    }
    if (shield_set && event.decision_paths_size() == 0 && !event.shield_locating()) {
      return Invalid("event.decision_paths",
                     absl::InvalidArgumentError(
                         "event.decision_paths or event.shield_locating is required for "
                         "SHIELD_SET"));
    }
  }
  if ((decision || shield_set || kind == kinex::audit::v1::SHIELD_REMOVED) &&
      event.record_id().empty()) {
    return Invalid("event.record_id",
                   absl::InvalidArgumentError("event.record_id (the decision id) is required"));
  }
  return absl::OkStatus();
}

// The notification fields: intents (input only), the ids an update names,
// a review's outcome.
absl::Status ValidateNotificationFields(const AuditEvent& event) {
  namespace nv1 = ::kinex::notifications::v1;
  using ::kinex::audit::v1::EventKind;
  if (event.notified_size() > 0) {
    return Invalid("event.notified",
                   absl::InvalidArgumentError("event.notified is output only: the log sets it"));
  }
  if (event.notify_size() > static_cast<int>(kMaxNotify)) {
    return TooLarge("event.notify", absl::ResourceExhaustedError(
                                        absl::StrCat("event.notify has ", event.notify_size(),
                                                     " entries; at most ", kMaxNotify)));
  }
  for (int i = 0; i < event.notify_size(); ++i) {
    const auto& intent = event.notify(i);
    const std::string field = absl::StrCat("event.notify[", i, "]");
    switch (intent.recipient_kind()) {
      case kinex::common::v1::LOCAL_AUTHORITY:
      case kinex::common::v1::VIRTUAL_SCHOOL:
      case kinex::common::v1::SCHOOL:
      case kinex::common::v1::HEALTH:
      case kinex::common::v1::POLICE:
        break;
      default:
        return Invalid(absl::StrCat(field, ".recipient_kind"),
                       absl::InvalidArgumentError(absl::StrCat(
                           field, ".recipient_kind must be an agency that is notified, got ",
                           static_cast<int>(intent.recipient_kind()))));
    }
    KINEX_RETURN_IF_ERROR(
        Required(absl::StrCat("notify[", i, "].recipient_code"), intent.recipient_code()));
    const nv1::Notification& n = intent.notification();
    if (n.kind() == nv1::NOTIFICATION_KIND_UNSPECIFIED ||
        !nv1::NotificationKind_IsValid(n.kind())) {
      return Invalid(
          absl::StrCat(field, ".notification.kind"),
          absl::InvalidArgumentError(absl::StrCat(
              field, ".notification.kind must be a known kind, got ", static_cast<int>(n.kind()))));
    }
    KINEX_RETURN_IF_ERROR(
        Required(absl::StrCat("notify[", i, "].notification.kinex_id"), n.kinex_id()));
    if (!n.notification_id().empty() || n.state() != 0 || n.has_create_time() ||
        n.cause_leaf_index() != 0 || n.has_ack_time() || !n.acked_by().empty() ||
        n.review_outcome() != 0 || !n.review_note().empty() || n.escalated() ||
        n.has_deliver_time() || n.recipient_kind() != 0 || !n.recipient_code().empty()) {
      return Invalid(absl::StrCat(field, ".notification"),
                     absl::InvalidArgumentError(absl::StrCat(
                         field,
                         ".notification: id, state, times, cause, recipient, acknowledgement and "
                         "review are set by the log")));
    }
    if (intent.escalate_to_size() > 8) {
      return TooLarge(absl::StrCat(field, ".escalate_to"),
                      absl::ResourceExhaustedError(
                          absl::StrCat(field, ".escalate_to has more than 8 entries")));
    }
    for (const std::string& to : intent.escalate_to()) {
      KINEX_RETURN_IF_ERROR(Required(absl::StrCat("notify[", i, "].escalate_to[]"), to));
    }
  }
  const EventKind kind = event.kind();
  const bool update = kind == kinex::audit::v1::NOTIFICATION_DELIVERED ||
                      kind == kinex::audit::v1::NOTIFICATION_ACKNOWLEDGED ||
                      kind == kinex::audit::v1::BREAK_GLASS_REVIEWED ||
                      kind == kinex::audit::v1::NOTIFICATION_ESCALATED;
  if (!update) {
    if (event.notification_ids_size() > 0) {
      return Invalid("event.notification_ids",
                     absl::InvalidArgumentError(absl::StrCat(
                         "event.notification_ids is only for notification events, not ",
                         kinex::audit::v1::EventKind_Name(kind))));
    }
  } else {
    if (event.notification_ids_size() == 0) {
      return Invalid("event.notification_ids",
                     absl::InvalidArgumentError("event.notification_ids is required"));
    }
    if (event.notification_ids_size() > 1000) {
      return TooLarge("event.notification_ids",
                      absl::ResourceExhaustedError("event.notification_ids has more than 1000"));
    }
    if (kind != kinex::audit::v1::NOTIFICATION_DELIVERED && event.notification_ids_size() != 1) {
      return Invalid("event.notification_ids",
                     absl::InvalidArgumentError(absl::StrCat(
                         "event.notification_ids must name exactly one notification for ",
                         kinex::audit::v1::EventKind_Name(kind))));
    }
    NotificationKey previous;
    for (int i = 0; i < event.notification_ids_size(); ++i) {
      absl::StatusOr<NotificationKey> key = ParseNotificationId(event.notification_ids(i));
      if (!key.ok()) return Invalid("event.notification_ids", key.status());
      if (i > 0 && !(previous < *key)) {
        return Invalid("event.notification_ids",
                       absl::InvalidArgumentError(
                           "event.notification_ids must be sorted (by leaf, then ordinal) and "
                           "distinct"));
      }
      previous = *key;
    }
  }
  if (kind == kinex::audit::v1::BREAK_GLASS_REVIEWED) {
    if (event.review_outcome() != nv1::UPHELD && event.review_outcome() != nv1::REFERRED) {
      return Invalid("event.review_outcome",
                     absl::InvalidArgumentError("event.review_outcome must be UPHELD or "
                                                "REFERRED"));
    }
    KINEX_RETURN_IF_ERROR(Required("justification", event.justification()));
  } else if (event.review_outcome() != 0) {
    return Invalid(
        "event.review_outcome",
        absl::InvalidArgumentError("event.review_outcome is only for BREAK_GLASS_REVIEWED events"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAppendEvent(const AuditEvent& event) {
  if (event.has_time()) {
    return Invalid("event.time",
                   absl::InvalidArgumentError("event.time is output only: the log assigns it"));
  }
  if (event.child_pseudonyms_size() > 0) {
    return Invalid(
        "event.child_pseudonyms",
        absl::InvalidArgumentError("event.child_pseudonyms is output only: give event.children"));
  }
  if (event.child_chain_size() > 0) {
    return Invalid("event.child_chain",
                   absl::InvalidArgumentError("event.child_chain is output only: the log sets it"));
  }
  if (event.previous_agency_leaf_index() != 0) {
    return Invalid("event.previous_agency_leaf_index",
                   absl::InvalidArgumentError(
                       "event.previous_agency_leaf_index is output only: the log sets it"));
  }
  const kinex::audit::v1::EventKind kind = event.kind();
  if (kind == kinex::audit::v1::EVENT_KIND_UNSPECIFIED) {
    return Invalid("event.kind", absl::InvalidArgumentError("event.kind: required"));
  }
  if (!kinex::audit::v1::EventKind_IsValid(kind)) {
    return Invalid("event.kind", absl::InvalidArgumentError(absl::StrCat(
                                     "event.kind: unknown value ", static_cast<int>(kind))));
  }
  const bool disclosure = kind == kinex::audit::v1::DISCLOSURE;
  const bool queried = kind == kinex::audit::v1::AUDIT_QUERIED;
  KINEX_RETURN_IF_ERROR(Required("request_id", event.request_id()));
  if (event.request_id().size() > 128) {
    return Invalid("event.request_id",
                   absl::InvalidArgumentError("event.request_id is longer than 128"));
  }
  for (char c : event.request_id()) {
    if (c < 0x21 || c > 0x7e) {
      return Invalid(
          "event.request_id",
          absl::InvalidArgumentError("event.request_id must be printable ASCII without spaces"));
    }
  }
  KINEX_RETURN_IF_ERROR(Required("principal", event.principal()));
  if (!absl::StartsWith(event.principal(), "spiffe://")) {
    return Invalid("event.principal",
                   absl::InvalidArgumentError(
                       absl::StrCat("event.principal must be a SPIFFE ID (spiffe://...), got \"",
                                    absl::CEscape(event.principal().substr(0, 80)), "\"")));
  }
  // An auditor query may come from a Kinex service identity, which has no
  // agency, and so do the audit service's own escalation and the records
  // service's overdue-PEP sweep; every other kind names the agency that
  // acted.
  const bool escalated = kind == kinex::audit::v1::NOTIFICATION_ESCALATED;
  const bool swept = kind == kinex::audit::v1::PEP_REVIEW_OVERDUE;
  if (!(queried || escalated || swept) ||
      event.agency_kind() != kinex::common::v1::AGENCY_KIND_UNSPECIFIED ||
      !event.agency_code().empty()) {
    if (event.agency_kind() == kinex::common::v1::AGENCY_KIND_UNSPECIFIED) {
      return Invalid("event.agency_kind",
                     absl::InvalidArgumentError("event.agency_kind is required"));
    }
    KINEX_RETURN_IF_ERROR(Required("agency_code", event.agency_code()));
  }
  KINEX_RETURN_IF_ERROR(CheckString("actor", event.actor()));
  if (disclosure && event.purpose() == kinex::common::v1::PURPOSE_UNSPECIFIED) {
    return Invalid("event.purpose", absl::InvalidArgumentError("event.purpose is required"));
  }
  KINEX_RETURN_IF_ERROR(CheckString("consent_id", event.consent_id()));
  KINEX_RETURN_IF_ERROR(CheckString("justification", event.justification()));
  if (disclosure && event.decision() == kinex::audit::v1::DECISION_UNSPECIFIED) {
    return Invalid("event.decision", absl::InvalidArgumentError("event.decision is required"));
  }
  if (event.disclosed_paths_size() > static_cast<int>(kMaxRepeated) ||
      event.withheld_size() > static_cast<int>(kMaxRepeated) ||
      event.written_paths_size() > static_cast<int>(kMaxRepeated) || event.children_size() > 16) {
    return TooLarge("event", absl::ResourceExhaustedError(
                                 "event has too many disclosed_paths, withheld, written_paths or "
                                 "children entries"));
  }
  for (const std::string& path : event.disclosed_paths()) {
    KINEX_RETURN_IF_ERROR(Required("disclosed_paths[]", path));
  }
  for (const auto& w : event.withheld()) {
    KINEX_RETURN_IF_ERROR(CheckString("withheld[].rule_id", w.rule_id()));
  }
  if (disclosure) {
    KINEX_RETURN_IF_ERROR(Required("policy_version", event.policy_version()));
  } else {
    KINEX_RETURN_IF_ERROR(CheckString("policy_version", event.policy_version()));
  }
  KINEX_RETURN_IF_ERROR(CheckString("method", event.method()));
  for (const std::string& path : event.written_paths()) {
    KINEX_RETURN_IF_ERROR(Required("written_paths[]", path));
  }
  if (event.part_version() < 0) {
    return Invalid("event.part_version",
                   absl::InvalidArgumentError("event.part_version must not be negative"));
  }
  KINEX_RETURN_IF_ERROR(CheckString("part_etag", event.part_etag()));
  KINEX_RETURN_IF_ERROR(CheckString("refusal", event.refusal()));
  if (queried) {
    KINEX_RETURN_IF_ERROR(Required("query", event.query()));
  } else {
    KINEX_RETURN_IF_ERROR(CheckString("query", event.query()));
  }
  if (event.result_count() < 0) {
    return Invalid("event.result_count",
                   absl::InvalidArgumentError("event.result_count must not be negative"));
  }
  KINEX_RETURN_IF_ERROR(CheckString("subject_agency", event.subject_agency()));
  KINEX_RETURN_IF_ERROR(CheckString("record_id", event.record_id()));
  KINEX_RETURN_IF_ERROR(ValidateVersion3Fields(event));
  KINEX_RETURN_IF_ERROR(ValidateNotificationFields(event));
  if (event.idempotency_key().size() > kMaxIdempotencyKeyBytes ||
      !std::all_of(event.idempotency_key().begin(), event.idempotency_key().end(),
                   [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return Invalid("event.idempotency_key",
                   absl::InvalidArgumentError(absl::StrCat("event.idempotency_key must be at most ",
                                                           kMaxIdempotencyKeyBytes,
                                                           " printable ASCII characters")));
  }
  return absl::OkStatus();
}

namespace {

absl::Status CheckSortedPseudonyms(const AuditEvent& event) {
  for (int i = 1; i < event.child_pseudonyms_size(); ++i) {
    if (!(event.child_pseudonyms(i - 1) < event.child_pseudonyms(i))) {
      return Invalid(
          "event.child_pseudonyms",
          absl::InvalidArgumentError("event.child_pseudonyms must be sorted and distinct"));
    }
  }
  return absl::OkStatus();
}

// The fields both versions share, in their fixed order.
void WriteCommon(Writer& w, uint64_t leaf_index, const AuditEvent& event) {
  w.U64(leaf_index);
  w.U64(static_cast<uint64_t>(event.time().seconds()));
  w.U32(static_cast<uint32_t>(event.time().nanos()));
  w.Str(event.request_id());
  w.Str(event.principal());
  w.U32(static_cast<uint32_t>(event.agency_kind()));
  w.Str(event.agency_code());
  w.Str(event.actor());
  w.U32(static_cast<uint32_t>(event.purpose()));
  w.U32(static_cast<uint32_t>(event.legal_basis()));
  w.Str(event.consent_id());
  w.Str(event.justification());
  w.U8(event.break_glass() ? 1 : 0);
  w.U32(static_cast<uint32_t>(event.decision()));
  w.U32(static_cast<uint32_t>(event.disclosed_paths_size()));
  for (const std::string& p : event.disclosed_paths()) w.Str(p);
  w.U32(static_cast<uint32_t>(event.withheld_size()));
  for (const auto& wc : event.withheld()) {
    w.U32(static_cast<uint32_t>(wc.category()));
    w.U32(static_cast<uint32_t>(wc.reason()));
    w.Str(wc.rule_id());
  }
  w.Str(event.policy_version());
  w.U32(static_cast<uint32_t>(event.child_pseudonyms_size()));
  for (const std::string& p : event.child_pseudonyms()) w.Str(p);
  w.Str(event.method());
}

}  // namespace

namespace {

// Whether `event` sets a field that only version 3 holds.
bool HasVersion3Fields(const AuditEvent& event) {
  return event.lawful_bases_size() > 0 || !event.stated_function().empty() ||
         event.sharing_kind() != 0 || event.sharing_reason() != 0 ||
         event.decision_paths_size() > 0 || event.shield_locating();
}

// The common fields, then the version-2 ones (version 3 writes them too).
absl::Status WriteVersion2(Writer& w, uint64_t leaf_index, const AuditEvent& event) {
  if (event.children_size() > 0) {
    return Invalid("event.children", absl::InvalidArgumentError(
                                         "event.children must be pseudonymised before encoding"));
  }
  KINEX_RETURN_IF_ERROR(CheckSortedPseudonyms(event));
  for (int i = 1; i < event.child_chain_size(); ++i) {
    if (!(event.child_chain(i - 1).pseudonym() < event.child_chain(i).pseudonym())) {
      return Invalid(
          "event.child_chain",
          absl::InvalidArgumentError("event.child_chain must be sorted by pseudonym and distinct"));
    }
  }
  WriteCommon(w, leaf_index, event);
  w.U32(static_cast<uint32_t>(event.kind()));
  w.U32(static_cast<uint32_t>(event.written_paths_size()));
  for (const std::string& p : event.written_paths()) w.Str(p);
  w.I64(event.part_version());
  w.Str(event.part_etag());
  w.Str(event.refusal());
  w.Str(event.query());
  w.I64(event.result_count());
  w.Str(event.subject_agency());
  w.Str(event.idempotency_key());
  w.Str(event.record_id());
  w.U32(static_cast<uint32_t>(event.child_chain_size()));
  for (const auto& link : event.child_chain()) {
    w.Str(link.pseudonym());
    w.I64(link.previous_leaf_index());
  }
  w.I64(event.previous_agency_leaf_index());
  return absl::OkStatus();
}

void WriteLawfulBasis(Writer& w, const kinex::common::v1::LawfulBasis& basis) {
  w.U32(static_cast<uint32_t>(basis.controller_kind()));
  w.Str(basis.controller_code());
  w.U32(static_cast<uint32_t>(basis.regime()));
  w.U32(static_cast<uint32_t>(basis.article6()));
  w.U32(static_cast<uint32_t>(basis.annex1_condition()));
  w.U32(static_cast<uint32_t>(basis.special_category_condition()));
  w.U32(static_cast<uint32_t>(basis.criminal_offence_condition()));
  w.U32(static_cast<uint32_t>(basis.gateways_size()));
  for (int g : basis.gateways()) w.U32(static_cast<uint32_t>(g));
  w.U32(static_cast<uint32_t>(basis.citations_size()));
  for (const std::string& c : basis.citations()) w.Str(c);
  w.Str(basis.stated_function());
  w.Str(basis.consent_id());
  w.U32(static_cast<uint32_t>(basis.categories_size()));
  for (int32_t c : basis.categories()) w.U32(static_cast<uint32_t>(c));
}

// The version-3 body (version 4 writes it too, then its own fields).
absl::Status WriteVersion3(Writer& w, uint64_t leaf_index, const AuditEvent& event) {
  KINEX_RETURN_IF_ERROR(WriteVersion2(w, leaf_index, event));
  w.U32(static_cast<uint32_t>(event.lawful_bases_size()));
  for (const auto& basis : event.lawful_bases()) WriteLawfulBasis(w, basis);
  w.Str(event.stated_function());
  w.U32(static_cast<uint32_t>(event.sharing_kind()));
  w.U32(static_cast<uint32_t>(event.sharing_reason()));
  w.U32(static_cast<uint32_t>(event.decision_paths_size()));
  for (const std::string& p : event.decision_paths()) w.Str(p);
  w.U8(event.shield_locating() ? 1 : 0);
  return absl::OkStatus();
}

// Whether `event` sets a field that only version 4 holds.
bool HasVersion4Fields(const AuditEvent& event) {
  return event.notified_size() > 0 || event.notification_ids_size() > 0 ||
         event.review_outcome() != 0;
}

}  // namespace

absl::StatusOr<std::string> EncodeEvent(uint64_t leaf_index, const AuditEvent& event) {
  if (event.notify_size() > 0) {
    return Invalid("event.notify", absl::InvalidArgumentError(
                                       "event.notify must be moved into notified before encoding"));
  }
  Writer w;
  w.Raw(kMagicV4);
  KINEX_RETURN_IF_ERROR(WriteVersion3(w, leaf_index, event));
  w.U32(static_cast<uint32_t>(event.notified_size()));
  for (const auto& n : event.notified()) {
    w.U32(static_cast<uint32_t>(n.recipient_kind()));
    w.Str(n.recipient_code());
    w.U32(static_cast<uint32_t>(n.kind()));
  }
  w.U32(static_cast<uint32_t>(event.notification_ids_size()));
  for (const std::string& id : event.notification_ids()) w.Str(id);
  w.U32(static_cast<uint32_t>(event.review_outcome()));
  return w.Take();
}

absl::StatusOr<std::string> EncodeEventV3(uint64_t leaf_index, const AuditEvent& event) {
  if (HasVersion4Fields(event) || event.notify_size() > 0) {
    return WithErrorReason(
        absl::InvalidArgumentError("event has fields the version-3 encoding cannot hold (notified "
                                   "and later)"),
        reason::kAuditEncodingUnsupported, {{"version", "3"}});
  }
  Writer w;
  w.Raw(kMagicV3);
  KINEX_RETURN_IF_ERROR(WriteVersion3(w, leaf_index, event));
  return w.Take();
}

absl::StatusOr<std::string> EncodeEventV2(uint64_t leaf_index, const AuditEvent& event) {
  if (HasVersion3Fields(event) || HasVersion4Fields(event) || event.notify_size() > 0) {
    return WithErrorReason(absl::InvalidArgumentError(
                               "event has fields the version-2 encoding cannot hold (lawful_bases "
                               "and later)"),
                           reason::kAuditEncodingUnsupported, {{"version", "2"}});
  }
  Writer w;
  w.Raw(kMagicV2);
  KINEX_RETURN_IF_ERROR(WriteVersion2(w, leaf_index, event));
  return w.Take();
}

absl::StatusOr<std::string> EncodeEventV1(uint64_t leaf_index, const AuditEvent& event) {
  if (event.children_size() > 0) {
    return Invalid("event.children", absl::InvalidArgumentError(
                                         "event.children must be pseudonymised before encoding"));
  }
  KINEX_RETURN_IF_ERROR(CheckSortedPseudonyms(event));
  if (event.kind() != kinex::audit::v1::EVENT_KIND_UNSPECIFIED || event.written_paths_size() > 0 ||
      event.part_version() != 0 || !event.part_etag().empty() || !event.refusal().empty() ||
      !event.query().empty() || event.result_count() != 0 || !event.subject_agency().empty() ||
      !event.idempotency_key().empty() || !event.record_id().empty() ||
      event.child_chain_size() > 0 || event.previous_agency_leaf_index() != 0 ||
      HasVersion3Fields(event) || HasVersion4Fields(event) || event.notify_size() > 0) {
    return WithErrorReason(
        absl::InvalidArgumentError(
            "event has fields the version-1 encoding cannot hold (kind and later)"),
        reason::kAuditEncodingUnsupported, {{"version", "1"}});
  }
  Writer w;
  w.Raw(kMagicV1);
  WriteCommon(w, leaf_index, event);
  return w.Take();
}

absl::StatusOr<std::string> EncodeEventVersion(int version, uint64_t leaf_index,
                                               const AuditEvent& event) {
  switch (version) {
    case 1:
      return EncodeEventV1(leaf_index, event);
    case 2:
      return EncodeEventV2(leaf_index, event);
    case 3:
      return EncodeEventV3(leaf_index, event);
    case 4:
      return EncodeEvent(leaf_index, event);
    default:
      return WithErrorReason(
          absl::InvalidArgumentError(absl::StrCat("no audit event encoding version ", version)),
          reason::kAuditEncodingUnsupported, {{"version", absl::StrCat(version)}});
  }
}

namespace {

bool ReadLawfulBasis(Reader& r, kinex::common::v1::LawfulBasis& basis) {
  uint32_t u32;
  uint32_t n;
  if (!r.U32(u32)) return false;
  basis.set_controller_kind(static_cast<kinex::common::v1::AgencyKind>(u32));
  if (!r.Str(*basis.mutable_controller_code())) return false;
  if (!r.U32(u32)) return false;
  basis.set_regime(static_cast<kinex::common::v1::LegalRegime>(u32));
  if (!r.U32(u32)) return false;
  basis.set_article6(static_cast<kinex::common::v1::Article6Basis>(u32));
  if (!r.U32(u32)) return false;
  basis.set_annex1_condition(static_cast<kinex::common::v1::Annex1Condition>(u32));
  if (!r.U32(u32)) return false;
  basis.set_special_category_condition(static_cast<kinex::common::v1::SensitiveDataCondition>(u32));
  if (!r.U32(u32)) return false;
  basis.set_criminal_offence_condition(static_cast<kinex::common::v1::SensitiveDataCondition>(u32));
  if (!r.Count(n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    if (!r.U32(u32)) return false;
    basis.add_gateways(static_cast<kinex::common::v1::StatutoryGateway>(u32));
  }
  if (!r.Count(n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    if (!r.Str(*basis.add_citations())) return false;
  }
  if (!r.Str(*basis.mutable_stated_function())) return false;
  if (!r.Str(*basis.mutable_consent_id())) return false;
  if (!r.Count(n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    if (!r.U32(u32)) return false;
    basis.add_categories(static_cast<int32_t>(u32));
  }
  return true;
}

}  // namespace

absl::StatusOr<DecodedLeaf> DecodeEvent(absl::string_view leaf) {
  Reader r(leaf);
  DecodedLeaf out;
  AuditEvent& e = out.event;
  auto fail = [](absl::string_view what) {
    return WithErrorReason(
        absl::DataLossError(absl::StrCat("leaf is not a canonical audit event: ", what)),
        reason::kAuditEntryMalformed);
  };
  if (r.Prefix(kMagicV1)) {
    out.version = 1;
  } else if (r.Prefix(kMagicV2)) {
    out.version = 2;
  } else if (r.Prefix(kMagicV3)) {
    out.version = 3;
  } else if (r.Prefix(kMagicV4)) {
    out.version = 4;
  } else {
    return fail("bad magic or version");
  }
  uint64_t u64;
  uint32_t u32;
  uint8_t u8;
  std::string s;
  if (!r.U64(out.leaf_index)) return fail("truncated leaf_index");
  if (!r.U64(u64) || !r.U32(u32)) return fail("truncated time");
  e.mutable_time()->set_seconds(static_cast<int64_t>(u64));
  e.mutable_time()->set_nanos(static_cast<int32_t>(u32));
  if (!r.Str(*e.mutable_request_id())) return fail("bad request_id");
  if (!r.Str(*e.mutable_principal())) return fail("bad principal");
  if (!r.U32(u32)) return fail("truncated agency_kind");
  e.set_agency_kind(static_cast<kinex::common::v1::AgencyKind>(u32));
  if (!r.Str(*e.mutable_agency_code())) return fail("bad agency_code");
  if (!r.Str(*e.mutable_actor())) return fail("bad actor");
  if (!r.U32(u32)) return fail("truncated purpose");
  e.set_purpose(static_cast<kinex::common::v1::Purpose>(u32));
  if (!r.U32(u32)) return fail("truncated legal_basis");
  e.set_legal_basis(static_cast<kinex::common::v1::LegalBasis>(u32));
  if (!r.Str(*e.mutable_consent_id())) return fail("bad consent_id");
  if (!r.Str(*e.mutable_justification())) return fail("bad justification");
  if (!r.U8(u8) || u8 > 1) return fail("bad break_glass");
  e.set_break_glass(u8 == 1);
  if (!r.U32(u32)) return fail("truncated decision");
  e.set_decision(static_cast<kinex::audit::v1::Decision>(u32));
  uint32_t n;
  if (!r.Count(n)) return fail("bad disclosed_paths count");
  for (uint32_t i = 0; i < n; ++i) {
    if (!r.Str(*e.add_disclosed_paths())) return fail("bad disclosed_paths");
  }
  if (!r.Count(n)) return fail("bad withheld count");
  for (uint32_t i = 0; i < n; ++i) {
    auto* wc = e.add_withheld();
    uint32_t cat, reason;
    if (!r.U32(cat) || !r.U32(reason) || !r.Str(*wc->mutable_rule_id())) {
      return fail("bad withheld");
    }
    wc->set_category(static_cast<kinex::record::v1::Category>(cat));
    wc->set_reason(static_cast<kinex::policy::v1::WithheldReason>(reason));
  }
  if (!r.Str(*e.mutable_policy_version())) return fail("bad policy_version");
  if (!r.Count(n)) return fail("bad child_pseudonyms count");
  for (uint32_t i = 0; i < n; ++i) {
    if (!r.Str(*e.add_child_pseudonyms())) return fail("bad child_pseudonyms");
  }
  if (!r.Str(*e.mutable_method())) return fail("bad method");
  if (out.version >= 2) {
    int64_t i64;
    if (!r.U32(u32)) return fail("truncated kind");
    e.set_kind(static_cast<kinex::audit::v1::EventKind>(u32));
    if (!r.Count(n)) return fail("bad written_paths count");
    for (uint32_t i = 0; i < n; ++i) {
      if (!r.Str(*e.add_written_paths())) return fail("bad written_paths");
    }
    if (!r.I64(i64)) return fail("truncated part_version");
    e.set_part_version(i64);
    if (!r.Str(*e.mutable_part_etag())) return fail("bad part_etag");
    if (!r.Str(*e.mutable_refusal())) return fail("bad refusal");
    if (!r.Str(*e.mutable_query())) return fail("bad query");
    if (!r.I64(i64)) return fail("truncated result_count");
    e.set_result_count(i64);
    if (!r.Str(*e.mutable_subject_agency())) return fail("bad subject_agency");
    if (!r.Str(*e.mutable_idempotency_key())) return fail("bad idempotency_key");
    if (!r.Str(*e.mutable_record_id())) return fail("bad record_id");
    if (!r.Count(n)) return fail("bad child_chain count");
    for (uint32_t i = 0; i < n; ++i) {
      auto* link = e.add_child_chain();
      if (!r.Str(*link->mutable_pseudonym()) || !r.I64(i64)) {
        return fail("bad child_chain");
      }
      link->set_previous_leaf_index(i64);
    }
    if (!r.I64(i64)) return fail("truncated previous_agency_leaf_index");
    e.set_previous_agency_leaf_index(i64);
  }
  if (out.version >= 3) {
    if (!r.Count(n)) return fail("bad lawful_bases count");
    for (uint32_t i = 0; i < n; ++i) {
      if (!ReadLawfulBasis(r, *e.add_lawful_bases())) return fail("bad lawful_bases");
    }
    if (!r.Str(*e.mutable_stated_function())) return fail("bad stated_function");
    if (!r.U32(u32)) return fail("truncated sharing_kind");
    e.set_sharing_kind(static_cast<kinex::common::v1::SharingDecisionKind>(u32));
    if (!r.U32(u32)) return fail("truncated sharing_reason");
    e.set_sharing_reason(static_cast<kinex::common::v1::SharingDecisionReason>(u32));
    if (!r.Count(n)) return fail("bad decision_paths count");
    for (uint32_t i = 0; i < n; ++i) {
      if (!r.Str(*e.add_decision_paths())) return fail("bad decision_paths");
    }
    if (!r.U8(u8) || u8 > 1) return fail("bad shield_locating");
    e.set_shield_locating(u8 == 1);
  }
  if (out.version >= 4) {
    if (!r.Count(n)) return fail("bad notified count");
    for (uint32_t i = 0; i < n; ++i) {
      auto* notified = e.add_notified();
      uint32_t kind;
      if (!r.U32(u32) || !r.Str(*notified->mutable_recipient_code()) || !r.U32(kind)) {
        return fail("bad notified");
      }
      notified->set_recipient_kind(static_cast<kinex::common::v1::AgencyKind>(u32));
      notified->set_kind(static_cast<kinex::notifications::v1::NotificationKind>(kind));
    }
    if (!r.Count(n)) return fail("bad notification_ids count");
    for (uint32_t i = 0; i < n; ++i) {
      if (!r.Str(*e.add_notification_ids())) return fail("bad notification_ids");
    }
    if (!r.U32(u32)) return fail("truncated review_outcome");
    e.set_review_outcome(static_cast<kinex::notifications::v1::ReviewOutcome>(u32));
  }
  if (!r.done()) return fail("trailing bytes");
  // One encoding per event. Every field is fixed-width or length-prefixed,
  // so the bytes read are the only encoding of the values decoded, except
  // where EncodeEvent constrains the values: break_glass is 0 or 1 (checked
  // above), pseudonyms are sorted and distinct, nanos are in range. (The
  // fuzzer checks that every accepted leaf re-encodes byte for byte.)
  for (int i = 1; i < e.child_pseudonyms_size(); ++i) {
    if (!(e.child_pseudonyms(i - 1) < e.child_pseudonyms(i))) {
      return fail("non-canonical form (child_pseudonyms not sorted)");
    }
  }
  if (e.time().nanos() < 0 || e.time().nanos() > 999999999) {
    return fail("time.nanos out of range");
  }
  // Belt and braces: the bytes must be exactly what the encoder of their
  // version writes for the decoded values (child_chain order included).
  absl::StatusOr<std::string> again = EncodeEventVersion(out.version, out.leaf_index, e);
  if (!again.ok()) {
    return fail(absl::StrCat("non-canonical form (", again.status().message(), ")"));
  }
  if (*again != leaf) return fail("non-canonical form (does not re-encode)");
  return out;
}

absl::StatusOr<std::unique_ptr<ChildPseudonymizer>> ChildPseudonymizer::Create(
    absl::string_view key) {
  if (key.size() < 32) {
    return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                               "pseudonym key must be at least 32 bytes, got ", key.size())),
                           reason::kKeyInvalid, {{"key", "pseudonym_key"}});
  }
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr),
                                                         &EVP_MAC_free);
  if (hmac == nullptr) {
    return WithErrorReason(absl::InternalError("HMAC is not available"), reason::kCryptoFailed);
  }
  MacCtxPtr ctx(EVP_MAC_CTX_new(hmac.get()));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (ctx == nullptr || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()),
                                     key.size(), params) != 1) {
    return WithErrorReason(absl::InternalError("HMAC-SHA256 could not be keyed"),
                           reason::kCryptoFailed);
  }
  return std::unique_ptr<ChildPseudonymizer>(new ChildPseudonymizer(std::move(ctx)));
}

void ChildPseudonymizer::MacCtxFree::operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }

absl::StatusOr<std::unique_ptr<ChildPseudonymizer>> ChildPseudonymizer::FromKeyFile(
    const std::string& path) {
  KINEX_ASSIGN_OR_RETURN(std::string key, ReadSymmetricKeyFile(path, "pseudonym key"));
  return Create(key);
}

absl::StatusOr<std::string> ChildPseudonymizer::Pseudonym(
    const kinex::common::v1::ChildRef& child) const {
  std::string input;
  switch (child.id_case()) {
    case kinex::common::v1::ChildRef::kKinexId:
      if (child.kinex_id().empty() || child.kinex_id().size() > 64) {
        return Invalid("child.kinex_id",
                       absl::InvalidArgumentError("child.kinex_id must be 1-64 bytes"));
      }
      input = absl::StrCat("kinex:", child.kinex_id());
      break;
    case kinex::common::v1::ChildRef::kNhsNumber: {
      std::string nhs = NormalizeNhsNumber(child.nhs_number());
      KINEX_RETURN_IF_ERROR(InvalidIfError("child.nhs_number", ValidateNhsNumber(nhs)));
      input = absl::StrCat("nhs:", nhs);
      break;
    }
    case kinex::common::v1::ChildRef::kUpn: {
      std::string upn = absl::AsciiStrToUpper(child.upn());
      KINEX_RETURN_IF_ERROR(InvalidIfError("child.upn", ValidateUpn(upn)));
      input = absl::StrCat("upn:", upn);
      break;
    }
    case kinex::common::v1::ChildRef::kLaChildId:
      KINEX_RETURN_IF_ERROR(InvalidIfError("child.la_child_id.la_code",
                                           ValidateLaCode(child.la_child_id().la_code())));
      KINEX_RETURN_IF_ERROR(
          InvalidIfError("child.la_child_id.id", ValidateLaChildId(child.la_child_id().id())));
      input = absl::StrCat("la:", child.la_child_id().la_code(), ":", child.la_child_id().id());
      break;
    default:
      return Invalid("child", absl::InvalidArgumentError("child: no identifier is set"));
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  MacCtxPtr ctx(EVP_MAC_CTX_dup(keyed_.get()));
  if (ctx == nullptr ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1 ||
      EVP_MAC_final(ctx.get(), mac, &mac_len, sizeof(mac)) != 1) {
    return WithErrorReason(absl::InternalError("HMAC-SHA256 failed"), reason::kCryptoFailed);
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

absl::Status PseudonymizeChildren(const ChildPseudonymizer& pseudonymizer, AuditEvent& event) {
  std::vector<std::string> pseudonyms;
  for (const auto& child : event.children()) {
    absl::StatusOr<std::string> p = pseudonymizer.Pseudonym(child);
    if (!p.ok()) {
      // The identifier's reason (INVALID_FIELD), naming the event's field.
      absl::Status out = CopyErrorReason(
          p.status(), Invalid("event.children", absl::InvalidArgumentError(absl::StrCat(
                                                    "event.children: ", p.status().message()))));
      AddErrorMetadata(out, "field", "event.children");
      return out;
    }
    pseudonyms.push_back(*std::move(p));
  }
  std::sort(pseudonyms.begin(), pseudonyms.end());
  pseudonyms.erase(std::unique(pseudonyms.begin(), pseudonyms.end()), pseudonyms.end());
  event.clear_children();
  event.clear_child_pseudonyms();
  for (std::string& p : pseudonyms) event.add_child_pseudonyms(std::move(p));
  return absl::OkStatus();
}

}  // namespace kinex::audit
