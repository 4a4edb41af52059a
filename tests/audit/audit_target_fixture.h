// AuditTargetTest: a fixture running the real audit target (SQLite store in
// a temp dir, the test PKI's signing and pseudonym keys) behind an mTLS gRPC
// server on a free loopback port. Tests change config_ before Start(), and
// may Stop() and Start() again (e.g. after rotating the signing key).
#ifndef KINEX_TESTS_AUDIT_AUDIT_TARGET_FIXTURE_H_
#define KINEX_TESTS_AUDIT_AUDIT_TARGET_FIXTURE_H_

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kinex/config/v1/config.pb.h"
#include "services/audit/audit_target.h"
#include "services/common/tls.h"
#include "services/kinex/config.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace kinex::audit::testing {

class AuditTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kinex::testing::MakeUniqueTempDir("audit-target");
    config_.set_data_dir(dir_.string());
    config_.set_trust_domain(kinex::testing::kTrustDomain);
    const std::string pki = kinex::testing::TestPkiDir();
    config_.mutable_audit()->set_signing_key_file(pki + "/audit-signing.key");
    config_.mutable_audit()->set_pseudonym_key_file(pki + "/audit-pseudonym.key");
    ApplyConfigDefaults(config_);  // as LoadConfig does
  }
  void TearDown() override {
    Stop();
    std::filesystem::remove_all(dir_);
  }

  void Start() {
    auto target = MakeAuditTarget(config_, clock_);
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = std::make_unique<AuditTarget>(*std::move(target));
    auto creds = MakeServerCredentials(kinex::testing::ServiceTlsFiles("audit"));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(target_->grpc_service.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void Stop() {
    if (server_) server_->Shutdown();
    server_.reset();
    target_.reset();
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  kinex::config::v1::KinexConfig config_;
  std::unique_ptr<AuditTarget> target_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace kinex::audit::testing

#endif  // KINEX_TESTS_AUDIT_AUDIT_TARGET_FIXTURE_H_
