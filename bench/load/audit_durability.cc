#include "bench/load/audit_durability.h"

#include <sys/statfs.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "kinex/config/v1/config.pb.h"
#include "tests/testing/paths.h"
#include "tests/testing/temp_dir.h"

namespace kinex::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The --config=... a process was started with.
std::string ConfigOf(pid_t pid) {
  const std::string all = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  for (absl::string_view arg : absl::StrSplit(all, '\0')) {
    if (absl::ConsumePrefix(&arg, "--config=")) return std::string(arg);
  }
  return "";
}

const char* SynchronousName(int v) {
  switch (v) {
    case 0:
      return "OFF";
    case 1:
      return "NORMAL";
    case 2:
      return "FULL";
    case 3:
      return "EXTRA";
    default:
      return "unknown";
  }
}

// The file system holding `path`: a name, and whether fsync reaches a disk.
std::string FileSystemOf(const std::string& path, bool& volatile_fs) {
  struct statfs fs;
  volatile_fs = false;
  if (statfs(path.c_str(), &fs) != 0) return "unknown (statfs failed)";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x01021994:
      volatile_fs = true;
      return "tmpfs";
    case 0x858458f6:
      volatile_fs = true;
      return "ramfs";
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794c7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    default:
      return absl::StrCat("type 0x", absl::Hex(static_cast<unsigned long>(fs.f_type)));
  }
}

// The journal mode the database file's header records: bytes 18 and 19
// (write and read format versions) are 2 in WAL mode, 1 otherwise.
std::string HeaderJournalMode(const std::string& db) {
  std::ifstream f(db, std::ios::binary);
  char header[20];
  if (!f.read(header, sizeof(header))) return "unreadable";
  if (std::string(header, 16) != std::string("SQLite format 3\0", 16)) return "not SQLite";
  if (header[18] == 2 && header[19] == 2) return "wal";
  if (header[18] == 1 && header[19] == 1) return "rollback (not WAL)";
  return absl::StrCat("unknown (", static_cast<int>(header[18]), ",", static_cast<int>(header[19]),
                      ")");
}

}  // namespace

absl::StatusOr<DurabilityProbe> DurabilityProbe::Create() {
  DurabilityProbe p;
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
  p.unavailable_ =
      "built with a sanitizer: no library may be preloaded ahead of its runtime (and a "
      "sanitizer build's figures are not Kinex's)";
  return p;
#endif
#endif
  if (const char* lib = std::getenv("KINEX_BENCH_SQLITE_PROBE_LIB"); lib != nullptr && *lib) {
    p.library_ = lib;
  } else {
    p.library_ = kinex::testing::BinaryDir() + "/lib/libkinex_bench_sqlite_probe.so";
  }
  if (!std::filesystem::exists(p.library_)) {
    p.unavailable_ = absl::StrCat("the probe library ", p.library_,
                                  " is missing (build the kinex-bench target, which builds it)");
    return p;
  }
  p.dir_ = kinex::testing::MakeUniqueTempDir("kinex-bench-probe");
  return p;
}

DurabilityProbe::DurabilityProbe(DurabilityProbe&& other) noexcept
    : dir_(std::move(other.dir_)),
      library_(std::move(other.library_)),
      unavailable_(std::move(other.unavailable_)) {
  other.dir_.clear();
}

DurabilityProbe::~DurabilityProbe() {
  if (dir_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::vector<std::string> DurabilityProbe::Env() const {
  if (!available()) return {};
  std::string preload = library_;
  if (const char* own = std::getenv("LD_PRELOAD"); own != nullptr && *own) {
    preload = absl::StrCat(own, ":", library_);
  }
  return {absl::StrCat("LD_PRELOAD=", preload), absl::StrCat("KINEX_BENCH_PROBE_DIR=", dir_)};
}

SyncCounts DurabilityProbe::Syncs() const {
  SyncCounts total;
  if (!available()) return total;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    if (!absl::StartsWith(e.path().filename().string(), "syncs.")) continue;
    const std::string data = ReadFile(e.path().string());
    if (data.size() < 24) continue;
    uint64_t v[3];
    std::memcpy(v, data.data(), sizeof(v));
    total.wal += v[0];
    total.db += v[1];
    total.other += v[2];
  }
  return total;
}

std::vector<ConnectionSettings> DurabilityProbe::Connections() const {
  std::vector<ConnectionSettings> out;
  if (!available()) return out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (!absl::StartsWith(name, "pragmas.")) continue;
    int pid = 0;
    if (!absl::SimpleAtoi(name.substr(8), &pid)) continue;
    std::map<std::string, ConnectionSettings> last;  // by connection handle
    std::istringstream lines(ReadFile(e.path().string()));
    std::string line;
    while (std::getline(lines, line)) {
      ConnectionSettings s;
      s.pid = pid;
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        if (absl::ConsumePrefix(&field, "db=")) s.db = std::string(field);
        if (absl::ConsumePrefix(&field, "conn=")) s.connection = std::string(field);
        if (absl::ConsumePrefix(&field, "synchronous=")) {
          if (!absl::SimpleAtoi(field, &s.synchronous)) s.synchronous = -1;
        }
        if (absl::ConsumePrefix(&field, "journal_mode=")) s.journal_mode = std::string(field);
      }
      last[s.connection] = s;
    }
    for (auto& [conn, s] : last) out.push_back(std::move(s));
  }
  return out;
}

std::string Durability::Describe() const {
  std::string out = "audit durability (read back from the running kinex):\n";
  for (const std::string& f : facts) absl::StrAppend(&out, "  ", f, "\n");
  absl::StrAppend(&out, "  => ",
                  durable ? "durable exactly as in production (synchronous=FULL, WAL)"
                          : absl::StrCat("NOT as in production: ", why_not),
                  "\n");
  return out;
}

Durability CheckDurability(const DurabilityProbe& probe, const std::vector<pid_t>& pids,
                           const SyncCounts& run_syncs, int64_t audited_events) {
  Durability d;
  std::vector<std::string> problems;
  // 1. The config: which process holds the audit log, and where.
  std::string audit_db;
  for (pid_t pid : pids) {
    const std::string path = ConfigOf(pid);
    kinex::config::v1::KinexConfig config;
    if (path.empty() || !google::protobuf::TextFormat::ParseFromString(ReadFile(path), &config)) {
      continue;
    }
    if (config.target() != "all" && config.target() != "audit") continue;
    const auto& storage = config.audit().storage();
    if (storage.has_postgres_conninfo()) {
      d.facts.push_back(absl::StrCat("config ", path, ": audit on PostgreSQL"));
      problems.push_back(
          "the audit log is on PostgreSQL (kinex-bench checks SQLite's durability only)");
      continue;
    }
    std::string file = storage.sqlite_path().empty() ? "audit.db" : storage.sqlite_path();
    if (!std::filesystem::path(file).is_absolute()) {
      file = (std::filesystem::path(config.data_dir()) / file).string();
    }
    audit_db = file;
    d.facts.push_back(absl::StrCat("config ", path, " (target ", config.target(),
                                   "): audit on SQLite ", file,
                                   " (the config has no durability setting; sql_db.cc opens "
                                   "every store with journal_mode=WAL, synchronous=FULL)"));
  }
  if (audit_db.empty() && problems.empty()) {
    problems.push_back("no kinex process with target all or audit, or its config did not parse");
  }
  // 2. The connections, as they answered the probe.
  if (!probe.available()) {
    problems.push_back(
        absl::StrCat("the settings could not be read back: ", probe.unavailable_reason()));
  } else if (!audit_db.empty()) {
    std::error_code ec;
    const std::string canonical = std::filesystem::weakly_canonical(audit_db, ec).string();
    int connections = 0;
    std::set<std::string> seen;
    for (const ConnectionSettings& c : probe.Connections()) {
      const std::string db = std::filesystem::weakly_canonical(c.db, ec).string();
      if (db != canonical && c.db != audit_db) continue;
      ++connections;
      seen.insert(absl::StrCat("synchronous=", SynchronousName(c.synchronous), " (", c.synchronous,
                               "), journal_mode=", c.journal_mode));
      if (c.synchronous != 2) {
        problems.push_back(absl::StrCat("an audit connection (pid ", c.pid, ") runs synchronous=",
                                        SynchronousName(c.synchronous), ", not FULL"));
      }
      if (c.journal_mode != "wal") {
        problems.push_back(absl::StrCat("an audit connection (pid ", c.pid,
                                        ") runs journal_mode=", c.journal_mode, ", not wal"));
      }
    }
    if (connections == 0) {
      problems.push_back(
          "no audit store connection reported its settings (the probe did not load into "
          "kinex, or the store was opened without a PRAGMA script)");
    } else {
      d.facts.push_back(absl::StrCat(
          connections, " audit store connection(s) answered: ", absl::StrJoin(seen, "; ")));
    }
  }
  // 3. The file: its header, and the file system under it.
  if (!audit_db.empty()) {
    const std::string header = HeaderJournalMode(audit_db);
    bool volatile_fs = false;
    const std::string fs =
        FileSystemOf(std::filesystem::path(audit_db).parent_path().string(), volatile_fs);
    d.facts.push_back(
        absl::StrCat("database file header: journal mode ", header, "; file system: ", fs));
    if (header != "wal") problems.push_back(absl::StrCat("the file's header says ", header));
    if (volatile_fs) {
      problems.push_back(
          absl::StrCat("the data directory is on ", fs,
                       ", where fsync reaches no disk; set TMPDIR to a directory on a disk"));
    }
  }
  // 4. The run: with FULL in WAL mode, every commit syncs the -wal file.
  if (audited_events > 0 && probe.available()) {
    d.facts.push_back(absl::StrCat(
        "syncs during the run: audit -wal ", run_syncs.wal, ", audit db ", run_syncs.db,
        ", other files ", run_syncs.other, "; ", audited_events, " audited events",
        run_syncs.wal > 0 ? absl::StrCat(" (",
                                         absl::SixDigits(static_cast<double>(audited_events) /
                                                         static_cast<double>(run_syncs.wal)),
                                         " events per -wal sync: the mean group-commit batch)")
                          : ""));
    if (run_syncs.wal == 0) {
      problems.push_back("events were audited but the audit -wal file was never synced");
    }
  }
  d.audit_db = audit_db;
  d.durable = problems.empty();
  d.why_not = absl::StrJoin(problems, "; ");
  return d;
}

}  // namespace kinex::bench
