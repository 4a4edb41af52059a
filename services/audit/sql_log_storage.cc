#include "services/audit/sql_log_storage.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "embedded_sql/audit_schema.h"
#include "kinex/notifications/v1/notifications.pb.h"
#include "services/audit/stored_leaf.h"
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

// The tables of schema version 1 (audit_entry_children became version 5's
// audit_children and audit_child_entries).
constexpr const char* kVersion1Tables[] = {"audit_entries", "audit_entry_children",
                                           "audit_idempotency_keys", "audit_heads"};

// `tables` and their append-only triggers for `dialect` (`sqlite` or
// `postgres`): part of Schema(), and what a migration that makes new tables
// (to version 5, 8 or 9) makes before copying or numbering into them.
std::string WithAppendOnlyTriggers(sql::Dialect dialect, absl::string_view tables,
                                   absl::string_view sqlite, absl::string_view postgres) {
  return absl::StrCat(tables, dialect == sql::Dialect::kSqlite ? sqlite : postgres);
}

// The child pseudonyms' numbers (0005_child_index.sql), the principals
// (0008_principals.sql), the signing keys (0009_signing_keys.sql) and the
// query index by identifier set (0010_child_sets.sql), each with its
// triggers (0005, 0008, 0009, 0010_append_only.<dialect>.sql).
std::string ChildIndexSchema(sql::Dialect dialect) {
  return WithAppendOnlyTriggers(dialect, schema::k0005ChildIndex, schema::k0005AppendOnlySqlite,
                                schema::k0005AppendOnlyPostgres);
}
std::string PrincipalsSchema(sql::Dialect dialect) {
  return WithAppendOnlyTriggers(dialect, schema::k0008Principals, schema::k0008AppendOnlySqlite,
                                schema::k0008AppendOnlyPostgres);
}
std::string SigningKeysSchema(sql::Dialect dialect) {
  return WithAppendOnlyTriggers(dialect, schema::k0009SigningKeys, schema::k0009AppendOnlySqlite,
                                schema::k0009AppendOnlyPostgres);
}
std::string ChildSetsSchema(sql::Dialect dialect) {
  return WithAppendOnlyTriggers(dialect, schema::k0010ChildSets, schema::k0010AppendOnlySqlite,
                                schema::k0010AppendOnlyPostgres);
}

// Version 5's query index rows, one per pseudonym of each leaf, as the
// step to version 5 makes them and the step to version 10 reads them (and
// drops them): 0005_child_index.sql's second table until version 10.
constexpr absl::string_view kVersion5ChildEntries =
    "CREATE TABLE IF NOT EXISTS audit_child_entries (child_id {INT} NOT NULL, "
    "leaf_index {INT} NOT NULL, PRIMARY KEY (child_id, leaf_index)){WITHOUT_ROWID};"
    "CREATE INDEX IF NOT EXISTS audit_child_entries_by_leaf ON audit_child_entries (leaf_index);";

// The schema of `dialect`, from services/audit/schema/ (embedded at build
// time): the tables (0001_log.sql, both dialects through the SQL layer's
// placeholders), then the dialect's append-only triggers
// (0001_append_only.<dialect>.sql), then the notifications table
// (0002_notifications.sql, no triggers: its delivery state changes), the
// start-up checkpoints (0003_checkpoints.sql), the pseudonyms' numbers
// (ChildIndexSchema), the principals (PrincipalsSchema), the signing keys
// (SigningKeysSchema), then the query index by identifier set
// (ChildSetsSchema). One script, so PostgreSQL applies it as one
// transaction.
std::string Schema(sql::Dialect dialect) {
  return absl::StrCat(
      WithAppendOnlyTriggers(dialect, schema::k0001Log, schema::k0001AppendOnlySqlite,
                             schema::k0001AppendOnlyPostgres),
      schema::k0002Notifications, schema::k0003Checkpoints, ChildIndexSchema(dialect),
      PrincipalsSchema(dialect), SigningKeysSchema(dialect), ChildSetsSchema(dialect));
}

// The parameters of one statement, numbered as they are added.
class Params {
 public:
  // Appends `v` and returns its placeholder ($1, $2, ...).
  std::string Add(sql::Value v) {
    values_.push_back(std::move(v));
    return absl::StrCat("$", values_.size());
  }
  const std::vector<sql::Value>& values() const { return values_; }

 private:
  std::vector<sql::Value> values_;
};

// Whether `table` exists in the store's schema.
absl::StatusOr<bool> TableExists(sql::Db& db, const std::string& table) {
  KINEX_ASSIGN_OR_RETURN(
      std::vector<sql::Row> found,
      db.Query(db.dialect() == sql::Dialect::kSqlite
                   ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1"
                   : "SELECT 1 FROM information_schema.tables WHERE table_name = $1 "
                     "AND table_schema = current_schema()",
               {table}));
  return !found.empty();
}

// Whether `table` has a column `column`.
absl::StatusOr<bool> ColumnExists(sql::Db& db, const std::string& table,
                                  const std::string& column) {
  KINEX_ASSIGN_OR_RETURN(
      std::vector<sql::Row> found,
      db.Query(db.dialect() == sql::Dialect::kSqlite
                   ? "SELECT 1 FROM pragma_table_info($1) WHERE name = $2"
                   : "SELECT 1 FROM information_schema.columns WHERE table_name = $1 "
                     "AND column_name = $2 AND table_schema = current_schema()",
               {table, column}));
  return !found.empty();
}

// Schema version 1 on a store from before schema versions. PostgreSQL
// stores already had the audit_* tables; SQLite ones had them unprefixed:
// drop their triggers and index (re-created under the new names by
// Schema()), then rename the tables. (Statements built here, not in a
// schema file: they name each old table.)
absl::Status AdoptUnversionedStore(sql::Db& db) {
  if (db.dialect() != sql::Dialect::kSqlite) return absl::OkStatus();
  for (const char* table : kVersion1Tables) {
    const std::string old_name(absl::string_view(table).substr(sizeof("audit_") - 1));
    KINEX_ASSIGN_OR_RETURN(const bool found, TableExists(db, old_name));
    if (!found) continue;
    KINEX_RETURN_IF_ERROR(db.ExecScript(
        absl::StrCat("DROP TRIGGER IF EXISTS ", old_name, "_no_update; DROP TRIGGER IF EXISTS ",
                     old_name, "_no_delete; ALTER TABLE ", old_name, " RENAME TO ", table, ";")));
  }
  return db.ExecScript("DROP INDEX IF EXISTS entry_children_by_leaf");
}

// Schema version 5 on a store with version 1's audit_entry_children
// (pseudonym, leaf_index): number its pseudonyms in the order first indexed,
// copy its rows as (child_id, leaf_index), and drop it (its triggers and
// by-leaf index go with it). A new store has nothing to copy: Schema()
// makes the tables.
absl::Status NumberChildPseudonyms(sql::Db& db) {
  KINEX_ASSIGN_OR_RETURN(const bool old_index, TableExists(db, "audit_entry_children"));
  if (!old_index) return absl::OkStatus();
  KINEX_RETURN_IF_ERROR(db.ExecScript(ChildIndexSchema(db.dialect())));
  KINEX_RETURN_IF_ERROR(db.ExecScript(std::string(kVersion5ChildEntries)));
  return db.ExecScript(
      "INSERT INTO audit_children (pseudonym) SELECT pseudonym FROM audit_entry_children "
      "GROUP BY pseudonym ORDER BY MIN(leaf_index), pseudonym;"
      "INSERT INTO audit_child_entries (child_id, leaf_index) "
      "SELECT ch.child_id, c.leaf_index FROM audit_entry_children c "
      "JOIN audit_children ch ON ch.pseudonym = c.pseudonym;"
      "DROP TABLE audit_entry_children;");
}

// A script that rebuilds `table` in 0001_log.sql's shape under its own
// name, for a step that changes its columns. The table's triggers go first
// (Init re-creates them on the new table); it is renamed `old_name`, and on
// PostgreSQL so are its primary key's index and, for a table with a serial
// id, its sequence, so the new table can have its own. Then 0001_log.sql
// makes the new table, `copy` fills it from `old_name`, PostgreSQL's new
// sequence goes on from the largest id copied (SQLite's AUTOINCREMENT does
// by itself), and the old table is dropped. The caller runs it in one
// transaction, as Migrate runs every step.
std::string RebuildInNewShape(sql::Dialect dialect, absl::string_view table,
                              absl::string_view old_name, absl::string_view copy, bool serial_id) {
  if (dialect == sql::Dialect::kSqlite) {
    return absl::StrCat("DROP TRIGGER IF EXISTS ", table, "_no_update; ", "DROP TRIGGER IF EXISTS ",
                        table, "_no_delete; ", "ALTER TABLE ", table, " RENAME TO ", old_name, "; ",
                        schema::k0001Log, copy, " DROP TABLE ", old_name, ";");
  }
  return absl::StrCat(
      "DROP TRIGGER IF EXISTS ", table, "_append_only ON ", table, "; ", "ALTER TABLE ", table,
      " RENAME TO ", old_name, "; ", "ALTER INDEX ", table, "_pkey RENAME TO ", old_name, "_pkey; ",
      serial_id
          ? absl::StrCat("ALTER SEQUENCE ", table, "_id_seq RENAME TO ", old_name, "_id_seq; ")
          : "",
      schema::k0001Log, copy,
      serial_id
          ? absl::StrCat(" SELECT setval(pg_get_serial_sequence('", table,
                         "', 'id'), COALESCE((SELECT MAX(id) FROM ", table, "), 0) + 1, false);")
          : "",
      " DROP TABLE ", old_name, ";");
}

// Schema version 8 on a store whose audit_entries still has version 1's
// columns agency_kind, agency_code and actor: number its principals in the
// order first stored, then rebuild audit_entries with principal_id instead
// of the three, copying every row. A new store has nothing to number:
// Schema() makes the tables.
absl::Status NumberPrincipals(sql::Db& db) {
  KINEX_ASSIGN_OR_RETURN(const bool old_entries, ColumnExists(db, "audit_entries", "actor"));
  if (!old_entries) return absl::OkStatus();
  KINEX_RETURN_IF_ERROR(db.ExecScript(PrincipalsSchema(db.dialect())));
  return db.ExecScript(absl::StrCat(
      "INSERT INTO audit_principals (agency_kind, agency_code, actor) "
      "SELECT agency_kind, agency_code, actor FROM audit_entries "
      "GROUP BY agency_kind, agency_code, actor ORDER BY MIN(leaf_index);",
      RebuildInNewShape(
          db.dialect(), "audit_entries", "audit_entries_v7",
          "INSERT INTO audit_entries (leaf_index, leaf_hash, leaf_data, time_micros, "
          "principal_id, purpose, decision, break_glass) "
          "SELECT e.leaf_index, e.leaf_hash, e.leaf_data, e.time_micros, p.principal_id, "
          "e.purpose, e.decision, e.break_glass FROM audit_entries_v7 e "
          "JOIN audit_principals p ON p.agency_kind = e.agency_kind "
          "AND p.agency_code = e.agency_code AND p.actor = e.actor ORDER BY e.leaf_index;",
          /*serial_id=*/false)));
}

// Schema version 9 on a store whose audit_heads still has version 1's
// column key_id: number its key ids in the order first stored, then rebuild
// audit_heads with each head's key number in place of its key id, keeping
// each head's id. A new store has nothing to number: Schema() makes the
// tables.
absl::Status NumberSigningKeys(sql::Db& db) {
  KINEX_ASSIGN_OR_RETURN(const bool old_heads, ColumnExists(db, "audit_heads", "key_id"));
  if (!old_heads) return absl::OkStatus();
  KINEX_RETURN_IF_ERROR(db.ExecScript(SigningKeysSchema(db.dialect())));
  // The heads are copied into a new table rather than changed in place: an
  // UPDATE of every head and a dropped column would leave the table twice
  // its size on PostgreSQL (each head's old version, and the key id still in
  // each new one) and its pages as full as before on SQLite, until a VACUUM
  // with the service stopped.
  return db.ExecScript(absl::StrCat(
      "INSERT INTO audit_signing_keys (key_id) SELECT key_id FROM audit_heads "
      "GROUP BY key_id ORDER BY MIN(id);",
      RebuildInNewShape(
          db.dialect(), "audit_heads", "audit_heads_v8",
          "INSERT INTO audit_heads (id, tree_size, root_hash, ts_seconds, ts_nanos, "
          "key_number, signature) SELECT h.id, h.tree_size, h.root_hash, h.ts_seconds, "
          "h.ts_nanos, k.key_number, h.signature FROM audit_heads_v8 h "
          "JOIN audit_signing_keys k ON k.key_id = h.key_id ORDER BY h.id;",
          /*serial_id=*/true)));
}

// Schema version 10 on a store with version 5's audit_child_entries: group
// its rows by leaf into sets of child numbers (each set's members ascending,
// "3,17,42"), number the distinct sets in the order first stored, give each
// leaf its set's row, list each set's members as rows (from the first leaf
// that named it), and drop the old table (its triggers and by-leaf index go
// with it). SQLite's group_concat keeps no order of its own, so the members
// are concatenated as a window over the child numbers in order; PostgreSQL's
// string_agg takes the order. A new store has nothing to copy: Schema()
// makes the tables.
absl::Status NumberChildSets(sql::Db& db) {
  KINEX_ASSIGN_OR_RETURN(const bool old_index, TableExists(db, "audit_child_entries"));
  if (!old_index) return absl::OkStatus();
  KINEX_RETURN_IF_ERROR(db.ExecScript(ChildSetsSchema(db.dialect())));
  const bool sqlite = db.dialect() == sql::Dialect::kSqlite;
  return db.ExecScript(absl::StrCat(
      "CREATE TEMP TABLE audit_v9_leaf_sets AS ",
      sqlite ? "SELECT DISTINCT leaf_index, group_concat(child_id, ',') OVER (PARTITION BY "
               "leaf_index ORDER BY child_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
               "FOLLOWING) AS members FROM audit_child_entries;"
             : "SELECT leaf_index, string_agg(child_id::text, ',' ORDER BY child_id) AS members "
               "FROM audit_child_entries GROUP BY leaf_index;",
      "INSERT INTO audit_child_sets (members) SELECT members FROM audit_v9_leaf_sets "
      "GROUP BY members ORDER BY MIN(leaf_index);"
      "INSERT INTO audit_entry_child_sets (leaf_index, set_id) SELECT l.leaf_index, s.set_id "
      "FROM audit_v9_leaf_sets l JOIN audit_child_sets s ON s.members = l.members "
      "ORDER BY l.leaf_index;"
      "INSERT INTO audit_child_set_members (set_id, child_id) SELECT s.set_id, c.child_id "
      "FROM (SELECT members, MIN(leaf_index) AS leaf_index FROM audit_v9_leaf_sets "
      "GROUP BY members) f JOIN audit_child_sets s ON s.members = f.members "
      "JOIN audit_child_entries c ON c.leaf_index = f.leaf_index ORDER BY s.set_id, c.child_id;"
      "DROP TABLE audit_v9_leaf_sets;"
      "DROP TABLE audit_child_entries;"));
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

// The hash's bytes, in place.
absl::string_view HashBytes(const Hash& hash) {
  return absl::string_view(reinterpret_cast<const char*>(hash.data()), kHashSize);
}

// A head's columns, its key id read through the numbering: a number that
// names no key reads as the key id "", which fails the head's verification
// (0009_signing_keys.sql).
constexpr char kHeadColumns[] =
    "SELECT h.tree_size, h.root_hash, h.ts_seconds, h.ts_nanos, COALESCE(k.key_id, ''), "
    "h.signature FROM audit_heads h "
    "LEFT JOIN audit_signing_keys k ON k.key_number = h.key_number ";

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

// An entry as a read gives it, its leaf still in its stored form.
struct EntryRow {
  uint64_t leaf_index = 0;
  std::string hash;
  std::string stored;
  std::optional<int64_t> set_id;  // its set of children, if it names any
};

// What every read of entries selects, in EntryRow's order: the entry (e)
// and the set it names (ls), which a "KXAR" leaf is expanded with
// (stored_leaf.h).
constexpr absl::string_view kEntryColumns = "e.leaf_index, e.leaf_hash, e.leaf_data, ls.set_id";
constexpr absl::string_view kEntriesAndSets =
    "audit_entries e LEFT JOIN audit_entry_child_sets ls ON ls.leaf_index = e.leaf_index";

EntryRow EntryRowOf(const sql::Row& row) {
  EntryRow e;
  e.leaf_index = static_cast<uint64_t>(row.Int(0));
  e.hash = row.Str(1);
  e.stored = row.Str(2);
  if (!row.IsNull(3)) e.set_id = row.Int(3);
  return e;
}

// The entry of `row`, its leaf expanded with `children` (its set's
// pseudonyms, sorted as Append gave them to CompressLeaf).
absl::StatusOr<StoredEntry> EntryFromRow(const EntryRow& row,
                                         absl::Span<const std::string> children,
                                         sql::Dialect dialect) {
  StoredEntry e;
  e.leaf_index = row.leaf_index;
  if (row.hash.size() != kHashSize) {
    // A stored hash of the wrong size is corruption; report it at its index.
    return Failure(
        absl::DataLossError(absl::StrCat("entry ", e.leaf_index, ": stored leaf hash is ",
                                         row.hash.size(), " bytes, not ", kHashSize)),
        reason::kStorageCorrupt, dialect);
  }
  std::memcpy(e.leaf_hash.data(), row.hash.data(), kHashSize);
  absl::StatusOr<std::string> leaf = ExpandLeaf(row.stored, children);
  if (!leaf.ok()) {
    // AUDIT_INDEX_TAMPERED for a leaf that refers to more children than its
    // index rows give it, named as the log's index check names a leaf;
    // STORAGE_CORRUPT for anything else.
    const bool index = HasExplicitErrorReason(leaf.status()) &&
                       ErrorReasonOf(leaf.status()) == reason::kAuditIndexTampered;
    return Failure(
        absl::Status(leaf.status().code(),
                     index ? absl::StrCat("index: leaf ", e.leaf_index,
                                          ": child pseudonym row missing (its stored leaf "
                                          "refers to more children than the index gives it: ",
                                          leaf.status().message(), ")")
                           : absl::StrCat("entry ", e.leaf_index, ": ", leaf.status().message())),
        index ? reason::kAuditIndexTampered : reason::kStorageCorrupt, dialect,
        {{"leaf_index", absl::StrCat(e.leaf_index)}});
  }
  e.leaf_data = *std::move(leaf);
  return e;
}

// The number `select` reads for `values`, or, if it reads none, the number
// `insert ... RETURNING` gives them: how the principals are numbered once
// each (their UNIQUE constraint on three columns; a table of one text key
// is numbered by NumbersFor). Run in the caller's transaction, so a number
// is only ever given with the row that uses it.
absl::StatusOr<int64_t> NumberFor(sql::Db& db, absl::string_view select, absl::string_view insert,
                                  const std::vector<sql::Value>& values) {
  KINEX_ASSIGN_OR_RETURN(std::vector<sql::Row> rows, db.Query(select, values));
  if (rows.empty()) {
    KINEX_ASSIGN_OR_RETURN(rows, db.Query(insert, values));
  }
  return rows.at(0).Int(0);
}

// The kinex.notifications.v1 enum values the statements below spell as
// numbers (as the partial index audit_notifications_due does).
namespace nv1 = ::kinex::notifications::v1;
static_assert(nv1::BREAK_GLASS_REVIEW == 2 && nv1::ENCOMPASS == 3, "kind numbers in the SQL");
static_assert(nv1::PENDING == 1 && nv1::DELIVERED == 2 && nv1::ACKNOWLEDGED == 3,
              "state numbers in the SQL");

constexpr char kNotificationSelect[] =
    "SELECT leaf_index, ordinal, recipient_kind, recipient_code, kind, created_us, deadline_us, "
    "state, delivered_us, acked_us, acked_by, review_outcome, review_note, escalated_leaf, "
    "payload FROM audit_notifications";

// A notification as a row of audit_notifications, in the column order of
// kNotificationSelect (and of Append's BulkInsert).
std::vector<sql::Value> NotificationRow(const StoredNotification& n) {
  return {Clamp(n.key.leaf_index),
          int64_t{n.key.ordinal},
          int64_t{n.recipient_kind},
          n.recipient_code,
          int64_t{n.kind},
          n.created_us,
          n.deadline_us,
          int64_t{n.state},
          n.delivered_us,
          n.acked_us,
          n.acked_by,
          int64_t{n.review_outcome},
          n.review_note,
          n.escalated_leaf,
          BlobOf(n.payload)};
}

StoredNotification NotificationFromRow(const sql::Row& row) {
  StoredNotification n;
  n.key.leaf_index = static_cast<uint64_t>(row.Int(0));
  n.key.ordinal = static_cast<uint32_t>(row.Int(1));
  n.recipient_kind = static_cast<int>(row.Int(2));
  n.recipient_code = row.Str(3);
  n.kind = static_cast<int>(row.Int(4));
  n.created_us = row.Int(5);
  n.deadline_us = row.Int(6);
  n.state = static_cast<int>(row.Int(7));
  n.delivered_us = row.Int(8);
  n.acked_us = row.Int(9);
  n.acked_by = row.Str(10);
  n.review_outcome = static_cast<int>(row.Int(11));
  n.review_note = row.Str(12);
  n.escalated_leaf = row.Int(13);
  n.payload = row.Str(14);
  return n;
}

// Checks what `e` asks Append to write beside it: its notifications are
// keyed <its leaf>.0, .1, ... in order; its changes are recorded by it; a
// change that sets a time sets a non-zero one, and a review an outcome (a
// zero would leave the precondition true, so the change could apply twice).
absl::Status CheckNotifications(const NewEntry& e, sql::Dialect dialect) {
  const uint64_t leaf = e.entry.leaf_index;
  auto invalid = [&](std::string message) {
    return Failure(absl::InvalidArgumentError(std::move(message)), reason::kStorageCallInvalid,
                   dialect);
  };
  for (size_t i = 0; i < e.notifications.size(); ++i) {
    const NotificationKey& key = e.notifications[i].key;
    if (key.leaf_index != leaf || key.ordinal != i) {
      return invalid(absl::StrCat("entry ", leaf, ": notifications[", i, "].key is ",
                                  NotificationId(key), ", not ", leaf, ".", i));
    }
  }
  for (size_t i = 0; i < e.changes.size(); ++i) {
    const NotificationChange& c = e.changes[i];
    if (c.leaf_index != leaf) {
      return invalid(absl::StrCat("entry ", leaf, ": changes[", i, "].leaf_index is ", c.leaf_index,
                                  ", not the entry's"));
    }
    if (c.type != NotificationChange::Type::kEscalated && c.at_us <= 0) {
      return invalid(absl::StrCat("entry ", leaf, ": changes[", i, "].at_us is ", c.at_us,
                                  "; must be positive"));
    }
    if (c.type == NotificationChange::Type::kReviewed && c.review_outcome == 0) {
      return invalid(absl::StrCat("entry ", leaf, ": changes[", i,
                                  "].review_outcome is 0; a review must have an outcome"));
    }
  }
  return absl::OkStatus();
}

// Applies `c` to its notification if its precondition holds; otherwise (or
// when no such notification is stored) changes nothing. A review keeps the
// first acknowledgement's time and author when it was acknowledged before.
absl::Status ApplyChange(sql::Db& db, const NotificationChange& c) {
  constexpr char kKey[] = " WHERE leaf_index = $1 AND ordinal = $2 AND ";
  const int64_t leaf = Clamp(c.key.leaf_index);
  const int64_t ordinal = c.key.ordinal;
  switch (c.type) {
    case NotificationChange::Type::kDelivered:
      return db
          .Exec(absl::StrCat("UPDATE audit_notifications SET state = 2, delivered_us = $3", kKey,
                             "state = 1"),
                {leaf, ordinal, c.at_us})
          .status();
    case NotificationChange::Type::kAcknowledged:
      return db
          .Exec(absl::StrCat("UPDATE audit_notifications SET state = 3, acked_us = $3, "
                             "acked_by = $4",
                             kKey, "acked_us = 0"),
                {leaf, ordinal, c.at_us, c.by})
          .status();
    case NotificationChange::Type::kReviewed:
      return db
          .Exec(absl::StrCat("UPDATE audit_notifications SET state = 3, "
                             "acked_us = CASE WHEN acked_us = 0 THEN $3 ELSE acked_us END, "
                             "acked_by = CASE WHEN acked_us = 0 THEN $4 ELSE acked_by END, "
                             "review_outcome = $5, review_note = $6",
                             kKey, "review_outcome = 0"),
                {leaf, ordinal, c.at_us, c.by, int64_t{c.review_outcome}, c.note})
          .status();
    case NotificationChange::Type::kEscalated:
      return db
          .Exec(absl::StrCat("UPDATE audit_notifications SET escalated_leaf = $3", kKey,
                             "escalated_leaf < 0"),
                {leaf, ordinal, Clamp(c.leaf_index)})
          .status();
  }
  return absl::OkStatus();
}

// terms[begin, end) (not empty) joined by OR as a balanced tree: SQLite
// refuses an expression deeper than 1000, which a flat list of 1000 ORs
// (parsed left-deep) is.
std::string BalancedOr(const std::vector<std::string>& terms, size_t begin, size_t end) {
  if (end - begin == 1) return terms[begin];
  const size_t mid = begin + (end - begin) / 2;
  return absl::StrCat("(", BalancedOr(terms, begin, mid), " OR ", BalancedOr(terms, mid, end), ")");
}

// Reads are paged by leaf index so a million-entry log is never one result
// in memory (PostgreSQL reads whole results).
constexpr int64_t kReadChunk = 10000;

// Runs `select` (ordered by its first column, an index, with $1 the first
// index, $2 the end and $3 the page size) page by page over [begin, end),
// calling `fn` for each row until it fails, and `after_page` (if given)
// after each page's rows.
absl::Status ForEachPage(sql::Db& db, const std::string& select, uint64_t begin, uint64_t end,
                         const std::function<absl::Status(const sql::Row&)>& fn,
                         const std::function<absl::Status()>& after_page = nullptr) {
  int64_t next = Clamp(begin);
  const int64_t stop = Clamp(end);
  while (next < stop) {
    int64_t n = 0;
    KINEX_RETURN_IF_ERROR(
        db.ForEach(select, {next, stop, kReadChunk}, [&](const sql::Row& row) -> absl::Status {
          ++n;
          next = row.Int(0) + 1;
          return fn(row);
        }));
    if (after_page != nullptr) KINEX_RETURN_IF_ERROR(after_page());
    if (n < kReadChunk) break;
  }
  return absl::OkStatus();
}

// Runs `select` (ending "... IN (") with `values` as the list, closed, a
// chunk of them at a time (SQLite takes at most 32,766 parameters).
absl::Status ForEachIn(sql::Db& db, absl::string_view select, absl::Span<const sql::Value> values,
                       const std::function<absl::Status(const sql::Row&)>& fn) {
  constexpr size_t kPerLookup = 256;
  for (size_t at = 0; at < values.size(); at += kPerLookup) {
    Params params;
    std::vector<std::string> placeholders;
    for (size_t i = at; i < std::min(values.size(), at + kPerLookup); ++i) {
      placeholders.push_back(params.Add(values[i]));
    }
    KINEX_RETURN_IF_ERROR(db.ForEach(absl::StrCat(select, absl::StrJoin(placeholders, ", "), ")"),
                                     params.values(), fn));
  }
  return absl::OkStatus();
}

// `rows` as entries, in order, to `fn` until it fails: each "KXAR" leaf
// expanded with its set's pseudonyms (stored_leaf.h), read for all the
// rows' sets in one lookup of the query index (a few statements; the index
// is read afresh by every read, never cached, so an edit of it shows at
// once).
absl::Status ExpandRows(sql::Db& db, absl::Span<const EntryRow> rows,
                        const std::function<absl::Status(StoredEntry)>& fn) {
  std::vector<sql::Value> sets;
  absl::flat_hash_map<int64_t, std::vector<std::string>> children;
  for (const EntryRow& row : rows) {
    if (row.set_id.has_value() && LeafRefersToChildren(row.stored) &&
        children.try_emplace(*row.set_id).second) {
      sets.push_back(*row.set_id);
    }
  }
  KINEX_RETURN_IF_ERROR(ForEachIn(db,
                                  "SELECT m.set_id, c.pseudonym FROM audit_child_set_members m "
                                  "JOIN audit_children c ON c.child_id = m.child_id "
                                  "WHERE m.set_id IN (",
                                  sets, [&](const sql::Row& row) {
                                    children[row.Int(0)].push_back(row.Str(1));
                                    return absl::OkStatus();
                                  }));
  for (auto& [set, pseudonyms] : children) std::sort(pseudonyms.begin(), pseudonyms.end());
  for (const EntryRow& row : rows) {
    const auto found = row.set_id.has_value() ? children.find(*row.set_id) : children.end();
    KINEX_ASSIGN_OR_RETURN(
        StoredEntry e,
        EntryFromRow(row, found == children.end() ? absl::Span<const std::string>() : found->second,
                     db.dialect()));
    KINEX_RETURN_IF_ERROR(fn(std::move(e)));
  }
  return absl::OkStatus();
}

// A table that numbers distinct text keys (audit_children numbers
// pseudonyms, audit_child_sets the members of sets of child numbers,
// audit_signing_keys the ids of the keys that signed the heads).
struct NumberedTable {
  absl::string_view table;
  absl::string_view number;  // its number column
  absl::string_view key;     // its UNIQUE text column
};
constexpr NumberedTable kChildren{"audit_children", "child_id", "pseudonym"};
constexpr NumberedTable kChildSets{"audit_child_sets", "set_id", "members"};
constexpr NumberedTable kSigningKeys{"audit_signing_keys", "key_number", "key_id"};

// What NumbersFor read or gave.
struct Numbers {
  absl::flat_hash_map<std::string, int64_t> ids;  // every key's number
  std::vector<std::string> given;                 // the keys numbered now
};

// The number of each of `keys` in `table`, numbering those not yet stored;
// those in `known` (numbers read or given before: they never change) are
// not looked up. Called in the Append transaction, so a number is only ever
// given together with the index rows that use it.
absl::StatusOr<Numbers> NumbersFor(sql::Db& db, const NumberedTable& table,
                                   std::vector<std::string> keys,
                                   const absl::flat_hash_map<std::string, int64_t>& known) {
  Numbers out;
  keys.erase(std::remove_if(keys.begin(), keys.end(),
                            [&](const std::string& k) {
                              auto it = known.find(k);
                              if (it == known.end()) return false;
                              out.ids.emplace(k, it->second);
                              return true;
                            }),
             keys.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  KINEX_RETURN_IF_ERROR(ForEachIn(db,
                                  absl::StrCat("SELECT ", table.number, ", ", table.key, " FROM ",
                                               table.table, " WHERE ", table.key, " IN ("),
                                  std::vector<sql::Value>(keys.begin(), keys.end()),
                                  [&](const sql::Row& row) {
                                    out.ids.emplace(row.Str(1), row.Int(0));
                                    return absl::OkStatus();
                                  }));
  const std::string insert = absl::StrCat("INSERT INTO ", table.table, " (", table.key,
                                          ") VALUES ($1) RETURNING ", table.number);
  for (const std::string& k : keys) {
    if (out.ids.contains(k)) continue;
    KINEX_ASSIGN_OR_RETURN(std::vector<sql::Row> rows, db.Query(insert, {k}));
    out.ids.emplace(k, rows.at(0).Int(0));
    out.given.push_back(k);
  }
  return out;
}

// Stores `head`, numbering its key id (audit_signing_keys) if it is new; a
// key in `known` (numbers read or given before: they never change) is not
// looked up, and `given` gets the number read or given otherwise. Run in a
// transaction (the caller's), as NumbersFor.
absl::Status InsertHead(sql::Db& db, const SignedTreeHead& head,
                        const absl::flat_hash_map<std::string, int64_t>& known,
                        absl::flat_hash_map<std::string, int64_t>& given) {
  KINEX_ASSIGN_OR_RETURN(Numbers keys, NumbersFor(db, kSigningKeys, {head.key_id()}, known));
  const int64_t key_number = keys.ids.at(head.key_id());
  if (!known.contains(head.key_id())) given[head.key_id()] = key_number;
  return db
      .Exec(
          "INSERT INTO audit_heads (tree_size, root_hash, ts_seconds, ts_nanos, "
          "key_number, signature) VALUES ($1, $2, $3, $4, $5, $6)",
          {Clamp(head.tree_size()), BlobOf(head.root_hash()), head.timestamp().seconds(),
           int64_t{head.timestamp().nanos()}, key_number, BlobOf(head.signature())})
      .status();
}

// The members text of a set of child numbers, given ascending and without
// repeats, as audit_child_sets keeps it: in decimal, separated by commas
// ("3,17,42").
std::string MembersText(absl::Span<const int64_t> ascending) {
  return absl::StrJoin(ascending, ",");
}

// The child numbers of a members text, or nullopt unless it is exactly as
// MembersText writes it (one or more numbers, ascending, none repeated, no
// sign, space or leading zero).
std::optional<std::vector<int64_t>> ParseMembers(absl::string_view text) {
  std::vector<int64_t> numbers;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(part, &n) || absl::StrCat(n) != part) return std::nullopt;
    if (!numbers.empty() && n <= numbers.back()) return std::nullopt;
    numbers.push_back(n);
  }
  return numbers;
}

// The pseudonym of each of `numbers` that audit_children numbers.
absl::StatusOr<absl::flat_hash_map<int64_t, std::string>> PseudonymsOf(
    sql::Db& db, std::vector<int64_t> numbers) {
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  absl::flat_hash_map<int64_t, std::string> out;
  KINEX_RETURN_IF_ERROR(
      ForEachIn(db, "SELECT child_id, pseudonym FROM audit_children WHERE child_id IN (",
                std::vector<sql::Value>(numbers.begin(), numbers.end()), [&](const sql::Row& row) {
                  out.emplace(row.Int(0), row.Str(1));
                  return absl::OkStatus();
                }));
  return out;
}

// The principal_id of each entry's principal, in entry order, numbering
// those not yet stored; those in `known` (numbers read or given before: they
// never change) are not looked up. `ids` gets every number read or given.
// Called in the Append transaction, as NumbersFor.
absl::StatusOr<std::vector<int64_t>> PrincipalIds(
    sql::Db& db, absl::Span<const NewEntry> entries,
    const absl::flat_hash_map<SqlLogStorage::PrincipalKey, int64_t>& known,
    absl::flat_hash_map<SqlLogStorage::PrincipalKey, int64_t>& ids) {
  std::vector<int64_t> out;
  out.reserve(entries.size());
  for (const NewEntry& e : entries) {
    SqlLogStorage::PrincipalKey key{e.agency_kind, e.agency_code, e.actor};
    if (auto it = known.find(key); it != known.end()) {
      out.push_back(it->second);
      continue;
    }
    if (auto it = ids.find(key); it != ids.end()) {
      out.push_back(it->second);
      continue;
    }
    KINEX_ASSIGN_OR_RETURN(
        const int64_t id,
        NumberFor(db,
                  "SELECT principal_id FROM audit_principals WHERE agency_kind = $1 AND "
                  "agency_code = $2 AND actor = $3",
                  "INSERT INTO audit_principals (agency_kind, agency_code, actor) VALUES ($1, "
                  "$2, $3) RETURNING principal_id",
                  {int64_t{e.agency_kind}, e.agency_code, e.actor}));
    out.push_back(id);
    ids.emplace(std::move(key), id);
  }
  return out;
}

// Whether each set's member rows (audit_child_set_members, what a query by
// child reads) are exactly the child numbers its members text lists (what
// the start-up index check reads against the leaves). A member row deleted
// or moved would hide a set's events from a child's query, unseen by that
// check: DATA_LOSS, AUDIT_INDEX_TAMPERED, naming the first set that
// differs. Read a page of sets at a time, in set order, with the member
// rows of its range of set numbers (the last page's range open-ended, and
// the first's from the lowest number, so rows of no set are read too): the
// work grows with the sets (a few per child), not with the log.
absl::Status CheckSetMembers(sql::Db& db) {
  constexpr int64_t kSetsPerPage = 4096;
  const auto differs = [&db](int64_t set) {
    return Failure(absl::DataLossError(absl::StrCat(
                       "audit store: the query index's member rows of child set ", set,
                       " are not the children it lists: the index was edited; refusing to open")),
                   reason::kAuditIndexTampered, db.dialect(), {{"set_id", absl::StrCat(set)}});
  };
  std::map<int64_t, std::string> texts;
  std::map<int64_t, std::vector<int64_t>> rows;
  int64_t from = std::numeric_limits<int64_t>::min();
  while (true) {
    texts.clear();
    rows.clear();
    KINEX_RETURN_IF_ERROR(db.ForEach(
        "SELECT set_id, members FROM audit_child_sets WHERE set_id >= $1 ORDER BY set_id "
        "LIMIT $2",
        {from, kSetsPerPage}, [&](const sql::Row& row) {
          texts[row.Int(0)] = row.Str(1);
          return absl::OkStatus();
        }));
    const bool last_page = static_cast<int64_t>(texts.size()) < kSetsPerPage;
    const int64_t to = last_page ? std::numeric_limits<int64_t>::max() : texts.rbegin()->first;
    KINEX_RETURN_IF_ERROR(
        db.ForEach("SELECT set_id, child_id FROM audit_child_set_members WHERE set_id >= $1 AND "
                   "set_id <= $2 ORDER BY set_id, child_id",
                   {from, to}, [&](const sql::Row& row) {
                     rows[row.Int(0)].push_back(row.Int(1));
                     return absl::OkStatus();
                   }));
    // Both in set order: the first set either side that differs.
    auto text = texts.begin();
    auto members = rows.begin();
    while (text != texts.end() || members != rows.end()) {
      if (text == texts.end() || (members != rows.end() && members->first < text->first)) {
        return differs(members->first);  // member rows of no set
      }
      const std::optional<std::vector<int64_t>> listed = ParseMembers(text->second);
      if (members == rows.end() || members->first != text->first || !listed.has_value() ||
          members->second != *listed) {
        return differs(text->first);
      }
      ++text;
      ++members;
    }
    if (last_page) return absl::OkStatus();
    from = to + 1;
  }
}

}  // namespace

absl::Status SqlLogStorage::Init() {
  absl::MutexLock lock(&write_mu_);
  sql::Db& db = *writer_;
  KINEX_RETURN_IF_ERROR(
      StoreError(sql::Migrate(db, kStore,
                              {{1, AdoptUnversionedStore},
                               // audit_notifications: made by Schema(), applied below.
                               {2, [](sql::Db&) { return absl::OkStatus(); }},
                               // audit_tree_blocks, audit_checkpoints: likewise.
                               {3, [](sql::Db&) { return absl::OkStatus(); }},
                               // Leaves may be stored compressed
                               // (stored_leaf.h): no table changes, but a
                               // binary from before cannot read them.
                               {4, [](sql::Db&) { return absl::OkStatus(); }},
                               {5, NumberChildPseudonyms},
                               // Leaves may be stored with zstd and
                               // dictionary 2 (stored_leaf.h): likewise.
                               {6, [](sql::Db&) { return absl::OkStatus(); }},
                               // Leaves may be stored with dictionary 3
                               // (stored_leaf.h): likewise.
                               {7, [](sql::Db&) { return absl::OkStatus(); }},
                               {8, NumberPrincipals},
                               {9, NumberSigningKeys},
                               {10, NumberChildSets},
                               // Leaves may refer to their entry's child
                               // pseudonyms in the query index
                               // (stored_leaf.h, "KXAR"): no table changes,
                               // but a binary from before cannot read them.
                               {11, [](sql::Db&) { return absl::OkStatus(); }}}),
                 dialect_));
  KINEX_RETURN_IF_ERROR(StoreError(db.ExecScript(Schema(dialect_)), dialect_));
  // Each pseudonym is numbered once (the UNIQUE constraint); a second number
  // for one, which only an edit of the file or the schema can make, would
  // let a child's query read the wrong number and miss its events.
  absl::StatusOr<std::vector<sql::Row>> twice = db.Query(
      "SELECT MIN(child_id), MAX(child_id) FROM audit_children "
      "GROUP BY pseudonym HAVING COUNT(*) > 1 LIMIT 1");
  if (!twice.ok()) return StoreError(twice.status(), dialect_);
  if (!twice->empty()) {
    return Failure(absl::DataLossError(absl::StrCat(
                       "audit store: the query index numbers one pseudonym more than once (child "
                       "numbers ",
                       twice->front().Int(0), " and ", twice->front().Int(1),
                       "): the index was edited; refusing to open")),
                   reason::kAuditIndexTampered, dialect_);
  }
  return StoreError(CheckSetMembers(db), dialect_);
}

absl::Status SqlLogStorage::WithReader(const std::function<absl::Status(sql::Db&)>& fn) {
  absl::StatusOr<sql::Pool::Lease> reader = readers_.Acquire();
  if (!reader.ok()) return StoreError(reader.status(), dialect_);
  return StoreError(fn(**reader), dialect_);
}

absl::Status SqlLogStorage::Append(absl::Span<const NewEntry> entries, const SignedTreeHead* head) {
  // Stored compressed (stored_leaf.h), before the writer is taken, each
  // with its pseudonyms sorted and distinct, as a read gives them back from
  // the entry's set.
  std::vector<std::string> stored;
  stored.reserve(entries.size());
  std::vector<std::string> children;
  for (const NewEntry& e : entries) {
    children = e.child_pseudonyms;
    std::sort(children.begin(), children.end());
    children.erase(std::unique(children.begin(), children.end()), children.end());
    stored.push_back(CompressLeaf(e.entry.leaf_data, children));
  }
  absl::MutexLock lock(&write_mu_);
  sql::Db& db = *writer_;
  absl::flat_hash_map<std::string, int64_t> child_ids, set_ids;
  absl::flat_hash_map<PrincipalKey, int64_t> principal_ids;
  // (The lambda runs under write_mu_, which the analysis cannot see.)
  const absl::flat_hash_map<std::string, int64_t>* known_child_ids = &child_ids_;
  const absl::flat_hash_map<std::string, int64_t>* known_set_ids = &set_ids_;
  const absl::flat_hash_map<PrincipalKey, int64_t>* known_principal_ids = &principal_ids_;
  absl::flat_hash_map<std::string, int64_t> key_numbers;
  const absl::flat_hash_map<std::string, int64_t>* known_key_numbers = &key_numbers_;
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
    std::vector<std::string> pseudonyms;
    for (const NewEntry& e : entries) {
      pseudonyms.insert(pseudonyms.end(), e.child_pseudonyms.begin(), e.child_pseudonyms.end());
    }
    KINEX_ASSIGN_OR_RETURN(Numbers children,
                           NumbersFor(db, kChildren, std::move(pseudonyms), *known_child_ids));
    child_ids = std::move(children.ids);
    // Each entry's set of child numbers (none for an entry that names no
    // child), numbered in audit_child_sets; a set numbered now gets its
    // member rows.
    std::vector<std::string> entry_sets(entries.size());
    absl::flat_hash_map<std::string, std::vector<int64_t>> set_members;  // members text: numbers
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].child_pseudonyms.empty()) continue;
      std::vector<int64_t> numbers;
      for (const std::string& p : entries[i].child_pseudonyms) numbers.push_back(child_ids.at(p));
      std::sort(numbers.begin(), numbers.end());
      numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
      entry_sets[i] = MembersText(numbers);
      set_members.try_emplace(entry_sets[i], std::move(numbers));
    }
    std::vector<std::string> set_keys;
    set_keys.reserve(set_members.size());
    for (const auto& [text, numbers] : set_members) set_keys.push_back(text);
    KINEX_ASSIGN_OR_RETURN(Numbers sets,
                           NumbersFor(db, kChildSets, std::move(set_keys), *known_set_ids));
    set_ids = std::move(sets.ids);
    std::vector<std::vector<sql::Value>> member_rows;
    for (const std::string& set : sets.given) {
      for (const int64_t number : set_members.at(set)) {
        member_rows.push_back({set_ids.at(set), number});
      }
    }
    if (!member_rows.empty()) {
      KINEX_RETURN_IF_ERROR(
          db.BulkInsert("audit_child_set_members", {"set_id", "child_id"}, member_rows));
    }
    KINEX_ASSIGN_OR_RETURN(const std::vector<int64_t> principals,
                           PrincipalIds(db, entries, *known_principal_ids, principal_ids));
    std::vector<std::vector<sql::Value>> rows, child_rows, key_rows, notification_rows;
    rows.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      const NewEntry& e = entries[i];
      if (e.entry.leaf_index != size + i) {
        return Failure(absl::InvalidArgumentError("batch leaf indices are not contiguous"),
                       reason::kStorageCallInvalid, dialect_);
      }
      const int64_t index = Clamp(e.entry.leaf_index);
      rows.push_back({index, BlobOf(HashBytes(e.entry.leaf_hash)), BlobOf(stored[i]), e.time_micros,
                      principals[i], int64_t{e.purpose}, int64_t{e.decision},
                      int64_t{e.break_glass ? 1 : 0}});
      if (!entry_sets[i].empty()) child_rows.push_back({index, set_ids.at(entry_sets[i])});
      if (!e.idempotency_key.empty()) key_rows.push_back({e.idempotency_key, index});
      KINEX_RETURN_IF_ERROR(CheckNotifications(e, dialect_));
      for (const StoredNotification& n : e.notifications) {
        notification_rows.push_back(NotificationRow(n));
      }
    }
    if (!rows.empty()) {
      KINEX_RETURN_IF_ERROR(db.BulkInsert("audit_entries",
                                          {"leaf_index", "leaf_hash", "leaf_data", "time_micros",
                                           "principal_id", "purpose", "decision", "break_glass"},
                                          rows));
    }
    if (!child_rows.empty()) {
      KINEX_RETURN_IF_ERROR(
          db.BulkInsert("audit_entry_child_sets", {"leaf_index", "set_id"}, child_rows));
    }
    if (!key_rows.empty()) {
      KINEX_RETURN_IF_ERROR(
          db.BulkInsert("audit_idempotency_keys", {"key", "leaf_index"}, key_rows));
    }
    // The batch's notifications, then its changes in entry order (so an
    // entry may change a notification an earlier entry of the batch made).
    if (!notification_rows.empty()) {
      KINEX_RETURN_IF_ERROR(
          db.BulkInsert("audit_notifications",
                        {"leaf_index", "ordinal", "recipient_kind", "recipient_code", "kind",
                         "created_us", "deadline_us", "state", "delivered_us", "acked_us",
                         "acked_by", "review_outcome", "review_note", "escalated_leaf", "payload"},
                        notification_rows));
    }
    for (const NewEntry& e : entries) {
      for (const NotificationChange& c : e.changes) KINEX_RETURN_IF_ERROR(ApplyChange(db, c));
    }
    if (head != nullptr) {
      KINEX_RETURN_IF_ERROR(InsertHead(db, *head, *known_key_numbers, key_numbers));
    }
    return absl::OkStatus();
  });
  if (appended.ok()) {
    // Committed: the numbers it read or gave stand.
    if (child_ids_.size() + child_ids.size() > kMaxCachedChildIds) child_ids_.clear();
    child_ids_.merge(child_ids);
    if (set_ids_.size() + set_ids.size() > kMaxCachedSetIds) set_ids_.clear();
    set_ids_.merge(set_ids);
    if (principal_ids_.size() + principal_ids.size() > kMaxCachedPrincipalIds) {
      principal_ids_.clear();
    }
    principal_ids_.merge(principal_ids);
    key_numbers_.merge(key_numbers);
  }
  return StoreError(std::move(appended), dialect_);
}

absl::Status SqlLogStorage::AddHead(const SignedTreeHead& head) {
  absl::MutexLock lock(&write_mu_);
  sql::Db& db = *writer_;
  absl::flat_hash_map<std::string, int64_t> key_numbers;
  const absl::flat_hash_map<std::string, int64_t>* known_key_numbers = &key_numbers_;
  absl::Status added =
      db.Transaction([&] { return InsertHead(db, head, *known_key_numbers, key_numbers); });
  if (added.ok()) key_numbers_.merge(key_numbers);
  return StoreError(std::move(added), dialect_);
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
                         SelectHeads("ORDER BY h.id DESC LIMIT 1", {}));
  if (heads.empty()) return std::nullopt;
  return std::move(heads[0]);
}

absl::StatusOr<std::vector<SignedTreeHead>> SqlLogStorage::ListHeadsBetween(uint64_t min_size,
                                                                            uint64_t max_size) {
  return SelectHeads("WHERE h.tree_size > $1 AND h.tree_size <= $2 ORDER BY h.id",
                     {Clamp(min_size), Clamp(max_size)});
}

absl::StatusOr<std::vector<SignedTreeHead>> SqlLogStorage::ListHeads() {
  return SelectHeads("ORDER BY h.id", {});
}

absl::Status SqlLogStorage::ReadEntries(uint64_t begin, uint64_t end,
                                        const std::function<absl::Status(const StoredEntry&)>& fn) {
  absl::Status from_fn;  // the caller's own verdict passes through as is
  const absl::Status read = WithReader([&](sql::Db& db) {
    std::vector<EntryRow> page;
    return ForEachPage(
        db,
        absl::StrCat("SELECT ", kEntryColumns, " FROM ", kEntriesAndSets,
                     " WHERE e.leaf_index >= $1 AND e.leaf_index < $2 ORDER BY e.leaf_index "
                     "LIMIT $3"),
        begin, end,
        [&](const sql::Row& row) {
          page.push_back(EntryRowOf(row));
          return absl::OkStatus();
        },
        [&]() {
          absl::Status expanded = ExpandRows(db, page, [&](StoredEntry e) {
            from_fn = fn(e);
            return from_fn;
          });
          page.clear();
          return expanded;
        });
  });
  return from_fn.ok() ? read : from_fn;
}

absl::StatusOr<std::vector<Hash>> SqlLogStorage::ReadLeafHashes(uint64_t begin, uint64_t end) {
  std::vector<Hash> hashes;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) {
    return ForEachPage(db,
                       "SELECT leaf_index, leaf_hash FROM audit_entries "
                       "WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index LIMIT $3",
                       begin, end, [&](const sql::Row& row) -> absl::Status {
                         const std::string& hash = row.Str(1);
                         if (hash.size() != kHashSize) {
                           return Failure(absl::DataLossError(absl::StrCat(
                                              "entry ", row.Int(0), ": stored leaf hash is ",
                                              hash.size(), " bytes, not ", kHashSize)),
                                          reason::kStorageCorrupt, dialect_);
                         }
                         Hash h;
                         std::memcpy(h.data(), hash.data(), kHashSize);
                         hashes.push_back(h);
                         return absl::OkStatus();
                       });
  }));
  return hashes;
}

absl::StatusOr<std::vector<StoredEntry>> SqlLogStorage::Query(const QueryFilter& filter,
                                                              size_t limit) {
  std::vector<StoredEntry> out;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) -> absl::Status {
    Params params;
    // The conditions on the entry (e), each given as a value.
    std::vector<std::string> where;
    // Who made the event: the principals that match, by their numbers.
    std::vector<std::string> who;
    if (filter.agency_kind != 0) {
      who.push_back(absl::StrCat("agency_kind = ", params.Add(int64_t{filter.agency_kind})));
    }
    if (!filter.agency_code.empty()) {
      who.push_back(absl::StrCat("agency_code = ", params.Add(filter.agency_code)));
    }
    if (!filter.actor.empty()) who.push_back(absl::StrCat("actor = ", params.Add(filter.actor)));
    if (!who.empty()) {
      where.push_back(
          absl::StrCat("e.principal_id IN (SELECT principal_id FROM audit_principals WHERE ",
                       absl::StrJoin(who, " AND "), ")"));
    }
    if (filter.purpose != 0) {
      where.push_back(absl::StrCat("e.purpose = ", params.Add(int64_t{filter.purpose})));
    }
    if (filter.decision != 0) {
      where.push_back(absl::StrCat("e.decision = ", params.Add(int64_t{filter.decision})));
    }
    if (filter.break_glass_only) where.push_back("e.break_glass = 1");
    const std::string begin = params.Add(Clamp(filter.begin_index));
    const std::string end = params.Add(Clamp(filter.end_index));
    const std::string limit_param = params.Add(Clamp(limit));
    // The rows read, then expanded into `out` (ExpandRows).
    std::vector<EntryRow> rows;
    const auto add_row = [&](const sql::Row& row) {
      rows.push_back(EntryRowOf(row));
      return absl::OkStatus();
    };
    const auto expand_rows = [&]() {
      return ExpandRows(db, rows, [&](StoredEntry e) {
        out.push_back(std::move(e));
        return absl::OkStatus();
      });
    };
    if (!filter.child_pseudonym.has_value()) {
      where.push_back(absl::StrCat("e.leaf_index >= ", begin, " AND e.leaf_index < ", end));
      KINEX_RETURN_IF_ERROR(db.ForEach(
          absl::StrCat("SELECT ", kEntryColumns, " FROM ", kEntriesAndSets, " WHERE ",
                       absl::StrJoin(where, " AND "), " ORDER BY e.leaf_index LIMIT ", limit_param),
          params.values(), add_row));
      return expand_rows();
    }
    // One child: its number, then the sets that name it, then each set's
    // events in leaf order. The child's number is looked up first and given
    // as a value, not a subquery, so PostgreSQL plans with that child's own
    // statistics (given a subquery it guessed a few hundred rows for every
    // child, and sorted all 75,000 of the most frequent child's rows).
    KINEX_ASSIGN_OR_RETURN(std::vector<sql::Row> child,
                           db.Query("SELECT child_id FROM audit_children WHERE pseudonym = $1",
                                    {*filter.child_pseudonym}));
    if (child.empty()) return absl::OkStatus();  // a child the log never indexed
    if (child.size() > 1) {                      // see Init
      return Failure(absl::DataLossError(
                         "audit store: the query index numbers this child's pseudonym more than "
                         "once: the index was edited"),
                     reason::kAuditIndexTampered, dialect_);
    }
    KINEX_ASSIGN_OR_RETURN(
        std::vector<sql::Row> sets,
        db.Query("SELECT set_id FROM audit_child_set_members WHERE child_id = $1 ORDER BY set_id",
                 {child[0].Int(0)}));
    // Each set's events are a range of the index by (set_id, leaf_index),
    // already in leaf order, read up to `limit` and only as far as the
    // limit: a union of one such read per set, ordered and limited again,
    // reads at most `limit` rows a set. Asked for all the sets at once
    // (set_id IN (...) ORDER BY leaf_index), SQLite reads and sorts every
    // event of every set first (bench/load/README.md, "The query index by
    // identifier set"). A child is named by a few sets; more than
    // kSetsPerRead are read a union at a time and merged here.
    constexpr size_t kSetsPerRead = 64;
    const std::string conditions =
        absl::StrCat("c.leaf_index >= ", begin, " AND c.leaf_index < ", end,
                     where.empty() ? "" : absl::StrCat(" AND ", absl::StrJoin(where, " AND ")));
    for (size_t at = 0; at < sets.size(); at += kSetsPerRead) {
      Params chunk = params;
      std::vector<std::string> reads;
      for (size_t i = at; i < std::min(sets.size(), at + kSetsPerRead); ++i) {
        reads.push_back(
            absl::StrCat("SELECT * FROM (SELECT c.leaf_index, e.leaf_hash, e.leaf_data, c.set_id "
                         "FROM audit_entry_child_sets c JOIN audit_entries e ON "
                         "e.leaf_index = c.leaf_index WHERE c.set_id = ",
                         chunk.Add(sets[i].Int(0)), " AND ", conditions,
                         " ORDER BY c.leaf_index LIMIT ", limit_param, ") AS s", i - at));
      }
      KINEX_RETURN_IF_ERROR(
          db.ForEach(absl::StrCat("SELECT leaf_index, leaf_hash, leaf_data, set_id FROM (",
                                  absl::StrJoin(reads, " UNION ALL "),
                                  ") AS u ORDER BY leaf_index LIMIT ", limit_param),
                     chunk.values(), add_row));
    }
    KINEX_RETURN_IF_ERROR(expand_rows());
    if (sets.size() > kSetsPerRead) {
      std::sort(out.begin(), out.end(), [](const StoredEntry& a, const StoredEntry& b) {
        return a.leaf_index < b.leaf_index;
      });
      if (out.size() > limit) out.resize(limit);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqlLogStorage::ReadChildIndex(uint64_t begin, uint64_t end,
                                           const std::function<absl::Status(const IndexRow&)>& fn) {
  absl::Status from_fn;  // the caller's own verdict passes through as is
  const absl::Status read = WithReader([&](sql::Db& db) -> absl::Status {
    // Paged like ReadEntries, a leaf (its one set) a row.
    int64_t next = Clamp(begin);
    const int64_t stop = Clamp(end);
    std::vector<std::pair<uint64_t, std::string>> page;  // leaf, its set's members
    std::vector<IndexRow> rows;
    while (next < stop) {
      page.clear();
      // A leaf whose set_id numbers no set reads as the members "", which
      // lists no child.
      KINEX_RETURN_IF_ERROR(
          db.ForEach("SELECT c.leaf_index, COALESCE(s.members, '') FROM audit_entry_child_sets c "
                     "LEFT JOIN audit_child_sets s ON s.set_id = c.set_id "
                     "WHERE c.leaf_index >= $1 AND c.leaf_index < $2 "
                     "ORDER BY c.leaf_index LIMIT $3",
                     {next, stop, kReadChunk}, [&](const sql::Row& row) {
                       page.emplace_back(static_cast<uint64_t>(row.Int(0)), row.Str(1));
                       return absl::OkStatus();
                     }));
      // Each leaf's pseudonyms, by the child numbers its set lists. A set
      // whose members are not as MembersText writes them, or a number that
      // numbers no pseudonym, reads as the pseudonym "", which no leaf
      // names: the caller reports it.
      std::vector<std::optional<std::vector<int64_t>>> members;
      std::vector<int64_t> numbers;
      members.reserve(page.size());
      for (const auto& [leaf, text] : page) {
        members.push_back(ParseMembers(text));
        if (members.back().has_value()) {
          numbers.insert(numbers.end(), members.back()->begin(), members.back()->end());
        }
      }
      KINEX_ASSIGN_OR_RETURN(const auto pseudonyms, PseudonymsOf(db, std::move(numbers)));
      for (size_t i = 0; i < page.size(); ++i) {
        rows.clear();
        if (!members[i].has_value()) {
          rows.push_back({page[i].first, ""});
        } else {
          for (const int64_t number : *members[i]) {
            auto it = pseudonyms.find(number);
            rows.push_back({page[i].first, it == pseudonyms.end() ? "" : it->second});
          }
        }
        std::sort(rows.begin(), rows.end(),
                  [](const IndexRow& a, const IndexRow& b) { return a.pseudonym < b.pseudonym; });
        for (const IndexRow& row : rows) {
          from_fn = fn(row);
          if (!from_fn.ok()) return from_fn;
        }
      }
      if (static_cast<int64_t>(page.size()) < kReadChunk) break;
      next = static_cast<int64_t>(page.back().first) + 1;
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

absl::StatusOr<std::vector<StoredNotification>> SqlLogStorage::ReadNotifications(
    const NotificationQuery& query, size_t limit) {
  if (query.keys.size() > kMaxNotificationKeys) {
    return Failure(
        absl::InvalidArgumentError(absl::StrCat("notification query: ", query.keys.size(),
                                                " keys; at most ", kMaxNotificationKeys)),
        reason::kStorageCallInvalid, dialect_);
  }
  Params params;
  std::vector<std::string> where;
  if (query.recipient_kind != 0) {
    where.push_back(absl::StrCat("recipient_kind = ", params.Add(int64_t{query.recipient_kind}),
                                 " AND recipient_code = ", params.Add(query.recipient_code)));
  }
  if (query.after.has_value()) {
    const std::string leaf = params.Add(Clamp(query.after->leaf_index));
    const std::string ordinal = params.Add(int64_t{query.after->ordinal});
    where.push_back(absl::StrCat("(leaf_index > ", leaf, " OR (leaf_index = ", leaf,
                                 " AND ordinal > ", ordinal, "))"));
  }
  if (!query.keys.empty()) {
    std::vector<std::string> any;
    any.reserve(query.keys.size());
    for (const NotificationKey& key : query.keys) {
      const std::string leaf = params.Add(Clamp(key.leaf_index));
      any.push_back(absl::StrCat("(leaf_index = ", leaf,
                                 " AND ordinal = ", params.Add(int64_t{key.ordinal}), ")"));
    }
    where.push_back(BalancedOr(any, 0, any.size()));
  }
  if (query.unacknowledged_only) where.push_back("acked_us = 0");
  if (!query.kinds.empty()) {
    std::vector<std::string> kinds;
    for (int kind : query.kinds) kinds.push_back(params.Add(int64_t{kind}));
    where.push_back(absl::StrCat("kind IN (", absl::StrJoin(kinds, ", "), ")"));
  }
  if (query.due_at_us > 0) {
    // The partial index audit_notifications_due's condition, spelled as in
    // the schema so both planners use it.
    where.push_back(
        absl::StrCat("kind = 3 AND acked_us = 0 AND escalated_leaf < 0 AND deadline_us > 0 AND "
                     "deadline_us <= ",
                     params.Add(query.due_at_us)));
  }
  const std::string sql = absl::StrCat(
      kNotificationSelect, where.empty() ? "" : " WHERE ", absl::StrJoin(where, " AND "),
      " ORDER BY leaf_index, ordinal LIMIT ", params.Add(Clamp(limit)));
  std::vector<StoredNotification> out;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) {
    return db.ForEach(sql, params.values(), [&](const sql::Row& row) {
      out.push_back(NotificationFromRow(row));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<NotificationStats> SqlLogStorage::ReadNotificationStats() {
  NotificationStats stats;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(
        std::vector<sql::Row> rows,
        db.Query("SELECT COALESCE(SUM(CASE WHEN acked_us = 0 THEN 1 ELSE 0 END), 0), "
                 "COALESCE(MIN(CASE WHEN acked_us = 0 THEN created_us END), 0), "
                 "COALESCE(SUM(CASE WHEN kind = 3 AND escalated_leaf >= 0 THEN 1 ELSE 0 END), 0), "
                 "COALESCE(SUM(CASE WHEN kind = 2 AND review_outcome = 0 THEN 1 ELSE 0 END), 0) "
                 "FROM audit_notifications"));
    const sql::Row& row = rows.at(0);
    stats.unacknowledged = row.Int(0);
    stats.oldest_unacknowledged_us = row.Int(1);
    stats.deadline_misses = row.Int(2);
    stats.open_reviews = row.Int(3);
    return absl::OkStatus();
  }));
  return stats;
}

absl::StatusOr<int64_t> SqlLogStorage::PruneNotifications(int64_t acked_before_us) {
  absl::MutexLock lock(&write_mu_);
  // kind 3: ENCOMPASS (its escalated rows are the deadline-miss count).
  absl::StatusOr<int64_t> deleted = writer_->Exec(
      "DELETE FROM audit_notifications WHERE acked_us > 0 AND acked_us < $1 "
      "AND NOT (kind = 3 AND escalated_leaf >= 0)",
      {acked_before_us});
  if (!deleted.ok()) return StoreError(deleted.status(), dialect_);
  return *deleted;
}

absl::Status SqlLogStorage::PutCheckpoint(uint64_t first_block, absl::Span<const TreeBlock> blocks,
                                          uint64_t tree_size, const std::string& sealed) {
  absl::MutexLock lock(&write_mu_);
  sql::Db& db = *writer_;
  return StoreError(db.Transaction([&]() -> absl::Status {
    for (const char* table : {"audit_tree_blocks", "audit_tree_block_eighths"}) {
      KINEX_RETURN_IF_ERROR(db.Exec(absl::StrCat("DELETE FROM ", table, " WHERE block_index >= $1"),
                                    {Clamp(first_block)})
                                .status());
    }
    std::vector<std::vector<sql::Value>> rows;
    std::vector<std::vector<sql::Value>> eighths;
    rows.reserve(std::min<size_t>(blocks.size(), 10000));
    for (size_t i = 0; i < blocks.size(); ++i) {
      const TreeBlock& block = blocks[i];
      rows.push_back({Clamp(first_block + i), BlobOf(HashBytes(block.hash)), block.first_micros});
      if (!block.eighths.empty()) {
        std::string joined;
        joined.reserve(block.eighths.size() * kHashSize);
        for (const Hash& h : block.eighths) absl::StrAppend(&joined, HashBytes(h));
        eighths.push_back({Clamp(first_block + i), BlobOf(joined)});
      }
      if (rows.size() == 10000 || i + 1 == blocks.size()) {
        KINEX_RETURN_IF_ERROR(db.BulkInsert("audit_tree_blocks",
                                            {"block_index", "subtree_hash", "first_micros"}, rows));
        rows.clear();
        if (!eighths.empty()) {
          KINEX_RETURN_IF_ERROR(
              db.BulkInsert("audit_tree_block_eighths", {"block_index", "hashes"}, eighths));
          eighths.clear();
        }
      }
    }
    KINEX_RETURN_IF_ERROR(
        db.Exec("DELETE FROM audit_checkpoints WHERE tree_size >= $1", {Clamp(tree_size)})
            .status());
    KINEX_RETURN_IF_ERROR(db.BulkInsert("audit_checkpoints", {"tree_size", "sealed"},
                                        {{Clamp(tree_size), BlobOf(sealed)}}));
    // Keeps this one and the one before it.
    return db
        .Exec(
            "DELETE FROM audit_checkpoints WHERE tree_size < (SELECT MIN(tree_size) FROM "
            "(SELECT tree_size FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 2) AS newest)")
        .status();
  }),
                    dialect_);
}

absl::StatusOr<std::optional<std::string>> SqlLogStorage::LatestCheckpoint() {
  std::optional<std::string> out;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(
        std::vector<sql::Row> rows,
        db.Query("SELECT sealed FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"));
    if (!rows.empty()) out = rows[0].Str(0);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqlLogStorage::ReadTreeBlocks(
    uint64_t begin, uint64_t end,
    const std::function<absl::Status(uint64_t index, const TreeBlock&)>& fn) {
  absl::Status from_fn;  // the caller's own verdict passes through as is
  const absl::Status read = WithReader([&](sql::Db& db) {
    return ForEachPage(db,
                       "SELECT block_index, subtree_hash, first_micros FROM audit_tree_blocks "
                       "WHERE block_index >= $1 AND block_index < $2 ORDER BY block_index LIMIT $3",
                       begin, end, [&](const sql::Row& row) -> absl::Status {
                         const std::string& hash = row.Str(1);
                         if (hash.size() != kHashSize) {
                           return Failure(absl::DataLossError(absl::StrCat(
                                              "tree block ", row.Int(0), ": stored hash is ",
                                              hash.size(), " bytes, not ", kHashSize)),
                                          reason::kStorageCorrupt, dialect_);
                         }
                         TreeBlock block;
                         std::memcpy(block.hash.data(), hash.data(), kHashSize);
                         block.first_micros = row.Int(2);
                         from_fn = fn(static_cast<uint64_t>(row.Int(0)), block);
                         return from_fn;
                       });
  });
  return from_fn.ok() ? read : from_fn;
}

absl::StatusOr<std::optional<std::vector<Hash>>> SqlLogStorage::ReadBlockEighths(uint64_t block) {
  std::optional<std::vector<Hash>> out;
  KINEX_RETURN_IF_ERROR(WithReader([&](sql::Db& db) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(
        std::vector<sql::Row> rows,
        db.Query("SELECT hashes FROM audit_tree_block_eighths WHERE block_index = $1",
                 {Clamp(block)}));
    if (rows.empty()) return absl::OkStatus();
    // Any whole number of hashes is returned as stored; the tree decides.
    const std::string& joined = rows[0].Str(0);
    if (joined.size() % kHashSize != 0) return absl::OkStatus();
    std::vector<Hash>& hashes = out.emplace(joined.size() / kHashSize);
    std::memcpy(hashes.data(), joined.data(), joined.size());
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace kinex::audit
