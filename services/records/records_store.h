// The records service as the gateway and the consent service call it: an
// abstract interface implemented in process by RecordsCore (records_core.h,
// --target=all) and over gRPC by RecordsGrpcClient (records_grpc.h,
// microservices mode). Requests and replies are the kinex.records.v1
// messages, so both implementations behave identically.
//
// Example:
//   PutPartRequest req;
//   req.mutable_child()->set_upn(upn);
//   req.set_principal(who.uri);
//   *req.mutable_part()->mutable_education() = education;
//   KINEX_ASSIGN_OR_RETURN(PutPartResponse put, store.PutPart(req));
#ifndef KINEX_SERVICES_RECORDS_RECORDS_STORE_H_
#define KINEX_SERVICES_RECORDS_RECORDS_STORE_H_

#include "absl/status/statusor.h"
#include "kinex/records/v1/records.pb.h"

namespace kinex::records {

// Implementations are thread-safe.
class RecordsStore {
 public:
  virtual ~RecordsStore() = default;

  // Publishes a new version of the publisher's part (see records.proto).
  virtual absl::StatusOr<kinex::records::v1::PutPartResponse> PutPart(
      const kinex::records::v1::PutPartRequest& request) = 0;
  // The assembled record.
  virtual absl::StatusOr<kinex::records::v1::GetRecordResponse> GetRecord(
      const kinex::records::v1::GetRecordRequest& request) = 0;
  // What policy decides on (no record content), with its facts_version.
  virtual absl::StatusOr<kinex::records::v1::ChildFacts> GetChildFacts(
      const kinex::records::v1::GetChildFactsRequest& request) = 0;
  // Several GetRecords in one read; ABORTED for all if one's facts moved.
  virtual absl::StatusOr<kinex::records::v1::BatchGetRecordsResponse> BatchGetRecords(
      const kinex::records::v1::BatchGetRecordsRequest& request) = 0;
  // ChildRef -> Kinex id and scope links.
  virtual absl::StatusOr<kinex::records::v1::ResolveChildResponse> ResolveChild(
      const kinex::records::v1::ResolveChildRequest& request) = 0;
  // Children in an agency's scope, in Kinex id order.
  virtual absl::StatusOr<kinex::records::v1::ListChildrenResponse> ListChildren(
      const kinex::records::v1::ListChildrenRequest& request) = 0;
  // Who published what, when.
  virtual absl::StatusOr<kinex::records::v1::ListPartVersionsResponse> ListPartVersions(
      const kinex::records::v1::ListPartVersionsRequest& request) = 0;
  // The calling agency's own current part.
  virtual absl::StatusOr<kinex::records::v1::GetPartResponse> GetPart(
      const kinex::records::v1::GetPartRequest& request) = 0;
  // Agency links on the children an LA is responsible for.
  virtual absl::StatusOr<kinex::records::v1::ListLinksResponse> ListLinks(
      const kinex::records::v1::ListLinksRequest& request) = 0;
  // The responsible LA confirms or rejects a link.
  virtual absl::StatusOr<kinex::records::v1::DecideLinkResponse> DecideLink(
      const kinex::records::v1::DecideLinkRequest& request) = 0;
  // The responsible LA hands the child to another LA.
  virtual absl::StatusOr<kinex::records::v1::TransferResponsibilityResponse> TransferResponsibility(
      const kinex::records::v1::TransferResponsibilityRequest& request) = 0;
  // Records an agency's decision not to share (or to share in part, or to
  // defer), or the responsible LA's shield.
  virtual absl::StatusOr<kinex::records::v1::SharingDecision> RecordSharingDecision(
      const kinex::records::v1::RecordSharingDecisionRequest& request) = 0;
  // The sharing decisions the caller may see, newest first.
  virtual absl::StatusOr<kinex::records::v1::ListSharingDecisionsResponse> ListSharingDecisions(
      const kinex::records::v1::ListSharingDecisionsRequest& request) = 0;
  // The responsible LA removes a shield.
  virtual absl::StatusOr<kinex::records::v1::SharingDecision> RemoveShield(
      const kinex::records::v1::RemoveShieldRequest& request) = 0;
  // A school or LA publishes its own calendar (Encompass deadlines).
  virtual absl::StatusOr<kinex::records::v1::PublishedCalendar> PutCalendar(
      const kinex::records::v1::PutCalendarRequest& request) = 0;
  // The caller's own published calendar; NOT_FOUND when none.
  virtual absl::StatusOr<kinex::records::v1::PublishedCalendar> GetCalendar(
      const kinex::records::v1::GetCalendarRequest& request) = 0;
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_RECORDS_STORE_H_
