// How durable the audit log of the `kinex` processes kinex-bench started
// really is, read back from those processes rather than assumed: a Kinex
// figure measured with a log that does not sync each commit is not a Kinex
// figure, so kinex-bench prints no Kinex/baseline ratio unless the log runs
// exactly as in production (SQLite synchronous=FULL, journal_mode=WAL, on a
// file system where fsync reaches the disk).
//
// Three sources, each printed:
//   - the process's config file (/proc/<pid>/cmdline --config=...): which
//     backend and file the audit log uses (the config has no durability
//     knob: sql_db.cc opens every SQLite store with WAL and FULL);
//   - bench/load/sqlite_probe_preload.c, preloaded into the processes:
//     `PRAGMA synchronous` and `PRAGMA journal_mode` as each of the audit
//     store's own connections answers them, and the syncs of its -wal and
//     database files (with FULL every commit syncs the -wal file);
//   - the database file itself (its header says WAL) and the file system it
//     is on (statfs: tmpfs or ramfs make fsync a no-op).
//
// Example:
//   auto probe = DurabilityProbe::Create();   // before the cluster starts
//   options.env = probe->Env();
//   ... start kinex ...
//   SyncCounts s0 = probe->Syncs();  ... load ...  SyncCounts s1 = probe->Syncs();
//   Durability d = CheckDurability(*probe, KinexChildPids(), s1 - s0, audited_events);
//   std::cout << d.Describe();
//   if (!d.durable) std::cout << "no ratio: " << d.why_not;
#ifndef KINEX_BENCH_LOAD_AUDIT_DURABILITY_H_
#define KINEX_BENCH_LOAD_AUDIT_DURABILITY_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kinex::bench {

// Syncs of the audit store's files (every probed process, summed).
struct SyncCounts {
  uint64_t wal = 0;    // the -wal file
  uint64_t db = 0;     // the database file (checkpoints)
  uint64_t other = 0;  // every other file the processes synced
  SyncCounts operator-(const SyncCounts& o) const {
    return {wal - o.wal, db - o.db, other - o.other};
  }
};

// One SQLite connection's settings, as it answered the probe.
struct ConnectionSettings {
  pid_t pid = 0;
  std::string db;          // its main database file
  std::string connection;  // the handle, to tell connections apart
  int synchronous = -1;    // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
  std::string journal_mode;
};

class DurabilityProbe {
 public:
  // A directory for the probe's files. When the probe library is missing
  // (or the bench is built with a sanitizer, whose runtime must come first)
  // the probe is unavailable: Env() is empty and every check says why.
  static absl::StatusOr<DurabilityProbe> Create();
  ~DurabilityProbe();
  DurabilityProbe(DurabilityProbe&& other) noexcept;
  DurabilityProbe& operator=(DurabilityProbe&&) = delete;

  // Environment for the kinex processes: LD_PRELOAD (this process's own
  // preloads kept, e.g. an allocator, with the probe after them) and where
  // the probe writes.
  std::vector<std::string> Env() const;
  bool available() const { return unavailable_.empty(); }
  const std::string& unavailable_reason() const { return unavailable_; }

  SyncCounts Syncs() const;
  // The last settings each connection reported (of every probed process).
  std::vector<ConnectionSettings> Connections() const;

 private:
  DurabilityProbe() = default;
  std::string dir_;
  std::string library_;
  std::string unavailable_;
};

struct Durability {
  bool durable = false;
  // Why no ratio may be printed (empty when durable).
  std::string why_not;
  // What was read back, one fact per line, for the report.
  std::vector<std::string> facts;
  // The audit store's SQLite file, as the config names it ("" when the
  // log is not on SQLite or no config said).
  std::string audit_db;
  // "audit durability (read back from the running kinex): ..." lines.
  std::string Describe() const;
};

// Checks the audit log of `pids` (the kinex processes) against production
// durability. `run_syncs` and `audited_events` are from the measured run:
// with events audited and no -wal sync at all the log did not sync its
// commits, whatever the settings say. Pass audited_events = 0 before a run.
Durability CheckDurability(const DurabilityProbe& probe, const std::vector<pid_t>& pids,
                           const SyncCounts& run_syncs, int64_t audited_events);

}  // namespace kinex::bench

#endif  // KINEX_BENCH_LOAD_AUDIT_DURABILITY_H_
