#include "services/kinex/reflection_service.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace kinex {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

// The file and every file it imports, each once, dependencies first.
void AddWithDependencies(const FileDescriptor* file, absl::flat_hash_set<std::string>& seen,
                         std::vector<std::string>& out) {
  if (!seen.insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddWithDependencies(file->dependency(i), seen, out);
  }
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out.push_back(proto.SerializeAsString());
}

// One version of the protocol; `Api` is grpc::reflection::v1 or v1alpha's
// generated types (the same messages in two packages).
template <typename Service, typename Request, typename Response>
class Reflection final : public Service::CallbackService {
 public:
  explicit Reflection(std::vector<std::string> listed) : listed_(std::move(listed)) {}

  grpc::ServerBidiReactor<Request, Response>* ServerReflectionInfo(
      grpc::CallbackServerContext*) override {
    return new Stream(this);
  }

 private:
  // Reads a request, writes its answer, reads the next; ends OK when the
  // client half-closes. One write in flight at a time.
  class Stream final : public grpc::ServerBidiReactor<Request, Response> {
   public:
    explicit Stream(const Reflection* service) : service_(service) { this->StartRead(&request_); }

    void OnReadDone(bool ok) override {
      if (!ok) {
        this->Finish(grpc::Status::OK);
        return;
      }
      response_.Clear();
      service_->Answer(request_, &response_);
      this->StartWrite(&response_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        this->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reflection: write failed"));
        return;
      }
      this->StartRead(&request_);
    }
    void OnDone() override { delete this; }

   private:
    const Reflection* const service_;
    Request request_;
    Response response_;
  };

  void Error(grpc::StatusCode code, std::string message, Response* response) const {
    response->mutable_error_response()->set_error_code(static_cast<int32_t>(code));
    response->mutable_error_response()->set_error_message(std::move(message));
  }

  void Files(const FileDescriptor* file, Response* response) const {
    absl::flat_hash_set<std::string> seen;
    std::vector<std::string> out;
    AddWithDependencies(file, seen, out);
    for (std::string& bytes : out) {
      response->mutable_file_descriptor_response()->add_file_descriptor_proto(std::move(bytes));
    }
  }

  void Answer(const Request& request, Response* response) const {
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    response->set_valid_host(request.host());
    *response->mutable_original_request() = request;
    switch (request.message_request_case()) {
      case Request::kListServices:
        for (const std::string& name : listed_) {
          response->mutable_list_services_response()->add_service()->set_name(name);
        }
        return;
      case Request::kFileByFilename:
        if (const FileDescriptor* f = pool->FindFileByName(request.file_by_filename())) {
          return Files(f, response);
        }
        return Error(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("file_by_filename: no file \"", request.file_by_filename(), "\""),
                     response);
      case Request::kFileContainingSymbol:
        if (const FileDescriptor* f =
                pool->FindFileContainingSymbol(request.file_containing_symbol())) {
          return Files(f, response);
        }
        return Error(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("file_containing_symbol: no symbol \"",
                                  request.file_containing_symbol(), "\""),
                     response);
      case Request::kFileContainingExtension: {
        const auto& ext = request.file_containing_extension();
        const google::protobuf::Descriptor* type =
            pool->FindMessageTypeByName(ext.containing_type());
        const google::protobuf::FieldDescriptor* field =
            type == nullptr ? nullptr : pool->FindExtensionByNumber(type, ext.extension_number());
        if (field != nullptr) return Files(field->file(), response);
        return Error(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("file_containing_extension: no extension ",
                                  ext.extension_number(), " of \"", ext.containing_type(), "\""),
                     response);
      }
      case Request::kAllExtensionNumbersOfType: {
        const google::protobuf::Descriptor* type =
            pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
        if (type == nullptr) {
          return Error(grpc::StatusCode::NOT_FOUND,
                       absl::StrCat("all_extension_numbers_of_type: no message type \"",
                                    request.all_extension_numbers_of_type(), "\""),
                       response);
        }
        std::vector<const google::protobuf::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        auto* numbers = response->mutable_all_extension_numbers_response();
        numbers->set_base_type_name(type->full_name());
        for (const auto* e : extensions) numbers->add_extension_number(e->number());
        return;
      }
      default:
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     "message_request: none of file_by_filename, file_containing_symbol, "
                     "file_containing_extension, all_extension_numbers_of_type, list_services",
                     response);
    }
  }

  const std::vector<std::string> listed_;
};

}  // namespace

ReflectionServices::ReflectionServices(std::vector<std::string> listed) {
  listed.push_back("grpc.reflection.v1.ServerReflection");
  listed.push_back("grpc.reflection.v1alpha.ServerReflection");
  std::sort(listed.begin(), listed.end());
  listed.erase(std::unique(listed.begin(), listed.end()), listed.end());
  namespace v1 = grpc::reflection::v1;
  namespace v1alpha = grpc::reflection::v1alpha;
  services_.push_back(std::make_unique<Reflection<v1::ServerReflection, v1::ServerReflectionRequest,
                                                  v1::ServerReflectionResponse>>(listed));
  services_.push_back(
      std::make_unique<Reflection<v1alpha::ServerReflection, v1alpha::ServerReflectionRequest,
                                  v1alpha::ServerReflectionResponse>>(listed));
}

ReflectionServices::~ReflectionServices() = default;

std::vector<grpc::Service*> ReflectionServices::services() const {
  std::vector<grpc::Service*> out;
  for (const auto& s : services_) out.push_back(s.get());
  return out;
}

}  // namespace kinex
