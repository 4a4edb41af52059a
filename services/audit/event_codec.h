// The canonical encoding of audit events (the bytes each Merkle leaf hashes),
// validation of appended events, and child pseudonyms.
//
// Why not protobuf serialisation: protobuf's "deterministic" mode is only
// deterministic for one binary and one schema version (unknown fields, map
// order, field order of future versions are not specified), and a leaf must
// hash the same in every verifier forever. So Kinex defines its own encoding,
// written and read only by this file. Version 1 (entries written before event
// kinds existed; still decoded and verified, never written):
//
//   "KXAE" 0x01                       magic and version
//   u64 leaf_index                    the position of the leaf in the log
//   i64 time.seconds, i32 time.nanos
//   str request_id, str principal
//   u32 agency_kind, str agency_code, str actor
//   u32 purpose, u32 legal_basis, str consent_id, str justification
//   u8  break_glass (0 or 1)
//   u32 decision
//   u32 n, then n x str               disclosed_paths (in the given order)
//   u32 n, then n x (u32 category, u32 reason, str rule_id)   withheld
//   str policy_version
//   u32 n, then n x str               child_pseudonyms (sorted, distinct)
//   str method
//
// Version 2 (written before lawful bases and sharing decisions): "KXAE" 0x02, then every version-1
// field above in the same order, then
//
//   u32 kind                          EventKind
//   u32 n, then n x str               written_paths (in the given order)
//   i64 part_version, str part_etag
//   str refusal, str query, i64 result_count
//   str subject_agency, str idempotency_key, str record_id
//   u32 n, then n x (str pseudonym, i64 previous_leaf_index)
//                                     child_chain (sorted by pseudonym,
//                                     distinct; -1: no previous event)
//   i64 previous_agency_leaf_index    (-1: no previous event)
//
// Version 3 (written before notifications): "KXAE" 0x03, then every
// version-2 field above in the same order, then
//
//   u32 n, then n x lawful basis      lawful_bases (in the given order), each
//       u32 controller_kind, str controller_code, u32 regime, u32 article6,
//       u32 annex1_condition, u32 special_category_condition,
//       u32 criminal_offence_condition,
//       u32 n, then n x u32 gateways, u32 n, then n x str citations,
//       str stated_function, str consent_id,
//       u32 n, then n x u32 categories
//   str stated_function
//   u32 sharing_kind, u32 sharing_reason
//   u32 n, then n x str               decision_paths (in the given order)
//   u8  shield_locating (0 or 1)
//
// Version 4 (every new append): "KXAE" 0x04, then every version-3 field
// above in the same order, then
//
//   u32 n, then n x (u32 recipient_kind, str recipient_code, u32 kind)
//                                     notified (the notifications the event
//                                     created, in ordinal order)
//   u32 n, then n x str               notification_ids (sorted, distinct)
//   u32 review_outcome
//
// Leaves of versions 1 to 3 are still decoded and verified, never written.
//
// Integers are big-endian two's complement; str is a u32 byte length then
// UTF-8 bytes. Every field is always present, so each event has exactly one
// encoding per version; the decoder re-encodes what it decoded with the
// encoder of the leaf's version and refuses anything not byte-identical
// (trailing bytes, a bool other than 0/1, unsorted pseudonyms or links,
// nanos out of range, invalid UTF-8). Binding the leaf index into the leaf
// makes a deleted or reordered row detectable at its exact position; binding
// the chain links (set by the log, audit_log.h) makes the query index
// checkable (log_verifier.h).
//
// Example:
//   KINEX_RETURN_IF_ERROR(ValidateAppendEvent(event));
//   KINEX_ASSIGN_OR_RETURN(std::string leaf, EncodeEvent(7, event));
//   Hash h = HashLeaf(leaf);
#ifndef KINEX_SERVICES_AUDIT_EVENT_CODEC_H_
#define KINEX_SERVICES_AUDIT_EVENT_CODEC_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kinex/audit/v1/audit.pb.h"
#include "kinex/common/v1/common.pb.h"
#include "services/audit/notification_id.h"

struct evp_mac_ctx_st;

namespace kinex::audit {

// Limits on appended events (RESOURCE_EXHAUSTED beyond them).
inline constexpr size_t kMaxStringBytes = 4096;
inline constexpr size_t kMaxRepeated = 4096;
inline constexpr size_t kMaxIdempotencyKeyBytes = 128;
// Whether `s` is valid UTF-8 (no overlong forms or surrogates).
bool IsUtf8(absl::string_view s);

// Whether `kind` records a write (PART_PUBLISHED, WRITE_REFUSED, CONSENT_*,
// SHARING_AGREEMENT_CREATED, RESPONSIBILITY_TRANSFERRED, LINK_*).
bool IsWriteKind(kinex::audit::v1::EventKind kind);

// Checks an event a caller wants appended. INVALID_ARGUMENT naming the field
// (RESOURCE_EXHAUSTED beyond the limits):
//   - kind is required ("event.kind: required") and must be known;
//   - every kind: request_id (1-128 printable ASCII), principal (a SPIFFE
//     ID), agency_kind and agency_code (AUDIT_QUERIED by a Kinex service may
//     leave both unset);
//   - DISCLOSURE: purpose, decision and policy_version too;
//   - write kinds: purpose, decision, policy_version optional;
//   - AUDIT_QUERIED: query;
//   - SHARING_DECISION_RECORDED, SHIELD_SET: record_id (the decision id),
//     sharing_kind (SHIELD exactly for SHIELD_SET) and sharing_reason;
//     SHIELD_SET: decision_paths or shield_locating; SHIELD_REMOVED:
//     record_id; sharing_kind and sharing_reason known values;
//   - decision_paths and lawful_bases[].citations non-empty strings;
//   - output-only fields unset: time, child_pseudonyms, child_chain,
//     previous_agency_leaf_index;
//   - idempotency_key at most 128 printable ASCII; strings valid UTF-8;
//   - notify (at most kMaxNotify): a notified agency kind and code, a known
//     notification kind and the child's kinex_id, nothing the log sets;
//     notified unset (output only);
//   - NOTIFICATION_DELIVERED, _ACKNOWLEDGED, BREAK_GLASS_REVIEWED,
//     NOTIFICATION_ESCALATED: notification_ids (sorted, distinct; exactly
//     one except for deliveries); a review its outcome and justification
//     (the note); NOTIFICATION_ESCALATED may leave the agency unset.
absl::Status ValidateAppendEvent(const kinex::audit::v1::AuditEvent& event);

// The canonical version-4 encoding of `event` at `leaf_index` (the
// input-only `children` and `notify` are never encoded; they must be empty).
// INVALID_ARGUMENT when the event cannot be encoded canonically (children
// set, unsorted pseudonyms or child_chain).
absl::StatusOr<std::string> EncodeEvent(uint64_t leaf_index,
                                        const kinex::audit::v1::AuditEvent& event);

// The version-1 encoding, which the log no longer writes: for the decoder's
// re-encoding check and for tests that build old logs. INVALID_ARGUMENT when
// the event sets a field version 1 cannot hold (kind and later).
absl::StatusOr<std::string> EncodeEventV1(uint64_t leaf_index,
                                          const kinex::audit::v1::AuditEvent& event);

// The version-2 encoding, which the log no longer writes (for the decoder
// and tests). INVALID_ARGUMENT when the event sets a field version 2 cannot
// hold (lawful_bases and later).
absl::StatusOr<std::string> EncodeEventV2(uint64_t leaf_index,
                                          const kinex::audit::v1::AuditEvent& event);

// The version-3 encoding, which the log no longer writes (for the decoder
// and tests). INVALID_ARGUMENT when the event sets a field version 3 cannot
// hold (notified and later).
absl::StatusOr<std::string> EncodeEventV3(uint64_t leaf_index,
                                          const kinex::audit::v1::AuditEvent& event);

// The encoding of `version` (1 to 4): what a leaf of that version must be.
absl::StatusOr<std::string> EncodeEventVersion(int version, uint64_t leaf_index,
                                               const kinex::audit::v1::AuditEvent& event);

// A decoded leaf.
struct DecodedLeaf {
  uint64_t leaf_index = 0;
  // The encoding version (1 to 4).
  int version = 4;
  kinex::audit::v1::AuditEvent event;
};

// Decodes a canonical leaf of any version. DATA_LOSS naming the problem
// when the bytes are not a canonical encoding.
absl::StatusOr<DecodedLeaf> DecodeEvent(absl::string_view leaf);

// Computes keyed pseudonyms of child identifiers: lower-case hex
// HMAC-SHA256(key, "<kind>:<normalised id>") with kinds "kinex", "nhs",
// "upn" and "la" ("la:<la_code>:<id>"). Thread-safe.
class ChildPseudonymizer {
 public:
  // Uses `key` (at least 32 bytes).
  static absl::StatusOr<std::unique_ptr<ChildPseudonymizer>> Create(absl::string_view key);
  // Reads the key file (mode 0600 enforced): 64 hex characters (optionally
  // followed by a newline) or 32 raw bytes.
  static absl::StatusOr<std::unique_ptr<ChildPseudonymizer>> FromKeyFile(const std::string& path);

  // The pseudonym of `child`. INVALID_ARGUMENT when no identifier is set or
  // it is malformed (NHS number check digit, UPN check letter...).
  absl::StatusOr<std::string> Pseudonym(const kinex::common::v1::ChildRef& child) const;

 private:
  struct MacCtxFree {
    void operator()(evp_mac_ctx_st* ctx) const;
  };
  using MacCtxPtr = std::unique_ptr<evp_mac_ctx_st, MacCtxFree>;
  explicit ChildPseudonymizer(MacCtxPtr keyed) : keyed_(std::move(keyed)) {}
  // HMAC-SHA256 initialised with the key once; each pseudonym works on a
  // copy (the one-shot HMAC() fetched the digest and re-keyed every call).
  MacCtxPtr keyed_;
};

// Replaces `event.children` by the sorted distinct pseudonyms of those
// children in `event.child_pseudonyms`.
absl::Status PseudonymizeChildren(const ChildPseudonymizer& pseudonymizer,
                                  kinex::audit::v1::AuditEvent& event);

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_EVENT_CODEC_H_
