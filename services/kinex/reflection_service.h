// gRPC server reflection, v1 and v1alpha, for `kinex` when
// server.enable_reflection is set: what grpcurl and similar tools use to
// discover the API. Unlike the reflection plugin of Debian's gRPC (v1alpha
// only, every registered service listed, a server thread held per open
// stream) it:
// - lists only the services given: on a port that serves agencies, the
//   public ones (Exchange, Consent, Audit, health, reflection), never the
//   internal Policy and Records services that port also carries in
//   --target=all;
// - describes any file or symbol compiled into the binary (the schemas
//   are published in proto/; nothing about a child is in them);
// - runs on gRPC's callback API: an idle stream holds no thread.
//
// Example:
//   ReflectionServices reflection({"kinex.exchange.v1.Exchange", ...});
//   for (grpc::Service* s : reflection.services()) builder.RegisterService(s);
#ifndef KINEX_SERVICES_KINEX_REFLECTION_SERVICE_H_
#define KINEX_SERVICES_KINEX_REFLECTION_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

namespace kinex {

// Both versions of the reflection service over one list of service names.
class ReflectionServices {
 public:
  // `listed`: the fully qualified names list_services answers (the two
  // reflection services are added).
  explicit ReflectionServices(std::vector<std::string> listed);
  ~ReflectionServices();

  // The services to register (owned by this object, which must outlive the
  // server).
  std::vector<grpc::Service*> services() const;

 private:
  std::vector<std::unique_ptr<grpc::Service>> services_;
};

}  // namespace kinex

#endif  // KINEX_SERVICES_KINEX_REFLECTION_SERVICE_H_
