// Least privilege between Kinex services: one table, in code, of which
// Kinex service identities (spiffe://<trust-domain>/service/<name>) may call
// each internal gRPC method, and which audit event kinds each service may
// append. Every internal adapter (records, consent, audit, policy) asks this
// table and nothing else; a method missing from the table is refused to
// everyone (fail closed), so a new RPC is unusable until it has a row.
// Agency identities never pass: agencies reach Kinex through the gateway.
//
// The table matches what each target actually calls (services/kinex/
// targets.cc and the *_client.cc files); README.md ("Between services")
// shows it.
//
// Example:
//   grpc::Status Records::GetRecord(grpc::ServerContext* ctx, ...) {
//     absl::Status allowed = AuthorizeServiceCall(
//         *ctx, trust_domain_, "kinex.records.v1.Records/GetRecord");
//     ...
//   }
#ifndef KINEX_SERVICES_COMMON_SERVICE_ACL_H_
#define KINEX_SERVICES_COMMON_SERVICE_ACL_H_

#include <vector>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/common/peer_identity.h"

namespace kinex {

// One row of the table: a full gRPC method name and the Kinex services that
// may call it.
struct ServiceAclRow {
  // "kinex.records.v1.Records/GetRecord".
  absl::string_view method;
  // Service names ("gateway", "consent", ...); empty: no service may call it.
  std::vector<absl::string_view> callers;
};

// The whole table, grouped by service, in the order README.md shows it.
absl::Span<const ServiceAclRow> ServiceAcl();

// The audit event kinds `service` may append (empty for a service that
// appends nothing).
absl::Span<const kinex::audit::v1::EventKind> AppendableEventKinds(absl::string_view service);

// Whether `caller` may call `method`. PERMISSION_DENIED naming the method,
// and the service when it is one:
//   agency:   "kinex.records.v1.Records/GetRecord: the records service
//              accepts Kinex services only (agencies use the gateway)"
//   service:  "service \"policy\" may not call
//              kinex.records.v1.Records/GetRecord (allowed: gateway)"
//   no row:   "kinex.records.v1.Records/Foo is not in the service ACL; no
//              caller may use it"
absl::Status CheckServiceAcl(const SpiffeId& caller, absl::string_view method);

// Authenticates the caller of `ctx` (UNAUTHENTICATED as AuthenticatePeer)
// and checks it against the table.
absl::StatusOr<SpiffeId> AuthorizeServiceCall(const grpc::ServerContext& ctx,
                                              absl::string_view trust_domain,
                                              absl::string_view method);

// Whether `caller` (already allowed to call Audit/Append) may append an
// event of `kind`: PERMISSION_DENIED "service \"records\" may not append
// DISCLOSURE events to the audit log (records appends: PART_PUBLISHED, ...)".
absl::Status CheckAuditAppendKind(const SpiffeId& caller, kinex::audit::v1::EventKind kind);

// AuthorizeServiceCall for kinex.audit.v1.Audit/Append, then
// CheckAuditAppendKind for `event`'s kind: the one check the audit
// service's Append adapter makes.
// Whether `caller` may raise the notifications `event` carries (gateway:
// ACCESS and BREAK_GLASS_REVIEW on DISCLOSURE; records: ENCOMPASS and
// VSH_ALERT on PART_PUBLISHED and LINK_CLAIMED). PERMISSION_DENIED
// (SERVICE_NOT_ALLOWED) otherwise.
absl::Status CheckAuditNotify(const SpiffeId& caller, const kinex::audit::v1::AuditEvent& event);

absl::Status AuthorizeAuditAppend(const grpc::ServerContext& ctx, absl::string_view trust_domain,
                                  const kinex::audit::v1::AuditEvent& event);

// As AuthorizeAuditAppend for kinex.audit.v1.Audit/AppendBatch: the method,
// then every event's kind and notifications; the first refusal names its
// event ("events[3]: service ...").
absl::Status AuthorizeAuditAppendBatch(
    const grpc::ServerContext& ctx, absl::string_view trust_domain,
    const google::protobuf::RepeatedPtrField<kinex::audit::v1::AuditEvent>& events);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_SERVICE_ACL_H_
