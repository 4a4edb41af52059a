#include "bench/load/audit_store_bytes.h"

#include <sqlite3.h>

#include <memory>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kinex::bench {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

absl::Status Failed(sqlite3* db, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("audit store bytes: ", what, ": ", db != nullptr ? sqlite3_errmsg(db) : ""));
}

// Runs `sql` (one statement) and calls `row` for each result row.
template <typename Row>
absl::Status ForEach(sqlite3* db, const std::string& sql, Row row) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) return Failed(db, sql);
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt(raw);
  for (;;) {
    const int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) return absl::OkStatus();
    if (rc != SQLITE_ROW) return Failed(db, sql);
    row(stmt.get());
  }
}

// Which part of the store a table or index belongs to, for the report.
struct Part {
  const char* label;
  std::set<std::string> names;
};

const std::vector<Part>& Parts() {
  static const auto* parts = new std::vector<Part>{
      {"query index by child",
       {"audit_children", "sqlite_autoindex_audit_children_1", "audit_child_sets",
        "sqlite_autoindex_audit_child_sets_1", "audit_child_set_members",
        "audit_child_set_members_by_child", "audit_entry_child_sets",
        "audit_entry_child_sets_by_set"}},
      {"access notifications",
       {"audit_notifications", "audit_notifications_by_recipient", "audit_notifications_due"}},
      {"signed heads",
       {"audit_heads", "audit_signing_keys", "sqlite_autoindex_audit_signing_keys_1"}},
      {"principals", {"audit_principals", "sqlite_autoindex_audit_principals_1"}},
  };
  return *parts;
}

int64_t Grew(const AuditStoreSnapshot& before, const AuditStoreSnapshot& after,
             const std::string& name) {
  auto b = before.bytes.find(name);
  auto a = after.bytes.find(name);
  return (a == after.bytes.end() ? 0 : a->second) - (b == before.bytes.end() ? 0 : b->second);
}

}  // namespace

absl::StatusOr<AuditStoreSnapshot> ReadAuditStore(const std::string& sqlite_path,
                                                  int64_t leaves_from) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(sqlite_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK) return Failed(raw, absl::StrCat("open ", sqlite_path));
  sqlite3_busy_timeout(db.get(), 10000);
  // One read transaction: every figure from the same committed state.
  if (sqlite3_exec(db.get(), "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Failed(db.get(), "BEGIN");
  }
  AuditStoreSnapshot s;
  s.leaves_from = leaves_from;
  absl::Status st =
      ForEach(db.get(), "SELECT name, pgsize FROM dbstat('main', 1)", [&](sqlite3_stmt* row) {
        s.bytes[reinterpret_cast<const char*>(sqlite3_column_text(row, 0))] =
            sqlite3_column_int64(row, 1);
      });
  // Leaves are numbered from 0 without gaps, and heads are numbered from 1
  // without gaps (none is ever deleted): the largest numbers are the counts,
  // read from the end of each table's key.
  if (st.ok()) {
    st = ForEach(db.get(), "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM audit_entries",
                 [&](sqlite3_stmt* row) { s.entries = sqlite3_column_int64(row, 0); });
  }
  if (st.ok()) {
    st = ForEach(db.get(), "SELECT COALESCE(MAX(id), 0) FROM audit_heads",
                 [&](sqlite3_stmt* row) { s.heads = sqlite3_column_int64(row, 0); });
  }
  if (st.ok()) {
    st = ForEach(db.get(),
                 absl::StrCat("SELECT COALESCE(SUM(LENGTH(leaf_data)), 0) FROM audit_entries "
                              "WHERE leaf_index >= ",
                              leaves_from),
                 [&](sqlite3_stmt* row) { s.leaf_bytes = sqlite3_column_int64(row, 0); });
  }
  sqlite3_exec(db.get(), "COMMIT", nullptr, nullptr, nullptr);
  if (!st.ok()) return st;
  return s;
}

std::string DescribeAuditStoreGrowth(const AuditStoreSnapshot& before,
                                     const AuditStoreSnapshot& after) {
  const int64_t entries = after.entries - before.entries;
  if (entries <= 0) return "audit store growth over the run: no entries added\n";
  const auto per_entry = [&](int64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(entries);
  };
  int64_t total = 0;
  std::set<std::string> names;
  for (const auto& [name, bytes] : after.bytes) names.insert(name);
  for (const auto& [name, bytes] : before.bytes) names.insert(name);
  for (const std::string& name : names) total += Grew(before, after, name);

  std::vector<std::string> parts;
  const int64_t entry_rows = Grew(before, after, "audit_entries");
  // The leaves summed in `after` are those of this run when it was read
  // from the entries of `before` on.
  if (after.leaves_from == before.entries) {
    parts.push_back(absl::StrFormat("entries %.0f (stored leaves %.0f, rows %.0f)",
                                    per_entry(entry_rows), per_entry(after.leaf_bytes),
                                    per_entry(entry_rows - after.leaf_bytes)));
  } else {
    parts.push_back(absl::StrFormat("entries %.0f", per_entry(entry_rows)));
  }
  int64_t counted = entry_rows;
  for (const Part& part : Parts()) {
    int64_t bytes = 0;
    for (const std::string& name : part.names) bytes += Grew(before, after, name);
    counted += bytes;
    std::string line = absl::StrFormat("%s %.0f", part.label, per_entry(bytes));
    if (part.names.count("audit_heads") > 0 && after.heads > before.heads) {
      absl::StrAppend(&line, absl::StrFormat(" (%.1f entries a head)",
                                             static_cast<double>(entries) /
                                                 static_cast<double>(after.heads - before.heads)));
    }
    parts.push_back(std::move(line));
  }
  parts.push_back(absl::StrFormat("the rest %.0f", per_entry(total - counted)));
  return absl::StrFormat(
      "audit store growth over the run (SQLite dbstat, read-only, before and after; the -wal "
      "file's committed pages included): +%d entries, +%.1f MB: %.0f B an entry: %s\n",
      entries, static_cast<double>(total) / 1e6, per_entry(total), absl::StrJoin(parts, ", "));
}

}  // namespace kinex::bench
