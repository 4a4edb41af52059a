#include "services/records/records_grpc.h"

#include "absl/strings/str_cat.h"
#include "services/common/service_acl.h"
#include "services/common/unary_rpc.h"

namespace kinex::records {
namespace {

// The service ACL's verdict on a call of `method` of this service
// (services/common/service_acl.h: which Kinex services may call it).
absl::Status Allowed(const grpc::ServerContext& ctx, absl::string_view trust_domain,
                     absl::string_view method) {
  return AuthorizeServiceCall(ctx, trust_domain, absl::StrCat("kinex.records.v1.Records/", method))
      .status();
}

}  // namespace

grpc::Status RecordsGrpcService::PutPart(grpc::ServerContext* ctx,
                                         const v1::PutPartRequest* request,
                                         v1::PutPartResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "PutPart"), [&] { return store_->PutPart(*request); },
      response);
}

grpc::Status RecordsGrpcService::GetRecord(grpc::ServerContext* ctx,
                                           const v1::GetRecordRequest* request,
                                           v1::GetRecordResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "GetRecord"), [&] { return store_->GetRecord(*request); },
      response);
}

grpc::Status RecordsGrpcService::ResolveChild(grpc::ServerContext* ctx,
                                              const v1::ResolveChildRequest* request,
                                              v1::ResolveChildResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "ResolveChild"),
      [&] { return store_->ResolveChild(*request); }, response);
}

grpc::Status RecordsGrpcService::GetChildFacts(grpc::ServerContext* ctx,
                                               const v1::GetChildFactsRequest* request,
                                               v1::ChildFacts* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "GetChildFacts"),
      [&] { return store_->GetChildFacts(*request); }, response);
}

grpc::Status RecordsGrpcService::BatchGetRecords(grpc::ServerContext* ctx,
                                                 const v1::BatchGetRecordsRequest* request,
                                                 v1::BatchGetRecordsResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "BatchGetRecords"),
      [&] { return store_->BatchGetRecords(*request); }, response);
}

grpc::Status RecordsGrpcService::ListChildren(grpc::ServerContext* ctx,
                                              const v1::ListChildrenRequest* request,
                                              v1::ListChildrenResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "ListChildren"),
      [&] { return store_->ListChildren(*request); }, response);
}

grpc::Status RecordsGrpcService::ListPartVersions(grpc::ServerContext* ctx,
                                                  const v1::ListPartVersionsRequest* request,
                                                  v1::ListPartVersionsResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "ListPartVersions"),
      [&] { return store_->ListPartVersions(*request); }, response);
}

grpc::Status RecordsGrpcService::GetPart(grpc::ServerContext* ctx,
                                         const v1::GetPartRequest* request,
                                         v1::GetPartResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "GetPart"), [&] { return store_->GetPart(*request); },
      response);
}

grpc::Status RecordsGrpcService::ListLinks(grpc::ServerContext* ctx,
                                           const v1::ListLinksRequest* request,
                                           v1::ListLinksResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "ListLinks"), [&] { return store_->ListLinks(*request); },
      response);
}

grpc::Status RecordsGrpcService::DecideLink(grpc::ServerContext* ctx,
                                            const v1::DecideLinkRequest* request,
                                            v1::DecideLinkResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "DecideLink"),
      [&] { return store_->DecideLink(*request); }, response);
}

grpc::Status RecordsGrpcService::TransferResponsibility(
    grpc::ServerContext* ctx, const v1::TransferResponsibilityRequest* request,
    v1::TransferResponsibilityResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "TransferResponsibility"),
      [&] { return store_->TransferResponsibility(*request); }, response);
}

grpc::Status RecordsGrpcService::RecordSharingDecision(
    grpc::ServerContext* ctx, const v1::RecordSharingDecisionRequest* request,
    v1::SharingDecision* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "RecordSharingDecision"),
      [&] { return store_->RecordSharingDecision(*request); }, response);
}

grpc::Status RecordsGrpcService::ListSharingDecisions(
    grpc::ServerContext* ctx, const v1::ListSharingDecisionsRequest* request,
    v1::ListSharingDecisionsResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "ListSharingDecisions"),
      [&] { return store_->ListSharingDecisions(*request); }, response);
}

grpc::Status RecordsGrpcService::RemoveShield(grpc::ServerContext* ctx,
                                              const v1::RemoveShieldRequest* request,
                                              v1::SharingDecision* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "RemoveShield"),
      [&] { return store_->RemoveShield(*request); }, response);
}

grpc::Status RecordsGrpcService::PutCalendar(grpc::ServerContext* ctx,
                                             const v1::PutCalendarRequest* request,
                                             v1::PublishedCalendar* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "PutCalendar"),
      [&] { return store_->PutCalendar(*request); }, response);
}

grpc::Status RecordsGrpcService::GetCalendar(grpc::ServerContext* ctx,
                                             const v1::GetCalendarRequest* request,
                                             v1::PublishedCalendar* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "GetCalendar"),
      [&] { return store_->GetCalendar(*request); }, response);
}

absl::StatusOr<v1::PublishedCalendar> RecordsGrpcClient::PutCalendar(
    const v1::PutCalendarRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::PutCalendar, request, timeout_);
}
absl::StatusOr<v1::PublishedCalendar> RecordsGrpcClient::GetCalendar(
    const v1::GetCalendarRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::GetCalendar, request, timeout_);
}

absl::StatusOr<v1::SharingDecision> RecordsGrpcClient::RecordSharingDecision(
    const v1::RecordSharingDecisionRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::RecordSharingDecision, request, timeout_);
}
absl::StatusOr<v1::ListSharingDecisionsResponse> RecordsGrpcClient::ListSharingDecisions(
    const v1::ListSharingDecisionsRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::ListSharingDecisions, request, timeout_);
}
absl::StatusOr<v1::SharingDecision> RecordsGrpcClient::RemoveShield(
    const v1::RemoveShieldRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::RemoveShield, request, timeout_);
}

absl::StatusOr<v1::GetPartResponse> RecordsGrpcClient::GetPart(const v1::GetPartRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::GetPart, request, timeout_);
}
absl::StatusOr<v1::ListLinksResponse> RecordsGrpcClient::ListLinks(
    const v1::ListLinksRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::ListLinks, request, timeout_);
}
absl::StatusOr<v1::DecideLinkResponse> RecordsGrpcClient::DecideLink(
    const v1::DecideLinkRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::DecideLink, request, timeout_);
}
absl::StatusOr<v1::TransferResponsibilityResponse> RecordsGrpcClient::TransferResponsibility(
    const v1::TransferResponsibilityRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::TransferResponsibility, request, timeout_);
}

absl::StatusOr<v1::PutPartResponse> RecordsGrpcClient::PutPart(const v1::PutPartRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::PutPart, request, timeout_);
}
absl::StatusOr<v1::GetRecordResponse> RecordsGrpcClient::GetRecord(
    const v1::GetRecordRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::GetRecord, request, timeout_);
}
absl::StatusOr<v1::ResolveChildResponse> RecordsGrpcClient::ResolveChild(
    const v1::ResolveChildRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::ResolveChild, request, timeout_);
}
absl::StatusOr<v1::ChildFacts> RecordsGrpcClient::GetChildFacts(
    const v1::GetChildFactsRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::GetChildFacts, request, timeout_);
}
absl::StatusOr<v1::BatchGetRecordsResponse> RecordsGrpcClient::BatchGetRecords(
    const v1::BatchGetRecordsRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::BatchGetRecords, request, timeout_);
}
absl::StatusOr<v1::ListChildrenResponse> RecordsGrpcClient::ListChildren(
    const v1::ListChildrenRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::ListChildren, request, timeout_);
}
absl::StatusOr<v1::ListPartVersionsResponse> RecordsGrpcClient::ListPartVersions(
    const v1::ListPartVersionsRequest& request) {
  return CallUnary(*stub_, &v1::Records::Stub::ListPartVersions, request, timeout_);
}

}  // namespace kinex::records
