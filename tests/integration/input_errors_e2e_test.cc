// Requests that do not parse (issue 12, input errors), sent as raw bytes to
// a real `kinex --target=all` over mTLS: invalid UTF-8 in a proto3 string
// field, a truncated message, and unknown groups nested past protobuf's
// recursion limit. Every public method (Exchange, the Consent and Audit
// fronts, and the built-in health service) answers INVALID_ARGUMENT saying
// the request does not parse as its request type, not INTERNAL with an
// empty message.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "tests/integration/cluster.h"

namespace kinex::testing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "Test Practitioner");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return status;
}

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}

// A top-level string field of `type`, or null.
const FieldDescriptor* StringField(const Descriptor* type) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated()) return f;
  }
  return nullptr;
}

// The unparseable bodies for `type`, by case name.
std::vector<std::pair<std::string, std::string>> BadBodies(const Descriptor* type) {
  std::vector<std::pair<std::string, std::string>> out;
  if (const FieldDescriptor* f = StringField(type)) {
    out.emplace_back(absl::StrCat("invalid UTF-8 in ", f->name()),
                     Varint((f->number() << 3) | 2) + Varint(2) + "\xc3\x28");
  }
  // Field 1000, length-delimited, claims 10 bytes and has 2.
  out.emplace_back("truncated", Varint((1000 << 3) | 2) + Varint(10) + "ab");
  // 2,000 unknown groups (field 1000) opened and closed: past the
  // recursion limit (100).
  std::string groups;
  for (int i = 0; i < 2000; ++i) groups += Varint((1000 << 3) | 3);
  for (int i = 0; i < 2000; ++i) groups += Varint((1000 << 3) | 4);
  out.emplace_back("nested groups", groups);
  return out;
}

TEST(InputErrorsE2E, EveryPublicMethodAnswersInvalidArgumentForAnUnparseableRequest) {
  auto cluster = KinexCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto channel = (*cluster)->AgencyChannel("local-authority", "E09000033", "social-worker");
  int checked = 0;
  for (const google::protobuf::ServiceDescriptor* service :
       {kinex::exchange::v1::GetChildRecordRequest::descriptor()->file()->FindServiceByName(
            "Exchange"),
        kinex::consent::v1::RecordConsentRequest::descriptor()->file()->FindServiceByName(
            "Consent"),
        kinex::audit::v1::GetSignedTreeHeadRequest::descriptor()->file()->FindServiceByName(
            "Audit")}) {
    ASSERT_NE(service, nullptr);
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      if (method->client_streaming() || method->server_streaming()) continue;
      const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
      for (const auto& [name, bytes] : BadBodies(method->input_type())) {
        grpc::Status s = CallRaw(channel, path, bytes);
        EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << path << " " << name;
        EXPECT_EQ(s.error_message(),
                  absl::StrCat("request does not parse as ", method->input_type()->full_name()))
            << path << " " << name;
        ++checked;
      }
    }
  }
  // The built-in health service: HealthCheckRequest { string service = 1; }.
  const std::string health = "/grpc.health.v1.Health/Check";
  for (const std::string& bytes :
       {Varint((1 << 3) | 2) + Varint(2) + "\xc3\x28", Varint((1 << 3) | 2) + Varint(10) + "ab"}) {
    grpc::Status s = CallRaw(channel, health, bytes);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "request does not parse as grpc.health.v1.HealthCheckRequest");
    ++checked;
  }
  EXPECT_GT(checked, 40);
  // A request that parses still reaches the method (and its own checks).
  grpc::Status ok = CallRaw(channel, "/kinex.audit.v1.Audit/GetSignedTreeHead", "");
  EXPECT_EQ(ok.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ok.error_message();
  const std::string logs = (*cluster)->Logs();
  EXPECT_NE(logs.find("\"msg\":\"request does not parse\""), std::string::npos);
}

}  // namespace
}  // namespace kinex::testing
