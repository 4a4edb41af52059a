// The bulk builder's logs open as the log's own do: from the checkpoint it
// writes (re-hashing only the leaves after its last full block), and with
// appends by AuditLog between two growths.
#include "bench/audit/bulk_log.h"

#include <memory>
#include <string>

#include "bench/audit/event_mix.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/sqlite_log_storage.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"

namespace kinex::audit::bench {
namespace {

class BulkLogBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signer_ = *TreeHeadSigner::Generate();
    pseudonymizer_ = *ChildPseudonymizer::Create(std::string(32, 'k'));
  }

  std::unique_ptr<BulkLogBuilder> Builder(bool checkpoints) {
    auto b = BulkLogBuilder::Create({.signer = signer_,
                                     .pseudonymizer = pseudonymizer_,
                                     .batch_size = 100,
                                     .checkpoints = checkpoints});
    EXPECT_TRUE(b.ok()) << b.status();
    return *std::move(b);
  }

  std::unique_ptr<SqliteLogStorage> Open() {
    auto s = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }

  // The log over `storage`, its clock after the builder's last event.
  absl::StatusOr<std::unique_ptr<AuditLog>> OpenLog(SqliteLogStorage& storage,
                                                    const BulkLogBuilder& builder) {
    clock_.Set(builder.last_time() + absl::Seconds(1));
    AuditLog::Options options;
    options.storage = &storage;
    options.signer = signer_;
    options.pseudonymizer = pseudonymizer_;
    options.clock = &clock_;
    options.start_signer_thread = false;
    return AuditLog::Create(options);
  }

  absl::Status Grow(BulkLogBuilder& builder, SqliteLogStorage& storage, uint64_t size) {
    return builder.GrowTo(storage, size, [this](uint64_t i) { return mix_.Event(i); });
  }

  kinex::testing::ScopedTempDir dir_{"bulk-log"};
  std::shared_ptr<const TreeHeadSigner> signer_;
  std::shared_ptr<const ChildPseudonymizer> pseudonymizer_;
  const EventMix mix_{{.children = 50}};
  FakeClock clock_;
};

TEST_F(BulkLogBuilderTest, TheLogStartsFromTheBuildersCheckpoint) {
  auto builder = Builder(/*checkpoints=*/true);
  auto storage = Open();
  ASSERT_TRUE(Grow(*builder, *storage, 1000).ok());
  auto log = OpenLog(*storage, *builder);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->Size(), 1000u);
  const AuditLog::StartInfo info = (*log)->start_info();
  EXPECT_EQ(info.checkpoint_size, 1000u) << info.fallback;
  // 15 full blocks of 64 leaves; the 40 after them are re-hashed.
  EXPECT_EQ(info.rehashed, 40u);
  EXPECT_EQ(info.fallback, "");
}

TEST_F(BulkLogBuilderTest, AppendsByTheLogBetweenGrowthsAreCoveredByTheNextCheckpoint) {
  auto builder = Builder(/*checkpoints=*/true);
  auto storage = Open();
  ASSERT_TRUE(Grow(*builder, *storage, 500).ok());
  {
    auto log = OpenLog(*storage, *builder);
    ASSERT_TRUE(log.ok()) << log.status();
    for (uint64_t i = 500; i < 630; ++i) {
      ASSERT_TRUE((*log)->Append(mix_.Event(i)).ok());
    }
    // Its own checkpoint, beyond the builder's blocks.
    ASSERT_TRUE((*log)->WriteCheckpoint().ok());
  }
  ASSERT_TRUE(Grow(*builder, *storage, 1100).ok());
  EXPECT_EQ(builder->size(), 1100u);
  auto log = OpenLog(*storage, *builder);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->Size(), 1100u);
  const AuditLog::StartInfo info = (*log)->start_info();
  EXPECT_EQ(info.checkpoint_size, 1100u) << info.fallback;
  EXPECT_EQ(info.rehashed, 1100u - 17 * 64);
}

TEST_F(BulkLogBuilderTest, WithoutCheckpointsTheFirstOpenReHashesEveryLeaf) {
  auto builder = Builder(/*checkpoints=*/false);
  auto storage = Open();
  ASSERT_TRUE(Grow(*builder, *storage, 300).ok());
  auto log = OpenLog(*storage, *builder);
  ASSERT_TRUE(log.ok()) << log.status();
  const AuditLog::StartInfo info = (*log)->start_info();
  EXPECT_EQ(info.checkpoint_size, 0u);
  EXPECT_EQ(info.rehashed, 300u);
  EXPECT_EQ(info.fallback, "no checkpoint is stored");
}

TEST(BulkLogBuilderOptionsTest, ALeanLevelOutsideTheLogsRangeIsRefused) {
  auto b =
      BulkLogBuilder::Create({.signer = *TreeHeadSigner::Generate(),
                              .pseudonymizer = *ChildPseudonymizer::Create(std::string(32, 'k')),
                              .lean_level = 0});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message(), "BulkLogBuilder: options.lean_level must be 1 to 30, not 0");
}

}  // namespace
}  // namespace kinex::audit::bench
