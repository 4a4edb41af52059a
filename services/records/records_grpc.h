// The records service over gRPC: RecordsGrpcService (the thin adapter over a
// RecordsStore, for Kinex service callers only) and RecordsGrpcClient (a
// RecordsStore that calls a remote records service, for microservices mode).
//
// Access: every call must come from a Kinex service identity
// (spiffe://<td>/service/<name>, verified by mTLS); PutPart only from the
// gateway, which authenticated the publishing agency and passes its SPIFFE ID
// in PutPartRequest.principal. Agencies never call this service directly.
//
// Example:
//   RecordsGrpcService service(core.get(), "kinex.dev");
//   builder.RegisterService(&service);
//   RecordsGrpcClient client(grpc::CreateChannel(addr, creds));
#ifndef KINEX_SERVICES_RECORDS_RECORDS_GRPC_H_
#define KINEX_SERVICES_RECORDS_RECORDS_GRPC_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "kinex/records/v1/records.grpc.pb.h"
#include "services/records/records_store.h"

namespace kinex::records {

// Thread-safe; `store` is not owned and must outlive the service.
class RecordsGrpcService final : public kinex::records::v1::Records::Service {
 public:
  RecordsGrpcService(RecordsStore* store, std::string trust_domain)
      : store_(store), trust_domain_(std::move(trust_domain)) {}

  grpc::Status PutPart(grpc::ServerContext* ctx, const v1::PutPartRequest* request,
                       v1::PutPartResponse* response) override;
  grpc::Status GetRecord(grpc::ServerContext* ctx, const v1::GetRecordRequest* request,
                         v1::GetRecordResponse* response) override;
  grpc::Status ResolveChild(grpc::ServerContext* ctx, const v1::ResolveChildRequest* request,
                            v1::ResolveChildResponse* response) override;
  grpc::Status GetChildFacts(grpc::ServerContext* ctx, const v1::GetChildFactsRequest* request,
                             v1::ChildFacts* response) override;
  grpc::Status BatchGetRecords(grpc::ServerContext* ctx, const v1::BatchGetRecordsRequest* request,
                               v1::BatchGetRecordsResponse* response) override;
  grpc::Status ListChildren(grpc::ServerContext* ctx, const v1::ListChildrenRequest* request,
                            v1::ListChildrenResponse* response) override;
  grpc::Status GetPart(grpc::ServerContext* ctx, const v1::GetPartRequest* request,
                       v1::GetPartResponse* response) override;
  grpc::Status ListLinks(grpc::ServerContext* ctx, const v1::ListLinksRequest* request,
                         v1::ListLinksResponse* response) override;
  grpc::Status DecideLink(grpc::ServerContext* ctx, const v1::DecideLinkRequest* request,
                          v1::DecideLinkResponse* response) override;
  grpc::Status TransferResponsibility(grpc::ServerContext* ctx,
                                      const v1::TransferResponsibilityRequest* request,
                                      v1::TransferResponsibilityResponse* response) override;
  grpc::Status ListPartVersions(grpc::ServerContext* ctx,
                                const v1::ListPartVersionsRequest* request,
                                v1::ListPartVersionsResponse* response) override;
  grpc::Status RecordSharingDecision(grpc::ServerContext* ctx,
                                     const v1::RecordSharingDecisionRequest* request,
                                     v1::SharingDecision* response) override;
  grpc::Status ListSharingDecisions(grpc::ServerContext* ctx,
                                    const v1::ListSharingDecisionsRequest* request,
                                    v1::ListSharingDecisionsResponse* response) override;
  grpc::Status RemoveShield(grpc::ServerContext* ctx, const v1::RemoveShieldRequest* request,
                            v1::SharingDecision* response) override;
  grpc::Status PutCalendar(grpc::ServerContext* ctx, const v1::PutCalendarRequest* request,
                           v1::PublishedCalendar* response) override;
  grpc::Status GetCalendar(grpc::ServerContext* ctx, const v1::GetCalendarRequest* request,
                           v1::PublishedCalendar* response) override;

 private:
  // OK if the peer is a Kinex service (the gateway, when `gateway_only`).
  absl::Status Authorize(const grpc::ServerContext& ctx, bool gateway_only) const;

  RecordsStore* store_;
  std::string trust_domain_;
};

// A RecordsStore backed by a remote records service. Thread-safe.
class RecordsGrpcClient final : public RecordsStore {
 public:
  // `timeout`: deadline of each call (default 10 s).
  explicit RecordsGrpcClient(std::shared_ptr<grpc::Channel> channel,
                             absl::Duration timeout = absl::Seconds(10))
      : stub_(v1::Records::NewStub(channel)), timeout_(timeout) {}

  absl::StatusOr<v1::PutPartResponse> PutPart(const v1::PutPartRequest& request) override;
  absl::StatusOr<v1::GetRecordResponse> GetRecord(const v1::GetRecordRequest& request) override;
  absl::StatusOr<v1::ResolveChildResponse> ResolveChild(
      const v1::ResolveChildRequest& request) override;
  absl::StatusOr<v1::ChildFacts> GetChildFacts(const v1::GetChildFactsRequest& request) override;
  absl::StatusOr<v1::BatchGetRecordsResponse> BatchGetRecords(
      const v1::BatchGetRecordsRequest& request) override;
  absl::StatusOr<v1::ListChildrenResponse> ListChildren(
      const v1::ListChildrenRequest& request) override;
  absl::StatusOr<v1::GetPartResponse> GetPart(const v1::GetPartRequest& request) override;
  absl::StatusOr<v1::ListLinksResponse> ListLinks(const v1::ListLinksRequest& request) override;
  absl::StatusOr<v1::DecideLinkResponse> DecideLink(const v1::DecideLinkRequest& request) override;
  absl::StatusOr<v1::TransferResponsibilityResponse> TransferResponsibility(
      const v1::TransferResponsibilityRequest& request) override;
  absl::StatusOr<v1::ListPartVersionsResponse> ListPartVersions(
      const v1::ListPartVersionsRequest& request) override;
  absl::StatusOr<v1::SharingDecision> RecordSharingDecision(
      const v1::RecordSharingDecisionRequest& request) override;
  absl::StatusOr<v1::ListSharingDecisionsResponse> ListSharingDecisions(
      const v1::ListSharingDecisionsRequest& request) override;
  absl::StatusOr<v1::SharingDecision> RemoveShield(const v1::RemoveShieldRequest& request) override;
  absl::StatusOr<v1::PublishedCalendar> PutCalendar(const v1::PutCalendarRequest& request) override;
  absl::StatusOr<v1::PublishedCalendar> GetCalendar(const v1::GetCalendarRequest& request) override;

 private:
  std::unique_ptr<v1::Records::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_RECORDS_GRPC_H_
