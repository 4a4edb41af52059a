// Error reasons (google.rpc.ErrorInfo, AIP-193) on absl::Status.
//
// For every Kinex engineer: attach a reason where an error is made, with
// `#include "services/common/error_reason.h"` (library kinex::status):
//   return WithErrorReason(absl::InvalidArgumentError("page_token: ..."),
//                          reason::kPageTokenInvalid, {{"field", "page_token"}});
// Add a constant below (and a row in the README's "Error reasons" table)
// for a new reason; never reuse one for another cause.
//
// A core attaches the reason to its absl::Status as a payload (the
// serialized google.rpc.ErrorInfo under its type URL, so it survives copies
// and KINEX_RETURN_IF_ERROR). The one status converter (grpc_status.h) sends
// it as the google.rpc.Status details of the reply (`grpc-status-details-bin`)
// and reads it back on the client side. A status without an explicit reason
// gets one derived from its code ("UNAVAILABLE", "INTERNAL", ...).
//
// `reason` is UPPER_SNAKE_CASE and stable: clients and tests match on it
// instead of message text. `domain` is always "kinex.dev". `metadata` holds
// stable fields (`field`, `request_id`, `service`, `limit`...), NEVER a child
// identifier or record content.
#ifndef KINEX_SERVICES_COMMON_ERROR_REASON_H_
#define KINEX_SERVICES_COMMON_ERROR_REASON_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"

namespace kinex {

// ErrorInfo.domain of every Kinex error.
inline constexpr absl::string_view kErrorDomain = "kinex.dev";

// The type URL of the ErrorInfo payload on an absl::Status (the same as its
// google.protobuf.Any type URL in google.rpc.Status.details).
inline constexpr absl::string_view kErrorInfoTypeUrl = "type.googleapis.com/google.rpc.ErrorInfo";

// The explicit reasons (README, "Error reasons"). Reasons derived from a
// status code are the code's name (absl::StatusCodeToString).
namespace reason {
// A request field is missing or malformed; metadata `field`.
inline constexpr absl::string_view kInvalidField = "INVALID_FIELD";
// The request does not parse as its message type.
inline constexpr absl::string_view kRequestUnparseable = "REQUEST_UNPARSEABLE";
// No child the caller may see (or publish to, or record consent for)
// matches: an unknown child and an out-of-scope child alike.
inline constexpr absl::string_view kChildNotFoundOrOutOfScope = "CHILD_NOT_FOUND_OR_OUT_OF_SCOPE";
// No consent entry the caller may withdraw has this id: an unknown id and
// another agency's entry alike.
inline constexpr absl::string_view kConsentNotFoundOrOutOfScope =
    "CONSENT_NOT_FOUND_OR_OUT_OF_SCOPE";
// The policy set does not let the caller do this (consent recording, a
// link decision, a transfer, an auditor query).
inline constexpr absl::string_view kPolicyDenied = "POLICY_DENIED";
// The certificate's role is not declared for its agency kind.
inline constexpr absl::string_view kNotDeclaredRole = "NOT_DECLARED_ROLE";
// The peer certificate does not carry a usable Kinex identity.
inline constexpr absl::string_view kIdentityInvalid = "IDENTITY_INVALID";
// The calling service may not call this internal method (service ACL);
// metadata `method`.
inline constexpr absl::string_view kServiceNotAllowed = "SERVICE_NOT_ALLOWED";
// The agency's rate limit, calls in flight or open streams; metadata `limit`.
inline constexpr absl::string_view kRateLimited = "RATE_LIMITED";
inline constexpr absl::string_view kTooManyCallsInFlight = "TOO_MANY_CALLS_IN_FLIGHT";
inline constexpr absl::string_view kTooManyStreams = "TOO_MANY_STREAMS";
// A page token this listing did not return (or not for this caller/filter).
inline constexpr absl::string_view kPageTokenInvalid = "PAGE_TOKEN_INVALID";
// A publish carries fields the publisher's agency kind does not own.
inline constexpr absl::string_view kFieldNotOwned = "FIELD_NOT_OWNED";
// The etag does not match the current version of the caller's part.
inline constexpr absl::string_view kEtagMismatch = "ETAG_MISMATCH";
// The record changed while it was being decided (retry).
inline constexpr absl::string_view kRecordChanged = "RECORD_CHANGED";
// A dependency could not answer (retryable); metadata `service`.
inline constexpr absl::string_view kAuditUnavailable = "AUDIT_UNAVAILABLE";
inline constexpr absl::string_view kConsentUnavailable = "CONSENT_UNAVAILABLE";
inline constexpr absl::string_view kPolicyUnavailable = "POLICY_UNAVAILABLE";
inline constexpr absl::string_view kRecordsUnavailable = "RECORDS_UNAVAILABLE";
// A dependency failed in a way a retry does not fix (its DATA_LOSS or
// INTERNAL, kept); metadata `service` and `cause` (the dependency's reason).
inline constexpr absl::string_view kDependencyFailed = "DEPENDENCY_FAILED";

// --- Shared by the cores (records, consent, audit, policy) ---
// A message Kinex built does not serialize, or a filter it built does not
// apply (INTERNAL, a bug).
inline constexpr absl::string_view kSerializationFailed = "SERIALIZATION_FAILED";
// An OpenSSL primitive failed (SHA-256, HMAC, Ed25519; INTERNAL).
inline constexpr absl::string_view kCryptoFailed = "CRYPTO_FAILED";
// A page token this service issued (its MAC checks out) does not parse
// (INTERNAL, a bug); metadata `field`.
inline constexpr absl::string_view kPageTokenCorrupt = "PAGE_TOKEN_CORRUPT";
// Only an agency identity (not a Kinex service, nor an auditor where it
// writes) may do this (PERMISSION_DENIED).
inline constexpr absl::string_view kAgencyRequired = "AGENCY_REQUIRED";
// A write is stored but its audit event is not in the log yet; it is kept
// and logged when the log answers: do not repeat it (UNAVAILABLE).
inline constexpr absl::string_view kAuditPending = "AUDIT_PENDING";
// A write service has no audit log configured, so it stores nothing
// (UNAVAILABLE).
inline constexpr absl::string_view kAuditNotConfigured = "AUDIT_NOT_CONFIGURED";

// --- Records ---
// Only internal callers see it (the gateway and consent answer
// CHILD_NOT_FOUND_OR_OUT_OF_SCOPE instead): no child has this identifier
// (NOT_FOUND).
inline constexpr absl::string_view kChildNotFound = "CHILD_NOT_FOUND";
// GetMyPart: no part of the caller's exists for this child reference, an
// unknown child alike (PERMISSION_DENIED).
inline constexpr absl::string_view kPartNotFoundOrOutOfScope = "PART_NOT_FOUND_OR_OUT_OF_SCOPE";
// A published part is larger than records.max_part_bytes
// (RESOURCE_EXHAUSTED); metadata `field`.
inline constexpr absl::string_view kPartTooLarge = "PART_TOO_LARGE";
// A publish names another agency's code where only the publisher's own may
// go (PERMISSION_DENIED); metadata `field`.
inline constexpr absl::string_view kAgencyCodeNotOwn = "AGENCY_CODE_NOT_OWN";
// The identifiers of a local authority's publish name more than one child
// (FAILED_PRECONDITION).
inline constexpr absl::string_view kIdentifiersConflict = "IDENTIFIERS_CONFLICT";
// A newly made Kinex id is taken already: retry (ABORTED).
inline constexpr absl::string_view kIdCollision = "ID_COLLISION";
// DecideLinkClaim: the agency has published nothing about the child
// (NOT_FOUND); metadata `field`.
inline constexpr absl::string_view kLinkNotFound = "LINK_NOT_FOUND";
// RemoveShield: no shield with this id on the child (NOT_FOUND), or it was
// removed already (FAILED_PRECONDITION); metadata `field`.
inline constexpr absl::string_view kShieldNotFound = "SHIELD_NOT_FOUND";
inline constexpr absl::string_view kShieldAlreadyRemoved = "SHIELD_ALREADY_REMOVED";

// --- Consent ---
// The child is under 16 at valid_from for CHILD_AGED_16_OR_OVER, or the
// child's legal status gives the named holder no parental responsibility
// (FAILED_PRECONDITION); metadata `field`.
inline constexpr absl::string_view kConsentGiverUnder16 = "CONSENT_GIVER_UNDER_16";
inline constexpr absl::string_view kParentalResponsibilityNotHeld =
    "PARENTAL_RESPONSIBILITY_NOT_HELD";
// The consent entry is withdrawn already (FAILED_PRECONDITION).
inline constexpr absl::string_view kConsentAlreadyWithdrawn = "CONSENT_ALREADY_WITHDRAWN";

// --- Audit ---
// Stored entries (or heads) do not match what was logged: altered,
// deleted, reordered, truncated, or rewritten (DATA_LOSS); metadata
// `leaf_index` (the first bad leaf) and/or `tree_size`.
inline constexpr absl::string_view kAuditLogTampered = "AUDIT_LOG_TAMPERED";
// The audit log's lookup tables (the child query index, the idempotency
// keys) disagree with the verified leaves (DATA_LOSS); metadata
// `leaf_index`.
inline constexpr absl::string_view kAuditIndexTampered = "AUDIT_INDEX_TAMPERED";
// A notification id names no notification the caller may see (NOT_FOUND;
// another agency's is NOT_FOUND too), or an audit event names one that is
// not its agency's (FAILED_PRECONDITION); metadata `notification_id`.
inline constexpr absl::string_view kNotificationNotFound = "NOTIFICATION_NOT_FOUND";
// The notification cannot take this action: a review of a notification
// that is not a break-glass review, or a second, different review
// (FAILED_PRECONDITION); metadata `notification_id`.
inline constexpr absl::string_view kNotificationStateConflict = "NOTIFICATION_STATE_CONFLICT";
// Only a local authority's team-manager closes a break-glass review
// (PERMISSION_DENIED).
inline constexpr absl::string_view kReviewerNotPermitted = "REVIEWER_NOT_PERMITTED";
// A leaf is not a canonical audit event (DATA_LOSS).
inline constexpr absl::string_view kAuditEntryMalformed = "AUDIT_ENTRY_MALFORMED";
// An event cannot be encoded in the encoding version asked for, or there
// is no such version (INVALID_ARGUMENT); metadata `version`.
inline constexpr absl::string_view kAuditEncodingUnsupported = "AUDIT_ENCODING_UNSUPPORTED";
// An event field is longer, or a list has more entries, than the log holds
// (RESOURCE_EXHAUSTED); metadata `field`.
inline constexpr absl::string_view kAuditEventTooLarge = "AUDIT_EVENT_TOO_LARGE";
// An inclusion or consistency proof does not prove what it claims
// (INVALID_ARGUMENT or FAILED_PRECONDITION); metadata `leaf_index`,
// `tree_size` where known.
inline constexpr absl::string_view kAuditProofInvalid = "AUDIT_PROOF_INVALID";
// A signed tree head's signature does not verify (FAILED_PRECONDITION);
// metadata `tree_size`.
inline constexpr absl::string_view kAuditHeadSignatureInvalid = "AUDIT_HEAD_SIGNATURE_INVALID";
// A signed tree head is signed by a key the verifier does not hold
// (FAILED_PRECONDITION); metadata `tree_size`.
inline constexpr absl::string_view kAuditHeadKeyUnknown = "AUDIT_HEAD_KEY_UNKNOWN";
// Two signed tree heads cannot both be right: the same size with two
// roots, a later head smaller, a saved head larger than the current one
// (FAILED_PRECONDITION or DATA_LOSS); metadata `tree_size`.
inline constexpr absl::string_view kAuditHeadInconsistent = "AUDIT_HEAD_INCONSISTENT";
// A disclosure receipt is not proven by its signed head, or differs from
// the logged entry (FAILED_PRECONDITION); metadata `field`.
inline constexpr absl::string_view kAuditReceiptInvalid = "AUDIT_RECEIPT_INVALID";
// Key material is unusable (not PEM, not Ed25519, the wrong size, a
// private key where a public one belongs; INVALID_ARGUMENT); metadata
// `key` (signing_key, public_key, pseudonym_key, page_token_key).
inline constexpr absl::string_view kKeyInvalid = "KEY_INVALID";
// The audit log is shutting down (UNAVAILABLE).
inline constexpr absl::string_view kAuditLogShuttingDown = "AUDIT_LOG_SHUTTING_DOWN";
// The audit log stopped accepting events after a storage failure; a restart
// recovers it (UNAVAILABLE).
inline constexpr absl::string_view kAuditLogFailed = "AUDIT_LOG_FAILED";
// The audit log's storage did not answer a lookup or a commit
// (UNAVAILABLE); metadata `cause` (the storage's reason).
inline constexpr absl::string_view kAuditStorageUnavailable = "AUDIT_STORAGE_UNAVAILABLE";
// The audit log could not sign a tree head (UNAVAILABLE) or encode a
// validated event (INTERNAL); metadata `cause`.
inline constexpr absl::string_view kAuditSigningFailed = "AUDIT_SIGNING_FAILED";
inline constexpr absl::string_view kAuditEncodingFailed = "AUDIT_ENCODING_FAILED";
// An audit query could not itself be logged, so it returns nothing
// (UNAVAILABLE); metadata `cause`.
inline constexpr absl::string_view kAuditQueryNotRecorded = "AUDIT_QUERY_NOT_RECORDED";
// A tree hash evicted from memory cannot be read back: no reader (INTERNAL).
inline constexpr absl::string_view kAuditTreeUnreadable = "AUDIT_TREE_UNREADABLE";

// --- Policy ---
// A policy file does not parse or validate (INVALID_ARGUMENT); metadata
// `file` and `line` of the first error, `path` when that error is an
// unknown field path.
inline constexpr absl::string_view kPolicyInvalid = "POLICY_INVALID";
// A field path names no field of the record schema (INVALID_ARGUMENT);
// metadata `path`.
inline constexpr absl::string_view kPolicyUnknownPath = "POLICY_UNKNOWN_PATH";
// No policy to load: the directory does not exist (NOT_FOUND) or holds no
// *.textproto file (INVALID_ARGUMENT).
inline constexpr absl::string_view kPolicyFilesMissing = "POLICY_FILES_MISSING";
// The policy directory cannot be listed (UNAVAILABLE).
inline constexpr absl::string_view kPolicyDirUnreadable = "POLICY_DIR_UNREADABLE";
// The policy engine has no policy loaded (UNAVAILABLE).
inline constexpr absl::string_view kPolicyNotLoaded = "POLICY_NOT_LOADED";
// Evaluating a request produced no redaction plan (INTERNAL, a bug).
inline constexpr absl::string_view kPolicyEvaluationFailed = "POLICY_EVALUATION_FAILED";
// A redaction plan does not fit the schema or the message it is applied
// to: a row filter on a field that is not a repeated message, a key that is
// not a singular string (INVALID_ARGUMENT); metadata `path` or `field`.
inline constexpr absl::string_view kRedactionPlanInvalid = "REDACTION_PLAN_INVALID";
// The record schema recurses deeper than the redactor indexes
// (INVALID_ARGUMENT); metadata `path`.
inline constexpr absl::string_view kSchemaRecursive = "SCHEMA_RECURSIVE";

// --- The SQL layer (services/common/sql) and the stores on it ---
// Metadata `store` (records, consent, audit) and `dialect` (sqlite,
// postgres); never a SQL value.
// The database cannot be reached or used for now: busy, locked, cannot be
// opened, an I/O error, disk full, read-only, connection lost (UNAVAILABLE,
// retryable). The audit store fails closed: every failure of it is this,
// with metadata `cause` (the failure's own reason).
inline constexpr absl::string_view kStorageUnavailable = "STORAGE_UNAVAILABLE";
// A statement failed for another reason: not a database, a missing table,
// a bug (INTERNAL).
inline constexpr absl::string_view kStorageFailed = "STORAGE_FAILED";
// A write lost a race: a constraint or serialization conflict, or a row
// changed since it was read (ABORTED; retry).
inline constexpr absl::string_view kStorageConflict = "STORAGE_CONFLICT";
// A row reads back wrong: a payload that does not parse, a hash of the
// wrong size (DATA_LOSS). Metadata `store` and `dialect` from the stores;
// `item` (record_part, sharing_decision, audit_outbox_event) from the cores.
inline constexpr absl::string_view kStorageCorrupt = "STORAGE_CORRUPT";
// The row a store update names does not exist (NOT_FOUND).
inline constexpr absl::string_view kStorageRowNotFound = "STORAGE_ROW_NOT_FOUND";
// A store called against its contract: no connection, a part version below
// 1, a gap in a batch's leaf indices (INVALID_ARGUMENT, a bug).
inline constexpr absl::string_view kStorageCallInvalid = "STORAGE_CALL_INVALID";
// An audit append does not start at the stored log's size: another writer,
// or memory and store disagree (FAILED_PRECONDITION).
inline constexpr absl::string_view kAuditLogSizeMismatch = "AUDIT_LOG_SIZE_MISMATCH";
// The store's schema is newer than this binary knows: run a newer kinex
// (FAILED_PRECONDITION).
inline constexpr absl::string_view kSchemaTooNew = "SCHEMA_TOO_NEW";
// A schema migration failed and was rolled back, leaving the store as it
// was (the failing step's code); metadata `cause` (the step's reason).
inline constexpr absl::string_view kSchemaMigrationFailed = "SCHEMA_MIGRATION_FAILED";
}  // namespace reason

// Stable fields only: never a child identifier or record content.
using ErrorMetadata = std::map<std::string, std::string>;

// Sets `status`'s reason (replacing any) and metadata. No-op on OK.
void SetErrorReason(absl::Status& status, absl::string_view reason,
                    const ErrorMetadata& metadata = {});

// `status` with its reason set: for return statements.
absl::Status WithErrorReason(absl::Status status, absl::string_view reason,
                             const ErrorMetadata& metadata = {});

// Adds (or replaces) one metadata field, keeping the reason (the derived one
// when there is none yet). No-op on OK.
void AddErrorMetadata(absl::Status& status, absl::string_view key, absl::string_view value);

// The ErrorInfo `status` carries: its explicit one, or one with the reason
// derived from the code. Empty for OK.
google::rpc::ErrorInfo ErrorInfoOf(const absl::Status& status);

// ErrorInfoOf(status).reason().
std::string ErrorReasonOf(const absl::Status& status);

// True when `status` carries an explicitly set reason.
bool HasExplicitErrorReason(const absl::Status& status);

// `to` with `from`'s ErrorInfo (explicit only), for code that remakes a
// status from another's message.
absl::Status CopyErrorReason(const absl::Status& from, absl::Status to);

// INVALID_ARGUMENT "<field>: <message>", reason INVALID_FIELD, metadata
// `field`.
absl::Status InvalidFieldError(absl::string_view field, absl::string_view message);

// A batch request's element `prefix` (e.g. "requests[3].") failed with
// `status`: the same code and reason, and the element named from the batch
// request's root in the message and in metadata `field`:
// "requests[3].kinex_id: ..." when `status` names its field,
// "requests[3]: ..." when it does not. An element's INVALID_ARGUMENT
// without an explicit reason gets INVALID_FIELD.
absl::Status InElement(absl::string_view prefix, const absl::Status& status);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_ERROR_REASON_H_
