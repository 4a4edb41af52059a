// The records core: ownership, identity matching, versioning and assembly of
// children's records, over a RecordsStorage. Plain C++ (absl::Status), no
// gRPC.
//
// Publishing (PutPart):
//  - Only agency identities publish, never services or auditors. A publish
//    may set only leaf fields whose (owner) is the publisher's agency kind;
//    otherwise PERMISSION_DENIED naming the paths.
//  - A part is keyed by (child, owner agency kind, owner agency code) and
//    versioned from 1; each version gets an etag. The first publish passes an
//    empty etag; later ones the latest etag; anything else is ABORTED.
//  - Every version is kept with its principal, actor and time.
//  - The child is matched by the ChildRef's identifier and the identifiers in
//    the part (NHS number, UPN, LA child id qualified by the publishing LA's
//    code). If they match two different children: FAILED_PRECONDITION naming
//    which identifier kinds point at which (anonymous) child, never values or
//    Kinex ids, and nothing is stored. No match: a new child with a random
//    Kinex id (a ChildRef kinex_id must exist: NOT_FOUND). New identifiers are
//    linked to the child; identifiers are never unlinked automatically.
//
// Assembly (GetRecord): for every owner kind, the part most recently
// published by any agency of that kind (ties: the greater agency code), all
// merged with MergeFrom; identity.kinex_id filled. A child who moved school
// is shown with the new school's part once it publishes.
//
// Every write runs in one storage transaction (reads use RecordsStorage::Read):
// a failed request leaves nothing behind.
//
// Example:
//   FakeClock clock;
//   FakeRecordsStorage storage;
//   auto core = RecordsCore::Create({.storage = &storage, .clock = &clock});
//   auto put = (*core)->PutPart(request);
#ifndef KINEX_SERVICES_RECORDS_RECORDS_CORE_H_
#define KINEX_SERVICES_RECORDS_RECORDS_CORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/records/random_id.h"
#include "services/records/records_storage.h"
#include "services/records/records_store.h"

namespace kinex::records {

// Thread-safe (storage serialises transactions).
class RecordsCore final : public RecordsStore {
 public:
  struct Options {
    // Required. Not owned; must outlive the core.
    RecordsStorage* storage = nullptr;
    // Required. Not owned; must outlive the core.
    const Clock* clock = nullptr;
    // Default "kinex.dev". Trust domain of publishers' SPIFFE IDs.
    std::string trust_domain = "kinex.dev";
    // Default 1048576 (config records.max_part_bytes). Largest serialized
    // part accepted; larger ones are RESOURCE_EXHAUSTED.
    int64_t max_part_bytes = 1 << 20;
    // Default: RandomId("kx_"). Source of new Kinex ids (tests inject).
    IdGenerator new_kinex_id;
  };

  // INVALID_ARGUMENT if storage or clock is missing or max_part_bytes < 1.
  static absl::StatusOr<std::unique_ptr<RecordsCore>> Create(Options options);

  absl::StatusOr<kinex::records::v1::PutPartResponse> PutPart(
      const kinex::records::v1::PutPartRequest& request) override;
  absl::StatusOr<kinex::records::v1::GetRecordResponse> GetRecord(
      const kinex::records::v1::GetRecordRequest& request) override;
  absl::StatusOr<kinex::records::v1::ResolveChildResponse> ResolveChild(
      const kinex::records::v1::ResolveChildRequest& request) override;
  absl::StatusOr<kinex::records::v1::ListChildrenResponse> ListChildren(
      const kinex::records::v1::ListChildrenRequest& request) override;
  absl::StatusOr<kinex::records::v1::ListPartVersionsResponse> ListPartVersions(
      const kinex::records::v1::ListPartVersionsRequest& request) override;

 private:
  explicit RecordsCore(Options options) : options_(std::move(options)) {}

  Options options_;
};

// The etag of a part version: hex of the first 12 bytes of SHA-256 over the
// version's key, number, time and payload. Thread-safe.
std::string PartEtag(const StoredPart& part);

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_RECORDS_CORE_H_
