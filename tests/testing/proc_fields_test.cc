#include "tests/testing/proc_fields.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "tests/testing/temp_dir.h"

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

TEST(ReadProcStat, ReadsThisProcess) {
  const std::optional<ProcStat> before = ReadProcStat("/proc/self/stat");
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->comm, std::string("proc_fields_test").substr(0, 15));  // TASK_COMM_LEN
  EXPECT_EQ(before->ppid, ::getppid());
  // Spend CPU until the count (in clock ticks) moves: at most a few seconds.
  volatile uint64_t x = 0;
  std::optional<ProcStat> after;
  for (int round = 0; round < 100; ++round) {
    for (uint64_t i = 0; i < 10000000; ++i) x = x + i;
    after = ReadProcStat("/proc/self/stat");
    ASSERT_TRUE(after.has_value());
    if (after->cpu_seconds > before->cpu_seconds) break;
  }
  EXPECT_GT(after->cpu_seconds, before->cpu_seconds);
}

TEST(ReadProcStat, ANameWithSpacesAndParenthesesIsReadWhole) {
  ScopedTempDir dir("proc_fields");
  const std::string path = dir.File("stat");
  std::ofstream(path) << "42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 1\n";
  const std::optional<ProcStat> stat = ReadProcStat(path);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->comm, "a (b) c");
  EXPECT_EQ(stat->ppid, 7);
  EXPECT_DOUBLE_EQ(stat->cpu_seconds, 400.0 / static_cast<double>(sysconf(_SC_CLK_TCK)));
}

TEST(ReadProcStat, AMissingOrShortFileIsNullopt) {
  EXPECT_FALSE(ReadProcStat("/proc/self/no-such-file").has_value());
  ScopedTempDir dir("proc_fields");
  const std::string path = dir.File("stat");
  std::ofstream(path) << "42 (kinex) S 7 42\n";
  EXPECT_FALSE(ReadProcStat(path).has_value());
}

}  // namespace
}  // namespace kinex::testing
