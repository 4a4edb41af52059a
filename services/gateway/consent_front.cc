#include "services/gateway/consent_front.h"

#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/paging.h"

namespace kinex::gateway {

namespace cv1 = kinex::consent::v1;

absl::Status ConsentFront::MayList(const CallContext& call,
                                   const kinex::common::v1::ChildRef& child) {
  const absl::Status denied = WithErrorReason(
      absl::PermissionDeniedError(absl::StrCat(
          "no consent file you may see for this child (request id ", call.request_id, ")")),
      reason::kChildNotFoundOrOutOfScope);
  kinex::records::v1::GetChildFactsRequest resolve;
  *resolve.mutable_child() = child;
  absl::StatusOr<kinex::records::v1::ChildFacts> found = records_.GetChildFacts(resolve);
  if (!found.ok()) {
    if (found.status().code() == absl::StatusCode::kNotFound) return denied;
    return found.status();
  }
  // Whoever may record a consent, or any statutory basis, may read the file.
  cv1::RecordConsentRequest probe;
  probe.mutable_entry()->mutable_consent();
  if (authorizer_.MayRecord(call.principal, *found, probe).ok()) return absl::OkStatus();
  for (int b = kinex::common::v1::LegalBasis_MIN; b <= kinex::common::v1::LegalBasis_MAX; ++b) {
    if (b == kinex::common::v1::LEGAL_BASIS_UNSPECIFIED || b == kinex::common::v1::CONSENT) {
      continue;
    }
    probe.mutable_entry()->mutable_statutory_basis()->set_basis(
        static_cast<kinex::common::v1::LegalBasis>(b));
    if (authorizer_.MayRecord(call.principal, *found, probe).ok()) {
      return absl::OkStatus();
    }
  }
  return denied;
}

grpc::Status ConsentFront::RecordConsent(grpc::ServerContext* ctx,
                                         const cv1::RecordConsentRequest* request,
                                         cv1::RecordConsentResponse* response) {
  return edge_.Run(ctx, "RecordConsent", 0, [&](const CallContext& call, std::string& outcome) {
    absl::StatusOr<cv1::RecordConsentResponse> r =
        registry_.RecordConsent({call.principal, call.actor, call.request_id}, *request);
    if (!r.ok()) return r.status();
    *response = std::move(*r);
    outcome = "recorded";
    return absl::OkStatus();
  });
}

grpc::Status ConsentFront::WithdrawConsent(grpc::ServerContext* ctx,
                                           const cv1::WithdrawConsentRequest* request,
                                           cv1::WithdrawConsentResponse* response) {
  return edge_.Run(ctx, "WithdrawConsent", 0, [&](const CallContext& call, std::string& outcome) {
    absl::StatusOr<cv1::WithdrawConsentResponse> r =
        registry_.WithdrawConsent({call.principal, call.actor, call.request_id}, *request);
    if (!r.ok()) return r.status();
    *response = std::move(*r);
    outcome = "withdrawn";
    return absl::OkStatus();
  });
}

grpc::Status ConsentFront::ListConsents(grpc::ServerContext* ctx,
                                        const cv1::ListConsentsRequest* request,
                                        cv1::ListConsentsResponse* response) {
  return edge_.Run(ctx, "ListConsents", 0, [&](const CallContext& call, std::string&) {
    if (absl::Status may = MayList(call, request->child()); !may.ok()) return may;
    // The client's token wraps the consent service's, bound to the caller.
    const std::string filter = request->child().SerializeAsString();
    const paging::TokenScope scope{
        .rpc = "ListConsents", .caller = call.principal.uri, .filter = filter};
    absl::StatusOr<std::string> inner =
        paging::PageTokens::Process().Open(request->page_token(), scope);
    if (!inner.ok()) return inner.status();
    cv1::ListConsentsRequest forwarded = *request;
    forwarded.set_page_token(*inner);
    absl::StatusOr<cv1::ListConsentsResponse> r = registry_.ListConsents(forwarded);
    if (!r.ok()) return r.status();
    *response = std::move(*r);
    if (!response->next_page_token().empty()) {
      response->set_next_page_token(
          paging::PageTokens::Process().Issue(scope, response->next_page_token()));
    }
    return absl::OkStatus();
  });
}

grpc::Status ConsentFront::CreateSharingAgreement(grpc::ServerContext* ctx,
                                                  const cv1::CreateSharingAgreementRequest* request,
                                                  cv1::SharingAgreement* response) {
  return edge_.Run(ctx, "CreateSharingAgreement", 0,
                   [&](const CallContext& call, std::string& outcome) {
                     absl::StatusOr<cv1::SharingAgreement> r = registry_.CreateSharingAgreement(
                         {call.principal, call.actor, call.request_id}, *request);
                     if (!r.ok()) return r.status();
                     *response = std::move(*r);
                     outcome = "recorded";
                     return absl::OkStatus();
                   });
}

grpc::Status ConsentFront::ListSharingAgreements(grpc::ServerContext* ctx,
                                                 const cv1::ListSharingAgreementsRequest* request,
                                                 cv1::ListSharingAgreementsResponse* response) {
  return edge_.Run(ctx, "ListSharingAgreements", 0, [&](const CallContext& call, std::string&) {
    // The client's token wraps the consent service's, bound to the caller.
    const paging::TokenScope scope{
        .rpc = "ListSharingAgreements", .caller = call.principal.uri, .filter = ""};
    absl::StatusOr<std::string> inner =
        paging::PageTokens::Process().Open(request->page_token(), scope);
    if (!inner.ok()) return inner.status();
    cv1::ListSharingAgreementsRequest forwarded = *request;
    forwarded.set_page_token(*inner);
    absl::StatusOr<cv1::ListSharingAgreementsResponse> r =
        registry_.ListSharingAgreements(forwarded);
    if (!r.ok()) return r.status();
    *response = std::move(*r);
    if (!response->next_page_token().empty()) {
      response->set_next_page_token(
          paging::PageTokens::Process().Issue(scope, response->next_page_token()));
    }
    return absl::OkStatus();
  });
}

grpc::Status ConsentFront::Internal(grpc::ServerContext* ctx, const char* method) {
  return edge_.Run(ctx, method, 0, [&](const CallContext&, std::string&) {
    return WithErrorReason(
        absl::PermissionDeniedError(absl::StrCat(
            method,
            " is internal to Kinex; agencies see the bases used in each disclosure receipt")),
        reason::kServiceNotAllowed);
  });
}

grpc::Status ConsentFront::LookupBases(grpc::ServerContext* ctx, const cv1::LookupBasesRequest*,
                                       cv1::LookupBasesResponse*) {
  return Internal(ctx, "LookupBases");
}

grpc::Status ConsentFront::BatchLookupBases(grpc::ServerContext* ctx,
                                            const cv1::BatchLookupBasesRequest*,
                                            cv1::BatchLookupBasesResponse*) {
  return Internal(ctx, "BatchLookupBases");
}

}  // namespace kinex::gateway
