#include "tests/integration/demo_children.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/status_macros.h"
#include "tests/testing/paths.h"

namespace kinex::testing {
namespace {

namespace ev1 = kinex::exchange::v1;

std::string DemoDir() { return SourceDir() + "/tools/demo/children"; }

absl::StatusOr<ev1::PublishRecordRequest> ReadPart(const std::string& path) {
  KINEX_ASSIGN_OR_RETURN(std::string json, ReadFileToString(path));
  ev1::PublishRecordRequest req;
  if (!google::protobuf::util::JsonStringToMessage(json, &req).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a PublishRecordRequest in JSON"));
  }
  return req;
}

}  // namespace

std::string Agency::CertBase() const {
  return absl::StrCat("agencies/", kind, "-", code, "-", role);
}

std::vector<std::string> DemoChildren() {
  std::vector<std::string> slugs;
  for (const auto& entry : std::filesystem::directory_iterator(DemoDir())) {
    if (entry.is_directory()) slugs.push_back(entry.path().filename().string());
  }
  std::sort(slugs.begin(), slugs.end());
  return slugs;
}

absl::StatusOr<std::vector<DemoPart>> DemoParts(const std::string& slug) {
  const std::string dir = absl::StrCat(DemoDir(), "/", slug, "/");
  std::vector<DemoPart> parts;
  KINEX_ASSIGN_OR_RETURN(ev1::PublishRecordRequest la, ReadPart(dir + "la.json"));
  const std::string la_code = la.child().la_child_id().la_code();
  parts.push_back({"la.json", {"local-authority", la_code, "social-worker"}, std::move(la)});
  for (const char* file : {"school.json", "health.json", "virtual-school.json", "police.json"}) {
    if (!std::filesystem::exists(dir + file)) continue;
    KINEX_ASSIGN_OR_RETURN(ev1::PublishRecordRequest req, ReadPart(dir + file));
    Agency owner;
    const std::string f = file;
    if (f == "school.json") {
      owner = {"school", req.record().scope().current_school_urn(), "designated-teacher"};
    } else if (f == "health.json") {
      owner = {"health", req.record().scope().registered_gp_ods_code(), "health-practitioner"};
    } else if (f == "virtual-school.json") {
      owner = {"virtual-school", la_code, "virtual-school-head"};
    } else {
      owner = {"police", req.record().scope().police_force_code(), "public-protection-officer"};
    }
    parts.push_back({f, std::move(owner), std::move(req)});
  }
  return parts;
}

absl::StatusOr<std::string> PublishDemoChild(const KinexCluster& cluster, const std::string& slug,
                                             const std::string& actor) {
  KINEX_ASSIGN_OR_RETURN(std::vector<DemoPart> parts, DemoParts(slug));
  std::string kinex_id;
  // The LA creates the child; every other agency attaches by the Kinex id the
  // LA shared and proves the child's date of birth (the LA's part names
  // them, so their links are confirmed at once).
  const kinex::record::v1::Date dob = parts.front().request.record().identity().date_of_birth();
  for (DemoPart& part : parts) {
    if (!kinex_id.empty()) {
      part.request.mutable_child()->set_kinex_id(kinex_id);
      *part.request.mutable_proof_date_of_birth() = dob;
    }
    auto stub = ev1::Exchange::NewStub(
        cluster.AgencyChannel(part.owner.kind, part.owner.code, part.owner.role));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", actor);
    ev1::PublishRecordResponse resp;
    grpc::Status s = stub->PublishRecord(&ctx, part.request, &resp);
    if (!s.ok()) {
      return absl::Status(FromGrpcStatus(s).code(),
                          absl::StrCat(slug, "/", part.file, ": ", s.error_message()));
    }
    kinex_id = resp.kinex_id();
  }
  return kinex_id;
}

}  // namespace kinex::testing
