// What a running Kinex's audit store takes on disk per event, read from its
// SQLite file while kinex runs (issue #17's bytes target, measured on the
// product's own events in the same run as its throughput).
//
// A snapshot is one read transaction on a read-only connection: every
// table's and index's pages as SQLite's dbstat counts them (committed pages
// count whether they are still in the -wal file or already checkpointed, so
// the figure does not depend on when the checkpointer ran), the entries and
// the signed heads. Two snapshots around a run give the store's growth per
// event of the run, table by table; the seeding before it (one publish a
// commit, and every child's identifiers numbered once) is not counted.
//
// Example:
//   absl::StatusOr<AuditStoreSnapshot> before = ReadAuditStore(path);
//   ... load ...
//   absl::StatusOr<AuditStoreSnapshot> after = ReadAuditStore(path);
//   std::cout << DescribeAuditStoreGrowth(*before, *after);
#ifndef KINEX_BENCH_LOAD_AUDIT_STORE_BYTES_H_
#define KINEX_BENCH_LOAD_AUDIT_STORE_BYTES_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace kinex::bench {

struct AuditStoreSnapshot {
  int64_t entries = 0;
  int64_t heads = 0;
  // Bytes of pages by table or index name (dbstat's `name`).
  std::map<std::string, int64_t> bytes;
  // Bytes of the stored leaves (`leaf_data`) of entries from `leaves_from`
  // on (ReadAuditStore's argument); 0 when it is past the last entry.
  int64_t leaf_bytes = 0;
  int64_t leaves_from = 0;
};

// Reads the SQLite audit store at `sqlite_path` without writing to it.
// `leaves_from`: the first leaf whose stored bytes to sum (the `entries` of
// the snapshot before, so the leaves of the run are told from their rows).
absl::StatusOr<AuditStoreSnapshot> ReadAuditStore(const std::string& sqlite_path,
                                                  int64_t leaves_from = 0);

// "audit store growth over the run: ..." lines: bytes per entry added
// between the snapshots, by part of the store (entries with their stored
// leaves and rows, the query index by child, access notifications, signed
// heads and entries per head, the rest).
std::string DescribeAuditStoreGrowth(const AuditStoreSnapshot& before,
                                     const AuditStoreSnapshot& after);

}  // namespace kinex::bench

#endif  // KINEX_BENCH_LOAD_AUDIT_STORE_BYTES_H_
