#include "tests/testing/proc_fields.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace kinex::testing {
namespace {

TEST(ProcField, ReadsANumberOfStatusInItsOwnUnit) {
  EXPECT_GT(ProcField("/proc/self/status", "VmRSS"), 0);  // kB
  EXPECT_GE(ProcField("/proc/self/status", "Threads"), 1);
  EXPECT_EQ(ProcField("/proc/self/status", "Pid"), ::getpid());
}

TEST(ProcField, CountsBytesWritten) {
  const int64_t before = ProcField("/proc/self/io", "wchar");
  ASSERT_GE(before, 0);
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  const std::string bytes(4096, 'x');
  ASSERT_EQ(::write(::fileno(f), bytes.data(), bytes.size()), 4096);
  std::fclose(f);
  EXPECT_GE(ProcField("/proc/self/io", "wchar") - before, 4096);
}

TEST(ProcField, AMissingFileLineOrNumberIsMinusOne) {
  EXPECT_EQ(ProcField("/proc/self/no-such-file", "VmRSS"), -1);
  EXPECT_EQ(ProcField("/proc/self/status", "NoSuchField"), -1);
  EXPECT_EQ(ProcField("/proc/self/status", "Vm"), -1) << "a prefix of a key is not the key";
  EXPECT_EQ(ProcField("/proc/self/status", "Name"), -1) << "Name's value is not a number";
}

}  // namespace
}  // namespace kinex::testing
