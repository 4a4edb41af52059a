// The canonical encoding of audit events (the bytes each Merkle leaf hashes),
// validation of appended events, and child pseudonyms.
//
// Why not protobuf serialisation: protobuf's "deterministic" mode is only
// deterministic for one binary and one schema version (unknown fields, map
// order, field order of future versions are not specified), and a leaf must
// hash the same in every verifier forever. So Kinex defines its own encoding,
// version 1, written and read only by this file:
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
// Integers are big-endian two's complement; str is a u32 byte length then
// UTF-8 bytes. Every field is always present, so each event has exactly one
// encoding; the decoder refuses any input that is not that encoding
// (trailing bytes, a bool other than 0/1, unsorted pseudonyms, nanos out of
// range, invalid UTF-8). Binding the
// leaf index into the leaf makes a deleted or reordered row detectable at its
// exact position.
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

struct evp_mac_ctx_st;

namespace kinex::audit {

// Limits on appended events (RESOURCE_EXHAUSTED beyond them).
inline constexpr size_t kMaxStringBytes = 4096;
inline constexpr size_t kMaxRepeated = 4096;

// Checks an event a caller wants appended: required fields set (request_id,
// principal, agency_kind, agency_code, purpose, decision, policy_version),
// output-only fields unset (time, child_pseudonyms), strings valid UTF-8 and
// within limits. INVALID_ARGUMENT naming the field.
absl::Status ValidateAppendEvent(const kinex::audit::v1::AuditEvent& event);

// The canonical encoding of `event` at `leaf_index` (the `children` field is
// input-only and never encoded; it must be empty). INVALID_ARGUMENT when the
// event cannot be encoded canonically (children set, unsorted pseudonyms).
absl::StatusOr<std::string> EncodeEvent(
    uint64_t leaf_index, const kinex::audit::v1::AuditEvent& event);

// A decoded leaf.
struct DecodedLeaf {
  uint64_t leaf_index = 0;
  kinex::audit::v1::AuditEvent event;
};

// Decodes a canonical leaf. DATA_LOSS naming the problem when the bytes are
// not a canonical version-1 encoding.
absl::StatusOr<DecodedLeaf> DecodeEvent(absl::string_view leaf);

// Computes keyed pseudonyms of child identifiers: lower-case hex
// HMAC-SHA256(key, "<kind>:<normalised id>") with kinds "kinex", "nhs",
// "upn" and "la" ("la:<la_code>:<id>"). Thread-safe.
class ChildPseudonymizer {
 public:
  // Uses `key` (at least 32 bytes).
  static absl::StatusOr<std::unique_ptr<ChildPseudonymizer>> Create(
      absl::string_view key);
  // Reads the key file (mode 0600 enforced): 64 hex characters (optionally
  // followed by a newline) or 32 raw bytes.
  static absl::StatusOr<std::unique_ptr<ChildPseudonymizer>> FromKeyFile(
      const std::string& path);

  // The pseudonym of `child`. INVALID_ARGUMENT when no identifier is set or
  // it is malformed (NHS number check digit, UPN check letter...).
  absl::StatusOr<std::string> Pseudonym(
      const kinex::common::v1::ChildRef& child) const;

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
