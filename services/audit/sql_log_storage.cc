#include "services/audit/sql_log_storage.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "embedded_sql/audit_schema.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::SignedTreeHead;

constexpr absl::string_view kStore = "audit";

// An error this store makes, with its reason and the stable metadata.
absl::Status Failure(absl::Status status, absl::string_view reason, sql::Dialect dialect,
                     ErrorMetadata metadata = {}) {
  metadata["store"] = std::string(kStore);
  metadata["dialect"] = std::string(sql::DialectName(dialect));
  return WithErrorReason(std::move(status), reason, metadata);
}

constexpr const char* kTableNames[] = {"audit_entries", "audit_entry_children",
                                       "audit_idempotency_keys", "audit_heads"};

// The schema of `dialect`, from services/audit/schema/ (embedded at build
// time): the tables (0001_log.sql, both dialects through the SQL layer's
// placeholders), then the dialect's append-only triggers
// (0001_append_only.<dialect>.sql). One script, so PostgreSQL applies it as
// one transaction.
std::string Schema(sql::Dialect dialect) {
  return absl::StrCat(schema::k0001Log, dialect == sql::Dialect::kSqlite
                                            ? schema::k0001AppendOnlySqlite
                                            : schema::k0001AppendOnlyPostgres);
}

// Schema version 1 on a store from before schema versions. PostgreSQL
// stores already had the audit_* tables; SQLite ones had them unprefixed:
// drop their triggers and index (re-created under the new names by
// Schema()), then rename the tables. (Statements built here, not in a
// schema file: they name each old table.)
absl::Status AdoptUnversionedStore(sql::Db& db) {
  if (db.dialect() != sql::Dialect::kSqlite) return absl::OkStatus();
  for (const char* table : kTableNames) {
    const std::string old_name(absl::string_view(table).substr(sizeof("audit_") - 1));
    KINEX_ASSIGN_OR_RETURN(
        std::vector<sql::Row> found,
        db.Query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {old_name}));
    if (found.empty()) continue;
    KINEX_RETURN_IF_ERROR(db.ExecScript(
        absl::StrCat("DROP TRIGGER IF EXISTS ", old_name, "_no_update; DROP TRIGGER IF EXISTS ",
                     old_name, "_no_delete; ALTER TABLE ", old_name, " RENAME TO ", table, ";")));
  }
  return db.ExecScript("DROP INDEX IF EXISTS entry_children_by_leaf");
}

// Every failure of the store is UNAVAILABLE to the log (it fails closed and
// callers may retry), reason STORAGE_UNAVAILABLE with the failure's own
// reason as `cause`; the store's own verdicts pass through.
absl::Status StoreError(absl::Status s, sql::Dialect dialect) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return s;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kDataLoss:
      return sql::WithStore(std::move(s), kStore);
    default:
      return Failure(absl::UnavailableError(absl::StrCat("audit store: ", s.message())),
                     reason::kStorageUnavailable, dialect, {{"cause", ErrorReasonOf(s)}});
  }
}

int64_t Clamp(uint64_t v) { return static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX)); }

sql::Blob BlobOf(absl::string_view bytes) { return sql::Blob{std::string(bytes)}; }

constexpr char kHeadColumns[] =
    "SELECT tree_size, root_hash, ts_seconds, ts_nanos, key_id, signature FROM audit_heads ";

SignedTreeHead HeadFromRow(const sql::Row& row) {
  SignedTreeHead h;
  h.set_tree_size(static_cast<uint64_t>(row.Int(0)));
  h.set_root_hash(row.Str(1));
  h.mutable_timestamp()->set_seconds(row.Int(2));
  h.mutable_timestamp()->set_nanos(static_cast<int32_t>(row.Int(3)));
  h.set_key_id(row.Str(4));
  h.set_signature(row.Str(5));
  return h;
}

absl::StatusOr<StoredEntry> EntryFromRow(const sql::Row& row, sql::Dialect dialect) {
  StoredEntry e;
  e.leaf_index = static_cast<uint64_t>(row.Int(0));
  const std::string& hash = row.Str(1);
  if (hash.size() != kHashSize) {
    // A stored hash of the wrong size is corruption; report it at its index.
    return Failure(
        absl::DataLossError(absl::StrCat("entry ", e.leaf_index, ": stored leaf hash is ",
                                         hash.size(), " bytes, not ", kHashSize)),
        reason::kStorageCorrupt, dialect);
  }
  std::memcpy(e.leaf_hash.data(), hash.data(), kHashSize);
  e.leaf_data = row.Str(2);
  return e;
}

absl::Status InsertHead(sql::Db& db, const SignedTreeHead& head) {
  return db
      .Exec(
          "INSERT INTO audit_heads (tree_size, root_hash, ts_seconds, ts_nanos, "
          "key_id, signature) VALUES ($1, $2, $3, $4, $5, $6)",
          {Clamp(head.tree_size()), BlobOf(head.root_hash()), head.timestamp().seconds(),
           int64_t{head.timestamp().nanos()}, head.key_id(), BlobOf(head.signature())})
      .status();
}

// Reads are paged by leaf index so a million-entry log is never one result
// in memory (PostgreSQL reads whole results).
constexpr int64_t kReadChunk = 10000;

}  // namespace

absl::Status SqlLogStorage::Init() {
  absl::MutexLock lock(&write_mu_);
  sql::Db& db = *writer_;
  KINEX_RETURN_IF_ERROR(
      StoreError(sql::Migrate(db, kStore, {{1, AdoptUnversionedStore}}), dialect_));
  return StoreError(db.ExecScript(Schema(dialect_)), dialect_);
}

absl::Status SqlLogStorage::WithReader(const std::function<absl::Status(sql::Db&)>& fn) {
  absl::StatusOr<sql::Pool::Lease> reader = readers_.Acquire();
  if (!reader.ok()) return StoreError(reader.status(), dialect_);
  return StoreError(fn(**reader), dialect_);
}

absl::Status SqlLogStorage::Append(absl::Span<const NewEntry> entries, const SignedTreeHead* head) {
  absl::MutexLock lock(&write_mu_);
  sql::Db& db = *writer_;
  absl::Status appended = db.Transaction([&]() -> absl::Status {
    if (dialect_ == sql::Dialect::kPostgres) {
      KINEX_RETURN_IF_ERROR(db.Exec("LOCK TABLE audit_entries IN EXCLUSIVE MODE").status());
    }
    KINEX_ASSIGN_OR_RETURN(std::vector<sql::Row> size_rows,
                           db.Query("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM audit_entries"));
    const uint64_t size = static_cast<uint64_t>(size_rows.at(0).Int(0));
    if (!entries.empty() && entries[0].entry.leaf_index != size) {
      return Failure(absl::FailedPreconditionError(
                         absl::StrCat("append at leaf index ", entries[0].entry.leaf_index,
                                      " but the stored log size is ", size)),
                     reason::kAuditLogSizeMismatch, dialect_);
    }
    std::vector<std::vector<sql::Value>> rows, child_rows, key_rows;
    rows.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      const NewEntry& e = entries[i];
      if (e.entry.leaf_index != size + i) {
        return Failure(absl::InvalidArgumentError("batch leaf indices are not contiguous"),
                       reason::kStorageCallInvalid, dialect_);
      }
      const int64_t index = Clamp(e.entry.leaf_index);
      rows.push_back({index,
                      BlobOf(absl::string_view(
                          reinterpret_cast<const char*>(e.entry.leaf_hash.data()), kHashSize)),
                      BlobOf(e.entry.leaf_data), e.time_micros, int64_t{e.agency_kind},
                      e.agency_code, e.actor, int64_t{e.purpose}, int64_t{e.decision},
                      int64_t{e.break_glass ? 1 : 0}});
      for (const std::string& pseudonym : e.child_pseudonyms) {
        child_rows.push_back({pseudonym, index});
      }
      if (!e.idempotency_key.empty()) key_rows.push_back({e.idempotency_key, index});
    }
    if (!rows.empty()) {
      KINEX_RETURN_IF_ERROR(
          db.BulkInsert("audit_entries",
                        {"leaf_index", "leaf_hash", "leaf_data", "time_micros", "agency_kind",
                         "agency_code", "actor", "purpose", "decision", "break_glass"},
                        rows));
    }
    if (!child_rows.empty()) {
      KINEX_RETURN_IF_ERROR(
          db.BulkInsert("audit_entry_children", {"pseudonym", "leaf_index"}, child_rows));
    }
    if (!key_rows.empty()) {
      KINEX_RETURN_IF_ERROR(
          db.BulkInsert("audit_idempotency_keys", {"key", "leaf_index"}, key_rows));
    }
    if (head != nullptr) KINEX_RETURN_IF_ERROR(InsertHead(db, *head));
    return absl::OkStatus();
  });
  return StoreError(std::move(appended), dialect_);
}

absl::Status SqlLogStorage::AddHead(const SignedTreeHead& head) {
  absl::MutexLock lock(&write_mu_);
  return StoreError(InsertHead(*writer_, head), dialect_);
}

absl::StatusOr<uint64_t> SqlLogStorage::Size() {
  uint64_t size = 0;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::vector<sql::Row> rows,
                           db.Query("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM audit_entries"));
    size = static_cast<uint64_t>(rows.at(0).Int(0));
    return absl::OkStatus();
  }));
  return size;
}

absl::StatusOr<std::vector<SignedTreeHead>> SqlLogStorage::SelectHeads(
    absl::string_view where_order_limit, const std::vector<sql::Value>& params) {
  std::vector<SignedTreeHead> out;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) {
    return db.ForEach(absl::StrCat(kHeadColumns, where_order_limit), params,
                      [&](const sql::Row& row) {
                        out.push_back(HeadFromRow(row));
                        return absl::OkStatus();
                      });
  }));
  return out;
}

absl::StatusOr<std::optional<SignedTreeHead>> SqlLogStorage::LatestHead() {
  KINEX_ASSIGN_OR_RETURN(std::vector<SignedTreeHead> heads,
                         SelectHeads("ORDER BY id DESC LIMIT 1", {}));
  if (heads.empty()) return std::nullopt;
  return std::move(heads[0]);
}

absl::StatusOr<std::vector<SignedTreeHead>> SqlLogStorage::ListHeadsBetween(uint64_t min_size,
                                                                            uint64_t max_size) {
  return SelectHeads("WHERE tree_size > $1 AND tree_size <= $2 ORDER BY id",
                     {Clamp(min_size), Clamp(max_size)});
}

absl::StatusOr<std::vector<SignedTreeHead>> SqlLogStorage::ListHeads() {
  return SelectHeads("ORDER BY id", {});
}

absl::Status SqlLogStorage::ReadEntries(uint64_t begin, uint64_t end,
                                        const std::function<absl::Status(const StoredEntry&)>& fn) {
  absl::Status from_fn;  // the caller's own verdict passes through as is
  const absl::Status read = WithReader([&](sql::Db& db) -> absl::Status {
    int64_t next = Clamp(begin);
    const int64_t stop = Clamp(end);
    while (next < stop) {
      int64_t n = 0;
      KINEX_RETURN_IF_ERROR(
          db.ForEach("SELECT leaf_index, leaf_hash, leaf_data FROM audit_entries "
                     "WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index LIMIT $3",
                     {next, stop, kReadChunk}, [&](const sql::Row& row) -> absl::Status {
                       ++n;
                       KINEX_ASSIGN_OR_RETURN(StoredEntry e, EntryFromRow(row, db.dialect()));
                       next = static_cast<int64_t>(e.leaf_index) + 1;
                       from_fn = fn(e);
                       return from_fn;
                     }));
      if (n < kReadChunk) break;
    }
    return absl::OkStatus();
  });
  return from_fn.ok() ? read : from_fn;
}

absl::StatusOr<std::vector<StoredEntry>> SqlLogStorage::Query(const QueryFilter& filter,
                                                              size_t limit) {
  std::vector<sql::Value> params;
  // Appends `v` and returns its placeholder.
  auto param = [&](sql::Value v) {
    params.push_back(std::move(v));
    return absl::StrCat("$", params.size());
  };
  std::vector<std::string> where = {
      absl::StrCat("e.leaf_index >= ", param(Clamp(filter.begin_index))),
      absl::StrCat("e.leaf_index < ", param(Clamp(filter.end_index)))};
  std::string from = "audit_entries e";
  if (filter.child_pseudonym.has_value()) {
    from = "audit_entry_children c JOIN audit_entries e ON e.leaf_index = c.leaf_index";
    where.push_back(absl::StrCat("c.pseudonym = ", param(*filter.child_pseudonym)));
  }
  if (filter.agency_kind != 0) {
    where.push_back(absl::StrCat("e.agency_kind = ", param(int64_t{filter.agency_kind})));
  }
  if (!filter.agency_code.empty()) {
    where.push_back(absl::StrCat("e.agency_code = ", param(filter.agency_code)));
  }
  if (!filter.actor.empty()) where.push_back(absl::StrCat("e.actor = ", param(filter.actor)));
  if (filter.purpose != 0) {
    where.push_back(absl::StrCat("e.purpose = ", param(int64_t{filter.purpose})));
  }
  if (filter.decision != 0) {
    where.push_back(absl::StrCat("e.decision = ", param(int64_t{filter.decision})));
  }
  if (filter.break_glass_only) where.push_back("e.break_glass = 1");
  const std::string sql = absl::StrCat("SELECT e.leaf_index, e.leaf_hash, e.leaf_data FROM ", from,
                                       " WHERE ", absl::StrJoin(where, " AND "),
                                       " ORDER BY e.leaf_index LIMIT ", param(Clamp(limit)));
  std::vector<StoredEntry> out;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) {
    return db.ForEach(sql, params, [&](const sql::Row& row) -> absl::Status {
      KINEX_ASSIGN_OR_RETURN(StoredEntry e, EntryFromRow(row, db.dialect()));
      out.push_back(std::move(e));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::Status SqlLogStorage::ReadChildIndex(uint64_t begin, uint64_t end,
                                           const std::function<absl::Status(const IndexRow&)>& fn) {
  absl::Status from_fn;  // the caller's own verdict passes through as is
  const absl::Status read = WithReader([&](sql::Db& db) -> absl::Status {
    // Paged like ReadEntries; a page that fills up is cut before its last
    // leaf (whose rows may continue on the next page), so every leaf's rows
    // arrive whole.
    int64_t next = Clamp(begin);
    const int64_t stop = Clamp(end);
    std::vector<IndexRow> page;
    while (next < stop) {
      page.clear();
      KINEX_RETURN_IF_ERROR(
          db.ForEach("SELECT leaf_index, pseudonym FROM audit_entry_children "
                     "WHERE leaf_index >= $1 AND leaf_index < $2 "
                     "ORDER BY leaf_index, pseudonym LIMIT $3",
                     {next, stop, kReadChunk}, [&](const sql::Row& row) {
                       page.push_back({static_cast<uint64_t>(row.Int(0)), row.Str(1)});
                       return absl::OkStatus();
                     }));
      const bool full = static_cast<int64_t>(page.size()) == kReadChunk;
      const uint64_t last = page.empty() ? 0 : page.back().leaf_index;
      // A full page holding one leaf only cannot happen (at most 16
      // children per event); guard anyway so the loop always advances.
      const bool cut = full && page.front().leaf_index != last;
      for (const IndexRow& row : page) {
        if (cut && row.leaf_index == last) break;
        from_fn = fn(row);
        if (!from_fn.ok()) return from_fn;
      }
      if (!full) break;
      next = static_cast<int64_t>(cut ? last : last + 1);
    }
    return absl::OkStatus();
  });
  return from_fn.ok() ? read : from_fn;
}

absl::StatusOr<std::optional<uint64_t>> SqlLogStorage::LookupIdempotencyKey(
    const std::string& key) {
  std::optional<uint64_t> found;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) {
    return db.ForEach("SELECT leaf_index FROM audit_idempotency_keys WHERE key = $1", {key},
                      [&](const sql::Row& row) {
                        found = static_cast<uint64_t>(row.Int(0));
                        return absl::OkStatus();
                      });
  }));
  return found;
}

}  // namespace kinex::audit
