// Who may record what on a child's consent file is decided by policy, not
// hard-coded here: the consent core asks a ConsentRecordingAuthorizer, which
// the policy engine implements. Withdrawing an entry needs the same
// permission as recording it (the authorizer is asked with the stored entry).
//
// Example (a test double):
//   class AllowLocalAuthorities : public ConsentRecordingAuthorizer {
//     absl::Status MayRecord(const SpiffeId& who, const ChildFacts&,
//                            const RecordConsentRequest&) const override {
//       return who.agency_kind == LOCAL_AUTHORITY ? absl::OkStatus()
//                                                 : absl::PermissionDeniedError("...");
//     }
//   };
#ifndef KINEX_SERVICES_CONSENT_CONSENT_AUTHORIZER_H_
#define KINEX_SERVICES_CONSENT_CONSENT_AUTHORIZER_H_

#include "absl/status/status.h"
#include "kinex/consent/v1/consent.pb.h"
#include "kinex/record/v1/record.pb.h"
#include "kinex/records/v1/records.pb.h"
#include "services/common/identity.h"

namespace kinex::consent {

// Implementations are thread-safe.
class ConsentRecordingAuthorizer {
 public:
  virtual ~ConsentRecordingAuthorizer() = default;
  // OK if `recorder` may record `request` for the child with `child`'s
  // facts (records.GetChildFacts: derived scope, legal status; the policy
  // engine derives the child's context from them); PERMISSION_DENIED
  // (generic message) if not; any other error fails the request closed.
  virtual absl::Status MayRecord(const SpiffeId& recorder,
                                 const kinex::records::v1::ChildFacts& child,
                                 const kinex::consent::v1::RecordConsentRequest& request) const = 0;
};

// Refuses everything: the safe default until the policy engine's authorizer
// is wired in. Thread-safe.
class DenyAllConsentRecordingAuthorizer final : public ConsentRecordingAuthorizer {
 public:
  absl::Status MayRecord(const SpiffeId&, const kinex::records::v1::ChildFacts&,
                         const kinex::consent::v1::RecordConsentRequest&) const override {
    return absl::PermissionDeniedError(
        "not permitted to record consent entries (no recording policy configured)");
  }
};

}  // namespace kinex::consent

#endif  // KINEX_SERVICES_CONSENT_CONSENT_AUTHORIZER_H_
