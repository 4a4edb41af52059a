#include "tests/testing/subprocess.h"

#include <signal.h>

#include <optional>

#include "gtest/gtest.h"

namespace kinex::testing {
namespace {

TEST(SubprocessWaitForTest, AChildStillRunningIsLeftRunningThenReapedWhenItStops) {
  auto p = Subprocess::Start({"/bin/sleep", "30"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->WaitFor(absl::Milliseconds(50)), std::nullopt);
  (*p)->Signal(SIGTERM);
  EXPECT_EQ((*p)->WaitFor(absl::Seconds(30)), std::optional<int>(128 + SIGTERM));
  // Reaped: the code is kept.
  EXPECT_EQ((*p)->Wait(), 128 + SIGTERM);
  EXPECT_EQ((*p)->WaitFor(absl::ZeroDuration()), std::optional<int>(128 + SIGTERM));
}

TEST(SubprocessWaitForTest, AChildThatExitsGivesItsExitCode) {
  auto p = Subprocess::Start({"/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->WaitFor(absl::Seconds(30)), std::optional<int>(3));
}

}  // namespace
}  // namespace kinex::testing
